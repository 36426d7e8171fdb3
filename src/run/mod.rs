//! Executing runs: the run-folder layout ([`store`]), provenance, signals, the stage
//! executor, the stage graph and the schedulers that run it in this process ([`serial`]) or in
//! worker processes ([`parallel`], [`slurm`]), and the `plan`/`status` texts ([`status`]).

pub mod execute;
pub mod export;
pub mod graph;
pub mod parallel;
pub mod progress;
pub mod provenance;
pub mod serial;
pub mod signals;
pub mod slurm;
pub mod snapshots;
pub mod status;
pub mod store;

pub use execute::{Executor, RunStatus};
