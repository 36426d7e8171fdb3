//! Backend selection: with its child [`torch_conv`] (libtorch's convolution gradients), the only
//! module that touches burn's deprecated libtorch API. A backend is parsed once, where it enters
//! (spec `runtime.backend`, `SLR_BACKEND`, `--backend`), and travels typed from there.

#[cfg(feature = "tch")]
pub mod torch_conv;

use crate::error::{Error, Result};
use burn::tensor::Device;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A compute backend chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// burn's pure-Rust `flex` CPU backend (always compiled; bit-exact reruns).
    #[default]
    Cpu,
    /// libtorch on the CPU (feature `tch`).
    TchCpu,
    /// libtorch on CUDA device `i` (feature `tch`).
    TchCuda(usize),
}

/// Backends compiled into this binary.
pub fn compiled() -> Vec<&'static str> {
    let mut list = vec!["cpu"];
    if cfg!(feature = "tch") {
        list.extend(["tch-cpu", "tch-cuda[:i]"]);
    }
    list
}

impl Backend {
    /// Parses `cpu`, `tch-cpu`, `tch-cuda` or `tch-cuda:i`.
    pub fn parse(name: &str) -> Result<Backend> {
        let backend = match name {
            "cpu" => Backend::Cpu,
            "tch-cpu" => Backend::TchCpu,
            "tch-cuda" => Backend::TchCuda(0),
            other => match other.strip_prefix("tch-cuda:").map(str::parse::<usize>) {
                Some(Ok(i)) => Backend::TchCuda(i),
                _ => {
                    return Err(Error::Backend(format!(
                        "unknown backend `{name}`; allowed values: cpu, tch-cpu, tch-cuda[:i]"
                    )));
                }
            },
        };
        if backend != Backend::Cpu && !cfg!(feature = "tch") {
            return Err(Error::Backend(format!(
                "backend `{name}` is not compiled into this binary (compiled: {}); rebuild with `--features tch` (see README, GPU section)",
                compiled().join(", ")
            )));
        }
        Ok(backend)
    }

    /// The device (without autodiff).
    pub fn device(self) -> Device {
        match self {
            Backend::Cpu => Device::flex(),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Backend::TchCpu => Device::libtorch(),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Backend::TchCuda(i) => Device::libtorch_cuda(i),
            #[cfg(not(feature = "tch"))]
            Backend::TchCpu | Backend::TchCuda(_) => unreachable!("rejected by Backend::parse"),
        }
    }

    /// The name it is parsed from (`cpu`, `tch-cpu`, `tch-cuda:i`).
    pub fn spec_name(self) -> String {
        match self {
            Backend::Cpu => "cpu".into(),
            Backend::TchCpu => "tch-cpu".into(),
            Backend::TchCuda(i) => format!("tch-cuda:{i}"),
        }
    }

    /// Name for provenance and reports.
    pub fn name(self) -> String {
        match self {
            Backend::Cpu => "cpu (burn flex)".into(),
            Backend::TchCpu => "tch-cpu (libtorch)".into(),
            Backend::TchCuda(i) => format!("tch-cuda:{i} (libtorch)"),
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = Error;
    fn from_str(name: &str) -> Result<Backend> {
        Backend::parse(name)
    }
}

impl Serialize for Backend {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.spec_name())
    }
}

impl<'de> Deserialize<'de> for Backend {
    fn deserialize<D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Backend, D::Error> {
        let name = String::deserialize(deserializer)?;
        Backend::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// Sets the CPU worker-thread count once per process (rayon's global pool).
pub fn set_threads(threads: Option<usize>) {
    if let Some(threads) = threads {
        // Fails only if the pool already exists, which keeps the first setting.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
}
