"""PyTorch eager counterpart of `slr perf`: the same model definition (scripts/torch_models.py;
YOLOv3 and YOLOv3-tiny from scripts/yolo_reference.py), optimizer (SGD lr 0.01, momentum 0.5,
Nesterov, weight decay 5e-4), random batch shape, loss (cross-entropy; for YOLO the vectorised
PyTorch-YOLOv3 loss on the same boxes as src/perf/batches.rs; for UFLD its four-term loss from
scripts/fidelity_trace_ufld.py), ADMM penalty and a
kthvalue-based projection of the same layers, timed the same way (warm-up, then steps between
device synchronisations).

    python3 scripts/torch_perf.py --device cuda --model resnet18-cifar --batch 128 --json t.json
    python3 scripts/torch_perf.py --compare ours.json theirs.json   # side-by-side Markdown
"""

import argparse
import json
import math
import os
import sys
import time
import warnings

# The PyPI torch wheel warns at import when numpy is absent; nothing here needs numpy.
warnings.filterwarnings("ignore", message=".*NumPy.*")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


# Darknet's anchors (input pixels) and each [yolo] layer's mask, coarsest first
# (src/catalog/darknet.rs: yolov3-tiny.cfg's second mask is 1,2,3, as released).
YOLO_ANCHORS = {
    "yolov3": ([[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119], [116, 90], [156, 198], [373, 326]],
               [[6, 7, 8], [3, 4, 5], [0, 1, 2]]),
    "yolov3-tiny": ([[10, 14], [23, 27], [37, 58], [81, 82], [135, 169], [344, 319]], [[3, 4, 5], [1, 2, 3]]),
}
YOLO_INPUT, YOLO_CLASSES, BOXES_PER_IMAGE = 416, 80, 4


def detection_targets(torch, batch, classes):
    """src/perf/batches.rs `detection_targets`: rows (image, class, cx, cy, w, h)."""
    def spread(step, j):
        x = step * (j + 1)
        return x - math.floor(x)

    rows = []
    for j in range(batch * BOXES_PER_IMAGE):
        rows.append([j // BOXES_PER_IMAGE, j % classes,
                     0.15 + 0.7 * spread(0.6180339887, j), 0.15 + 0.7 * spread(0.7548776662, j),
                     0.04 + 0.3 * spread(0.5698402910, j), 0.04 + 0.3 * spread(0.4301597090, j)])
    return torch.tensor(rows, dtype=torch.float32)


def yolo_loss(torch, outputs, targets, kind):
    """PyTorch-YOLOv3's build_targets + compute_loss (commit 1d621c8), vectorised as there:
    the loss scripts/yolo_loss_reference.py spells out per box and src/train/detection/loss.rs
    is checked against."""
    from yolo_loss_reference import ciou

    anchors, masks = YOLO_ANCHORS[kind]
    bce = torch.nn.BCEWithLogitsLoss()
    dev = outputs[0].device
    targets = targets.to(dev)
    lbox, lobj, lcls = (torch.zeros(1, device=dev) for _ in range(3))
    for out, mask in zip(outputs, masks):
        b, _, gh, gw = out.shape
        p = out.view(b, 3, YOLO_CLASSES + 5, gh, gw).permute(0, 1, 3, 4, 2)
        anchor_wh = torch.tensor([anchors[m] for m in mask], dtype=torch.float32, device=dev) / (YOLO_INPUT / gw)
        t = targets[:, 2:6] * torch.tensor([gw, gh, gw, gh], dtype=torch.float32, device=dev)
        r = t[None, :, 2:4] / anchor_wh[:, None]
        a, k = (torch.max(r, 1 / r).max(2).values < 4).nonzero(as_tuple=True)  # anchor-major
        t, image, cls = t[k], targets[k, 0].long(), targets[k, 1].long()
        gi, gj = t[:, 0].long().clamp(0, gw - 1), t[:, 1].long().clamp(0, gh - 1)
        tobj = torch.zeros_like(p[..., 0])
        if len(k):
            ps = p[image, a, gj, gi]
            pbox = torch.cat((ps[:, :2].sigmoid(), torch.exp(ps[:, 2:4]) * anchor_wh[a]), 1)
            tbox = torch.cat((t[:, :2] - torch.stack((gi, gj), 1), t[:, 2:4]), 1)
            iou = ciou(pbox, tbox)
            lbox = lbox + (1.0 - iou).mean()
            tobj[image, a, gj, gi] = iou.detach().clamp(0).type(tobj.dtype)
            onehot = torch.zeros(len(k), YOLO_CLASSES, device=dev)
            onehot[range(len(k)), cls] = 1
            lcls = lcls + bce(ps[:, 5:], onehot)
        lobj = lobj + bce(p[..., 4], tobj)
    return (lbox * 0.05 + lobj + lcls * 0.5).squeeze()


def prunable(kind, model):
    """The layers slr-repro prunes by default (models::default_prunable)."""
    if kind in YOLO_ANCHORS:
        # Every batch-normalised convolution: all but the detection outputs.
        return [f"layers.{i}.conv.weight" for i, m in enumerate(model.layers) if getattr(m, "bn", None) is not None]
    names = []
    for name, p in model.named_parameters():
        if p.dim() != 4:
            continue
        if kind == "ufld":
            # The backbone's stages, as for the ResNets (models::default_prunable).
            if name.startswith("model.layer") and "downsample" not in name:
                names.append(name)
        elif kind.startswith("resnet") and name.startswith("layer") and "downsample" not in name:
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

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    gen = torch.Generator().manual_seed(seed)
    if kind in YOLO_ANCHORS:
        import yolo_reference

        spec = getattr(yolo_reference, kind.replace("-", "_"))(YOLO_CLASSES)

        def build(_):
            return yolo_reference.Darknet(spec)

        images = torch.rand(batch, 3, YOLO_INPUT, YOLO_INPUT, generator=gen).to(dev)
        targets = detection_targets(torch, batch, YOLO_CLASSES)

        def task_loss(model):
            return yolo_loss(torch, model(images), targets, kind)
    elif kind == "ufld":
        # UFLD at TuSimple's 288x800 with the reference's widths (scripts/fidelity_trace_ufld.py:
        # parsingNet with backbone '18' and its auxiliary segmentation, and calc_loss), random
        # row-anchor cells (100 griding cells + "no lane") and segmentation classes as
        # src/perf/batches.rs draws them.
        import fidelity_trace_ufld as ufld

        def build(_):
            return ufld.build(width=64, hidden=2048, griding=100, size=(288, 800))

        images = (torch.rand(batch, 3, 288, 800, generator=gen) * 2 - 1).to(dev)
        cells = torch.randint(0, 101, (batch, len(ufld.ROW_ANCHORS), ufld.LANES), generator=gen).to(dev)
        segmentation = torch.randint(0, ufld.LANES + 1, (batch, 36, 100), generator=gen).to(dev)

        def task_loss(model):
            cls_out, seg_out = model(images)
            return ufld.ufld_loss(cls_out, cells, seg_out, segmentation)[0]
    else:
        from torch_models import build

        side = 224 if kind.endswith("imagenet") else 32
        classes = 1000 if kind.endswith("imagenet") else 10
        images = (torch.rand(batch, 3, side, side, generator=gen) * 2 - 1).to(dev)
        labels = torch.randint(0, classes, (batch,), generator=gen).to(dev)
        ce = torch.nn.CrossEntropyLoss()

        def task_loss(model):
            return ce(model(images), labels)

    def fresh():
        torch.manual_seed(seed)
        return build(kind).to(dev).train()

    def run(model, count, penalty=None):
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5, nesterov=True, weight_decay=5e-4)
        loss = None
        for _ in range(count):
            opt.zero_grad(set_to_none=True)
            loss = task_loss(model)
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
    ours, theirs = ({**m, "steps_per_s": 1e3 / m["dense_step_ms"]} for m in (ours, theirs))

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
        row("training steps/s", "steps_per_s", "{:.1f}", better_low=False),
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
