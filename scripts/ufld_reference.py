"""PyTorch reference forward of Ultra-Fast-Lane-Detection (ResNet-18, TuSimple head), for
tests/integration/models.rs: writes tests/fixtures/ufld_forward.json.

Our own definition of the architecture of cfzd/Ultra-Fast-Lane-Detection `model/model.py`
(`parsingNet(backbone='18', cls_dim=(101, 56, 4), use_aux=True)` on torchvision's ResNet-18):
same layers, names and order. Every parameter and BatchNorm statistic is set by a formula of
its PyTorch name and flat index (so the Rust test can set the same values without a 250 MB
weight file), the input too; the model runs in eval mode. The fixture keeps 200 evenly spaced
values of each output and their sums.

    python3 scripts/ufld_reference.py   # needs torch (e.g. `just torch-venv`)
"""

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

PHI = 0.6180339887498949
INPUT_STEP = 0.7548776662466927
SAMPLES = 200


def name_offset(name):
    """Per-tensor offset in [0, 1): the bytes of its PyTorch name."""
    return (sum(name.encode()) % 1000) / 1000.0


def pattern(name, n):
    """frac(k * PHI + offset(name)) - 0.5 for k = 0..n-1, in float64."""
    k = np.arange(n, dtype=np.float64)
    x = k * PHI + name_offset(name)
    return x - np.floor(x) - 0.5


def value(name, shape):
    """The formula's tensor for a parameter or statistic named `name` (PyTorch layout)."""
    n = int(np.prod(shape))
    u = pattern(name, n)
    leaf = name.rsplit(".", 1)[1]
    if leaf == "running_mean":
        v = 0.1 * u
    elif leaf == "running_var":
        v = 1.0 + u
    elif leaf == "weight" and len(shape) == 1:  # BatchNorm gamma
        v = 1.0 + 0.2 * u
    elif leaf == "bias":
        v = 0.1 * u
    else:  # conv / linear weight: uniform with variance 2 / fan_in (He), mean 0
        fan_in = int(np.prod(shape[1:]))
        v = u * math.sqrt(24.0 / fan_in)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)


class Backbone(nn.Module):
    """torchvision's ResNet-18 without avgpool and fc; returns layer2, layer3, layer4."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, cin = [64, 128, 256, 512], 64
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x2 = self.layer2(x)
        x3 = self.layer3(x2)
        return x2, x3, self.layer4(x3)


def conv_bn_relu(cin, cout, padding=1, dilation=1):
    class ConvBnRelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, 1, padding, dilation, bias=False)
            self.bn = nn.BatchNorm2d(cout)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    return ConvBnRelu()


class ParsingNet(nn.Module):
    def __init__(self, cls_dim=(101, 56, 4)):
        super().__init__()
        self.cls_dim = cls_dim
        self.model = Backbone()
        self.aux_header2 = nn.Sequential(*[conv_bn_relu(128, 128) for _ in range(4)])
        self.aux_header3 = nn.Sequential(conv_bn_relu(256, 128), conv_bn_relu(128, 128), conv_bn_relu(128, 128))
        self.aux_header4 = nn.Sequential(conv_bn_relu(512, 128), conv_bn_relu(128, 128))
        self.aux_combine = nn.Sequential(
            conv_bn_relu(384, 256, 2, 2),
            conv_bn_relu(256, 128, 2, 2),
            conv_bn_relu(128, 128, 2, 2),
            conv_bn_relu(128, 128, 4, 4),
            nn.Conv2d(128, cls_dim[-1] + 1, 1),
        )
        self.cls = nn.Sequential(nn.Linear(1800, 2048), nn.ReLU(), nn.Linear(2048, int(np.prod(cls_dim))))
        self.pool = nn.Conv2d(512, 8, 1)

    def forward(self, x):
        x2, x3, fea = self.model(x)
        x2 = self.aux_header2(x2)
        x3 = F.interpolate(self.aux_header3(x3), scale_factor=2, mode="bilinear")
        x4 = F.interpolate(self.aux_header4(fea), scale_factor=4, mode="bilinear")
        aux = self.aux_combine(torch.cat([x2, x3, x4], dim=1))
        fea = self.pool(fea).view(-1, 1800)
        return self.cls(fea).view(-1, *self.cls_dim), aux


def samples(t):
    flat = t.detach().reshape(-1).double().numpy()
    idx = np.linspace(0, flat.size - 1, SAMPLES).round().astype(int)
    return idx.tolist(), flat[idx].tolist(), float(flat.sum())


def main():
    torch.manual_seed(0)
    net = ParsingNet()
    state = net.state_dict()
    params = sum(p.numel() for p in net.parameters())
    for name, t in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        state[name] = value(name, tuple(t.shape))
    net.load_state_dict(state)
    net.eval()
    n = 3 * 288 * 800
    k = np.arange(n, dtype=np.float64)
    x = k * INPUT_STEP + 0.25
    x = (x - np.floor(x) - 0.5).astype(np.float32).reshape(1, 3, 288, 800)
    with torch.no_grad():
        cls, aux = net(torch.from_numpy(x))
    fixture = {"parameters": params, "torch": torch.__version__}
    for key, t in [("cls", cls), ("aux", aux)]:
        idx, vals, total = samples(t)
        fixture[key] = {"shape": list(t.shape), "indices": idx, "values": vals, "sum": total}
    out = Path(__file__).resolve().parent.parent / "tests/fixtures/ufld_forward.json"
    out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"{out}: {params} parameters, cls sum {fixture['cls']['sum']:.6f}, aux sum {fixture['aux']['sum']:.6f}")


if __name__ == "__main__":
    main()
