"""The table of scripts/gpu-check.sh, from what it wrote under OUT: versions, each part's state,
slr against PyTorch per model (scripts/torch_perf.py's --compare), our step with libtorch's and
with burn's convolution gradients, the real epoch, the SIGTERM and resume check against the
uninterrupted run, and the two-worker run.

    python3 scripts/gpu_check_table.py gpu-check-out
"""

import csv
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_perf import compare  # noqa: E402


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stage_dir(runs, kind):
    found = sorted(glob.glob(os.path.join(runs, f"{kind}-*", "seed-1")))
    return found[0] if found else None


def metrics(stage):
    """{(epoch, metric): value} of a stage folder's metrics.csv."""
    values = {}
    path = os.path.join(stage, "metrics.csv") if stage else ""
    if os.path.exists(path):
        with open(path) as f:
            for row in csv.DictReader(f):
                values[(int(row["epoch"]), row["metric"])] = float(row["value"])
    return values


def weights(path):
    """The tensor bytes of a burn `.bpk` file: after the 4-byte magic, a u16 version and a u32
    little-endian header length come the CBOR header (names, shapes, offsets and parameter ids,
    which differed between any two saves before slr derived them from the names) and then the
    data, which alone is compared."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    header = int.from_bytes(raw[6:10], "little")
    return raw[10 + header:]


def weight_difference(a, b):
    """'bit-identical', or the largest absolute difference of the f32 weights."""
    if a is None or b is None or len(a) != len(b):
        return "not comparable"
    if a == b:
        return "bit-identical"
    import numpy

    x, y = numpy.frombuffer(a, numpy.float32), numpy.frombuffer(b, numpy.float32)
    return f"differ: largest |w - w'| {numpy.abs(x - y).max():.2e} (largest |w| {numpy.abs(x).max():.2e})"


def log(out, name):
    try:
        with open(os.path.join(out, f"{name}.log")) as f:
            return f.read()
    except OSError:
        return ""


def epoch_lines(out):
    full = stage_dir(os.path.join(out, "runs-full"), "pretrain")
    term = stage_dir(os.path.join(out, "runs-term"), "pretrain")
    a, b = metrics(full), metrics(term)
    lines = []
    if (1, "seconds") in a:
        acc = a.get((1, "acc.test"))
        lines.append(
            f"| one real epoch, ResNet-18 on the Fashion-MNIST CIFAR stand-in (batch 128; training "
            f"+ test evaluation; --set {os.environ.get('EPOCH_SET', '')}) | {a[(1, 'seconds')]:.1f} s"
            + (f", test accuracy {acc:.2f}%" if acc is not None else "")
            + " |"
        )
    text = log(out, "epoch-resume")
    stopped = [l for l in text.splitlines() if l.startswith("exit code after SIGTERM")]
    resumed = [l.split(": ", 1)[-1] for l in text.splitlines() if "continuing from its checkpoint" in l]
    if stopped:
        code = stopped[0].split(": ")[-1]
        meaning = "checkpointed and stopped" if code == "130" else "not stopped by it"
        rerun = resumed[0] if resumed else "did not continue from a checkpoint"
        lines.append(f"| SIGTERM in epoch 2 | exit {code} ({meaning}); rerun: {rerun} |")
    if a and b:
        final = weight_difference(weights(os.path.join(full, "model.bpk")), weights(os.path.join(term, "model.bpk")))
        keys = sorted(k for k in a if k in b and k[1] != "seconds")
        worst = max(keys, key=lambda k: abs(a[k] - b[k]), default=None)
        diff = f"largest metric difference {abs(a[worst] - b[worst]):.2e} ({worst[1]}, epoch {worst[0]})" if worst else "no common metrics"
        acc_a, acc_b = a.get((2, "acc.test")), b.get((2, "acc.test"))
        accs = (
            f"; test accuracy after epoch 2: {acc_a:.2f}% uninterrupted, {acc_b:.2f}% resumed"
            if acc_a is not None and acc_b is not None
            else ""
        )
        lines.append(
            f"| resumed run against the uninterrupted one | final weights {final}; {diff}{accs} |"
        )
    return lines


def jobs_lines(out):
    text = log(out, "jobs")
    stages = sorted(glob.glob(os.path.join(out, "runs-jobs", "*", "seed-1", "summary.json")))
    done = [os.path.basename(os.path.dirname(os.path.dirname(p))).split("-")[0] for p in stages]
    summary = [l for l in text.splitlines() if "stages" in l or "runs trained" in l or "wrote" in l]
    return [
        f"| `reproduce --jobs 2 --devices {os.environ.get('DEVICES', 'cuda:0,cuda:0')}` (scripts/gpu-jobs.toml) | "
        f"{len(stages)} stages done ({', '.join(done) or 'none'})"
        + (f"; {summary[-1].strip()}" if summary else "")
        + " |"
    ]


def conv_grad_lines(out):
    """Our step with libtorch's convolution gradients (the default) beside burn's generic ones
    (SLR_TCH_CONV_GRAD=burn): milliseconds and the determinism check of each."""
    lines = []
    for model in ("resnet18-cifar", "yolov3-tiny"):
        paths = [read_json(os.path.join(out, f"slr-perf-{model}{tail}.json")) for tail in ("", "-burn-grad")]
        if not all(paths):
            continue
        cells = [
            f"{p['dense_step_ms']:.2f} ms, determinism {p['determinism']['loss_abs_diff']:.1e} / "
            f"{p['determinism']['weight_max_abs_diff']:.1e}"
            for p in paths
        ]
        lines.append(
            f"| {model} step, convolution gradients libtorch's against burn's generic ones "
            f"(SLR_TCH_CONV_GRAD=burn) | {cells[0]}; {cells[1]} |"
        )
    return lines


def main(out):
    with open(os.path.join(out, "versions.txt")) as f:
        print(f.read().strip())
    print()
    print("| part | state | seconds |")
    print("|---|---|---|")
    with open(os.path.join(out, "status.tsv")) as f:
        for line in f:
            name, state, seconds = line.rstrip("\n").split("\t")
            print(f"| {name} | {state} | {seconds} |")
    for model in ("resnet18-cifar", "yolov3-tiny"):
        ours = read_json(os.path.join(out, f"slr-perf-{model}.json"))
        theirs = read_json(os.path.join(out, f"torch-perf-{model}.json"))
        if ours and theirs:
            print()
            print(compare(ours, theirs), end="")
    print()
    print("| check | result |")
    print("|---|---|")
    for line in conv_grad_lines(out) + epoch_lines(out) + jobs_lines(out):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gpu-check-out")
