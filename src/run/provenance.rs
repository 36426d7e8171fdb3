//! `provenance.json`: what produced a stage (binary, commit, backend, threads, data, times).

use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a stage's numbers came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    /// `slr` version.
    pub version: String,
    /// Git commit the binary was built from, with `-dirty` when its sources had changes (or
    /// `unknown`).
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

/// The commit this binary was built from (12 digits), with `-dirty` when its sources differed
/// from it, or `unknown` when built outside a repository (`build.rs`). Not the working
/// directory's: a binary built in one checkout and run in another names the code it runs.
pub fn git_commit() -> String {
    env!("SLR_BUILD_COMMIT").to_owned()
}

/// The fingerprint of the code that determines the numbers of a stage of `model`: the SHA-256
/// (12 hex digits) of the normalised source files `base::code` lists, without the other
/// architectures' own files. A stage whose recorded fingerprint differs was computed by other
/// code (stale).
pub fn code_fingerprint(model: crate::catalog::ModelKind) -> String {
    use crate::base::code::ARCHITECTURE_FILES;
    use crate::catalog::Architecture;
    let own: &[&str] = match model.entry().architecture {
        Architecture::LeNet5 { .. } | Architecture::LeNet300100 => &["lenet"],
        Architecture::ResNet(_) => &["resnet"],
        Architecture::Vgg16 => &["vgg"],
        // UFLD's backbone is the ResNet module.
        Architecture::Ufld(_) => &["ufld", "resnet"],
        Architecture::Yolo(_) => &["yolo"],
        Architecture::NotImplemented => &[],
    };
    let others: Vec<&str> = ARCHITECTURE_FILES
        .iter()
        .filter(|(arch, _)| !own.contains(arch))
        .flat_map(|(_, files)| files.iter().copied())
        .collect();
    let kept: Vec<&str> = env!("SLR_CODE_FILES")
        .split(';')
        .filter(|pair| {
            let path = pair.split('=').next().unwrap_or_default();
            !others.contains(&path)
        })
        .collect();
    crate::base::sha256_hex(kept.join(";").as_bytes())[..12].to_owned()
}

#[cfg(test)]
mod tests {
    use super::code_fingerprint;
    use crate::catalog::ModelKind;

    /// Models of one architecture share a fingerprint; another architecture's files do not
    /// count, so YOLO's differs.
    #[test]
    fn fingerprints_follow_the_architecture() {
        let lenet = code_fingerprint(ModelKind::Lenet5);
        assert_eq!(lenet.len(), 12);
        assert!(lenet.chars().all(|c| c.is_ascii_hexdigit()), "{lenet}");
        assert_eq!(lenet, code_fingerprint(ModelKind::Lenet300100));
        assert_eq!(
            code_fingerprint(ModelKind::Resnet18Cifar),
            code_fingerprint(ModelKind::Resnet50Imagenet)
        );
        assert_ne!(lenet, code_fingerprint(ModelKind::Yolov3Tiny));
        assert_ne!(
            code_fingerprint(ModelKind::Resnet18Cifar),
            code_fingerprint(ModelKind::Ufld)
        );
    }
}
