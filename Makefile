# Two commands do all the set-up: `make demo` (main job) and `make test` (test suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0

.PHONY: install mmseqs lint demo demo-quick test test-slow clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: otherwise a dependency could pull a multi-GB CUDA build
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# MMseqs2 clusters proteins by identity (--split cluster --cluster-threshold identity:F); where it cannot be
# installed, its tests skip with the reason
mmseqs:
	@command -v mmseqs >/dev/null || ( (apt-get update -qq && apt-get install -y -qq mmseqs2) \
		|| (sudo -n apt-get update -qq && sudo -n apt-get install -y -qq mmseqs2) ) >/dev/null 2>&1 \
		|| echo "WARNING: MMseqs2 could not be installed (apt-get install mmseqs2): its tests will skip"

# static checks (configured in pyproject.toml: [tool.ruff], [tool.mypy]); `make test` runs them first
lint: install
	$(BIN)/ruff check src tests
	$(BIN)/mypy

demo: install
	$(BIN)/seqssl demo --out demo-out

demo-quick: install
	$(BIN)/seqssl demo --quick --out demo-out-quick

test: install lint mmseqs
	$(BIN)/python -m pytest -q

test-slow: install mmseqs
	$(BIN)/python -m pytest -q -m slow || [ $$? -eq 5 ]  # exit 5: no test marked slow

clean:
	rm -rf $(VENV) demo-out demo-out-quick .pytest_cache
