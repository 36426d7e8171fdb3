//! slr-repro: declarative, fixed-seed reproduction of SLR vs ADMM pruning experiments.
//!
//! Data flows one way: spec -> resolved runs -> stages on disk -> report. Each step is a pure
//! function of the files the previous step wrote, so rerunning completes what is missing.

// Layers, bottom to top (a module uses only modules of lower layers; tests/integration/layers.rs
// enforces it): error -> base -> catalog, metrics -> spec -> data, models -> prune -> train ->
// run -> report, perf -> cli. ARCHITECTURE.md explains each.
pub mod base;
pub mod catalog;
pub mod cli;
pub mod data;
pub mod error;
pub mod metrics;
pub mod models;
pub mod perf;
pub mod prune;
pub mod report;
pub mod run;
pub mod spec;
pub mod train;

pub use error::{Error, Result};
