"""Writes the small PyTorch checkpoints under tests/fixtures/ that test `import = "x.pt"`.

Run with PyPI's torch (`just torch-venv`): `.venv-torch/bin/python scripts/make-import-fixtures.py`.

Each fixture is the real state dict of a model in scripts/torch_models.py (real key names,
shapes, dtypes and PyTorch's own zip/pickle format), but every tensor is a zero-stride view of a
single shared storage `0, 1, 2, ...` at offset `code(k)`, so a 100 MB model is a few KB on disk
(PyTorch keeps views when saving). Values encode the key: element [..., j] of tensor `k` is
`code(k) + j`,
which the Rust test recomputes for each of our parameter names, so a misrouted, transposed or
reshaped tensor fails it.

- resnet18-cifar.pt: wrapped as the authors' training scripts save it,
  {"net": <DataParallel state dict, "module."-prefixed>, "acc": ..., "epoch": ...};
- vgg16-cifar.pt: the authors' VGG layout (`features.<sequential index>`), a plain state dict;
- resnet50-imagenet.pt: torchvision's names, under {"state_dict": ...}.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import build  # noqa: E402


def code(key):
    """Small integer identifying a key (the Rust test computes the same)."""
    return sum((i + 1) * b for i, b in enumerate(key.encode())) % 997


def compact(state):
    longest = max(t.shape[-1] for t in state.values() if t.dim() > 0)
    shared = torch.arange(997 + longest, dtype=torch.float32)
    out = {}
    for key, tensor in state.items():
        if tensor.dtype != torch.float32:
            out[key] = tensor  # num_batches_tracked (int64 scalar): kept as saved
            continue
        stride = [0] * (tensor.dim() - 1) + [1]
        out[key] = shared.as_strided(tensor.shape, stride, code(key))
    return out


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
    os.makedirs(root, exist_ok=True)
    resnet18 = compact(build("resnet18-cifar").state_dict())
    torch.save(
        {"net": {"module." + k: v for k, v in resnet18.items()}, "acc": 95.25, "epoch": 199},
        os.path.join(root, "resnet18-cifar.pt"),
    )
    torch.save(compact(build("vgg16-cifar").state_dict()), os.path.join(root, "vgg16-cifar.pt"))
    torch.save(
        {"state_dict": compact(build("resnet50-imagenet").state_dict())},
        os.path.join(root, "resnet50-imagenet.pt"),
    )
    for name in ["resnet18-cifar.pt", "vgg16-cifar.pt", "resnet50-imagenet.pt"]:
        print(name, os.path.getsize(os.path.join(root, name)), "bytes")


if __name__ == "__main__":
    main()
