//! The overall progress of a `reproduce`: stages done, running, pending and failed of the
//! total, and the time left, estimated from this run's own pace (training FLOPs of the stages
//! it finished per second) over the FLOPs still to train: on a terminal a line kept above the
//! epoch bars, updated as stages start and end; without one, logged once per finished stage.

use super::graph::{self, Node};
use crate::base::progress;
use crate::perf::estimate;
use crate::spec::Plan;
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Done before this run started.
    Cached,
    Pending,
    Running,
    /// Finished by this run.
    Finished,
    Failed,
}

/// The progress of one `reproduce` over its stage graph.
pub struct Progress {
    stages: BTreeMap<String, (State, f64)>,
    started: Instant,
    /// Training FLOPs of the stages this run finished.
    flops_finished: f64,
    /// The line above the epoch bars, on a terminal.
    shown: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// The progress over `plan`'s stage graph, paced by each stage's training FLOPs.
    pub fn of_plan(plan: &Plan) -> Progress {
        let nodes = graph::graph(plan, &plan.spec.raw.runtime.runs_root);
        let flops: Vec<f64> = nodes
            .iter()
            .map(|n| {
                let run = &plan.runs[n.run];
                estimate::stage_flops(run, &run.stages[n.index])
            })
            .collect();
        Progress::new(&nodes, &flops)
    }

    /// The progress over `nodes`, `flops[i]` the training FLOPs of `nodes[i]`.
    pub fn new(nodes: &[Node], flops: &[f64]) -> Progress {
        let stages = nodes
            .iter()
            .zip(flops)
            .map(|(node, &flops)| {
                let state = if node.done {
                    State::Cached
                } else {
                    State::Pending
                };
                (node.folder.clone(), (state, flops))
            })
            .collect();
        Progress {
            stages,
            started: Instant::now(),
            flops_finished: 0.0,
            shown: progress::overall_line(),
        }
    }

    /// Stage `folder` started (unless it was done before).
    pub fn start(&mut self, folder: &str) {
        if self
            .stages
            .get(folder)
            .is_some_and(|(s, _)| *s == State::Pending)
        {
            self.set(folder, State::Running);
            self.show();
        }
    }

    /// Stage `folder` ended, done or failed (a stage done before, met again, changes nothing).
    pub fn end(&mut self, folder: &str, ok: bool) {
        let Some((state, flops)) = self.stages.get(folder).copied() else {
            return;
        };
        if matches!(state, State::Cached | State::Finished | State::Failed) {
            return;
        }
        if ok {
            self.flops_finished += flops;
        }
        self.set(folder, if ok { State::Finished } else { State::Failed });
        match &self.shown {
            Some(_) => self.show(),
            None => eprintln!("{}", self.line()),
        }
    }

    /// Refreshes the line on the terminal.
    fn show(&self) {
        if let Some(shown) = &self.shown {
            shown.set_message(self.line());
        }
    }

    fn set(&mut self, folder: &str, to: State) {
        if let Some((state, _)) = self.stages.get_mut(folder) {
            *state = to;
        }
    }

    /// "stages: 37 done (12 cached), 2 running, 58 pending, 2 failed of 99; 45 min so far,
    /// about 40 min left".
    pub fn line(&self) -> String {
        let count = |wanted: &[State]| {
            self.stages
                .values()
                .filter(|(s, _)| wanted.contains(s))
                .count()
        };
        let left: f64 = self
            .stages
            .values()
            .filter(|(s, _)| matches!(s, State::Pending | State::Running))
            .map(|(_, f)| f)
            .sum();
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = if left == 0.0 {
            String::new()
        } else if self.flops_finished > 0.0 && elapsed > 0.0 {
            format!(
                ", about {} left",
                duration(left / (self.flops_finished / elapsed))
            )
        } else {
            ", time left known after the first stage (`slr plan --calibrate` estimates it)"
                .to_owned()
        };
        format!(
            "stages: {} done ({} cached), {} running, {} pending, {} failed of {}; {} so far{eta}",
            count(&[State::Cached, State::Finished]),
            count(&[State::Cached]),
            count(&[State::Running]),
            count(&[State::Pending]),
            count(&[State::Failed]),
            self.stages.len(),
            duration(elapsed),
        )
    }
}

/// `42 s`, `17 min`, `3 h 05 min`.
/// A duration as people say it: "42 s", "17 min", "3 h 05 min", "2.5 days" (from 48 h).
pub(super) fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", (s + 30) / 60),
        3600..172_800 => {
            let minutes = (s + 30) / 60;
            format!("{} h {:02} min", minutes / 60, minutes % 60)
        }
        _ => format!("{:.1} days", seconds / 86_400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(42.4), "42 s");
        assert_eq!(duration(1019.0), "17 min");
        assert_eq!(duration(11_100.0), "3 h 05 min");
        assert_eq!(duration(216_000.0), "2.5 days");
    }
}
