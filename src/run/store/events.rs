//! TensorBoard event files: a stage's `metrics.csv` rows as scalar summaries, so
//! `tensorboard --logdir <runs>/tensorboard` shows every run's curves live.
//!
//! The format, written here without TensorFlow: a file of TFRecords (u64 length, masked CRC-32C
//! of the length, the bytes, masked CRC-32C of the bytes), each an `Event` protocol buffer
//! (`tensorboard/compat/proto/event.proto`: `wall_time` = 1, `step` = 2, `file_version` = 3,
//! `summary` = 5) whose `Summary` holds one `Value` (`tag` = 1, `simple_value` = 2;
//! `summary.proto`). The first event names the file version, as TensorFlow's writer does.
//!
//! The file lives in the stage's `tensorboard/` folder, which a summary does not hash (it hashes
//! files, not folders): it is a view of `metrics.csv`, rebuilt from it when a stage resumes, so
//! a kill and resume neither loses nor repeats a step.

use crate::error::{Error, Result};
use crate::spec::Run;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder inside a stage's folder that holds its event file.
pub const DIR: &str = "tensorboard";

/// The event file's name: TensorBoard reads files whose name contains `tfevents`.
pub const FILE: &str = "events.out.tfevents.0.slr";

/// The version string of the first event, which TensorBoard checks.
const FILE_VERSION: &str = "brain.Event:2";

/// One scalar as TensorBoard sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// Its tag (chart name).
    pub tag: String,
    /// Its step (x axis).
    pub step: i64,
    /// Its value (TensorBoard's `simple_value` is a 32-bit float).
    pub value: f32,
}

/// An event file being appended to, each scalar flushed as it comes.
pub struct EventsFile {
    path: PathBuf,
    file: std::fs::File,
}

impl EventsFile {
    /// Creates (truncates) `<stage dir>/tensorboard/<FILE>` holding `scalars`, then keeps it
    /// open for appending.
    pub fn create(stage_dir: &Path, scalars: &[Scalar]) -> Result<EventsFile> {
        let dir = stage_dir.join(DIR);
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let path = dir.join(FILE);
        let file = std::fs::File::create(&path).map_err(Error::io(&path))?;
        let mut events = EventsFile { path, file };
        let mut bytes = record(&event(now(), 0, Body::FileVersion(FILE_VERSION)));
        for scalar in scalars {
            bytes.extend(record(&event(now(), scalar.step, Body::Scalar(scalar))));
        }
        events.write(&bytes)?;
        Ok(events)
    }

    /// Appends one scalar.
    pub fn scalar(&mut self, scalar: &Scalar) -> Result<()> {
        self.write(&record(&event(now(), scalar.step, Body::Scalar(scalar))))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes).map_err(Error::io(&self.path))?;
        self.file.flush().map_err(Error::io(&self.path))
    }
}

/// The event file of the stage folder `stage_dir`.
pub fn path(stage_dir: &Path) -> PathBuf {
    stage_dir.join(DIR).join(FILE)
}

/// Links `<runs>/tensorboard/<spec>/<row>/seed-<n>/<stage>` to each stage's `tensorboard/`
/// folder, so `tensorboard --logdir <runs>/tensorboard/<spec>` names every curve by row, seed
/// and stage; a stage several rows share (the dense pretrain) appears under each. Links are
/// relative (the runs folder may move) and may point at a stage that has not started yet,
/// which TensorBoard shows once it does. A link that points elsewhere is replaced; anything
/// else in the way is left and named in the error.
pub fn link_views(runs_root: &Path, spec: &str, runs: &[Run]) -> Result<()> {
    for run in runs {
        let seed = format!("seed-{}", run.seed);
        let dir = runs_root
            .join(DIR)
            .join(path_safe(spec))
            .join(path_safe(&run.row_name))
            .join(&seed);
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        for stage in &run.stages {
            let link = dir.join(stage.kind.name());
            // From `<runs>/tensorboard/<spec>/<row>/<seed>` up to `<runs>`.
            let target = Path::new("../../../..")
                .join(stage.folder_name())
                .join(&seed)
                .join(DIR);
            match std::fs::read_link(&link) {
                Ok(found) if found == target => continue,
                Ok(_) => std::fs::remove_file(&link).map_err(Error::io(&link))?,
                Err(_) if link.symlink_metadata().is_ok() => {
                    return Err(Error::Corrupt {
                        path: link,
                        message: "is not a link slr made; move it away to see this stage in \
                                  TensorBoard"
                            .into(),
                    });
                }
                Err(_) => {}
            }
            std::os::unix::fs::symlink(&target, &link).map_err(Error::io(&link))?;
        }
    }
    Ok(())
}

/// `name` as one path component: no separator, not `.` or `..`, not empty.
fn path_safe(name: &str) -> String {
    let name = name.replace(['/', '\\', '\0'], "_");
    match name.as_str() {
        "" | "." | ".." => format!("_{name}"),
        _ => name,
    }
}

/// Reads the scalars of an event file, checking every record's checksums (what TensorBoard
/// does); the file-version event carries none.
pub fn read_scalars(path: &Path) -> Result<Vec<Scalar>> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    let corrupt = |what: String| Error::Corrupt {
        path: path.to_owned(),
        message: what,
    };
    let mut scalars = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let header = bytes
            .get(at..at + 12)
            .ok_or_else(|| corrupt(format!("a record header is cut at byte {at}")))?;
        let len = u64::from_le_bytes(header[..8].try_into().expect("8 bytes")) as usize;
        if masked_crc(&header[..8]) != u32::from_le_bytes(header[8..].try_into().expect("4")) {
            return Err(corrupt(format!("bad length checksum at byte {at}")));
        }
        let data = bytes
            .get(at + 12..at + 12 + len)
            .ok_or_else(|| corrupt(format!("a record is cut at byte {at}")))?;
        let crc = bytes
            .get(at + 12 + len..at + 16 + len)
            .ok_or_else(|| corrupt(format!("a record checksum is cut at byte {at}")))?;
        if masked_crc(data) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(corrupt(format!("bad data checksum at byte {at}")));
        }
        if let Some(scalar) = decode_event(data).map_err(|e| corrupt(format!("{e} at {at}")))? {
            scalars.push(scalar);
        }
        at += 16 + len;
    }
    Ok(scalars)
}

enum Body<'a> {
    FileVersion(&'a str),
    Scalar(&'a Scalar),
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An `Event` message.
fn event(wall_time: f64, step: i64, body: Body) -> Vec<u8> {
    let mut out = vec![0x09]; // field 1, 64-bit
    out.extend(wall_time.to_le_bytes());
    out.push(0x10); // field 2, varint
    varint(step as u64, &mut out);
    match body {
        Body::FileVersion(version) => length_delimited(3, version.as_bytes(), &mut out),
        Body::Scalar(scalar) => {
            let mut value = Vec::new();
            length_delimited(1, scalar.tag.as_bytes(), &mut value);
            value.push(0x15); // field 2, 32-bit
            value.extend(scalar.value.to_le_bytes());
            let mut summary = Vec::new();
            length_delimited(1, &value, &mut summary);
            length_delimited(5, &summary, &mut out);
        }
    }
    out
}

fn length_delimited(field: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(field << 3 | 2);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A TFRecord: length, its masked CRC, the data, its masked CRC.
fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend(len);
    out.extend(masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend(masked_crc(data).to_le_bytes());
    out
}

/// The protobuf fields this module writes, read back: (field, wire value).
enum Field<'a> {
    Varint(u64),
    /// A 64-bit field (the wall time), skipped.
    Fixed64,
    Fixed32(u32),
    Bytes(&'a [u8]),
}

fn fields(mut bytes: &[u8]) -> std::result::Result<Vec<(u64, Field<'_>)>, String> {
    fn read_varint(bytes: &mut &[u8]) -> std::result::Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = bytes.split_first().ok_or("a varint is cut")?;
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err("a varint is too long".into())
    }
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> std::result::Result<&'a [u8], String> {
        if bytes.len() < n {
            return Err("a field is cut".into());
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Ok(head)
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = read_varint(&mut bytes)?;
        let field = match key & 7 {
            0 => Field::Varint(read_varint(&mut bytes)?),
            1 => {
                take(&mut bytes, 8)?;
                Field::Fixed64
            }
            2 => {
                let n = read_varint(&mut bytes)? as usize;
                Field::Bytes(take(&mut bytes, n)?)
            }
            5 => Field::Fixed32(u32::from_le_bytes(
                take(&mut bytes, 4)?.try_into().expect("4"),
            )),
            wire => return Err(format!("unexpected wire type {wire}")),
        };
        out.push((key >> 3, field));
    }
    Ok(out)
}

/// The scalar of an `Event`, `None` for an event without one (the file version).
fn decode_event(bytes: &[u8]) -> std::result::Result<Option<Scalar>, String> {
    let mut step = 0;
    let mut scalar = None;
    for (number, field) in fields(bytes)? {
        match (number, field) {
            (2, Field::Varint(v)) => step = v as i64,
            (5, Field::Bytes(summary)) => {
                for (number, field) in fields(summary)? {
                    let (1, Field::Bytes(value)) = (number, field) else {
                        continue;
                    };
                    let (mut tag, mut simple) = (None, None);
                    for (number, field) in fields(value)? {
                        match (number, field) {
                            (1, Field::Bytes(t)) => tag = Some(String::from_utf8_lossy(t)),
                            (2, Field::Fixed32(v)) => simple = Some(f32::from_bits(v)),
                            _ => {}
                        }
                    }
                    if let (Some(tag), Some(value)) = (tag, simple) {
                        scalar = Some((tag.into_owned(), value));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(scalar.map(|(tag, value)| Scalar { tag, step, value }))
}

/// CRC-32C (Castagnoli), table-driven.
fn crc32c(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82f6_3b78
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |crc, &b| {
        TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// TFRecord's masked CRC: rotated and offset, so a CRC of data holding CRCs stays strong.
fn masked_crc(bytes: &[u8]) -> u32 {
    crc32c(bytes).rotate_right(15).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // The check value of CRC-32C (RFC 3720, B.4 lists the same algorithm).
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
    }

    #[test]
    fn an_event_encodes_as_protobuf() {
        let scalar = Scalar {
            tag: "lr".into(),
            step: 300,
            value: 0.5,
        };
        let bytes = event(1.0, 300, Body::Scalar(&scalar));
        let expected: Vec<u8> = [
            &[0x09][..],
            &1.0f64.to_le_bytes(),
            &[0x10, 0xac, 0x02], // 300 as a varint
            &[0x2a, 0x0b, 0x0a, 0x09, 0x0a, 0x02, b'l', b'r', 0x15],
            &0.5f32.to_le_bytes(),
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn scalars_read_back_and_damage_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let first = Scalar {
            tag: "epoch/acc.test".into(),
            step: 1,
            value: 97.25,
        };
        let second = Scalar {
            tag: "step/train.loss".into(),
            step: 1_000_000,
            value: -0.125,
        };
        let mut file = EventsFile::create(dir.path(), std::slice::from_ref(&first)).unwrap();
        file.scalar(&second).unwrap();
        let path = path(dir.path());
        assert_eq!(read_scalars(&path).unwrap(), [first, second]);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 6;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let error = read_scalars(&path).unwrap_err().to_string();
        assert!(error.contains("bad data checksum"), "{error}");
    }
}
