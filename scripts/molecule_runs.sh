#!/usr/bin/env bash
# The molecule comparison of docs/results: BBBP and the BELKA-format sample, BCE and focal loss, every arm in
# its own process (scripts/crossval_parallel.sh), all four cross-validations side by side.
#   scripts/molecule_runs.sh OUT_DIR [extra crossval options, e.g. --device cuda]
set -uo pipefail
out=$1; shift
here=$(dirname "$0")
for data in bbbp belka; do
  for loss in bce focal; do
    "$here/crossval_parallel.sh" "configs/molecules_$data.yaml" "$out/$data-$loss" none,ecfp,kmer \
      simclr mlm gcn gat -- --loss "$loss" "$@" >"$out/$data-$loss.log" 2>&1 &
    sleep 5
  done
done
wait
