//! Experiment specs: the serde mirror of `experiments/*.toml`, layered loading and resolution
//! into runs.
//!
//! A spec file declares a table (`[table]`), shared row settings (`[defaults]`), the rows
//! (`[[rows]]`), optional published cells (`[[published]]`) and profiles (`[profile.<name>]`)
//! that overlay any of these. [`load`] applies the layers; [`resolve`] turns rows x seeds into
//! stages with content-addressed ids.

mod load;
mod resolve;
mod types;

pub use load::{LoadOptions, Loaded, load, locate};
pub use resolve::{Plan, Run, Stage, StageConfig, StageKind, derive_seed, layer_ratios, resolve};
pub use types::*;
