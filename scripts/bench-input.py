"""Times each data set's training input pipeline in slr (`slr perf --input`) and in its reference
(torchvision's / PyTorch's DataLoader with the reference's transforms,
scripts/input_reference.py) on the same files, in one run, and prints one Markdown table: images
(frames) per second with 1, 2, ... workers, per worker, and the ratio.

    .venv-torch/bin/python scripts/input_files.py --out /tmp/input-bench
    .venv-torch/bin/python scripts/bench-input.py --slr target/release/slr --data-root /tmp/input-bench \
        [--datasets imagenet,cifar10-test20,coco2014,tusimple] [--batch 32] [--batches 8] \
        [--warmup 2] [--workers 1,2] [--out reports/perf-cpu.md]

slr's workers are decoding threads (a pool of k threads builds each batch); torchvision's are
DataLoader worker processes (each builds whole batches). Both visit the same images in the same
order (batch b holds examples b * B .. cycling over the training split), time N batches after W
untimed ones, and use one thread per worker. --out puts the table in a section
`## Input pipelines against torchvision's DataLoader` of that Markdown file, replacing the
section of that title and keeping the others (as scripts/bench-torch-cpu.py's write_section).
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATASETS = ["imagenet", "cifar10-test20", "coco2014", "tusimple"]
TITLE = "## Input pipelines against torchvision's DataLoader"
NEW_FILE_HEADER = "# Input pipelines: slr against torchvision's DataLoader\n"
# Where each data set's training image files are under the data root (for the file sizes).
TRAIN_FILES = {"imagenet": "imagenet/train", "coco2014": "coco2014/train2014", "tusimple": "tusimple/clips",
               "cifar10-test20": "cifar10-test20"}


def fail(message):
    print(f"bench-input.py: {message}", file=sys.stderr)
    sys.exit(2)


def check_slr(slr):
    """Stops with a clear message unless `slr perf` takes --input."""
    if not (os.path.isfile(slr) and os.access(slr, os.X_OK)):
        fail(f"{slr}: no slr binary there (build it: cargo build --release)")
    try:
        help_text = subprocess.run([slr, "perf", "--help"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        fail(f"{slr}: cannot run it ({e})")
    if "--input" not in help_text.stdout + help_text.stderr:
        fail(f"{slr}: its `slr perf` has no --input (a binary from before `slr perf --input`; rebuild it)")


def run(command, what):
    """Runs `command`; on failure stops with its output."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"{what} failed (exit {done.returncode}): {shlex.join(command)}\n{done.stdout}{done.stderr}")
    return done


def measure(args, dataset, tmp):
    """slr's and the reference's JSON reports for `dataset`."""
    common = ["--data-root", args.data_root, "--batch", str(args.batch), "--batches", str(args.batches),
              "--warmup", str(args.warmup), "--workers", args.workers]
    ours_path, theirs_path = os.path.join(tmp, f"slr-{dataset}.json"), os.path.join(tmp, f"ref-{dataset}.json")
    run([args.slr, "perf", "--input", dataset, *common, "--json", ours_path], f"slr perf --input {dataset}")
    run([sys.executable, os.path.join(HERE, "input_reference.py"), "--dataset", dataset, *common,
         "--json", theirs_path], f"input_reference.py --dataset {dataset}")
    with open(ours_path) as f:
        ours = json.load(f)
    with open(theirs_path) as f:
        theirs = json.load(f)
    return ours, theirs


def table(results):
    """One Markdown table, a row per data set and worker count."""
    lines = [
        "| data set | model input | workers | slr images/s | slr per worker | torchvision images/s "
        "| torchvision per worker | ratio (slr / torchvision) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for ours, theirs in results:
        image = "x".join(str(v) for v in ours.get("image", [])) or "?"
        by_workers = {r["workers"]: r["images_per_s"] for r in theirs["rates"]}
        ours_by_workers = {r["workers"]: r["images_per_s"] for r in ours["rates"]}
        workers = list(ours_by_workers) + [k for k in by_workers if k not in ours_by_workers]
        for k in workers:
            mine, ref = ours_by_workers.get(k), by_workers.get(k)
            cell = lambda v, d=1: "–" if v is None else f"{v:.{d}f}"  # noqa: E731
            per = lambda v: None if v is None else v / max(k, 1)  # noqa: E731
            ratio = None if mine is None or ref is None else mine / ref
            lines.append(f"| {ours['dataset']} | {image} | {k} | {cell(mine)} | {cell(per(mine))} | {cell(ref)} "
                         f"| {cell(per(ref))} | {cell(ratio, 2)} |")
    return "\n".join(lines) + "\n"


def file_summary(data_root, dataset):
    """`N files, mean K kB` of the data set's training image files."""
    folder = os.path.join(data_root, TRAIN_FILES[dataset])
    sizes = [os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files
             if f.lower().endswith((".jpg", ".jpeg", ".png", ".bin"))]
    if not sizes:
        return "no files"
    return f"{len(sizes)} file{'s' if len(sizes) != 1 else ''}, mean {sum(sizes) / len(sizes) / 1e3:.0f} kB"


def section(args, results, text):
    """The table with what was measured, where and how."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor() or "unknown CPU")
    cores = os.cpu_count()
    version = subprocess.run([args.slr, "--version"], capture_output=True, text=True).stdout.strip() or "slr"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip() or "?"
    torch_version = results[0][1].get("torch", "?") if results else "?"
    command = "python scripts/bench-input.py " + shlex.join(sys.argv[1:])
    files = "; ".join(f"{ours['dataset']}: {file_summary(args.data_root, ours['dataset'])}" for ours, _ in results)
    return (
        f"{TITLE}\n\n"
        f"{cpu}, {cores} cores (nproc), {datetime.datetime.now(datetime.timezone.utc).date()}, {version} at "
        f"commit {commit}, torch {torch_version}. Command: `{command}`.\n\n"
        "The files are synthetic, written by `scripts/input_files.py` in each data set's real layout and at "
        "realistic sizes (the same files on both sides; training files: "
        f"{files}). Each pipeline is the data set's training path with its augmentation: slr's "
        "`slr perf --input` (k decoding threads build each batch, onto the CPU backend) against the "
        "reference's own Dataset, transforms and collate function under torch's `DataLoader` with k worker "
        "processes (`scripts/input_reference.py`: torchvision's ImageFolder and the PyTorch ImageNet "
        "recipe; torchvision's CIFAR10 with the SLR authors' crop and flip; PyTorch-YOLOv3's ListDataset "
        "and DefaultAug, written out in OpenCV; UFLD's LaneClsDataset). Both visit the same images in "
        f"the same order; batch {args.batch}, {args.warmup} untimed batches (worker start-up included), "
        f"then {args.batches} timed batches per worker count; one thread per worker on both sides. "
        "Ratios above 1 mean slr is faster.\n\n"
        + text
    )


def write_section(path, text):
    """Puts `text` (a `## ` section) into the file at `path`: replaces the section with the same
    title, else appends it after the others; what precedes the first section stays."""
    title = text.split("\n", 1)[0]
    header, sections = NEW_FILE_HEADER, []
    if os.path.exists(path):
        parts = open(path).read().split("\n## ")
        header = parts[0].rstrip("\n") + "\n"
        sections = ["## " + s.rstrip("\n") + "\n" for s in parts[1:]]
    replaced = [text.rstrip("\n") + "\n" if s.split("\n", 1)[0] == title else s for s in sections]
    if replaced == sections:
        replaced.append(text.rstrip("\n") + "\n")
    with open(path, "w") as f:
        f.write(header + "".join("\n" + s for s in replaced))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slr", default="target/release/slr")
    parser.add_argument("--data-root", required=True, help="files from scripts/input_files.py --out")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--out", help="Markdown file to put the section in")
    args = parser.parse_args()
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    missing = [d for d in datasets if not os.path.isdir(os.path.join(args.data_root, d))]
    if missing:
        fail(f"{args.data_root} lacks {', '.join(missing)}: write the files first with "
             f"{sys.executable} {os.path.join(HERE, 'input_files.py')} --out {args.data_root}")
    check_slr(args.slr)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in datasets:
            results.append(measure(args, dataset, tmp))
            print(f"{dataset}: measured", file=sys.stderr, flush=True)
    text = table(results)
    print(text, end="")
    if args.out:
        write_section(args.out, section(args, results, text))


if __name__ == "__main__":
    main()
