//! SIGINT and SIGTERM (Ctrl-C; Slurm before a time limit or a preemption): the first asks the
//! training loop to checkpoint at the next batch boundary and stop; a second one, sent a moment
//! later, stops at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

/// A repeat closer than this to the first signal is the same request delivered twice: Slurm,
/// `scancel` and `pkill` signal every process of a job, and a parallel runner forwards the
/// signal to its workers as well (for a SIGTERM sent to it alone), so each worker gets two
/// within milliseconds. Taking that for "stop at once" would throw away the checkpoint the
/// first one asked for.
const SAME_REQUEST: Duration = Duration::from_secs(1);

/// Installs the handler (once per process).
pub fn install() {
    static ONCE: Once = Once::new();
    static FIRST: Mutex<Option<Instant>> = Mutex::new(None);
    ONCE.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let now = Instant::now();
            let mut first = FIRST.lock().unwrap_or_else(|e| e.into_inner());
            let Some(first_at) = *first else {
                *first = Some(now);
                STOP.store(true, Ordering::SeqCst);
                eprintln!(
                    "signal received: checkpointing at the next batch boundary, then stopping \
                     (send it again a second later to stop at once)"
                );
                return;
            };
            if now.duration_since(first_at) < SAME_REQUEST {
                return;
            }
            eprintln!("second signal: stopping now (the last checkpoint is kept)");
            // `_exit`, not `std::process::exit`: exit's handlers run libtorch's static
            // destructors while the training thread is still inside a kernel, which panics or
            // segfaults instead of stopping with 130.
            // SAFETY: `_exit` ends the process without touching any state of this one.
            unsafe { libc::_exit(130) }
        });
        if let Err(e) = installed {
            tracing::warn!("cannot catch SIGINT/SIGTERM ({e}); a kill loses the current epoch");
        }
    });
}

/// Whether a stop was requested.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
