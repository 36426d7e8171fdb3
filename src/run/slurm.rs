//! Slurm submissions of a plan. Each `slr slurm` call writes a submission of its own,
//! `<runs>/slurm/<spec>/sub-<n>/`, that no later call touches: one job array per level and stage
//! kind of the stage graph (a task per pending stage, its stage list written into the script),
//! each level after the one before however it ended (a task whose input is not done refuses
//! with exit 4, so one failed stage fails only its dependants), and a report job that always
//! runs. Tasks are requeueable and get a warning signal before their time limit: they
//! checkpoint and requeue themselves, so a stage longer than the partition's limit finishes
//! without a resubmission. Stages that an earlier submission still has queued or running are
//! not submitted again; the arrays that need them wait for those jobs.

use super::graph::Node;
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Exit code of a task that cannot see the runs folder (the job script's own check).
pub const EXIT_NOT_SHARED: i32 = 3;

/// `#SBATCH` options of the jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--gres` of stage tasks, e.g. `gpu:1` (the report job gets none).
    pub gres: Option<String>,
    /// `--time` of stage tasks: a default and limits per stage kind (`train` ->
    /// `48:00:00`).
    pub time: TimeLimits,
    /// `--cpus-per-task` of stage tasks.
    pub cpus: Option<usize>,
    /// `--mem` of stage tasks, e.g. `32G`.
    pub mem: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--mail-type`, e.g. `END,FAIL`.
    pub mail_type: Option<String>,
    /// `--mail-user`.
    pub mail_user: Option<String>,
    /// At most this many tasks of an array at once (`--array=...%N`).
    pub max_parallel: Option<usize>,
    /// `--time` of the report job.
    pub report_time: String,
    /// `--cpus-per-task` of the report job.
    pub report_cpus: usize,
    /// Seconds before a task's time limit at which Slurm warns it (`--signal=B:USR1@N`) to
    /// checkpoint and requeue itself; 0: no warning (a task reaching its limit stops with its
    /// checkpoint, and the next submission continues it).
    pub warn_seconds: u32,
    /// Extra lines, each `#SBATCH ...`, for every job.
    pub extra: Vec<String>,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        SlurmOptions {
            partition: None,
            gres: None,
            time: TimeLimits::default(),
            cpus: None,
            mem: None,
            account: None,
            mail_type: None,
            mail_user: None,
            max_parallel: None,
            report_time: "01:00:00".into(),
            report_cpus: 1,
            warn_seconds: 300,
            extra: Vec::new(),
        }
    }
}

/// Time limits of stage tasks: `--time LIMIT` for every kind, `--time KIND=LIMIT` for one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeLimits {
    /// The limit of kinds without their own.
    pub default: Option<String>,
    /// Limits by stage kind name.
    pub by_kind: BTreeMap<String, String>,
}

impl TimeLimits {
    /// Parses `--time` values (`24:00:00`, `train=48:00:00`); a kind must be a stage kind.
    pub fn parse(values: &[String]) -> Result<TimeLimits> {
        let mut limits = TimeLimits::default();
        for value in values {
            let (kind, limit) = match value.split_once('=') {
                Some((kind, limit)) => (Some(kind), limit),
                None => (None, value.as_str()),
            };
            let plausible = !limit.is_empty()
                && limit
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ':' || c == '-');
            if !plausible {
                return Err(Error::Usage(format!(
                    "--time `{value}`: a limit is Slurm's [D-]HH:MM:SS (or minutes), optionally \
                     after a stage kind, e.g. `train=48:00:00`"
                )));
            }
            match kind {
                None => limits.default = Some(limit.to_owned()),
                Some(kind) if KINDS.contains(&kind) => {
                    limits.by_kind.insert(kind.to_owned(), limit.to_owned());
                }
                Some(kind) => {
                    return Err(Error::Usage(format!(
                        "--time `{value}`: no stage kind `{kind}` (one of {})",
                        KINDS.join(", ")
                    )));
                }
            }
        }
        Ok(limits)
    }

    fn of(&self, kind: &str) -> Option<&String> {
        self.by_kind.get(kind).or(self.default.as_ref())
    }
}

const KINDS: [&str; 5] = ["pretrain", "import", "train", "prune", "retrain"];

/// `#SBATCH` options `slr slurm` sets itself, with the option that sets each.
const OWN_OPTIONS: [(&str, &str); 8] = [
    ("--array", "--max-parallel"),
    ("--job-name", "the spec, level and kind"),
    ("--output", "the submission's logs/ folder"),
    ("--error", "the submission's logs/ folder"),
    ("--dependency", "the stage graph"),
    ("--signal", "--warn-seconds"),
    ("--requeue", "every task"),
    ("--time", "--time and --report-time"),
];

/// A stage that an earlier submission still has queued or running, and the job holding it.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    /// Stage folder.
    pub folder: String,
    /// Slurm job id of the array holding it.
    pub job: String,
}

/// The files of one submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// Its folder, `<runs>/slurm/<spec>/sub-<n>`.
    pub dir: PathBuf,
    /// `(file name, contents)`, `submit.sh` last.
    pub files: Vec<(String, String)>,
    /// Pending stages it runs.
    pub stages: usize,
    /// Pending stages left to earlier submissions that hold them.
    pub left_to_others: usize,
}

/// The probe file `write` leaves in a submission: a job that cannot see it runs on a node that
/// does not share the runs folder.
pub const PROBE: &str = "shared-folder.probe";

/// The submission's index -> stage map (`script`, `index`, `stage`, `rows` per line).
pub const STAGE_MAP: &str = "stages.tsv";

/// Job ids `submit.sh` records (`script`, `job id` per line).
pub const JOB_IDS: &str = "jobs.tsv";

/// The scripts of a submission for the pending `nodes` that no job of `in_flight` holds. Each
/// job `cd`s to `workdir` and runs `exe` with a subcommand and `args` (the spec and its
/// options, shell-quoted): `run-stage <args> --stage <folder>` for a stage, `report <args>`
/// last; `name` (the report stem) names the jobs; `dir` is the submission's folder.
#[allow(clippy::too_many_arguments)]
pub fn scripts(
    nodes: &[Node],
    in_flight: &[InFlight],
    exe: &str,
    args: &str,
    workdir: &Path,
    name: &str,
    dir: &Path,
    options: &SlurmOptions,
) -> Result<Submission> {
    check_options(options)?;
    let held: BTreeMap<&str, &str> = in_flight
        .iter()
        .map(|f| (f.folder.as_str(), f.job.as_str()))
        .collect();
    // Arrays by (level, kind), in level order.
    let mut arrays: BTreeMap<(usize, &str), Vec<&Node>> = BTreeMap::new();
    // Jobs of other submissions that the arrays above a level must wait for.
    let mut waits: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
    let mut left_to_others = 0;
    for node in nodes.iter().filter(|n| !n.done) {
        if let Some(job) = held.get(node.folder.as_str()) {
            left_to_others += 1;
            waits.entry(node.level).or_default().insert(job);
        } else {
            arrays
                .entry((node.level, node.kind.name()))
                .or_default()
                .push(node);
        }
    }
    let mut files = Vec::new();
    let mut map = String::from("script\tindex\tstage\trows\n");
    let mut submit = submit_head(name, dir);
    let mut submitted: Vec<(usize, String)> = Vec::new();
    let external = |below: usize| -> Vec<String> {
        waits
            .range(..below)
            .flat_map(|(_, jobs)| jobs.iter().map(|j| (*j).to_owned()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    for ((level, kind), stages) in &arrays {
        let script = format!("L{level}-{kind}.sbatch");
        let variable = format!("L{level}_{kind}");
        let mut job = header(&format!("{name}-L{level}-{kind}"), options);
        for (key, value) in [
            ("gres", options.gres.clone()),
            ("time", options.time.of(kind).cloned()),
            ("cpus-per-task", options.cpus.map(|c| c.to_string())),
            ("mem", options.mem.clone()),
        ] {
            if let Some(value) = value {
                let _ = writeln!(job, "#SBATCH --{key}={value}");
            }
        }
        let _ = writeln!(job, "#SBATCH --requeue");
        if options.warn_seconds > 0 {
            let _ = writeln!(job, "#SBATCH --signal=B:USR1@{}", options.warn_seconds);
        }
        let throttle = options
            .max_parallel
            .map(|n| format!("%{n}"))
            .unwrap_or_default();
        let _ = writeln!(job, "#SBATCH --array=0-{}{throttle}", stages.len() - 1);
        let _ = writeln!(
            job,
            "# Level {level}, {kind} stages of `{name}`, submission {}.\n{EXIT_CODES}",
            submission_name(dir)
        );
        job.push_str("set -u\nstages=(\n");
        for node in stages {
            let _ = writeln!(job, "  {}", quote(&node.folder));
        }
        job.push_str(")\nnames=(\n");
        for (index, node) in stages.iter().enumerate() {
            let rows = match node.rows.as_slice() {
                [one] => one.clone(),
                [first, rest @ ..] => format!("{first}+{}", rest.len()),
                [] => String::new(),
            };
            let _ = writeln!(
                job,
                "  {}",
                quote(&format!("{name}-{kind}-{rows}-s{}", node.seed))
            );
            let _ = writeln!(
                map,
                "{script}\t{index}\t{}\t{}",
                node.folder,
                node.rows.join(",")
            );
        }
        job.push_str(")\ni=$SLURM_ARRAY_TASK_ID\ntask=\"${SLURM_ARRAY_JOB_ID}_${i}\"\n");
        job.push_str("stage=${stages[$i]}\nname=${names[$i]}\n");
        job.push_str(&prologue(dir, workdir));
        let _ = writeln!(
            job,
            "echo \"slr: $stage on $(hostname), attempt ${{SLURM_RESTART_COUNT:-0}}, $(date -u +%FT%TZ)\""
        );
        job.push_str(&run_and_requeue(&format!(
            "{exe} run-stage {args} --stage \"$stage\""
        )));
        // Every earlier level of this submission, however it ended, and the other submissions'
        // jobs holding stages below this level.
        let mut after: Vec<String> = submitted
            .iter()
            .filter(|(l, _)| *l < *level)
            .map(|(_, v)| format!("\"${v}\""))
            .collect();
        after.extend(external(*level));
        let _ = writeln!(
            submit,
            "{variable}=$(submit {script}{})",
            after.iter().map(|a| format!(" {a}")).collect::<String>()
        );
        files.push((script, job));
        submitted.push((*level, variable));
    }
    let mut report = header(&format!("{name}-report"), options);
    let _ = writeln!(report, "#SBATCH --time={}", options.report_time);
    let _ = writeln!(report, "#SBATCH --cpus-per-task={}", options.report_cpus);
    let _ = writeln!(
        report,
        "# The report of `{name}` from whatever finished, submission {}.\n# Exit codes: 0 written, \
         2 bad input, 3 runs folder not visible on the node.",
        submission_name(dir)
    );
    report.push_str("set -u\ntask=$SLURM_JOB_ID\nname=");
    report.push_str(&quote(&format!("{name}-report")));
    report.push('\n');
    report.push_str(&prologue(dir, workdir));
    let _ = writeln!(report, "exec {exe} report {args}");
    let mut after: Vec<String> = submitted.iter().map(|(_, v)| format!("\"${v}\"")).collect();
    after.extend(external(usize::MAX));
    let _ = writeln!(
        submit,
        "report=$(submit report.sbatch{})",
        after.iter().map(|a| format!(" {a}")).collect::<String>()
    );
    files.push(("report.sbatch".into(), report));
    files.push((STAGE_MAP.into(), map));
    files.push(("submit.sh".into(), submit));
    Ok(Submission {
        dir: dir.to_owned(),
        files,
        stages: arrays.values().map(Vec::len).sum(),
        left_to_others,
    })
}

/// Refuses an `--extra` line that is not `#SBATCH ...` or sets what `slr slurm` sets.
pub fn check_options(options: &SlurmOptions) -> Result<()> {
    for line in &options.extra {
        let Some(option) = line.strip_prefix("#SBATCH ") else {
            return Err(Error::Usage(format!(
                "--extra `{line}`: each extra line must start with `#SBATCH `"
            )));
        };
        let key = option.trim().split(['=', ' ']).next().unwrap_or_default();
        if let Some((own, by)) = OWN_OPTIONS
            .iter()
            .find(|(own, _)| *own == key || (*own == "--requeue" && key == "--no-requeue"))
        {
            return Err(Error::Usage(format!(
                "--extra `{line}`: slr slurm sets {own} itself (from {by})"
            )));
        }
    }
    Ok(())
}

const EXIT_CODES: &str = "# Exit codes: 0 stage done (also when it was done already), 1 run failed, 2 bad input, \
3 runs folder not visible on the node, 4 input stage not done, 130 stopped with a checkpoint \
(requeued when warned before the time limit).";

/// The last path component of a submission folder.
fn submission_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `#!/bin/bash` and the `#SBATCH` lines every job shares. Slurm's own log goes to `/tmp` (it
/// holds only what precedes the shared-folder check: a node without the runs folder could not
/// open a log there and would fail the job before the check); the script's output goes to a
/// log per attempt in the submission's `logs/` once the folder is known to be visible.
fn header(job: &str, options: &SlurmOptions) -> String {
    let mut text = String::from("#!/usr/bin/env bash\n");
    let _ = writeln!(text, "#SBATCH --job-name={job}");
    let _ = writeln!(text, "#SBATCH --output=/tmp/slr-%x-%j.log");
    for (key, value) in [
        ("partition", &options.partition),
        ("account", &options.account),
        ("mail-type", &options.mail_type),
        ("mail-user", &options.mail_user),
    ] {
        if let Some(value) = value {
            let _ = writeln!(text, "#SBATCH --{key}={value}");
        }
    }
    for line in &options.extra {
        let _ = writeln!(text, "{line}");
    }
    text
}

/// What every job does first: check that it sees the submission (exit 3 with the reason, also
/// as the job's comment, when not), name itself after its stage, send its output to
/// `logs/<name>-<task>.attempt-<n>.log`, go to the folder the spec's paths are relative to.
fn prologue(dir: &Path, workdir: &Path) -> String {
    format!(
        r#"sub={sub}
if [ ! -f "$sub/{PROBE}" ]; then
  why="$sub is not visible on $(hostname): the runs folder must be shared with the compute nodes"
  echo "slr: $why (exit {EXIT_NOT_SHARED})" >&2
  scontrol update JobId="$task" Comment="slr: $why" >/dev/null 2>&1 || true
  exit {EXIT_NOT_SHARED}
fi
scontrol update JobId="$task" JobName="$name" >/dev/null 2>&1 || true
mkdir -p "$sub/logs"
exec >>"$sub/logs/$name-$task.attempt-${{SLURM_RESTART_COUNT:-0}}.log" 2>&1
cd {workdir} || exit 2
"#,
        sub = quote(&dir.display().to_string()),
        workdir = quote(&workdir.display().to_string()),
    )
}

/// Runs `command` in the background and waits for it however many signals arrive: Slurm's
/// warning (USR1) and its SIGTERM (time limit, preemption, scancel) are passed on as SIGTERM,
/// on which slr checkpoints and exits 130. A task stopped that way after the warning requeues
/// itself and continues from the checkpoint when it starts again.
fn run_and_requeue(command: &str) -> String {
    format!(
        r#"warned=0
trap 'trapped=1; warned=1; kill -TERM "$pid" 2>/dev/null' USR1
trap 'trapped=1; kill -TERM "$pid" 2>/dev/null' TERM
{command} &
pid=$!
while :; do trapped=0; wait "$pid"; rc=$?; [ "$trapped" = 1 ] || break; done
if [ "$rc" = 130 ] && [ "$warned" = 1 ]; then
  echo "slr: checkpointed before the time limit: requeueing $task, which continues from the checkpoint"
  scontrol requeue "$task" && exit 0
  echo "slr: scontrol requeue $task failed: submit what is missing again with slr slurm ... --submit"
fi
exit "$rc"
"#
    )
}

/// The head of `submit.sh`: a `submit SCRIPT [JOB...]` function that submits after the given
/// jobs however they end and records the job id in `jobs.tsv`.
fn submit_head(name: &str, dir: &Path) -> String {
    format!(
        r#"#!/usr/bin/env bash
# Submits submission {sub} of `{name}`: the stage arrays level by level (each after the levels
# before it, however they ended), then the report. Run it once; `slr slurm` writes a new
# submission for what is missing later.
set -euo pipefail
cd {dir}
if [ -s {JOB_IDS} ]; then
  echo "{sub} was submitted already ({JOB_IDS}); run slr slurm again for a new submission" >&2
  exit 2
fi
submit() {{
  local script=$1; shift
  local after=()
  if [ $# -gt 0 ]; then after=(--dependency="afterany:$(IFS=:; echo "$*")"); fi
  local id
  id=$(sbatch --parsable "${{after[@]}}" "$script")
  id=${{id%%;*}}
  printf '%s\t%s\n' "$script" "$id" >> {JOB_IDS}
  echo "$script: job $id" >&2
  echo "$id"
}}
"#,
        sub = submission_name(dir),
        dir = quote(&dir.display().to_string()),
    )
}

/// `'...'` for bash.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// A new submission folder under `base` (`<runs>/slurm/<spec>`): `sub-<n>`, the first number
/// not taken (claimed by creating it, so two concurrent calls get two folders).
pub fn claim(base: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(base).map_err(Error::io(base))?;
    for n in 1.. {
        let dir = base.join(format!("sub-{n}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&dir)(e)),
        }
    }
    unreachable!("a free submission number exists")
}

/// Writes the submission's files (scripts executable) and the probe.
pub fn write(submission: &Submission) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&submission.dir).map_err(Error::io(&submission.dir))?;
    let mut written = Vec::new();
    for (name, text) in &submission.files {
        let path = submission.dir.join(name);
        crate::base::write_atomic(&path, text.as_bytes())?;
        if name.ends_with(".sh") || name.ends_with(".sbatch") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(Error::io(&path))?;
        }
        written.push(path);
    }
    let probe = submission.dir.join(PROBE);
    std::fs::write(&probe, b"written by slr slurm on the submitting node\n")
        .map_err(Error::io(&probe))?;
    Ok(written)
}

/// The stages that earlier submissions under `slurm_root` (`<runs>/slurm`) hold in a job that
/// is still queued or running (`active`: the array job ids Slurm lists).
pub fn in_flight(slurm_root: &Path, active: &BTreeSet<String>) -> Vec<InFlight> {
    let mut held = Vec::new();
    let Ok(specs) = std::fs::read_dir(slurm_root) else {
        return held;
    };
    for submission in specs
        .flatten()
        .filter_map(|spec| std::fs::read_dir(spec.path()).ok())
        .flatten()
        .flatten()
    {
        let dir = submission.path();
        let (Ok(jobs), Ok(map)) = (
            std::fs::read_to_string(dir.join(JOB_IDS)),
            std::fs::read_to_string(dir.join(STAGE_MAP)),
        ) else {
            continue;
        };
        for (script, job) in jobs.lines().filter_map(|l| l.split_once('\t')) {
            if !active.contains(job) {
                continue;
            }
            for line in map.lines().skip(1) {
                let fields: Vec<&str> = line.split('\t').collect();
                if fields.len() >= 3 && fields[0] == script {
                    held.push(InFlight {
                        folder: fields[2].to_owned(),
                        job: job.to_owned(),
                    });
                }
            }
        }
    }
    held
}

/// The array job ids of the user's jobs Slurm lists as queued or running (`squeue`), or `None`
/// when `squeue` cannot be run here.
pub fn active_jobs() -> Option<BTreeSet<String>> {
    let user = std::env::var("USER").unwrap_or_default();
    let mut command = std::process::Command::new("squeue");
    command.args(["-h", "-o", "%F"]);
    if !user.is_empty() {
        command.args(["-u", &user]);
    }
    let out = command.output().ok().filter(|o| o.status.success())?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect(),
    )
}
