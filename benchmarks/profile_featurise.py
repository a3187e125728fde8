"""Where featurisation's time goes, per molecule: RDKit's parse and sanitisation, the graph codes' atom and
bond keys (one RDKit call per atom or bond and feature), the canonical SMILES and the SMILES tokens, on the
first ``--molecules`` of a BELKA-format Parquet file (``bench_labelled_stream.py --work DIR`` leaves one in
``DIR/belka.parquet``; default: the bundled 16.7k-row sample). One process, one core.

    python benchmarks/profile_featurise.py [--file belka.parquet] [--molecules 5000]

Prints ``name_us_per_molecule: X`` lines and ``atoms_per_molecule``."""
from __future__ import annotations

import argparse
import time

import pandas as pd


def timed(name: str, work, n: int):
    started = time.perf_counter()
    out = work()
    print(f"{name}_us_per_molecule: {(time.perf_counter() - started) / n * 1e6:.1f}")
    return out


def main() -> None:
    from seqssl.data.builtin import builtin_path
    from seqssl.data.molecules import Chem, parse_smiles
    from seqssl.data.molecules import codes as molecule_codes
    from seqssl.data.tokenizers.smiles import SmilesTokenizer
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", help="a BELKA-format file (default: the bundled sample)")
    parser.add_argument("--molecules", type=int, default=5000)
    args = parser.parse_args()
    path = args.file or builtin_path("belka_sample")
    frame = pd.read_parquet(path) if str(path).endswith(".parquet") else pd.read_csv(path)
    smiles = frame["molecule_smiles"].astype(str).tolist()[:args.molecules]
    n = len(smiles)
    print(f"molecules: {n}")
    mols = timed("parse_and_sanitise", lambda: [parse_smiles(s) for s in smiles], n)
    print(f"atoms_per_molecule: {sum(m.GetNumAtoms() for m in mols) / n:.1f}")
    timed("atom_keys", lambda: [molecule_codes._atom_keys(m) for m in mols], n)
    timed("bond_keys", lambda: [molecule_codes._bond_keys(m) for m in mols], n)
    timed("graph_codes", lambda: molecule_codes.block_codes(mols), n)
    timed("canonical_smiles", lambda: [Chem.MolToSmiles(m) for m in mols], n)
    tokenizer = SmilesTokenizer.fit(smiles)
    timed("tokens", lambda: [tokenizer.encode(s) for s in smiles], n)


if __name__ == "__main__":
    main()
