//! What of the source code determines a stage's numbers, as a fingerprint: the build hashes
//! each such file (build.rs includes this module) after removing what cannot change a number,
//! so a stage computed by other code is known to be stale. Shared by `build.rs` and the crate.

/// Source files (relative to `src/`) whose code determines a stage's numbers: models,
/// initialisation, data pipelines, pruning methods, training, the backend glue, seeds and the
/// stage executor. Reports, specs, the command line and the run-folder plumbing are not.
pub const NUMERIC_DIRS: [&str; 6] = [
    "catalog",
    "data",
    "models",
    "prune",
    "train",
    "base/backend",
];

/// Single files outside [`NUMERIC_DIRS`] that determine numbers.
pub const NUMERIC_FILES: [&str; 3] = ["base/rng.rs", "base/fit.rs", "run/execute.rs"];

/// Each architecture's own files: a stage's fingerprint leaves out the other architectures'.
pub const ARCHITECTURE_FILES: [(&str, &[&str]); 5] = [
    ("lenet", &["models/lenet.rs"]),
    ("resnet", &["models/resnet.rs"]),
    ("vgg", &["models/vgg.rs"]),
    ("ufld", &["models/ufld.rs"]),
    (
        "yolo",
        &["models/yolo.rs", "models/darknet.rs", "catalog/darknet.rs"],
    ),
];

/// `text` without comments, blank lines and indentation: what a compiler sees, near enough.
/// A `//` inside a string literal also ends the line here, which can only hide an edit of
/// that literal's tail, never report a change that is not there.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default().trim();
        if !code.is_empty() {
            out.push_str(code);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn comments_and_layout_do_not_count() {
        let a = "/// Doc.\nfn f() -> u32 {\n    // why\n    1 + 1 // sum\n}\n";
        let b = "fn f() -> u32 {\n\n        1 + 1\n}";
        assert_eq!(normalise(a), normalise(b));
        assert_ne!(normalise(a), normalise("fn f() -> u32 {\n    1 + 2\n}\n"));
    }
}
