"""The YOLOv3 loss of eriklindernoren/PyTorch-YOLOv3 (commit 1d621c8, pytorchyolo/utils/loss.py:
build_targets + compute_loss), re-derived here in PyTorch on a fixed input, as the fixture
tests/fixtures/yolo_loss.json that `src/train/detection/loss.rs` is checked against.

Two YOLOv3-tiny-like layers (strides 32 and 16 at a 128 input: 4x4 and 8x8 cells, yolov3-tiny's
anchors and masks), 3 classes, 2 images, boxes including two that share a cell and anchor
(the later one sets the objectness target, as index assignment does on the CPU) and one that
matches no anchor. Run: python3 scripts/yolo_loss_reference.py (torch 2.11, CPU).
"""
import json
import math
import sys

import torch

INPUT = 128
CLASSES = 3
ANCHORS = [[10, 14], [23, 27], [37, 58], [81, 82], [135, 169], [344, 319]]
MASKS = [[3, 4, 5], [1, 2, 3]]
GRIDS = [4, 8]
# (image, class, cx, cy, w, h) relative to the input.
TARGETS = [
    [0, 0, 0.30, 0.40, 0.20, 0.30],
    [0, 2, 0.70, 0.65, 0.45, 0.35],
    [1, 1, 0.52, 0.52, 0.25, 0.25],
    [1, 2, 0.53, 0.53, 0.27, 0.24],  # same cell and anchors as the previous box
    [1, 0, 0.10, 0.90, 0.01, 0.01],  # matches no anchor
]
fields = CLASSES + 5


def ciou(p, t, eps=1e-9):
    """CIoU of (x, y, w, h) rows, alpha detached (bbox_iou(..., CIoU=True))."""
    b1x1, b1x2 = p[:, 0] - p[:, 2] / 2, p[:, 0] + p[:, 2] / 2
    b1y1, b1y2 = p[:, 1] - p[:, 3] / 2, p[:, 1] + p[:, 3] / 2
    b2x1, b2x2 = t[:, 0] - t[:, 2] / 2, t[:, 0] + t[:, 2] / 2
    b2y1, b2y2 = t[:, 1] - t[:, 3] / 2, t[:, 1] + t[:, 3] / 2
    inter = (torch.min(b1x2, b2x2) - torch.max(b1x1, b2x1)).clamp(0) * (
        torch.min(b1y2, b2y2) - torch.max(b1y1, b2y1)
    ).clamp(0)
    w1, h1 = b1x2 - b1x1, b1y2 - b1y1 + eps
    w2, h2 = b2x2 - b2x1, b2y2 - b2y1 + eps
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1x2, b2x2) - torch.min(b1x1, b2x1)
    ch = torch.max(b1y2, b2y2) - torch.min(b1y1, b2y1)
    c2 = cw**2 + ch**2 + eps
    rho2 = ((b2x1 + b2x2 - b1x1 - b1x2) ** 2 + (b2y1 + b2y2 - b1y1 - b1y2) ** 2) / 4
    v = (4 / math.pi**2) * torch.pow(torch.atan(w2 / h2) - torch.atan(w1 / h1), 2)
    with torch.no_grad():
        alpha = v / ((1 + eps) - iou + v)
    return iou - (rho2 / c2 + v * alpha)


def loss(outputs):
    bce = torch.nn.BCEWithLogitsLoss()
    targets = torch.tensor(TARGETS, dtype=torch.float32)
    lbox, lobj, lcls = torch.zeros(1), torch.zeros(1), torch.zeros(1)
    for out, g, mask in zip(outputs, GRIDS, MASKS):
        p = out.view(2, 3, fields, g, g).permute(0, 1, 3, 4, 2)
        stride = INPUT // g
        anchors = torch.tensor([ANCHORS[m] for m in mask], dtype=torch.float32) / stride
        tobj = torch.zeros_like(p[..., 0])
        picked, boxes, anchor_wh, classes, cells = [], [], [], [], []
        for a in range(3):  # anchor-major, as targets.repeat(na, 1, 1)[j]
            for img, cls, x, y, w, h in targets.tolist():
                t = torch.tensor([x * g, y * g, w * g, h * g], dtype=torch.float32)
                r = t[2:4] / anchors[a]
                if torch.max(r, 1.0 / r).max() >= 4:
                    continue
                # The reference clamps the cell in place before taking the offsets.
                gi, gj = min(max(int(t[0]), 0), g - 1), min(max(int(t[1]), 0), g - 1)
                cell = (int(img), a, gj, gi)
                cells.append(cell)
                picked.append(p[cell])
                boxes.append(torch.stack([t[0] - gi, t[1] - gj, t[2], t[3]]))
                anchor_wh.append(anchors[a])
                classes.append(int(cls))
        if picked:
            ps = torch.stack(picked)
            pbox = torch.cat((ps[:, :2].sigmoid(), torch.exp(ps[:, 2:4]) * torch.stack(anchor_wh)), 1)
            iou = ciou(pbox, torch.stack(boxes))
            lbox = lbox + (1.0 - iou).mean()
            for k, cell in enumerate(cells):  # in order: the last one of a cell stays
                tobj[cell] = iou[k].detach().clamp(0)
            onehot = torch.zeros(len(cells), CLASSES)
            onehot[range(len(cells)), classes] = 1
            lcls = lcls + bce(ps[:, 5:], onehot)
        lobj = lobj + bce(p[..., 4], tobj)
    return lbox * 0.05 + lobj * 1.0 + lcls * 0.5, (lbox, lobj, lcls)


def main():
    torch.manual_seed(2021)
    outputs = [torch.randn(2, 3 * fields, g, g) * 0.7 for g in GRIDS]
    leaves = [o.clone().requires_grad_(True) for o in outputs]
    total, (lbox, lobj, lcls) = loss(leaves)
    total.backward()
    fixture = {
        "source": "scripts/yolo_loss_reference.py (torch %s)" % torch.__version__,
        "input": INPUT,
        "classes": CLASSES,
        "grids": GRIDS,
        "targets": TARGETS,
        "outputs": [[round(v, 6) for v in o.flatten().tolist()] for o in outputs],
        "lbox": lbox.item(),
        "lobj": lobj.item(),
        "lcls": lcls.item(),
        "loss": total.item(),
        "grad_sum_abs": [l.grad.abs().sum().item() for l in leaves],
    }
    # The outputs are rounded to 6 decimals in the file: recompute on the rounded values.
    rounded = [torch.tensor(o, dtype=torch.float32).view(2, 3 * fields, g, g) for o, g in zip(fixture["outputs"], GRIDS)]
    leaves = [o.clone().requires_grad_(True) for o in rounded]
    total, (lbox, lobj, lcls) = loss(leaves)
    total.backward()
    fixture.update(
        lbox=lbox.item(), lobj=lobj.item(), lcls=lcls.item(), loss=total.item(),
        grad_sum_abs=[l.grad.abs().sum().item() for l in leaves],
    )
    json.dump(fixture, sys.stdout)


if __name__ == "__main__":
    main()
