//! What a run shows while it works, in one place: on a terminal, the overall line of a
//! `reproduce` sits above the epoch bars and every finished epoch or stage leaves one line
//! above both; without a terminal (a log file, CI, a worker process) the same lines are
//! printed to stderr, one per event, and no bar is drawn.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::sync::OnceLock;

/// The display every bar of this process belongs to (stderr).
fn display() -> &'static MultiProgress {
    static DISPLAY: OnceLock<MultiProgress> = OnceLock::new();
    DISPLAY.get_or_init(MultiProgress::new)
}

/// Whether bars are drawn (stderr is a terminal).
pub fn on_terminal() -> bool {
    !display().is_hidden()
}

/// A bar over an epoch's `len` steps, below the overall line.
pub fn epoch_bar(len: usize, prefix: String) -> ProgressBar {
    let bar = display().add(ProgressBar::new(len as u64));
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} (ETA {eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}

/// The overall line, kept on top of the epoch bars; `None` without a terminal.
pub fn overall_line() -> Option<ProgressBar> {
    if !on_terminal() {
        return None;
    }
    let line = display().insert(0, ProgressBar::new_spinner());
    line.set_style(ProgressStyle::with_template("{msg}").expect("static template"));
    Some(line)
}

/// Prints `text` as a line of its own: above the bars on a terminal, to stderr otherwise.
pub fn log(text: &str) {
    if on_terminal() {
        let _ = display().println(text);
    } else {
        eprintln!("{text}");
    }
}
