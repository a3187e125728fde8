#!/usr/bin/env bash
# Run the arms of one `seqssl crossval` side by side (e.g. several processes on one GPU), then assemble one table.
#
#   scripts/crossval_parallel.sh CONFIG OUT "none,kmer" ARM [ARM ...] -- [extra crossval options, e.g. --device cuda]
#
# The first argument group runs first and creates OUT (baselines are cheap; put them there); every further
# ARM gets its own process, which joins OUT with --resume, so each (fold, arm) part is written once. A last
# `--resume` call with all arms finds every part on disk and writes results.json, report.md and the plots.
# A killed process loses only its current part: run the script again with the same arguments.
set -euo pipefail
config=$1; out=$2; first=$3; shift 3
arms=(); extra=()
while (($#)); do
  if [[ $1 == -- ]]; then shift; extra=("$@"); break; fi
  arms+=("$1"); shift
done
mkdir -p "$out/logs"
run() { seqssl crossval --config "$config" --out "$out" --quiet "${extra[@]}" "$@"; }
resume=(); [[ -f $out/config.yaml ]] && resume=(--resume)
run "${resume[@]}" --arms "$first" >"$out/logs/$first.log" 2>&1 &
first_pid=$!
until [[ -f $out/config.yaml ]]; do
  kill -0 "$first_pid" 2>/dev/null || { echo "the first arms failed: see $out/logs/$first.log" >&2; exit 1; }
  sleep 2
done
for arm in "${arms[@]}"; do
  run --resume --arms "$arm" >"$out/logs/$arm.log" 2>&1 &
done
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
if ((status)); then echo "an arm failed: see $out/logs/" >&2; exit 1; fi
all=$first$(printf ',%s' "${arms[@]}")
run --resume --arms "$all"
