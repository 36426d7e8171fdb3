//! Shared helpers: the repository root, real MNIST files, temporary spec files.

use std::path::{Path, PathBuf};

/// The repository root (where `experiments/` and `data/` live).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The data root holding real MNIST (fetched by `just test` / `slr data fetch mnist`).
pub fn data_root() -> PathBuf {
    let root = root().join("data");
    assert!(
        root.join("mnist/t10k-labels-idx1-ubyte").is_file(),
        "MNIST is missing under {}: run `cargo run -- data fetch mnist` first (just test does)",
        root.display()
    );
    root
}

/// Writes `text` as `name` in `dir` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    path
}

/// Pins the CPU backend to 2 worker threads for every test in this binary, so golden numbers
/// do not depend on the machine's core count.
pub fn pin_threads() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| slr_repro::run::backend::set_threads(Some(2)));
}
