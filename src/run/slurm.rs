//! Slurm submission scripts for a plan: one job array per level of the stage graph (a task per
//! pending stage of that level, each `slr run-stage`), each level `afterok` the one before, and
//! a last job that renders the report. Finished stages are left out, so resubmitting after a
//! failure or a time-out runs only what is missing; an interrupted stage continues from its
//! checkpoint (Slurm sends SIGTERM before a time limit or a preemption).

use super::graph::Node;
use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `#SBATCH` options of every job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--gres`, e.g. `gpu:1`.
    pub gres: Option<String>,
    /// `--time`, e.g. `24:00:00`.
    pub time: Option<String>,
    /// `--cpus-per-task`.
    pub cpus: Option<usize>,
    /// `--mem`, e.g. `32G`.
    pub mem: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// Extra lines, each `#SBATCH ...`.
    pub extra: Vec<String>,
}

/// The files of one submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// Folder holding the scripts and stage lists.
    pub dir: PathBuf,
    /// `(file name, contents)`, `submit.sh` last.
    pub files: Vec<(String, String)>,
}

/// The probe file `write` leaves beside the scripts: a job that cannot see it runs on a node
/// that does not share the runs folder.
pub const PROBE: &str = "shared-folder.probe";

/// The scripts for the pending `nodes`. Each job `cd`s to `workdir` and runs `exe` with a
/// subcommand and `args` (the spec and its options, shell-quoted): `run-stage <args> --stage
/// <folder>` for a stage, `report <args>` last; `name` names the jobs; `dir` is where the
/// scripts go (under the runs folder, which the nodes share).
pub fn scripts(
    nodes: &[Node],
    exe: &str,
    args: &str,
    workdir: &Path,
    name: &str,
    dir: &Path,
    options: &SlurmOptions,
) -> Result<Submission> {
    for line in &options.extra {
        if !line.starts_with("#SBATCH ") {
            return Err(Error::Usage(format!(
                "--extra `{line}`: each extra line must start with `#SBATCH `"
            )));
        }
    }
    let max_level = nodes.iter().map(|n| n.level).max().unwrap_or(0);
    let mut files = Vec::new();
    let mut levels = Vec::new();
    for level in 0..=max_level {
        let pending: Vec<&str> = nodes
            .iter()
            .filter(|n| n.level == level && !n.done)
            .map(|n| n.folder.as_str())
            .collect();
        if pending.is_empty() {
            continue;
        }
        let list = format!("level-{level}.txt");
        files.push((list.clone(), pending.join("\n") + "\n"));
        let mut job = header(&format!("{name}-L{level}"), dir, options);
        let _ = writeln!(job, "#SBATCH --array=0-{}", pending.len() - 1);
        job.push_str(&prologue(workdir, dir));
        let _ = writeln!(
            job,
            "stage=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {})",
            dir.join(&list).display()
        );
        // `exec`: Slurm's SIGTERM reaches slr itself, which checkpoints and exits.
        let _ = writeln!(job, "exec {exe} run-stage {args} --stage \"$stage\"");
        let script = format!("level-{level}.sbatch");
        files.push((script.clone(), job));
        levels.push(script);
    }
    let mut report = header(&format!("{name}-report"), dir, options);
    report.push_str(&prologue(workdir, dir));
    let _ = writeln!(report, "exec {exe} report {args}");
    files.push(("report.sbatch".into(), report));

    let mut submit = String::from(
        "#!/usr/bin/env bash\n# Submits the stage arrays level by level (each afterok the one before), then the report.\nset -euo pipefail\n",
    );
    let _ = writeln!(submit, "cd {}", dir.display());
    let _ = writeln!(submit, "after=()");
    for script in &levels {
        let _ = writeln!(
            submit,
            "id=$(sbatch --parsable \"${{after[@]}}\" {script}); echo \"{script}: job $id\"; after=(--dependency=afterok:${{id%%;*}})"
        );
    }
    // The report renders whatever finished, so it waits for the last level however it ended.
    let _ = writeln!(
        submit,
        "last=(\"${{after[@]/afterok/afterany}}\"); id=$(sbatch --parsable \"${{last[@]}}\" report.sbatch); echo \"report.sbatch: job $id\""
    );
    files.push(("submit.sh".into(), submit));
    Ok(Submission {
        dir: dir.to_owned(),
        files,
    })
}

/// What every job does first: stop on errors, check that it sees the shared runs folder, go
/// to the working folder the spec's paths are relative to.
fn prologue(workdir: &Path, dir: &Path) -> String {
    format!(
        "set -euo pipefail\n[ -f {probe} ] || {{ echo \"{dir} is not visible on $(hostname): the runs folder must be shared with the compute nodes\" >&2; exit 2; }}\ncd {workdir}\n",
        probe = dir.join(PROBE).display(),
        dir = dir.display(),
        workdir = workdir.display()
    )
}

/// `#!/bin/bash` and the `#SBATCH` lines every job shares.
fn header(job: &str, dir: &Path, options: &SlurmOptions) -> String {
    let mut text = String::from("#!/usr/bin/env bash\n");
    let _ = writeln!(text, "#SBATCH --job-name={job}");
    let _ = writeln!(text, "#SBATCH --output={}/%x-%A_%a.log", dir.display());
    let lines = [
        ("partition", options.partition.clone()),
        ("gres", options.gres.clone()),
        ("time", options.time.clone()),
        ("cpus-per-task", options.cpus.map(|c| c.to_string())),
        ("mem", options.mem.clone()),
        ("account", options.account.clone()),
    ];
    for (key, value) in lines {
        if let Some(value) = value {
            let _ = writeln!(text, "#SBATCH --{key}={value}");
        }
    }
    for line in &options.extra {
        let _ = writeln!(text, "{line}");
    }
    text
}

/// Writes the submission's files (scripts executable).
pub fn write(submission: &Submission) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&submission.dir).map_err(Error::io(&submission.dir))?;
    // Scripts of an earlier submission would list stages that are done now.
    for entry in std::fs::read_dir(&submission.dir).map_err(Error::io(&submission.dir))? {
        let path = entry.map_err(Error::io(&submission.dir))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.ends_with(".sbatch") || n.starts_with("level-")) {
            std::fs::remove_file(&path).map_err(Error::io(&path))?;
        }
    }
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
