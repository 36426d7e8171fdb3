//! Shared helpers: the repository root, real MNIST files, temporary spec files, source files.

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
    ONCE.call_once(|| slr_repro::base::backend::set_threads(Some(2)));
}

/// Loads a spec file with `profile`, without the environment layer.
pub fn load_spec(path: &Path, profile: Option<&str>) -> slr_repro::spec::Loaded {
    slr_repro::spec::load(
        path,
        &slr_repro::spec::LoadOptions {
            profile: profile.map(str::to_owned),
            sets: Vec::new(),
            read_env: false,
        },
    )
    .expect("spec loads")
}

/// `slr reproduce <spec> --no-fetch` with data from `data`, runs in `runs` and reports in
/// `reports`, on 2 CPU threads.
pub fn reproduce(spec: &Path, data: &Path, runs: &Path, reports: &Path) {
    use clap::Parser;
    pin_threads();
    let cli = slr_repro::cli::Cli::parse_from([
        "slr".to_owned(),
        "reproduce".to_owned(),
        spec.display().to_string(),
        "--no-fetch".to_owned(),
        "--data-root".to_owned(),
        data.display().to_string(),
        "--runs-root".to_owned(),
        runs.display().to_string(),
        "--set".to_owned(),
        format!("runtime.reports_root={:?}", reports.display().to_string()),
    ]);
    slr_repro::cli::run(cli).expect("reproduce succeeds");
}

/// `slr reproduce <spec> --no-fetch` as a child process, on real MNIST with one CPU thread, runs
/// in `runs` and reports in `reports`.
pub fn reproduce_command(spec: &Path, runs: &Path, reports: &Path) -> std::process::Command {
    reproduce_command_on(spec, &data_root(), runs, reports, 1)
}

/// [`reproduce_command`] with data from `data` on `threads` CPU threads.
pub fn reproduce_command_on(
    spec: &Path,
    data: &Path,
    runs: &Path,
    reports: &Path,
    threads: usize,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_slr"));
    cmd.current_dir(root()).args([
        "reproduce",
        spec.to_str().unwrap(),
        "--no-fetch",
        "--data-root",
        data.to_str().unwrap(),
        "--runs-root",
        runs.to_str().unwrap(),
        "--set",
        &format!("runtime.threads={threads}"),
        "--set",
        &format!("runtime.reports_root={:?}", reports.display().to_string()),
    ]);
    cmd
}

/// The seed-1 folder of the (first) stage of `kind` (`pretrain`, `retrain`, ...) under `runs`.
pub fn stage_seed_1(runs: &Path, kind: &str) -> PathBuf {
    let prefix = format!("{kind}-");
    std::fs::read_dir(runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .unwrap_or_else(|| panic!("no {kind} stage under {}", runs.display()))
        .join("seed-1")
}

/// The first `train` and `test` images of real MNIST, on the CPU backend.
pub fn mnist(train: usize, test: usize) -> slr_repro::data::Dataset {
    let limits = slr_repro::spec::DataSpec {
        train_limit: Some(train),
        test_limit: Some(test),
        ..Default::default()
    };
    let device = burn::tensor::Device::flex();
    slr_repro::data::load(
        &data_root(),
        slr_repro::spec::DatasetKind::Mnist,
        &limits,
        &device,
    )
    .unwrap()
}

/// Every `.rs` file under `dir`, appended to `out`.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
