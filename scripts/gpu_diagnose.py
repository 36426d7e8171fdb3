"""Two causes behind scripts/gpu-check.sh's findings, measured in PyTorch on the same GPU:

1. Convolution weight gradients. burn 0.22.1's tch backend does not implement
   `conv2d_weight_backward`; burn's generic fallback (burn-backend
   src/backend/ops/modules/conv.rs, `conv2d_weight_grad_no_groups`) computes it as a forward
   convolution of the input with batch and channels swapped, using the output gradient as the
   kernel (a 416x416 kernel for YOLOv3-tiny's first layer). For every convolution of the model
   this times that formulation against libtorch's own weight gradient
   (`aten.convolution_backward`, what PyTorch's autograd runs), on the model's real shapes.
2. The gradient check's error against the CPU. PyTorch's own CUDA gradients of the same
   ResNet-18, weights and batch against its CPU gradients, with cuDNN's TF32 convolutions on
   (libtorch's default) and off: the largest relative error per parameter, as `slr perf` reports.

    python3 scripts/gpu_diagnose.py --json diagnose.json
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def conv_shapes(model, images):
    """(input, weight, stride, padding) of every Conv2d in one forward pass."""
    found = []

    def hook(module, inputs, _output):
        found.append((inputs[0].detach(), module.weight.detach(), module.stride, module.padding))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(images)
    for h in handles:
        h.remove()
    return found


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, repeat=5):
    fn()
    sync()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync()
    return (time.perf_counter() - start) * 1e3 / repeat


def weight_grads(model, images):
    """Per convolution: ms of libtorch's weight gradient and of burn's generic one, and their
    largest relative difference."""
    rows = []
    for x, w, stride, padding in conv_shapes(model, images):
        out = F.conv2d(x, w, None, stride, padding)
        grad = torch.randn_like(out)

        def native():
            return torch.ops.aten.convolution_backward(
                grad, x, w, None, stride, padding, (1, 1), False, (0, 0), 1, (False, True, False)
            )[1]

        def generic():
            g = F.conv2d(x.transpose(0, 1), grad.transpose(0, 1), None, (1, 1), padding, stride)
            return g.transpose(0, 1)[:, :, : w.shape[2], : w.shape[3]]

        a, b = native(), generic()
        rows.append({
            "input": list(x.shape), "weight": list(w.shape), "stride": stride[0],
            "native_ms": timed(native), "generic_ms": timed(generic),
            "rel_diff": ((a - b).norm() / a.norm()).item(),
        })
    return rows


def grad_errors(build, batch=16, seed=1):
    torch.manual_seed(seed)
    model = build("resnet18-cifar").train()
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, 32, 32, generator=gen) * 2 - 1
    labels = torch.randint(0, 10, (batch,), generator=gen)

    def grads(device):
        m = build("resnet18-cifar").to(device).train()
        m.load_state_dict(model.state_dict())
        loss = F.cross_entropy(m(images.to(device)), labels.to(device))
        loss.backward()
        return loss.item(), {n: p.grad.double().cpu() for n, p in m.named_parameters()}

    cpu_loss, cpu = grads("cpu")
    result = {}
    for tf32 in (True, False):
        torch.backends.cudnn.allow_tf32 = tf32
        loss, cuda = grads("cuda")
        errors = {n: ((cuda[n] - cpu[n]).norm() / cpu[n].norm()).item() for n in cpu}
        worst = max(errors, key=errors.get)
        result[f"tf32_{'on' if tf32 else 'off'}"] = {
            "loss_rel_err": abs(loss - cpu_loss) / abs(cpu_loss),
            "grad_rel_err_max": errors[worst], "grad_worst": worst,
        }
    torch.backends.cudnn.allow_tf32 = True
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--scale", type=int, default=1, help="divide batches and sides (CPU dry run)")
    args = parser.parse_args()
    from torch_models import build
    import yolo_reference

    dev = torch.device(args.device)
    torch.manual_seed(1)
    result = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", "torch": torch.__version__, "weight_grads": {}}
    for kind, batch, side in (("resnet18-cifar", 128, 32), ("yolov3-tiny", 16, 416)):
        batch, side = batch // args.scale, max(32, side // args.scale // 32 * 32)
        if kind == "yolov3-tiny":
            model = yolo_reference.Darknet(yolo_reference.yolov3_tiny(80))
        else:
            model = build(kind)
        model = model.to(dev).train()
        rows = weight_grads(model, torch.rand(batch, 3, side, side, device=dev))
        result["weight_grads"][kind] = rows
        native, generic = sum(r["native_ms"] for r in rows), sum(r["generic_ms"] for r in rows)
        worst = max(rows, key=lambda r: r["generic_ms"] - r["native_ms"])
        print(f"{kind} batch {batch}: {len(rows)} convolutions, weight gradients {native:.2f} ms "
              f"(libtorch) vs {generic:.2f} ms (burn's generic); worst: input {worst['input']}, "
              f"weight {worst['weight']}: {worst['native_ms']:.2f} vs {worst['generic_ms']:.2f} ms; "
              f"largest relative difference {max(r['rel_diff'] for r in rows):.1e}")
    if dev.type != "cuda":
        return
    result["grad_check"] = grad_errors(build)
    for key, r in result["grad_check"].items():
        print(f"PyTorch cuda vs cpu, ResNet-18 batch 16, cuDNN {key}: loss rel. err "
              f"{r['loss_rel_err']:.2e}, max grad rel. err {r['grad_rel_err_max']:.2e} ({r['grad_worst']})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
