//! IDX parsing on the real MNIST files, gzip, checksums and corrupt input.

use super::common::{data_root, write};
use slr_repro::catalog::MNIST_FILES;
use slr_repro::data::{self, idx};
use slr_repro::error::Error;
use std::io::Write;

#[test]
fn parses_real_mnist_files() {
    let dir = data_root().join("mnist");
    let train_images = idx::read_verified(&dir, &MNIST_FILES[0]).unwrap();
    let images = idx::parse_images(&train_images, &dir).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (60_000, 28, 28));
    assert_eq!(images.pixels.len(), 60_000 * 28 * 28);
    let labels =
        idx::parse_labels(&idx::read_verified(&dir, &MNIST_FILES[1]).unwrap(), &dir).unwrap();
    // The first training digits of MNIST are 5 0 4 1 9 2 1 3 1 4.
    assert_eq!(&labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    let test_labels =
        idx::parse_labels(&idx::read_verified(&dir, &MNIST_FILES[3]).unwrap(), &dir).unwrap();
    assert_eq!(test_labels.len(), 10_000);
    assert_eq!(&test_labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    // Each class is present; the test set has 980 zeros and 1,135 ones.
    assert_eq!(test_labels.iter().filter(|&&l| l == 0).count(), 980);
    assert_eq!(test_labels.iter().filter(|&&l| l == 1).count(), 1135);
}

#[test]
fn gzipped_files_read_the_same() {
    let src = data_root().join("mnist");
    let plain = std::fs::read(src.join(MNIST_FILES[3].name)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz_path = tmp.path().join(format!("{}.gz", MNIST_FILES[3].name));
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    assert_eq!(
        idx::read_verified(tmp.path(), &MNIST_FILES[3]).unwrap(),
        plain
    );
}

#[test]
fn checksum_mismatch_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(data_root().join("mnist").join(MNIST_FILES[3].name)).unwrap();
    bytes[100] ^= 1;
    std::fs::write(tmp.path().join(MNIST_FILES[3].name), &bytes).unwrap();
    let err = idx::read_verified(tmp.path(), &MNIST_FILES[3]).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Corrupt { .. }));
    assert!(message.contains("t10k-labels-idx1-ubyte"), "{message}");
    assert!(message.contains("checksum mismatch"), "{message}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn corrupt_headers_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "x", "");
    // Wrong magic: an image header where labels are expected.
    let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 1];
    bytes.push(3);
    let err = idx::parse_labels(&bytes, &path).unwrap_err().to_string();
    assert!(
        err.contains("magic number 0x00000803, expected 0x00000801"),
        "{err}"
    );
    // Truncated: the header promises 2 labels, 1 is present.
    let err = idx::parse_labels(&[0, 0, 8, 1, 0, 0, 0, 2, 7], &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("9 bytes, header [2] implies 10"), "{err}");
    // A label outside 0..9.
    let err = idx::parse_labels(&[0, 0, 8, 1, 0, 0, 0, 1, 12], &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 12 outside 0..9"), "{err}");
}

#[test]
fn missing_data_prints_the_fetch_command() {
    let tmp = tempfile::tempdir().unwrap();
    let err = data::load(
        tmp.path(),
        slr_repro::spec::DatasetKind::Mnist,
        &Default::default(),
        &burn::tensor::Device::flex(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("slr data fetch mnist"), "{err}");
}

#[test]
fn fetch_from_a_local_folder_verifies_and_installs() {
    let tmp = tempfile::tempdir().unwrap();
    let source = data::fetch::fetch(
        tmp.path(),
        slr_repro::spec::DatasetKind::Mnist,
        Some(&data_root().join("mnist")),
    )
    .unwrap();
    assert!(matches!(source, data::fetch::Source::Local(_)));
    for file in MNIST_FILES {
        assert!(tmp.path().join("mnist").join(file.name).is_file());
    }
    // A second fetch finds everything in place.
    let again = data::fetch::fetch(tmp.path(), slr_repro::spec::DatasetKind::Mnist, None).unwrap();
    assert_eq!(again, data::fetch::Source::Present);
}

#[test]
fn the_tensorflow_holdout_trains_on_mnist_images_5000_to_59999() {
    use slr_repro::spec::{DataSpec, DatasetKind};
    let device = burn::tensor::Device::flex();
    let root = super::common::data_root();
    let all = data::load(&root, DatasetKind::Mnist, &DataSpec::default(), &device).unwrap();
    let held = DataSpec {
        holdout_first: Some(5000),
        ..DataSpec::default()
    };
    let tf = data::load(&root, DatasetKind::Mnist, &held, &device).unwrap();
    assert_eq!(tf.train.len(), 55_000);
    assert_eq!(tf.test.len(), 10_000);
    let image = |d: &data::Dataset, i: usize| {
        let (images, labels) = d.train.range(i, i + 1).unwrap();
        (
            images.into_data().try_to_vec::<f32>().unwrap(),
            labels
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap(),
        )
    };
    // The first and last training images are MNIST's training images 5,000 and 59,999.
    assert_eq!(image(&tf, 0), image(&all, 5000));
    assert_eq!(image(&tf, 54_999), image(&all, 59_999));
    assert_ne!(image(&tf, 0), image(&all, 0));
}
