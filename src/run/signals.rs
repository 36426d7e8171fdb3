//! SIGINT and SIGTERM (Ctrl-C; Slurm before a time limit or a preemption): the first asks the
//! training loop to checkpoint at the next batch boundary and stop; a second one stops at once.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once per process).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                eprintln!("second signal: stopping now (the last checkpoint is kept)");
                std::process::exit(130);
            }
            eprintln!(
                "signal received: checkpointing at the next batch boundary, then stopping \
                 (send it again to stop at once)"
            );
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
