//! Model files (`model.bpk`, burn's burnpack format) whose bytes depend on the weights alone.
//! burn records each parameter's id in the file, and fresh ids are random, so two runs with
//! identical weights wrote files that differed in those ids (and in their SHA-256). Saving here
//! replaces every id by one derived from the tensor's path; ids only key optimizer state and
//! gradients, which no saved model carries, and a loaded model takes the file's ids.

use super::Net;
use crate::base::rng::stream;
use crate::base::write_atomic;
use crate::error::{Error, Result};
use burn::module::Module;
use std::path::Path;

/// Saves `net` to `path` (written whole or not at all).
pub fn save(net: Net, path: &Path) -> Result<()> {
    let fail = |e: String| Error::RunFailed(format!("cannot save {}: {e}", path.display()));
    let bytes = net
        .into_record()
        .into_bytes()
        .map_err(|e| fail(e.to_string()))?;
    let tensors = burn_pack::Reader::from_bytes(bytes)
        .and_then(|reader| reader.into_tensors())
        .map_err(|e| fail(e.to_string()))?
        .into_iter()
        .map(|tensor| {
            let (name, dtype, shape, _, data) = tensor.into_parts()?;
            let id = stream(0, &name);
            Ok(burn_pack::Tensor::new(name, dtype, shape, Some(id), data))
        })
        .collect::<std::result::Result<Vec<_>, burn_pack::Error>>()
        .map_err(|e| fail(e.to_string()))?;
    let bytes = burn_pack::Writer::new(tensors)
        .into_bytes()
        .map_err(|e| fail(e.to_string()))?;
    write_atomic(path, &bytes)
}
