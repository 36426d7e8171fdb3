//! COCO's box mAP against pycocotools on a seeded fixture (scripts/coco_map_reference.py),
//! and by hand on small cases.

use slr_repro::train::detection::coco_eval::{Detection, GroundTruth, coco_map};

fn gt(image: u64, category: u64, bbox: [f64; 4]) -> GroundTruth {
    GroundTruth {
        image,
        category,
        bbox,
        iscrowd: false,
    }
}

fn det(image: u64, category: u64, bbox: [f64; 4], score: f64) -> Detection {
    Detection {
        image,
        category,
        bbox,
        score,
    }
}

#[test]
fn map_equals_pycocotools_on_the_fixture() {
    let text = std::fs::read_to_string(super::common::root().join("tests/fixtures/coco_map.json"))
        .unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    let boxes = |v: &serde_json::Value| -> [f64; 4] { serde_json::from_value(v.clone()).unwrap() };
    let ground_truth: Vec<GroundTruth> = fixture["ground_truth"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| GroundTruth {
            image: g["image_id"].as_u64().unwrap(),
            category: g["category_id"].as_u64().unwrap(),
            bbox: boxes(&g["bbox"]),
            iscrowd: g["iscrowd"].as_u64().unwrap() == 1,
        })
        .collect();
    let detections: Vec<Detection> = fixture["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            det(
                d["image_id"].as_u64().unwrap(),
                d["category_id"].as_u64().unwrap(),
                boxes(&d["bbox"]),
                d["score"].as_f64().unwrap(),
            )
        })
        .collect();
    let images: Vec<u64> = serde_json::from_value(fixture["images"].clone()).unwrap();
    let ours = coco_map(&ground_truth, &detections, &images);
    let (map, map50) = (
        fixture["map"].as_f64().unwrap(),
        fixture["map50"].as_f64().unwrap(),
    );
    assert!(
        (ours.map - map).abs() < 1e-12,
        "mAP {} vs pycocotools {map}",
        ours.map
    );
    assert!(
        (ours.map50 - map50).abs() < 1e-12,
        "mAP@0.5 {} vs pycocotools {map50}",
        ours.map50
    );
}

#[test]
fn map_by_hand() {
    // One box, one exact detection: AP 1 at every threshold (COCO's precision is
    // tp / (tp + fp + eps), so 1 - 1.1e-16).
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    let g = [gt(1, 1, [0.0, 0.0, 10.0, 10.0])];
    let exact = [det(1, 1, [0.0, 0.0, 10.0, 10.0], 0.9)];
    let m = coco_map(&g, &exact, &[1]);
    close(m.map, 1.0);
    close(m.map50, 1.0);
    // IoU 0.64 ([0, 0, 8, 8] inside [0, 0, 10, 10]): a hit at 0.50..0.60 (3 of 10 thresholds).
    let inside = [det(1, 1, [0.0, 0.0, 8.0, 8.0], 0.9)];
    let m = coco_map(&g, &inside, &[1]);
    close(m.map50, 1.0);
    close(m.map, 0.3);
    // A false positive ranked above the hit: precision 1/2 at every recall point.
    let behind = [
        det(1, 1, [50.0, 50.0, 10.0, 10.0], 0.95),
        det(1, 1, [0.0, 0.0, 10.0, 10.0], 0.9),
    ];
    let m = coco_map(&g, &behind, &[1]);
    close(m.map50, 0.5);
    // Two boxes, one found: recall stops at 0.5, so 51 of 101 recall points have precision 1.
    let two = [
        gt(1, 1, [0.0, 0.0, 10.0, 10.0]),
        gt(1, 1, [100.0, 100.0, 10.0, 10.0]),
    ];
    let m = coco_map(&two, &exact, &[1]);
    close(m.map50, 51.0 / 101.0);
    // No ground truth at all: -1, as COCO reports it.
    assert_eq!(coco_map(&[], &exact, &[1]).map, -1.0);
}
