//! The C allocator's settings for training: freed memory is kept for reuse instead of being
//! handed back to the kernel.
//!
//! glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh `mmap`
//! and unmaps it on free, so each large tensor of a training step, allocated and freed every
//! step, costs page faults and the kernel zeroing its pages again: 28% of a YOLOv3-tiny tch-cpu
//! step went to the kernel (`just profile-step yolov3-tiny tch-cpu 8 3`, reports/perf-cpu.md).
//! With mmap off and a trim threshold of 2 GiB, freed blocks stay in the heap and the next
//! step reuses them. The process's peak memory is unchanged (the same tensors are alive at the
//! peak); the resident size no longer shrinks between steps. libtorch's CPU allocations go
//! through the same malloc, so both backends benefit. Results are not affected: addresses
//! decide no value.

/// The environment variable that keeps glibc's defaults when set to `0`.
pub const KEEP_FREED_VAR: &str = "SLR_KEEP_FREED_MEMORY";

/// Applies the settings (once, at start-up, before the first large allocation), unless
/// [`KEEP_FREED_VAR`] is `0`. Returns whether they were applied.
pub fn keep_freed_memory() -> bool {
    if std::env::var(KEEP_FREED_VAR).as_deref() == Ok("0") {
        return false;
    }
    apply()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes glibc's tuning parameters; it is called before any other
    // thread of this process allocates.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    /// glibc accepts both settings (mallopt returns 1 for each).
    #[test]
    fn glibc_takes_the_settings() {
        assert!(super::apply());
    }
}
