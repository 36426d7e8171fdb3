//! `checkpoint/` inside a stage folder: the latest end-of-epoch (or stop-time) state of a
//! training stage, so a rerun continues it instead of starting over. It holds the model
//! (`model.bpk`), the optimizer's and the pruner's tensors (`tensors.bin`) and the position,
//! scalars and metrics so far (`state.json`, written last; floats as their bits so they come
//! back exactly). A new checkpoint is written beside the old one and swapped in by renames;
//! only the latest is kept, and the folder goes when the stage finishes.
//!
//! `state.json` is also the manifest: whose checkpoint it is ([`Owner`]: stage, id, seed), the
//! SHA-256 of the model and tensor files, and the SHA-256 of its own JSON. A checkpoint that
//! fails any of these (damaged, edited, another stage's or seed's, or from before manifests)
//! is never resumed: the previous one is used if it is intact, else the stage starts afresh,
//! with a warning naming the file.

use crate::base::host;
use crate::error::{Error, Result};
use crate::models::Net;
use crate::prune::PrunerState;
use crate::spec::ModelKind;
use crate::train::{Position, Resume, Snapshot};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The checkpoint folder.
pub const CHECKPOINT: &str = "checkpoint";
const NEXT: &str = "checkpoint.next";
const OLD: &str = "checkpoint.old";
const MODEL: &str = "model.bpk";
const TENSORS: &str = "tensors.bin";
const STATE: &str = "state.json";
const MAGIC: &[u8; 8] = b"SLRTENS1";

/// What the stage recorded before the checkpoint (its metrics file is cut back to
/// `metrics_len` bytes when it continues).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecorderState {
    /// Final metrics so far, by key.
    pub finals: BTreeMap<String, f64>,
    /// Seconds of each finished epoch.
    pub seconds: Vec<f64>,
    /// Length of `metrics.csv` at the checkpoint.
    pub metrics_len: u64,
}

/// Whose checkpoint it is: the stage (kind and id) and seed that wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Stage kind, e.g. `train`.
    pub stage: String,
    /// Stage id (the content hash of its config and inputs).
    pub id: String,
    /// Spec seed.
    pub seed: u64,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}-{} seed {}", self.stage, self.id, self.seed)
    }
}

/// A checkpoint read back.
pub struct Checkpoint {
    /// What the training continues from.
    pub resume: Resume,
    /// What the stage had recorded.
    pub recorder: RecorderState,
}

/// `state.json`: every float as its IEEE bits.
#[derive(Serialize, Deserialize)]
struct StateFile {
    epoch: usize,
    step: usize,
    ce_sum: u64,
    loss_sum: u64,
    count: usize,
    lr: u64,
    seconds: u64,
    /// Absent in checkpoints written before step-clocked updates (0: no round started).
    #[serde(default)]
    round_ce_sum: u64,
    #[serde(default)]
    round_count: usize,
    /// Absent in checkpoints written before the pruner's batch-mean CE: a checkpoint inside
    /// an epoch then continues with the sum of the batches after it only.
    #[serde(default)]
    batch_ce_sum: u64,
    #[serde(default)]
    batches: usize,
    pruner_scalars: BTreeMap<String, u64>,
    finals: BTreeMap<String, u64>,
    epoch_seconds: Vec<u64>,
    metrics_len: u64,
    /// Whose it is (default: none, in checkpoints from before manifests).
    #[serde(default)]
    owner: Owner,
    /// SHA-256 of the model and tensor files, by name.
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// SHA-256 of this JSON with `digest` empty.
    #[serde(default)]
    digest: String,
}

impl StateFile {
    /// SHA-256 of the state as JSON with an empty `digest`.
    fn own_digest(&self) -> String {
        let mut value = serde_json::to_value(self).expect("checkpoint state serialises");
        value["digest"] = serde_json::Value::String(String::new());
        crate::base::sha256_hex(value.to_string().as_bytes())
    }
}

fn file_digest(path: &Path) -> Result<String> {
    Ok(crate::base::sha256_hex(
        &std::fs::read(path).map_err(Error::io(path))?,
    ))
}

fn bits_map(map: &BTreeMap<String, f64>) -> BTreeMap<String, u64> {
    map.iter().map(|(k, v)| (k.clone(), v.to_bits())).collect()
}

fn float_map(map: &BTreeMap<String, u64>) -> BTreeMap<String, f64> {
    map.iter()
        .map(|(k, v)| (k.clone(), f64::from_bits(*v)))
        .collect()
}

/// Writes `snapshot` as `owner`'s checkpoint in `dir`, replacing the previous one.
pub fn write(
    dir: &Path,
    owner: &Owner,
    snapshot: &Snapshot,
    recorder: &RecorderState,
) -> Result<()> {
    let next = dir.join(NEXT);
    if next.exists() {
        std::fs::remove_dir_all(&next).map_err(Error::io(&next))?;
    }
    std::fs::create_dir_all(&next).map_err(Error::io(&next))?;
    let model = next.join(MODEL);
    crate::models::save(snapshot.model.clone().valid(), &model)?;
    let mut tensors: BTreeMap<String, Tensor<1>> = BTreeMap::new();
    for (name, t) in &snapshot.optimizer {
        tensors.insert(format!("optimizer/{name}"), t.clone());
    }
    for (name, t) in &snapshot.pruner.tensors {
        tensors.insert(format!("pruner/{name}"), t.clone());
    }
    write_tensors(&next.join(TENSORS), &tensors)?;
    let p = snapshot.position;
    let mut files = BTreeMap::new();
    for name in [MODEL, TENSORS] {
        files.insert(name.to_owned(), file_digest(&next.join(name))?);
    }
    let mut state = StateFile {
        epoch: p.epoch,
        step: p.step,
        ce_sum: p.ce_sum.to_bits(),
        loss_sum: p.loss_sum.to_bits(),
        count: p.count,
        lr: p.lr.to_bits(),
        seconds: p.seconds.to_bits(),
        round_ce_sum: p.round_ce_sum.to_bits(),
        round_count: p.round_count,
        batch_ce_sum: p.batch_ce_sum.to_bits(),
        batches: p.batches,
        pruner_scalars: bits_map(&snapshot.pruner.scalars),
        finals: bits_map(&recorder.finals),
        epoch_seconds: recorder.seconds.iter().map(|s| s.to_bits()).collect(),
        metrics_len: recorder.metrics_len,
        owner: owner.clone(),
        files,
        digest: String::new(),
    };
    state.digest = state.own_digest();
    let json = serde_json::to_string(&state).expect("checkpoint state serialises");
    crate::base::write_atomic(&next.join(STATE), json.as_bytes())?;
    // Swap: the complete new one in, the old one out. A crash in between leaves `OLD` (still
    // complete), which `read` falls back to.
    let current = dir.join(CHECKPOINT);
    let old = dir.join(OLD);
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(Error::io(&old))?;
    }
    if current.exists() {
        std::fs::rename(&current, &old).map_err(Error::io(&current))?;
    }
    std::fs::rename(&next, &current).map_err(Error::io(&next))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(Error::io(&old))?;
    }
    Ok(())
}

/// Whether `dir` holds a complete checkpoint.
pub fn exists(dir: &Path) -> bool {
    latest(dir).is_some()
}

fn latest(dir: &Path) -> Option<PathBuf> {
    [CHECKPOINT, OLD]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|folder| folder.join(STATE).is_file())
}

/// Where the stage's checkpoint stands, `(epoch, step)` of the next step, reading only its
/// small state file.
pub fn position(dir: &Path) -> Option<(usize, usize)> {
    let text = std::fs::read_to_string(latest(dir)?.join(STATE)).ok()?;
    let state: StateFile = serde_json::from_str(&text).ok()?;
    Some((state.epoch, state.step))
}

/// `owner`'s checkpoint in `dir` with its model and tensors on the training `device`, `None`
/// when there is none. A checkpoint that fails its manifest is passed over for the previous
/// one (with a warning); an error names the file when none is usable.
pub fn read(
    dir: &Path,
    owner: &Owner,
    model: ModelKind,
    device: &Device,
) -> Result<Option<Checkpoint>> {
    let folders: Vec<PathBuf> = [CHECKPOINT, OLD]
        .into_iter()
        .map(|name| dir.join(name))
        .filter(|folder| folder.join(STATE).is_file())
        .collect();
    let mut first_error = None;
    for folder in folders {
        match read_folder(&folder, owner, model, device) {
            Ok(checkpoint) => {
                if let Some(e) = &first_error {
                    eprintln!(
                        "warning: {e}; continuing from the previous checkpoint ({})",
                        folder.display()
                    );
                }
                return Ok(Some(checkpoint));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(None), Err)
}

/// One checkpoint folder, verified against its manifest.
fn read_folder(
    folder: &Path,
    owner: &Owner,
    model: ModelKind,
    device: &Device,
) -> Result<Checkpoint> {
    let state_path = folder.join(STATE);
    let corrupt = |path: &Path, message: String| Error::Corrupt {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(&state_path).map_err(Error::io(&state_path))?;
    let state: StateFile = serde_json::from_str(&text)
        .map_err(|e| corrupt(&state_path, format!("unreadable checkpoint state ({e})")))?;
    if state.digest.is_empty() || state.files.is_empty() {
        return Err(corrupt(
            &state_path,
            "a checkpoint without a manifest (an earlier release wrote it) cannot be verified"
                .into(),
        ));
    }
    if state.own_digest() != state.digest {
        return Err(corrupt(
            &state_path,
            "changed after the checkpoint was written (its digest differs)".into(),
        ));
    }
    if state.owner != *owner {
        return Err(corrupt(
            &state_path,
            format!("a checkpoint of {}, not of {owner}", state.owner),
        ));
    }
    for (name, expected) in &state.files {
        let path = folder.join(name);
        if file_digest(&path)? != *expected {
            return Err(corrupt(
                &path,
                "differs from what the checkpoint recorded (SHA-256 mismatch)".into(),
            ));
        }
    }
    let model_path = folder.join(MODEL);
    let net = Net::init(model, device)
        .try_load_file(&model_path)
        .map_err(|e| corrupt(&model_path, format!("cannot load checkpoint model ({e})")))?;
    // The tensors go where the model's parameters live.
    let first: Vec<String> = crate::models::params::shapes(&net)
        .into_iter()
        .take(1)
        .map(|(name, _)| name)
        .collect();
    let inner = crate::models::params::flat(&net, &first)
        .into_values()
        .next()
        .map(|t| t.device());
    let tensor_device = inner.unwrap_or_else(|| device.clone());
    let tensors = read_tensors(&folder.join(TENSORS), &tensor_device)?;
    let group = |prefix: &str| -> BTreeMap<String, Tensor<1>> {
        tensors
            .iter()
            .filter_map(|(name, t)| Some((name.strip_prefix(prefix)?.to_owned(), t.clone())))
            .collect()
    };
    let position = Position {
        epoch: state.epoch,
        step: state.step,
        ce_sum: f64::from_bits(state.ce_sum),
        loss_sum: f64::from_bits(state.loss_sum),
        count: state.count,
        lr: f64::from_bits(state.lr),
        seconds: f64::from_bits(state.seconds),
        round_ce_sum: f64::from_bits(state.round_ce_sum),
        round_count: state.round_count,
        batch_ce_sum: f64::from_bits(state.batch_ce_sum),
        batches: state.batches,
    };
    Ok(Checkpoint {
        resume: Resume {
            model: net,
            position,
            optimizer: group("optimizer/"),
            pruner: PrunerState {
                tensors: group("pruner/"),
                scalars: float_map(&state.pruner_scalars),
            },
        },
        recorder: RecorderState {
            finals: float_map(&state.finals),
            seconds: state
                .epoch_seconds
                .iter()
                .map(|b| f64::from_bits(*b))
                .collect(),
            metrics_len: state.metrics_len,
        },
    })
}

/// Removes every checkpoint folder of a stage (it finished, or starts afresh).
pub fn remove(dir: &Path) -> Result<()> {
    for name in [CHECKPOINT, NEXT, OLD] {
        let folder = dir.join(name);
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(Error::io(&folder))?;
        }
    }
    Ok(())
}

/// `MAGIC`, the count, then per tensor: name length (u32), name, length (u64), f32 values,
/// all little-endian.
fn write_tensors(path: &Path, tensors: &BTreeMap<String, Tensor<1>>) -> Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    for (name, tensor) in tensors {
        let values: Vec<f32> = host::values(tensor.clone());
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut file = std::fs::File::create(path).map_err(Error::io(path))?;
    file.write_all(&out).map_err(Error::io(path))?;
    file.sync_all().map_err(Error::io(path))
}

fn read_tensors(path: &Path, device: &Device) -> Result<BTreeMap<String, Tensor<1>>> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    let corrupt = || Error::Corrupt {
        path: path.to_owned(),
        message: "truncated or not a checkpoint tensor file".into(),
    };
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let slice = bytes.get(at..at + n).ok_or_else(corrupt)?;
        at += n;
        Ok(slice)
    };
    if take(8)? != MAGIC {
        return Err(corrupt());
    }
    let count = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
    let mut tensors = BTreeMap::new();
    for _ in 0..count {
        let len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
        let name = String::from_utf8(take(len)?.to_vec()).map_err(|_| corrupt())?;
        let n = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")) as usize;
        let values: Vec<f32> = take(n.checked_mul(4).ok_or_else(corrupt)?)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let tensor = Tensor::from_data(TensorData::new(values, [n]), device);
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}
