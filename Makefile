# Two commands do all the set-up: `make demo` (main job: the core package) and `make test` (everything).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0

.PHONY: install install-test mmseqs browser lint demo demo-quick test test-slow test-sceptr clean

# torch first, pinned: otherwise a dependency could pull another build. On a machine with a GPU, PyPI's
# torch==2.13.0 is the CUDA build (several GB); for the CPU build name PyTorch's CPU index:
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
# the versions the suite last ran with (pip freeze, torch left to TORCH), so the README's numbers reproduce;
# pyproject.toml keeps lower bounds for users who install into their own environments
CONSTRAINTS := constraints.txt

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	touch $@

# the core package (what the demo needs): no RDKit, graph networks, MLflow or TensorBoard
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) $(VENV)/.torch
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e .
	touch $@

# everything: the molecules and tracking extras, the test tools
$(VENV)/.installed-test: pyproject.toml $(CONSTRAINTS) $(VENV)/.torch
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# model:sceptr needs the sceptr package, which pins pandas 2 (the main environment is pinned to pandas 3): its own
# environment, from constraints-sceptr.txt, runs the tests marked `sceptr`. A failed install (no PyPI) is reported
# loudly and skips them, as for MMseqs2; a failing test fails.
SCEPTR_VENV ?= .venv-sceptr
$(SCEPTR_VENV)/.installed: pyproject.toml constraints-sceptr.txt
	$(PYTHON) -m venv $(SCEPTR_VENV)
	$(SCEPTR_VENV)/bin/pip install --quiet --upgrade pip
	$(SCEPTR_VENV)/bin/pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(SCEPTR_VENV)/bin/pip install --quiet -c constraints-sceptr.txt -e ".[sceptr]" pytest hypothesis
	touch $@

# MMseqs2 clusters proteins by identity (--split cluster --cluster-threshold identity:F); where it cannot be
# installed, its tests skip with the reason
mmseqs:
	@command -v mmseqs >/dev/null || ( (apt-get update -qq && apt-get install -y -qq mmseqs2) \
		|| (sudo -n apt-get update -qq && sudo -n apt-get install -y -qq mmseqs2) ) >/dev/null 2>&1 \
		|| echo "WARNING: MMseqs2 could not be installed (apt-get install mmseqs2): its tests will skip"

# Chromium (Debian's package) renders report.html in a test; where it cannot be installed, that test skips
browser:
	@command -v chromium >/dev/null || ( (apt-get update -qq && apt-get install -y -qq chromium) \
		|| (sudo -n apt-get update -qq && sudo -n apt-get install -y -qq chromium) ) >/dev/null 2>&1 \
		|| echo "WARNING: Chromium could not be installed (apt-get install chromium): the report.html test will skip"

# static checks (configured in pyproject.toml: [tool.ruff], [tool.mypy]); `make test` runs them first
lint: install-test
	$(BIN)/ruff check src tests
	$(BIN)/mypy

demo: install
	$(BIN)/seqssl demo --out demo-out --overwrite

demo-quick: install
	$(BIN)/seqssl demo --quick --out demo-out-quick --overwrite

test: install-test lint mmseqs browser
	$(BIN)/python -m pytest -q
	$(MAKE) test-sceptr

test-sceptr:
	@$(MAKE) $(SCEPTR_VENV)/.installed || { echo "WARNING: the sceptr environment could not be installed: the model:sceptr tests skip"; exit 0; }
	@[ ! -f $(SCEPTR_VENV)/.installed ] || $(SCEPTR_VENV)/bin/python -m pytest -q -m "sceptr or not slow" \
		tests/test_sceptr_arm.py tests/test_clusters.py  # with pandas 2: SCEPTR, and clustering (hashes strings)

test-slow: install-test mmseqs
	$(BIN)/python -m pytest -q -m slow || [ $$? -eq 5 ]  # exit 5: no test marked slow

clean:
	rm -rf $(VENV) $(SCEPTR_VENV) demo-out demo-out-quick .pytest_cache
