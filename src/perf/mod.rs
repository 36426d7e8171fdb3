//! What training costs: `slr perf`'s measured step times on a backend ([`measure`]), its
//! input pipelines' rates ([`input`]) and the FLOPs and time estimate of a plan ([`estimate`]).

pub mod batches;
pub mod estimate;
pub mod input;
pub mod measure;

pub use batches::{random_batch, random_task_batch};
pub use input::{InputOptions, InputReport, measure_input};
pub use measure::{PerfOptions, PerfReport, dense_step_ms, measure};
