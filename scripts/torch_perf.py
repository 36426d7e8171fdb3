"""PyTorch eager counterpart of `slr perf`: the same model definition (scripts/torch_models.py),
optimizer (SGD lr 0.01, momentum 0.5, Nesterov, weight decay 5e-4), random batch shape, ADMM/SLR
penalty and a kthvalue-based projection of the same layers, timed the same way (warm-up, then
steps between device synchronisations).

    python3 scripts/torch_perf.py --device cuda --model resnet18-cifar --batch 128 --json t.json
    python3 scripts/torch_perf.py --compare ours.json theirs.json   # side-by-side Markdown
"""

import argparse
import json
import os
import sys
import time
import warnings

# The PyPI torch wheel warns at import when numpy is absent; nothing here needs numpy.
warnings.filterwarnings("ignore", message=".*NumPy.*")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def prunable(kind, model):
    """The layers slr-repro prunes by default (models::default_prunable)."""
    names = []
    for name, p in model.named_parameters():
        if p.dim() != 4:
            continue
        if kind.startswith("resnet") and name.startswith("layer") and "downsample" not in name:
            names.append(name)
        elif kind == "vgg16-cifar" and name != "features.0.weight":
            names.append(name)
    return names


def project(torch, w, ratio):
    """Keep the round((1 - ratio) n) largest magnitudes (ties kept), via kthvalue."""
    flat = w.detach().abs().flatten()
    keep = round((1 - ratio) * flat.numel())
    if keep == 0:
        return torch.zeros_like(w)
    threshold = flat.kthvalue(flat.numel() - keep + 1).values
    return w.detach() * (w.detach().abs() >= threshold)


def measure(kind, device, batch, warmup, steps, ratio, threads=None, seed=1):
    import torch
    from torch_models import build

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def fresh():
        torch.manual_seed(seed)
        return build(kind).to(dev).train()

    gen = torch.Generator().manual_seed(seed)
    side = 224 if kind.endswith("imagenet") else 32
    classes = 1000 if kind.endswith("imagenet") else 10
    images = (torch.rand(batch, 3, side, side, generator=gen) * 2 - 1).to(dev)
    labels = torch.randint(0, classes, (batch,), generator=gen).to(dev)
    ce = torch.nn.CrossEntropyLoss()

    def run(model, count, penalty=None):
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5, nesterov=True, weight_decay=5e-4)
        loss = None
        for _ in range(count):
            opt.zero_grad(set_to_none=True)
            loss = ce(model(images), labels)
            if penalty is not None:
                loss = loss + penalty(model)
            loss.backward()
            opt.step()
        return loss

    def timed(model, penalty=None):
        run(model, warmup, penalty)
        sync()
        start = time.perf_counter()
        run(model, steps, penalty)
        sync()
        return (time.perf_counter() - start) * 1e3 / steps

    dense_ms = timed(fresh())

    model = fresh()
    names = prunable(kind, model)
    params = dict(model.named_parameters())
    z = {n: project(torch, params[n], ratio) for n in names}
    u = {n: torch.zeros_like(params[n]) for n in names}
    rho = 0.1

    def penalty(m):
        p = dict(m.named_parameters())
        return sum(rho / 2 * (p[n] - z[n] + u[n]).pow(2).sum() for n in names)

    admm_ms = timed(model, penalty)

    def admm_update():
        for n in names:
            w = params[n].detach()
            z[n] = project(torch, w + u[n], ratio)
            u[n] = u[n] + w - z[n]

    admm_update()  # warm-up
    sync()
    start = time.perf_counter()
    admm_update()
    sync()
    admm_update_ms = (time.perf_counter() - start) * 1e3

    weights = [params[n] for n in names]
    [project(torch, w, ratio) for w in weights]
    sync()
    start = time.perf_counter()
    [project(torch, w, ratio) for w in weights]
    sync()
    projection_ms = (time.perf_counter() - start) * 1e3

    a, b = fresh(), fresh()
    la, lb = run(a, 3), run(b, 3)
    weight_diff = max(
        (pa - pb).abs().max().item() for pa, pb in zip(a.parameters(), b.parameters())
    )
    return {
        "backend": f"pytorch {torch.__version__} eager ({dev.type}"
        + (f": {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else f", {torch.get_num_threads()} threads")
        + ")",
        "model": kind,
        "batch": batch,
        "steps": steps,
        "dense_step_ms": dense_ms,
        "images_per_s": batch / dense_ms * 1e3,
        "admm_step_ms": admm_ms,
        "admm_update_ms": admm_update_ms,
        "projection_ms": projection_ms,
        "pruned_layers": len(names),
        "pruned_weights": sum(w.numel() for w in weights),
        "determinism": {
            "steps": 3,
            "loss_abs_diff": abs(la.item() - lb.item()),
            "weight_max_abs_diff": weight_diff,
        },
    }


def compare(ours, theirs):
    """Markdown table of slr (ours) against PyTorch (theirs)."""
    def row(label, key, fmt="{:.2f}", better_low=True):
        a, b = ours.get(key), theirs.get(key)
        if a is None or b is None:
            return None
        ratio = b / a if better_low else a / b
        return f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {ratio:.2f} |"

    lines = [
        f"| {ours['model']}, batch {ours['batch']} | slr: {ours['backend']} | {theirs['backend']} | speed ratio (slr / PyTorch) |",
        "|---|---|---|---|",
    ]
    for item in [
        row("dense step (ms)", "dense_step_ms"),
        row("images/s", "images_per_s", "{:.0f}", better_low=False),
        row("ADMM step (ms)", "admm_step_ms"),
        row("ADMM update (ms)", "admm_update_ms"),
        row("projection of pruned layers (ms)", "projection_ms"),
    ]:
        if item:
            lines.append(item)
    o, t = ours["dense_step_ms"], theirs["dense_step_ms"]
    lines.append(
        f"| ADMM step overhead | {100 * (ours['admm_step_ms'] / o - 1):+.1f}% "
        f"| {100 * (theirs['admm_step_ms'] / t - 1):+.1f}% | |"
    )
    if "slr_step_ms" in ours:
        lines.append(
            f"| SLR step overhead / update | {100 * (ours['slr_step_ms'] / o - 1):+.1f}% / "
            f"{ours['slr_update_ms']:.2f} ms | | |"
        )
    check = ours.get("grad_check")
    if check:
        lines.append(
            f"| vs {check['reference']} (batch {check['batch']}) | loss rel. err "
            f"{check['loss_rel_err']:.2e}, max grad rel. err {check['grad_rel_err_max']:.2e} | | |"
        )
    d, e = ours["determinism"], theirs["determinism"]
    lines.append(
        f"| determinism (3 steps twice): loss diff, max weight diff | {d['loss_abs_diff']:.1e}, "
        f"{d['weight_max_abs_diff']:.1e} | {e['loss_abs_diff']:.1e}, {e['weight_max_abs_diff']:.1e} | |"
    )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="resnet18-cifar")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--ratio", type=float, default=0.8)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json")
    parser.add_argument("--compare", nargs=2, metavar=("OURS", "THEIRS"))
    args = parser.parse_args()
    if args.compare:
        ours, theirs = (json.load(open(p)) for p in args.compare)
        print(compare(ours, theirs), end="")
        return
    result = measure(args.model, args.device, args.batch, args.warmup, args.steps, args.ratio, args.threads)
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
