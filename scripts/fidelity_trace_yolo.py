"""Step-for-step reference trace of YOLOv3-tiny under dense training, ADMM and SLR, for a replay
through our detection task, training loop, pruners, hard prune and masked retraining (the
YOLO counterpart of scripts/fidelity_trace.py, whose schema it extends; reports/fidelity.md).

The model, its initialisation, its loss and its inputs mirror eriklindernoren/PyTorch-YOLOv3 at
commit 1d621c8 (cited below as models.py, loss.py, utils.py, datasets.py, transforms.py,
train.py, cfg = config/yolov3-tiny.cfg), read, not copied: every ingredient names the file and
line it follows. The ADMM / SLR loop is the SLR authors' (Zhoushanglin100/SLR-ADMM-cifar10 at
8c1de3e, slr_pruning/): `fidelity_trace.Admm` itself, imported, with the YOLO loss in place of
the cross-entropy. Run with PyPI's torch (`just torch-venv`):

    .venv-torch/bin/python scripts/fidelity_trace_yolo.py [--dtype float32|float64] [--out DIR]
        [--reference PYTORCH_YOLOV3_CHECKOUT]   # first checks the mirror against the reference

What is traced (family `yolov3-tiny`):

- the model: yolov3-tiny.cfg as create_modules builds it (models.py 16-112) and Darknet.forward
  runs it (models.py 205-223), 80 classes, every `[convolutional]`'s `filters` divided by
  WIDTH_DIVISOR (16) except the two linear 1x1 convolutions before each `[yolo]` layer, which
  keep 3 (5 + 80) = 255 (the fixtures stay under 1 MB; the code path is the paper's);
- the initial weights: torch.manual_seed(1), the model built (PyTorch's default Conv2d
  initialisation draws first, as in models.py 52-62), then model.apply(weights_init_normal)
  (models.py 334, utils.py 55-61: convolution weights N(0, 0.02), BatchNorm gamma N(1, 0.02),
  beta 0; the two output convolutions' biases keep PyTorch's default); saved as
  `yolov3-tiny.pt` in OUR names (`layers.<cfg index>.conv.weight` / `.conv.bias`,
  `layers.<i>.bn.weight` / `.bias` / `.running_mean` / `.running_var` /
  `.num_batches_tracked`: PyTorch's leaf names under our module paths, as the CIFAR `.pt` files
  keep them; burn's PyTorch adapter reads BatchNorm weight/bias as gamma/beta);
- the data: 8 generated 128x128 PNGs (smooth backgrounds, one to three shapes of the
  synthetic-coco classes: square, disc, triangle, filled with colour planes, not flat colours;
  integer-pixel boxes, so every relative coordinate is a dyadic fraction, exact in float32)
  written in synthetic-coco's on-disk layout
  (`synthetic-coco/{annotations/instances_train.json, annotations/instances_val.json, train/<id>.png,
  val -> train}`), the same images the training and the test set, batches of 4 in id order.
  Images are square and already the input size, so PadSquare and the nearest-neighbour resize
  (transforms.py 80-86 and 104-111, datasets.py 28-30 and 135) are the identity in both
  pipelines: the input is ToTensor's pixels / 255 (transforms.py 96); the targets are
  DEFAULT_TRANSFORMS' (transforms.py 114-119: absolute, padded, relative again, float32) with
  collate_fn's image index (datasets.py 137-140): `[image, class, cx, cy, w, h]`, recorded per
  batch in the trace. No augmentation (the spec's `data.augment = false`; train.py 48 always
  applies DefaultAug);
- the loss: compute_loss and build_targets (loss.py 58-182) with bbox_iou's CIoU (loss.py
  11-55): total = 0.05 box + 1.0 obj + 0.5 cls, recorded per step with its (weighted) parts;
  build_targets runs in float32 (the anchors and targets are float32 in the reference) whatever
  the model's precision, as our `loss::assign` does;
- `dense`: experiments/table3.toml's [defaults.pretrain] (the paper profile): SGD lr 0.01,
  momentum 0.9, weight decay 5e-4, no Nesterov, a constant rate (the spec declares no schedule,
  no warm-up); `dense-adam`: [profile.smoke.defaults.pretrain]: torch.optim.Adam lr 1e-3,
  betas (0.9, 0.999), eps 1e-8, weight decay 5e-4 (merged from [defaults.pretrain], as the
  smoke runs' spec.toml shows), constant. Neither is train.py's own loop (train.py 131-194:
  Adam at the cfg's lr 1e-4 and decay 5e-4, lr scaled by batches_done / burn_in for the first
  1000 batches, steps at 400k/450k, gradients accumulated over `subdivisions` = 2 batches, which
  the trace does not run: our loop has no burn-in and no accumulation);
- `admm` and `slr`: [defaults.train]: SGD lr 0.01, momentum 0.5, Nesterov, weight decay 5e-4,
  the authors' cosine (CosineAnnealingLR(T_max = epochs x batches, eta_min 4e-8) stepped before
  each epoch, main.py 311/402); 3 epochs, Z/U (and Λ) updates at batch 0 of epochs 2 and 3,
  ratio 0.8 on the 11 BatchNorm convolutions (our `default_prunable`: every convolution except
  the two outputs), the authors' percentile rule (table3.toml's rows run the `exact` rule, the
  spec default: on the 27 weights of layer 0 it keeps 5, the percentile 6); then hard prune; then, from the saved trained
  weights (`<method>.trained.bin`), hard prune again and 2 epochs of masked retraining with a
  fresh optimizer and table3.toml's [defaults.retrain] schedule (reference-cosine over the
  retraining's own 2 epochs: table3.toml sets no `period_epochs`).

Precision: float64 (the initial weights drawn and saved in float32, as for VGG-16 and
ResNet-50): the same PyTorch code run in float32 and in float64 parts at the fourth step of ADMM
and SLR (per-layer norms 1.7e-3 and 3.4e-3 apart, one layer's mask different at the second
update and at hard pruning, BatchNorm statistics 4e-2 apart by the end of retraining), far
beyond the replay's tolerances: the mark of decisions taken within float32's rounding (the
closest leaky-ReLU input of a float32 step is 2e-8 of its layer's largest, a max-pool
window's two largest values 3e-9 apart, both within float32's 6e-8). In the float64 training
steps the closest leaky-ReLU input is 3e-8 of its layer's largest and the closest two values of
a max-pool window 4e-10, far above float64's rounding. The exact ties of a max-pool window
that remain are harmless: two padding zeros of the stride-1 max-pool (their gradient is
dropped), and in masked retraining only, where a convolution left with a few weights gives
bit-equal outputs wherever those weights see equal inputs (whichever tied position takes the
gradient, the kept weights receive it through equal inputs; the masked ones receive none).

The trace (`yolov3-tiny.json`) has fidelity_trace.py's schema with these differences: `ce` is
the task loss (YOLO's total) and each step adds `parts` {box, obj, cls} (weighted, as
compute_loss's loss_components); `test_loss` {total, box, obj, cls} takes the place of
`test_acc` (after each epoch and in `hard_prune`); every run names its `optimizer` (with
`kind`: sgd or adam, and Adam's beta1, beta2, eps) or inherits the top-level one, and its
`schedule` (`constant`, or `reference-cosine` with an explicit `period_epochs`); new top-level
keys: `width_divisor`, `input`, `data_root` (under tests/fixtures/fidelity), `anchors` (per
`[yolo]` layer, coarsest first), `targets` (per training batch, the reference's `[image, class,
cx, cy, w, h]`), `count_rule`, `initial_test_loss` and `initial_outputs` (the initial weights'
training-mode maps of batch 0: shape in our `[batch, 3 (5 + classes), h, w]`, sum and sum of
squares), to tell a forward difference from a loss difference.

Instead of a test accuracy the trace records a test loss after each epoch and after hard
pruning: compute_loss on the raw maps of all 8 images in one batch with the model in eval mode
(BatchNorm on its running statistics). The reference's eval-mode YOLOLayer decodes its maps
(models.py 166-177), so this bypasses that decoding, as `Net::forward_detection` on
`net.valid()` gives our raw maps. mAP is not traced (after a few steps from scratch it says
nothing, and the reference's own AP, utils.py 104-184, is not the COCO evaluator ours ports).
"""

import argparse
import json
import math
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The SLR authors' ADMM / SLR state (admm.py 22-97, z_u_update 472-654, penalty 915-928), their
# percentile projection (admm.py 156-166, masks with their digests), hard_prune (admm.py 339-363).
from fidelity_trace import ETA_MIN, RAW, Admm, hard_prune, norm, weight_pruning  # noqa: E402

warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FAMILY = "yolov3-tiny"
WIDTH_DIVISOR = 16
CLASSES = 80
INPUT = 128
BATCH = 4
DENSE_EPOCHS, TRAIN_EPOCHS, RETRAIN_EPOCHS = 2, 3, 2
RATIO = 0.8
# The BatchNorms whose running statistics every step records (ours; layer 4: 4 channels early
# in the backbone, layer 21: 16 channels after the route that concatenates layer 8).
BN_TRACED = [4, 21]

# config/yolov3-tiny.cfg, layer by layer (cfg lines 25-206): (type, options).
ANCHORS = [(10, 14), (23, 27), (37, 58), (81, 82), (135, 169), (344, 319)]  # cfg 151, 200


def conv(filters, size, bn=True):
    return ("convolutional", {"batch_normalize": int(bn), "filters": filters, "size": size,
                              "stride": 1, "activation": "leaky" if bn else "linear"})


TINY_CFG = [
    conv(16, 3), ("maxpool", {"size": 2, "stride": 2}),  # 0-1: cfg 26-51
    conv(32, 3), ("maxpool", {"size": 2, "stride": 2}),  # 2-3
    conv(64, 3), ("maxpool", {"size": 2, "stride": 2}),  # 4-5
    conv(128, 3), ("maxpool", {"size": 2, "stride": 2}),  # 6-7
    conv(256, 3), ("maxpool", {"size": 2, "stride": 2}),  # 8-9
    conv(512, 3), ("maxpool", {"size": 2, "stride": 1}),  # 10-11: cfg 95-107
    conv(1024, 3),  # 12
    conv(256, 1), conv(512, 3),  # 13-14: cfg 120-136
    conv(3 * (CLASSES + 5), 1, bn=False),  # 15: cfg 139-144
    ("yolo", {"mask": [3, 4, 5]}),  # 16: cfg 149-157
    ("route", {"layers": [-4]}),  # 17: cfg 160-161
    conv(128, 1), ("upsample", {"stride": 2}),  # 18-19
    ("route", {"layers": [-1, 8]}),  # 20: cfg 177-178
    conv(256, 3),  # 21
    conv(3 * (CLASSES + 5), 1, bn=False),  # 22: cfg 190-195
    ("yolo", {"mask": [1, 2, 3]}),  # 23: cfg 198-206
]


def narrowed(cfg, divisor):
    """The cfg with every [convolutional]'s filters divided by `divisor`, except the linear
    1x1 convolutions right before a [yolo] layer (3 anchors x (5 + classes))."""
    out = []
    for i, (kind, options) in enumerate(cfg):
        options = dict(options)
        if kind == "convolutional" and not (i + 1 < len(cfg) and cfg[i + 1][0] == "yolo"):
            assert options["filters"] % divisor == 0
            options["filters"] //= divisor
        out.append((kind, options))
    return out


class Upsample(nn.Module):
    """models.py 115-125."""

    def __init__(self, scale_factor, mode="nearest"):
        super().__init__()
        self.scale_factor, self.mode = scale_factor, mode

    def forward(self, x):
        return F.interpolate(x, scale_factor=self.scale_factor, mode=self.mode)


class YOLOLayer(nn.Module):
    """models.py 128-179. Returns the training-mode view of the map in either mode (the
    eval-mode decoding, 166-177, is not traced: the test loss needs the raw maps)."""

    def __init__(self, anchors, num_classes):
        super().__init__()
        self.num_anchors = len(anchors)
        self.no = num_classes + 5
        anchors = torch.tensor(anchors).float().view(-1, 2)
        self.register_buffer("anchors", anchors)
        self.register_buffer("anchor_grid", anchors.clone().view(1, -1, 1, 1, 2))
        self.stride = None

    def forward(self, x, img_size):
        stride = img_size // x.size(2)
        self.stride = stride
        bs, _, ny, nx = x.shape
        return x.view(bs, self.num_anchors, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()


def create_modules(cfg):
    """models.py 16-112 for the layer types yolov3-tiny.cfg uses."""
    output_filters = [3]
    module_list = nn.ModuleList()
    for i, (kind, d) in enumerate(cfg):
        modules = nn.Sequential()
        if kind == "convolutional":  # models.py 47-73
            bn, filters, size = d["batch_normalize"], d["filters"], d["size"]
            modules.add_module(
                f"conv_{i}",
                nn.Conv2d(output_filters[-1], filters, size, stride=d["stride"],
                          padding=(size - 1) // 2, bias=not bn),
            )
            if bn:
                modules.add_module(f"batch_norm_{i}", nn.BatchNorm2d(filters, momentum=0.1, eps=1e-5))
            if d["activation"] == "leaky":
                modules.add_module(f"leaky_{i}", nn.LeakyReLU(0.1))
        elif kind == "maxpool":  # models.py 75-82: ZERO padding right and bottom at stride 1
            size, stride = d["size"], d["stride"]
            if size == 2 and stride == 1:
                modules.add_module(f"_debug_padding_{i}", nn.ZeroPad2d((0, 1, 0, 1)))
            modules.add_module(f"maxpool_{i}", nn.MaxPool2d(size, stride, padding=(size - 1) // 2))
        elif kind == "upsample":  # models.py 84-86
            modules.add_module(f"upsample_{i}", Upsample(d["stride"], "nearest"))
        elif kind == "route":  # models.py 88-91
            filters = sum(output_filters[1:][j] for j in d["layers"])
            modules.add_module(f"route_{i}", nn.Sequential())
        elif kind == "yolo":  # models.py 97-107
            modules.add_module(f"yolo_{i}", YOLOLayer([ANCHORS[j] for j in d["mask"]], CLASSES))
        module_list.append(modules)
        output_filters.append(filters)
    return module_list


class Darknet(nn.Module):
    """models.py 193-223 (training-mode outputs in both modes, see YOLOLayer)."""

    def __init__(self, cfg):
        super().__init__()
        self.module_defs = cfg
        self.module_list = create_modules(cfg)
        self.yolo_layers = [m[0] for m in self.module_list if isinstance(m[0], YOLOLayer)]

    def forward(self, x):
        img_size = x.size(2)
        layer_outputs, yolo_outputs = [], []
        for (kind, d), module in zip(self.module_defs, self.module_list):
            if kind in ("convolutional", "upsample", "maxpool"):
                x = module(x)
            elif kind == "route":
                x = torch.cat([layer_outputs[j] for j in d["layers"]], 1)
            elif kind == "yolo":
                x = module[0](x, img_size)
                yolo_outputs.append(x)
            layer_outputs.append(x)
        return yolo_outputs


def weights_init_normal(m):
    """utils.py 55-61, applied by model.apply (models.py 334)."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm2d") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0.0)


def bbox_iou_ciou(box1, box2, eps=1e-9):
    """loss.py 11-55 with x1y1x2y2=False, CIoU=True: box1 is 4 x n, box2 n x 4."""
    box2 = box2.T
    b1_x1, b1_x2 = box1[0] - box1[2] / 2, box1[0] + box1[2] / 2
    b1_y1, b1_y2 = box1[1] - box1[3] / 2, box1[1] + box1[3] / 2
    b2_x1, b2_x2 = box2[0] - box2[2] / 2, box2[0] + box2[2] / 2
    b2_y1, b2_y2 = box2[1] - box2[3] / 2, box2[1] + box2[3] / 2
    inter = (torch.min(b1_x2, b2_x2) - torch.max(b1_x1, b2_x1)).clamp(0) * (
        torch.min(b1_y2, b2_y2) - torch.max(b1_y1, b2_y1)
    ).clamp(0)
    w1, h1 = b1_x2 - b1_x1, b1_y2 - b1_y1 + eps
    w2, h2 = b2_x2 - b2_x1, b2_y2 - b2_y1 + eps
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1_x2, b2_x2) - torch.min(b1_x1, b2_x1)
    ch = torch.max(b1_y2, b2_y2) - torch.min(b1_y1, b2_y1)
    c2 = cw**2 + ch**2 + eps
    rho2 = ((b2_x1 + b2_x2 - b1_x1 - b1_x2) ** 2 + (b2_y1 + b2_y2 - b1_y1 - b1_y2) ** 2) / 4
    v = (4 / math.pi**2) * torch.pow(torch.atan(w2 / h2) - torch.atan(w1 / h1), 2)
    with torch.no_grad():
        alpha = v / ((1 + eps) - iou + v)
    return iou - (rho2 / c2 + v * alpha)


def build_targets(p, targets, model):
    """loss.py 128-182, in float32 (the reference's targets and anchor buffers are float32)."""
    na, nt = 3, targets.shape[0]
    tcls, tbox, indices, anch = [], [], [], []
    gain = torch.ones(7, dtype=torch.float32)
    ai = torch.arange(na, dtype=torch.float32).view(na, 1).repeat(1, nt)
    targets = torch.cat((targets.float().repeat(na, 1, 1), ai[:, :, None]), 2)
    for i, yolo_layer in enumerate(model.yolo_layers):
        anchors = yolo_layer.anchors.float() / yolo_layer.stride
        gain[2:6] = torch.tensor(p[i].shape, dtype=torch.float32)[[3, 2, 3, 2]]
        t = targets * gain
        if nt:
            r = t[:, :, 4:6] / anchors[:, None]
            j = torch.max(r, 1.0 / r).max(2)[0] < 4
            t = t[j]
        else:
            t = targets[0]
        b, c = t[:, :2].long().T
        gxy, gwh = t[:, 2:4], t[:, 4:6]
        gij = gxy.long()
        gi, gj = gij.T
        a = t[:, 6].long()
        indices.append((b, a, gj.clamp_(0, int(gain[3]) - 1), gi.clamp_(0, int(gain[2]) - 1)))
        tbox.append(torch.cat((gxy - gij, gwh), 1))
        anch.append(anchors[a])
        tcls.append(c)
    return tcls, tbox, indices, anch


def compute_loss(predictions, targets, model):
    """loss.py 58-125: the total and its weighted parts (box, obj, cls)."""
    dtype = predictions[0].dtype
    lcls, lbox, lobj = (torch.zeros(1, dtype=dtype) for _ in range(3))
    tcls, tbox, indices, anchors = build_targets(predictions, targets, model)
    bce_cls = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0], dtype=dtype))
    bce_obj = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0], dtype=dtype))
    for layer_index, layer_predictions in enumerate(predictions):
        b, anchor, grid_j, grid_i = indices[layer_index]
        tobj = torch.zeros_like(layer_predictions[..., 0])
        num_targets = b.shape[0]
        if num_targets:
            # Every (image, anchor, cell) once: where two pairs share one, index assignment's
            # order decides the objectness target (undefined on CUDA); the data avoid it.
            cells = set(zip(b.tolist(), anchor.tolist(), grid_j.tolist(), grid_i.tolist()))
            assert len(cells) == num_targets, "two targets share a cell and anchor"
            ps = layer_predictions[b, anchor, grid_j, grid_i]
            pxy = ps[:, :2].sigmoid()
            pwh = torch.exp(ps[:, 2:4]) * anchors[layer_index]
            pbox = torch.cat((pxy, pwh), 1)
            iou = bbox_iou_ciou(pbox.T, tbox[layer_index])
            lbox += (1.0 - iou).mean()
            tobj[b, anchor, grid_j, grid_i] = iou.detach().clamp(0).type(tobj.dtype)
            if ps.size(1) - 5 > 1:
                t = torch.zeros_like(ps[:, 5:])
                t[range(num_targets), tcls[layer_index]] = 1
                lcls += bce_cls(ps[:, 5:], t)
        lobj += bce_obj(layer_predictions[..., 4], tobj)
    lbox *= 0.05
    lobj *= 1.0
    lcls *= 0.5
    parts = {"box": float(lbox.detach()), "obj": float(lobj.detach()), "cls": float(lcls.detach())}
    return lbox + lobj + lcls, parts


# ---------------------------------------------------------------------------------------------
# Data: 8 images in synthetic-coco's layout (src/data/synthetic_coco.rs: shapes, COCO json).

SHAPES = ["square", "disc", "triangle"]  # category ids 1, 2, 3 -> classes 0, 1, 2
# Per image: background (top-left colour, bottom-right colour, stripe period) and shapes
# (class, x, y, side, colour): chosen so that no two targets share a cell and anchor, no box is
# within 1% of build_targets' ratio bound of 4, and no centre lies on a cell boundary (checked).
SCENES = [
    (((88, 111, 142), (124, 147, 165), 37.0), [(0, 10, 14, 40, (198, 81, 67)), (1, 70, 60, 50, (212, 191, 74))]),
    (((138, 124, 97), (111, 133, 115), 53.0), [(2, 20, 70, 36, (61, 61, 177)), (0, 76, 12, 26, (205, 205, 205))]),
    (((102, 102, 102), (147, 138, 129), 41.0), [(1, 30, 30, 64, (177, 67, 150))]),
    (((79, 124, 111), (160, 160, 124), 29.0), [(0, 8, 80, 22, (212, 122, 54)), (1, 56, 16, 30, (54, 54, 54)), (2, 88, 84, 34, (163, 61, 61))]),
    (((151, 160, 174), (97, 106, 124), 47.0), [(2, 40, 36, 56, (212, 212, 81))]),
    (((120, 97, 88), (97, 120, 142), 33.0), [(1, 12, 12, 28, (81, 191, 102)), (0, 64, 64, 58, (205, 177, 191))]),
    (((111, 142, 111), (160, 120, 106), 59.0), [(0, 44, 8, 34, (54, 67, 122)), (2, 6, 66, 46, (212, 212, 212)), (1, 84, 70, 38, (136, 54, 177))]),
    (((160, 147, 124), (115, 97, 133), 43.0), [(1, 70, 27, 44, (54, 150, 177)), (0, 18, 86, 30, (102, 61, 47))]),
]


def covers(cls, x, y, size, px, py):
    """src/data/synthetic_coco.rs Shape::covers: the pixel centre inside the shape."""
    if px < x or py < y or px >= x + size or py >= y + size:
        return False
    s, u, v = float(size), px - x + 0.5, py - y + 0.5
    if cls == 0:
        return True
    if cls == 1:
        return (u - s / 2) ** 2 + (v - s / 2) ** 2 <= (s / 2) ** 2
    return abs(u - s / 2) <= v / 2


# Every fill is a plane in each channel (slopes per pixel below), so that no two nearby
# patches are equal: in a uniform region two positions of a max-pool window hold values equal
# up to rounding, which two implementations may order differently.
FILL_SLOPES = ((0.71, -0.43, 0.37), (0.29, 0.61, -0.53))


def render(scene):
    """The image (uint8 HxWx3) and its boxes [(class, [x, y, w, h])] (the painted extent)."""
    (c0, c1, period), shapes = scene
    yy, xx = np.mgrid[0:INPUT, 0:INPUT].astype(np.float64)
    t = (xx + yy) / (2 * (INPUT - 1))
    stripes = 12.0 * np.sin((0.8 * xx + 0.6 * yy) * 2 * np.pi / period)
    # Half the fill's planes across the background too: without them a (1, -1) shift along a
    # flat stretch of the stripes repeats a patch exactly.
    plane = [0.5 * (FILL_SLOPES[0][k] * (xx - INPUT / 2) + FILL_SLOPES[1][k] * (yy - INPUT / 2)) for k in range(3)]
    img = np.stack([c0[k] + (c1[k] - c0[k]) * t + stripes + plane[k] for k in range(3)], -1)
    boxes = []
    for cls, x, y, size, colour in shapes:
        painted = np.array([[covers(cls, x, y, size, px, py) for px in range(INPUT)] for py in range(INPUT)])
        centre = (x + size / 2, y + size / 2)
        fill = [colour[k] + FILL_SLOPES[0][k] * (xx - centre[0]) + FILL_SLOPES[1][k] * (yy - centre[1]) for k in range(3)]
        img[painted] = np.stack(fill, -1)[painted]
        rows, cols = np.nonzero(painted)
        x1, y1, x2, y2 = cols.min(), rows.min(), cols.max() + 1, rows.max() + 1
        boxes.append((cls, [int(x1), int(y1), int(x2 - x1), int(y2 - y1)]))
    assert img.min() >= 0 and img.max() <= 255
    return img.round().astype(np.uint8), boxes


def relative(boxes, image):
    """DEFAULT_TRANSFORMS' targets (transforms.py 114-119) of a square image of the input size:
    `[image, class, cx, cy, w, h]` relative, float32 (ToTensor, transforms.py 98-99; the
    image index set by collate_fn, datasets.py 137-139)."""
    return [[image, cls, (x + w / 2) / INPUT, (y + h / 2) / INPUT, w / INPUT, h / INPUT] for cls, (x, y, w, h) in boxes]


def check_targets(targets):
    """No pair sharing an (image, anchor, cell), no ratio within 1% of 4, no centre on a cell
    boundary, at both grids (4x4 and 8x8 at a 128 input)."""
    for grid, mask in [(INPUT // 32, [3, 4, 5]), (INPUT // 16, [1, 2, 3])]:
        stride = INPUT // grid
        seen = set()
        for image, _, cx, cy, w, h in targets:
            gx, gy = cx * grid, cy * grid
            assert gx != int(gx) and gy != int(gy), f"centre on a cell boundary: {cx, cy}"
            for a, k in enumerate(mask):
                aw, ah = ANCHORS[k][0] / stride, ANCHORS[k][1] / stride
                r = max(w * grid / aw, aw / (w * grid), h * grid / ah, ah / (h * grid))
                assert abs(r - 4) > 0.04, f"ratio {r} at the bound"
                if r < 4:
                    cell = (image, a, int(gy), int(gx))
                    assert cell not in seen, f"shared cell {cell}"
                    seen.add(cell)


def write_data(root):
    """Writes the images and both instances files (the same images: `val` links to `train`);
    returns the pixels [8, 3, 128, 128] uint8 and every image's boxes."""
    from PIL import Image

    os.makedirs(os.path.join(root, "train"), exist_ok=True)
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    images, annotations, pixels, all_boxes = [], [], [], []
    for i, scene in enumerate(SCENES):
        img, boxes = render(scene)
        Image.fromarray(img, "RGB").save(os.path.join(root, "train", f"{i}.png"), optimize=True)
        images.append({"id": i, "file_name": f"{i}.png", "width": INPUT, "height": INPUT})
        for cls, bbox in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": cls + 1,
                                "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": 0})
        pixels.append(img)
        all_boxes.append(boxes)
    categories = [{"id": k + 1, "name": n, "supercategory": "shape"} for k, n in enumerate(SHAPES)]
    text = json.dumps({"images": images, "annotations": annotations, "categories": categories})
    for split in ["train", "val"]:
        with open(os.path.join(root, "annotations", f"instances_{split}.json"), "w") as f:
            f.write(text + "\n")
    val = os.path.join(root, "val")
    if not os.path.lexists(val):
        os.symlink("train", val)
    # Read back as the reference reads an image (datasets.py 90: PIL, RGB, uint8).
    for i in range(len(SCENES)):
        with Image.open(os.path.join(root, "train", f"{i}.png")) as im:
            assert np.array_equal(np.asarray(im.convert("RGB")), pixels[i])
    return np.stack(pixels).transpose(0, 3, 1, 2), all_boxes


# ---------------------------------------------------------------------------------------------
# Names: PyTorch-YOLOv3's (module_list.<i>.conv_<i>, .batch_norm_<i>) -> ours (layers.<i>.conv,
# .bn).


def our_module(name):
    parts = name.split(".")
    if len(parts) >= 3 and parts[0] == "module_list":
        i, leaf = parts[1], parts[2]
        if leaf.startswith("conv_"):
            return ".".join(["layers", i, "conv"] + parts[3:])
        if leaf.startswith("batch_norm_"):
            return ".".join(["layers", i, "bn"] + parts[3:])
    return None


def our_state_dict(model):
    """The state dict in our module paths, PyTorch leaf names (the YOLO layers' anchor buffers
    left out: not parameters of our model)."""
    out = {}
    for name, t in model.state_dict().items():
        module, leaf = name.rsplit(".", 1)
        ours = our_module(module)
        if ours is not None:
            out[f"{ours}.{leaf}"] = t.detach().clone()
    return out


def our_param(name):
    """Our name of a parameter or statistic: BatchNorm weight/bias are gamma/beta."""
    module, leaf = name.rsplit(".", 1)
    ours = our_module(module)
    if ours.endswith(".bn"):
        leaf = {"weight": "gamma", "bias": "beta"}.get(leaf, leaf)
    return f"{ours}.{leaf}"


def save_raw(model, path, dtype):
    """Every float tensor of the model but the anchor buffers, raw little-endian, in our names;
    the index [[name, count], ...] (fidelity_trace.save_final's format)."""
    index, chunks = [], []
    for name, t in model.state_dict().items():
        module = name.rsplit(".", 1)[0]
        if not t.is_floating_point() or our_module(module) is None:
            continue
        index.append([our_param(name), t.numel()])
        chunks.append(t.detach().reshape(-1).numpy().astype(dtype).tobytes())
    with open(path, "wb") as f:
        f.write(b"".join(chunks))
    return index


def renamed_keys(d):
    return {our_param(k): v for k, v in d.items()}


# ---------------------------------------------------------------------------------------------
# Recording and training.


def bn_state(model):
    modules = dict(model.named_modules())
    return {
        f"layers.{i}.bn": {
            "running_mean": modules[f"module_list.{i}.batch_norm_{i}"].running_mean.tolist(),
            "running_var": modules[f"module_list.{i}.batch_norm_{i}"].running_var.tolist(),
        }
        for i in BN_TRACED
    }


def layer_norms(model, ratios, admm):
    out = {}
    for name, W in model.named_parameters():
        if name in ratios:
            entry = {"w": norm(W)}
            if admm is not None:
                entry["w_minus_z"] = norm(W - admm.Z[name])
                entry["u"] = norm(admm.U[name])
            out[our_param(name)] = entry
    return out


def test_loss(model, data):
    """compute_loss on the eval-mode raw maps of all images in one batch."""
    images, targets = data
    model.eval()
    with torch.no_grad():
        total, parts = compute_loss(model(images), targets, model)
    model.train()
    return {"total": float(total), **parts}


def make_optimizer(model, spec):
    if spec["kind"] == "adam":  # train.py 133-138 (torch.optim.Adam), the spec's lr and decay
        return torch.optim.Adam(model.parameters(), lr=spec["lr"], betas=(spec["beta1"], spec["beta2"]),
                                eps=spec["eps"], weight_decay=spec["weight_decay"])
    return torch.optim.SGD(model.parameters(), spec["lr"], momentum=spec["momentum"],
                           weight_decay=spec["weight_decay"], nesterov=spec["nesterov"])


def train(model, batches, test_data, epochs, ratios, optimizer_spec, schedule, admm=None, masks=None):
    """The authors' epoch loop (main.py 395-409, train() 120-192) with the YOLO loss: the
    scheduler (reference-cosine only) stepped before each epoch, z_u_update after the forward,
    the penalty added and backward with the graph kept; or masked retraining (admm.py
    1061-1120) when `masks` is given. Returns the step records and the updates."""
    optimizer = make_optimizer(model, optimizer_spec)
    scheduler = None
    if schedule["kind"] == "reference-cosine":  # main.py 311
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=schedule["period_epochs"] * len(batches), eta_min=ETA_MIN)
    steps, updates = [], []
    for epoch in range(1, epochs + 1):
        if scheduler is not None:
            scheduler.step()  # main.py 402 / 546
        model.train()
        if masks is not None:
            for name, W in model.named_parameters():  # admm.py 1071-1076
                if name in ratios:
                    masks[name], _, _ = weight_pruning(W, ratios[name])
        total, ctr = 0.0, 0
        for batch_idx, (images, targets) in enumerate(batches):
            ctr += 1
            optimizer.zero_grad()
            outputs = model(images)
            task, parts = compute_loss(outputs, targets, model)
            total += float(task.item())
            update = None
            if admm is not None:
                update = admm.z_u_update(model, epoch, batch_idx)
                loss = task + admm.penalty(model)
                loss.backward(retain_graph=True)
            else:
                loss = task
                loss.backward()
            if masks is not None:
                for name, W in model.named_parameters():
                    if name in masks:
                        W.grad *= masks[name]
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            if update is not None:
                update["masks"] = renamed_keys(update["masks"])
                updates.append({"epoch": epoch, **update})
            steps.append({
                "epoch": epoch,
                "step": batch_idx,
                "lr": lr,
                "ce": float(task.detach()),
                "loss": float(loss.detach()),
                "parts": parts,
                "layers": layer_norms(model, ratios, admm),
                "bn": bn_state(model),
            })
        if admm is not None:
            admm.ce_prev, admm.ce = admm.ce, total / ctr  # main.py 189-190
        steps[-1]["test_loss"] = test_loss(model, test_data)
    return steps, updates


def check_against_reference(path, out):
    """With `--reference DIR` (a checkout of PyTorch-YOLOv3 at 1d621c8, e.g. `git clone
    https://github.com/eriklindernoren/PyTorch-YOLOv3 DIR && git -C DIR checkout 1d621c8`):
    builds the narrow model with the reference's own load_model from a cfg narrowed like
    TINY_CFG, and checks, in float32, that its initial weights, its training-mode maps, its
    compute_loss and every gradient on both batches are exactly this mirror's. imgaug,
    terminaltables, torchsummary and tqdm are stubbed (nothing used here needs them)."""
    import importlib.machinery
    import re
    import types

    import torchvision  # noqa: F401 (imported before the stubs: torch._dynamo probes module specs)

    for name in ["imgaug", "imgaug.augmenters", "imgaug.augmentables", "imgaug.augmentables.bbs",
                 "tqdm", "terminaltables", "torchsummary"]:
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__spec__ = importlib.machinery.ModuleSpec(name, None)
            sys.modules[name] = module
    sys.modules["tqdm"].tqdm = getattr(sys.modules["tqdm"], "tqdm", lambda x, **k: x)
    sys.path.insert(0, path)
    from pytorchyolo.models import load_model
    from pytorchyolo.utils.loss import compute_loss as reference_loss

    with open(os.path.join(path, "config", "yolov3-tiny.cfg")) as f:
        blocks = f.read().split("[")
    narrow = "[".join(
        re.sub(r"filters=(\d+)", lambda m: f"filters={int(m.group(1)) // WIDTH_DIVISOR}", b)
        if b.startswith("convolutional") and "batch_normalize=1" in b else b
        for b in blocks
    )
    cfg_path = os.path.join(out, "yolov3-tiny-narrow.cfg.tmp")
    with open(cfg_path, "w") as f:
        f.write(narrow)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(1)
    reference = load_model(cfg_path)
    os.remove(cfg_path)
    torch.manual_seed(1)
    mirror = Darknet(narrowed(TINY_CFG, WIDTH_DIVISOR))
    mirror.apply(weights_init_normal)
    ours, theirs = mirror.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours), "initial weights differ"
    pixels, boxes = write_data(os.path.join(out, "synthetic-coco"))
    x = torch.from_numpy(pixels.copy()).float() / 255.0
    for start in range(0, len(SCENES), BATCH):
        targets = torch.tensor([r for k in range(start, start + BATCH) for r in relative(boxes[k], k - start)])
        reference.train(), mirror.train()
        a, b = reference(x[start:start + BATCH]), mirror(x[start:start + BATCH])
        assert all(torch.equal(u, v) for u, v in zip(a, b)), "training-mode maps differ"
        (la, _), (lb, _) = reference_loss(a, targets, reference), compute_loss(b, targets, mirror)
        assert torch.equal(la, lb), f"loss {la.item()} against {lb.item()}"
        reference.zero_grad(), mirror.zero_grad()
        la.backward(), lb.backward()
        for (name, p), (_, q) in zip(reference.named_parameters(), mirror.named_parameters()):
            assert torch.equal(p.grad, q.grad), f"gradient of {name} differs"
    print("the mirror is PyTorch-YOLOv3's own: initial weights, maps, loss and gradients identical (float32)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "fidelity"))
    parser.add_argument("--reference", help="a checkout of PyTorch-YOLOv3 at 1d621c8 to check the mirror against")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    out = args.out
    os.makedirs(out, exist_ok=True)
    if args.reference:
        check_against_reference(args.reference, out)
    torch.set_default_dtype(torch.float32)

    # The model and its initial weights (models.py 320-334), in float32.
    cfg = narrowed(TINY_CFG, WIDTH_DIVISOR)
    torch.manual_seed(1)
    model = Darknet(cfg)
    model.apply(weights_init_normal)
    init_path = os.path.join(out, f"{FAMILY}.pt")
    torch.save(our_state_dict(model), init_path)
    initial = {k: v.clone() for k, v in model.state_dict().items()}

    # The data.
    pixels, boxes = write_data(os.path.join(out, "synthetic-coco"))
    x = torch.from_numpy(pixels.copy()).float() / 255.0  # ToTensor: float32 division, then cast
    x = x.to(dtype)
    batches, batch_targets = [], []
    for start in range(0, len(SCENES), BATCH):
        t = [r for k in range(start, start + BATCH) for r in relative(boxes[k], k - start)]
        check_targets(t)
        batch_targets.append(t)
        batches.append((x[start:start + BATCH], torch.tensor(t, dtype=torch.float32)))
    all_targets = [r for k in range(len(SCENES)) for r in relative(boxes[k], k)]
    check_targets(all_targets)
    test_data = (x, torch.tensor(all_targets, dtype=torch.float32))

    torch.set_default_dtype(dtype)
    model.to(dtype)
    # The two YOLO layers' anchors stay float32, as build_targets reads them in the reference.
    for layer in model.yolo_layers:
        layer.anchors = layer.anchors.float()
    # Our default_prunable (src/catalog/model.rs): every convolution with BatchNorm.
    prunable = [f"module_list.{i}.conv_{i}.weight" for i, (kind, d) in enumerate(cfg)
                if kind == "convolutional" and d["batch_normalize"]]
    ratios = {n: RATIO for n in prunable}
    train_opt = {"kind": "sgd", "lr": 0.01, "momentum": 0.5, "weight_decay": 5e-4, "nesterov": True}
    dense_runs = {
        "dense": {"kind": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": False},
        "dense-adam": {"kind": "adam", "lr": 1e-3, "momentum": 0.0, "weight_decay": 5e-4, "nesterov": False,
                       "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    }
    # The initial weights' eval-mode test loss, then their training-mode maps of batch 0 (a
    # forward alone, before the loss: it moves the BatchNorm statistics, reloaded below).
    model.load_state_dict(initial)
    initial_test = test_loss(model, test_data)
    with torch.no_grad():
        model.train()
        maps = model(batches[0][0])
    trace = {
        "family": FAMILY,
        "width_divisor": WIDTH_DIVISOR,
        "dtype": args.dtype,
        "reference": "eriklindernoren/PyTorch-YOLOv3@1d621c8 (model, initialisation, loss, inputs); "
        "Zhoushanglin100/SLR-ADMM-cifar10@8c1de3e slr_pruning (ADMM/SLR loop, hard prune, masked retraining)",
        "torch": torch.__version__,
        "dataset": "synthetic-coco",
        "data_root": "synthetic-coco",
        "input": INPUT,
        "classes": CLASSES,
        "batch": BATCH,
        "anchors": [[list(ANCHORS[k]) for k in [3, 4, 5]], [list(ANCHORS[k]) for k in [1, 2, 3]]],
        "targets": batch_targets,
        "ratios": {our_param(n): r for n, r in ratios.items()},
        "count_rule": "percentile",
        "optimizer": train_opt,
        "schedule": {"kind": "reference-cosine", "eta_min": ETA_MIN},
        "initial_outputs": [
            {"shape": [m.shape[0], m.shape[1] * m.shape[4], m.shape[2], m.shape[3]],
             "sum": float(m.sum()), "sum_sq": float((m * m).sum())}
            for m in maps
        ],
        "initial_test_loss": initial_test,
        "runs": {},
    }
    for method, opt in dense_runs.items():
        torch.manual_seed(1)
        model.load_state_dict(initial)
        steps, _ = train(model, batches, test_data, DENSE_EPOCHS, ratios, opt, {"kind": "constant"})
        trace["runs"][method] = {"epochs": DENSE_EPOCHS, "optimizer": opt, "schedule": {"kind": "constant"}, "steps": steps}
    raw = RAW[args.dtype]
    for method in ["slr", "admm"]:
        torch.manual_seed(1)
        model.load_state_dict(initial)
        admm = Admm(model, ratios, slr=method == "slr")
        initial_masks = renamed_keys(admm.masks())
        cosine = {"kind": "reference-cosine", "eta_min": ETA_MIN, "period_epochs": TRAIN_EPOCHS}
        steps, updates = train(model, batches, test_data, TRAIN_EPOCHS, ratios, train_opt, cosine, admm=admm)
        trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
        trained_file = os.path.join(out, f"{FAMILY}.{method}.trained.bin")
        trained_index = save_raw(model, trained_file, raw)
        hard = renamed_keys(hard_prune(model, ratios))
        hard_loss = test_loss(model, test_data)
        model.load_state_dict(trained)
        hard_prune(model, ratios)
        retrain_schedule = {"kind": "reference-cosine", "eta_min": ETA_MIN, "period_epochs": RETRAIN_EPOCHS}
        retrain_steps, _ = train(model, batches, test_data, RETRAIN_EPOCHS, ratios, train_opt, retrain_schedule, masks={})
        final = os.path.join(out, f"{FAMILY}.{method}.final.bin")
        final_index = save_raw(model, final, "<f4")
        trace["runs"][method] = {
            "epochs": TRAIN_EPOCHS,
            "schedule": cosine,
            "initial_masks": initial_masks,
            "steps": steps,
            "updates": updates,
            "trained_weights": {"file": os.path.basename(trained_file), "dtype": args.dtype, "tensors": trained_index},
            "hard_prune": {"masks": hard, "test_loss": hard_loss},
            "retrain": {"epochs": RETRAIN_EPOCHS, "schedule": retrain_schedule, "steps": retrain_steps},
            "final_weights": {"file": os.path.basename(final), "dtype": "float32", "tensors": final_index},
        }
    trace["bn_layers"] = [f"layers.{i}.bn" for i in BN_TRACED]
    with open(os.path.join(out, f"{FAMILY}.json"), "w") as f:
        json.dump(trace, f, indent=1)
        f.write("\n")
    torch.set_default_dtype(torch.float32)
    for file in sorted(os.listdir(out)):
        if file.startswith(FAMILY + "."):
            print(file, os.path.getsize(os.path.join(out, file)), "bytes")
    data_bytes = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(out, "synthetic-coco")) for f in fs)
    print("synthetic-coco/", data_bytes, "bytes")


if __name__ == "__main__":
    main()
