"""torchvision's ImageNet evaluation view of a few generated images, for the pixel-for-pixel test
of our ImageFolder pipeline (tests/integration/imagefolder.rs).

torchvision 0.26.0 (PyPI; `pip install --no-deps torchvision==0.26.0` into `just torch-venv`)
applies, on PIL images, transforms.Resize(256) then transforms.CenterCrop(224), the evaluation
transform of its ImageNet recipe (references/classification/presets.py, ClassificationPresetEval):
- Resize: functional.resize -> _compute_resized_output_size (functional.py 353-384: the shorter
  side becomes 256 and the longer `int(256 * long / short)`, truncated; an image whose shorter
  side is already 256 is returned untouched, 470-471), then PIL's
  `img.resize(size, BILINEAR)` (_functional_pil.py 253; Pillow always antialiases);
- CenterCrop: functional.center_crop (556-594): top = int(round((h - 224) / 2.0)), Python's
  round, half to even.

Writes tests/fixtures/imagefolder/: the source images (PNG, lossless, so decoding is exact; one
JPEG of the first image to measure the decoders' difference), `eval224.bin` (each image's
224x224x3 crop, uint8, in file order), `train224.bin` (per fixed window, functional.resized_crop, the
resampling of RandomResizedCrop, then the same horizontal pass first) and `reference.json` (files and windows).

    .venv-torch/bin/python scripts/imagefolder_reference.py
"""

import json
import os

import numpy as np
from PIL import Image
from torchvision import transforms
from torchvision.transforms import functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "imagefolder")
# (width, height): odd and even margins, both orientations, a side of exactly 256, upscaling.
SIZES = [(300, 257), (257, 301), (320, 239), (256, 270), (200, 230)]


def image(w, h, k):
    """Smooth colour gradients with a disc: small as PNG, with every resampling path used."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127.5 + 127.5 * np.sin(x / (17.0 + k) + y / 29.0)
    g = 127.5 + 127.5 * np.cos(y / (13.0 + k) - x / 41.0)
    b = np.where((x - w / 2.5) ** 2 + (y - h / 2.2) ** 2 < (min(w, h) / 3.0) ** 2, 230.0, 25.0 + 40 * k)
    return Image.fromarray(np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8), "RGB")


def main():
    os.makedirs(OUT, exist_ok=True)
    view = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    files, crops = [], []
    for k, (w, h) in enumerate(SIZES):
        name = f"image{k}_{w}x{h}.png"
        img = image(w, h, k)
        img.save(os.path.join(OUT, name), optimize=True)
        files.append(name)
    jpeg = "image0_300x257.jpg"
    Image.open(os.path.join(OUT, files[0])).save(os.path.join(OUT, jpeg), quality=90)
    files.append(jpeg)
    for name in files:
        with Image.open(os.path.join(OUT, name)) as img:
            crop = np.asarray(view(img.convert("RGB")), dtype=np.uint8)
        assert crop.shape == (224, 224, 3)
        crops.append(crop.tobytes())
    with open(os.path.join(OUT, "eval224.bin"), "wb") as f:
        f.write(b"".join(crops))
    # The training view's resampling: functional.resized_crop (597-621) for fixed windows
    # (top, left, height, width): shrinking, whole image, and one already 224x224.
    windows = [(files[0], (7, 13, 200, 150)), (files[1], (0, 0, 301, 257)), (files[2], (5, 60, 224, 224))]
    # Pillow 13.0 sometimes resamples vertically first (257x301 -> 224x224 here), where its
    # Resample.c (ImagingResampleInner, at least to 2026-08) and our port go horizontally first:
    # each window is kept both ways, torchvision's own result and the horizontal-first one
    # (the horizontal pass, then the vertical pass, as two PIL resizes).
    trains = []
    for name, (top, left, height, width) in windows:
        with Image.open(os.path.join(OUT, name)) as img:
            rgb = img.convert("RGB")
            view = F.resized_crop(rgb, top, left, height, width, [224, 224])
            crop = F.crop(rgb, top, left, height, width)
            first = crop.resize((224, height), Image.BILINEAR) if width != 224 else crop
            both = first.resize((224, 224), Image.BILINEAR) if height != 224 else first
        trains.append(np.asarray(view, dtype=np.uint8).tobytes())
        trains.append(np.asarray(both, dtype=np.uint8).tobytes())
    with open(os.path.join(OUT, "train224.bin"), "wb") as f:
        f.write(b"".join(trains))
    meta = {
        "torchvision": "0.26.0",
        "pillow": Image.__version__,
        "transform": "Resize(256), CenterCrop(224) on PIL RGB",
        "crop_bytes": 224 * 224 * 3,
        "files": files,
        "windows": [{"file": n, "x": l, "y": t, "w": w, "h": h} for n, (t, l, h, w) in windows],
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
