"""Times the same training steps in slr and in PyTorch on this machine's CPU, in one run, and
prints the ratio (`just bench-torch-cpu`; needs PyPI's torch in .venv-torch, which the recipe
makes).

    .venv-torch/bin/python scripts/bench-torch-cpu.py --slr target/release/slr \
        [--slr-tch ~/.cache/slr-target-tch/release/slr] [--model yolov3-tiny --batch 8] \
        [--threads 2] [--out reports/perf-cpu.md]

It runs `slr perf` on the `cpu` backend (and `tch-cpu` with --slr-tch), then
scripts/torch_perf.py's measurement of the same model (the CIFAR/ImageNet ResNets and VGG-16 of
scripts/torch_models.py, YOLOv3 and YOLOv3-tiny) with the same batch, steps and thread count,
and prints one Markdown table per slr backend. --out keeps one section per model and batch in
the file: this run's replaces its own, the others stay.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore", message=".*NumPy.*")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_perf  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slr", default="target/release/slr")
    parser.add_argument("--slr-tch", help="a --features tch build (needs LD_LIBRARY_PATH to torch/lib)")
    parser.add_argument("--model", default="resnet18-cifar")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out")
    args = parser.parse_args()

    common = ["--model", args.model, "--batch", str(args.batch), "--warmup", str(args.warmup),
              "--steps", str(args.steps), "--threads", str(args.threads)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    import torch
    env["LD_LIBRARY_PATH"] = os.path.join(os.path.dirname(torch.__file__), "lib")
    runs = [("cpu", args.slr)] + ([("tch-cpu", args.slr_tch)] if args.slr_tch else [])
    ours = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend, binary in runs:
            path = os.path.join(tmp, backend + ".json")
            subprocess.run([binary, "perf", "--backend", backend, *common, "--json", path],
                           check=True, env=env, stdout=subprocess.DEVNULL)
            ours.append(json.load(open(path)))
    theirs = torch_perf.measure(args.model, "cpu", args.batch, args.warmup, args.steps, 0.8, args.threads)
    text = "".join(torch_perf.compare(o, theirs) + "\n" for o in ours)
    print(text, end="")
    if args.out:
        write_section(args.out, section(args, ours[0], text))


HEADER = (
    "# CPU: slr against PyTorch eager, same training step\n\n"
    "Measured by `scripts/bench-torch-cpu.py` (`just bench-torch-cpu tch [--model M --batch B]`) "
    "on random data of each model's task, SGD lr 0.01 momentum 0.5 Nesterov weight decay 5e-4. "
    "ADMM step: the task's loss plus the penalty over the pruned layers (ratio 0.8); update: one "
    "Z/U update; projection: the pruned layers (slr: O(n) selection by bisection over f32 bit "
    "patterns; PyTorch: kthvalue). Ratios above 1 mean slr is faster. Timings on a 2-core "
    "machine vary by about 10% between runs.\n"
)


def write_section(path, text):
    """Puts `text` (a `## ` section) into the file at `path`, replacing the section with the same
    title, after the others."""
    title = text.split("\n", 1)[0]
    sections = []
    if os.path.exists(path):
        body = open(path).read().split("\n## ")[1:]
        sections = ["## " + s.rstrip("\n") + "\n" for s in body]
    sections = [s for s in sections if s.split("\n", 1)[0] != title] + [text.rstrip("\n") + "\n"]
    with open(path, "w") as f:
        f.write(HEADER + "".join("\n" + s for s in sections))


def section(args, ours, tables):
    """The tables with what was measured, where and how."""
    import datetime
    import platform

    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    )
    import torch

    # A `tch` build cannot start without torch's libraries on its path.
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(os.path.dirname(torch.__file__), "lib"))
    version = subprocess.run([args.slr, "--version"], capture_output=True, text=True, env=env).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    if args.model.startswith("yolo"):
        loss = "YOLOv3's loss on 4 boxes per image"
    elif args.model == "ufld":
        loss = "UFLD's four terms (focal, relation, segmentation, shape)"
    else:
        loss = "cross-entropy"
    # slr sets glibc's allocator to keep freed memory (src/base/alloc.rs); with the same settings
    # in the environment PyTorch gets them too: a like-for-like run, in its own section.
    alike = os.environ.get("MALLOC_MMAP_MAX_") == "0"
    title = f"## {args.model}, batch {args.batch}" + (", PyTorch with slr's allocator settings" if alike else "")
    setting = (
        "PyTorch ran with MALLOC_MMAP_MAX_=0 and MALLOC_TRIM_THRESHOLD_ set, the allocator settings slr "
        "applies to itself (src/base/alloc.rs). " if alike else
        "PyTorch ran with glibc's default allocator settings, slr with its own (src/base/alloc.rs). "
    )
    return (
        f"{title}\n\n"
        f"{setting}"
        f"{cpu}, {args.threads} threads (OMP_NUM_THREADS and slr --threads), "
        f"{datetime.datetime.now(datetime.timezone.utc).date()}, {version} at commit {commit}. "
        f"Loss: {loss}; {ours['pruned_layers']} pruned layers ({ours['pruned_weights']} weights); "
        f"{args.warmup} warm-up step{'s' if args.warmup != 1 else ''}, then the mean of {args.steps} steps.\n\n"
        + tables
    )


if __name__ == "__main__":
    main()
