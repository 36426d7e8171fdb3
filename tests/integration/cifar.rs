//! CIFAR-format data: the binary reader (golden test on the 20 real CIFAR-10 test images from
//! PyPI's foolbox wheel), the Fashion-MNIST stand-in, and the training augmentation.

use super::common::root;
use burn::tensor::{Device, Tensor, TensorData};
use slr_repro::data::{self, Examples, augment, cifar};
use slr_repro::spec::{DataSpec, DatasetKind};
use std::path::Path;

/// `data/` with the 20-record file (`just test` builds it).
fn data_root() -> std::path::PathBuf {
    let root = root().join("data");
    assert!(
        root.join("cifar10-test20/test_batch_20.bin").is_file(),
        "the 20 CIFAR-10 test images are missing: run `cargo run -- data fetch cifar10-test20` \
         (just test does)"
    );
    root
}

#[test]
fn golden_first_20_cifar10_test_images() {
    let dir = data_root().join("cifar10-test20");
    let bytes = std::fs::read(dir.join("test_batch_20.bin")).unwrap();
    let records = cifar::parse(&bytes, Path::new("test_batch_20.bin")).unwrap();
    assert_eq!(
        records.labels,
        [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]
    );
    // Record 0: red row 0, then green row 0 (datasets.md).
    assert_eq!(
        &records.pixels[..8],
        &[158, 159, 165, 166, 160, 156, 162, 159]
    );
    assert_eq!(&records.pixels[1024..1028], &[112, 111, 116, 118]);
    // Per-channel means of the 20 images: about (124.88, 120.96, 114.87).
    for (channel, expected) in [124.88, 120.96, 114.87].into_iter().enumerate() {
        let sum: u64 = records
            .pixels
            .chunks_exact(3072)
            .flat_map(|image| &image[channel * 1024..(channel + 1) * 1024])
            .map(|&p| p as u64)
            .sum();
        let mean = sum as f64 / (20.0 * 1024.0);
        assert!((mean - expected).abs() < 0.01, "channel {channel}: {mean}");
    }
    // Loaded through the data set kind: normalised with the authors' constants.
    let dataset = data::load(
        &data_root(),
        DatasetKind::Cifar10Test20,
        &DataSpec::default(),
        &Device::flex(),
    )
    .unwrap();
    let Examples::Tensors(test) = &dataset.test else {
        panic!("CIFAR is held as tensors")
    };
    assert_eq!(test.images.dims(), [20, 3, 32, 32]);
    let first: Vec<f32> = test
        .images
        .clone()
        .slice([0..1, 0..1, 0..1, 0..1])
        .into_data()
        .try_to_vec()
        .unwrap();
    assert!((first[0] - (158.0 / 255.0 - 0.4914) / 0.2023).abs() < 1e-5);
}

#[test]
fn reader_rejects_corrupt_records() {
    let mut bytes = vec![0u8; 2 * cifar::RECORD];
    bytes[cifar::RECORD] = 10;
    let err = cifar::parse(&bytes, Path::new("x.bin")).unwrap_err();
    assert!(
        err.to_string()
            .contains("record 1: label 10 is outside 0..9"),
        "{err}"
    );
    let err = cifar::parse(&bytes[..100], Path::new("x.bin")).unwrap_err();
    assert!(
        err.to_string().contains("100 bytes is not a whole number"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn standin_pads_and_copies_channels() {
    let pixels: Vec<u8> = (0..28 * 28).map(|i| (i % 251) as u8 + 1).collect();
    let records = cifar::grey28_to_rgb32(&pixels, &[7]);
    assert_eq!(records.labels, [7]);
    assert_eq!(records.pixels.len(), 3 * 32 * 32);
    for channel in 0..3 {
        let plane = &records.pixels[channel * 1024..(channel + 1) * 1024];
        // A 2-pixel black border; the image at (2, 2).
        assert!(plane[..64].iter().all(|&p| p == 0));
        assert_eq!(plane[2 * 32 + 1], 0);
        assert_eq!(plane[2 * 32 + 2], pixels[0]);
        assert_eq!(plane[29 * 32 + 29], pixels[27 * 28 + 27]);
        assert_eq!(plane[29 * 32 + 30], 0);
    }
}

#[test]
fn augmentation_is_a_seeded_crop_and_flip() {
    let device = Device::flex();
    let norm = [(0.5, 0.25), (0.5, 0.25), (0.5, 0.25)];
    // 6 images of 3x32x32 with distinct values.
    let values: Vec<f32> = (0..6 * 3 * 1024)
        .map(|i| (i % 997) as f32 / 997.0)
        .collect();
    let images = Tensor::<4>::from_data(TensorData::new(values, [6, 3, 32, 32]), &device);
    let a = augment::crop_flip(images.clone(), &norm, 42);
    let b = augment::crop_flip(images.clone(), &norm, 42);
    let c = augment::crop_flip(images.clone(), &norm, 43);
    let data = |t: &Tensor<4>| t.clone().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(data(&a), data(&b), "same seed, same batch");
    assert_ne!(data(&a), data(&c), "another seed, another batch");
    assert_eq!(a.dims(), [6, 3, 32, 32]);
    // Check every image against its draw by hand.
    let source = data(&images);
    let out = data(&a);
    for (i, (dy, dx, flip)) in augment::draws(6, 42).into_iter().enumerate() {
        for ch in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let sx = if flip { 31 - x } else { x };
                    let (py, px) = (y + dy, sx + dx);
                    let expected = if (4..36).contains(&py) && (4..36).contains(&px) {
                        source[((i * 3 + ch) * 32 + py - 4) * 32 + px - 4]
                    } else {
                        -0.5 / 0.25 // black after normalisation
                    };
                    let got = out[((i * 3 + ch) * 32 + y) * 32 + x];
                    assert!((got - expected).abs() < 1e-5, "image {i} ({ch},{y},{x})");
                }
            }
        }
    }
}

const CIFAR_PIPELINE: &str = r#"
[table]
id = "cifar-pipeline"
title = "ResNet-18 on the 20 real CIFAR-10 test images: pipeline check"

[defaults]
model = "resnet18-cifar"
dataset = "cifar10-test20"
seeds = [1]
batch_size = 10
test_batch_size = 20
pretrain = { epochs = 1, optimizer = { lr = 0.01, momentum = 0.9 } }
train = { epochs = 1 }
retrain = { epochs = 1 }

[[rows]]
name = "dense"

[[rows]]
name = "magnitude"
method = "magnitude"
sparsity = { uniform = 0.9 }

[[rows]]
name = "slr"
method = "slr"
hardprune_every_epoch = true
sparsity = { uniform = 0.9 }
"#;

#[test]
fn resnet18_pipeline_on_real_cifar_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = super::common::write(tmp.path(), "cifar.toml", CIFAR_PIPELINE);
    super::common::reproduce(
        &spec,
        &data_root(),
        &tmp.path().join("runs"),
        &tmp.path().join("reports"),
    );
    let report = std::fs::read_to_string(tmp.path().join("reports/cifar-pipeline.md")).unwrap();
    // The 16 block convs at 90%: exactly 10x over the pruned layers, measured.
    for row in ["magnitude", "slr"] {
        let line = report
            .lines()
            .find(|l| l.starts_with(&format!("| {row} |")))
            .unwrap();
        assert!(line.ends_with("| 10.00x (1 seed) |"), "{line}");
    }
}
