//! slr-repro: declarative, fixed-seed reproduction of SLR vs ADMM pruning experiments.
//!
//! Data flows one way: spec -> resolved runs -> stages on disk -> report. Each step is a pure
//! function of the files the previous step wrote, so rerunning completes what is missing.

pub mod cli;
pub mod data;
pub mod error;
pub mod models;
pub mod prune;
pub mod report;
pub mod rng;
pub mod run;
pub mod spec;
pub mod train;

pub use error::{Error, Result};
