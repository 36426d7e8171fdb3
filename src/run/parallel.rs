//! Up to N stages at once, each in its own worker process, in the order of the stage graph: a
//! stage starts when the stage it consumes is done, so a dense model that several rows share
//! is trained once, before its dependants. A failed stage fails only its dependants. Worker
//! output is relayed line by line, prefixed with the worker's slot.

use super::graph::Node;
use super::progress::Progress;
use super::signals;
use crate::base::progress;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What the workers did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    /// Stages trained now.
    pub trained: usize,
    /// Stages already done.
    pub cached: usize,
    /// Failed stages and those that depended on them, with the reason.
    pub failed: Vec<(String, String)>,
}

/// State of one node while scheduling.
#[derive(Debug, Clone, PartialEq)]
enum State {
    Waiting,
    Running,
    Done,
    Failed(String),
}

/// Runs every node that is not done, up to `jobs` at once; `command(node, slot)` is the worker
/// of a node on slot `slot` (0-based, fixed while it runs). Exit code 1 of a worker fails the
/// stage; 2 (bad input) or 130 (interrupted) stops everything and is returned as an error.
pub fn run(
    nodes: &[Node],
    jobs: usize,
    command: &dyn Fn(&Node, usize) -> Command,
    progress: &mut Progress,
) -> Result<Outcome> {
    let mut state: Vec<State> = nodes
        .iter()
        .map(|n| if n.done { State::Done } else { State::Waiting })
        .collect();
    let index_of: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.folder.as_str(), i))
        .collect();
    let mut outcome = Outcome {
        cached: nodes.iter().filter(|n| n.done).count(),
        ..Outcome::default()
    };
    let mut slots: Vec<Option<(usize, Child, std::thread::JoinHandle<()>)>> =
        (0..jobs).map(|_| None).collect();
    let mut stop: Option<Error> = None;
    let mut forwarded = false;
    loop {
        // A node whose dependency failed fails too, without running.
        for i in 0..nodes.len() {
            if state[i] != State::Waiting {
                continue;
            }
            if let Some(dep) = nodes[i].depends_on.as_deref().map(|d| index_of[d])
                && let State::Failed(_) = &state[dep]
            {
                let why = format!("depends on {}, which failed", nodes[dep].folder);
                outcome.failed.push((nodes[i].folder.clone(), why.clone()));
                state[i] = State::Failed(why);
                progress.end(&nodes[i].folder, false);
            }
        }
        // Fill free slots with ready nodes (their dependency done), in graph order.
        if stop.is_none() && !signals::stop_requested() {
            for (slot, entry) in slots.iter_mut().enumerate() {
                if entry.is_some() {
                    continue;
                }
                let ready = (0..nodes.len()).find(|&i| {
                    state[i] == State::Waiting
                        && nodes[i]
                            .depends_on
                            .as_deref()
                            .is_none_or(|d| state[index_of[d]] == State::Done)
                });
                let Some(i) = ready else { break };
                let mut child = command(&nodes[i], slot)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| Error::RunFailed(format!("cannot start a worker: {e}")))?;
                let stderr = child.stderr.take().expect("piped");
                let relay = std::thread::spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                        progress::log(&format!("[{}] {line}", slot + 1));
                    }
                });
                state[i] = State::Running;
                progress.start(&nodes[i].folder);
                *entry = Some((i, child, relay));
            }
        }
        if slots.iter().all(Option::is_none) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if signals::stop_requested() && !forwarded {
            // A SIGTERM sent to this process alone (Ctrl-C reaches the workers by itself).
            forwarded = true;
            for (_, child, _) in slots.iter().flatten() {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
            }
        }
        for slot in slots.iter_mut() {
            let status = match slot {
                Some((_, child, _)) => child
                    .try_wait()
                    .map_err(|e| Error::RunFailed(format!("waiting for a worker: {e}")))?,
                None => None,
            };
            let Some(status) = status else { continue };
            let (i, _, relay) = slot.take().expect("occupied");
            let _ = relay.join();
            match status.code() {
                Some(0) => {
                    state[i] = State::Done;
                    outcome.trained += 1;
                    progress.end(&nodes[i].folder, true);
                }
                Some(1) => {
                    let why = "the stage failed (see its worker's output)".to_owned();
                    outcome.failed.push((nodes[i].folder.clone(), why.clone()));
                    state[i] = State::Failed(why);
                    progress.end(&nodes[i].folder, false);
                }
                code => {
                    // Bad input or an interruption: every other stage would meet it too.
                    state[i] = State::Failed(format!("exit {code:?}"));
                    if stop.is_none() {
                        stop = Some(match code {
                            Some(130) => Error::Stopped(format!(
                                "the worker of {} was interrupted",
                                nodes[i].folder
                            )),
                            _ => Error::RunFailed(format!(
                                "the worker of {} exited with {status}; stopping",
                                nodes[i].folder
                            )),
                        });
                    }
                }
            }
        }
    }
    match stop {
        Some(error) => Err(error),
        None if signals::stop_requested() => {
            Err(Error::Stopped("a signal stopped the scheduler".into()))
        }
        None => Ok(outcome),
    }
}
