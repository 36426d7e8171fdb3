//! What training costs: `slr perf`'s measured step times on a backend ([`measure`]) and the
//! FLOPs and time estimate of a plan ([`estimate`]).

pub mod batches;
pub mod estimate;
pub mod measure;

pub use batches::{random_batch, random_task_batch};
pub use measure::{PerfOptions, PerfReport, measure};
