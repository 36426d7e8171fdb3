//! The ImageFolder reader on a small folder of generated JPEGs.

use burn::tensor::Device;
use image::{ImageBuffer, Rgb};
use slr_repro::data::folder;
use std::path::Path;

/// Writes `class/name.jpg` of size `w x h` whose pixel (x, y) is `colour(x, y)`.
fn jpeg(root: &Path, class: &str, name: &str, (w, h): (u32, u32), colour: fn(u32, u32) -> [u8; 3]) {
    let dir = root.join(class);
    std::fs::create_dir_all(&dir).unwrap();
    let image = ImageBuffer::from_fn(w, h, |x, y| Rgb(colour(x, y)));
    image.save(dir.join(name)).unwrap();
}

fn values(t: burn::tensor::Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn scans_decodes_and_augments_a_generated_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    jpeg(root, "dog", "b.jpg", (300, 260), |_, _| [200, 40, 90]);
    jpeg(root, "dog", "a.JPG", (260, 400), |_, _| [10, 220, 30]);
    jpeg(root, "cat", "z.jpeg", (512, 256), |x, _| {
        [(x / 2) as u8, 0, 255 - (x / 2) as u8]
    });
    std::fs::write(root.join("cat/notes.txt"), "not an image").unwrap();

    // Classes sorted by name; files sorted; other files ignored.
    let scanned = folder::scan(root).unwrap();
    assert_eq!(scanned.classes, ["cat", "dog"]);
    let names: Vec<(String, usize)> = scanned
        .items
        .iter()
        .map(|(p, l)| (p.file_name().unwrap().to_string_lossy().into_owned(), *l))
        .collect();
    assert_eq!(
        names,
        [
            ("z.jpeg".into(), 0),
            ("a.JPG".into(), 1),
            ("b.jpg".into(), 1)
        ]
    );

    // Evaluation: centre crop, normalised with the ImageNet constants; a solid colour stays
    // that colour (JPEG error a few levels).
    let device = Device::flex();
    let (images, labels) = folder::batch(&scanned.items, None, &device).unwrap();
    assert_eq!(images.dims(), [3, 3, 224, 224]);
    let labels = labels.into_data().convert::<i64>();
    assert_eq!(labels.try_to_vec::<i64>().unwrap(), [0, 1, 1]);
    let all = values(images);
    let plane = 224 * 224;
    let solid = &all[2 * 3 * plane..3 * 3 * plane]; // b.jpg, colour (200, 40, 90)
    for (c, level) in [200.0f32, 40.0, 90.0].into_iter().enumerate() {
        let (mean, std) = slr_repro::catalog::IMAGENET_NORM[c];
        let expected = (level / 255.0 - mean) / std;
        let got = solid[c * plane + 112 * 224 + 112];
        assert!(
            (got - expected).abs() < 4.0 / 255.0 / std,
            "channel {c}: {got} vs {expected}"
        );
    }

    // Training draws: the same seed gives the same batch, another seed another one.
    let a = values(folder::batch(&scanned.items, Some(1), &device).unwrap().0);
    let b = values(folder::batch(&scanned.items, Some(1), &device).unwrap().0);
    let c = values(folder::batch(&scanned.items, Some(2), &device).unwrap().0);
    assert_eq!(a, b);
    assert_ne!(a, c);

    // A training view is its RandomResizedCrop window, mirrored when its flip says so.
    let path = &scanned.items[0].0;
    let image = image::open(path).unwrap().to_rgb8();
    let (red_mean, red_std) = slr_repro::catalog::IMAGENET_NORM[0];
    let mut flips = [false; 2];
    for seed in 0..16 {
        let (view, flip) = folder::train_view_224(&image, seed);
        let decoded = folder::decode(path, Some(seed)).unwrap();
        flips[flip as usize] = true;
        for x in [0, 50, 223] {
            let source = if flip { 223 - x } else { x };
            let red = view[(100 * 224 + source) * 3] as f32;
            assert_eq!(decoded[100 * 224 + x], (red / 255.0 - red_mean) / red_std);
        }
    }
    assert_eq!(flips, [true, true], "both flips drawn");

    // A corrupt file is a clear error naming it (exit code 2).
    std::fs::write(root.join("dog/c.jpg"), b"not a jpeg").unwrap();
    let scanned = folder::scan(root).unwrap();
    let err = folder::batch(&scanned.items, None, &device).unwrap_err();
    assert!(
        err.to_string().contains("c.jpg: cannot decode image"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 2);
}

/// An ImageNet-layout data root: `imagenet/{train,val}/<class>/*.jpg`, three classes told apart
/// by colour and texture.
fn tiny_imagenet(data_root: &Path, train_per_class: usize, val_per_class: usize) {
    type Colour = fn(u32, u32) -> [u8; 3];
    let classes: [(&str, Colour); 3] = [
        ("n01", |x, y| [200, (x % 64) as u8, (y % 32) as u8]),
        ("n02", |x, _| [20, 180, (x / 2) as u8]),
        ("n03", |_, y| [(y / 3) as u8, 30, 220]),
    ];
    for (split, count) in [("train", train_per_class), ("val", val_per_class)] {
        for (class, colour) in classes {
            for i in 0..count {
                let size = (240 + 24 * i as u32, 300 - 16 * i as u32);
                jpeg(
                    &data_root.join("imagenet").join(split),
                    class,
                    &format!("{i}.jpg"),
                    size,
                    colour,
                );
            }
        }
    }
}

#[test]
fn imagenet_loads_as_files_with_limits_spread_over_classes() {
    use slr_repro::data::{self, Examples};
    use slr_repro::spec::{DataSpec, DatasetKind};
    let tmp = tempfile::tempdir().unwrap();
    tiny_imagenet(tmp.path(), 4, 1);
    let limits = DataSpec {
        train_limit: Some(6),
        ..DataSpec::default()
    };
    let dataset = data::load(tmp.path(), DatasetKind::Imagenet, &limits, &Device::flex()).unwrap();
    let Examples::Files(train) = &dataset.train else {
        panic!("ImageNet is decoded per batch")
    };
    let labels: Vec<usize> = train.items.iter().map(|(_, label)| *label).collect();
    assert_eq!(labels, [0, 0, 1, 1, 2, 2]);
    assert_eq!((train.classes, dataset.test.len()), (3, 3));
    // A missing split names the folder and the way to provide it.
    std::fs::remove_dir_all(tmp.path().join("imagenet/val")).unwrap();
    let error = data::load(tmp.path(), DatasetKind::Imagenet, &limits, &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("imagenet/val") && error.contains("ImageFolder layout"),
        "{error}"
    );
}

#[test]
fn resnet18_trains_prunes_and_retrains_on_image_folders_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_imagenet(tmp.path(), 4, 2);
    let spec = crate::common::write(
        tmp.path(),
        "imagenet.toml",
        r#"
[table]
id = "imagenet-tiny"
title = "ResNet-18 on a generated ImageFolder"

[defaults]
model = "resnet18-imagenet"
dataset = "imagenet"
batch_size = 4
test_batch_size = 3
pretrain = { epochs = 1, optimizer = { lr = 0.01, momentum = 0.9 } }
retrain = { epochs = 1 }

[[rows]]
name = "dense"

[[rows]]
name = "magnitude"
method = "magnitude"
sparsity = { uniform = 0.8 }
"#,
    );
    let results = |name: &str| {
        let (runs, reports) = (tmp.path().join(name), tmp.path().join(format!("{name}-r")));
        crate::common::reproduce(&spec, tmp.path(), &runs, &reports);
        let csv = std::fs::read_to_string(reports.join("imagenet-tiny/results.csv")).unwrap();
        let mut lines = csv.lines().map(|l| l.split(',').collect::<Vec<_>>());
        let header = lines.next().unwrap();
        // Every column but the finish time, which differs between the runs.
        let finished = header.iter().position(|c| *c == "finished_unix").unwrap();
        lines
            .map(|fields| {
                let mut fields = fields.clone();
                fields.remove(finished);
                fields.join(",")
            })
            .collect::<Vec<_>>()
    };
    let (first, second) = (results("runs-a"), results("runs-b"));
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(first.iter().all(|row| row.contains(",done,")), "{first:?}");
    assert_eq!(first, second, "same spec and seed, same numbers");
}

/// Our evaluation view (resize the shorter side to 256, centre crop 224) equals torchvision
/// 0.26's `Resize(256)` + `CenterCrop(224)` on PIL images byte for byte on lossless files
/// (scripts/imagefolder_reference.py draws them: odd and even margins, both orientations, a
/// side of exactly 256, an upscaled image). On a JPEG the decoders themselves differ (the
/// `image` crate's against PIL's libjpeg), by at most a few levels.
#[test]
fn the_evaluation_view_equals_torchvisions_pixel_for_pixel() {
    use slr_repro::data::folder::{view_224, window_224};
    let dir = crate::common::root().join("tests/fixtures/imagefolder");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let reference = std::fs::read(dir.join("eval224.bin")).unwrap();
    let size = meta["crop_bytes"].as_u64().unwrap() as usize;
    let files = meta["files"].as_array().unwrap();
    assert_eq!(reference.len(), files.len() * size);
    for (i, file) in files.iter().enumerate() {
        let name = file.as_str().unwrap();
        let image = image::open(dir.join(name)).unwrap().to_rgb8();
        let ours = view_224(&image);
        let theirs = &reference[i * size..(i + 1) * size];
        let differing = ours.iter().zip(theirs).filter(|(a, b)| a != b).count();
        let largest = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        if name.ends_with(".png") {
            assert_eq!(
                differing, 0,
                "{name}: {differing} bytes differ, by up to {largest}"
            );
        } else {
            assert!(
                largest <= 3,
                "{name}: the JPEG decoders differ by {largest}"
            );
        }
        eprintln!("{name}: {differing} of {size} bytes differ, by up to {largest}");
    }
    // The training view's resampling (RandomResizedCrop's resized_crop) on fixed windows:
    // exactly Pillow's horizontal pass then vertical pass; Pillow 13.0 itself resamples the
    // 257x301 -> 224x224 window vertically first, which moves 111 bytes by one level.
    let trains = std::fs::read(dir.join("train224.bin")).unwrap();
    let mut moved = Vec::new();
    for (i, window) in meta["windows"].as_array().unwrap().iter().enumerate() {
        let image = image::open(dir.join(window["file"].as_str().unwrap()))
            .unwrap()
            .to_rgb8();
        let at = |k: &str| window[k].as_u64().unwrap() as u32;
        let ours = window_224(&image, (at("x"), at("y"), at("w"), at("h")));
        let torchvision = &trains[2 * i * size..(2 * i + 1) * size];
        let horizontal_first = &trains[(2 * i + 1) * size..(2 * i + 2) * size];
        assert!(ours == horizontal_first, "window {window}");
        let (count, largest) = ours
            .iter()
            .zip(torchvision)
            .filter(|(a, b)| a != b)
            .fold((0, 0), |(n, m), (a, b)| (n + 1, m.max(a.abs_diff(*b))));
        moved.push((count, largest));
    }
    assert_eq!(moved, [(0, 0), (111, 1), (0, 0)]);
}

/// RandomResizedCrop's fallback by hand: a 1000x10 strip admits no window of 8-100% of its
/// area at a ratio within 3/4-4/3 (the shortest side needed is sqrt(800 / (4/3)) = 24.5 > 10),
/// so all ten draws fail and the centre window at ratio 4/3 is taken: 10 high,
/// round(13.33) = 13 wide, at x = (1000 - 13) / 2 = 493.
#[test]
fn random_resized_crop_falls_back_to_the_centre_as_torchvision_does() {
    use slr_repro::base::rng::SplitMix64;
    use slr_repro::data::folder::random_resized_window;
    let mut rng = SplitMix64::new(7);
    assert_eq!(random_resized_window(1000, 10, &mut rng), (493, 0, 13, 10));
    // A square image: every draw fits within the image.
    let mut rng = SplitMix64::new(7);
    for _ in 0..100 {
        let (x, y, w, h) = random_resized_window(300, 300, &mut rng);
        assert!(x + w <= 300 && y + h <= 300 && w > 0 && h > 0);
        let ratio = w as f64 / h as f64;
        assert!((0.74..=1.35).contains(&ratio), "{ratio}");
    }
}
