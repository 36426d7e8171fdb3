//! `slr slurm`: a new submission of a spec's pending stages as Slurm job arrays
//! ([`crate::run::slurm`] writes the scripts).

use super::args::SpecArgs;
use crate::error::{Error, Result};
use crate::report;
use crate::run::slurm;

/// `slr slurm`: a new submission of the pending stages, submitted with `--submit`.
pub(crate) fn slurm(args: &SpecArgs, options: &slurm::SlurmOptions, submit: bool) -> Result<()> {
    use crate::run::slurm;
    let plan = args.plan()?;
    crate::run::snapshots::prepare(&plan)?;
    let runtime = &plan.spec.raw.runtime;
    if submit && !command_exists("sbatch") {
        return Err(Error::Usage(
            "--submit: `sbatch` is not on PATH (run on a Slurm login node, or drop --submit and \
             submit the scripts yourself)"
                .into(),
        ));
    }
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p).map_err(|e| Error::Usage(format!("{}: {e}", p.display())))
    };
    let workdir = absolute(std::path::Path::new("."))?;
    let runs_root = absolute(&runtime.runs_root)?;
    let stem = report::report_stem(&plan.spec);
    let exe = std::env::current_exe().map_err(|e| Error::RunFailed(format!("own path: {e}")))?;
    // Jobs see the same options, with absolute roots (they may start elsewhere).
    let mut job_args = args.clone();
    job_args.runs_root = Some(runs_root.clone());
    job_args.data_root = Some(absolute(&runtime.data_root)?);
    let quoted: Vec<String> = job_args
        .to_args(true)
        .iter()
        .map(|a| shell_quote(a))
        .collect();
    let exe = shell_quote(&exe.display().to_string());
    let nodes = crate::run::graph::graph(&plan, &runs_root);
    super::reproduce::link_tensorboard(&runs_root, &plan);
    let slurm_root = runs_root.join("slurm");
    // Stages an earlier submission still has queued or running are left to it.
    let in_flight = match slurm::active_jobs() {
        Some(active) => slurm::in_flight(&slurm_root, &active),
        None => {
            if slurm_root.is_dir() {
                eprintln!(
                    "warning: `squeue` cannot be run here, so stages that earlier submissions \
                     still have queued are not known and may be submitted twice"
                );
            }
            Vec::new()
        }
    };
    // Checked before a folder is claimed: bad options leave nothing behind.
    slurm::check_options(options)?;
    let dir = slurm::claim(&slurm_root.join(&stem))?;
    let submission = slurm::scripts(
        &nodes,
        &in_flight,
        &exe,
        &quoted.join(" "),
        &workdir,
        &stem,
        &dir,
        options,
    )?;
    for path in slurm::write(&submission)? {
        println!("wrote {}", path.display());
    }
    let pending = nodes.iter().filter(|n| !n.done).count();
    println!(
        "{pending} of {} stages pending: {} in this submission ({}), {} left to jobs of earlier \
         submissions that hold them",
        nodes.len(),
        submission.stages,
        dir.display(),
        submission.left_to_others
    );
    if submit {
        let status = std::process::Command::new("bash")
            .arg(dir.join("submit.sh"))
            .status()
            .map_err(|e| Error::RunFailed(format!("cannot run submit.sh: {e}")))?;
        if !status.success() {
            return Err(Error::RunFailed(format!("submit.sh exited with {status}")));
        }
        println!(
            "logs: {}/logs/ (one per task and attempt); `squeue --me` shows the queue; after a \
             failure or a time-out, `slr slurm` with the same options submits what is missing",
            dir.display()
        );
    }
    Ok(())
}

fn command_exists(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// `'...'` for the shell, unless the word needs none.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
