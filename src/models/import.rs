//! Dense weights from a PyTorch checkpoint (`.pt` / `.pth`): names mapped to ours, shapes
//! checked, every mismatch listed in one error.
//!
//! Accepted layouts: a plain state dict, or one nested under `state_dict`, `model_state_dict`,
//! `model` or `net` (other entries such as `acc`, `epoch` or optimizer state are ignored), with or
//! without DataParallel's `module.` prefix. Names: torchvision's (`downsample.0` / `.1`, BatchNorm
//! `weight` / `bias`, Linear weights `[out, in]`), the authors' VGG-16 (`features.<index in the
//! nn.Sequential>`), or ours.

use super::{Net, params};
use crate::catalog::ModelKind;
use crate::error::{Error, Result};
use burn::module::Module;
use burn::store::{ApplyError, ModuleSnapshot, PytorchStore};
use std::path::Path;

/// Wrappers around a state dict that are stripped from key names.
const WRAPPER_PREFIX: &str = r"^(?:(?:state_dict|model_state_dict|model|net|module)\.)+";

/// `(regex, replacement)` pairs that turn checkpoint names into ours for `kind`.
fn key_patterns(kind: ModelKind) -> Vec<(String, String)> {
    let mut patterns = vec![
        (WRAPPER_PREFIX.to_owned(), String::new()),
        (
            r"\.downsample\.0\.".to_owned(),
            ".downsample.conv.".to_owned(),
        ),
        (
            r"\.downsample\.1\.".to_owned(),
            ".downsample.bn.".to_owned(),
        ),
    ];
    if matches!(
        kind.entry().architecture,
        crate::catalog::Architecture::Ufld(_)
    ) {
        // `cls` and `aux_combine` are nn.Sequentials with a ReLU at index 1 / a plain conv at 4.
        patterns.push((r"^cls\.2\.".to_owned(), "cls.1.".to_owned()));
        patterns.push((r"^aux_combine\.4\.".to_owned(), "aux_out.".to_owned()));
    }
    if kind == ModelKind::Vgg16Cifar {
        // The authors' `features` is one nn.Sequential: conv, bn, relu per layer, a max-pool
        // after each block. Only plain leaf names match, so our own names pass unchanged.
        let leaf = "(weight|bias|running_mean|running_var|num_batches_tracked)";
        for (conv, index) in super::vgg::sequential_indices().into_iter().enumerate() {
            patterns.push((
                format!(r"^features\.{index}\.{leaf}$"),
                format!("features.{conv}.conv.$1"),
            ));
            patterns.push((
                format!(r"^features\.{}\.{leaf}$", index + 1),
                format!("features.{conv}.bn.$1"),
            ));
        }
    }
    patterns
}

/// Loads the checkpoint at `path` into `net` (a model of `kind`). Every parameter and
/// BatchNorm statistic of the model must be found with the right shape; checkpoint entries
/// the model does not have are ignored (`num_batches_tracked`, optimizer state), and logged.
pub fn import_pytorch(mut net: Net, kind: ModelKind, path: &Path) -> Result<Net> {
    let fail = |message: String| Error::Import {
        path: path.to_owned(),
        message,
    };
    if !path.is_file() {
        return Err(fail("no such file".into()));
    }
    let mut store = PytorchStore::from_file(path)
        .map_indices_contiguous(false)
        .allow_partial(true)
        .validate(false);
    for (from, to) in key_patterns(kind) {
        store = store.with_key_remapping(from, to);
    }
    let result = net
        .load_from(&mut store)
        .map_err(|e| fail(format!("not a readable PyTorch checkpoint: {e}")))?;
    let unused: Vec<&String> = result
        .unused
        .iter()
        .filter(|name| !name.ends_with("num_batches_tracked"))
        .collect();
    if !result.missing.is_empty() || !result.errors.is_empty() {
        let mut lines = vec![format!(
            "does not fit model `{}`: {} of its tensors loaded",
            kind.name(),
            result.applied.len()
        )];
        let errors: Vec<String> = result.errors.iter().map(describe).collect();
        list(&mut lines, "shape or type mismatches", &errors);
        let missing: Vec<String> = result.missing.iter().map(|(n, _)| n.clone()).collect();
        list(&mut lines, "missing in the checkpoint", &missing);
        let unused: Vec<String> = unused.into_iter().cloned().collect();
        list(
            &mut lines,
            "checkpoint entries not used (names after mapping)",
            &unused,
        );
        return Err(fail(lines.join("\n")));
    }
    if !unused.is_empty() {
        tracing::info!(
            "{}: {} checkpoint entries not used by `{}` (e.g. {})",
            path.display(),
            unused.len(),
            kind.name(),
            unused[0]
        );
    }
    Ok(in_device_float_type(net))
}

/// `net` with every float tensor in its device's float type. A checkpoint's tensors load in
/// the type the file holds (float32 from PyTorch), whatever the device computes in; a device
/// set to float64 (the float64 fidelity replays) would otherwise mix the two in one
/// convolution.
fn in_device_float_type(net: Net) -> Net {
    let Some(device) = net.devices().into_iter().next() else {
        return net;
    };
    let float = device.settings().float_dtype;
    params::map_flat(net, |_, tensor| {
        (tensor.dtype() != float.into()).then(|| tensor.cast(float))
    })
}

/// One mismatch, in our parameter names and shapes.
fn describe(error: &ApplyError) -> String {
    match error {
        ApplyError::ShapeMismatch {
            path,
            expected,
            found,
        } => format!(
            "`{path}`: model {:?}, checkpoint {:?}",
            &expected[..],
            &found[..]
        ),
        ApplyError::DTypeMismatch {
            path,
            expected,
            found,
        } => format!("`{path}`: model {expected:?}, checkpoint {found:?}"),
        ApplyError::AdapterError { path, message } | ApplyError::LoadError { path, message } => {
            format!("`{path}`: {message}")
        }
    }
}

/// Appends `title (n):` and the first 20 items of a non-empty list.
fn list(lines: &mut Vec<String>, title: &str, items: &[String]) {
    const SHOWN: usize = 20;
    if items.is_empty() {
        return;
    }
    lines.push(format!("  {title} ({}):", items.len()));
    lines.extend(items.iter().take(SHOWN).map(|item| format!("    {item}")));
    if items.len() > SHOWN {
        lines.push(format!("    ... and {} more", items.len() - SHOWN));
    }
}
