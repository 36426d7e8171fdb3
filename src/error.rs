//! Typed errors of the library; `main` maps them to exit codes.

use std::path::PathBuf;

/// Everything that can go wrong in the library.
///
/// [`Error::exit_code`] separates bad input (2) from runs that failed (1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spec file or override is malformed or names something unknown.
    #[error("{file}: {message}")]
    Spec {
        /// The spec file (or the layer, for `--set` and environment values).
        file: PathBuf,
        /// What is wrong, naming the key path and the allowed values.
        message: String,
    },
    /// A command-line argument that is not part of a spec is invalid.
    #[error("{0}")]
    Usage(String),
    /// A data set is absent, incomplete or does not match its checksum.
    #[error("{0}")]
    Data(String),
    /// The requested backend was not compiled in or could not start.
    #[error("{0}")]
    Backend(String),
    /// A run started but failed (diverged, sparsity check failed, I/O during training).
    #[error("run failed: {0}")]
    RunFailed(String),
    /// Training produced a non-finite loss.
    #[error("run failed: {label}: diverged at epoch {epoch} step {step} (loss {loss})")]
    Diverged {
        /// The training's progress label, e.g. `slr train seed 1`.
        label: String,
        /// 1-based epoch.
        epoch: usize,
        /// 0-based step within the epoch.
        step: usize,
        /// The non-finite loss.
        loss: f64,
    },
    /// A stop was requested (SIGTERM, SIGINT): the stage checkpointed and the rerun continues.
    #[error(
        "interrupted: {label} stopped before epoch {epoch} step {step}; its checkpoint is kept, \
         run the same command again to continue from there"
    )]
    Interrupted {
        /// The training's progress label.
        label: String,
        /// 1-based epoch of the next step.
        epoch: usize,
        /// 0-based step within it.
        step: usize,
    },
    /// A stage was asked to run before the stage it consumes is done (a Slurm task whose
    /// input failed or has not run).
    #[error("input not done: {0}")]
    InputNotDone(String),
    /// Parallel workers were stopped by a signal; their checkpoints are kept.
    #[error("stopped: {0}; run the same command again to continue")]
    Stopped(String),
    /// A file that the harness wrote earlier is unreadable or corrupt.
    #[error("{path}: {message}")]
    Corrupt {
        /// The offending file.
        path: PathBuf,
        /// Why it could not be used.
        message: String,
    },
    /// A PyTorch checkpoint named by a spec cannot be read or does not fit the model.
    #[error("{path}: {message}")]
    Import {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong, listing every mismatch.
        message: String,
    },
    /// A figure could not be drawn or written.
    #[error("cannot draw {path}: {message}")]
    Figure {
        /// The figure file.
        path: PathBuf,
        /// The drawing backend's error.
        message: String,
    },
    /// Plain I/O failure with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// Process exit code: 2 for bad input (spec, usage, data, backend, corrupt files), 1 for a
    /// run that failed while executing, 4 for a stage whose input is not done, 130 for a stop
    /// with a checkpoint (3 is the Slurm job scripts': runs folder not visible).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::InputNotDone(_) => 4,
            Error::RunFailed(_)
            | Error::Diverged { .. }
            | Error::Io { .. }
            | Error::Figure { .. } => 1,
            // 128 + SIGINT, as shells report an interrupted command.
            Error::Interrupted { .. } | Error::Stopped(_) => 130,
            _ => 2,
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// A spec error for `file`.
    pub fn spec(file: impl Into<PathBuf>, message: impl Into<String>) -> Error {
        Error::Spec {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// Result alias of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
