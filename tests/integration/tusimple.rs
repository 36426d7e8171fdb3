//! TuSimple labels and UFLD's training targets on hand-made labels: file errors, the lane
//! order of `convert_tusimple.py`, row-anchor cells (with the extension of short lanes) and
//! the 36x100 segmentation target.

use slr_repro::data::lane_augment::LaneAugment;
use slr_repro::data::tusimple::{
    lane_slots, parse_label, read_labels, row_targets, segmentation_target,
};

fn h_samples() -> Vec<f64> {
    (0..56).map(|i| 160.0 + 10.0 * i as f64).collect()
}

/// A label line of lanes given as functions of y (None: no point at that row).
fn label(lanes: &[&dyn Fn(f64) -> Option<f64>]) -> String {
    let h = h_samples();
    let lanes: Vec<Vec<f64>> = lanes
        .iter()
        .map(|f| h.iter().map(|y| f(*y).unwrap_or(-2.0)).collect())
        .collect();
    serde_json::json!({"raw_file": "clips/a/1.jpg", "lanes": lanes, "h_samples": h}).to_string()
}

#[test]
fn label_files_name_the_line_that_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("label_data_0313.json");
    let good = label(&[&|y| Some(600.0 - (y - 160.0) * 0.2)]);
    std::fs::write(
        &path,
        format!("{good}\n{{\"lanes\": [[1, 2]], \"h_samples\": [1]}}\n"),
    )
    .unwrap();
    let err = read_labels(&path).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let text = err.to_string();
    assert!(
        text.contains("label_data_0313.json:2: not a TuSimple label"),
        "{text}"
    );
    std::fs::write(
        &path,
        format!(
            "{good}\n\n{}\n",
            good.replace("\"h_samples\":[160.0,", "\"h_samples\":[")
        ),
    )
    .unwrap();
    let text = read_labels(&path).unwrap_err().to_string();
    assert!(
        text.contains(":3: lane 0 has 56 points for 55 h_samples"),
        "{text}"
    );
    std::fs::write(&path, format!("{good}\n")).unwrap();
    assert_eq!(read_labels(&path).unwrap().len(), 1);
}

#[test]
fn lanes_take_their_slots_by_angle() {
    // Two left lanes (negative angle in image coordinates), two right ones, listed out of order,
    // and one lane shorter than 90 px, which is skipped.
    let far_left = |y: f64| Some(500.0 - (y - 260.0) / 1.5);
    let near_left = |y: f64| Some(600.0 - (y - 260.0) / 4.5);
    let near_right = |y: f64| Some(700.0 + (y - 260.0) / 4.5);
    let far_right = |y: f64| Some(800.0 + (y - 260.0) / 1.5);
    let short = |y: f64| (300.0..=350.0).contains(&y).then_some(640.0);
    let line = label(&[&near_right, &far_left, &short, &far_right, &near_left]);
    let parsed = parse_label(&line).unwrap();
    let slots = lane_slots(&parsed);
    let x_at_700 = |slot: usize| {
        let lane = slots[slot].as_ref().unwrap();
        lane.iter().find(|p| p.1 == 700.0).unwrap().0
    };
    let expected = [
        far_left(700.0),
        near_left(700.0),
        near_right(700.0),
        far_right(700.0),
    ];
    for (slot, x) in expected.iter().enumerate() {
        assert!(
            (x_at_700(slot) - x.unwrap()).abs() < 1e-9,
            "slot {}",
            slot + 1
        );
    }
    // A lone left lane is slot 2, a lone right one slot 3.
    let lone = lane_slots(&parse_label(&label(&[&far_right, &near_left])).unwrap());
    assert!(lone[0].is_none() && lone[1].is_some() && lone[2].is_some() && lone[3].is_none());
}

#[test]
fn row_anchor_cells_and_the_extension_of_short_lanes() {
    // x = 640 - 0.2 (y - 160): integer at every row sample; the 16-px band around it is
    // symmetric, so each row's mean is the centre. Cells are floor(x / (1279 / 99)).
    let gentle = |y: f64| Some(640.0 - 0.2 * (y - 160.0));
    let slots = lane_slots(&parse_label(&label(&[&gentle])).unwrap());
    let targets = row_targets(&slots, 100, LaneAugment::NONE);
    assert_eq!(targets.len(), 56);
    // y = 160: x 640, cell 49; y = 430: x 586, cell 45; y = 710: x 530, cell 41.
    assert_eq!(
        (targets[0][1], targets[27][1], targets[55][1]),
        (49, 45, 41)
    );
    assert!(
        targets
            .iter()
            .all(|t| t[0] == 100 && t[2] == 100 && t[3] == 100)
    );
    // The same lane ending at y = 400 is continued along its lower half: the same cells.
    let upper = |y: f64| (y <= 400.0).then_some(640.0 - 0.2 * (y - 160.0));
    let extended = row_targets(
        &lane_slots(&parse_label(&label(&[&upper])).unwrap()),
        100,
        LaneAugment::NONE,
    );
    assert_eq!(extended, targets);
    // Continued past the image's left edge: x = 61 - 0.2 (y - 160) is 1 at y = 460 (cell 0)
    // and -1 at y = 470 (no lane).
    let leaving = |y: f64| (y <= 400.0).then_some(61.0 - 0.2 * (y - 160.0));
    let left = row_targets(
        &lane_slots(&parse_label(&label(&[&leaving])).unwrap()),
        100,
        LaneAugment::NONE,
    );
    assert_eq!((left[30][1], left[31][1], left[55][1]), (0, 100, 100));
    // Five points are too few to extend (x = 640 - 2.5 (y - 160) down to y = 200, 108 px
    // long, so the conversion keeps it): no lane below them.
    let stub = |y: f64| (y <= 200.0).then_some(640.0 - 2.5 * (y - 160.0));
    let short = row_targets(
        &lane_slots(&parse_label(&label(&[&stub])).unwrap()),
        100,
        LaneAugment::NONE,
    );
    assert!(short[..5].iter().all(|t| t[1] < 100));
    assert!(short[5..].iter().all(|t| t[1] == 100));
    // A lane under 90 px is not drawn at all.
    let tiny = |y: f64| (y <= 200.0).then_some(640.0 - 0.2 * (y - 160.0));
    let none = row_targets(
        &lane_slots(&parse_label(&label(&[&tiny])).unwrap()),
        100,
        LaneAugment::NONE,
    );
    assert!(none.iter().all(|t| *t == [100; 4]));
}

#[test]
fn the_segmentation_target_is_the_label_image_at_36x100() {
    // Row 8 samples y = 170 (x centre 638, band 630..646); columns 49 and 50 sample x = 633
    // and 646 (in the band), 48 and 51 sample 620 and 659 (outside).
    let gentle = |y: f64| Some(640.0 - 0.2 * (y - 160.0));
    let slots = lane_slots(&parse_label(&label(&[&gentle])).unwrap());
    let seg = segmentation_target(&slots, 36, 100, LaneAugment::NONE);
    assert_eq!(seg.len(), 3600);
    let at = |i: usize, j: usize| seg[i * 100 + j];
    assert_eq!((at(8, 48), at(8, 49), at(8, 50), at(8, 51)), (0, 2, 2, 0));
    // Above the lane's first row (y = 150 at row 7): nothing.
    assert!((0..100).all(|j| at(7, j) == 0));
}

#[test]
fn the_synthetic_set_is_tusimple_format_and_its_labels_are_on_the_markings() {
    use slr_repro::data::synthetic_lanes::{TEST_LABELS, TRAIN_LABELS, generate};
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 2, 1, 7).unwrap();
    let train = read_labels(&tmp.path().join(TRAIN_LABELS)).unwrap();
    let test = read_labels(&tmp.path().join(TEST_LABELS)).unwrap();
    assert_eq!((train.len(), test.len()), (2, 1));
    for label in train.iter().chain(&test) {
        let frame = image::open(tmp.path().join(&label.raw_file))
            .unwrap()
            .to_rgb8();
        assert_eq!(frame.dimensions(), (1280, 720));
        assert!((2..=4).contains(&label.lanes.len()));
        let bright = |x: f64, y: f64| {
            let p = frame.get_pixel(x as u32, y as u32);
            p[0] > 180 && p[1] > 160
        };
        for lane in &label.lanes {
            // Painted where labelled (dashes leave gaps), asphalt 60 px beside the marking.
            let points: Vec<(f64, f64)> = lane
                .iter()
                .zip(&label.h_samples)
                .filter(|(x, y)| **x >= 60.0 && **y >= 400.0)
                .map(|(x, y)| (*x, *y))
                .collect();
            assert!(
                points.iter().any(|(x, y)| bright(*x, *y)),
                "{}",
                label.raw_file
            );
            assert!(
                points.iter().all(|(x, y)| !bright(x - 60.0, *y)),
                "{}",
                label.raw_file
            );
        }
    }
    // The same seed writes the same bytes.
    let again = tempfile::tempdir().unwrap();
    generate(again.path(), 2, 1, 7).unwrap();
    for file in [TRAIN_LABELS, "clips/synthetic/2.jpg"] {
        assert_eq!(
            std::fs::read(tmp.path().join(file)).unwrap(),
            std::fs::read(again.path().join(file)).unwrap()
        );
    }
}

#[test]
fn frames_shrink_byte_for_byte_as_pillow_does() {
    use slr_repro::data::resize::resize_bilinear;
    // The formula image of scripts/resize_reference.py, 1280x720 -> 800x288.
    let mut rgb = Vec::with_capacity(1280 * 720 * 3);
    for y in 0..720usize {
        for x in 0..1280usize {
            for c in 0..3usize {
                rgb.push(((x * 7 + y * 13 + c * 50 + (x * y) % 17) % 256) as u8);
            }
        }
    }
    let out = resize_bilinear(&rgb, 1280, 720, 800, 288);
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(super::common::root().join("tests/fixtures/pil_resize.json"))
            .unwrap(),
    )
    .unwrap();
    let indices: Vec<usize> = serde_json::from_value(fixture["indices"].clone()).unwrap();
    let values: Vec<u8> = serde_json::from_value(fixture["values"].clone()).unwrap();
    let ours: Vec<u8> = indices.iter().map(|&i| out[i]).collect();
    assert_eq!(ours, values);
    let sum: u64 = out.iter().map(|&b| b as u64).sum();
    assert_eq!(sum, fixture["sum"].as_u64().unwrap());
}

#[test]
fn lane_batches_hold_normalised_frames_and_their_targets() {
    use slr_repro::data::resize::resize_bilinear;
    use slr_repro::data::synthetic_lanes::{TRAIN_LABELS, generate};
    use slr_repro::data::tusimple::{batch_data, read_split};
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 2, 0, 11).unwrap();
    let items = read_split(tmp.path(), &[TRAIN_LABELS]).unwrap();
    assert_eq!(items.len(), 2);
    let refs: Vec<_> = items.iter().collect();
    let data = batch_data(&refs, [288, 800], 100, None).unwrap();
    assert_eq!(data.images.len(), 2 * 3 * 288 * 800);
    assert_eq!(data.cells.len(), 2 * 56 * 4);
    assert_eq!(data.segmentation.len(), 2 * 36 * 100);
    // Second frame, green channel, pixel (row 200, column 400): Pillow's byte, then
    // ToTensor and Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)).
    let frame = image::open(&items[1].frame).unwrap().to_rgb8();
    let small = resize_bilinear(frame.as_raw(), 1280, 720, 800, 288);
    let byte = small[(200 * 800 + 400) * 3 + 1];
    let expected = (byte as f32 / 255.0 - 0.456) / 0.224;
    assert_eq!(
        data.images[3 * 288 * 800 + 288 * 800 + 200 * 800 + 400],
        expected
    );
    let cells: Vec<i64> = row_targets(&lane_slots(&items[1].label), 100, LaneAugment::NONE)
        .iter()
        .flatten()
        .map(|&c| c as i64)
        .collect();
    assert_eq!(&data.cells[56 * 4..], &cells[..]);
    // A label naming a frame the folder lacks is refused with the file and line.
    std::fs::remove_file(&items[1].frame).unwrap();
    let err = read_split(tmp.path(), &[TRAIN_LABELS]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("label_data_synthetic.json:2: frame"),
        "{err}"
    );
}

#[test]
fn lane_batches_are_the_same_on_one_thread_and_on_several() {
    use slr_repro::data::synthetic_lanes::{TRAIN_LABELS, generate};
    use slr_repro::data::tusimple::{batch_data, read_split};
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 3, 0, 5).unwrap();
    let items = read_split(tmp.path(), &[TRAIN_LABELS]).unwrap();
    let refs: Vec<_> = items.iter().collect();
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| batch_data(&refs, [64, 160], 25, Some(7)).unwrap())
    };
    let (one, three) = (on(1), on(3));
    assert_eq!(one.images.len(), 3 * 3 * 64 * 160);
    assert_eq!(one, three);
}

#[test]
fn ufld_trains_a_step_on_synthetic_lanes_and_is_scored_by_laneeval() {
    use burn::module::Module;
    use burn::tensor::Device;
    use slr_repro::data::synthetic_lanes::{TEST_LABELS, TRAIN_LABELS, generate};
    use slr_repro::data::tusimple::read_split;
    use slr_repro::data::{Dataset, Examples, LaneSplit};
    use slr_repro::models::Net;
    use slr_repro::prune::Dense;
    use slr_repro::spec::{BudgetSpec, DatasetKind, ModelKind};
    use slr_repro::train::lanes::task::LaneDetection;
    use slr_repro::train::{self, EpochRecord, Observer, Snapshot, Task};
    use std::sync::Arc;

    struct Records(Vec<EpochRecord>);
    impl Observer for Records {
        fn epoch(&mut self, record: &EpochRecord, _: &Net) -> slr_repro::Result<()> {
            self.0.push(record.clone());
            Ok(())
        }
        fn checkpoint(&mut self, _: Snapshot) -> slr_repro::Result<()> {
            Ok(())
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 2, 1, 5).unwrap();
    let device = Device::flex().autodiff();
    let split = |file: &str| {
        Examples::Lanes(LaneSplit {
            items: Arc::new(read_split(tmp.path(), &[file]).unwrap()),
            input: [288, 800],
            griding_num: 100,
            augment: true,
            device: device.clone(),
        })
    };
    let data = Dataset {
        kind: DatasetKind::Tusimple,
        train: split(TRAIN_LABELS),
        test: split(TEST_LABELS),
    };
    let budget = BudgetSpec {
        steps: Some(1),
        ..BudgetSpec::default()
    };
    let settings = train::TrainSettings {
        budget: &budget,
        batch_size: 2,
        test_batch_size: 1,
        shuffle_seed: 1,
        fixed_batches: false,
        label: "ufld".into(),
    };
    let net = Net::seeded(ModelKind::Ufld, &device, 1);
    let mut records = Records(Vec::new());
    let trained = train::train(
        net,
        &data,
        &settings,
        &LaneDetection,
        &mut Dense,
        &mut records,
        None,
    )
    .unwrap();
    assert_eq!(records.0.len(), 1);
    let record = &records.0[0];
    // Focal + relation + segmentation of an untrained model: finite and positive.
    assert!(
        record.train_ce.is_finite() && record.train_ce > 0.0,
        "{}",
        record.train_ce
    );
    assert!((0.0..=100.0).contains(&record.test_acc));
    // Evaluated without autodiff, as the loop evaluates (BatchNorm on its running statistics).
    let again = LaneDetection
        .evaluate(&trained.valid(), &data.test, 1)
        .unwrap();
    assert_eq!(again, record.test_acc);
}

#[test]
fn ufld_augmentation_matches_pillow_and_moves_the_targets_with_the_frame() {
    // Frame (bilinear) and label (nearest) against scripts/lane_augment_reference.py's run of
    // UFLD's transforms under Pillow, byte for byte.
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(super::common::root().join("tests/fixtures/lane_augment.json"))
            .unwrap(),
    )
    .unwrap();
    let mut rgb = Vec::with_capacity(1280 * 720 * 3);
    for y in 0..720usize {
        for x in 0..1280usize {
            for c in 0..3usize {
                rgb.push(((x * 7 + y * 13 + c * 50 + (x * y) % 17) % 256) as u8);
            }
        }
    }
    let check = |expected: &serde_json::Value, bytes: &[u8], what: &str| {
        let indices: Vec<usize> = serde_json::from_value(expected["indices"].clone()).unwrap();
        let values: Vec<u8> = serde_json::from_value(expected["values"].clone()).unwrap();
        let ours: Vec<u8> = indices.iter().map(|&i| bytes[i]).collect();
        assert_eq!(ours, values, "{what}");
        let sum: u64 = bytes.iter().map(|&b| b as u64).sum();
        assert_eq!(sum, expected["sum"].as_u64().unwrap(), "{what}");
    };
    for draw in fixture.as_array().unwrap() {
        let augment = LaneAugment {
            angle: draw["angle"].as_i64().unwrap() as i32,
            down: draw["down"].as_i64().unwrap() as i32,
            right: draw["right"].as_i64().unwrap() as i32,
        };
        check(
            &draw["frame"],
            &augment.frame(&rgb),
            &format!("frame {augment:?}"),
        );
        let map = augment.label_map();
        let label: Vec<u8> = (0..720usize)
            .flat_map(|y| (0..1280usize).map(move |x| (x, y)))
            .map(|(x, y)| {
                map.source(x, y)
                    .map_or(0, |(x, y)| ((x * 3 + y * 5) % 251 + 1) as u8)
            })
            .collect();
        check(&draw["label"], &label, &format!("label {augment:?}"));
    }
    // The targets move with the frame: a vertical lane at x = 400 shifted 100 px left is in
    // cell floor(300 / (1279 / 99)) = 23 where it was in cell floor(400 / 12.919) = 30; the
    // 30 px downward shift empties the rows it uncovers (row anchor 64 of 288: y = 160, now
    // read from y = 130, above the lane's first point at 160).
    let lane = parse_label(&label(&[&|_| Some(400.0)])).unwrap();
    let slots = lane_slots(&lane);
    let plain = row_targets(&slots, 100, LaneAugment::NONE);
    let shifted = LaneAugment {
        angle: 0,
        down: 30,
        right: -100,
    };
    let moved = row_targets(&slots, 100, shifted);
    let lane_slot = (0..4).find(|&s| plain[55][s] != 100).unwrap();
    assert_eq!(plain[55][lane_slot], 30);
    assert_eq!(moved[55][lane_slot], 23);
    assert_eq!(plain[0][lane_slot], 30);
    assert_eq!(moved[0][lane_slot], 100);
    assert_eq!(moved[3][lane_slot], 23);
    // Draws cover UFLD's ranges: angles -6..=6, offsets -100..=99 and -200..=199.
    let mut rng = slr_repro::base::rng::SplitMix64::new(5);
    let draws: Vec<LaneAugment> = (0..5000).map(|_| LaneAugment::draw(&mut rng)).collect();
    let range = |f: fn(&LaneAugment) -> i32| {
        (
            draws.iter().map(f).min().unwrap(),
            draws.iter().map(f).max().unwrap(),
        )
    };
    assert_eq!(range(|d| d.angle), (-6, 6));
    assert_eq!(range(|d| d.down), (-100, 99));
    assert_eq!(range(|d| d.right), (-200, 199));
}
