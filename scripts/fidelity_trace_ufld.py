"""Step-for-step reference trace of Ultra-Fast-Lane-Detection (the small model, `ufld-small`)
under dense training, ADMM and SLR, for a replay through our lane task, training loop, pruners,
hard prune and masked retraining (the UFLD counterpart of scripts/fidelity_trace.py, whose
schema it extends; reports/fidelity.md).

The model, its initialisation, its losses, its training targets and its evaluation mirror
cfzd/Ultra-Fast-Lane-Detection at commit 353df10 (cited below as model.py, backbone.py,
loss.py, factory.py, train.py, dataset.py, dataloader.py, mytransforms.py, constant.py,
convert_tusimple.py, eval_wrapper.py, lane.py, tusimple.py = configs/tusimple.py), read, not
copied: every ingredient names the file and line it follows. The ADMM / SLR loop is the SLR
authors' (Zhoushanglin100/SLR-ADMM-cifar10 at 8c1de3e, slr_pruning/): `fidelity_trace.Admm`
itself, imported, with UFLD's loss in place of the cross-entropy. Run with PyPI's torch (`just
torch-venv`) and OpenCV (the reference draws its label images with cv2.line):

    .venv-torch/bin/pip install --no-deps opencv-python-headless==4.10.0.84
    .venv-torch/bin/python scripts/fidelity_trace_ufld.py [--dtype float64|float32] [--batch 8]
        [--out DIR] [--reference UFLD_CHECKOUT]   # first checks the mirror against the reference

(`--reference` also needs scipy and scikit-learn, which the reference's evaluation imports:
`pip install --no-deps scipy scikit-learn joblib threadpoolctl cloudpickle narwhals`.)

What is traced (family `ufld-small`):

- the model: parsingNet (model.py 18-95) with backbone '18' (backbone.py 14-56: torchvision's
  ResNet-18 without avgpool and fc) and use_aux=True, at `ufld-small`'s input 3x64x160 with
  cls_dim (griding 25 + 1, 56 row anchors, 4 lanes), narrowed by WIDTH and HIDDEN: the backbone
  has WIDTH (4) channels in its first stage instead of 64 (stages WIDTH, 2, 4, 8 x WIDTH, as
  our ResNetConfig::width narrows a ResNet; built from torchvision's own BasicBlock and
  ResNet._make_layer, narrow_resnet18); the auxiliary branch's 128 channels (= layer2's,
  model.py 36-55) become 2 x WIDTH and its 384 / 256 become 6 / 4 x WIDTH (every one of its
  widths scales by WIDTH / 64); `pool` keeps its 8 outputs (model.py 66); the classifier's
  hidden width 2048 (model.py 60-64) becomes HIDDEN (8: the float64 trained weights, 112,425
  values, stay under 1 MB; the head's second layer alone has (8 + 1) x 5824 of the 111,617
  parameters); its input, 1800 in model.py 61 and 88 (8 x 9 x 25 for 288x800), is
  8 x (64/32) x (160/32) = 80 here, as our src/models/ufld.rs computes it. At WIDTH 64, HIDDEN 2048 the mirror is parsingNet itself
  (`--reference` checks it);
- the initial weights: torch.manual_seed(1), then the model built in parsingNet's order: the
  backbone as torchvision builds ResNet-18 (PyTorch's default initialisation drawn per module,
  then Kaiming-normal fan_out convolutions and BatchNorm 1/0; its fc is built and dropped as
  backbone.py 38-45 drops it), the auxiliary heads and real_init_weights on them (model.py 58,
  101-120: Kaiming-normal fan_in, biases 0, BatchNorm 1/0), `cls` and `pool` built, then
  real_init_weights on `cls` (model.py 71: weights N(0, 0.01), biases PyTorch's default; `pool`
  keeps PyTorch's default); saved as `ufld-small.pt` in the reference's names (`model.conv1.weight`,
  `cls.2.weight`, `aux_combine.4.weight`, ...: what src/models/import.rs maps for ufld kinds);
- the data: 8 generated 1280x720 PNG road frames with 2 to 5 straight lane markings and their
  TuSimple label lines, written in synthetic-lanes' on-disk layout (`lanes/clips/fidelity/<i>.png`,
  `lanes/label_data_synthetic.json`, `lanes/test_label.json` the same 8 lines): the same images
  are the training and the test set, one batch of all 8 per epoch, in file order (see
  "Precision"; `--batch 4` gives two). The frames are 1280x720 because the reference reads the row-anchor targets from a label image of the frame's own size
  (dataset.py 80-81: `_grid_pts(..., w)` with w the frame's width; mytransforms.py 70 asserts
  equal sizes) while our loader always reads labels in 1280x720 coordinates
  (src/data/tusimple.rs WIDTH/HEIGHT); at 1280x720 both pipelines see the same thing. The
  inputs: torchvision's Resize((64, 160)) (dataloader.py 18-22 at our input size: Pillow's
  bilinear resize), ToTensor, Normalize with ImageNet's statistics. The targets:
  convert_tusimple.py 9-37 and 66-133 (lane order by angle, each drawn 16 px thick with cv2.line
  into a 720x1280 label image), dataset.py 99-165 (`_get_index`, `_grid_pts`: mean x of each
  lane's pixels at the row anchors of constant.py 6-10 scaled to 720, extension to the bottom,
  cells of (1280 - 1) / (25 - 1) px) and the segmentation target FreeScaleMask((8, 20))
  (dataloader.py 14-17 at our input: h / 8 x w / 8, Pillow's nearest), recorded per image. No
  augmentation (the smoke profile's `data.augment = false`; dataloader.py 23-27 always applies
  it): simu_transform is None;
- the loss: get_loss_dict (factory.py 28-45) with tusimple.py 26-27: SoftmaxFocalLoss(2) +
  1.0 x ParsingRelationLoss + 1.0 x CrossEntropyLoss on the auxiliary map + 0.0 x
  ParsingRelationDis (loss.py 26-73), summed in that order (train.py 37-52); each step records
  the parts;
- the test accuracy, after each epoch and after hard pruning: the model in eval mode on all 8
  images, its `cls` decoded as generate_tusimple_lines does (eval_wrapper.py 64-83, `rel`), and
  scored by LaneEval.bench against the label lines (lane.py 11-53), averaged (lane.py 85-90): the
  accuracy, FP and FN in %, as our `LaneDetection::evaluate_detail`;
- `dense`: experiments/table4.toml's [defaults.pretrain] (paper profile): SGD lr 0.01,
  momentum 0.9, weight decay 5e-4, no Nesterov, constant rate; `dense-adam`: its
  [profile.smoke.defaults.pretrain]: torch.optim.Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8,
  weight decay 5e-4 (merged from [defaults.pretrain]), constant; 2 epochs each. Neither is
  UFLD's own recipe (tusimple.py 6-18, factory.py 8-26 and 102-127, train.py 55-71: Adam lr
  4e-4, weight decay 1e-4, batch 32, 100 epochs, cosine over all iterations to 0 after a linear
  warm-up of 100 iterations, the scheduler set after each step from the step's global index, so
  the first step runs at the full rate and the second at 0; from ImageNet weights, train.py 116);
- `admm` and `slr`: [defaults.train]: SGD lr 0.01, momentum 0.5, Nesterov, weight decay 5e-4,
  the SLR authors' cosine (CosineAnnealingLR(T_max = epochs x batches, eta_min 4e-8) stepped
  before each epoch, their main.py 311/402); 3 epochs, Z/U (and Λ) updates at batch 0 of epochs
  2 and 3, ratio 0.8 on the 16 block convolutions (our `default_prunable` for UFLD), the
  authors' percentile rule; then hard prune; then, from the saved trained weights
  (`<method>.trained.bin`), hard prune again and 2 epochs of masked retraining with a fresh optimizer and [defaults.retrain]'s
  schedule (reference-cosine over the retraining's own 2 epochs: table4.toml sets no
  `period_epochs`).

Precision: float64 (the initial weights drawn and saved in float32, as for VGG-16, ResNet-50
and YOLOv3-tiny), one batch of 8 per epoch. The same PyTorch code in float32 and in float64
parts by 2e-3 in the loss at the second retraining step (batches of 8; with batches of 4 by
2e-4 already at the fourth dense step), and a float64 run whose weights are multiplied by
(1 + 1e-14 N(0, 1)) at the start of every phase (a stand-in for two implementations'
rounding) stays within 3e-11 of it throughout with one batch of 8 per epoch, but with batches
of 4 parts by 5e-4 at the last retraining step of `admm` (a difference growing about tenfold
per step, then a jump): so one batch of 8, as the ImageNet traces of fidelity_trace.py.

The trace (`ufld-small.json`) has fidelity_trace.py's schema with these differences: `ce` is
the task loss (UFLD's total) and each step adds `parts` {cls, sim, aux, shp} (unweighted, with
`loss_weights` at the top); after each epoch and in `hard_prune`, `test_acc` is TuSimple's
accuracy (%), `test_rates` {fp, fn} (%) and `test_lanes` (the SHA-256 prefix of the decoded
lanes, lanes_digest); every run names its `optimizer` (with `kind`: sgd or
adam, and Adam's beta1, beta2, eps) and its `schedule`; `base` is the backbone's WIDTH; new
top-level keys: `hidden`, `input`, `griding_num`, `row_anchors`, `lanes`, `data_root` (under
tests/fixtures/fidelity), `files` (the frames in batch order), `inputs` (per frame the resized
8-bit RGB's SHA-256 prefix and byte sum, to tell an input difference from a model difference),
`labels` (per frame the reference's row-anchor cells [56][4] and segmentation [8][20]),
`label_check` (those targets against a port of the rule src/data/tusimple.rs followed before
it ported OpenCV's thick line, every pixel within 8 of the polyline: every difference, as
[frame, row, lane, reference's cell, ours] and [frame, i, j, reference's class, ours]; the
record of reports/fidelity.md item 10, while the test
`ufld_labels_equal_the_references_opencv_drawn_ones` compares our labels with `labels`), `count_rule` ("percentile", the authors' projection), `initial_outputs` (the initial weights' training-mode outputs on batch 0: shape,
sum, sum of squares of `cls` and `aux`) and `initial_test` (the initial weights' test, with
every decoded lane in full); `classes` is absent.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The SLR authors' ADMM / SLR state (admm.py 22-97, z_u_update 472-654, penalty 915-928), their
# percentile projection (admm.py 156-166, masks with their digests), hard_prune (admm.py 339-363).
from fidelity_trace import ETA_MIN, RAW, Admm, hard_prune, norm, weight_pruning  # noqa: E402

warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FAMILY = "ufld-small"
WIDTH = 4  # backbone channels in the first stage (64 in the reference)
HIDDEN = 8  # the classifier's hidden width (2048 in the reference)
INPUT = (64, 160)  # ufld-small (src/catalog/model.rs)
GRIDING = 25  # synthetic-lanes' griding_num (src/catalog/dataset.rs)
LANES = 4  # tusimple.py 42
FRAME_W, FRAME_H = 1280, 720
BATCH = 8  # one batch per epoch (see the docstring's "Precision")
DENSE_EPOCHS, TRAIN_EPOCHS, RETRAIN_EPOCHS = 2, 3, 2
RATIO = 0.8
# constant.py 6-10.
ROW_ANCHORS = list(range(64, 288, 4))
# TuSimple's row samples (eval_wrapper.py 99-102).
H_SAMPLES = list(range(160, 720, 10))
# tusimple.py 26-27 and factory.py 34: cls, sim (relation), aux, shp (relation_dis).
LOSS_WEIGHTS = {"cls": 1.0, "sim": 1.0, "aux": 1.0, "shp": 0.0}
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # dataloader.py 21
# The BatchNorms a trace records (reference name -> ours).
BN_TRACED = {"model.bn1": "bn1", "model.layer4.1.bn2": "layer4.1.bn2", "aux_combine.3.bn": "aux_combine.3.bn"}


# ---------------------------------------------------------------------------------------------
# The model (model.py, backbone.py).


class ConvBnRelu(nn.Module):
    """conv_bn_relu (model.py 5-17)."""

    def __init__(self, cin, cout, kernel_size, stride=1, padding=0, dilation=1, bias=False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=bias)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


def narrow_resnet18(width):
    """torchvision's ResNet-18 (torchvision/models/resnet.py, ResNet.__init__) with `width`
    channels in its stem and first stage instead of 64: the same modules built in the same
    order, torchvision's own BasicBlock and ResNet._make_layer, its initialisation loop
    (Kaiming-normal fan_out convolutions, BatchNorm 1/0; the fc keeps PyTorch's default). At
    width 64 it is torchvision's resnet18() (checked on every run: the same names and values
    after the same seed)."""
    from torchvision.models.resnet import BasicBlock, ResNet

    class Narrow(ResNet):
        def __init__(self):
            nn.Module.__init__(self)
            self._norm_layer = nn.BatchNorm2d
            self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
            self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(BasicBlock, width, 2)
            self.layer2 = self._make_layer(BasicBlock, 2 * width, 2, stride=2)
            self.layer3 = self._make_layer(BasicBlock, 4 * width, 2, stride=2)
            self.layer4 = self._make_layer(BasicBlock, 8 * width, 2, stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8 * width, 1000)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    return Narrow()


def check_narrow_resnet18():
    import torchvision

    state = torch.random.get_rng_state()
    torch.manual_seed(5)
    theirs = torchvision.models.resnet18().state_dict()
    torch.manual_seed(5)
    ours = narrow_resnet18(64).state_dict()
    torch.random.set_rng_state(state)
    assert list(theirs) == list(ours) and all(torch.equal(theirs[k], ours[k]) for k in ours), \
        "narrow_resnet18(64) is not torchvision's resnet18()"


class Backbone(nn.Module):
    """backbone.py 14-56 for '18': torchvision's ResNet-18 (narrow_resnet18) built whole, then
    its stem and stages kept (its avgpool and fc dropped)."""

    def __init__(self, width):
        super().__init__()
        model = narrow_resnet18(width)
        self.conv1 = model.conv1
        self.bn1 = model.bn1
        self.relu = model.relu
        self.maxpool = model.maxpool
        self.layer1 = model.layer1
        self.layer2 = model.layer2
        self.layer3 = model.layer3
        self.layer4 = model.layer4

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x2 = self.layer2(x)
        x3 = self.layer3(x2)
        return x2, x3, self.layer4(x3)


def real_init_weights(m):
    """model.py 98-120."""
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)
    elif isinstance(m, nn.Linear):
        m.weight.data.normal_(0.0, std=0.01)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.constant_(m.weight, 1)
        nn.init.constant_(m.bias, 0)
    else:
        for child in m.children():
            real_init_weights(child)


class ParsingNet(nn.Module):
    """parsingNet (model.py 18-95) with backbone '18' and use_aux=True; `width` and `hidden`
    narrow it (64 and 2048: the reference), `features` is the pooled map's size (1800 at
    288x800)."""

    def __init__(self, cls_dim, width=WIDTH, hidden=HIDDEN, features=None, size=INPUT):
        super().__init__()
        self.cls_dim = cls_dim
        self.total_dim = int(np.prod(cls_dim))
        self.features = features or 8 * (size[0] // 32) * (size[1] // 32)
        self.model = Backbone(width)
        a = 2 * width  # 128 at width 64
        self.aux_header2 = nn.Sequential(
            ConvBnRelu(2 * width, a, 3, stride=1, padding=1),
            ConvBnRelu(a, a, 3, padding=1),
            ConvBnRelu(a, a, 3, padding=1),
            ConvBnRelu(a, a, 3, padding=1),
        )
        self.aux_header3 = nn.Sequential(
            ConvBnRelu(4 * width, a, 3, stride=1, padding=1),
            ConvBnRelu(a, a, 3, padding=1),
            ConvBnRelu(a, a, 3, padding=1),
        )
        self.aux_header4 = nn.Sequential(
            ConvBnRelu(8 * width, a, 3, stride=1, padding=1),
            ConvBnRelu(a, a, 3, padding=1),
        )
        self.aux_combine = nn.Sequential(
            ConvBnRelu(3 * a, 2 * a, 3, padding=2, dilation=2),
            ConvBnRelu(2 * a, a, 3, padding=2, dilation=2),
            ConvBnRelu(a, a, 3, padding=2, dilation=2),
            ConvBnRelu(a, a, 3, padding=4, dilation=4),
            nn.Conv2d(a, cls_dim[-1] + 1, 1),
        )
        for m in (self.aux_header2, self.aux_header3, self.aux_header4, self.aux_combine):
            real_init_weights(m)  # model.py 58
        self.cls = nn.Sequential(nn.Linear(self.features, hidden), nn.ReLU(), nn.Linear(hidden, self.total_dim))
        self.pool = nn.Conv2d(8 * width, 8, 1)
        real_init_weights(self.cls)  # model.py 71

    def forward(self, x, aux=True):
        x2, x3, fea = self.model(x)
        aux_seg = None
        if aux:
            x2 = self.aux_header2(x2)
            x3 = F.interpolate(self.aux_header3(x3), scale_factor=2, mode="bilinear")
            x4 = F.interpolate(self.aux_header4(fea), scale_factor=4, mode="bilinear")
            aux_seg = self.aux_combine(torch.cat([x2, x3, x4], dim=1))
        fea = self.pool(fea).view(-1, self.features)
        return self.cls(fea).view(-1, *self.cls_dim), aux_seg


# ---------------------------------------------------------------------------------------------
# The loss (loss.py 26-73, factory.py 28-45, train.py 37-52).


def softmax_focal_loss(logits, labels, gamma=2.0):
    """SoftmaxFocalLoss(2) (loss.py 26-38): NLLLoss(ignore_index=255) of (1 - p)^gamma log p."""
    scores = F.softmax(logits, dim=1)
    factor = torch.pow(1.0 - scores, gamma)
    log_score = factor * F.log_softmax(logits, dim=1)
    return F.nll_loss(log_score, labels, ignore_index=255)


def parsing_relation_loss(logits):
    """ParsingRelationLoss (loss.py 40-50)."""
    h = logits.shape[2]
    diffs = torch.cat([logits[:, :, i, :] - logits[:, :, i + 1, :] for i in range(h - 1)])
    return F.smooth_l1_loss(diffs, torch.zeros_like(diffs))


def parsing_relation_dis(x):
    """ParsingRelationDis (loss.py 54-73)."""
    n, dim, num_rows, num_cols = x.shape
    x = F.softmax(x[:, : dim - 1, :, :], dim=1)
    embedding = torch.Tensor(np.arange(dim - 1)).to(x.dtype).view(1, -1, 1, 1)
    pos = torch.sum(x * embedding, dim=1)
    diffs = [pos[:, i, :] - pos[:, i + 1, :] for i in range(num_rows // 2)]
    loss = 0
    for i in range(len(diffs) - 1):
        loss += F.l1_loss(diffs[i], diffs[i + 1])
    return loss / (len(diffs) - 1)


def ufld_loss(cls_out, cls_label, seg_out, seg_label):
    """calc_loss (train.py 37-52) over get_loss_dict's four terms, in their order."""
    parts = {
        "cls": softmax_focal_loss(cls_out, cls_label),
        "sim": parsing_relation_loss(cls_out),
        "aux": F.cross_entropy(seg_out, seg_label),
        "shp": parsing_relation_dis(cls_out),
    }
    loss = 0
    for name in ["cls", "sim", "aux", "shp"]:
        loss += parts[name] * LOSS_WEIGHTS[name]
    return loss, {k: float(v.detach()) for k, v in parts.items()}


# ---------------------------------------------------------------------------------------------
# The data: frames and label lines (ours), label images (convert_tusimple.py), targets
# (dataset.py), inputs (dataloader.py).

# Per frame: vanishing point (vx, vy), asphalt grey, and markings (x at the bottom row, first
# and last painted row, dashed). Chosen to exercise the label code: 2 to 5 lanes, one or two or
# three on a side, lanes that start lower or end early (extended to the bottom by dataset.py
# 132-162), a lane under 90 px (skipped by calc_k), a lane leaving the frame.
SCENES = [
    (640, 250, 95, [(330, 270, 719, False), (960, 270, 719, True)]),
    (600, 260, 105, [(120, 280, 719, True), (560, 280, 719, False), (1010, 280, 600, True)]),
    (700, 240, 85, [(-140, 260, 719, False), (420, 260, 719, True), (980, 260, 719, True), (1540, 260, 719, False)]),
    (660, 270, 110, [(200, 390, 719, True), (700, 290, 719, False), (1200, 290, 660, True), (1700, 380, 719, False)]),
    (620, 255, 90, [(60, 275, 719, False), (540, 275, 719, True), (1020, 275, 719, True), (1500, 275, 719, False),
                    (1980, 300, 719, True)]),
    (720, 245, 100, [(-260, 265, 719, True), (240, 265, 719, False), (760, 265, 719, False)]),
    (640, 265, 115, [(250, 285, 719, False), (760, 285, 719, True), (1270, 285, 719, False), (1100, 640, 700, False)]),
    (580, 235, 80, [(-60, 255, 700, True), (470, 255, 719, False), (1000, 255, 640, True)]),
]


def marking_x(vx, vy, bottom, y):
    return vx + (bottom - vx) * (y - vy) / (FRAME_H - vy)


def render(scene):
    """A 1280x720 RGB road: sky above the vanishing point, asphalt with a gentle per-row shade,
    white markings widening towards the bottom (solid or dashed). Row-wise flat regions, so
    the PNG stays small."""
    vx, vy, grey, markings = scene
    y = np.arange(FRAME_H, dtype=np.float64)[:, None]
    x = np.arange(FRAME_W, dtype=np.float64)[None, :]
    img = np.zeros((FRAME_H, FRAME_W, 3), dtype=np.uint8)
    t = np.clip(y / vy, 0, 1)
    sky = np.concatenate([110 + 90 * t, 150 + 70 * t, 210 + 30 * t], axis=1).astype(np.uint8)
    road = grey + 25.0 * (y - vy) / (FRAME_H - vy) + 6.0 * ((x // 160) % 2)
    road = np.clip(road, 0, 255).astype(np.uint8)
    above = (y < vy)[:, 0]
    img[above] = sky[above][:, None, :]
    img[~above] = np.stack([road[~above], road[~above], np.clip(road[~above].astype(int) + 4, 0, 255).astype(np.uint8)], -1)
    for bottom, top, end, dashed in markings:
        cx = marking_x(vx, vy, bottom, y)
        half = 1.5 + 10.0 * (y - vy) / (FRAME_H - vy)
        on = (np.abs(x - cx) <= half) & (y >= top) & (y <= end)
        if dashed:
            depth = np.log(np.maximum(y - vy, 1e-9) / 40.0) * 6.0
            on &= np.mod(depth, 2.0) < 1.2
        img[on] = (235, 235, 235)
    return img


def label_line(scene, raw_file):
    """The TuSimple label line: each marking's centre x at the row samples, -2 outside its span
    or the frame (as data::synthetic_lanes labels)."""
    vx, vy, _, markings = scene
    lanes = []
    for bottom, top, end, _ in markings:
        lane = []
        for y in H_SAMPLES:
            x = marking_x(vx, vy, bottom, y)
            lane.append(int(round(x)) if top <= y <= end and 0 <= x < FRAME_W else -2)
        lanes.append(lane)
    return {"raw_file": raw_file, "lanes": lanes, "h_samples": H_SAMPLES}


def write_data(root):
    """The frames and label files (synthetic-lanes' names, src/catalog/dataset.rs); returns
    the frame paths and the label lines, in file order."""
    clips = os.path.join(root, "clips", "fidelity")
    os.makedirs(clips, exist_ok=True)
    files, labels = [], []
    for i, scene in enumerate(SCENES):
        raw_file = f"clips/fidelity/{i}.png"
        Image.fromarray(render(scene)).save(os.path.join(root, raw_file), optimize=True)
        files.append(raw_file)
        labels.append(label_line(scene, raw_file))
    text = "".join(json.dumps(label) + "\n" for label in labels)
    for name in ["label_data_synthetic.json", "test_label.json"]:
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    return files, labels


def calc_k(line):
    """convert_tusimple.py 9-22."""
    line_x, line_y = line[::2], line[1::2]
    length = np.sqrt((line_x[0] - line_x[-1]) ** 2 + (line_y[0] - line_y[-1]) ** 2)
    if length < 90:
        return -10
    p = np.polyfit(line_x, line_y, deg=1)
    return np.arctan(p[0])


def draw(im, line, idx):
    """convert_tusimple.py 23-37."""
    import cv2

    line_x, line_y = line[::2], line[1::2]
    pt0 = (int(line_x[0]), int(line_y[0]))
    for i in range(len(line_x) - 1):
        cv2.line(im, pt0, (int(line_x[i + 1]), int(line_y[i + 1])), (idx,), thickness=16)
        pt0 = (int(line_x[i + 1]), int(line_y[i + 1]))


def label_lines(label):
    """get_tusimple_list (convert_tusimple.py 38-64) for one label: per lane with a point,
    [x0, y0, x1, y1, ...] as floats of their str()."""
    h = np.array(label["h_samples"])
    lines = []
    for lane in np.array(label["lanes"]):
        if np.all(lane == -2):
            continue
        valid = lane != -2
        tmp = [None] * (len(h[valid]) + len(lane[valid]))
        tmp[::2] = list(map(str, lane[valid]))
        tmp[1::2] = list(map(str, h[valid]))
        lines.append(list(map(float, tmp)))
    return lines


def slot_order(lines):
    """generate_segmentation_and_train_list's choice of lanes (convert_tusimple.py 80-128):
    [(line index, label value)] in drawing order."""
    ks = np.array([calc_k(line) for line in lines])
    k_neg = ks[ks < 0].copy()
    k_pos = ks[ks > 0].copy()
    k_neg = k_neg[k_neg != -10]
    k_pos = k_pos[k_pos != -10]
    k_neg.sort()
    k_pos.sort()
    first = lambda k: int(np.where(ks == k)[0][0])  # noqa: E731
    order = []
    if len(k_neg) == 1:
        order.append((first(k_neg[0]), 2))
    elif len(k_neg) >= 2:
        order += [(first(k_neg[1]), 1), (first(k_neg[0]), 2)]
    if len(k_pos) == 1:
        order.append((first(k_pos[0]), 3))
    elif len(k_pos) == 2:
        order += [(first(k_pos[1]), 3), (first(k_pos[0]), 4)]
    elif len(k_pos) > 2:
        order += [(first(k_pos[-1]), 3), (first(k_pos[-2]), 4)]
    return order


def label_image(label):
    """The 720x1280 segmentation label convert_tusimple.py writes (66-130)."""
    lines = label_lines(label)
    image = np.zeros((FRAME_H, FRAME_W), dtype=np.uint8)
    for which, value in slot_order(lines):
        draw(image, lines[which], value)
    return image


def find_start_pos(row_sample, start_line):
    """mytransforms.py 100-115."""
    l, r = 0, len(row_sample) - 1
    while True:
        mid = int((l + r) / 2)
        if r - l == 1:
            return r
        if row_sample[mid] < start_line:
            l = mid
        if row_sample[mid] > start_line:
            r = mid
        if row_sample[mid] == start_line:
            return mid


def get_index(label):
    """LaneClsDataset._get_index (dataset.py 112-165) on a PIL label image."""
    w, h = label.size
    sample_tmp = [int((x * 1.0 / 288) * h) for x in ROW_ANCHORS]
    all_idx = np.zeros((LANES, len(sample_tmp), 2))
    for i, r in enumerate(sample_tmp):
        label_r = np.asarray(label)[int(round(r))]
        for lane_idx in range(1, LANES + 1):
            pos = np.where(label_r == lane_idx)[0]
            all_idx[lane_idx - 1, i, 0] = r
            all_idx[lane_idx - 1, i, 1] = -1 if len(pos) == 0 else np.mean(pos)
    all_idx_cp = all_idx.copy()
    for i in range(LANES):
        if np.all(all_idx_cp[i, :, 1] == -1):
            continue
        valid = all_idx_cp[i, :, 1] != -1
        valid_idx = all_idx_cp[i, valid, :]
        if valid_idx[-1, 0] == all_idx_cp[0, -1, 0]:
            continue
        if len(valid_idx) < 6:
            continue
        valid_idx_half = valid_idx[len(valid_idx) // 2 :, :]
        p = np.polyfit(valid_idx_half[:, 0], valid_idx_half[:, 1], deg=1)
        start_line = valid_idx_half[-1, 0]
        pos = find_start_pos(all_idx_cp[i, :, 0], start_line) + 1
        fitted = np.polyval(p, all_idx_cp[i, pos:, 0])
        fitted = np.array([-1 if y < 0 or y > w - 1 else y for y in fitted])
        assert np.all(all_idx_cp[i, pos:, 1] == -1)
        all_idx_cp[i, pos:, 1] = fitted
    return all_idx_cp


def grid_pts(pts, num_cols, w):
    """LaneClsDataset._grid_pts (dataset.py 99-110)."""
    num_lane, n, _ = pts.shape
    col_sample = np.linspace(0, w - 1, num_cols)
    to_pts = np.zeros((n, num_lane))
    for i in range(num_lane):
        to_pts[:, i] = np.asarray(
            [int(pt // (col_sample[1] - col_sample[0])) if pt != -1 else num_cols for pt in pts[i, :, 1]]
        )
    return to_pts.astype(int)


def reference_item(root, label):
    """LaneClsDataset.__getitem__ (dataset.py 58-94) without simu_transform, with
    get_train_loader's transforms at our input (dataloader.py 14-22): the normalised frame
    [3, h, w] (float32), its resized 8-bit RGB, the cells [56, 4] and the segmentation
    [h / 8, w / 8]."""
    from torchvision import transforms

    label_img = Image.fromarray(label_image(label))
    img = Image.open(os.path.join(root, label["raw_file"]))
    w, _ = img.size
    cells = grid_pts(get_index(label_img), GRIDING, w)
    h8, w8 = INPUT[0] // 8, INPUT[1] // 8
    seg = np.array(label_img.resize((w8, h8), Image.NEAREST), dtype=np.int32)  # FreeScaleMask
    resize = transforms.Resize(INPUT)
    small = resize(img)
    tensor = transforms.Normalize(MEAN, STD)(transforms.ToTensor()(small))
    return tensor, np.asarray(small.convert("RGB")), cells, seg


# A port of our own label rules (src/data/tusimple.rs), to say where they differ from the
# reference's drawn label image.


def our_slots(label):
    """lane_slots (tusimple.rs 103-153): the same selection, on polylines."""
    lines = label_lines(label)
    slots = [None] * 4
    for which, value in slot_order(lines):
        slots[value - 1] = list(zip(lines[which][::2], lines[which][1::2]))
    return slots


def our_drawn(points, x, y):
    """The 8-pixel rule tusimple.rs used before src/data/thick_line.rs (fidelity item 10):
    within 8 px of the polyline through the points' integer parts."""
    pts = [(math.trunc(px), math.trunc(py)) for px, py in points]
    segs = [(pts[0], pts[0])] if len(pts) == 1 else list(zip(pts, pts[1:]))
    for (ax, ay), (bx, by) in segs:
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        t = 0.0 if length == 0 else min(max(((x - ax) * dx + (y - ay) * dy) / length, 0.0), 1.0)
        if math.sqrt((x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2) <= 8.0:
            return True
    return False


def our_label_row(slots, y):
    """label_at (tusimple.rs 183-192) along row y."""
    row = np.zeros(FRAME_W, dtype=np.uint8)
    for i in range(3, -1, -1):
        if slots[i] is None:
            continue
        for x in range(FRAME_W):
            if row[x] == 0 and our_drawn(slots[i], x, y):
                row[x] = i + 1
    return row


def our_targets(label):
    """row_targets and segmentation_target (tusimple.rs 200-305) without augmentation."""
    slots = our_slots(label)
    rows = [int(r / 288 * FRAME_H) for r in ROW_ANCHORS]
    positions = np.full((len(rows), 4), -1.0)
    for r, y in enumerate(rows):
        row = our_label_row(slots, y)
        for lane in range(4):
            xs = np.where(row == lane + 1)[0]
            if len(xs):
                positions[r, lane] = xs.sum() / len(xs)
    for lane in range(4):
        valid = [(rows[r], positions[r, lane]) for r in range(len(rows)) if positions[r, lane] != -1]
        if not valid or valid[-1][0] == rows[-1] or len(valid) < 6:
            continue
        half = np.array(valid[len(valid) // 2 :])
        my, mx = half[:, 0].mean(), half[:, 1].mean()
        slope = ((half[:, 0] - my) * (half[:, 1] - mx)).sum() / ((half[:, 0] - my) ** 2).sum()
        start = rows.index(int(valid[-1][0])) + 1
        for r in range(start, len(rows)):
            x = mx + slope * (rows[r] - my)
            positions[r, lane] = -1 if x < 0 or x > FRAME_W - 1 else x
    spacing = (FRAME_W - 1) / (GRIDING - 1)
    cells = np.where(positions == -1, GRIDING, np.floor(positions / spacing)).astype(int)
    h8, w8 = INPUT[0] // 8, INPUT[1] // 8
    sy, sx = FRAME_H / h8, FRAME_W / w8
    seg = np.zeros((h8, w8), dtype=np.int32)
    for i in range(h8):
        for j in range(w8):
            y, x = min(int((i + 0.5) * sy), FRAME_H - 1), min(int((j + 0.5) * sx), FRAME_W - 1)
            for s in range(3, -1, -1):
                if slots[s] is not None and our_drawn(slots[s], x, y):
                    seg[i, j] = s + 1
                    break
    return cells, seg


# ---------------------------------------------------------------------------------------------
# Evaluation (eval_wrapper.py 64-83, lane.py 11-90).


def generate_tusimple_lines(out, griding_num):
    """eval_wrapper.py 64-83 (`rel`), scipy.special.softmax written out."""
    out = out.detach().cpu().numpy()
    out_loc = np.argmax(out, axis=0)
    x = out[:-1, :, :]
    e = np.exp(x - np.amax(x, axis=0, keepdims=True))
    prob = e / np.sum(e, axis=0, keepdims=True)
    idx = np.arange(griding_num).reshape(-1, 1, 1)
    loc = np.sum(prob * idx, axis=0)
    loc[out_loc == griding_num] = griding_num
    lanes = []
    for i in range(loc.shape[1]):
        lanes.append([int(round((v + 0.5) * 1280.0 / (griding_num - 1))) if v != griding_num else -2 for v in loc[:, i]])
    return lanes


def get_angle(xs, y_samples):
    """LaneEval.get_angle (lane.py 11-20); LinearRegression's slope written out."""
    xs, ys = xs[xs >= 0], y_samples[xs >= 0]
    if len(xs) > 1:
        ym, xm = ys.mean(), xs.mean()
        denominator = ((ys - ym) ** 2).sum()
        k = 0.0 if denominator == 0 else ((ys - ym) * (xs - xm)).sum() / denominator
        return np.arctan(k)
    return 0


def line_accuracy(pred, gt, thresh):
    """lane.py 22-26."""
    pred = np.array([p if p >= 0 else -100 for p in pred])
    gt = np.array([g if g >= 0 else -100 for g in gt])
    return np.sum(np.where(np.abs(pred - gt) < thresh, 1.0, 0.0)) / len(gt)


def bench(pred, gt, y_samples, running_time):
    """LaneEval.bench (lane.py 28-53)."""
    if any(len(p) != len(y_samples) for p in pred):
        raise Exception("Format of lanes error.")
    if running_time > 200 or len(gt) + 2 < len(pred):
        return 0.0, 0.0, 1.0
    angles = [get_angle(np.array(x_gts), np.array(y_samples)) for x_gts in gt]
    threshs = [20 / np.cos(angle) for angle in angles]
    line_accs, fn, matched = [], 0.0, 0.0
    for x_gts, thresh in zip(gt, threshs):
        accs = [line_accuracy(np.array(x_preds), np.array(x_gts), thresh) for x_preds in pred]
        max_acc = np.max(accs) if len(accs) > 0 else 0.0
        if max_acc < 0.85:
            fn += 1
        else:
            matched += 1
        line_accs.append(max_acc)
    fp = len(pred) - matched
    if len(gt) > 4 and fn > 0:
        fn -= 1
    s = sum(line_accs)
    if len(gt) > 4:
        s -= min(line_accs)
    return s / max(min(4.0, len(gt)), 1.0), fp / len(pred) if len(pred) > 0 else 0.0, fn / max(min(len(gt), 4.0), 1.0)


def test(model, images, labels):
    """eval_lane for TuSimple (eval_wrapper.py 85-108 and lane.py 56-90) on all images in one
    batch, the model in eval mode without the auxiliary branch (test.py builds it with
    use_aux=False): accuracy, FP and FN in %, and the predicted lanes ([image][lane][row] x at
    1280 px, -2: none)."""
    model.eval()
    with torch.no_grad():
        out, _ = model(images, aux=False)
    model.train()
    acc = fp = fn = 0.0
    predicted = []
    for k, label in enumerate(labels):
        lanes = generate_tusimple_lines(out[k], GRIDING)
        predicted.append(lanes)
        a, p, n = bench(lanes, label["lanes"], label["h_samples"], 10)
        acc, fp, fn = acc + a, fp + p, fn + n
    count = len(labels)
    return 100.0 * acc / count, {"fp": 100.0 * fp / count, "fn": 100.0 * fn / count}, predicted


def lanes_digest(predicted):
    """First 16 hex digits of the SHA-256 of the predicted x values as little-endian int32,
    image-major, then lane, then row."""
    return hashlib.sha256(np.asarray(predicted, dtype="<i4").tobytes()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Names: the reference's -> ours (src/models/ufld.rs; src/models/import.rs maps the same way).


def our_module(module):
    if module.startswith("model."):
        module = module[len("model.") :]
    if module == "cls.2":
        return "cls.1"
    if module == "aux_combine.4":
        return "aux_out"
    return module.replace("downsample.0", "downsample.conv").replace("downsample.1", "downsample.bn")


def our_param(name, model):
    module, leaf = name.rsplit(".", 1)
    if isinstance(dict(model.named_modules())[module], nn.BatchNorm2d):
        leaf = {"weight": "gamma", "bias": "beta"}.get(leaf, leaf)
    return f"{our_module(module)}.{leaf}"


def save_raw(model, path, dtype):
    """Every float tensor as raw little-endian `dtype` in our names, Linear weights transposed
    to burn's [in, out] (fidelity_trace.save_final's format); the index [[name, count], ...]."""
    modules = dict(model.named_modules())
    index, chunks = [], []
    for name, t in model.state_dict().items():
        if not t.is_floating_point():
            continue
        if isinstance(modules[name.rsplit(".", 1)[0]], nn.Linear) and name.endswith(".weight"):
            t = t.t().contiguous()
        index.append([our_param(name, model), t.numel()])
        chunks.append(t.detach().reshape(-1).numpy().astype(dtype).tobytes())
    with open(path, "wb") as f:
        f.write(b"".join(chunks))
    return index


# ---------------------------------------------------------------------------------------------
# Recording and training.


def bn_state(model):
    modules = dict(model.named_modules())
    return {
        ours: {"running_mean": modules[name].running_mean.tolist(), "running_var": modules[name].running_var.tolist()}
        for name, ours in BN_TRACED.items()
    }


def layer_norms(model, ratios, admm):
    out = {}
    for name, W in model.named_parameters():
        if name in ratios:
            entry = {"w": norm(W)}
            if admm is not None:
                entry["w_minus_z"] = norm(W - admm.Z[name])
                entry["u"] = norm(admm.U[name])
            out[our_param(name, model)] = entry
    return out


def make_optimizer(model, spec):
    if spec["kind"] == "adam":  # factory.py 10-11 (torch.optim.Adam), the spec's lr and decay
        return torch.optim.Adam(model.parameters(), lr=spec["lr"], betas=(spec["beta1"], spec["beta2"]),
                                eps=spec["eps"], weight_decay=spec["weight_decay"])
    return torch.optim.SGD(model.parameters(), spec["lr"], momentum=spec["momentum"],
                           weight_decay=spec["weight_decay"], nesterov=spec["nesterov"])


def train(model, batches, test_data, epochs, ratios, optimizer_spec, schedule, admm=None, masks=None):
    """The authors' epoch loop (main.py 395-409, train() 120-192) with UFLD's loss: the
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
        for batch_idx, (images, cells, seg) in enumerate(batches):
            ctr += 1
            optimizer.zero_grad()
            cls_out, seg_out = model(images)
            task, parts = ufld_loss(cls_out, cells, seg_out, seg)
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
                update["masks"] = {our_param(k, model): v for k, v in update["masks"].items()}
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
        acc, rates, predicted = test(model, *test_data)
        steps[-1].update({"test_acc": acc, "test_rates": rates, "test_lanes": lanes_digest(predicted)})
    return steps, updates


def build(width=WIDTH, hidden=HIDDEN, griding=GRIDING, features=None, size=INPUT):
    return ParsingNet((griding + 1, len(ROW_ANCHORS), LANES), width=width, hidden=hidden, features=features, size=size)


# ---------------------------------------------------------------------------------------------
# The check against the reference's own code.


def check_against_reference(path, root, labels, items):
    """With `--reference DIR` (a checkout of cfzd/Ultra-Fast-Lane-Detection at 353df10):
    (1) the reference's parsingNet(pretrained=False, backbone='18', cls_dim=(101, 56, 4),
    use_aux=True) and this mirror at WIDTH 64, HIDDEN 2048 (the reference) after
    torch.manual_seed(1): the same state-dict names, shapes and values, the same outputs on a
    288x800 input, the same loss (the reference's utils/loss.py modules) and gradients; (2)
    the data: the reference's convert_tusimple.generate_segmentation_and_train_list on a copy
    of the frames and label lines, then its LaneClsDataset with get_train_loader's transforms at
    our input size (Resize((64, 160)), FreeScaleMask((8, 20))) and no simu_transform: every
    input tensor, cell and segmentation target identical to the mirror's; (3) its
    generate_tusimple_lines and LaneEval.bench on random logits against the mirror's."""
    import importlib
    import types

    import torchvision
    from torchvision import transforms

    sys.path.insert(0, path)
    sys.modules.setdefault("tqdm", types.ModuleType("tqdm")).tqdm = lambda x, **k: x
    original = torchvision.models.resnet18
    torchvision.models.resnet18 = lambda pretrained=False, **k: original(weights=None, **k)
    try:
        model_py = importlib.import_module("model.model")
        loss_py = importlib.import_module("utils.loss")
        dataset_py = importlib.import_module("data.dataset")
        mytransforms = importlib.import_module("data.mytransforms")
        constant = importlib.import_module("data.constant")
        convert = importlib.import_module("scripts.convert_tusimple")
        lane_py = importlib.import_module("evaluation.tusimple.lane")
        # eval_wrapper imports the distributed helpers and the data loaders; only
        # generate_tusimple_lines is needed.
        source = open(os.path.join(path, "evaluation", "eval_wrapper.py")).read()
        start = source.index("def generate_tusimple_lines")
        end = source.index("def run_test_tusimple")
        import scipy.special

        wrapper = {"np": np, "scipy": scipy}
        exec(source[start:end], wrapper)

        torch.set_default_dtype(torch.float32)
        torch.manual_seed(1)
        reference = model_py.parsingNet(pretrained=False, backbone="18", cls_dim=(101, 56, 4), use_aux=True)
        torch.manual_seed(1)
        mirror = build(width=64, hidden=2048, griding=100, features=1800, size=(288, 800))
        a, b = reference.state_dict(), mirror.state_dict()
        assert list(a) == list(b), "state-dict names differ"
        assert all(torch.equal(a[k], b[k]) for k in a), "initial weights differ"
        x = torch.randn(2, 3, 288, 800)
        ra, ma = reference(x), mirror(x)
        assert torch.equal(ra[0], ma[0]) and torch.equal(ra[1], ma[1]), "training-mode outputs differ"
        cells = torch.randint(0, 101, (2, 56, 4))
        seg = torch.randint(0, 5, (2, 36, 100))
        terms = [loss_py.SoftmaxFocalLoss(2), loss_py.ParsingRelationLoss(), nn.CrossEntropyLoss(), loss_py.ParsingRelationDis()]
        ref_loss = terms[0](ra[0], cells) * 1.0 + terms[1](ra[0]) * 1.0 + terms[2](ra[1], seg) * 1.0 + terms[3](ra[0]) * 0.0
        our_loss, _ = ufld_loss(ma[0], cells, ma[1], seg)
        assert torch.equal(ref_loss, our_loss), f"loss {ref_loss.item()} against {our_loss.item()}"
        reference.zero_grad(), mirror.zero_grad()
        ref_loss.backward(), our_loss.backward()
        for (name, p), (_, q) in zip(reference.named_parameters(), mirror.named_parameters()):
            assert torch.equal(p.grad, q.grad), f"gradient of {name} differs"
        print("model: the mirror at width 64, hidden 2048 is parsingNet: initial weights, outputs, loss, gradients identical")

        work = tempfile.mkdtemp()
        try:
            # convert_tusimple.py 89 writes each label image next to its frame, named as the
            # frame with `png` for its last three letters: the copy's frames end in `.PNG`.
            lanes_root = os.path.join(work, "lanes")
            os.makedirs(os.path.join(lanes_root, "clips", "fidelity"))
            with open(os.path.join(lanes_root, "label_data_synthetic.json"), "w") as f:
                for label in labels:
                    shutil.copy(os.path.join(root, label["raw_file"]), os.path.join(lanes_root, label["raw_file"][:-3] + "PNG"))
                    f.write(json.dumps({**label, "raw_file": label["raw_file"][:-3] + "PNG"}) + "\n")
            names, line_txt = convert.get_tusimple_list(lanes_root, ["label_data_synthetic.json"])
            convert.generate_segmentation_and_train_list(lanes_root, line_txt, names)
            dataset = dataset_py.LaneClsDataset(
                lanes_root, os.path.join(lanes_root, "train_gt.txt"),
                img_transform=transforms.Compose([transforms.Resize(INPUT), transforms.ToTensor(), transforms.Normalize(MEAN, STD)]),
                simu_transform=None, griding_num=GRIDING, row_anchor=list(constant.tusimple_row_anchor),
                segment_transform=transforms.Compose([mytransforms.FreeScaleMask((INPUT[0] // 8, INPUT[1] // 8)), mytransforms.MaskToTensor()]),
                use_aux=True, num_lanes=LANES)
            for k, (tensor, _, cells_k, seg_k) in enumerate(items):
                img, cls_label, seg_label = dataset[k]
                assert torch.equal(img, tensor), f"input {k} differs"
                assert np.array_equal(cls_label, cells_k), f"cells of frame {k} differ"
                assert np.array_equal(seg_label.numpy(), seg_k), f"segmentation of frame {k} differs"
        finally:
            shutil.rmtree(work)
        print("data: the reference's conversion and LaneClsDataset give the mirror's inputs and targets")

        g = torch.Generator().manual_seed(3)
        for k, label in enumerate(labels):
            logits = torch.randn(GRIDING + 1, 56, 4, generator=g) * 3
            logits[GRIDING, :, k % 4] += 4  # some absent lanes
            theirs = wrapper["generate_tusimple_lines"](logits, None, GRIDING)
            assert theirs == generate_tusimple_lines(logits, GRIDING)
            for pred in [theirs, [label["lanes"][0]] + theirs[1:], label["lanes"]]:
                want = lane_py.LaneEval.bench(pred, label["lanes"], label["h_samples"], 10)
                assert tuple(want) == tuple(bench(pred, label["lanes"], label["h_samples"], 10)), (want, k)
        print("evaluation: generate_tusimple_lines and LaneEval.bench agree with the mirror's")
    finally:
        torchvision.models.resnet18 = original
        sys.path.remove(path)


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "fidelity"))
    parser.add_argument("--reference", help="a checkout of cfzd/Ultra-Fast-Lane-Detection at 353df10")
    parser.add_argument("--batch", type=int, default=BATCH, help="training batch size (8: one batch per epoch)")
    args = parser.parse_args()
    batch = args.batch
    dtype = getattr(torch, args.dtype)
    out = args.out
    os.makedirs(out, exist_ok=True)
    torch.set_default_dtype(torch.float32)
    check_narrow_resnet18()

    # The data, and the reference's view of it.
    data_root = os.path.join(out, "lanes")
    files, labels = write_data(data_root)
    items = [reference_item(data_root, label) for label in labels]
    if args.reference:
        check_against_reference(os.path.abspath(args.reference), data_root, labels, items)
    torch.set_default_dtype(torch.float32)
    label_check = {"rules": "src/data/tusimple.rs before the OpenCV thick-line port (8 px), ported",
                   "cells_differ": [], "segmentation_differ": []}
    for k, label in enumerate(labels):
        cells, seg = our_targets(label)
        for r, lane in zip(*np.nonzero(cells != items[k][2])):
            label_check["cells_differ"].append([k, int(r), int(lane), int(items[k][2][r, lane]), int(cells[r, lane])])
        for i, j in zip(*np.nonzero(seg != items[k][3])):
            label_check["segmentation_differ"].append([k, int(i), int(j), int(items[k][3][i, j]), int(seg[i, j])])

    # The model and its initial weights (model.py 18-71), in float32.
    torch.manual_seed(1)
    model = build()
    init_path = os.path.join(out, f"{FAMILY}.pt")
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, init_path)
    initial = {k: v.clone() for k, v in model.state_dict().items()}

    x = torch.stack([item[0] for item in items]).to(dtype)
    cells = torch.from_numpy(np.stack([item[2] for item in items])).long()
    seg = torch.from_numpy(np.stack([item[3] for item in items])).long()
    batches = [(x[s : s + batch], cells[s : s + batch], seg[s : s + batch]) for s in range(0, len(items), batch)]
    test_data = (x, labels)

    torch.set_default_dtype(dtype)
    model.to(dtype)
    ratios = {n: RATIO for n, _ in model.named_parameters()
              if n.startswith("model.layer") and ".conv" in n}  # default_prunable: the block convs
    train_opt = {"kind": "sgd", "lr": 0.01, "momentum": 0.5, "weight_decay": 5e-4, "nesterov": True}
    dense_runs = {
        "dense": {"kind": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": False},
        "dense-adam": {"kind": "adam", "lr": 1e-3, "momentum": 0.0, "weight_decay": 5e-4, "nesterov": False,
                       "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    }
    model.load_state_dict(initial)
    initial_acc, initial_rates, initial_lanes = test(model, *test_data)
    with torch.no_grad():
        model.train()
        cls0, aux0 = model(batches[0][0])
    trace = {
        "family": FAMILY,
        "base": WIDTH,
        "hidden": HIDDEN,
        "dtype": args.dtype,
        "reference": "cfzd/Ultra-Fast-Lane-Detection@353df10 (model, initialisation, loss, targets, inputs, "
        "evaluation); Zhoushanglin100/SLR-ADMM-cifar10@8c1de3e slr_pruning (ADMM/SLR loop, hard prune, masked retraining)",
        "torch": torch.__version__,
        "dataset": "synthetic-lanes",
        "data_root": "lanes",
        "files": files,
        "input": list(INPUT),
        "griding_num": GRIDING,
        "row_anchors": len(ROW_ANCHORS),
        "lanes": LANES,
        "batch": batch,
        "loss_weights": LOSS_WEIGHTS,
        "inputs": [{"sha256": hashlib.sha256(item[1].tobytes()).hexdigest()[:16], "sum": int(item[1].astype(np.int64).sum())}
                   for item in items],
        "labels": [{"cells": item[2].tolist(), "segmentation": item[3].tolist()} for item in items],
        "label_check": label_check,
        "ratios": {our_param(n, model): r for n, r in ratios.items()},
        "count_rule": "percentile",
        "optimizer": train_opt,
        "schedule": {"kind": "reference-cosine", "eta_min": ETA_MIN},
        "initial_outputs": {
            name: {"shape": list(t.shape), "sum": float(t.sum()), "sum_sq": float((t * t).sum())}
            for name, t in [("cls", cls0), ("aux", aux0)]
        },
        "initial_test": {"test_acc": initial_acc, "test_rates": initial_rates,
                         "test_lanes": lanes_digest(initial_lanes), "lanes": initial_lanes},
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
        initial_masks = {our_param(k, model): v for k, v in admm.masks().items()}
        cosine = {"kind": "reference-cosine", "eta_min": ETA_MIN, "period_epochs": TRAIN_EPOCHS}
        steps, updates = train(model, batches, test_data, TRAIN_EPOCHS, ratios, train_opt, cosine, admm=admm)
        trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
        trained_file = os.path.join(out, f"{FAMILY}.{method}.trained.bin")
        trained_index = save_raw(model, trained_file, raw)
        hard = {our_param(k, model): v for k, v in hard_prune(model, ratios).items()}
        hard_acc, hard_rates, hard_lanes = test(model, *test_data)
        model.load_state_dict(trained)
        hard_prune(model, ratios)
        retrain_schedule = {"kind": "reference-cosine", "eta_min": ETA_MIN, "period_epochs": RETRAIN_EPOCHS}
        retrain_steps, _ = train(model, batches, test_data, RETRAIN_EPOCHS, ratios, train_opt, retrain_schedule, masks={})
        final = os.path.join(out, f"{FAMILY}.{method}.final.bin")
        final_index = save_raw(model, final, "<f4")
        trace["runs"][method] = {
            "epochs": TRAIN_EPOCHS,
            "optimizer": train_opt,
            "schedule": cosine,
            "initial_masks": initial_masks,
            "steps": steps,
            "updates": updates,
            "trained_weights": {"file": os.path.basename(trained_file), "dtype": args.dtype, "tensors": trained_index},
            "hard_prune": {"masks": hard, "test_acc": hard_acc, "test_rates": hard_rates,
                           "test_lanes": lanes_digest(hard_lanes)},
            "retrain": {"epochs": RETRAIN_EPOCHS, "optimizer": train_opt, "schedule": retrain_schedule, "steps": retrain_steps},
            "final_weights": {"file": os.path.basename(final), "dtype": "float32", "tensors": final_index},
        }
    trace["bn_layers"] = list(BN_TRACED.values())
    with open(os.path.join(out, f"{FAMILY}.json"), "w") as f:
        json.dump(trace, f, indent=1)
        f.write("\n")
    torch.set_default_dtype(torch.float32)
    for file in sorted(os.listdir(out)):
        if file.startswith(FAMILY + "."):
            print(file, os.path.getsize(os.path.join(out, file)), "bytes")
    for dirpath, _, names in sorted(os.walk(data_root)):
        for name in sorted(names):
            p = os.path.join(dirpath, name)
            print(os.path.relpath(p, out), os.path.getsize(p), "bytes")
    print("label check:", len(label_check["cells_differ"]), "cells and", len(label_check["segmentation_differ"]),
          "segmentation pixels differ from our rules' port")


if __name__ == "__main__":
    main()
