"""PyTorch definitions of the models slr-repro trains, with the same parameter names.

LeNet-5 (Caffe's, optionally with a ReLU after each convolution), CIFAR ResNet-18/50 (the authors' 3x3 stem + 3x3/2 max-pool), the authors' CIFAR VGG-16 (kuangliu
layout: `features` is one nn.Sequential of conv, bn, relu and pool modules) and torchvision's
ImageNet ResNets, written out here so the scripts need only `torch` (no torchvision).
Used by scripts/make-import-fixtures.py, scripts/bench-torch-cpu.py, scripts/gpu-check.sh and
scripts/export_check.py.
"""

import torch
from torch import nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inp, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or inp != width:
            self.downsample = nn.Sequential(
                nn.Conv2d(inp, width, 1, stride, bias=False), nn.BatchNorm2d(width)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inp, width, stride):
        super().__init__()
        out = width * 4
        self.conv1 = nn.Conv2d(inp, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + identity)


class ResNet(nn.Module):
    """`base`: channels of the stem and the first stage (64; the fidelity traces use fewer)."""

    def __init__(self, block, blocks, imagenet, stem_pool=True, base=64, classes=None):
        super().__init__()
        if classes is None:
            classes = 1000 if imagenet else 10
        if imagenet:
            self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, base, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem_pool else nn.Identity()
        inp = base
        for i, (width, count) in enumerate(zip([base, 2 * base, 4 * base, 8 * base], blocks)):
            layers = []
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(block(inp, width, stride))
                inp = width * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * base * block.expansion, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class Vgg16(nn.Module):
    """The authors' CIFAR VGG-16 (conv with bias, BN, ReLU; fc 512 -> 10); `base` scales every
    width by base/64 (64; the fidelity traces use fewer)."""

    def __init__(self, base=64):
        super().__init__()
        layers, inp = [], 3
        for c in VGG16:
            if c == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                c = c * base // 64
                layers += [nn.Conv2d(inp, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
                inp = c
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(8 * base, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class LeNet5(nn.Module):
    """LeNet-5 as in Caffe (conv 20@5x5, max-pool 2, conv 50@5x5, max-pool 2, fc 500, ReLU,
    fc 10); `conv_relu` adds a ReLU after each convolution (slr's `lenet5-relu`)."""

    def __init__(self, conv_relu=False):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, 10)
        self.conv_relu = conv_relu

    def forward(self, x):
        act = F.relu if self.conv_relu else (lambda t: t)
        x = F.max_pool2d(act(self.conv1(x)), 2)
        x = F.max_pool2d(act(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def build(kind, base=64, classes=None):
    """The model for one of slr-repro's model kinds, `base` channels in its first stage
    (`classes`: the ResNets' outputs, when not the data set's)."""
    return {
        "lenet5": lambda: LeNet5(),
        "lenet5-relu": lambda: LeNet5(conv_relu=True),
        "resnet18-cifar": lambda: ResNet(BasicBlock, [2, 2, 2, 2], False, base=base),
        "resnet18-cifar-nopool": lambda: ResNet(BasicBlock, [2, 2, 2, 2], False, stem_pool=False, base=base),
        "resnet50-cifar": lambda: ResNet(Bottleneck, [3, 4, 6, 3], False, base=base),
        "vgg16-cifar": lambda: Vgg16(base),
        "resnet18-imagenet": lambda: ResNet(BasicBlock, [2, 2, 2, 2], True, base=base, classes=classes),
        "resnet50-imagenet": lambda: ResNet(Bottleneck, [3, 4, 6, 3], True, base=base, classes=classes),
    }[kind]()
