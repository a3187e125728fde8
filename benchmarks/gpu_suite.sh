#!/usr/bin/env bash
# The GPU figures (issue 32) in one prepared run: every figure a `name: value` line, each part's whole output in
# a file of its own under OUT_DIR (default: gpu_suite_out/), each part under a timeout of its own so that one
# part failing or running long leaves the others' figures.
#
#   benchmarks/gpu_suite.sh                  # on a CUDA machine (~5 minutes on one H100; at most ~8.5 by the parts' timeouts)
#   QUICK=1 DEVICE=cpu benchmarks/gpu_suite.sh   # smoke run of the same script on a CPU, tiny sizes (~3 minutes)
#
# Parts:
#   1. torchrun --nproc_per_node 1 (NCCL on CUDA) against one plain process: exit status and the largest
#      difference of the logged losses (same seed, same steps);
#   2. bench_throughput.py shapes b (fp32) and c (bf16 autocast) against the length-grouped Trainer, in the same
#      run: tokens/s, ratio, MFU (also against the measured bf16 matmul peak), CUDA allocator peak;
#   3. bench_adversarial.py at the seed's noiser sizes (3-layer GRU, 1024 embedding / 512 hidden) on the
#      ESM-2-8M-like encoder over proteins: seconds per encoder update against MLM, and where the time goes;
#   4. bench_gradcache.py: SimCLR at batch 4,096 in chunks of 256 against plain 256 and plain 4,096;
#   5. torch.profiler table of one seqssl step of shape b (top entries by CUDA self time).
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
DIR=${OUT_DIR:-gpu_suite_out}
mkdir -p "$DIR"
if [ "${QUICK:-0}" = 1 ]; then
  STEPS=3 BATCH=2 REPEATS=1 RESIDUES=120 UPDATES=12 CORPUS=200 ADV_BATCH=4 EMB=64 HID=32 GC_BATCH=256 GC_CHUNK=64 GC_RUNS=1
  DDP_STEPS=3 THREADS=2
else
  STEPS=150 BATCH=64 REPEATS=2 RESIDUES=510 UPDATES=60 CORPUS=20000 ADV_BATCH=64 EMB=1024 HID=512 GC_BATCH=4096
  GC_CHUNK=256 GC_RUNS=1 DDP_STEPS=30 THREADS=8
fi

part() {  # part NAME TIMEOUT_S COMMAND...: run, keep the output, print its `name: value` lines and exit status
  local name=$1 limit=$2
  shift 2
  local began=$SECONDS
  echo "== $name: $*"
  timeout "$limit" "$@" >"$DIR/$name.txt" 2>&1
  local rc=$?
  grep -E '^[a-z0-9_]+: ' "$DIR/$name.txt"
  [ $rc -eq 0 ] || { echo "$name failed (exit $rc); its last lines:"; tail -n 15 "$DIR/$name.txt"; }
  echo "${name}_exit: $rc"
  echo "${name}_wall_s: $((SECONDS - began))"
}

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__,
'cuda', torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device')"
} | tee "$DIR/environment.txt"

ddp_check() {  # one plain process and torchrun --nproc_per_node 1 on the same seed: the losses must agree
  local work
  work=$(mktemp -d)
  local corpus
  corpus=$($PY -c "from seqssl.data.builtin import builtin_path; print(builtin_path('background_cdr3b'))")
  printf 'pretrain:\n  log_every: 1\n' >"$work/every_step.yaml"
  local args=(pretrain --data "$corpus" --columns cdr3_b_aa --objective mlm+simclr --max-steps "$DDP_STEPS"
              --batch-size 256 --seed 3 --device "$DEVICE" --quiet --config "$work/every_step.yaml")
  $PY -m seqssl "${args[@]}" --out "$work/single" || return 1
  $PY -m torch.distributed.run --standalone --nproc_per_node 1 -m seqssl "${args[@]}" --out "$work/ddp" || return 2
  $PY - "$work" <<'EOF'
import sys

import pandas as pd

single, ddp = (pd.read_csv(f"{sys.argv[1]}/{side}/pretrain_history.csv") for side in ("single", "ddp"))
print(f"torchrun_steps_logged: {len(ddp)} (single process: {len(single)})")
print(f"torchrun_final_loss: {ddp['loss'].iloc[-1]:.5f}")
print(f"single_final_loss: {single['loss'].iloc[-1]:.5f}")
print(f"torchrun_max_loss_difference: {(single['loss'] - ddp['loss']).abs().max():.2e}")
EOF
}

export -f ddp_check
export PY DEVICE DDP_STEPS
part torchrun_nccl 90 bash -c ddp_check
part throughput 220 $PY benchmarks/bench_throughput.py --shapes b,c --device "$DEVICE" --steps-b $STEPS \
  --batch-b $BATCH --bf16-emulated-steps $STEPS --bf16-emulated-batch $BATCH --repeats $REPEATS \
  --max-residues $RESIDUES --threads $THREADS
part adversarial 110 $PY benchmarks/bench_adversarial.py --device "$DEVICE" --encoder esm8m --corpus proteins \
  --max-residues $RESIDUES --noiser-embedding $EMB --noiser-hidden $HID --batch-size $ADV_BATCH --seed-arm-only \
  --updates $UPDATES --repeats $REPEATS --corpus-size $CORPUS --threads $THREADS
part gradcache 90 $PY benchmarks/bench_gradcache.py --device "$DEVICE" --batch $GC_BATCH --chunk $GC_CHUNK --repeats 2 \
  --runs $GC_RUNS
part profile 60 $PY benchmarks/bench_throughput.py --profile b --device "$DEVICE" --batch-b $BATCH \
  --max-residues $RESIDUES --threads $THREADS --profile-rows 30
echo "suite_wall_s: $SECONDS"
