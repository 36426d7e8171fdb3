//! Experiment specs: the serde mirror of `experiments/*.toml`, layered loading and resolution
//! into runs made of stages.
//!
//! A spec file declares a table (`[table]`), shared row settings (`[defaults]`), the rows
//! (`[[rows]]`), optional published cells (`[[published]]`) and profiles (`[profile.<name>]`)
//! that overlay any of these. [`load`] applies the layers and validates against the catalog
//! and the metric vocabulary; [`resolve`] turns rows x seeds into stages with
//! content-addressed ids.

mod column;
mod load;
mod method;
mod resolve;
mod stage;
mod types;

pub use crate::catalog::{DatasetKind, ModelKind};
pub use column::Column;
pub use load::{LoadOptions, Loaded, load, locate};
pub use method::{AdmmSpec, MethodName, MethodSpec, MultiplierGrad, SlrSpec, SlrVariant};
pub use resolve::{Plan, derive_seed, layer_ratios, resolve};
pub use stage::{
    ImportConfig, PretrainConfig, PruneConfig, RetrainConfig, Run, Stage, StageConfig, StageKind,
    TrainConfig,
};
pub use types::*;
