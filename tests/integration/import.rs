//! `import = "x.pt"`: PyTorch checkpoints written by scripts/make-import-fixtures.py (real
//! PyTorch files whose element [..., j] of tensor `key` is `code(key) + j`) load into our models
//! with every tensor routed, transposed and shaped right; mismatches are listed.

use crate::common;
use burn::tensor::Device;
use slr_repro::models::params;
use slr_repro::models::{Net, import_pytorch};
use slr_repro::spec::ModelKind;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    common::root().join("tests/fixtures").join(name)
}

/// The key code of scripts/make-import-fixtures.py.
fn code(key: &str) -> f32 {
    let sum: usize = key
        .bytes()
        .enumerate()
        .map(|(i, b)| (i + 1) * b as usize)
        .sum();
    (sum % 997) as f32
}

/// Position of each VGG convolution in the authors' nn.Sequential (hand-counted: conv, bn,
/// relu per layer, one max-pool after each block).
const VGG_SEQUENTIAL: [usize; 13] = [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40];

/// The PyTorch name of one of our parameters.
fn torch_name(kind: ModelKind, ours: &str) -> String {
    let mut name = ours
        .replace(".downsample.conv.", ".downsample.0.")
        .replace(".downsample.bn.", ".downsample.1.")
        .replace(".gamma", ".weight")
        .replace(".beta", ".bias");
    if kind == ModelKind::Vgg16Cifar
        && let Some(rest) = name.strip_prefix("features.")
    {
        let (index, leaf) = rest.split_once('.').unwrap();
        let position = VGG_SEQUENTIAL[index.parse::<usize>().unwrap()];
        name = match leaf.split_once('.').unwrap() {
            ("conv", field) => format!("features.{position}.{field}"),
            ("bn", field) => format!("features.{}.{field}", position + 1),
            other => panic!("unexpected VGG name {other:?}"),
        };
    }
    name
}

/// Imports `file` into `kind` and checks every float tensor of the model against the code of
/// its PyTorch name; returns how many tensors were checked.
fn check_import(kind: ModelKind, file: &str) -> usize {
    let device = Device::flex();
    let net = import_pytorch(Net::init(kind, &device), kind, &fixture(file)).expect("imports");
    let shapes = params::shapes(&net);
    let names: Vec<String> = shapes.iter().map(|(n, _)| n.clone()).collect();
    let values = params::flat(&net, &names);
    for (name, shape) in &shapes {
        let expected_code = code(&torch_name(kind, name));
        let got: Vec<f32> = values[name].to_data().try_to_vec::<f32>().unwrap();
        // Linear weights are [in, out] here and [out, in] in PyTorch: the varying PyTorch
        // index (the last one) is our first.
        let linear = shape.len() == 2;
        let mismatch = got.iter().enumerate().find(|(t, v)| {
            let j = if linear {
                t / shape[1]
            } else {
                t % shape[shape.len() - 1]
            };
            **v != expected_code + j as f32
        });
        assert!(
            mismatch.is_none(),
            "{file}: `{name}` {shape:?} (PyTorch `{}`): element {:?}, expected code {expected_code}",
            torch_name(kind, name),
            mismatch
        );
    }
    shapes.len()
}

#[test]
fn authors_resnet18_checkpoint_loads_through_its_wrappers() {
    // {"net": {"module.<name>": ...}, "acc", "epoch"}, torchvision-style block names.
    // 62 parameters and 40 BatchNorm statistics (20 BatchNorms).
    assert_eq!(
        check_import(ModelKind::Resnet18Cifar, "resnet18-cifar.pt"),
        102
    );
}

#[test]
fn authors_vgg16_sequential_names_map_to_ours() {
    // 13 x (conv weight, bias, BN gamma, beta, mean, var) + classifier weight and bias.
    assert_eq!(check_import(ModelKind::Vgg16Cifar, "vgg16-cifar.pt"), 80);
}

#[test]
fn torchvision_resnet50_under_state_dict_loads() {
    // 161 parameters + 53 BatchNorms x 2 statistics.
    assert_eq!(
        check_import(ModelKind::Resnet50Imagenet, "resnet50-imagenet.pt"),
        267
    );
}

#[test]
fn a_checkpoint_of_another_model_lists_every_mismatch() {
    let device = Device::flex();
    let error = import_pytorch(
        Net::init(ModelKind::Resnet50Cifar, &device),
        ModelKind::Resnet50Cifar,
        &fixture("resnet18-cifar.pt"),
    )
    .expect_err("a ResNet-18 checkpoint does not fit ResNet-50")
    .to_string();
    insta::assert_snapshot!(error.replace(&common::root().display().to_string(), "<repo>"));
    let missing = common::root().join("tests/fixtures/absent.pt");
    let error = import_pytorch(
        Net::init(ModelKind::Resnet18Cifar, &device),
        ModelKind::Resnet18Cifar,
        &missing,
    )
    .err()
    .unwrap();
    assert_eq!(error.exit_code(), 2);
}

fn import_spec(checkpoint: &std::path::Path) -> String {
    format!(
        r#"
[table]
id = "import"
title = "An imported dense model"

[[rows]]
name = "imported"
model = "resnet18-cifar"
dataset = "cifar10-test20"
import = {:?}
"#,
        checkpoint.display().to_string()
    )
}

#[test]
fn a_row_imports_its_dense_model_identified_by_content() {
    use slr_repro::spec::{StageKind, resolve};
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("renamed.pt");
    std::fs::copy(fixture("resnet18-cifar.pt"), &renamed).unwrap();
    let original = common::write(
        dir.path(),
        "original.toml",
        &import_spec(&fixture("resnet18-cifar.pt")),
    );
    let copy = common::write(dir.path(), "copy.toml", &import_spec(&renamed));
    let stage = |path: &std::path::Path| {
        resolve(common::load_spec(path, None), None).runs[0].stages[0].clone()
    };
    let (first, second) = (stage(&original), stage(&copy));
    assert_eq!(first.kind, StageKind::Import);
    assert_eq!(first.id, second.id, "the path is not part of the identity");
    // Different bytes, different stage.
    let mut bytes = std::fs::read(&renamed).unwrap();
    bytes.push(0);
    std::fs::write(&renamed, bytes).unwrap();
    assert_ne!(stage(&copy).id, first.id);

    let (runs, reports) = (dir.path().join("runs"), dir.path().join("reports"));
    common::reproduce(&original, &common::data_root(), &runs, &reports);
    let stage_dir = runs.join(first.folder_name()).join("seed-1");
    let summary = slr_repro::run::store::read_summary(&stage_dir)
        .unwrap()
        .expect("the import stage finished");
    let accuracy = summary.metrics["acc.dense"];
    assert!((0.0..=100.0).contains(&accuracy), "{accuracy}");
    // The stage's saved model is the checkpoint's weights: fc.weight[i, o] = code + i.
    use burn::module::Module;
    let saved = Net::init(ModelKind::Resnet18Cifar, &Device::flex())
        .try_load_file(stage_dir.join(slr_repro::run::store::MODEL))
        .unwrap();
    let fc = params::flat(&saved, &["fc.weight".to_owned()])["fc.weight"].clone();
    let fc: Vec<f32> = fc.to_data().try_to_vec::<f32>().unwrap();
    assert_eq!(fc.len(), 512 * 10);
    let code = code("fc.weight");
    assert_eq!(
        (fc[0], fc[9], fc[10], fc[5119]),
        (code, code, code + 1.0, code + 511.0)
    );
}

#[test]
fn a_missing_checkpoint_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let spec = common::write(
        dir.path(),
        "spec.toml",
        &import_spec(&dir.path().join("absent.pt")),
    );
    let error = slr_repro::spec::load(
        &spec,
        &slr_repro::spec::LoadOptions {
            profile: None,
            sets: Vec::new(),
            read_env: false,
        },
    )
    .expect_err("absent checkpoint");
    assert_eq!(error.exit_code(), 2);
    let message = error.to_string();
    assert!(
        message.contains("row `imported` (rows[0]): key `import`: cannot read")
            && message.contains("absent.pt"),
        "{message}"
    );
}
