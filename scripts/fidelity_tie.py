"""Where the ResNet-50 replay leaves its trace (reports/fidelity.md, "Open"): the gradients of the
first batch with and without one ReLU decision flipped.

The trace's ResNet-50 (scripts/fidelity_trace.py, `resnet50-cifar.pt`) in training mode on all 20
images: every parameter's gradient norm as PyTorch computes it, and again with the sign of the
smallest output of `layer3.3.bn2` flipped (a forward hook), so that the ReLU after it decides
the other way. Writes tests/fixtures/fidelity/resnet50-cifar.tie.json, in our parameter names;
tests/integration/fidelity.rs shows that our gradients are the flipped ones.

    .venv-torch/bin/python scripts/fidelity_tie.py
"""

import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fidelity_trace as ft  # noqa: E402

LAYER = "layer3.3.bn2"


def gradient_norms(model, x, y, flip):
    handle = None
    smallest = {}
    if flip:
        def hook(module, inputs, output):
            flat = output.clone().flatten()
            k = int(flat.abs().argmin())
            smallest["value"] = float(flat[k].detach())
            flat[k] = -flat[k]
            return flat.view_as(output)

        handle = dict(model.named_modules())[LAYER].register_forward_hook(hook)
    ce = nn.CrossEntropyLoss()(model(x), y)
    grads = torch.autograd.grad(ce, list(model.parameters()))
    if handle is not None:
        handle.remove()
    norms = {
        ft.our_name(model, name, {}): float(g.double().norm())
        for (name, _), g in zip(model.named_parameters(), grads)
    }
    return norms, smallest.get("value")


def main():
    torch.manual_seed(1)
    model, _, _, _ = ft.family_resnet50(4)
    model.load_state_dict(torch.load(os.path.join(ft.OUT, "resnet50-cifar.pt")))
    model.train()
    x, y = ft.images()
    plain, _ = gradient_norms(model, x, y, flip=False)
    flipped, value = gradient_norms(model, x, y, flip=True)
    out = {"layer": LAYER, "flipped_value": value, "plain": plain, "flipped": flipped}
    path = os.path.join(ft.OUT, "resnet50-cifar.tie.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(path, "flipped", value)


if __name__ == "__main__":
    main()
