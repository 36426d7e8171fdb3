//! Executing runs: the run-folder layout ([`store`]), provenance, the stage executor.

pub mod execute;
pub mod provenance;
pub mod store;

pub use execute::{Executor, RunStatus};
