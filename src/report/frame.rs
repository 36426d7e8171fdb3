//! Reading columns out of the result frames, and writing the frames as CSV and Parquet.

use super::collect::frame_error;
use crate::error::{Error, Result};
use polars::prelude::{CsvWriter, DataFrame, ParquetWriter, SerWriter};
use std::path::{Path, PathBuf};

/// A column as strings (null -> empty).
pub fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let column = df.column(name).map_err(frame_error)?;
    Ok(column
        .str()
        .map_err(frame_error)?
        .iter()
        .map(|v| v.unwrap_or_default().to_owned())
        .collect())
}

/// A numeric column as `f64` (a column absent from the frame is all null).
pub fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let Ok(column) = df.column(name) else {
        return Ok(vec![None; df.height()]);
    };
    let cast = column
        .cast(&polars::prelude::DataType::Float64)
        .map_err(frame_error)?;
    Ok(cast.f64().map_err(frame_error)?.iter().collect())
}

/// An unsigned integer column (absent -> all null).
pub fn integers(df: &DataFrame, name: &str) -> Result<Vec<Option<u64>>> {
    Ok(floats(df, name)?
        .into_iter()
        .map(|v| v.map(|x| x as u64))
        .collect())
}

/// Columns of the results frame that hold text (read as text whatever they look like: a
/// commit of digits only is not a number).
pub(crate) const TEXT_COLUMNS: [&str; 12] = [
    "row",
    "group",
    "model",
    "dataset",
    "method",
    "method_label",
    "status",
    "reason",
    "version",
    "commit",
    "code",
    "backend",
];

/// Reads a results frame that [`export`] wrote (`results.csv`).
pub fn read_csv(path: &Path) -> Result<DataFrame> {
    use polars::prelude::{CsvReadOptions, DataType, Field, Schema, SerReader};
    if !path.is_file() {
        return Err(Error::Usage(format!(
            "{}: no such results frame (a `results.csv` that `slr report` wrote)",
            path.display()
        )));
    }
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_owned(),
        message,
    };
    let text: Schema = TEXT_COLUMNS
        .iter()
        .map(|name| Field::new((*name).into(), DataType::String))
        .collect();
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_schema_overwrite(Some(std::sync::Arc::new(text)))
        .try_into_reader_with_file_path(Some(path.to_owned()))
        .and_then(|reader| reader.finish())
        .map_err(|e| corrupt(format!("not a results frame ({e})")))?;
    // `code` came later: frames written before it render without it.
    let required = TEXT_COLUMNS.iter().filter(|name| **name != "code");
    for name in required.chain(&["row_index", "seed", "seeds_planned"]) {
        if frame.column(name).is_err() {
            return Err(corrupt(format!(
                "not a results frame: it has no `{name}` column"
            )));
        }
    }
    Ok(frame)
}

/// Writes `<dir>/<stem>.csv` and `<dir>/<stem>.parquet`; returns both paths.
pub fn export(df: &DataFrame, dir: &Path, stem: &str) -> Result<[PathBuf; 2]> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let csv = dir.join(format!("{stem}.csv"));
    let parquet = dir.join(format!("{stem}.parquet"));
    let mut frame = df.clone();
    let mut bytes = Vec::new();
    CsvWriter::new(&mut bytes)
        .finish(&mut frame)
        .map_err(frame_error)?;
    crate::base::write_atomic(&csv, &bytes)?;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .finish(&mut frame)
        .map_err(frame_error)?;
    crate::base::write_atomic(&parquet, &bytes)?;
    Ok([csv, parquet])
}
