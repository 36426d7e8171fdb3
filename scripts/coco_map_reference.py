"""pycocotools' box mAP on a seeded fixture, for tests/integration/detection.rs: writes
tests/fixtures/coco_map.json (ground truth, detections, COCOeval's stats[0] and stats[1]).

The fixture covers what COCO's evaluator does beyond plain AP: crowd boxes (matched by many
detections, then ignored), a category with detections but no ground truth (left out of the
mean), tied scores (stable order), an image with more than 100 detections of one category
(only the best 100 count), and detections near every IoU threshold.

    python3 scripts/coco_map_reference.py   # needs numpy and pycocotools
"""

import contextlib
import io
import json
import random
from pathlib import Path

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def jitter(rng, box, scale):
    x, y, w, h = box
    return [
        round(x + rng.uniform(-scale, scale) * w, 1),
        round(y + rng.uniform(-scale, scale) * h, 1),
        round(max(1.0, w * (1 + rng.uniform(-scale, scale))), 1),
        round(max(1.0, h * (1 + rng.uniform(-scale, scale))), 1),
    ]


def main():
    rng = random.Random(2021)
    images = [1, 2, 3]
    categories = [1, 2, 3, 4]  # 4: detections only
    gts, dets = [], []
    for image in images:
        for category in (1, 2, 3):
            for _ in range(rng.randint(1, 4)):
                w, h = rng.uniform(10, 120), rng.uniform(10, 120)
                box = [round(rng.uniform(0, 500), 1), round(rng.uniform(0, 400), 1), round(w, 1), round(h, 1)]
                gts.append({"image_id": image, "category_id": category, "bbox": box, "iscrowd": 0})
                # Detections at several distances from the box, some duplicates.
                for scale in (0.02, 0.08, 0.15, 0.3):
                    if rng.random() < 0.7:
                        dets.append({"image_id": image, "category_id": category,
                                     "bbox": jitter(rng, box, scale), "score": round(rng.random(), 2)})
            # Pure false positives.
            for _ in range(rng.randint(0, 3)):
                box = [round(rng.uniform(0, 500), 1), round(rng.uniform(0, 400), 1), 30.0, 30.0]
                dets.append({"image_id": image, "category_id": category, "bbox": box, "score": round(rng.random(), 2)})
    # A crowd region with several detections inside it.
    gts.append({"image_id": 2, "category_id": 1, "bbox": [300.0, 300.0, 150.0, 100.0], "iscrowd": 1})
    for i in range(3):
        dets.append({"image_id": 2, "category_id": 1, "bbox": [310.0 + 30 * i, 310.0, 40.0, 40.0], "score": 0.55})
    # Category 4: detections, no ground truth.
    dets.append({"image_id": 1, "category_id": 4, "bbox": [10.0, 10.0, 20.0, 20.0], "score": 0.9})
    # Image 3, category 2: 105 high-scoring false positives (only the best 100 detections of
    # an image and category count, so the image's true positives drop out).
    for i in range(105):
        dets.append({"image_id": 3, "category_id": 2, "bbox": [float(i), 450.0, 5.0, 5.0], "score": 0.99})
    for i, g in enumerate(gts):
        g["id"] = i + 1
        g["area"] = g["bbox"][2] * g["bbox"][3]
    dataset = {
        "images": [{"id": i} for i in images],
        "categories": [{"id": c} for c in categories],
        "annotations": gts,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
        results = coco.loadRes([dict(d) for d in dets])
        evaluator = COCOeval(coco, results, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    fixture = {
        "images": images,
        "ground_truth": [{k: g[k] for k in ("image_id", "category_id", "bbox", "iscrowd")} for g in gts],
        "detections": dets,
        "map": evaluator.stats[0],
        "map50": evaluator.stats[1],
    }
    out = Path(__file__).resolve().parent.parent / "tests/fixtures/coco_map.json"
    out.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(f"{out}: {len(gts)} boxes, {len(dets)} detections, mAP {fixture['map']:.6f}, mAP@0.5 {fixture['map50']:.6f}")


if __name__ == "__main__":
    main()
