//! The ground floor: helpers every layer may use and that use nothing of the crate but
//! [`crate::error`]: deterministic random streams, atomic file writes, hashing, globbing and
//! the compute backend, JSON for floats that may not be finite, least-squares lines, the
//! progress display.

pub mod alloc;
pub mod backend;
pub mod code;
pub mod files;
pub mod fit;
pub mod float;
pub mod glob;
pub mod hash;
pub mod host;
pub mod progress;
pub mod rng;

pub use backend::Backend;
pub use files::write_atomic;
pub use glob::glob_match;
pub use hash::sha256_hex;
