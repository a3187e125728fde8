"""Regenerate ``src/seqssl/options.json``: the settings every built-in objective, arm, transfer mode and task
declares (:mod:`seqssl.options`), which ``--help`` and the config checks read without importing torch. Run it
after adding or changing a built-in component's ``Options``; ``tests/test_options.py`` fails until then."""
from seqssl.options import MANIFEST
from seqssl.options_manifest import write_manifest

if __name__ == "__main__":
    write_manifest()
    print(f"wrote {MANIFEST}")
