"""PIL's bilinear resize (what torchvision's `Resize((288, 800))` does to a PIL frame), for
tests/integration/tusimple.rs: writes tests/fixtures/pil_resize.json with the byte sum and 300
evenly spaced bytes of a 1280x720 formula image resized to 800x288.

    python3 scripts/resize_reference.py   # needs numpy and Pillow
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

y, x, c = np.meshgrid(np.arange(720), np.arange(1280), np.arange(3), indexing="ij")
pixels = ((x * 7 + y * 13 + c * 50 + (x * y) % 17) % 256).astype(np.uint8)
out = np.asarray(Image.fromarray(pixels, "RGB").resize((800, 288), Image.BILINEAR))
flat = out.reshape(-1)
idx = np.linspace(0, flat.size - 1, 300).round().astype(int)
fixture = {"sum": int(flat.astype(np.int64).sum()), "indices": idx.tolist(), "values": flat[idx].tolist()}
path = Path(__file__).resolve().parent.parent / "tests/fixtures/pil_resize.json"
path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
print(path, fixture["sum"])
