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

mod darknet {
    use burn::tensor::{Device, Tensor, TensorData};
    use slr_repro::models::{Net, params, read_darknet, write_darknet};
    use slr_repro::spec::ModelKind;

    fn all(net: &Net) -> Vec<(String, Vec<f32>)> {
        let names: Vec<String> = params::shapes(net).into_iter().map(|(n, _)| n).collect();
        params::flat(net, &names)
            .into_iter()
            .map(|(n, t)| (n, t.into_data().try_to_vec::<f32>().unwrap()))
            .collect()
    }

    #[test]
    fn weight_files_round_trip_in_darknet_order() {
        let device = Device::flex();
        let kind = ModelKind::Yolov3Tiny;
        // Seeded weights, and BatchNorm statistics away from their defaults.
        let net = params::map_flat(Net::seeded(kind, &device, 3), |name, value| {
            let n = value.dims()[0];
            let v: Vec<f32> = (0..n).map(|i| 0.5 + (i % 7) as f32 * 0.01).collect();
            (name.contains(".running_") || name.ends_with(".beta"))
                .then(|| Tensor::from_data(TensorData::new(v, [n]), &device))
        });
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("yolov3-tiny.weights");
        write_darknet(&net, kind, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // Header 0.2.0 with an int64 count, then 8,852,366 parameters and the 2 x 5,344
        // BatchNorm statistics of the 11 BatchNorm layers.
        assert_eq!(
            &bytes[..20],
            &[0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let bn: usize = [16, 32, 64, 128, 256, 512, 1024, 256, 512, 128, 256]
            .iter()
            .sum();
        assert_eq!(bytes.len(), 20 + 4 * (8_852_366 + 2 * bn));
        // First come layer 0's biases (beta): 0.5, 0.51, ...
        let first = f32::from_le_bytes(bytes[24..28].try_into().unwrap());
        assert_eq!(first, 0.51);
        let loaded = read_darknet(Net::init(kind, &device), kind, &path).unwrap();
        assert_eq!(all(&loaded), all(&net));
        // A version 0.1 header counts images in an int32.
        let mut old = vec![0u8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        old.extend(&bytes[20..]);
        let old_path = tmp.path().join("old.weights");
        std::fs::write(&old_path, old).unwrap();
        let loaded = read_darknet(Net::init(kind, &device), kind, &old_path).unwrap();
        assert_eq!(all(&loaded), all(&net));
        // A file of another model is refused, naming the file.
        std::fs::write(&old_path, &bytes[..bytes.len() - 4]).unwrap();
        let err = read_darknet(Net::init(kind, &device), kind, &old_path).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("old.weights"), "{err}");
        assert!(
            err.to_string().contains("does not fit model `yolov3-tiny`"),
            "{err}"
        );
    }
}

mod suppression {
    use slr_repro::train::detection::nms::{batched_nms, iou_xyxy, nms};

    #[test]
    fn nms_equals_torchvision_on_the_fixture() {
        let text =
            std::fs::read_to_string(super::super::common::root().join("tests/fixtures/nms.json"))
                .unwrap();
        let f: serde_json::Value = serde_json::from_str(&text).unwrap();
        let boxes: Vec<[f64; 4]> = serde_json::from_value(f["boxes"].clone()).unwrap();
        let scores: Vec<f64> = serde_json::from_value(f["scores"].clone()).unwrap();
        let classes: Vec<usize> = serde_json::from_value(f["classes"].clone()).unwrap();
        for t in [0.45, 0.6] {
            let expected: Vec<usize> =
                serde_json::from_value(f[format!("nms@{t}")].clone()).unwrap();
            assert_eq!(nms(&boxes, &scores, t), expected, "nms at {t}");
            let expected: Vec<usize> =
                serde_json::from_value(f[format!("batched@{t}")].clone()).unwrap();
            assert_eq!(
                batched_nms(&boxes, &scores, &classes, t),
                expected,
                "batched at {t}"
            );
        }
    }

    #[test]
    fn nms_by_hand() {
        // [0,0,10,10] and [1,1,11,11]: intersection 81, union 119, IoU 0.6807.
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [1.0, 1.0, 11.0, 11.0],
            [20.0, 20.0, 30.0, 30.0],
        ];
        assert!((iou_xyxy(&boxes[0], &boxes[1]) - 81.0 / 119.0).abs() < 1e-15);
        assert_eq!(nms(&boxes, &[0.9, 0.8, 0.7], 0.5), vec![0, 2]);
        // Above the threshold only: at 0.7 both stay; the higher score comes first.
        assert_eq!(nms(&boxes, &[0.8, 0.9, 0.7], 0.7), vec![1, 0, 2]);
        // Different classes never suppress each other.
        assert_eq!(
            batched_nms(&boxes, &[0.9, 0.8, 0.7], &[0, 1, 0], 0.5),
            vec![0, 1, 2]
        );
    }
}
