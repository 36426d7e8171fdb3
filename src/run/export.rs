//! A stage's model as a safetensors file under the reference implementation's parameter names,
//! so PyTorch loads it with `load_state_dict` (strict) into the reference model: torchvision's
//! ResNet names (`layerX.Y.downsample.0/1`), the SLR authors' VGG-16 indices (`features.<index
//! in the nn.Sequential>`), UFLD's `cls.2` and `aux_combine.4`, BatchNorm's `weight`/`bias`,
//! PyTorch-YOLOv3's `module_list.<i>.conv_<i>` / `batch_norm_<i>` (Darknet's cfg indices),
//! Linear weights as `[out, in]`; the LeNets keep our names (`conv1`, `fc1`, ...), which are
//! Caffe's. Every pruned layer's mask is stored beside it as `<module>.weight_mask` (uint8),
//! the name `torch.nn.utils.prune` gives it.
//!
//! The format (<https://github.com/huggingface/safetensors>): an 8-byte little-endian header
//! length, a JSON header naming each tensor's dtype, shape and byte range, then the bytes.

use crate::base::{host, write_atomic};
use crate::catalog::{Architecture, ModelKind};
use crate::error::{Error, Result};
use crate::models::Net;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, bridge};
use std::collections::BTreeMap;
use std::path::Path;

/// One tensor of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// Its name in the reference implementation.
    pub name: String,
    /// Its shape, as PyTorch holds it.
    pub shape: Vec<usize>,
    /// Its values.
    pub values: Vec<f32>,
    /// Whether it is a pruned layer's weight (a mask is stored beside it).
    pub pruned: bool,
}

/// Sizes of an export, dense and with the pruned layers stored sparse.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizes {
    /// Float32 bytes of every tensor.
    pub dense_bytes: usize,
    /// The same with each pruned layer in the smaller of a bitmask (one bit per weight plus
    /// the kept values) and CSR (the kept values, a 32-bit column index each, a 32-bit row
    /// offset per row plus one, rows being the weight's first dimension).
    pub sparse_bytes: usize,
    /// Weights of the pruned layers.
    pub pruned_weights: usize,
    /// Non-zero weights among them.
    pub kept_weights: usize,
}

impl Sizes {
    /// Dense over sparse bytes: the compression a user gets on disk.
    pub fn ratio(&self) -> f64 {
        self.dense_bytes as f64 / self.sparse_bytes.max(1) as f64
    }
}

/// Every float tensor of `net` (a model of `kind`) under the reference's names, in name order;
/// `pruned(name)` says, in our names, which weights were pruned.
pub fn tensors(net: &Net, kind: ModelKind, pruned: impl Fn(&str) -> bool) -> Result<Vec<Exported>> {
    let renames = renames(kind);
    let mut out = Vec::new();
    // Our names, and the reference's layout (BatchNorm's weight/bias, Linear's [out, in]).
    let ours = net.collect(None, None, true);
    let theirs = net.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
    for (our, their) in ours.iter().zip(&theirs) {
        let fail = |e: String| Error::RunFailed(format!("exporting `{}`: {e}", our.name));
        let data = host::counting(|| bridge::to_data(their)).map_err(|e| fail(e.to_string()))?;
        let values: Vec<f32> = data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| fail(format!("{e:?}")))?;
        out.push(Exported {
            name: rename(&their.name, &renames),
            shape: their.shape.iter().copied().collect(),
            values,
            pruned: pruned(&our.name),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Writes `tensors` and the masks of the pruned ones to `path` as safetensors, with
/// `metadata` in its header; returns the sizes.
pub fn write(
    path: &Path,
    tensors: &[Exported],
    metadata: &BTreeMap<String, String>,
) -> Result<Sizes> {
    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".into(),
        serde_json::to_value(metadata).expect("strings"),
    );
    let mut data: Vec<u8> = Vec::new();
    let mut entry = |name: &str, dtype: &str, shape: &[usize], bytes: &[u8], data: &mut Vec<u8>| {
        let start = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.to_owned(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    };
    let mut sizes = Sizes {
        dense_bytes: 0,
        sparse_bytes: 0,
        pruned_weights: 0,
        kept_weights: 0,
    };
    for tensor in tensors {
        let bytes: Vec<u8> = tensor.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        entry(&tensor.name, "F32", &tensor.shape, &bytes, &mut data);
        sizes.dense_bytes += bytes.len();
        if !tensor.pruned {
            sizes.sparse_bytes += bytes.len();
            continue;
        }
        let mask: Vec<u8> = tensor.values.iter().map(|&v| u8::from(v != 0.0)).collect();
        let kept: usize = mask.iter().map(|&m| usize::from(m)).sum();
        let name = format!("{}_mask", tensor.name);
        entry(&name, "U8", &tensor.shape, &mask, &mut data);
        let n = tensor.values.len();
        let rows = tensor.shape.first().copied().unwrap_or(1);
        let bitmask = n.div_ceil(8) + 4 * kept;
        let csr = 8 * kept + 4 * (rows + 1);
        sizes.sparse_bytes += bitmask.min(csr);
        sizes.pruned_weights += n;
        sizes.kept_weights += kept;
    }
    let mut json = serde_json::to_string(&header).expect("JSON");
    // The data starts 8-byte aligned after the 8-byte length (the format allows trailing
    // spaces in the header).
    while !json.len().is_multiple_of(8) {
        json.push(' ');
    }
    let mut file = (json.len() as u64).to_le_bytes().to_vec();
    file.extend(json.as_bytes());
    file.extend(data);
    write_atomic(path, &file)?;
    Ok(sizes)
}

/// One renaming rule.
enum Rename {
    /// `from` replaced by `to` at the start of a name.
    Prefix(String, String),
    /// `from` replaced by `to` anywhere in a name.
    Infix(&'static str, &'static str),
    /// PyTorch-YOLOv3's names ([`darknet_name`]).
    Darknet,
}

/// The renamings of `kind`'s names into the reference's; a name matches at most one.
fn renames(kind: ModelKind) -> Vec<Rename> {
    let architecture = kind.entry().architecture;
    if matches!(architecture, Architecture::Yolo(_)) {
        return vec![Rename::Darknet];
    }
    let mut out = vec![
        Rename::Infix(".downsample.conv.", ".downsample.0."),
        Rename::Infix(".downsample.bn.", ".downsample.1."),
    ];
    if matches!(architecture, Architecture::Ufld(_)) {
        // UFLD's `cls` and `aux_combine` are nn.Sequentials with a ReLU at index 1 / a plain
        // conv at 4 (the inverse of `models::import`'s mapping).
        out.push(Rename::Prefix("cls.1.".into(), "cls.2.".into()));
        out.push(Rename::Prefix("aux_out.".into(), "aux_combine.4.".into()));
    }
    if kind == ModelKind::Vgg16Cifar {
        for (conv, index) in crate::models::vgg_sequential_indices()
            .into_iter()
            .enumerate()
        {
            out.push(Rename::Prefix(
                format!("features.{conv}.conv."),
                format!("features.{index}."),
            ));
            out.push(Rename::Prefix(
                format!("features.{conv}.bn."),
                format!("features.{}.", index + 1),
            ));
        }
    }
    out
}

/// PyTorch-YOLOv3's name of a YOLO tensor (`models.py`: `module_list.<i>` holds `conv_<i>`
/// and `batch_norm_<i>`, `<i>` the cfg index, as in ours: `layers.<i>.conv` / `.bn`).
fn darknet_name(name: &str) -> Option<String> {
    let (index, rest) = name.strip_prefix("layers.")?.split_once('.')?;
    index.parse::<usize>().ok()?;
    let (module, param) = rest.split_once('.')?;
    let module = match module {
        "conv" => "conv",
        "bn" => "batch_norm",
        _ => return None,
    };
    Some(format!("module_list.{index}.{module}_{index}.{param}"))
}

/// `name` after the first renaming that matches it.
fn rename(name: &str, renames: &[Rename]) -> String {
    for rule in renames {
        let renamed = match rule {
            Rename::Prefix(from, to) => name
                .strip_prefix(from.as_str())
                .map(|rest| format!("{to}{rest}")),
            Rename::Infix(from, to) => name.contains(from).then(|| name.replacen(from, to, 1)),
            Rename::Darknet => darknet_name(name),
        };
        if let Some(renamed) = renamed {
            return renamed;
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, shape: Vec<usize>, values: Vec<f32>, pruned: bool) -> Exported {
        Exported {
            name: name.into(),
            shape,
            values,
            pruned,
        }
    }

    #[test]
    fn names_follow_the_references() {
        let resnet = renames(ModelKind::Resnet18Cifar);
        assert_eq!(
            rename("layer2.0.downsample.conv.weight", &resnet),
            "layer2.0.downsample.0.weight"
        );
        assert_eq!(
            rename("layer2.0.downsample.bn.running_var", &resnet),
            "layer2.0.downsample.1.running_var"
        );
        let vgg = renames(ModelKind::Vgg16Cifar);
        // The authors' Sequential: conv, bn, relu per layer, a pool after each block.
        assert_eq!(rename("features.0.conv.weight", &vgg), "features.0.weight");
        assert_eq!(rename("features.1.bn.bias", &vgg), "features.4.bias");
        assert_eq!(rename("features.2.conv.weight", &vgg), "features.7.weight");
        assert_eq!(
            rename("features.12.bn.running_mean", &vgg),
            "features.41.running_mean"
        );
    }

    #[test]
    fn a_file_holds_tensors_masks_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        // A 2x8 pruned weight keeping 3 of 16, and a dense bias.
        let mut weight = vec![0.0f32; 16];
        weight[1] = 0.5;
        weight[9] = -1.0;
        weight[15] = 2.0;
        let tensors = [
            tensor("fc.bias", vec![2], vec![0.25, -0.25], false),
            tensor("fc.weight", vec![2, 8], weight, true),
        ];
        let metadata = BTreeMap::from([("model".to_owned(), "test".to_owned())]);
        let sizes = write(&path, &tensors, &metadata).unwrap();
        // Dense: 18 floats. Sparse: the bias, and min(bitmask 2 + 12, CSR 24 + 12) = 14.
        assert_eq!(sizes.dense_bytes, 72);
        assert_eq!(sizes.sparse_bytes, 8 + 14);
        assert_eq!((sizes.pruned_weights, sizes.kept_weights), (16, 3));
        let bytes = std::fs::read(&path).unwrap();
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!((8 + len) % 8, 0);
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
        assert_eq!(header["__metadata__"]["model"], "test");
        assert_eq!(header["fc.weight"]["shape"], serde_json::json!([2, 8]));
        let data = &bytes[8 + len..];
        let range = |name: &str| {
            let offsets = &header[name]["data_offsets"];
            offsets[0].as_u64().unwrap() as usize..offsets[1].as_u64().unwrap() as usize
        };
        assert_eq!(header["fc.weight_mask"]["dtype"], "U8");
        let mask = &data[range("fc.weight_mask")];
        assert_eq!(mask.iter().map(|&m| usize::from(m)).sum::<usize>(), 3);
        assert_eq!((mask[1], mask[9], mask[15], mask[0]), (1, 1, 1, 0));
        let bias = &data[range("fc.bias")];
        assert_eq!(f32::from_le_bytes(bias[4..8].try_into().unwrap()), -0.25);
    }
}
