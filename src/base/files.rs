//! Files written whole or not at all.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The suffix of every temporary file [`write_atomic`] writes.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Whether `name` is a temporary file of [`write_atomic`] (a leftover when no write is under
/// way: a killed process's).
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

/// A temporary name beside `path` that no other write uses: hidden, with this process's id and
/// a per-process counter, so concurrent writers of one file (two runners rendering the same
/// report) never share a temporary file.
fn temporary_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(
        ".{name}.{}.{unique}{TEMP_SUFFIX}",
        std::process::id()
    ))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash leaves either the
/// old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_path(path);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp)(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path)(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_unique_hidden_and_recognised() {
        let a = temporary_path(Path::new("/x/summary.json"));
        let b = temporary_path(Path::new("/x/summary.json"));
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(&format!(".summary.json.{}.", std::process::id())),
            "{name}"
        );
        assert!(is_temporary(name));
        assert!(!is_temporary("summary.json"));
        assert!(!is_temporary("notes.tmp"));
    }

    #[test]
    fn writes_leave_only_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    /// Concurrent writers of one file (two runners rendering the same report) all succeed: with
    /// one shared temporary name, a rename found the other's file already moved.
    #[test]
    fn concurrent_writes_of_one_file_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.md");
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    (0..50).try_for_each(|_| write_atomic(&path, format!("{i}").as_bytes()))
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.parse::<u32>().is_ok_and(|i| i < 8), "{text}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
