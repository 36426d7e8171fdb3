# Daily recipes. Builds share one target folder outside the clone.
set shell := ["bash", "-euo", "pipefail", "-c"]
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/slr-target")

# List the recipes.
default:
    @just --list

# Run a spec with a profile: `just reproduce lenet5-mnist smoke`.
reproduce spec profile="paper" *args="":
    cargo run --release -- reproduce {{spec}} --profile {{profile}} {{args}}

# About twice the pure-Rust backend's LeNet-5 speed; needs `just torch-venv`.
# Run a spec on libtorch's CPU backend: `just reproduce-tch lenet5-fashion converged --jobs 2`.
reproduce-tch spec profile="paper" *args="":
    #!/usr/bin/env bash
    set -euo pipefail
    just build-tch
    torch_lib="$(.venv-torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
    LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
      "${CARGO_TARGET_DIR}-tch/release/slr" reproduce {{spec}} --profile {{profile}} --backend tch-cpu {{args}}

# A profile measured in parts (README): the given seeds of the given row groups on libtorch's
# CPU backend, in their own runs folder (runs/part-<spec>-<profile>), their results merged into
# the report's results.csv, table and figures.
# Measure part of a profile, merge it: `just reproduce-part lenet5-fashion converged 2,3 plateau --jobs 2`.
reproduce-part spec profile seeds groups *args="":
    #!/usr/bin/env bash
    set -euo pipefail
    just build-tch
    torch_lib="$(.venv-torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
    export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    slr="${CARGO_TARGET_DIR}-tch/release/slr"
    runs="runs/part-{{spec}}-{{profile}}"
    groups="$(echo '{{groups}}' | sed 's/[^,][^,]*/"&"/g')"
    # The part's reports go under its runs folder, never over the report it joins; its frame is
    # rendered under the whole profile (every seed and group planned), as the report's is.
    part=(--runs-root "$runs" --set "runtime.reports_root=$runs/reports")
    "$slr" reproduce {{spec}} --profile {{profile}} --seeds {{seeds}} --set "groups=[$groups]" \
      --backend tch-cpu "${part[@]}" {{args}}
    "$slr" report {{spec}} --profile {{profile}} "${part[@]}"
    stem="{{spec}}"; [ "{{profile}}" = paper ] || stem="{{spec}}.{{profile}}"
    frames=(--from-results "$runs/reports/$stem/results.csv")
    [ -f "reports/$stem/results.csv" ] && frames=(--from-results "reports/$stem/results.csv" "${frames[@]}")
    "$slr" report {{spec}} --profile {{profile}} "${frames[@]}"

# Show every run of a spec and whether it is cached.
plan spec profile="paper":
    cargo run --release -- plan {{spec}} --profile {{profile}}

# Rebuild a spec's table, result frames and figures from existing runs.
report spec profile="paper":
    cargo run --release -- report {{spec}} --profile {{profile}}

# Rebuild a spec's result frames and figures (reports/<spec>/) from existing runs.
figures spec profile="paper":
    cargo run --release -- figures {{spec}} --profile {{profile}}

# Fetch the data the tests read (MNIST), then run the tests; with cargo-insta installed
# (CI installs it), snapshots are only asserted and stale snapshot files fail the run.
test:
    cargo run -- data fetch mnist
    cargo run -- data fetch cifar10-test20
    if command -v cargo-insta >/dev/null 2>&1; then cargo insta test --check --unreferenced=reject; else cargo test; fi
    # TensorBoard's own reader on slr's event files (needs PyPI's tensorboard: `just tensorboard-venv`).
    just tensorboard-venv
    cargo test --test integration -- --ignored tensorboard
    # PyTorch loading `slr export` files (needs the torch venv: `just torch-venv`; skipped without it).
    if [ -x .venv-torch/bin/python ] || [ -n "${SLR_TORCH_PYTHON:-}" ]; then cargo test --test integration -- --ignored export::; else echo "skipped: export in PyTorch (no .venv-torch; just torch-venv)"; fi
    # The real-Slurm tests, one at a time, on a one-node Slurm (scripts/slurm-local.sh; exit 3: cannot be set up
    # on this machine, e.g. without root, and the test is skipped with that message).
    scripts/slurm-local.sh run cargo test --test integration -- --ignored real_slurm --test-threads=1 || [ $? = 3 ]

# A venv with PyPI's tensorboard, whose reader the TensorBoard test uses (scripts/tensorboard_read.py).
tensorboard-venv:
    #!/usr/bin/env bash
    set -euo pipefail
    venv="$HOME/.cache/slr-tb-venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -c 'import tensorboard' 2>/dev/null || "$venv/bin/pip" install -q tensorboard==2.20.0

# The first 20 real CIFAR-10 test images (PNGs in PyPI's foolbox==3.3.4 wheel) as
# data/cifar10-test20/test_batch_20.bin, SHA-256 checked: the CIFAR pipeline's golden test data.
cifar10-test20:
    cargo run -- data fetch cifar10-test20

# Formatting and lints, as before every commit.
check:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings

# A venv with PyPI's torch 2.11.0 (the GPU machines' build) for the `tch` feature.
torch-venv:
    [ -x .venv-torch/bin/python ] || python3 -m venv .venv-torch
    .venv-torch/bin/pip install torch==2.11.0
    # The reference scripts' own needs: numpy; torchvision and Pillow for
    # scripts/imagefolder_reference.py (Pillow's version decides some resampling bytes; --no-deps
    # keeps torch as pinned above).
    .venv-torch/bin/pip install numpy==2.4.6 pillow==13.0.0
    # safetensors (and its `packaging`) for scripts/export_check.py, which loads `slr export` files.
    .venv-torch/bin/pip install safetensors==0.7.0 packaging==25.0
    .venv-torch/bin/pip install --no-deps torchvision==0.26.0
    # OpenCV: scripts/fidelity_trace_ufld.py draws UFLD's label images with cv2.line, as the
    # UFLD repository's convert_tusimple.py does.
    .venv-torch/bin/pip install --no-deps opencv-python-headless==4.10.0.84

# Criterion benchmarks: projection of ResNet-18's pruned layers, one LeNet-5 and one ResNet-18
# training step on each CPU backend (`just bench tch` adds tch-cpu; needs `just torch-venv`).
bench features="":
    #!/usr/bin/env bash
    set -euo pipefail
    if [ "{{features}}" = "tch" ]; then
      torch_lib="$(.venv-torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
      export LIBTORCH_USE_PYTORCH=1 LIBTORCH_BYPASS_VERSION_CHECK=1 VIRTUAL_ENV="$PWD/.venv-torch"
      export PATH="$PWD/.venv-torch/bin:$PATH" LD_LIBRARY_PATH="$torch_lib" CARGO_TARGET_DIR="${CARGO_TARGET_DIR}-tch"
      cargo bench --bench train_step --features tch
    else
      cargo bench --bench train_step
    fi

# `reproduce --jobs 2` against `--jobs 1` on a spec's profile (default: lenet5-mnist smoke),
# each from an empty runs folder, with wall times and their ratio (README, "Parallel runs").
bench-jobs spec="lenet5-mnist" profile="smoke":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release
    bin="$CARGO_TARGET_DIR/release/slr"
    out=$(mktemp -d)
    for jobs in 1 2; do
      start=$(date +%s.%N)
      "$bin" reproduce {{spec}} --profile {{profile}} --jobs "$jobs" --runs-root "$out/runs-$jobs" \
        --set "runtime.reports_root=\"$out/reports-$jobs\"" 2> "$out/log-$jobs"
      end=$(date +%s.%N)
      echo "$jobs" "$(echo "$end - $start" | bc)" >> "$out/times"
    done
    awk '{t[$1]=$2; printf "--jobs %s: %.0f s\n", $1, $2} END {printf "speed-up: %.2fx\n", t[1]/t[2]}' "$out/times"
    rm -rf "$out"

# Further arguments go to scripts/bench-torch-cpu.py, e.g. `--model yolov3-tiny --batch 8 --out
# reports/perf-cpu.md`; `just bench-torch-cpu tch` also measures the tch-cpu backend.
# The same training steps in slr and in PyTorch on this CPU, one table with the ratio.
bench-torch-cpu with="" *args:
    #!/usr/bin/env bash
    set -euo pipefail
    [ -x .venv-torch/bin/python ] || just torch-venv
    cargo build --release
    extra=()
    if [ "{{with}}" = "tch" ]; then
      just build-tch
      extra=(--slr-tch "${CARGO_TARGET_DIR}-tch/release/slr")
    elif [ -n "{{with}}" ]; then
      extra=("{{with}}")
    fi
    .venv-torch/bin/python scripts/bench-torch-cpu.py --slr "$CARGO_TARGET_DIR/release/slr" "${extra[@]}" {{args}}

# The tch-cpu training step with libtorch's convolution gradients (the default) and with burn's
# generic ones (SLR_TCH_CONV_GRAD=burn), alternated `rounds` times on 2 threads (reports/perf-cpu.md).
bench-conv-grad model="resnet18-cifar" batch="32" rounds="2":
    #!/usr/bin/env bash
    set -euo pipefail
    just build-tch
    export LD_LIBRARY_PATH="$(.venv-torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
    summary='import json, sys
    path, round, grad = sys.argv[1:]
    d = json.load(open(path))
    ms, det = d["dense_step_ms"], d["determinism"]
    loss, weight = det["loss_abs_diff"], det["weight_max_abs_diff"]
    print(f"round {round}, {grad:8} gradients: dense step {ms:.1f} ms, determinism {loss:.1e} / {weight:.1e}")'
    out=$(mktemp -d)
    for round in $(seq {{rounds}}); do
      for grad in libtorch burn; do
        SLR_TCH_CONV_GRAD=$grad OMP_NUM_THREADS=2 "${CARGO_TARGET_DIR}-tch/release/slr" perf \
          --backend tch-cpu --model {{model}} --batch {{batch}} --warmup 2 --steps 10 --threads 2 \
          --json "$out/$grad-$round.json" > /dev/null
        python3 -c "$summary" "$out/$grad-$round.json" "$round" "$grad"
      done
    done
    rm -rf "$out"

# Where a training step's time goes: `perf record` (cpu-clock samples, no call graph: the
# flat self time per function) around `slr perf --step-only` (1 warm-up, then `steps` dense
# steps on 2 threads), and the functions above 1% of the samples. backend: cpu or tch-cpu
# (builds the `tch` binary). reports/perf-cpu.md, "Where the time goes".
profile-step model="resnet18-cifar" backend="cpu" batch="32" steps="5":
    #!/usr/bin/env bash
    set -euo pipefail
    if [ "{{backend}}" = tch-cpu ]; then
      just build-tch > /dev/null
      bin="${CARGO_TARGET_DIR}-tch/release/slr"
      export LD_LIBRARY_PATH="$(.venv-torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
    else
      cargo build --release
      bin="$CARGO_TARGET_DIR/release/slr"
    fi
    out=$(mktemp -d)
    OMP_NUM_THREADS=2 perf record -q -e cpu-clock -F 499 -o "$out/perf.data" -- "$bin" perf --step-only \
      --backend {{backend}} --model {{model}} --batch {{batch}} --warmup 1 --steps {{steps}} --threads 2
    # Per library first ([JIT]: oneDNN's generated convolution kernels; [kernel.kallsyms]: page
    # faults, scheduling), then per function with ATen's kernel names shortened to the operator.
    perf report -i "$out/perf.data" --no-children --sort dso --percent-limit 0.5 --stdio 2> /dev/null \
      | grep -v '^#' | grep -v '^$' | sed 's/ \+/ /g'
    echo
    perf report -i "$out/perf.data" --no-children --sort dso,symbol --percent-limit 1 --stdio 2> /dev/null \
      | grep -v '^#' | grep -v '^$' | sed 's/ \+/ /g' \
      | sed -E 's/c10::function_ref<[^>]*>::callback_fn<//; s/at::TensorIteratorBase::loop_2d_from_1d<//; s/at::native::(AVX2::|AVX512::)?//g; s/\(anonymous namespace\):://g' \
      | cut -c1-140
    rm -rf "$out"

# Each data set's training pipeline in slr (`slr perf --input`) and in torchvision's DataLoader
# (scripts/input_reference.py) on the same synthetic files (scripts/input_files.py), with 1 and 2
# workers, one table (reports/perf-cpu.md, "Input pipelines"; needs `just torch-venv`).
bench-input *args:
    #!/usr/bin/env bash
    set -euo pipefail
    [ -x .venv-torch/bin/python ] || just torch-venv
    cargo build --release
    root="$CARGO_TARGET_DIR/input-bench"
    [ -d "$root/imagenet" ] || .venv-torch/bin/python scripts/input_files.py --out "$root" --cifar-from data/cifar10-test20
    .venv-torch/bin/python scripts/bench-input.py --slr "$CARGO_TARGET_DIR/release/slr" --data-root "$root" {{args}}

# The step-for-step replays (tests/fidelity_replay) of the reference traces under
# tests/fixtures/fidelity/, rendered into reports/fidelity.md: `just fidelity` on the pure-Rust
# `cpu` backend, `just fidelity tch` on tch-cpu (libtorch, PyTorch's own kernels).
fidelity backend="cpu":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo run -- data fetch cifar10-test20
    if [ "{{backend}}" = tch ]; then
      torch_lib="$(.venv-torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
      export LIBTORCH_USE_PYTORCH=1 LIBTORCH_BYPASS_VERSION_CHECK=1
      export VIRTUAL_ENV="$PWD/.venv-torch" PATH="$PWD/.venv-torch/bin:$PATH"
      export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      export CARGO_TARGET_DIR="${CARGO_TARGET_DIR}-tch"
      export SLR_FIDELITY_BACKEND=tch-cpu
      features=(--features tch)
    else
      features=()
    fi
    # float32 traces in the integration binary, float64 ones in their own (a device's float
    # type is fixed per process).
    SLR_FIDELITY_WRITE=1 cargo test "${features[@]}" --test integration fidelity
    SLR_FIDELITY_WRITE=1 cargo test "${features[@]}" --test fidelity64

# The reference traces themselves (PyTorch, `just torch-venv`): the CIFAR and ImageNet families
# (scripts/fidelity_trace.py), YOLOv3-tiny and UFLD (their own scripts, which import it).
fidelity-traces:
    .venv-torch/bin/python scripts/fidelity_trace.py
    .venv-torch/bin/python scripts/fidelity_trace_yolo.py --dtype float64
    .venv-torch/bin/python scripts/fidelity_trace_ufld.py --dtype float64

# Build `slr` with the libtorch backends against the venv's torch, in its own target folder
# (switching libtorch rebuilds everything above torch-sys).
build-tch:
    #!/usr/bin/env bash
    set -euo pipefail
    torch_lib="$(.venv-torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
    export LIBTORCH_USE_PYTORCH=1 LIBTORCH_BYPASS_VERSION_CHECK=1
    export VIRTUAL_ENV="$PWD/.venv-torch" PATH="$PWD/.venv-torch/bin:$PATH"
    export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR}-tch"
    cargo build --release --features tch
    echo "built $CARGO_TARGET_DIR/release/slr; run it with LD_LIBRARY_PATH=$torch_lib"

# The GPU bundle (bundle/, under 64 MiB): the `tch` binary linked against the venv's cu130 torch
# (which has libtorch_cuda.so), stripped and xz-compressed (42 MB -> 8 MB), plus Fashion-MNIST
# (gz) for the real epochs and the two-worker run, and versions.txt (commit, burn, rustc);
# nothing from libtorch. On the GPU machine: `bash scripts/gpu-check.sh` (it sets LD_LIBRARY_PATH to
# that machine's torch/lib).
gpu-bundle:
    #!/usr/bin/env bash
    set -euo pipefail
    just build-tch
    torch_lib="$(.venv-torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))')/lib"
    [ -f "$torch_lib/libtorch_cuda.so" ] || { echo "no libtorch_cuda.so in $torch_lib: the binary could not use CUDA" >&2; exit 2; }
    rm -rf bundle && mkdir -p bundle/data/fashion-mnist
    strip -o bundle/slr "${CARGO_TARGET_DIR}-tch/release/slr"
    xz -T2 -6 -f bundle/slr
    LD_LIBRARY_PATH="$torch_lib" "${CARGO_TARGET_DIR}-tch/release/slr" data fetch fashion-mnist
    { echo "slr $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' + uncommitted changes')"
      echo "burn $(awk '/^name = "burn"$/ { getline; print $3 }' Cargo.lock | tr -d '"')"
      rustc --version; } > bundle/versions.txt
    for f in data/fashion-mnist/*-ubyte; do gzip -1 -c "$f" > "bundle/data/fashion-mnist/$(basename "$f").gz"; done
    du -sh bundle bundle/slr.xz
    size=$(du -sb bundle | cut -f1)
    [ "$size" -lt $((64 * 1024 * 1024)) ] || { echo "bundle is $size bytes, over 64 MiB" >&2; exit 1; }
