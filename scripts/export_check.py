"""Loads an `slr export` file into the PyTorch model of scripts/torch_models.py and evaluates
it on the same test images slr evaluated, printing JSON.

Usage: python scripts/export_check.py FILE MODEL --idx IMAGES LABELS | --cifar FILE
           --mean M [M ...] --std S [S ...] [--limit N]
           [--logits K]
Output: {"accuracy": %, "images": n, "masks": n, "masks_match": bool, "metadata": {...},
         "logits": the first K images' logits}

The model is loaded with `load_state_dict(strict=True)` after the `*_mask` entries are taken
out (they are `torch.nn.utils.prune`'s names); each mask must equal its weight's non-zeros.
Pixels are normalised as slr does, in float32: (p / 255 - mean) / std. Needs torch, numpy and
safetensors (`just torch-venv`); the integration test `export::...` calls it.
"""

import argparse
import gzip
import json
import os
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(__file__))
from torch_models import build  # noqa: E402


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def idx(images, labels):
    raw = read(images)
    n, rows, cols = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
    x = np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, rows, cols)
    y = np.frombuffer(read(labels), np.uint8, offset=8)
    return x, y


def cifar(path):
    raw = np.frombuffer(read(path), np.uint8).reshape(-1, 3073)
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("model")
    parser.add_argument("--idx", nargs=2)
    parser.add_argument("--cifar")
    parser.add_argument("--mean", nargs="+", type=float, required=True)
    parser.add_argument("--std", nargs="+", type=float, required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--logits", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with safe_open(args.file, "pt") as f:
        metadata = f.metadata()
    state = load_file(args.file)
    masks = {k: state.pop(k) for k in list(state) if k.endswith("_mask")}
    model = build(args.model)
    model.load_state_dict(state, strict=True)
    model.eval()
    masks_match = all(
        torch.equal(mask.bool(), state[name[: -len("_mask")]] != 0) for name, mask in masks.items()
    )
    x, y = idx(*args.idx) if args.idx else cifar(args.cifar)
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    mean = np.array(args.mean, np.float32).reshape(1, -1, 1, 1)
    std = np.array(args.std, np.float32).reshape(1, -1, 1, 1)
    inputs = (x.astype(np.float32) / np.float32(255.0) - mean) / std
    correct, first = 0, []
    with torch.no_grad():
        for start in range(0, len(inputs), 500):
            logits = model(torch.from_numpy(np.ascontiguousarray(inputs[start : start + 500])))
            correct += int((logits.argmax(1).numpy() == y[start : start + 500]).sum())
            first += logits[: max(0, args.logits - len(first))].tolist()
    print(
        json.dumps(
            {
                "accuracy": 100.0 * correct / len(y),
                "images": len(y),
                "masks": len(masks),
                "masks_match": masks_match,
                "metadata": metadata,
                "logits": first,
            }
        )
    )


if __name__ == "__main__":
    main()
