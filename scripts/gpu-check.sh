#!/usr/bin/env bash
# The one GPU check (issue 6), run on the lent GPU machine from the repository root with the
# bundle built here by `just gpu-bundle` (carried as bundle/):
#   bash scripts/gpu-check.sh
# It uses that machine's PyTorch libraries (nothing from libtorch is shipped), measures
#   (a) loss and gradients of one ResNet-18 forward/backward on tch-cuda vs the cpu backend,
#   (b) ResNet-18 (authors' CIFAR variant) training steps at batch 128 on random data for our
#       binary and for a PyTorch eager loop with the same model and optimizer, and the ratio,
#   (c) the ADMM and SLR step overhead and one Z/Lambda update,
#   (d) the projection of the pruned layers vs PyTorch's kthvalue projection,
#   (e) the same steps twice from one seed,
# plus one real epoch of ResNet-18 on the Fashion-MNIST CIFAR stand-in when bundle/data has it,
# and prints a short table at the end. Details go to $OUT (default: gpu-check-out/).
set -euo pipefail
OUT="${OUT:-gpu-check-out}"
mkdir -p "$OUT"
if [ -z "${BIN:-}" ]; then
  # The bundle carries the binary xz-compressed; Python's lzma unpacks it (no xz needed).
  BIN="${TMPDIR:-/tmp}/slr-gpu-check/slr"
  mkdir -p "$(dirname "$BIN")"
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
    bundle/slr.xz "$BIN"
  chmod +x "$BIN"
fi
# Overridable for a dry run on a CPU: BACKEND=tch-cpu DEVICE=cpu BATCH=16 WARMUP=1 STEPS=2.
BACKEND="${BACKEND:-tch-cuda}"
DEVICE="${DEVICE:-cuda}"
BATCH="${BATCH:-128}"
WARMUP="${WARMUP:-10}"
STEPS="${STEPS:-30}"
# Extra `--set` for the epoch run, e.g. EPOCH_SET=defaults.data.train_limit=512 in a dry run.
EPOCH_SET="${EPOCH_SET:-runtime.threads=16}"

python3 - > "$OUT/versions.txt" <<'PY'
import warnings
warnings.filterwarnings("ignore")
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
print("device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")
PY
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

echo "== slr perf on $BACKEND (reference: cpu backend)"
timeout 240 "$BIN" perf --backend "$BACKEND" --model resnet18-cifar --batch "$BATCH" \
  --warmup "$WARMUP" --steps "$STEPS" --reference cpu --check-batch 16 \
  --json "$OUT/slr-perf.json" | tee "$OUT/slr-perf.md"

echo "== PyTorch eager on $DEVICE"
timeout 120 python3 scripts/torch_perf.py --device "$DEVICE" --model resnet18-cifar \
  --batch "$BATCH" --warmup "$WARMUP" --steps "$STEPS" --json "$OUT/torch-perf.json" \
  > "$OUT/torch-perf.log"

if [ -f bundle/data/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "== one epoch of ResNet-18 on the Fashion-MNIST CIFAR stand-in ($BACKEND)"
  timeout 180 "$BIN" data fetch fashion-mnist --from bundle/data/fashion-mnist --data-root "$OUT/data"
  timeout 240 "$BIN" reproduce scripts/gpu-epoch.toml --backend "$BACKEND" --no-fetch \
    --data-root "$OUT/data" --runs-root "$OUT/runs" --set "runtime.reports_root=\"$OUT/reports\"" \
    --set "$EPOCH_SET" 2>&1 | tail -3
  seconds="$(awk -F, '$4 == "seconds" { print $5 }' "$OUT"/runs/pretrain-*/seed-1/metrics.csv | head -1)"
  echo "one epoch of training and test evaluation (--set $EPOCH_SET): $seconds s" | tee "$OUT/epoch.txt"
fi

echo
echo "== summary"
{
  cat "$OUT/versions.txt"
  echo
  python3 scripts/torch_perf.py --compare "$OUT/slr-perf.json" "$OUT/torch-perf.json"
  [ -f "$OUT/epoch.txt" ] && { echo; cat "$OUT/epoch.txt"; }
} | tee "$OUT/table.md"
