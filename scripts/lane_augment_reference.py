"""UFLD's training augmentation (cfzd/Ultra-Fast-Lane-Detection, data/mytransforms.py:
RandomRotate, RandomUDoffsetLABEL, RandomLROffsetLABEL, composed in that order by
data/dataloader.py) at fixed draws, for tests/integration/tusimple.rs: writes
tests/fixtures/lane_augment.json with, per draw, the byte sum and 300 evenly spaced bytes of a
1280x720 formula frame (RGB, bilinear rotation) and of a formula label image (L, nearest).

    python3 scripts/lane_augment_reference.py   # needs numpy and Pillow
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

DRAWS = [(6, 37, -150), (-4, -80, 120), (0, 99, -200), (-6, 0, 0)]


def rotate(img, label, angle):
    # RandomRotate.__call__ with its random angle replaced by `angle`.
    return img.rotate(angle, resample=Image.BILINEAR), label.rotate(angle, resample=Image.NEAREST)


def ud_offset(img, label, offset):
    # RandomUDoffsetLABEL.__call__ with its random offset replaced by `offset`.
    w, h = img.size
    img = np.array(img)
    if offset > 0:
        img[offset:, :, :] = img[0 : h - offset, :, :]
        img[:offset, :, :] = 0
    if offset < 0:
        real_offset = -offset
        img[0 : h - real_offset, :, :] = img[real_offset:, :, :]
        img[h - real_offset :, :, :] = 0
    label = np.array(label)
    if offset > 0:
        label[offset:, :] = label[0 : h - offset, :]
        label[:offset, :] = 0
    if offset < 0:
        offset = -offset
        label[0 : h - offset, :] = label[offset:, :]
        label[h - offset :, :] = 0
    return Image.fromarray(img), Image.fromarray(label)


def lr_offset(img, label, offset):
    # RandomLROffsetLABEL.__call__ with its random offset replaced by `offset`.
    w, h = img.size
    img = np.array(img)
    if offset > 0:
        img[:, offset:, :] = img[:, 0 : w - offset, :]
        img[:, :offset, :] = 0
    if offset < 0:
        real_offset = -offset
        img[:, 0 : w - real_offset, :] = img[:, real_offset:, :]
        img[:, w - real_offset :, :] = 0
    label = np.array(label)
    if offset > 0:
        label[:, offset:] = label[:, 0 : w - offset]
        label[:, :offset] = 0
    if offset < 0:
        offset = -offset
        label[:, 0 : w - offset] = label[:, offset:]
        label[:, w - offset :] = 0
    return Image.fromarray(img), Image.fromarray(label)


def samples(array):
    flat = np.asarray(array).reshape(-1)
    idx = np.linspace(0, flat.size - 1, 300).round().astype(int)
    return {"sum": int(flat.astype(np.int64).sum()), "indices": idx.tolist(), "values": flat[idx].tolist()}


def main():
    y, x, c = np.meshgrid(np.arange(720), np.arange(1280), np.arange(3), indexing="ij")
    frame = Image.fromarray(((x * 7 + y * 13 + c * 50 + (x * y) % 17) % 256).astype(np.uint8), "RGB")
    ly, lx = np.meshgrid(np.arange(720), np.arange(1280), indexing="ij")
    label = Image.fromarray(((lx * 3 + ly * 5) % 251 + 1).astype(np.uint8), "L")
    fixture = []
    for angle, down, right in DRAWS:
        img, lab = rotate(frame, label, angle)
        img, lab = ud_offset(img, lab, down)
        img, lab = lr_offset(img, lab, right)
        fixture.append({"angle": angle, "down": down, "right": right, "frame": samples(img), "label": samples(lab)})
    path = Path(__file__).resolve().parent.parent / "tests/fixtures/lane_augment.json"
    path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(path, [d["frame"]["sum"] for d in fixture])


if __name__ == "__main__":
    main()
