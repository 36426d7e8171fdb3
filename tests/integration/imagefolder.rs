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

    // A flip mirrors the crop: the 512x256 gradient stays 512x256 (shorter side already 256).
    let path = &scanned.items[0].0;
    let plain = folder::decode(path, Some((0.0, 0.0, false))).unwrap();
    let flipped = folder::decode(path, Some((0.0, 0.0, true))).unwrap();
    for x in [0, 50, 223] {
        assert_eq!(plain[100 * 224 + x], flipped[100 * 224 + 223 - x]);
    }
    // The red channel grows left to right in the unflipped crop.
    assert!(plain[100 * 224 + 200] > plain[100 * 224 + 20]);

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
