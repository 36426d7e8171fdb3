//! Fingerprints of the code that determines a stage's numbers (see `src/base/code.rs`): the
//! SHA-256 of each such source file, normalised, passed to the crate as `SLR_CODE_FILES`
//! (`path=hash` pairs, `;`-separated).

// Its architecture list is for the crate.
#[allow(dead_code)]
#[path = "src/base/code.rs"]
mod code;

use sha2::{Digest, Sha256};
use std::path::Path;

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
        println!("cargo:rerun-if-changed=src/{dir}");
    }
    for file in code::NUMERIC_FILES {
        paths.push(src.join(file));
        println!("cargo:rerun-if-changed=src/{file}");
    }
    println!("cargo:rerun-if-changed=src/base/code.rs");
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
}
