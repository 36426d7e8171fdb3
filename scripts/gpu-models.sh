#!/usr/bin/env bash
# The paper's other models on the lent GPU (issue 28's second run): `slr perf` on tch-cuda
# against PyTorch eager (scripts/torch_perf.py) at each table's batch size (Table 1's 256 halved
# to 128 to bound the time), without the gradient check. Same bundle as scripts/gpu-check.sh:
#   bash scripts/gpu-models.sh      # table on stdout and in $OUT/models.md
set -uo pipefail
OUT="${OUT:-gpu-check-out}"
mkdir -p "$OUT"
BIN="${TMPDIR:-/tmp}/slr-gpu-check/slr"
mkdir -p "$(dirname "$BIN")"
python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
  bundle/slr.xz "$BIN" || exit 2
chmod +x "$BIN"
export LD_LIBRARY_PATH="$(python3 -W ignore -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
BACKEND="${BACKEND:-tch-cuda}" DEVICE="${DEVICE:-cuda}" WARMUP="${WARMUP:-5}" STEPS="${STEPS:-10}"
: > "$OUT/models.md"
for spec in "resnet50-cifar 128" "vgg16-cifar 128" "resnet18-imagenet 128" "resnet50-imagenet 128" "yolov3 16"; do
  read -r model batch <<< "$spec"
  echo "== $model, batch $batch"
  timeout 120 "$BIN" perf --backend "$BACKEND" --model "$model" --batch "$batch" --warmup "$WARMUP" \
    --steps "$STEPS" --json "$OUT/slr-$model.json" > "$OUT/slr-$model.log" 2>&1 || echo "slr perf $model: exit $?"
  timeout 90 python3 -W ignore scripts/torch_perf.py --device "$DEVICE" --model "$model" --batch "$batch" \
    --warmup "$WARMUP" --steps "$STEPS" --json "$OUT/torch-$model.json" > "$OUT/torch-$model.log" 2>&1 \
    || echo "torch_perf $model: exit $?"
  if [ -f "$OUT/slr-$model.json" ] && [ -f "$OUT/torch-$model.json" ]; then
    python3 scripts/torch_perf.py --compare "$OUT/slr-$model.json" "$OUT/torch-$model.json" | tee -a "$OUT/models.md"
    echo >> "$OUT/models.md"
  fi
done
