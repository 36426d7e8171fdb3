//! Executing runs: backends, stage folders, the stage executor.

pub mod backend;
pub mod estimate;
pub mod execute;
pub mod perf;
pub mod provenance;
pub mod store;

pub use execute::{Executor, RunStatus};
