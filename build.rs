//! Fingerprints of the code that determines a stage's numbers (see `src/base/code.rs`): the
//! SHA-256 of each such source file, normalised, passed to the crate as `SLR_CODE_FILES`
//! (`path=hash` pairs, `;`-separated); and the commit the binary is built from, as
//! `SLR_BUILD_COMMIT` (`src/run/provenance.rs`).

// Its architecture list is for the crate.
#[allow(dead_code)]
#[path = "src/base/code.rs"]
mod code;

use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn main() {
    let src = Path::new("src");
    let mut paths = Vec::new();
    for dir in code::NUMERIC_DIRS {
        files(&src.join(dir), &mut paths);
    }
    for file in code::NUMERIC_FILES {
        paths.push(src.join(file));
    }
    let mut pairs: Vec<String> = paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let digest = Sha256::digest(code::normalise(&text).as_bytes());
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            let relative = path.strip_prefix(src).unwrap_or(path);
            format!("{}={hex}", relative.display())
        })
        .collect();
    pairs.sort();
    println!("cargo:rustc-env=SLR_CODE_FILES={}", pairs.join(";"));
    println!("cargo:rustc-env=SLR_BUILD_COMMIT={}", build_commit());
}

/// The files a binary is built from: a change to any of them may change what it computes (the
/// script reruns on any of them, which covers the fingerprinted sources).
const BUILT_FROM: [&str; 4] = ["src", "build.rs", "Cargo.toml", "Cargo.lock"];

/// One line of a git command's output in this package, or `None` (no git, not a repository).
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `git rev-parse HEAD` (12 digits) plus `-dirty` when the files the binary is built from
/// differ from it (untracked source files included), or `unknown` outside a repository.
/// Recorded at build time rather than read from the working directory when a stage runs, so a
/// binary run from another checkout still names the code it was built from. The script reruns
/// when those files change or HEAD moves, so the commit is never that of an older build.
fn build_commit() -> String {
    for path in BUILT_FROM {
        println!("cargo:rerun-if-changed={path}");
    }
    let Some(head) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".into();
    };
    // HEAD itself (a checkout) and the branch it points to (a commit), where they exist: a
    // rerun-if-changed path that does not exist would rerun the script on every build.
    let mut watched = vec!["HEAD".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    watched.push("packed-refs".into());
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let mut status = vec!["status", "--porcelain", "--untracked-files=all", "--"];
    status.extend(BUILT_FROM);
    match git(&status) {
        Some(changes) if changes.is_empty() => head,
        _ => format!("{head}-dirty"),
    }
}
