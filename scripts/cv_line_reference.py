"""OpenCV's thick lines, for the unit test of src/data/thick_line.rs: writes
tests/fixtures/cv_line.json with seeded cases, each a sequence of
`cv2.line(image, p0, p1, (value,), thickness)` calls (LINE_8, shift 0) on a zero uint8 image
of the case's size, and what OpenCV drew: the number of non-zero pixels and every row's runs
of equal non-zero values as `[y, first x, last x, value]`.

The cases cover what cfzd/Ultra-Fast-Lane-Detection's `scripts/convert_tusimple.py` draws
(16 px thick polylines through the integer parts of lane points, later lanes over earlier
ones, on 1280x720) and OpenCV's edge cases: degenerate segments (p0 == p1), nearly horizontal
and vertical, steep and diagonal segments, odd and even thicknesses, end points near and
beyond the image's edges (clipping), segments wholly outside and small images.

    python3 scripts/cv_line_reference.py   # needs numpy and opencv-python-headless==4.10.0.84

(the pixels are OpenCV 4.10.0's; another version may round differently).
"""

import json
import random
from pathlib import Path

import cv2
import numpy as np

W, H = 1280, 720


def runs(image):
    out = []
    for y, row in enumerate(image):
        x = 0
        n = len(row)
        while x < n:
            value = int(row[x])
            start = x
            while x < n and row[x] == value:
                x += 1
            if value:
                out.append([y, start, x - 1, value])
    return out


def lane(rng, slot):
    """A TuSimple-like lane: x at rows 10 px apart, through the points' integer parts."""
    y0 = rng.choice([160, 200, 240, 280])
    count = rng.randint(8, 20)
    x = rng.uniform(-80, W + 80)
    slope = rng.uniform(-2.5, 2.5)
    points = [(x + slope * 10 * i + rng.uniform(-1.5, 1.5), y0 + 10 * i) for i in range(count)]
    ints = [(int(px), int(py)) for px, py in points]
    return [[*a, *b, slot, 16] for a, b in zip(ints, ints[1:])]


def main():
    rng = random.Random(20240607)
    cases = []

    def case(name, lines, size=(W, H)):
        image = np.zeros((size[1], size[0]), np.uint8)
        for x0, y0, x1, y1, value, thickness in lines:
            cv2.line(image, (x0, y0), (x1, y1), (value,), thickness=thickness)
        cases.append(
            {
                "name": name,
                "size": list(size),
                "lines": [list(line) for line in lines],
                "drawn": int(np.count_nonzero(image)),
                "runs": runs(image),
            }
        )

    # Fixed edge cases.
    case("horizontal", [[100, 100, 300, 100, 1, 16]])
    case("vertical", [[640, 300, 640, 420, 2, 16]])
    case("degenerate", [[500, 400, 500, 400, 3, 16]])
    case("degenerate odd", [[20, 30, 20, 30, 1, 5]], (64, 48))
    case("diagonal", [[200, 200, 320, 320, 1, 16]])
    case("nearly horizontal", [[100, 500, 400, 501, 1, 16]])
    case("nearly vertical", [[900, 100, 901, 300, 4, 16]])
    case("steep", [[700, 150, 730, 400, 1, 16]])
    case("one pixel apart", [[50, 50, 51, 50, 1, 16], [80, 80, 81, 81, 2, 16]])
    case("corner top left", [[-30, -20, 40, 60, 1, 16]])
    case("corner bottom right", [[1250, 700, 1310, 760, 1, 16]])
    case("crosses the image", [[-50, 770, 1330, -50, 2, 16]])
    case("outside left", [[-40, 100, -30, 600, 1, 16]])
    case("just outside", [[-8, 100, -8, 200, 1, 16], [1288, 300, 1289, 400, 2, 16]])
    case("just inside", [[-7, 100, -7, 200, 1, 16], [1287, 300, 1287, 400, 2, 16]])
    case("below", [[100, 727, 1200, 728, 3, 16]])
    case("thin even", [[10, 10, 50, 37, 1, 2]], (64, 48))
    case("thin odd", [[10, 40, 50, 3, 1, 3]], (64, 48))
    case("thicknesses", [[5 + 9 * t, 5, 5 + 9 * t, 40, t, t] for t in range(2, 8)], (64, 48))
    case("wide on small", [[-10, 20, 70, 30, 1, 31]], (64, 48))
    case("overlap later wins", [[100, 300, 400, 310, 1, 16], [250, 200, 260, 450, 2, 16]])

    # Random segments inside, near and beyond the edges.
    for i in range(12):
        p = [rng.randrange(-50, W + 51), rng.randrange(-50, H + 51)]
        d = rng.randrange(0, 160)
        angle = rng.uniform(0, 6.2832)
        q = [p[0] + int(d * np.cos(angle)), p[1] + int(d * np.sin(angle))]
        case(f"random {i}", [[*p, *q, 1 + i % 4, rng.choice([16, 16, 3, 4, 9, 16])]])

    # Lanes as convert_tusimple draws them: slots 1..4 in order.
    for i in range(6):
        lines = []
        for slot in range(1, rng.randint(2, 5)):
            lines += lane(rng, slot)
        case(f"lanes {i}", lines)

    out = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cv_line.json"
    text = "{\n" + f'"opencv": {json.dumps(cv2.__version__)},\n"cases": [\n'
    text += ",\n".join(json.dumps(c, separators=(",", ":")) for c in cases)
    text += "\n]\n}\n"
    out.write_text(text)
    print(f"{out}: {len(cases)} cases, {len(text)} bytes")


if __name__ == "__main__":
    main()
