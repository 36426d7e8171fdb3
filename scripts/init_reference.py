"""Initial per-parameter statistics of each model under its reference implementation's
initialisation, for tests/integration/init.rs: writes tests/fixtures/init_stats.json.

Each model is built in PyTorch (scripts/torch_models.py, yolo_reference.py, ufld_reference.py and
the LeNets below, with our parameter names), initialised K times (torch seeds 0..K-1) by the
scheme's reference code, mirrored here:

- pytorch: the layers' own `reset_parameters` (torch/nn/modules/conv.py and linear.py:
  kaiming_uniform_(a=sqrt(5)), biases U(+-1/sqrt(fan_in))); what a model gets when its code calls
  no initialiser (the SLR authors' LeNet-5, SLR_Quant/lenet_org.py 5-21, and VGG-16,
  SLR-ADMM-cifar10/slr_quantization/models/vgg.py).
- tensorflow: KaiqiZhang/admm-pruning tensorflow-mnist-code/model.py 15 and 21,
  tf.truncated_normal(stddev=0.1) (resampled beyond 2 stddev; trunc_normal_ draws the same
  distribution) and tf.constant(0.1).
- torchvision: torchvision/models/resnet.py ResNet.__init__'s loop (also SLR-ADMM-cifar10
  slr_pruning/model/resnet.py 141-146): Conv2d kaiming_normal_(mode="fan_out",
  nonlinearity="relu"), BatchNorm weight 1, bias 0.
- ufld: cfzd/Ultra-Fast-Lane-Detection model/model.py: the backbone as torchvision's,
  `real_init_weights` (101-120) on aux_* and cls (Conv2d kaiming_normal_(nonlinearity="relu"),
  bias 0; Linear weight N(0, 0.01); BatchNorm 1/0); `pool` keeps PyTorch's default.
- pytorch-yolov3: eriklindernoren/PyTorch-YOLOv3 pytorchyolo/utils/utils.py weights_init_normal,
  applied at pytorchyolo/models.py 334: Conv weight N(0, 0.02); BatchNorm2d weight N(1, 0.02),
  bias 0.

Per parameter (our name) it keeps n, the mean over the K draws of each draw's mean and standard
deviation, and the spread (standard deviation across draws) of each: a single draw of ours must
lie within a few spreads.

    .venv-torch/bin/python scripts/init_reference.py
"""

import json
import math
import os
import re
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402
import ufld_reference  # noqa: E402
import yolo_reference  # noqa: E402

DRAWS = 8
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "init_stats.json")


class LeNet5(nn.Module):
    """Caffe's LeNet-5 as the SLR authors' lenet_org.py defines it (and ours)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, 10)


class LeNet300100(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, 10)


def build(model):
    if model in ("lenet5", "lenet5-relu"):
        return LeNet5()
    if model == "lenet-300-100":
        return LeNet300100()
    if model == "yolov3-tiny":
        return yolo_reference.Darknet(yolo_reference.yolov3_tiny(80))
    if model == "ufld":
        return ufld_reference.ParsingNet()
    return torch_models.build(model)


def tensorflow(net):
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(m.bias, 0.1)


def torchvision(modules):
    for m in modules:
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def ufld(net):
    torchvision(net.model.modules())

    def real_init_weights(m):
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            m.weight.data.normal_(0.0, std=0.01)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)

    for head in (net.aux_header2, net.aux_header3, net.aux_header4, net.aux_combine, net.cls):
        head.apply(real_init_weights)


def pytorch_yolov3(net):
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.constant_(m.bias, 0.0)


SCHEMES = {
    "pytorch": lambda net: None,
    "tensorflow": tensorflow,
    "torchvision": lambda net: torchvision(net.modules()),
    "ufld": ufld,
    "pytorch-yolov3": pytorch_yolov3,
}

# (model, scheme): each model at its reference scheme, and lenet5-relu at the SLR authors'.
CASES = [
    ("lenet5", "pytorch"),
    ("lenet5-relu", "tensorflow"),
    ("lenet5-relu", "pytorch"),
    ("lenet-300-100", "pytorch"),
    ("resnet18-cifar", "torchvision"),
    ("resnet50-cifar", "torchvision"),
    ("vgg16-cifar", "pytorch"),
    ("resnet18-imagenet", "torchvision"),
    ("resnet50-imagenet", "torchvision"),
    ("yolov3-tiny", "pytorch-yolov3"),
    ("ufld", "ufld"),
]


def our_names(model, net):
    """{PyTorch parameter name: ours}: BatchNorm weight/bias are gamma/beta, torchvision's
    downsample.0/1 are conv/bn, VGG's nn.Sequential indices are conv/bn per layer, UFLD's
    backbone `model.` has no prefix in ours and its cls.2 and aux_combine.4 are cls.1 and aux_out (as
    src/models/import.rs maps them)."""
    batchnorms = {name for name, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)}
    vgg = {}
    if model == "vgg16-cifar":
        convs = [i for i, m in enumerate(net.features) if isinstance(m, nn.Conv2d)]
        for layer, index in enumerate(convs):
            vgg[f"features.{index}"] = f"features.{layer}.conv"
            vgg[f"features.{index + 1}"] = f"features.{layer}.bn"
    names = {}
    for name, _ in net.named_parameters():
        module, leaf = name.rsplit(".", 1)
        if module in batchnorms:
            leaf = {"weight": "gamma", "bias": "beta"}[leaf]
        module = vgg.get(module, module)
        module = re.sub(r"\.downsample\.0$", ".downsample.conv", module)
        module = re.sub(r"\.downsample\.1$", ".downsample.bn", module)
        module = re.sub(r"^model\.", "", module) if model == "ufld" else module
        module = re.sub(r"^cls\.2$", "cls.1", module)
        module = re.sub(r"^aux_combine\.4$", "aux_out", module)
        names[name] = f"{module}.{leaf}"
    return names


def spread(values):
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def main():
    stats = {}
    for model, scheme in CASES:
        draws = {}
        for seed in range(DRAWS):
            torch.manual_seed(seed)
            net = build(model)
            with torch.no_grad():
                SCHEMES[scheme](net)
            names = our_names(model, net)
            for name, p in net.named_parameters():
                v = p.detach().double().flatten()
                draws.setdefault(names[name], []).append((v.mean().item(), v.std(unbiased=False).item(), v.numel()))
        entry = {}
        for name, ds in sorted(draws.items()):
            mean, mean_spread = spread([d[0] for d in ds])
            std, std_spread = spread([d[1] for d in ds])
            entry[name] = {
                "n": ds[0][2],
                "mean": round(mean, 8),
                "mean_spread": round(mean_spread, 8),
                "std": round(std, 8),
                "std_spread": round(std_spread, 8),
            }
        stats[f"{model}/{scheme}"] = entry
        print(f"{model}/{scheme}: {len(entry)} parameters", file=sys.stderr)
    with open(OUT, "w") as f:
        json.dump({"draws": DRAWS, "stats": stats}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
