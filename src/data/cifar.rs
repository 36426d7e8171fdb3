//! CIFAR-10 binary batches (`cifar-10-batches-bin/`): records of 3,073 bytes, one label byte
//! (0..9) then 1,024 red, 1,024 green and 1,024 blue bytes, row-major 32x32. Also builds the
//! Fashion-MNIST stand-in in the same layout (28x28 grey padded to 32x32, copied to 3 channels).

use crate::error::{Error, Result};
use std::path::Path;

/// Bytes of one record.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// Images as bytes (channel-major per image, any size) and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    /// `n x 3,072` pixel bytes.
    pub pixels: Vec<u8>,
    /// `n` labels in 0..9.
    pub labels: Vec<u8>,
}

impl Records {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Without the first `n` records (all kept when `None`).
    pub fn skip(mut self, n: Option<usize>) -> Records {
        if let Some(n) = n.filter(|n| *n > 0) {
            let per_image = self.pixels.len() / self.len().max(1);
            let n = n.min(self.len());
            self.labels.drain(..n);
            self.pixels.drain(..n * per_image);
        }
        self
    }

    /// The first `n` images (all when `None`).
    pub fn truncate(mut self, n: Option<usize>) -> Records {
        if let Some(n) = n.filter(|n| *n < self.len()) {
            let per_image = self.pixels.len() / self.len();
            self.labels.truncate(n);
            self.pixels.truncate(n * per_image);
        }
        self
    }
}

/// Parses records; `path` names the file in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Records> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            message: format!(
                "{} bytes is not a whole number of {RECORD}-byte CIFAR records",
                bytes.len()
            ),
        });
    }
    let n = bytes.len() / RECORD;
    let mut records = Records {
        pixels: Vec::with_capacity(n * (RECORD - 1)),
        labels: Vec::with_capacity(n),
    };
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        if record[0] > 9 {
            return Err(Error::Corrupt {
                path: path.to_owned(),
                message: format!("record {i}: label {} is outside 0..9", record[0]),
            });
        }
        records.labels.push(record[0]);
        records.pixels.extend_from_slice(&record[1..]);
    }
    Ok(records)
}

/// Reads and concatenates CIFAR files from `dir`.
pub fn read(dir: &Path, files: &[&str]) -> Result<Records> {
    let mut all = Records {
        pixels: Vec::new(),
        labels: Vec::new(),
    };
    for name in files {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Data(format!("missing {}", path.display()))
            } else {
                // Unreadable is bad input like missing, not a failed run.
                Error::Data(format!("cannot read {}: {e}", path.display()))
            }
        })?;
        let records = parse(&bytes, &path)?;
        all.pixels.extend(records.pixels);
        all.labels.extend(records.labels);
    }
    Ok(all)
}

/// 28x28 grey images padded with 2 black pixels on each side and copied to 3 channels: the
/// CIFAR-format stand-in built from Fashion-MNIST.
pub fn grey28_to_rgb32(pixels: &[u8], labels: &[u8]) -> Records {
    let mut out = Vec::with_capacity(labels.len() * (RECORD - 1));
    for image in pixels.chunks_exact(28 * 28) {
        let mut plane = [0u8; 32 * 32];
        for (row, line) in image.chunks_exact(28).enumerate() {
            plane[(row + 2) * 32 + 2..(row + 2) * 32 + 30].copy_from_slice(line);
        }
        for _ in 0..3 {
            out.extend_from_slice(&plane);
        }
    }
    Records {
        pixels: out,
        labels: labels.to_vec(),
    }
}
