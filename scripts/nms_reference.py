"""torchvision's nms and batched_nms on seeded boxes, for tests/integration/detection.rs:
writes tests/fixtures/nms.json (boxes, scores, classes and the kept indices at IoU 0.45 and
0.6). Scores are distinct, so the order of ties does not matter.

    python3 scripts/nms_reference.py   # needs torch and torchvision
"""

import json
import random
from pathlib import Path

import torch
import torchvision

rng = random.Random(7)
boxes, scores, classes = [], [], []
for i in range(150):
    # Clusters of overlapping boxes, so suppression has work to do.
    cx, cy = rng.choice([(50, 50), (120, 80), (300, 200), (60, 260)])
    x, y = cx + rng.uniform(-25, 25), cy + rng.uniform(-25, 25)
    w, h = rng.uniform(20, 80), rng.uniform(20, 80)
    boxes.append([round(x, 1), round(y, 1), round(x + w, 1), round(y + h, 1)])
    scores.append(round((i * 7919 % 1000) / 1000 + 0.0005, 4))
    classes.append(rng.randrange(3))
b, s, c = torch.tensor(boxes, dtype=torch.float64), torch.tensor(scores, dtype=torch.float64), torch.tensor(classes)
fixture = {"boxes": boxes, "scores": scores, "classes": classes}
for t in (0.45, 0.6):
    fixture[f"nms@{t}"] = torchvision.ops.nms(b, s, t).tolist()
    fixture[f"batched@{t}"] = torchvision.ops.batched_nms(b, s, c, t).tolist()
out = Path(__file__).resolve().parent.parent / "tests/fixtures/nms.json"
out.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
print(out, {k: len(v) for k, v in fixture.items()})
