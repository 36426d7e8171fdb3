//! Stage locks: an advisory lock (`flock`) on `<folder>.lock` beside a stage folder, so two
//! `slr` processes never train one stage at once. The kernel releases it when its process
//! ends, however it ends, so a dead holder never blocks and a reused pid means nothing. The
//! file names its holder (pid, host) for messages and `slr status`.
//!
//! On a shared file system whose `flock` is local to each node, two hosts could both get it:
//! the holder therefore refreshes the file's mtime every [`HEARTBEAT_EVERY`] (a heartbeat), and
//! a lock file naming another host with a heartbeat younger than [`HEARTBEAT_TIMEOUT`] counts as
//! held. An older one is taken over with a warning naming its holder. Hosts' clocks may
//! disagree: a heartbeat up to [`MAX_CLOCK_SKEW`] in the future counts as fresh; one further
//! ahead comes from a clock this far off, and is taken over with a warning saying so.

use crate::error::{Error, Result};
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::time::{Duration, SystemTime};

/// How often a holder refreshes its lock file's mtime.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
/// A lock file of another host without a heartbeat for this long is stale.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(600);
/// How far another host's clock may run ahead of ours: a heartbeat up to this far in the future
/// counts as fresh.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(600);

/// The process named in a lock file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holder {
    /// Process id (0 when the file names none).
    pub pid: u32,
    /// Host name, when recorded.
    pub host: Option<String>,
}

impl Holder {
    /// This process.
    fn current() -> Holder {
        Holder {
            pid: std::process::id(),
            host: host_name(),
        }
    }

    /// Parses a lock file: `pid N` and `host H` lines, or a bare pid (older locks; their
    /// `start T` lines are ignored).
    fn parse(text: &str) -> Option<Holder> {
        let text = text.trim();
        if let Ok(pid) = text.parse() {
            return Some(Holder { pid, host: None });
        }
        let mut holder = Holder::default();
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("pid", v)) => holder.pid = v.parse().ok()?,
                Some(("host", v)) => holder.host = Some(v.to_owned()),
                _ => {}
            }
        }
        (holder.pid != 0).then_some(holder)
    }

    fn text(&self) -> String {
        let mut text = format!("pid {}\n", self.pid);
        if let Some(host) = &self.host {
            text.push_str(&format!("host {host}\n"));
        }
        text
    }

    /// "process 123 on host-a".
    pub fn describe(&self) -> String {
        match &self.host {
            Some(host) => format!("process {} on {host}", self.pid),
            None => format!("process {}", self.pid),
        }
    }
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// The lock file of a stage folder.
pub(super) fn lock_path(dir: &Path) -> PathBuf {
    dir.with_extension("lock")
}

/// The process holding `dir`'s lock now, if any (as its lock file names it).
pub fn holder(dir: &Path) -> Option<Holder> {
    let path = lock_path(dir);
    let mut file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        // Nobody on this host holds it; a process on another host may, with a fresh heartbeat.
        Ok(()) => {
            let mut text = String::new();
            file.read_to_string(&mut text).ok()?;
            let holder = Holder::parse(&text)?;
            let remote = holder
                .host
                .as_ref()
                .is_some_and(|h| Some(h) != host_name().as_ref());
            (remote && heartbeat_fresh(&file).is_ok()).then_some(holder)
        }
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            file.read_to_string(&mut text).ok()?;
            Some(Holder::parse(&text).unwrap_or_default())
        }
        Err(TryLockError::Error(_)) => None,
    }
}

/// An exclusive claim on one stage folder; released (and its file removed) on drop.
#[derive(Debug)]
pub struct StageLock {
    path: PathBuf,
    // Held open: closing it releases the lock.
    _file: File,
    // Dropping it stops the heartbeat thread.
    _heartbeat: Sender<()>,
}

/// What one attempt to take a lock found.
enum Attempt {
    Taken(StageLock),
    HeldBy(Holder),
}

impl StageLock {
    /// Claims `dir`, or fails naming the process that holds it.
    pub fn acquire(dir: &Path) -> Result<StageLock> {
        match StageLock::attempt(dir)? {
            Attempt::Taken(lock) => Ok(lock),
            Attempt::HeldBy(holder) => Err(Error::RunFailed(format!(
                "{} is being run by {} (lock {}); wait for it to finish",
                dir.display(),
                holder.describe(),
                lock_path(dir).display()
            ))),
        }
    }

    /// Claims `dir`, waiting while another process holds it; `on_wait` is told once whom it
    /// waits for. Returns [`Error::Stopped`] as soon as `stop` says so (a signal arrived).
    pub fn wait(
        dir: &Path,
        on_wait: impl FnOnce(&Holder),
        stop: impl Fn() -> bool,
    ) -> Result<StageLock> {
        let mut on_wait = Some(on_wait);
        loop {
            match StageLock::attempt(dir)? {
                Attempt::Taken(lock) => return Ok(lock),
                Attempt::HeldBy(holder) => {
                    if let Some(tell) = on_wait.take() {
                        tell(&holder);
                    }
                    if stop() {
                        return Err(Error::Stopped(format!(
                            "a signal ended the wait for {} (held by {})",
                            dir.display(),
                            holder.describe()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    fn attempt(dir: &Path) -> Result<Attempt> {
        let path = lock_path(dir);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        loop {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(Error::io(&path))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    let holder = Holder::parse(&text).unwrap_or_default();
                    return Ok(Attempt::HeldBy(holder));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&path)(e)),
            }
            // The previous holder removes the file as it lets go: a lock on a file no longer at
            // `path` guards nothing, so start over with the current file.
            let same = std::fs::metadata(&path).is_ok_and(|now| {
                file.metadata()
                    .is_ok_and(|ours| ours.ino() == now.ino() && ours.dev() == now.dev())
            });
            if !same {
                continue;
            }
            // A holder on another host that this node's flock cannot see.
            let mut previous = String::new();
            let _ = file.read_to_string(&mut previous);
            if let Some(other) = Holder::parse(&previous)
                && let (Some(theirs), Some(ours)) = (&other.host, host_name())
                && *theirs != ours
            {
                let Err(why) = heartbeat_fresh(&file) else {
                    return Ok(Attempt::HeldBy(other));
                };
                eprintln!(
                    "warning: taking over the lock {} of {}: {why}",
                    path.display(),
                    other.describe()
                );
            }
            file.set_len(0).map_err(Error::io(&path))?;
            file.rewind().map_err(Error::io(&path))?;
            file.write_all(Holder::current().text().as_bytes())
                .map_err(Error::io(&path))?;
            let heartbeat = heartbeat(&file);
            return Ok(Attempt::Taken(StageLock {
                path,
                _file: file,
                _heartbeat: heartbeat,
            }));
        }
    }
}

/// `Ok` when the lock file's heartbeat (its mtime) is fresh: younger than [`HEARTBEAT_TIMEOUT`],
/// or up to [`MAX_CLOCK_SKEW`] in the future; else why it is not.
fn heartbeat_fresh(file: &File) -> std::result::Result<(), String> {
    let beat = file
        .metadata()
        .and_then(|m| m.modified())
        .map_err(|e| format!("its heartbeat cannot be read ({e})"))?;
    match SystemTime::now().duration_since(beat) {
        Ok(age) if age < HEARTBEAT_TIMEOUT => Ok(()),
        Ok(age) => Err(format!("no heartbeat for {} s", age.as_secs())),
        Err(ahead) if ahead.duration() <= MAX_CLOCK_SKEW => Ok(()),
        Err(ahead) => Err(format!(
            "its heartbeat lies {} s in the future, beyond the {} s of clock skew tolerated \
             between hosts",
            ahead.duration().as_secs(),
            MAX_CLOCK_SKEW.as_secs()
        )),
    }
}

/// Refreshes `file`'s mtime every [`HEARTBEAT_EVERY`] until the returned sender is dropped.
fn heartbeat(file: &File) -> Sender<()> {
    let (stop, stopped) = channel::<()>();
    if let Ok(file) = file.try_clone() {
        std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(HEARTBEAT_EVERY)
            {
                let _ = file.set_modified(SystemTime::now());
            }
        });
    }
    stop
}

impl Drop for StageLock {
    fn drop(&mut self) {
        // Removed while still locked, so a process that opens the path afterwards gets a new
        // file (and checks it is the one at the path).
        let _ = std::fs::remove_file(&self.path);
    }
}
