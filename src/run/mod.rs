//! Executing runs: the run-folder layout ([`store`]), provenance, signals, the stage
//! executor.

pub mod execute;
pub mod graph;
pub mod parallel;
pub mod progress;
pub mod provenance;
pub mod signals;
pub mod slurm;
pub mod store;

pub use execute::{Executor, RunStatus};
