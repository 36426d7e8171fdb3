"""Writes synthetic image files in the real data sets' layouts and at their real sizes, so
`slr perf --input` and scripts/input_reference.py (torchvision's DataLoader) time their input
pipelines on the same files (scripts/bench-input.py runs both):

    .venv-torch/bin/python scripts/input_files.py --out /tmp/input-bench [--seed 2021]
        [--cifar-from data/cifar10-test20]

Deterministic (numpy's PCG64 from --seed) and quick (about 20 s on 2 cores, 52 MB). The content
is meant to give JPEG files of realistic entropy, neither flat nor noise: a smooth colour field (a
random coarse grid upsampled bicubically), a finer one at lower amplitude, a few filled ellipses
and rectangles, a grain at half resolution and Gaussian noise (sigma 8); JPEG quality 90 (Pillow,
4:2:0 subsampling). Mean file sizes: ImageNet-like 87 kB (ILSVRC 2012's training files average
about 110 kB), COCO-like 145 kB (train2014's about 160 kB), TuSimple-like 131 kB (road frames:
the scene with a fainter grain and noise, TUSIMPLE_DETAIL).

Written under --out:

- imagenet/{train,val}/<class>/<class>_<k>.JPEG (ILSVRC 2012's layout as torchvision's
  ImageFolder reads it): 8 classes n00000000 .. n00000007, 256 training images (32 a class), 8
  validation images (1 a class), each w x h with w in 300..640 and h in 240..500 (ILSVRC's are
  about 500x375 on average, mostly 4:3 or 3:4);
- coco2014/train2014/COCO_train2014_<12-digit id>.jpg (128) and val2014/COCO_val2014_<id>.jpg
  (8), 640x480, 480x640 or 640x427; annotations/instances_{train,val}2014.json in COCO's format
  (images with id, file_name, width, height; 1 to 6 boxes an image, [x, y, w, h] inside it,
  iscrowd 0; COCO's 80 categories with their ids 1..90, named class<id>), as
  src/data/coco.rs reads them; and, for the PyTorch-YOLOv3 reference only, Darknet's labels
  (labels/train2014/<stem>.txt: class cx cy w h relative, class = index in ascending category
  id, as Darknet's COCO labels) and the image lists train2014.txt and val2014.txt (paths relative
  to coco2014/, ascending id: the order src/data/coco.rs reads the images in);
- tusimple/clips/<date>/<k>/20.jpg: 64 road frames 1280x720 (the road scene of
  scripts/fidelity_trace_ufld.py `render` with random vanishing point and 2 to 5 markings, under
  the texture above) in TuSimple's layout, their label lines in label_data_0313.json (32),
  label_data_0531.json (16) and label_data_0601.json (16) (lanes: x per h_sample 160..710, -2
  where absent; raw_file relative to tusimple/, src/data/tusimple.rs `read_split`), and 4 more
  frames in test_label.json; for the UFLD reference only, next to each training frame the label
  image UFLD's scripts/convert_tusimple.py writes (<stem>.png: the lanes in their slots 1..4,
  cv2.line thickness 16; fidelity_trace_ufld.label_image) and train_gt.txt listing them
  (`<frame> <label png> <lane flags>`, convert_tusimple.py's format);
- cifar10-test20/test_batch_20.bin: copied from --cifar-from (the real 20 CIFAR-10 test records,
  `slr data fetch cifar10-test20`), when that file exists.
"""

import argparse
import json
import os
import shutil
import sys
import time

import cv2
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")

IMAGENET_CLASSES = 8
IMAGENET_TRAIN, IMAGENET_VAL = 256, 8
COCO_TRAIN, COCO_VAL = 128, 8
COCO_SIZES = [(640, 480), (480, 640), (640, 427)]
# COCO's 80 category ids: 1..90 without the 10 ids the 2014 release never used.
COCO_CATEGORY_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
# TuSimple: training frames per label file (the benchmark's three train_set files) and test frames.
TUSIMPLE_TRAIN = [("label_data_0313.json", "0313-1", 32), ("label_data_0531.json", "0531", 16),
                  ("label_data_0601.json", "0601", 16)]
TUSIMPLE_TEST = ("test_label.json", "0530", 4)
QUALITY = 90
NOISE_SIGMA = 8.0
# Road frames are smoother than photographs of objects: a fainter grain and noise.
TUSIMPLE_DETAIL = 0.07


def texture(rng, h, w, base=None, detail=1.0):
    """An h x w x 3 uint8 image: `base` (or a smooth random colour field) plus a finer smooth
    field, a few filled shapes, a grain at half resolution (mostly luminance, as photographs'
    detail) and Gaussian noise (sigma 8); `detail` scales the grain and the noise."""
    if base is None:
        grid = rng.uniform(0, 255, (int(rng.integers(3, 7)), int(rng.integers(3, 7)), 3)).astype(np.float32)
        img = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        img = base.astype(np.float32)
    fine = rng.uniform(-30, 30, (int(rng.integers(12, 24)), int(rng.integers(16, 32)), 3)).astype(np.float32)
    img += cv2.resize(fine, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 9)) if base is None else 0):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            axes = (int(rng.integers(w // 20 + 1, w // 4 + 2)), int(rng.integers(h // 20 + 1, h // 4 + 2)))
            cv2.ellipse(img, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        else:
            dx, dy = int(rng.integers(w // 20 + 1, w // 5 + 2)), int(rng.integers(h // 20 + 1, h // 5 + 2))
            cv2.rectangle(img, (cx - dx, cy - dy), (cx + dx, cy + dy), colour, -1)
    grain = (rng.standard_normal((h // 2 + 1, w // 2 + 1, 1), dtype=np.float32) * 35.0
             + rng.standard_normal((h // 2 + 1, w // 2 + 1, 3), dtype=np.float32) * 10.0)
    img += cv2.resize(grain * detail, (w, h), interpolation=cv2.INTER_LINEAR)
    img += rng.standard_normal((h, w, 3), dtype=np.float32) * (NOISE_SIGMA * detail)
    return np.clip(img, 0, 255).astype(np.uint8)


def save_jpeg(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(img).save(path, quality=QUALITY)


def imagenet(out, rng):
    sizes = []
    for split, count in [("train", IMAGENET_TRAIN), ("val", IMAGENET_VAL)]:
        per_class = count // IMAGENET_CLASSES
        for c in range(IMAGENET_CLASSES):
            name = f"n{c:08d}"
            for k in range(per_class):
                # Mostly landscape, as ILSVRC: 300..640 wide, 240..500 high.
                w, h = int(rng.integers(300, 641)), int(rng.integers(240, 501))
                if rng.random() < 0.7:
                    w, h = max(w, h), min(w, h)
                path = os.path.join(out, "imagenet", split, name, f"{name}_{k + 1}.JPEG")
                save_jpeg(path, texture(rng, h, w))
                sizes.append(os.path.getsize(path))
    return sizes


def coco(out, rng):
    root = os.path.join(out, "coco2014")
    categories = [{"id": i, "name": f"class{i}", "supercategory": "none"} for i in COCO_CATEGORY_IDS]
    # Unique 12-digit-padded ids, ascending (the order src/data/coco.rs keeps).
    ids = np.sort(rng.choice(581_000, COCO_TRAIN + COCO_VAL, replace=False) + 1)
    split_ids = {"train2014": ids[:COCO_TRAIN], "val2014": ids[COCO_TRAIN:]}
    sizes, ann_id = [], 1
    for split, image_ids in split_ids.items():
        images, annotations, listed = [], [], []
        os.makedirs(os.path.join(root, "labels", split), exist_ok=True)
        for image_id in image_ids:
            w, h = COCO_SIZES[int(rng.integers(0, len(COCO_SIZES)))]
            file_name = f"COCO_{split}_{int(image_id):012d}.jpg"
            path = os.path.join(root, split, file_name)
            save_jpeg(path, texture(rng, h, w))
            sizes.append(os.path.getsize(path))
            images.append({"id": int(image_id), "file_name": file_name, "width": w, "height": h})
            listed.append(f"{split}/{file_name}")
            darknet = []
            for _ in range(int(rng.integers(1, 7))):
                bw = round(float(rng.uniform(8, 0.6 * w)), 2)
                bh = round(float(rng.uniform(8, 0.6 * h)), 2)
                x = round(float(rng.uniform(0, w - bw)), 2)
                y = round(float(rng.uniform(0, h - bh)), 2)
                category = COCO_CATEGORY_IDS[int(rng.integers(0, len(COCO_CATEGORY_IDS)))]
                annotations.append({
                    "id": ann_id, "image_id": int(image_id), "category_id": category,
                    "bbox": [x, y, bw, bh], "area": round(bw * bh, 2), "iscrowd": 0,
                    "segmentation": [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]],
                })
                ann_id += 1
                darknet.append(f"{COCO_CATEGORY_IDS.index(category)} {(x + bw / 2) / w:.6f} "
                               f"{(y + bh / 2) / h:.6f} {bw / w:.6f} {bh / h:.6f}\n")
            stem = os.path.splitext(file_name)[0]
            with open(os.path.join(root, "labels", split, stem + ".txt"), "w") as f:
                f.write("".join(darknet))
        instances = {"info": {"description": "synthetic (scripts/input_files.py)"}, "licenses": [],
                     "images": images, "annotations": annotations, "categories": categories}
        os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
        with open(os.path.join(root, "annotations", f"instances_{split}.json"), "w") as f:
            json.dump(instances, f)
        with open(os.path.join(root, f"{split}.txt"), "w") as f:
            f.write("".join(p + "\n" for p in listed))
    return sizes


def random_scene(rng):
    """A scene for fidelity_trace_ufld.render: (vx, vy, grey, [(bottom x, top row, last row,
    dashed)]), 2 to 5 markings about a lane apart, some starting lower or ending early."""
    vx, vy = float(rng.uniform(560, 720)), float(rng.uniform(230, 290))
    count = int(rng.integers(2, 6))
    spacing = float(rng.uniform(450, 650))
    first = 640 + float(rng.uniform(-150, 150)) - spacing * (count - 1) / 2
    markings = []
    for i in range(count):
        top = vy + 20 + (float(rng.uniform(0, 120)) if rng.random() < 0.25 else 0.0)
        end = 719 - (float(rng.uniform(0, 150)) if rng.random() < 0.2 else 0.0)
        markings.append((first + spacing * i, top, end, bool(rng.random() < 0.5)))
    return (vx, vy, float(rng.uniform(80, 125)), markings)


def tusimple(out, rng):
    import fidelity_trace_ufld as ufld  # render, label_line, label_image (convert_tusimple.py)

    root = os.path.join(out, "tusimple")
    sizes, train_gt = [], []
    for file, date, count in TUSIMPLE_TRAIN + [TUSIMPLE_TEST]:
        lines = []
        for k in range(count):
            scene = random_scene(rng)
            raw_file = f"clips/{date}/{1492626000000000 + 7 * k + 1}/20.jpg"
            frame = texture(rng, ufld.FRAME_H, ufld.FRAME_W,
                            base=ufld.render(scene), detail=TUSIMPLE_DETAIL)
            save_jpeg(os.path.join(root, raw_file), frame)
            sizes.append(os.path.getsize(os.path.join(root, raw_file)))
            label = ufld.label_line(scene, raw_file)
            lines.append(json.dumps(label) + "\n")
            if file != TUSIMPLE_TEST[0]:
                # convert_tusimple.py 66-133: the label image next to the frame, and its line in
                # train_gt.txt (the flags say which of the 4 slots hold a lane).
                label_png = raw_file[:-3] + "png"
                image = ufld.label_image(label)
                cv2.imwrite(os.path.join(root, label_png), image)
                drawn = {value for _, value in ufld.slot_order(ufld.label_lines(label))}
                flags = ["1" if v in drawn else "0" for v in range(1, 5)]
                train_gt.append(f"{raw_file} {label_png} {' '.join(flags)}\n")
        with open(os.path.join(root, file), "w") as f:
            f.write("".join(lines))
    with open(os.path.join(root, "train_gt.txt"), "w") as f:
        f.write("".join(train_gt))
    return sizes


def cifar(out, source):
    path = os.path.join(source, "test_batch_20.bin")
    if not os.path.isfile(path):
        print(f"no {path}: cifar10-test20 not copied (slr data fetch cifar10-test20 gets it)", file=sys.stderr)
        return []
    dest = os.path.join(out, "cifar10-test20")
    os.makedirs(dest, exist_ok=True)
    shutil.copyfile(path, os.path.join(dest, "test_batch_20.bin"))
    return [os.path.getsize(path)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--cifar-from", default=os.path.join(ROOT, "data", "cifar10-test20"))
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    cv2.setNumThreads(1)
    started = time.time()
    for name in ["imagenet", "coco2014", "tusimple", "cifar10-test20"]:
        shutil.rmtree(os.path.join(args.out, name), ignore_errors=True)
    # One stream per data set, so each set's files do not depend on the others'.
    seeds = np.random.SeedSequence(args.seed).spawn(3)
    written = {
        "imagenet": imagenet(args.out, np.random.default_rng(seeds[0])),
        "coco2014": coco(args.out, np.random.default_rng(seeds[1])),
        "tusimple": tusimple(args.out, np.random.default_rng(seeds[2])),
        "cifar10-test20": cifar(args.out, args.cifar_from),
    }
    for name, sizes in written.items():
        if sizes:
            print(f"{name}: {len(sizes)} image files, {sum(sizes) / 1e6:.1f} MB, "
                  f"mean {np.mean(sizes) / 1e3:.0f} kB")
    print(f"wrote {os.path.abspath(args.out)} in {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
