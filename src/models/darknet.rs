//! Darknet `.weights` files of YOLOv3 / YOLOv3-tiny: a header (major, minor, revision as
//! int32, then the images seen as int64 from version 0.2 on, else int32) and every
//! convolution's float32 values in cfg order: with BatchNorm its biases (beta), scales
//! (gamma), rolling means and variances, else its biases; then its weights
//! `[out, in, k, k]`. BatchNorm is stored unfolded, as Darknet trains it.

use super::{Net, params};
use crate::base::host;
use crate::catalog::darknet::{Layer, layers_of};
use crate::catalog::{Architecture, ModelKind};
use crate::error::{Error, Result};
use burn::tensor::{Tensor, TensorData};
use std::collections::BTreeMap;
use std::path::Path;

/// Our parameter names of the convolutions, in the file's order.
fn file_order(kind: ModelKind) -> Result<Vec<String>> {
    let Architecture::Yolo(config) = kind.entry().architecture else {
        return Err(Error::Usage(format!(
            "{}: Darknet weight files hold YOLO models only",
            kind.name()
        )));
    };
    let mut names = Vec::new();
    for (i, layer) in layers_of(config).iter().enumerate() {
        if let Layer::Conv { bn, .. } = layer {
            if *bn {
                for part in ["beta", "gamma", "running_mean", "running_var"] {
                    names.push(format!("layers.{i}.bn.{part}"));
                }
            } else {
                names.push(format!("layers.{i}.conv.bias"));
            }
            names.push(format!("layers.{i}.conv.weight"));
        }
    }
    Ok(names)
}

/// Loads the Darknet weight file at `path` into `net` (a model of `kind`); a file that is not
/// exactly the model's size is an error naming it.
pub fn read_weights(net: Net, kind: ModelKind, path: &Path) -> Result<Net> {
    let fail = |message: String| Error::Import {
        path: path.to_owned(),
        message,
    };
    let names = file_order(kind)?;
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read ({e})")))?;
    let int = |at: usize| -> Option<i32> {
        Some(i32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let (Some(major), Some(minor)) = (int(0), int(4)) else {
        return Err(fail("shorter than a Darknet header".into()));
    };
    let seen_bytes = if major * 10 + minor >= 2 && major < 1000 && minor < 1000 {
        8
    } else {
        4
    };
    let header = 12 + seen_bytes;
    let shapes: BTreeMap<String, Vec<usize>> = params::shapes(&net).into_iter().collect();
    let expected: usize = names
        .iter()
        .map(|n| shapes[n].iter().product::<usize>())
        .sum();
    let body = bytes.len().saturating_sub(header);
    if bytes.len() < header || body != expected * 4 {
        return Err(fail(format!(
            "does not fit model `{}`: {expected} float32 values after the {header}-byte header \
             expected, the file has {} bytes there",
            kind.name(),
            body
        )));
    }
    let mut values: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    let mut at = header;
    for name in &names {
        let n: usize = shapes[name].iter().product();
        let floats = bytes[at..at + 4 * n]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        values.insert(name, floats);
        at += 4 * n;
    }
    Ok(params::map_flat(net, |name, old| {
        let v = values.remove(name)?;
        let n = v.len();
        Some(Tensor::from_data(TensorData::new(v, [n]), &old.device()))
    }))
}

/// Writes `net` (a model of `kind`) as a Darknet weight file (version 0.2.0, 0 images seen).
pub fn write_weights(net: &Net, kind: ModelKind, path: &Path) -> Result<()> {
    let names = file_order(kind)?;
    let tensors = params::flat(net, &names);
    let mut bytes = Vec::new();
    for v in [0i32, 2, 0] {
        bytes.extend(v.to_le_bytes());
    }
    bytes.extend(0i64.to_le_bytes());
    for name in &names {
        let values: Vec<f32> = host::values(tensors[name].clone());
        for v in values {
            bytes.extend(v.to_le_bytes());
        }
    }
    crate::base::write_atomic(path, &bytes)
}
