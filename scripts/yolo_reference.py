"""PyTorch reference forward of YOLOv3 and YOLOv3-tiny, for tests/integration/models.rs:
writes tests/fixtures/yolo_forward.json.

Our own definition of Darknet's `yolov3.cfg` and `yolov3-tiny.cfg` (80 classes): one entry
per cfg layer, convolutions named `layers.<i>.conv` / `layers.<i>.bn` by cfg index, leaky ReLU
0.1 after BatchNorm, linear detection outputs with a bias, nearest upsampling, and the tiny
model's stride-1 max-pool padded with zeros on the right and bottom (PyTorch-YOLOv3 models.py
78-81, `ZeroPad2d((0, 1, 0, 1))`). Parameters, BatchNorm
statistics and the input are set by the same formula as scripts/ufld_reference.py; eval mode.
The fixture keeps parameter counts and, per output map, its shape, sum and 100 evenly spaced
values.

    python3 scripts/yolo_reference.py   # needs torch (e.g. `just torch-venv`)
"""

import json
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

SAMPLES = 100


def yolov3(classes):
    out = ("conv", 3 * (classes + 5), 1, 1, False)
    layers = [("conv", 32, 3, 1, True)]
    for filters, blocks in [(64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)]:
        layers.append(("conv", filters, 3, 2, True))
        for _ in range(blocks):
            layers += [("conv", filters // 2, 1, 1, True), ("conv", filters, 3, 1, True), ("shortcut", -3)]
    for scale, filters in enumerate([512, 256, 128]):
        if scale:
            layers += [("route", [-4]), ("conv", filters, 1, 1, True), ("upsample",), ("route", [-1, 61 if scale == 1 else 36])]
        for _ in range(3):
            layers += [("conv", filters, 1, 1, True), ("conv", filters * 2, 3, 1, True)]
        layers += [out, ("yolo",)]
    return layers


def yolov3_tiny(classes):
    out = ("conv", 3 * (classes + 5), 1, 1, False)
    layers = []
    for filters in [16, 32, 64, 128, 256]:
        layers += [("conv", filters, 3, 1, True), ("maxpool", 2, 2)]
    layers += [("conv", 512, 3, 1, True), ("maxpool", 2, 1), ("conv", 1024, 3, 1, True),
               ("conv", 256, 1, 1, True), ("conv", 512, 3, 1, True), out, ("yolo",),
               ("route", [-4]), ("conv", 128, 1, 1, True), ("upsample",), ("route", [-1, 8]),
               ("conv", 256, 3, 1, True), out, ("yolo",)]
    return layers


def source(i, f):
    return i + f if f < 0 else f


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, size, stride, bn):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, size, stride, size // 2, bias=not bn)
        self.bn = nn.BatchNorm2d(cout) if bn else None

    def forward(self, x):
        x = self.conv(x)
        return F.leaky_relu(self.bn(x), 0.1) if self.bn is not None else x


class Darknet(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        channels, modules = [], []
        for i, layer in enumerate(spec):
            previous = channels[i - 1] if i else 3
            if layer[0] == "conv":
                modules.append(ConvLayer(previous, layer[1], layer[2], layer[3], layer[4]))
                channels.append(layer[1])
            else:
                modules.append(nn.Identity())
                channels.append(sum(channels[source(i, f)] for f in layer[1]) if layer[0] == "route" else previous)
        self.layers = nn.ModuleList(modules)

    def forward(self, x):
        saved, outputs = [], []
        for i, (layer, module) in enumerate(zip(self.spec, self.layers)):
            kind = layer[0]
            if kind == "conv":
                x = module(x)
            elif kind == "shortcut":
                x = x + saved[source(i, layer[1])]
            elif kind == "route":
                x = torch.cat([saved[source(i, f)] for f in layer[1]], 1)
            elif kind == "upsample":
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            elif kind == "maxpool":
                size, stride = layer[1], layer[2]
                if stride == 1:
                    x = F.pad(x, (0, size - 1, 0, size - 1))
                x = F.max_pool2d(x, size, stride)
            elif kind == "yolo":
                outputs.append(x)
            saved.append(x)
        return outputs


def main():
    # Only the fixture needs numpy: scripts/torch_perf.py imports the model without it.
    import numpy as np
    from ufld_reference import INPUT_STEP, value

    n = 3 * 416 * 416
    k = np.arange(n, dtype=np.float64)
    x = k * INPUT_STEP + 0.25
    x = torch.from_numpy((x - np.floor(x) - 0.5).astype(np.float32).reshape(1, 3, 416, 416))
    fixture = {"torch": torch.__version__}
    for name, spec in [("yolov3", yolov3(80)), ("yolov3-tiny", yolov3_tiny(80))]:
        net = Darknet(spec)
        state = net.state_dict()
        for key, t in state.items():
            if not key.endswith("num_batches_tracked"):
                state[key] = value(key, tuple(t.shape))
        net.load_state_dict(state)
        net.eval()
        with torch.no_grad():
            outputs = net(x)
        maps = []
        for t in outputs:
            flat = t.reshape(-1).double().numpy()
            idx = np.linspace(0, flat.size - 1, SAMPLES).round().astype(int)
            maps.append({"shape": list(t.shape), "sum": float(flat.sum()),
                         "indices": idx.tolist(), "values": flat[idx].tolist()})
        fixture[name] = {"parameters": sum(p.numel() for p in net.parameters()), "outputs": maps}
        print(f"{name}: {fixture[name]['parameters']} parameters, maps {[m['shape'] for m in maps]}")
    out = Path(__file__).resolve().parent.parent / "tests/fixtures/yolo_forward.json"
    out.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
