//! One integration test binary; each module covers one layer.

mod budgets;
mod cifar;
mod claims;
mod cli;
mod common;
mod detection;
mod detection_pipeline;
mod export;
mod fidelity;
#[path = "../fidelity_replay/mod.rs"]
mod fidelity_replay;
mod graph;
mod host_reads;
mod idx;
mod imagefolder;
mod import;
mod init;
mod lane_pipeline;
mod lanes;
mod layers;
mod merge;
mod methods;
mod models;
mod parallel;
mod pipeline;
mod projection;
mod real_slurm;
mod recipe;
mod reliability;
mod report;
mod resume;
mod spec;
mod store;
mod tensorboard;
mod tusimple;
