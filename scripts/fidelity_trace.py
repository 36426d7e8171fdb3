"""Step-for-step reference traces of the SLR authors' CIFAR-10 pruning code, for the replay tests
(tests/integration/fidelity.rs) and reports/fidelity.md.

Mirrors GitHub Zhoushanglin100/SLR-ADMM-cifar10 at 8c1de3e, directory slr_pruning/ (cited below
as main.py and admm.py), read, not copied: every ingredient names the file and line it follows.
Run with PyPI's torch (`just torch-venv`):

    .venv-torch/bin/python scripts/fidelity_trace.py

Families (`base` channels in the first stage instead of 64, so that a fixture stays under 1 MB;
the code path is the paper's): `resnet18-cifar`, the authors' ResNet-18 with its max-pool stem
and Table 2's configuration; `resnet50-cifar`, the same stem with Bottleneck blocks; `vgg16-cifar`,
the authors' VGG-16 (slr_quantization/models/vgg.py). What runs, per family:

- the initial weights: torch.manual_seed(1) (main.py 248), the model and its initialisation
  (model/resnet.py 102-145: Kaiming-normal fan_out convolutions, BatchNorm 1/0, PyTorch's default
  Linear; VGG-16: PyTorch's defaults), saved as `<family>.pt`; every run starts from them (the
  harness's dense weights);
- `dense`: the authors' train() (main.py 120-192) without --admm-train: plain SGD steps;
- `slr` (--optimization savlr) and `admm` (--optimization admm, --admm-epochs 1): admm.ADMM
  (admm.py 22-97), admm_initialization (admm.py 458-469), the epoch loop with the scheduler
  stepped before each epoch (main.py 395-409), z_u_update at batch 0 of every epoch from the
  second (admm.py 472-654), append_admm_loss (admm.py 902-929), backward with the multipliers'
  graph kept (main.py 148), then hard_prune (admm.py 339-363) and test() (main.py 195-214);
- masked retraining as the second invocation of run.sh runs it: the trained weights reloaded, a
  fresh optimizer and scheduler (main.py 299-311), hard_prune (main.py 531), then per epoch
  scheduler.step() and masked_retrain (admm.py 1061-1120), test().

Names in the trace are ours (VGG-16's nn.Sequential positions mapped to `features.<i>.conv/bn`);
the `.pt` files keep PyTorch's, which `import = "x.pt"` reads. The data are the 20 real CIFAR-10
test images (data/cifar10-test20, `slr data fetch
cifar10-test20`) in file order, batches of 10, normalised as main.py 283-286 does and
without augmentation (a trace compares arithmetic, not random draws): the same images are the
training and the test set.

The authors' code runs on CUDA; on a CPU its weight_pruning (admm.py 156) aliases the live weights
through `.cpu().detach().numpy()` and prunes them in place. The trace copies instead, which is
what the GPU runs did (method.md section 3).
"""

import hashlib
import json
import os
import sys
import warnings

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402

# main.py steps its scheduler before the optimizer, on purpose here: PyTorch warns about it.
warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "fidelity")
DATA = os.path.join(ROOT, "data", "cifar10-test20", "test_batch_20.bin")

# main.py 34-116: the defaults the traces keep.
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.5, 5e-4
M, R, INITIAL_S, RHO = 300, 0.1, 0.01, 0.1
ETA_MIN = 4e-08  # main.py 311
BATCH = {"cifar10-test20": 10, "imagenet": 8}
TRAIN_EPOCHS = 3  # updates at the first batch of epochs 2 and 3
DENSE_EPOCHS = 2
RETRAIN_EPOCHS = 2
# main.py 283-286 (transform_test: ToTensor, Normalize).
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
BN_TRACED = {}  # torch module name -> ours, of the BatchNorms a trace records


def images():
    raw = np.fromfile(DATA, dtype=np.uint8).reshape(-1, 3073)
    labels = torch.tensor(raw[:, 0].astype(np.int64))
    x = torch.tensor(raw[:, 1:].reshape(-1, 3, 32, 32)).float() / 255.0
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std, labels


def batches(x, y, batch):
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, len(y), batch)]


# ImageNet's stand-in: generated PNGs in ImageFolder's layout, `val` a link to `train` (the same
# images train and test, as the CIFAR traces do), small sides so that Resize(256) upscales.
IMAGENET = os.path.join(OUT, "imagenet")
IMAGENET_SIZES = [(96, 80), (80, 112), (128, 96), (90, 90), (112, 84), (72, 100), (100, 75), (88, 120)]
IMAGENET_CLASSES = 4
# torchvision's ImageNet normalisation (references/classification/presets.py).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def imagenet_images():
    """Writes the images (deterministic), then reads them as the reference does: torchvision's
    ImageFolder (classes and files sorted) with the evaluation transform of its ImageNet recipe,
    ClassificationPresetEval (references/classification/presets.py): Resize(256),
    CenterCrop(224), ToTensor, Normalize. The evaluation view for training too: the training
    view's crop and flip are random draws, and a trace compares arithmetic (the training view's
    resampling is compared on its own, tests/integration/imagefolder.rs)."""
    from torchvision import datasets, transforms

    from imagefolder_reference import image

    for k, (w, h) in enumerate(IMAGENET_SIZES):
        folder = os.path.join(IMAGENET, "train", f"class{k % IMAGENET_CLASSES}")
        os.makedirs(folder, exist_ok=True)
        image(w, h, k).save(os.path.join(folder, f"image{k}.png"), optimize=True)
    val = os.path.join(IMAGENET, "val")
    if not os.path.lexists(val):
        os.symlink("train", val)
    view = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    folder = datasets.ImageFolder(os.path.join(IMAGENET, "train"), view)
    x = torch.stack([folder[i][0] for i in range(len(folder))])
    y = torch.tensor([folder[i][1] for i in range(len(folder))])
    return x, y


def authors_init(model):
    """model/resnet.py 141-146."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def torchvision_recipe(model):
    """torchvision's ImageNet recipe, the dense training experiments/table1.toml declares
    (pytorch/vision references/classification/train.py, main(): SGD over every parameter, lr 0.1,
    momentum 0.9, weight decay 1e-4, no Nesterov; StepLR(30, 0.1) stepped after each epoch)."""
    optimizer = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9, weight_decay=1e-4)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)


def optimizer_and_scheduler(model, epochs, steps):
    """main.py 299-303 and 311."""
    optimizer = torch.optim.SGD(
        model.parameters(), LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, nesterov=True
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=epochs * steps, eta_min=ETA_MIN
    )
    return optimizer, scheduler


def weight_pruning(weight, ratio):
    """admm.py 156-166, `irregular`: zero |w| below numpy's percentile at 100·ratio. Returns
    (mask of |w| above it, pruned copy, entries within 1e-6 relative of the threshold)."""
    w = weight.detach().clone().cpu().numpy()
    magnitude = np.abs(w)
    percentile = np.percentile(magnitude, ratio * 100)
    under = magnitude < percentile
    above = (magnitude > percentile).astype(np.float32)
    w[under] = 0
    ties = int(np.sum(np.abs(magnitude - percentile) <= 1e-6 * percentile))
    return torch.from_numpy(above), torch.from_numpy(w), ties


def digest(mask):
    """First 16 hex digits of the SHA-256 of a 0/1 mask as bytes, in row-major order."""
    bits = (mask.detach().numpy().reshape(-1) != 0).astype(np.uint8)
    return hashlib.sha256(bits.tobytes()).hexdigest()[:16]


def norm(t):
    return float(torch.sqrt(torch.sum(t.detach().double() ** 2)))


class Admm:
    """admm.py 22-97 (the class serves SLR too) and 458-469 (admm_initialization)."""

    def __init__(self, model, ratios, slr):
        self.slr = slr
        self.ratios = ratios
        self.rho = RHO
        self.ce = self.ce_prev = 0.0
        params = dict(model.named_parameters())
        self.U = {n: torch.zeros(params[n].shape) for n in ratios}
        self.Z = {}
        self.W_prev = {n: torch.zeros(params[n].shape) for n in ratios}
        self.Z_prev = {n: torch.zeros(params[n].shape) for n in ratios}
        self.Lambda = {n: torch.zeros(params[n].shape) for n in ratios}
        self.s, self.k = INITIAL_S, 1
        self.ties = {}
        for name in ratios:
            _, self.Z[name], self.ties[name] = weight_pruning(params[name], ratios[name])

    def lagrangian(self, model, first):
        """admm.py 855-900 (Lagrangian1, `first`) and 806-853 (Lagrangian2)."""
        lag, lag2 = self.ce, self.ce_prev
        for name, W in model.named_parameters():
            if name not in self.ratios:
                continue
            U = self.Lambda[name] / self.rho
            u_term = 0.5 * self.rho * torch.norm(U, p=2) ** 2
            if first:
                cur = 0.5 * self.rho * torch.norm(W - self.Z_prev[name] + U, p=2) ** 2
                prev = 0.5 * self.rho * torch.norm(self.W_prev[name] - self.Z_prev[name] + U, p=2) ** 2
            else:
                cur = 0.5 * self.rho * torch.norm(W - self.Z[name] + U, p=2) ** 2
                prev = 0.5 * self.rho * torch.norm(W - self.Z_prev[name] + U, p=2) ** 2
            lag = lag + u_term + cur
            lag2 = lag2 + u_term + prev
        return 1 if lag < lag2 else 0

    def z_u_update(self, model, epoch, batch_idx):
        """admm.py 472-654; returns what the update did, or None."""
        if epoch == 1 or batch_idx != 0:
            return None
        named = [(n, W) for n, W in model.named_parameters() if n in self.ratios]
        if not self.slr:
            # admm.py 481-500 (with `admm_epoch` = 1: admm.py reads args.admm_epoch, which
            # main.py never defines, so --optimization admm needs it added to run at all).
            for name, W in named:
                _, self.Z[name], self.ties[name] = weight_pruning(W + self.U[name], self.ratios[name])
                self.U[name] = W - self.Z[name] + self.U[name]
            return {"masks": self.masks()}
        # Step 1: admm.py 515-574.
        pow_ = 1 - (1 / (self.k**R))
        alpha = 1 - (1 / (M * (self.k**pow_)))
        n1 = sum(norm(self.W_prev[n] - self.Z_prev[n]) for n, _ in named)
        n2 = sum(norm(W - self.Z_prev[n]) for n, W in named)
        cond1 = self.lagrangian(model, first=True)
        if cond1 == 1 or self.k == 1:
            self.k += 1
            if n1 != 0 and n2 != 0:
                self.s = alpha * (self.s * n1 / n2)
            for name, W in named:
                self.Lambda[name] = self.s * (W - self.Z_prev[name]) + self.Lambda[name]
                self.W_prev[name] = W  # a reference to the live weights (admm.py 564)
                self.Z_prev[name] = self.Z[name]
                self.U[name] = self.Lambda[name] / self.rho
        else:
            for name, _ in named:
                self.U[name] = self.Lambda[name] / self.rho
        # Step 2: admm.py 578-654.
        n1 = n2 = 0.0
        for name, W in named:
            _, self.Z[name], self.ties[name] = weight_pruning(W + self.U[name], self.ratios[name])
            n1 += norm(self.W_prev[name] - self.Z_prev[name])
            n2 += norm(W - self.Z[name])
        cond2 = self.lagrangian(model, first=False)
        if cond2 == 1 or self.k == 1:
            pow_ = 1 - (1 / (self.k**R))
            alpha2 = 1 - (1 / (M * (self.k**pow_)))
            self.k += 1
            if n1 != 0 and n2 != 0:
                self.s = alpha2 * (self.s * n1 / n2)
            for name, W in named:
                self.Lambda[name] = self.s * (W - self.Z[name]) + self.Lambda[name]
                self.W_prev[name] = W
                self.Z_prev[name] = self.Z[name]
                self.U[name] = self.Lambda[name] / self.rho
        else:
            for name, _ in named:
                self.U[name] = self.Lambda[name] / self.rho
        return {
            "alpha": alpha,
            "cond1": cond1,
            "cond2": cond2,
            "k": self.k,
            "s": self.s,
            "masks": self.masks(),
        }

    def masks(self):
        return {
            name: {"kept": int((z != 0).sum()), "digest": digest(z), "ties": self.ties[name]}
            for name, z in self.Z.items()
        }

    def penalty(self, model):
        """admm.py 915-928."""
        total = 0
        for name, W in model.named_parameters():
            if name in self.ratios:
                total = total + 0.5 * self.rho * torch.norm(W - self.Z[name] + self.U[name], p=2) ** 2
        return total


def bn_state(model):
    modules = dict(model.named_modules())
    return {
        ours: {
            "running_mean": modules[name].running_mean.tolist(),
            "running_var": modules[name].running_var.tolist(),
        }
        for name, ours in BN_TRACED.items()
    }


def layer_norms(model, ratios, admm):
    out = {}
    for name, W in model.named_parameters():
        if name not in ratios:
            continue
        entry = {"w": norm(W)}
        if admm is not None:
            entry["w_minus_z"] = norm(W - admm.Z[name])
            entry["u"] = norm(admm.U[name])
        out[name] = entry
    return out


def test(model, x, y):
    """main.py 195-214 (one batch: the test batch size is 1000)."""
    model.eval()
    with torch.no_grad():
        correct = int((model(x).max(1)[1] == y).sum())
    return 100.0 * correct / len(y)


def train(model, data, epochs, ratios, batch, admm=None, masks=None, recipe="authors"):
    """main.py 395-409 with train() (main.py 120-192), or the retraining loop (main.py 544-555
    with masked_retrain, admm.py 1061-1120) when `masks` is given; with `recipe="torchvision"`
    the dense loop of torchvision's train.py (train_one_epoch: forward, zero_grad, backward,
    step; the scheduler stepped after each epoch). Returns the step records and the updates."""
    x, y = data
    loader = batches(x, y, batch)
    if recipe == "torchvision":
        optimizer, scheduler = torchvision_recipe(model)
    else:
        optimizer, scheduler = optimizer_and_scheduler(model, epochs if masks is None else TRAIN_EPOCHS, len(loader))
    criterion = nn.CrossEntropyLoss()
    steps, updates = [], []
    for epoch in range(1, epochs + 1):
        if recipe != "torchvision":
            scheduler.step()  # main.py 402 / 546: before the epoch's first step
        model.train()
        if masks is not None:
            # admm.py 1071-1076: masks from the weights' non-zero pattern (their percentile).
            for name, W in model.named_parameters():
                if name in ratios:
                    masks[name], _, _ = weight_pruning(W, ratios[name])
        total_ce, ctr = 0.0, 0
        for batch_idx, (data_x, target) in enumerate(loader):
            ctr += 1
            optimizer.zero_grad()
            output = model(data_x)
            ce = criterion(output, target)
            total_ce += float(ce.item())
            update = None
            if admm is not None:
                update = admm.z_u_update(model, epoch, batch_idx)
                loss = ce + admm.penalty(model)
                loss.backward(retain_graph=True)
            else:
                loss = ce
                loss.backward()
            if masks is not None:
                for name, W in model.named_parameters():
                    if name in masks:
                        W.grad *= masks[name]
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            if update is not None:
                updates.append({"epoch": epoch, **update})
            steps.append(
                {
                    "epoch": epoch,
                    "step": batch_idx,
                    "lr": lr,
                    "ce": float(ce.detach()),
                    "loss": float(loss.detach()),
                    "layers": layer_norms(model, ratios, admm),
                    "bn": bn_state(model),
                }
            )
        if admm is not None:
            # main.py 189-190: the mean over batches, not over examples.
            admm.ce_prev, admm.ce = admm.ce, total_ce / ctr
        if recipe == "torchvision":
            scheduler.step()  # train.py main(): after train_one_epoch
        steps[-1]["test_acc"] = test(model, x, y)
    return steps, updates


def hard_prune(model, ratios):
    """admm.py 339-363 (ratio from the config, W.data replaced)."""
    masks = {}
    with torch.no_grad():
        for name, W in model.named_parameters():
            if name in ratios:
                _, pruned, ties = weight_pruning(W, ratios[name])
                W.data = pruned
                masks[name] = {"kept": int((pruned != 0).sum()), "digest": digest(pruned), "ties": ties}
    return masks


def save_weights(model, path):
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, path)


def our_name(model, name, rename):
    """Our name of the PyTorch tensor `name` (BatchNorm weight/bias are gamma/beta, a
    downsample's 0/1 are conv/bn, VGG's positions mapped by `rename`)."""
    module, leaf = name.rsplit(".", 1)
    if isinstance(dict(model.named_modules())[module], nn.BatchNorm2d):
        leaf = {"weight": "gamma", "bias": "beta"}.get(leaf, leaf)
    ours = rename.get(module, module).replace("downsample.0", "downsample.conv")
    return ours.replace("downsample.1", "downsample.bn") + "." + leaf


# The raw files' element types, by the name a trace gives them.
RAW = {"float32": "<f4", "float64": "<f8"}


def save_final(model, rename, path, dtype="<f4"):
    """Every float tensor of the model as raw little-endian `dtype` (float32 unless given) in
    one file, in our names (BatchNorm weight/bias are gamma/beta, a downsample's 0/1 are
    conv/bn, Linear weights transposed to burn's [in, out]); returns the index
    [[name, element count], ...] the trace keeps. Raw bytes, not a `.pt`: the replay compares
    values, and needs no reader of PyTorch's zip files for it."""
    modules = dict(model.named_modules())
    index, chunks = [], []
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue  # num_batches_tracked
        module = modules[name.rsplit(".", 1)[0]]
        if isinstance(module, nn.Linear) and name.endswith(".weight"):
            tensor = tensor.t().contiguous()  # burn's Linear keeps [in, out]
        index.append([our_name(model, name, rename), tensor.numel()])
        chunks.append(tensor.detach().reshape(-1).numpy().astype(dtype).tobytes())
    with open(path, "wb") as f:
        f.write(b"".join(chunks))
    return index


def block_convs(model):
    """The convolutions inside the residual blocks (`layerX.Y.convZ`): what the authors'
    ResNet-18 configuration prunes, and the rule method.md section 7 gives the other models."""
    return [n for n, p in model.named_parameters() if n.startswith("layer") and ".conv" in n]


def family_resnet18(base):
    """The authors' ResNet-18 (model/resnet.py, their initialisation 141-146) and the Table 2
    configuration profile/config_resnet18_0.9.yaml: the 16 block convolutions at 0.9."""
    model = torch_models.build("resnet18-cifar", base=base)
    authors_init(model)
    return model, {n: 0.9 for n in block_convs(model)}, {}, {"bn1": "bn1", "layer4.1.bn2": "layer4.1.bn2"}


def family_resnet50(base):
    """ResNet-50 with the authors' stem and initialisation (model/resnet.py 59-99, 141-146; no
    configuration file is published): the 48 block convolutions at 0.9 (method.md 7)."""
    model = torch_models.build("resnet50-cifar", base=base)
    authors_init(model)
    return model, {n: 0.9 for n in block_convs(model)}, {}, {"bn1": "bn1", "layer4.2.bn3": "layer4.2.bn3"}


def family_vgg16(base):
    """The authors' VGG-16 (slr_quantization/models/vgg.py: PyTorch's default initialisation, no
    init loop): every convolution except the first at 0.9 (method.md 7). Names are mapped from
    their nn.Sequential positions to ours (`features.<conv index>.conv` / `.bn`)."""
    model = torch_models.build("vgg16-cifar", base=base)
    rename, conv = {}, 0
    for name, module in model.features.named_children():
        if isinstance(module, nn.Conv2d):
            rename[f"features.{name}.weight"] = f"features.{conv}.conv.weight"
            rename[f"features.{name}"] = f"features.{conv}.conv"
        elif isinstance(module, nn.BatchNorm2d):
            rename[f"features.{name}"] = f"features.{conv}.bn"
            conv += 1
    convs = [n for n, p in model.named_parameters() if n.startswith("features") and p.dim() == 4]
    traced_bn = {"features.1": rename["features.1"], "features.41": rename["features.41"]}
    return model, {n: 0.9 for n in convs[1:]}, rename, traced_bn


def torchvision_resnet(kind, base):
    """torchvision's ResNet (torchvision/models/resnet.py), written out in torch_models with
    `base` channels instead of 64 and IMAGENET_CLASSES outputs; at 64 channels and 1000
    classes it is torchvision's own, checked here each time: the same state-dict names and
    shapes, and the same output for torchvision's weights. Initialisation as ResNet.__init__
    does it: Kaiming-normal fan_out convolutions, BatchNorm 1/0, zero_init_residual off, the
    fc layer PyTorch's default (the same loop as the authors', authors_init)."""
    import torchvision

    reference = getattr(torchvision.models, kind.split("-")[0])()
    full = torch_models.build(kind)
    assert {k: v.shape for k, v in full.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }
    full.load_state_dict(reference.state_dict())
    probe = torch.randn(1, 3, 224, 224)
    full.eval(), reference.eval()
    assert torch.equal(full(probe), reference(probe))
    model = torch_models.build(kind, base=base, classes=IMAGENET_CLASSES)
    authors_init(model)
    return model


def family_resnet18_imagenet(base):
    """torchvision's ResNet-18 under experiments/table1.toml: its rows prune the block
    convolutions (`default_prunable`) uniformly; the trace takes 0.7."""
    model = torchvision_resnet("resnet18-imagenet", base)
    return model, {n: 0.7 for n in block_convs(model)}, {}, {"bn1": "bn1", "layer4.1.bn2": "layer4.1.bn2"}


def family_resnet50_imagenet(base):
    """torchvision's ResNet-50 under experiments/table1.toml, block convolutions at 0.7."""
    model = torchvision_resnet("resnet50-imagenet", base)
    return model, {n: 0.7 for n in block_convs(model)}, {}, {"bn1": "bn1", "layer4.2.bn3": "layer4.2.bn3"}


# family: (model and its pruned layers, channels in the first stage instead of 64, precision,
# data set, dense recipe).
# VGG-16 and ResNet-50 run in float64: in float32 their first steps already hold a ReLU input
# so close to 0 (1.3e-5 in ResNet-50's layer3.3.bn2, scripts/fidelity_tie.py) that two correct
# implementations, summing in different orders, decide it differently, and the trajectories
# part. In float64 no decision is that close, so a departure is a difference in the algorithm.
# The initial weights are drawn and saved in float32 either way (the same values in both).
# The ImageNet ResNets run in float64 as well: 224x224 inputs hold millions of activations per
# batch, and in float32 the replays left their traces within the first steps (ResNet-18: the
# loss agreed to 8e-8 at the first step and was 4.7e-4 off at the second; ResNet-50: the weights
# after the first step, 5e-4), the jump of a decision at a near-tie, not accumulated rounding.
# One batch of all 8 images per epoch: with batches of 4, ResNet-50's float64 difference grew
# a thousandfold per step (1e-15 to 3e-8 in four steps, then a jump at the fifth); with 8 it
# grows about a hundredfold, and the traced steps stay comparable.
FAMILIES = {
    "resnet18-cifar": (family_resnet18, 4, torch.float32, "cifar10-test20", "authors"),
    "vgg16-cifar": (family_vgg16, 4, torch.float64, "cifar10-test20", "authors"),
    "resnet50-cifar": (family_resnet50, 4, torch.float64, "cifar10-test20", "authors"),
    "resnet18-imagenet": (family_resnet18_imagenet, 4, torch.float64, "imagenet", "torchvision"),
    "resnet50-imagenet": (family_resnet50_imagenet, 4, torch.float64, "imagenet", "torchvision"),
}


def renamed(obj, rename):
    """`obj` with every dict key that `rename` maps replaced (PyTorch's names -> ours)."""
    if isinstance(obj, dict):
        return {rename.get(k, k): renamed(v, rename) for k, v in obj.items()}
    if isinstance(obj, list):
        return [renamed(v, rename) for v in obj]
    return obj


def trace_family(name):
    build, base, dtype, dataset, dense_recipe = FAMILIES[name]
    batch = BATCH[dataset]
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(1)
    model, ratios, rename, traced_bn = build(base)
    BN_TRACED.clear()
    BN_TRACED.update(traced_bn)
    os.makedirs(OUT, exist_ok=True)
    init_path = os.path.join(OUT, f"{name}.pt")
    save_weights(model, init_path)
    # Everything after the initial weights in the family's precision: the model, the batches
    # (normalised in float32 as torchvision's transforms do, then converted) and the Z, U, Λ
    # buffers (torch.zeros takes the default dtype).
    pixels = images() if dataset == "cifar10-test20" else imagenet_images()
    data = tuple(t.to(dtype) if t.is_floating_point() else t for t in pixels)
    torch.set_default_dtype(dtype)
    model.to(dtype)
    trace = {
        "family": name,
        "base": base,
        "dtype": str(dtype).removeprefix("torch."),
        "reference": "Zhoushanglin100/SLR-ADMM-cifar10@8c1de3e slr_pruning"
        + ("" if dataset == "cifar10-test20" else "; torchvision 0.26 (model, inputs, dense recipe)"),
        "torch": torch.__version__,
        "dataset": dataset,
        "classes": int(data[1].max()) + 1,
        "batch": batch,
        "ratios": ratios,
        "optimizer": {"lr": LR, "momentum": MOMENTUM, "weight_decay": WEIGHT_DECAY, "nesterov": True},
        "schedule": {"kind": "reference-cosine", "eta_min": ETA_MIN},
        "runs": {},
    }
    for method in ["dense", "slr", "admm"]:
        torch.manual_seed(1)
        model.load_state_dict(torch.load(init_path))
        if method == "dense":
            steps, _ = train(model, data, DENSE_EPOCHS, ratios, batch, recipe=dense_recipe)
            trace["runs"][method] = {"epochs": DENSE_EPOCHS, "steps": steps}
            if dense_recipe == "torchvision":
                trace["runs"][method]["optimizer"] = {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "nesterov": False}
                trace["runs"][method]["schedule"] = {"kind": "step", "step_size": 30, "gamma": 0.1}
            continue
        admm = Admm(model, ratios, slr=method == "slr")
        initial = admm.masks()
        steps, updates = train(model, data, TRAIN_EPOCHS, ratios, batch, admm=admm)
        trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
        # run.sh's second invocation starts from the saved model: so does the replay's
        # retraining, in the family's precision (a difference rounded away here would grow
        # step by step, as every difference does in training).
        trained_file = os.path.join(OUT, f"{name}.{method}.trained.bin")
        trained_dtype = "float64" if dtype == torch.float64 else "float32"
        trained_index = save_final(model, rename, trained_file, RAW[trained_dtype])
        hard = hard_prune(model, ratios)
        hard_acc = test(model, *data)
        # run.sh's second invocation: the trained (unpruned) weights reloaded, pruned again.
        model.load_state_dict(trained)
        hard_prune(model, ratios)
        retrain_steps, _ = train(model, data, RETRAIN_EPOCHS, ratios, batch, masks={})
        final = os.path.join(OUT, f"{name}.{method}.final.bin")
        final_index = save_final(model, rename, final)
        trace["runs"][method] = {
            "epochs": TRAIN_EPOCHS,
            "initial_masks": initial,
            "steps": steps,
            "updates": updates,
            "trained_weights": {
                "file": os.path.basename(trained_file),
                "dtype": trained_dtype,
                "tensors": trained_index,
            },
            "hard_prune": {"masks": hard, "test_acc": hard_acc},
            "retrain": {"epochs": RETRAIN_EPOCHS, "steps": retrain_steps},
            "final_weights": {"file": os.path.basename(final), "dtype": "float32", "tensors": final_index},
        }
    trace["bn_layers"] = list(traced_bn.values())
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(renamed(trace, rename), f, indent=1)
        f.write("\n")
    torch.set_default_dtype(torch.float32)
    for file in sorted(os.listdir(OUT)):
        if file.startswith(name + "."):
            print(file, os.path.getsize(os.path.join(OUT, file)), "bytes")


if __name__ == "__main__":
    for family in sys.argv[1:] or list(FAMILIES):
        trace_family(family)
