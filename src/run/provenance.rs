//! `provenance.json`: what produced a stage (binary, commit, backend, threads, data, times).

use serde::{Deserialize, Serialize};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a stage's numbers came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    /// `slr` version.
    pub version: String,
    /// Git commit of the working tree, with `-dirty` when it has changes (or `unknown`).
    pub git_commit: String,
    /// Backend and device.
    pub backend: String,
    /// CPU worker threads of the process (rayon's pool, which the `cpu` backend computes on);
    /// 0 in stages recorded before it was. Reruns are bit-identical at the same count.
    #[serde(default)]
    pub threads: usize,
    /// Data set name.
    pub dataset: String,
    /// SHA-256 identifying the data set's content.
    pub data_checksum: String,
    /// Unix seconds at the start of the stage.
    pub started_unix: u64,
    /// Unix seconds at the end of the stage.
    pub finished_unix: u64,
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `git rev-parse HEAD` plus `-dirty` when tracked files outside `reports/` changed, or
/// `unknown` outside a repository.
pub fn git_commit() -> String {
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let Some(head) = head else {
        return "unknown".into();
    };
    let dirty = Command::new("git")
        // Generated reports do not make the code dirty (rendering one changes it).
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)reports",
        ])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    if dirty { format!("{head}-dirty") } else { head }
}
