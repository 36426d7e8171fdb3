#!/usr/bin/env bash
# The one GPU check (issues 6 and 28), run on the lent GPU machine from the repository root with
# the bundle built here by `just gpu-bundle` (carried as bundle/):
#   bash scripts/gpu-check.sh
# It uses that machine's PyTorch libraries (nothing from libtorch is shipped) and measures
#   (a) loss and gradients of one forward/backward on tch-cuda against the cpu backend,
#   (b) ResNet-18 (authors' CIFAR variant, batch 128) and YOLOv3-tiny (batch 16, 416x416)
#       training steps for our binary and for a PyTorch eager loop with the same model,
#       optimizer and batch, and the ratio; the ADMM and SLR step overhead and update; the
#       projection of the pruned layers against PyTorch's kthvalue projection; the same steps
#       twice from one seed (determinism on the GPU), and our step again with burn's generic
#       convolution gradients (SLR_TCH_CONV_GRAD=burn) beside libtorch's own,
#   (c) two real epochs of ResNet-18 on the Fashion-MNIST CIFAR stand-in, then the same run
#       stopped by SIGTERM in the middle of its second epoch and resumed, checked against the
#       uninterrupted run,
#   (d) `slr reproduce --jobs 2 --devices cuda:0,cuda:0` of a tiny spec (scripts/gpu-jobs.toml),
# and prints a short table at the end (also $OUT/table.md). Each part has its own time limit and
# a failure is recorded in the table, not fatal to the rest. Details go to $OUT (default:
# gpu-check-out/).
set -uo pipefail
OUT="${OUT:-gpu-check-out}"
mkdir -p "$OUT"
if [ -z "${BIN:-}" ]; then
  # The bundle carries the binary xz-compressed; Python's lzma unpacks it (no xz needed).
  BIN="${TMPDIR:-/tmp}/slr-gpu-check/slr"
  mkdir -p "$(dirname "$BIN")"
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
    bundle/slr.xz "$BIN" || exit 2
  chmod +x "$BIN"
fi
# Overridable for a dry run on a CPU:
#   BACKEND=tch-cpu DEVICE=cpu DEVICES=cpu,cpu BATCH=16 YOLO_BATCH=2 WARMUP=1 STEPS=2 \
#   EPOCH_SET="defaults.data.train_limit=4096 defaults.data.test_limit=500" bash scripts/gpu-check.sh
BACKEND="${BACKEND:-tch-cuda}"
DEVICE="${DEVICE:-cuda}"
DEVICES="${DEVICES:-cuda:0,cuda:0}"
BATCH="${BATCH:-128}"
YOLO_BATCH="${YOLO_BATCH:-16}"
WARMUP="${WARMUP:-10}"
STEPS="${STEPS:-30}"
# `--set`s of the epoch runs (space-separated KEY=VALUE), e.g. smaller sets in a dry run.
EPOCH_SET="${EPOCH_SET:-runtime.threads=16}"
STATUS="$OUT/status.tsv"
: > "$STATUS"

# part NAME SECONDS COMMAND...: runs one part under a time limit, logs it to $OUT/NAME.log and
# records ok / failed (exit code) / timed out in $STATUS.
part() {
  local name="$1" limit="$2"
  shift 2
  echo "== $name (limit ${limit} s)"
  local started=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  local state="ok"
  if [ "$rc" = 124 ]; then state="timed out after ${limit} s"; elif [ "$rc" != 0 ]; then state="failed (exit $rc)"; fi
  printf '%s\t%s\t%s\n' "$name" "$state" "$((SECONDS - started))" >> "$STATUS"
  tail -4 "$OUT/$name.log"
  return "$rc"
}

{
  python3 -W ignore -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version()); print("device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")'
  nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | sed 's/^/driver /'
  [ -f bundle/versions.txt ] && cat bundle/versions.txt
} > "$OUT/versions.txt"
cat "$OUT/versions.txt"
TORCH_LIB="$(python3 -W ignore -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Fail early and say which library is missing (the binary needs glibc >= 2.34, GLIBCXX 3.4.26
# and the torch wheel's CUDA libraries, found through torch/lib's own RUNPATH).
if ldd "$BIN" | grep -q 'not found'; then
  echo "missing libraries for $BIN:" >&2
  ldd "$BIN" | grep 'not found' >&2
  exit 2
fi
"$BIN" --version

# (a), (b): both models, ours then PyTorch's.
for spec in "resnet18-cifar $BATCH 16" "yolov3-tiny $YOLO_BATCH 2"; do
  read -r model batch check <<< "$spec"
  part "slr-perf-$model" 150 "$BIN" perf --backend "$BACKEND" --model "$model" --batch "$batch" \
    --warmup "$WARMUP" --steps "$STEPS" --reference cpu --check-batch "$check" \
    --json "$OUT/slr-perf-$model.json"
  part "torch-perf-$model" 90 python3 scripts/torch_perf.py --device "$DEVICE" --model "$model" \
    --batch "$batch" --warmup "$WARMUP" --steps "$STEPS" --json "$OUT/torch-perf-$model.json"
  # The same step with burn's generic convolution gradients (the path measured before
  # torch_conv): speed and determinism of the two paths side by side.
  part "slr-perf-$model-burn-grad" 150 env SLR_TCH_CONV_GRAD=burn "$BIN" perf --backend "$BACKEND" \
    --model "$model" --batch "$batch" --warmup "$WARMUP" --steps "$STEPS" \
    --json "$OUT/slr-perf-$model-burn-grad.json"
done

# (c) Two epochs uninterrupted (the first one is the real-epoch time), then the same run with a
# SIGTERM about a third of an epoch into its second epoch, and its rerun.
part fetch 60 "$BIN" data fetch fashion-mnist --from bundle/data/fashion-mnist --data-root "$OUT/data"
epoch_runs() {
  local spec=(scripts/gpu-epoch.toml --backend "$BACKEND" --data-root "$OUT/data"
    --set "runtime.reports_root=\"$OUT/reports\"" --set defaults.pretrain.epochs=2)
  local set
  for set in $EPOCH_SET; do spec+=(--set "$set"); done
  "$BIN" reproduce "${spec[@]}" --no-fetch --runs-root "$OUT/runs-full" || return
  local seconds
  seconds=$(awk -F, '$2 == 1 && $4 == "seconds" { print $5 }' "$OUT"/runs-full/pretrain-*/seed-1/metrics.csv)
  "$BIN" reproduce "${spec[@]}" --no-fetch --runs-root "$OUT/runs-term" &
  local pid=$!
  until awk -F, '$2 == 1 && $4 == "seconds" { found = 1 } END { exit !found }' \
    "$OUT"/runs-term/pretrain-*/seed-1/metrics.csv 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { echo "the run ended before its first epoch did"; return 1; }
    sleep 0.1
  done
  sleep "$(python3 -c "print($seconds / 3)")"
  kill -TERM "$pid"
  wait "$pid"
  echo "exit code after SIGTERM: $?"
  "$BIN" status "${spec[@]}" --runs-root "$OUT/runs-term"
  "$BIN" reproduce "${spec[@]}" --no-fetch --runs-root "$OUT/runs-term"
}
export -f epoch_runs
export BIN BACKEND OUT EPOCH_SET
part epoch-resume 300 bash -c epoch_runs

# (d) Two workers on one GPU.
part jobs 120 "$BIN" reproduce scripts/gpu-jobs.toml --backend "$BACKEND" --no-fetch --jobs 2 \
  --devices "$DEVICES" --data-root "$OUT/data" --runs-root "$OUT/runs-jobs" \
  --set "runtime.reports_root=\"$OUT/reports\""

echo
echo "== summary"
DEVICES="$DEVICES" EPOCH_SET="$EPOCH_SET" python3 scripts/gpu_check_table.py "$OUT" | tee "$OUT/table.md"
