//! Backend selection: with its children [`torch_conv`] (libtorch's convolution gradients) and
//! [`torch_leaky`] (libtorch's leaky ReLU kernels), the only module that touches burn's deprecated
//! libtorch API. A backend is parsed once, where it enters
//! (spec `runtime.backend`, `SLR_BACKEND`, `--backend`), and travels typed from there.

#[cfg(feature = "tch")]
pub mod torch_conv;
#[cfg(feature = "tch")]
pub mod torch_leaky;

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

    /// Name for provenance and reports; a libtorch backend says when its convolutions take
    /// burn's gradients ([`ConvGrad`]).
    pub fn name(self) -> String {
        let conv = match ConvGrad::current() {
            ConvGrad::Libtorch => "",
            ConvGrad::Burn => ", burn's convolution gradients",
        };
        match self {
            Backend::Cpu => "cpu (burn flex)".into(),
            Backend::TchCpu => format!("tch-cpu (libtorch{conv})"),
            Backend::TchCuda(i) => format!("tch-cuda:{i} (libtorch{conv})"),
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

/// How the libtorch backends compute the gradients of a convolution, chosen by the
/// environment variable [`CONV_GRAD_VAR`] (`libtorch`, the default, or `burn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvGrad {
    /// libtorch's own backward (`torch_conv`): the kernels PyTorch runs.
    Libtorch,
    /// burn's generic weight gradient, a forward convolution with the output gradient as its
    /// kernel: far slower on large feature maps, but bit-reproducible on a GPU where cuDNN's
    /// weight-gradient kernels may not be (reports/perf.md).
    Burn,
}

/// The environment variable that chooses [`ConvGrad`].
pub const CONV_GRAD_VAR: &str = "SLR_TCH_CONV_GRAD";

impl ConvGrad {
    /// The choice in the environment; an unknown value is an error naming the variable.
    pub fn from_env() -> Result<ConvGrad> {
        match std::env::var(CONV_GRAD_VAR).as_deref() {
            Err(_) | Ok("libtorch") => Ok(ConvGrad::Libtorch),
            Ok("burn") => Ok(ConvGrad::Burn),
            Ok(other) => Err(Error::Backend(format!(
                "{CONV_GRAD_VAR}=`{other}`: allowed values are libtorch (default) and burn"
            ))),
        }
    }

    /// The process's choice, read once (`from_env` has rejected a bad value where the command
    /// line starts).
    pub fn current() -> ConvGrad {
        static CHOICE: std::sync::OnceLock<ConvGrad> = std::sync::OnceLock::new();
        *CHOICE.get_or_init(|| ConvGrad::from_env().unwrap_or(ConvGrad::Libtorch))
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

/// Whether reading values from `device` stalls an accelerator: false on the CPU backends,
/// where a read is only a copy in the same memory, true on every other device (CUDA).
pub fn reads_stall(device: &Device) -> bool {
    let device = device.clone().inner();
    if device == Device::flex() {
        return false;
    }
    #[cfg(feature = "tch")]
    #[allow(deprecated)]
    if device == Device::libtorch() {
        return false;
    }
    true
}
