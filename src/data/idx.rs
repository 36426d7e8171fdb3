//! The IDX format of MNIST and Fashion-MNIST: big-endian magic (0x803 images, 0x801 labels),
//! u32 dimensions, then u8 data; plain or gzipped.

use crate::base::sha256_hex;
use crate::catalog::DataFile;
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Images of an IDX file.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` bytes, row-major.
    pub pixels: Vec<u8>,
}

/// Returns the bytes of `bytes`, gunzipped when they start with the gzip magic.
pub fn maybe_gunzip(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::Corrupt {
                path: path.to_owned(),
                message: format!("broken gzip stream: {e}"),
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Reads `file` from `dir` (as `name` or `name.gz`), uncompresses it and checks its SHA-256.
pub fn read_verified(dir: &Path, file: &DataFile) -> Result<Vec<u8>> {
    let plain = dir.join(file.name);
    let gz = dir.join(format!("{}.gz", file.name));
    let path = if plain.is_file() {
        plain
    } else if gz.is_file() {
        gz
    } else {
        return Err(Error::Data(format!(
            "missing {} (or .gz) in {}",
            file.name,
            dir.display()
        )));
    };
    // Unreadable (permissions, a folder in its place) is bad input like a missing file.
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::Data(format!("cannot read {}: {e}", path.display())))?;
    let bytes = maybe_gunzip(bytes, &path)?;
    let actual = sha256_hex(&bytes);
    if actual != file.sha256 {
        return Err(Error::Corrupt {
            path,
            message: format!(
                "checksum mismatch: SHA-256 of the uncompressed bytes is {actual}, expected {}; delete the file and fetch it again",
                file.sha256
            ),
        });
    }
    Ok(bytes)
}

fn header(bytes: &[u8], path: &Path, magic: u32, dims: usize) -> Result<Vec<usize>> {
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_owned(),
        message,
    };
    let need = 4 + 4 * dims;
    if bytes.len() < need {
        return Err(corrupt(format!(
            "{} bytes is too short for an IDX header",
            bytes.len()
        )));
    }
    let word = |i: usize| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes"));
    if word(0) != magic {
        return Err(corrupt(format!(
            "magic number {:#010x}, expected {magic:#010x}",
            word(0)
        )));
    }
    let sizes: Vec<usize> = (1..=dims).map(|i| word(i) as usize).collect();
    let expected = need + sizes.iter().product::<usize>();
    if bytes.len() != expected {
        return Err(corrupt(format!(
            "{} bytes, header {:?} implies {expected}",
            bytes.len(),
            sizes
        )));
    }
    Ok(sizes)
}

/// Parses an IDX image file (magic 0x00000803).
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<IdxImages> {
    let sizes = header(bytes, path, 0x0000_0803, 3)?;
    Ok(IdxImages {
        count: sizes[0],
        rows: sizes[1],
        cols: sizes[2],
        pixels: bytes[16..].to_vec(),
    })
}

/// Parses an IDX label file (magic 0x00000801).
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    header(bytes, path, 0x0000_0801, 1)?;
    let labels = bytes[8..].to_vec();
    if let Some(bad) = labels.iter().find(|&&l| l > 9) {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            message: format!("label {bad} outside 0..9"),
        });
    }
    Ok(labels)
}
