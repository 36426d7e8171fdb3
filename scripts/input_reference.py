"""Times the reference training input pipelines, torchvision's / PyTorch's `DataLoader` with each
reference's own Dataset and transforms, on the files scripts/input_files.py writes: the other
half of `slr perf --input` (scripts/bench-input.py runs both and compares).

    .venv-torch/bin/python scripts/input_reference.py --data-root DIR \
        --dataset {imagenet,cifar10-test20,coco2014,tusimple} [--batch 32] [--batches 8] \
        [--warmup 2] [--workers 1,2] [--json OUT]

For each worker count k: `DataLoader(dataset, batch_size=B, sampler=..., num_workers=k)` with
the reference's collate function, `pin_memory=False`; the sampler visits indices i % len for i in
0 .. (W + N) * B, so every worker count (and slr) decodes the same images in the same order. The
first W batches are not timed (they include starting the workers); the next N are, and images/s
is N * B over their seconds. torch uses one thread in the main process (`torch.set_num_threads(1)`)
as DataLoader sets it in each worker; OpenCV, which the detection augmentation uses, gets one
thread too (`cv2.setNumThreads(1)`), so k workers use k cores. Writes
`{"dataset", "batch", "batches", "warmup", "rates": [{"workers", "images_per_s", "per_worker"}]}`.

The pipelines (each training path as its reference builds it; file and line cited at each part):

- imagenet: pytorch/examples imagenet/main.py (the ImageNet recipe): `ImageFolder(train)` with
  RandomResizedCrop(224), RandomHorizontalFlip(), ToTensor(), Normalize(ImageNet), default collate;
- cifar10-test20: torchvision's CIFAR10 Dataset (records as PIL images) over the 20 records of
  test_batch_20.bin, with the SLR authors' training transforms (Zhoushanglin100/SLR-ADMM-cifar10
  main.py): RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(), Normalize with the
  CIFAR constants of src/catalog/dataset.rs (CIFAR_NORM);
- coco2014: eriklindernoren/PyTorch-YOLOv3 at 1d621c8, `ListDataset` (utils/datasets.py) with
  AUGMENTATION_TRANSFORMS (utils/augmentations.py: AbsoluteLabels, DefaultAug, PadSquare,
  RelativeLabels, ToTensor) and its collate_fn (resize to 416, nearest; multiscale off, train.py's
  default). imgaug does not install with numpy 2, so DefaultAug's five augmenters are written out
  below with the OpenCV calls imgaug 0.4 makes for uint8 images (class DefaultAug);
- tusimple: cfzd/Ultra-Fast-Lane-Detection at 353df10, `LaneClsDataset` (data/dataset.py) as
  get_train_loader builds it for TuSimple (data/dataloader.py 9-46: simu_transform RandomRotate(6),
  RandomUDoffsetLABEL(100), RandomLROffsetLABEL(200); Resize((288, 800)), ToTensor, Normalize;
  segment_transform FreeScaleMask((36, 100)), MaskToTensor; griding_num 100, use_aux), reading the
  label PNGs and train_gt.txt that input_files.py writes as convert_tusimple.py would.
"""

import argparse
import json
import os
import random
import sys
import time
import warnings

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lane_augment_reference  # noqa: E402  (UFLD's offsets, the reference's own code)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# src/catalog/dataset.rs CIFAR_NORM (the SLR authors' constants).
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
DATASETS = ["imagenet", "cifar10-test20", "coco2014", "tusimple"]


class Cycle(Sampler):
    """Indices i % length for i in 0 .. total: the same images in the same order as
    `slr perf --input` (batch b holds examples b * B .. cycling over the split)."""

    def __init__(self, length, total):
        self.length, self.total = length, total

    def __iter__(self):
        return (i % self.length for i in range(self.total))

    def __len__(self):
        return self.total


def worker_init(worker_id):
    """PyTorch-YOLOv3's worker_seed_set (utils/utils.py 26-40: numpy and random seeded from
    torch's per-worker seed; harmless for the others) and one OpenCV thread per worker."""
    cv2.setNumThreads(1)
    seed = torch.initial_seed()
    np.random.seed(np.random.SeedSequence([seed]).generate_state(4))
    random.seed(seed % 2**32)


# ---------------------------------------------------------------------------------------------
# imagenet and cifar10-test20


def imagenet(root):
    """pytorch/examples imagenet/main.py: the training ImageFolder and its transforms."""
    from torchvision import datasets, transforms

    normalize = transforms.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)
    dataset = datasets.ImageFolder(
        os.path.join(root, "imagenet", "train"),
        transforms.Compose([
            transforms.RandomResizedCrop(224),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalize,
        ]))
    return dataset, None


class Cifar20(Dataset):
    """torchvision.datasets.CIFAR10 (cifar.py: records stacked, reshaped to N x 3 x 32 x 32 and
    transposed to N x 32 x 32 x 3; __getitem__ makes a PIL image and applies the transform) over
    the records of one CIFAR binary file (a label byte, then 3072 bytes R, G, B planes)."""

    def __init__(self, path, transform):
        raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
        self.targets = [int(t) for t in raw[:, 0]]
        self.data = np.ascontiguousarray(raw[:, 1:].reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1)))
        self.transform = transform

    def __getitem__(self, index):
        img, target = Image.fromarray(self.data[index]), self.targets[index]
        return self.transform(img), target

    def __len__(self):
        return len(self.data)


def cifar(root):
    """The SLR authors' CIFAR training transforms (SLR-ADMM-cifar10 main.py)."""
    from torchvision import transforms

    return Cifar20(os.path.join(root, "cifar10-test20", "test_batch_20.bin"), transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
    ])), None


# ---------------------------------------------------------------------------------------------
# coco2014: PyTorch-YOLOv3 (1d621c8) with DefaultAug written out in OpenCV as imgaug 0.4 runs it


def xywh2xyxy_np(x):
    """utils/utils.py xywh2xyxy_np."""
    y = np.zeros_like(x)
    y[..., 0] = x[..., 0] - x[..., 2] / 2
    y[..., 1] = x[..., 1] - x[..., 3] / 2
    y[..., 2] = x[..., 0] + x[..., 2] / 2
    y[..., 3] = x[..., 1] + x[..., 3] / 2
    return y


# imgaug's WithBrightnessChannels (AddToBrightness's default to_colorspace): per image one of six
# colour spaces, chosen at random, and its brightness channel.
BRIGHTNESS_SPACES = [
    (cv2.COLOR_RGB2YCrCb, cv2.COLOR_YCrCb2RGB, 0),
    (cv2.COLOR_RGB2HSV, cv2.COLOR_HSV2RGB, 2),
    (cv2.COLOR_RGB2HLS, cv2.COLOR_HLS2RGB, 1),
    (cv2.COLOR_RGB2Lab, cv2.COLOR_Lab2RGB, 0),
    (cv2.COLOR_RGB2Luv, cv2.COLOR_Luv2RGB, 0),
    (cv2.COLOR_RGB2YUV, cv2.COLOR_YUV2RGB, 0),
]


class DefaultAug:
    """utils/augmentations.py DefaultAug inside ImgAug.__call__ (utils/transforms.py 12-53):

        iaa.Sharpen((0.0, 0.1)),
        iaa.Affine(rotate=(-0, 0), translate_percent=(-0.1, 0.1), scale=(0.8, 1.5)),
        iaa.AddToBrightness((-60, 40)),
        iaa.AddToHue((-10, 10)),
        iaa.Fliplr(0.5),

    then bounding_boxes.clip_out_of_image(). Each step is the computation imgaug 0.4 performs on
    a uint8 RGB image (its cv2 backends), with numpy's random stream instead of imgaug's."""

    def __call__(self, data):
        img, boxes = data
        boxes = np.array(boxes)
        boxes[:, 1:] = xywh2xyxy_np(boxes[:, 1:])
        h, w = img.shape[:2]
        # Sharpen(alpha=(0, 0.1), lightness=(0.8, 1.2) by default): convolutional.py
        # _SharpeningMatrixGenerator, then convolve_: cv2.filter2D(image, -1, matrix).
        alpha, lightness = np.random.uniform(0.0, 0.1), np.random.uniform(0.8, 1.2)
        effect = np.full((3, 3), -1.0, dtype=np.float32)
        effect[1, 1] = 8 + lightness
        nochange = np.zeros((3, 3), dtype=np.float32)
        nochange[1, 1] = 1
        img = cv2.filter2D(img, -1, (1 - alpha) * nochange + alpha * effect)
        # Affine: geometric.py _AffineSamplingResult.to_matrix (about the pixel-centre centre
        # (w / 2 - 0.5, h / 2 - 0.5); translation in pixels = fraction x width / height), applied
        # by _warp_affine_arr_cv2: cv2.warpAffine, order 1 (linear), mode constant, cval 0.
        scale = np.random.uniform(0.8, 1.5)
        tx, ty = np.random.uniform(-0.1, 0.1, 2) * (w, h)
        cx, cy = w / 2.0 - 0.5, h / 2.0 - 0.5
        matrix = np.array([[scale, 0.0, cx - scale * cx + tx], [0.0, scale, cy - scale * cy + ty]])
        img = cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        # Boxes: their corners through the same matrix, the enclosing box.
        x1 = boxes[:, 1] * scale + matrix[0, 2]
        x2 = boxes[:, 3] * scale + matrix[0, 2]
        y1 = boxes[:, 2] * scale + matrix[1, 2]
        y2 = boxes[:, 4] * scale + matrix[1, 2]
        boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4] = x1, y1, x2, y2
        # AddToBrightness((-60, 40)): color.py WithBrightnessChannels(Add): to a random one of
        # six colour spaces, add to its brightness channel (clipped), back to RGB.
        to_space, from_space, channel = BRIGHTNESS_SPACES[np.random.randint(len(BRIGHTNESS_SPACES))]
        add = np.random.randint(-60, 41)
        converted = cv2.cvtColor(img, to_space)
        converted[..., channel] = np.clip(converted[..., channel].astype(np.int16) + add, 0, 255)
        img = cv2.cvtColor(converted, from_space)
        # AddToHue((-10, 10)): color.py AddToHueAndSaturation: RGB -> HSV (cv2), the sample
        # projected to OpenCV's 0..180 hue (`int(v / 255 * 180)`), both H and S through their
        # lookup tables (S's is the identity here), HSV -> RGB.
        hue = int(np.random.randint(-10, 11) / 255.0 * 180)
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = cv2.LUT(hsv[..., 0], np.mod(np.arange(256) + hue, 180).astype(np.uint8))
        hsv[..., 1] = cv2.LUT(hsv[..., 1], np.arange(256, dtype=np.uint8))
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        # Fliplr(0.5): flip.py fliplr, cv2.flip for uint8.
        if np.random.random() < 0.5:
            img = cv2.flip(img, 1)
            boxes[:, 1], boxes[:, 3] = w - boxes[:, 3], w - boxes[:, 1]
        # clip_out_of_image: drop boxes wholly outside, clip the others.
        inside = (boxes[:, 3] > 0) & (boxes[:, 1] < w) & (boxes[:, 4] > 0) & (boxes[:, 2] < h)
        boxes = boxes[inside]
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, w)
        boxes[:, [2, 4]] = np.clip(boxes[:, [2, 4]], 0, h)
        # ImgAug.__call__: back to (label, cx, cy, w, h).
        out = np.zeros((len(boxes), 5))
        out[:, 0] = boxes[:, 0]
        out[:, 1] = (boxes[:, 1] + boxes[:, 3]) / 2
        out[:, 2] = (boxes[:, 2] + boxes[:, 4]) / 2
        out[:, 3] = boxes[:, 3] - boxes[:, 1]
        out[:, 4] = boxes[:, 4] - boxes[:, 2]
        return img, out


def absolute_labels(data):
    """utils/transforms.py AbsoluteLabels (its `w, h` are the array's rows and columns)."""
    img, boxes = data
    w, h, _ = img.shape
    boxes[:, [1, 3]] *= h
    boxes[:, [2, 4]] *= w
    return img, boxes


def pad_square(data):
    """utils/transforms.py PadSquare: PadToAspectRatio(1.0, position="center-center") (zeros;
    the odd pixel right or bottom, size.py _compute_paddings_to_reach_aspect_ratio), through
    ImgAug.__call__'s box conversions."""
    img, boxes = data
    h, w = img.shape[:2]
    side = max(w, h)
    left, top = (side - w) // 2, (side - h) // 2
    img = cv2.copyMakeBorder(img, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    boxes = np.array(boxes)
    boxes[:, 1] += left
    boxes[:, 2] += top
    return img, boxes


def relative_labels(data):
    """utils/transforms.py RelativeLabels."""
    img, boxes = data
    w, h, _ = img.shape
    boxes[:, [1, 3]] /= h
    boxes[:, [2, 4]] /= w
    return img, boxes


def to_tensor(data):
    """utils/transforms.py ToTensor."""
    from torchvision import transforms

    img, boxes = data
    img = transforms.ToTensor()(img)
    bb_targets = torch.zeros((len(boxes), 6))
    bb_targets[:, 1:] = transforms.ToTensor()(boxes)
    return img, bb_targets


AUGMENTATION_TRANSFORMS = [absolute_labels, DefaultAug(), pad_square, relative_labels, to_tensor]


class ListDataset(Dataset):
    """utils/datasets.py ListDataset (img_size 416, multiscale off). Its list names images under
    an `images` folder whose labels are under `labels`; here the list (train2014.txt) names
    train2014/<file> relative to the set's folder and the labels are labels/train2014/<stem>.txt."""

    def __init__(self, root, list_path, img_size=416, multiscale=False, transform=None):
        with open(list_path, "r") as file:
            self.img_files = [os.path.join(root, line.strip()) for line in file if line.strip()]
        self.label_files = [
            os.path.join(root, "labels", os.path.basename(os.path.dirname(path)),
                         os.path.splitext(os.path.basename(path))[0] + ".txt")
            for path in self.img_files
        ]
        self.img_size = img_size
        self.multiscale = multiscale
        self.min_size = self.img_size - 3 * 32
        self.max_size = self.img_size + 3 * 32
        self.batch_count = 0
        self.transform = transform

    def __getitem__(self, index):
        img_path = self.img_files[index % len(self.img_files)].rstrip()
        img = np.array(Image.open(img_path).convert("RGB"), dtype=np.uint8)
        label_path = self.label_files[index % len(self.img_files)].rstrip()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            boxes = np.loadtxt(label_path).reshape(-1, 5)
        data = (img, boxes)
        for t in self.transform:
            data = t(data)
        img, bb_targets = data
        return img_path, img, bb_targets

    def collate_fn(self, batch):
        """ListDataset.collate_fn: stack images resized to img_size (F.interpolate, nearest),
        targets concatenated with their image's index."""
        self.batch_count += 1
        batch = [data for data in batch if data is not None]
        paths, imgs, bb_targets = list(zip(*batch))
        if self.multiscale and self.batch_count % 10 == 0:
            self.img_size = random.choice(range(self.min_size, self.max_size + 1, 32))
        imgs = torch.stack([torch.nn.functional.interpolate(img.unsqueeze(0), size=self.img_size,
                                                            mode="nearest").squeeze(0) for img in imgs])
        for i, boxes in enumerate(bb_targets):
            boxes[:, 0] = i
        bb_targets = torch.cat(bb_targets, 0)
        return paths, imgs, bb_targets

    def __len__(self):
        return len(self.img_files)


def coco(root):
    folder = os.path.join(root, "coco2014")
    dataset = ListDataset(folder, os.path.join(folder, "train2014.txt"), transform=AUGMENTATION_TRANSFORMS)
    return dataset, dataset.collate_fn


# ---------------------------------------------------------------------------------------------
# tusimple: Ultra-Fast-Lane-Detection (353df10)


class RandomRotate:
    """data/mytransforms.py 60-81."""

    def __init__(self, angle):
        self.angle = angle

    def __call__(self, image, label):
        assert label is None or image.size == label.size
        angle = random.randint(0, self.angle * 2) - self.angle
        label = label.rotate(angle, resample=Image.NEAREST)
        image = image.rotate(angle, resample=Image.BILINEAR)
        return image, label


class RandomUDoffsetLABEL:
    """data/mytransforms.py 143-167: a random vertical offset, applied by
    scripts/lane_augment_reference.py's ud_offset (the reference's code with the draw taken out)."""

    def __init__(self, max_offset):
        self.max_offset = max_offset

    def __call__(self, img, label):
        return lane_augment_reference.ud_offset(img, label, np.random.randint(-self.max_offset, self.max_offset))


class RandomLROffsetLABEL:
    """data/mytransforms.py 117-141: a random horizontal offset, applied by
    scripts/lane_augment_reference.py's lr_offset."""

    def __init__(self, max_offset):
        self.max_offset = max_offset

    def __call__(self, img, label):
        return lane_augment_reference.lr_offset(img, label, np.random.randint(-self.max_offset, self.max_offset))

class Compose2:
    """data/mytransforms.py 12-23."""

    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img, mask):
        for t in self.transforms:
            img, mask = t(img, mask)
        return img, mask


class FreeScaleMask:
    """data/mytransforms.py 32-36."""

    def __init__(self, size):
        self.size = size

    def __call__(self, mask):
        return mask.resize((self.size[1], self.size[0]), Image.NEAREST)


class MaskToTensor:
    """data/mytransforms.py 95-97."""

    def __call__(self, img):
        return torch.from_numpy(np.array(img, dtype=np.int32)).long()


class LaneClsDataset(Dataset):
    """data/dataset.py 38-110: `_get_index` and `_grid_pts` are scripts/fidelity_trace_ufld.py's
    get_index and grid_pts (its line-by-line ports, TuSimple's 56 row anchors, 4 lanes)."""

    def __init__(self, path, list_path, img_transform, simu_transform, griding_num, segment_transform):
        import fidelity_trace_ufld

        self._get_index = fidelity_trace_ufld.get_index
        self._grid_pts = fidelity_trace_ufld.grid_pts
        self.path, self.griding_num = path, griding_num
        self.img_transform, self.simu_transform = img_transform, simu_transform
        self.segment_transform = segment_transform
        with open(list_path, "r") as f:
            self.list = f.readlines()

    def __getitem__(self, index):
        l_info = self.list[index].split()
        img_name, label_name = l_info[0], l_info[1]
        if img_name[0] == "/":
            img_name, label_name = img_name[1:], label_name[1:]
        label = Image.open(os.path.join(self.path, label_name))  # loader_func
        img = Image.open(os.path.join(self.path, img_name))
        img, label = self.simu_transform(img, label)
        lane_pts = self._get_index(label)
        w, h = img.size
        cls_label = self._grid_pts(lane_pts, self.griding_num, w)
        seg_label = self.segment_transform(label)  # use_aux
        img = self.img_transform(img)
        return img, cls_label, seg_label

    def __len__(self):
        return len(self.list)


def tusimple(root):
    """data/dataloader.py get_train_loader for 'Tusimple' (configs/tusimple.py: griding_num 100,
    use_aux True)."""
    from torchvision import transforms

    folder = os.path.join(root, "tusimple")
    segment_transform = transforms.Compose([FreeScaleMask((36, 100)), MaskToTensor()])
    img_transform = transforms.Compose([
        transforms.Resize((288, 800)),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    simu_transform = Compose2([RandomRotate(6), RandomUDoffsetLABEL(100), RandomLROffsetLABEL(200)])
    return LaneClsDataset(folder, os.path.join(folder, "train_gt.txt"), img_transform, simu_transform,
                          griding_num=100, segment_transform=segment_transform), None


# ---------------------------------------------------------------------------------------------


BUILDERS = {"imagenet": imagenet, "cifar10-test20": cifar, "coco2014": coco, "tusimple": tusimple}


def measure(dataset, collate, batch, batches, warmup, workers):
    """Images per second of the DataLoader over batches warmup .. warmup + batches."""
    loader = DataLoader(dataset, batch_size=batch, sampler=Cycle(len(dataset), (warmup + batches) * batch),
                        num_workers=workers, collate_fn=collate, pin_memory=False,
                        worker_init_fn=worker_init if workers > 0 else None)
    batches_of = iter(loader)
    for _ in range(warmup):
        next(batches_of)
    started = time.perf_counter()
    for _ in range(batches):
        next(batches_of)
    seconds = time.perf_counter() - started
    del batches_of
    return batch * batches / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--json", help="write the rates here")
    args = parser.parse_args()
    workers = [int(k) for k in args.workers.split(",") if k.strip()]
    if args.batch < 1 or args.batches < 1 or args.warmup < 0 or any(k < 0 for k in workers):
        parser.error("--batch and --batches must be at least 1, --warmup and --workers at least 0")
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    dataset, collate = BUILDERS[args.dataset](args.data_root)
    rates = []
    for k in workers:
        rate = measure(dataset, collate, args.batch, args.batches, args.warmup, k)
        rates.append({"workers": k, "images_per_s": rate, "per_worker": rate / max(k, 1)})
        print(f"{args.dataset}: {k} worker{'s' if k != 1 else ''}: {rate:.1f} images/s", flush=True)
    report = {"dataset": args.dataset, "batch": args.batch, "batches": args.batches, "warmup": args.warmup,
              "train_images": len(dataset), "torch": torch.__version__, "rates": rates}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
