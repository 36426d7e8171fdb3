//! One integration test binary; each module covers one layer.

mod cli;
mod common;
mod idx;
mod pipeline;
mod projection;
mod spec;
