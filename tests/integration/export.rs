//! `slr export`: a stage's model as safetensors under the reference's names. Without PyTorch:
//! the names, shapes and masks in the file, the sizes it reports, and its errors. With PyTorch
//! (`just torch-venv`; `just test` runs it when that venv exists): the file loads strictly
//! into the model of `scripts/torch_models.py`, whose accuracy on the same test images equals
//! ours to 0.01 points and whose logits equal ours.

use super::common::{data_root, reproduce_command, root, write};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use slr_repro::data::{self, Examples};
use slr_repro::models::Net;
use slr_repro::run::store;
use slr_repro::spec::{DataSpec, DatasetKind, ModelKind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// LeNet-5 pretrained briefly on MNIST, pruned to half and retrained one epoch; ResNet-18 and
/// VGG-16 pretrained one epoch on the 20 CIFAR-10 images, pruned to 20%.
fn spec(dir: &Path) -> PathBuf {
    write(
        dir,
        "export.toml",
        r#"
[table]
id = "export"
title = "Exports"

[defaults]
method = "magnitude"
seeds = [1]
pretrain = { epochs = 1, optimizer = { lr = 0.05, momentum = 0.9 } }
retrain = { epochs = 1 }

[[rows]]
name = "lenet"
model = "lenet5"
dataset = "mnist"
batch_size = 64
data = { train_limit = 2048, test_limit = 1000 }
sparsity = { uniform = 0.5 }

[[rows]]
name = "resnet"
model = "resnet18-cifar"
dataset = "cifar10-test20"
batch_size = 10
sparsity = { uniform = 0.8 }

[[rows]]
name = "vgg"
model = "vgg16-cifar"
dataset = "cifar10-test20"
batch_size = 10
sparsity = { uniform = 0.8 }
"#,
    )
}

fn trained(dir: &Path) -> (PathBuf, PathBuf) {
    let spec = spec(dir);
    let runs = dir.join("runs");
    let out = reproduce_command(&spec, &runs, &dir.join("reports"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (spec, runs)
}

fn export(spec: &Path, runs: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slr"))
        .current_dir(root())
        .arg("export")
        .arg(spec)
        .args(["--runs-root", runs.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

/// The JSON header of a safetensors file.
fn header(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    serde_json::from_slice(&bytes[8..8 + len]).unwrap()
}

/// The summary of `row`'s `kind` stage.
fn summary(runs: &Path, kind: &str, model: ModelKind) -> (PathBuf, store::Summary) {
    for entry in std::fs::read_dir(runs).unwrap() {
        let dir = entry.unwrap().path().join("seed-1");
        let name = dir.parent().unwrap().file_name().unwrap().to_string_lossy();
        if !name.starts_with(&format!("{kind}-")) {
            continue;
        }
        let summary = store::read_summary(&dir).unwrap().unwrap();
        let loads = Net::init(model, &Device::flex())
            .try_load_file(dir.join(store::MODEL))
            .is_ok();
        if loads {
            return (dir, summary);
        }
    }
    panic!("no {kind} stage of {model:?} under {}", runs.display());
}

#[test]
fn an_export_holds_the_reference_names_masks_and_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, runs) = trained(tmp.path());
    let file = tmp.path().join("resnet.safetensors");
    let out = export(
        &spec,
        &runs,
        &[
            "resnet",
            "--stage",
            "prune",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header = header(&file);
    // torchvision's names and layouts: downsample.0/1, BatchNorm weight/bias, fc as [out, in].
    assert_eq!(
        header["layer2.0.downsample.0.weight"]["shape"],
        serde_json::json!([128, 64, 1, 1])
    );
    assert_eq!(
        header["layer2.0.downsample.1.running_var"]["shape"],
        serde_json::json!([128])
    );
    assert_eq!(header["bn1.weight"]["dtype"], "F32");
    assert_eq!(header["fc.weight"]["shape"], serde_json::json!([10, 512]));
    assert_eq!(header["layer1.0.conv1.weight_mask"]["dtype"], "U8");
    assert_eq!(header["__metadata__"]["stage"], "prune");
    // 20% of ResNet-18's default prunable weights kept: the masks and the sizes say so.
    let (_, summary) = summary(&runs, "prune", ModelKind::Resnet18Cifar);
    let compression = summary.sparsity.as_ref().unwrap().compression_pruned_layers;
    let line = stdout
        .lines()
        .find(|l| l.starts_with("pruned layers:"))
        .unwrap();
    let numbers: Vec<f64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(2)
        .map(|w| w.parse().unwrap())
        .collect();
    assert!(
        (numbers[1] / numbers[0] - compression).abs() < 1e-9 * compression,
        "{stdout}\n{compression}"
    );
    assert!((compression - 5.0).abs() < 0.01, "{compression}");
    assert!(stdout.contains("on disk"), "{stdout}");

    // Bad requests: exit 2 naming what exists; a stage not done: exit 4.
    let unknown = export(&spec, &runs, &["nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("rows: lenet, resnet, vgg"));
    let no_train = export(&spec, &runs, &["lenet", "--stage", "train"]);
    assert_eq!(no_train.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&no_train.stderr)
            .contains("has the stages pretrain, prune, retrain")
    );
    let seed = export(&spec, &runs, &["lenet", "--seed", "7"]);
    assert_eq!(seed.status.code(), Some(2));
    let empty = tmp.path().join("empty");
    let not_done = export(&spec, &empty, &["lenet"]);
    assert_eq!(not_done.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&not_done.stderr).contains("is not done"));
}

fn torch_python() -> Option<PathBuf> {
    std::env::var_os("SLR_TORCH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| Some(root().join(".venv-torch/bin/python")).filter(|p| p.exists()))
}

/// Our logits of the first `n` test images of `kind` under `limits`.
fn our_logits(
    stage: &Path,
    model: ModelKind,
    kind: DatasetKind,
    limits: &DataSpec,
    n: usize,
) -> Vec<Vec<f32>> {
    let device = Device::flex();
    let net = Net::init(model, &device)
        .try_load_file(stage.join(store::MODEL))
        .unwrap();
    let data = data::load(&data_root(), kind, limits, &device).unwrap();
    let Examples::Tensors(test) = data.test else {
        panic!("tensor split")
    };
    let images: Tensor<4> = test.images.slice(0..n);
    let logits = net.forward(images);
    let values = logits
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap();
    values
        .chunks(values.len() / n)
        .map(<[f32]>::to_vec)
        .collect()
}

#[test]
#[ignore = "needs PyTorch (`just torch-venv`); `just test` runs it when that venv exists"]
fn an_export_loads_in_pytorch_with_our_accuracy_and_logits() {
    let python =
        torch_python().expect("a Python with torch: `just torch-venv` or SLR_TORCH_PYTHON");
    let tmp = tempfile::tempdir().unwrap();
    let (spec, runs) = trained(tmp.path());
    let mnist = DataSpec {
        train_limit: Some(2048),
        test_limit: Some(1000),
        ..DataSpec::default()
    };
    let cases = [
        (
            "lenet",
            "retrain",
            ModelKind::Lenet5,
            DatasetKind::Mnist,
            mnist.clone(),
            "acc.retrain",
        ),
        (
            "lenet",
            "prune",
            ModelKind::Lenet5,
            DatasetKind::Mnist,
            mnist,
            "acc.hardprune",
        ),
        (
            "resnet",
            "prune",
            ModelKind::Resnet18Cifar,
            DatasetKind::Cifar10Test20,
            DataSpec::default(),
            "acc.hardprune",
        ),
        (
            "vgg",
            "prune",
            ModelKind::Vgg16Cifar,
            DatasetKind::Cifar10Test20,
            DataSpec::default(),
            "acc.hardprune",
        ),
    ];
    for (row, kind, model, dataset, limits, metric) in cases {
        let file = tmp.path().join(format!("{row}-{kind}.safetensors"));
        let out = export(
            &spec,
            &runs,
            &[row, "--stage", kind, "--out", file.to_str().unwrap()],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let norm = dataset.normalisation();
        let mut cmd = Command::new(&python);
        cmd.arg(root().join("scripts/export_check.py"))
            .arg(&file)
            .arg(model.name())
            .arg("--mean")
            .args(norm.iter().map(|(m, _)| m.to_string()))
            .arg("--std")
            .args(norm.iter().map(|(_, s)| s.to_string()))
            .args(["--logits", "8"]);
        let folder = dataset.folder(&data_root());
        match dataset {
            DatasetKind::Mnist => cmd
                .arg("--idx")
                .arg(folder.join("t10k-images-idx3-ubyte"))
                .arg(folder.join("t10k-labels-idx1-ubyte"))
                .args(["--limit", "1000"]),
            _ => cmd.arg("--cifar").arg(folder.join("test_batch_20.bin")),
        };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        let (stage, summary) = summary(&runs, kind, model);
        let ours = summary.metrics[metric];
        let theirs = seen["accuracy"].as_f64().unwrap();
        assert!(
            (ours - theirs).abs() < 0.01,
            "{row} {kind}: ours {ours}, PyTorch {theirs}"
        );
        assert_eq!(seen["masks_match"], true, "{row} {kind}");
        assert!(seen["masks"].as_u64().unwrap() > 0, "{row} {kind}");
        let logits = our_logits(&stage, model, dataset, &limits, 8);
        for (i, (a, b)) in logits
            .iter()
            .zip(seen["logits"].as_array().unwrap())
            .enumerate()
        {
            for (x, y) in a.iter().zip(b.as_array().unwrap()) {
                let y = y.as_f64().unwrap() as f32;
                assert!(
                    (x - y).abs() <= 1e-4 * (1.0 + x.abs()),
                    "{row} {kind} image {i}: ours {a:?}, PyTorch {b}"
                );
            }
        }
    }
}
