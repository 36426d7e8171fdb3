//! Options several commands share: the spec and its layers (`SpecArgs`), and the `#SBATCH`
//! options of `slr slurm` (`SlurmArgs`).

use crate::error::{Error, Result};
use crate::run::slurm;
use crate::spec::{self, LoadOptions, Plan};
use clap::Args;
use std::path::PathBuf;

/// `#SBATCH` options of `slr slurm`.
#[derive(Debug, Clone, clap::Args)]
pub struct SlurmArgs {
    /// `#SBATCH --partition`.
    #[arg(long)]
    partition: Option<String>,
    /// `#SBATCH --gres` of the stage tasks, e.g. gpu:1 (the report job gets none).
    #[arg(long)]
    gres: Option<String>,
    /// `#SBATCH --time` of the stage tasks, e.g. 24:00:00; KIND=LIMIT for one stage kind,
    /// e.g. `--time 4:00:00 --time train=48:00:00` (repeatable).
    #[arg(long, value_name = "[KIND=]LIMIT")]
    time: Vec<String>,
    /// `#SBATCH --cpus-per-task` of the stage tasks.
    #[arg(long)]
    cpus: Option<usize>,
    /// `#SBATCH --mem` of the stage tasks, e.g. 32G.
    #[arg(long)]
    mem: Option<String>,
    /// `#SBATCH --account`.
    #[arg(long)]
    account: Option<String>,
    /// `#SBATCH --mail-type`, e.g. END,FAIL.
    #[arg(long)]
    mail_type: Option<String>,
    /// `#SBATCH --mail-user`.
    #[arg(long)]
    mail_user: Option<String>,
    /// At most N tasks of each array at once (`--array=...%N`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_parallel: Option<u32>,
    /// `#SBATCH --time` of the report job.
    #[arg(long, default_value = "01:00:00")]
    report_time: String,
    /// `#SBATCH --cpus-per-task` of the report job.
    #[arg(long, default_value_t = 1)]
    report_cpus: usize,
    /// Seconds before its time limit at which a task is told to checkpoint and requeue itself
    /// (`--signal=B:USR1@N`); 0 turns the warning off.
    #[arg(long, default_value_t = 300)]
    warn_seconds: u32,
    /// Extra `#SBATCH ...` lines for every job (repeatable).
    #[arg(long, allow_hyphen_values = true)]
    extra: Vec<String>,
}

impl SlurmArgs {
    pub(crate) fn into_options(self) -> Result<slurm::SlurmOptions> {
        Ok(slurm::SlurmOptions {
            partition: self.partition,
            gres: self.gres,
            time: slurm::TimeLimits::parse(&self.time)?,
            cpus: self.cpus,
            mem: self.mem,
            account: self.account,
            mail_type: self.mail_type,
            mail_user: self.mail_user,
            max_parallel: self.max_parallel.map(|n| n as usize),
            report_time: self.report_time,
            report_cpus: self.report_cpus,
            warn_seconds: self.warn_seconds,
            extra: self.extra,
        })
    }
}

/// Options shared by the commands that read a spec.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Spec id (experiments/<id>.toml) or path to a TOML file.
    pub spec: String,
    /// Profile overlay, e.g. `smoke` or `paper`.
    #[arg(long)]
    pub profile: Option<String>,
    /// Replace every row's seeds, e.g. `--seeds 1,2,3`.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Override any key: `--set defaults.pretrain.epochs=2` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Backend: cpu, tch-cpu, tch-cuda[:i] (same as --set runtime.backend=...).
    #[arg(long)]
    pub backend: Option<String>,
    /// Data root (same as --set runtime.data_root=...).
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Runs root (same as --set runtime.runs_root=...).
    #[arg(long)]
    pub runs_root: Option<PathBuf>,
}

impl SpecArgs {
    /// The same options as command-line arguments (for worker processes), `--backend` only
    /// with `with_backend`.
    pub fn to_args(&self, with_backend: bool) -> Vec<String> {
        let mut args = vec![self.spec.clone()];
        if let Some(profile) = &self.profile {
            args.extend(["--profile".to_owned(), profile.clone()]);
        }
        if let Some(seeds) = &self.seeds {
            let list: Vec<String> = seeds.iter().map(u64::to_string).collect();
            args.extend(["--seeds".to_owned(), list.join(",")]);
        }
        for set in &self.sets {
            args.extend(["--set".to_owned(), set.clone()]);
        }
        if let Some(backend) = self.backend.as_ref().filter(|_| with_backend) {
            args.extend(["--backend".to_owned(), backend.clone()]);
        }
        if let Some(root) = &self.data_root {
            args.extend(["--data-root".to_owned(), root.display().to_string()]);
        }
        if let Some(root) = &self.runs_root {
            args.extend(["--runs-root".to_owned(), root.display().to_string()]);
        }
        args
    }

    /// Loads and resolves the spec with every layer applied.
    pub fn plan(&self) -> Result<Plan> {
        let path = spec::locate(&self.spec)?;
        let mut sets = self.sets.clone();
        let quote = |p: &PathBuf| format!("{:?}", p.display().to_string());
        if let Some(b) = &self.backend {
            sets.push(format!("runtime.backend={}", quote(&PathBuf::from(b))));
        }
        if let Some(d) = &self.data_root {
            sets.push(format!("runtime.data_root={}", quote(d)));
        }
        if let Some(r) = &self.runs_root {
            sets.push(format!("runtime.runs_root={}", quote(r)));
        }
        let options = |sets: &[String]| LoadOptions {
            profile: self.profile.clone(),
            sets: sets.to_vec(),
            read_env: true,
        };
        let loaded = spec::load(&path, &options(&sets))?;
        if let Some(seeds) = &self.seeds {
            if seeds.is_empty() {
                return Err(Error::Usage("--seeds: give at least one seed".into()));
            }
            let mut seen = std::collections::BTreeSet::new();
            if let Some(seed) = seeds.iter().find(|s| !seen.insert(**s)) {
                return Err(Error::Usage(format!(
                    "--seeds: seed {seed} appears twice (each seed is one run)"
                )));
            }
        }
        let plan = spec::resolve(loaded, self.seeds.as_deref());
        let (file, message) = match crate::prune::targets::check_plan(&plan) {
            Ok(()) => return Ok(plan),
            Err(Error::Spec { file, message }) => (file, message),
            Err(other) => return Err(other),
        };
        // Name the `--set` that made the targets impossible, as `spec::load` does for the keys
        // it checks itself.
        let targets_fit = |sets: &[String]| {
            spec::load(&path, &options(sets)).is_ok_and(|loaded| {
                let plan = spec::resolve(loaded, self.seeds.as_deref());
                crate::prune::targets::check_plan(&plan).is_ok()
            })
        };
        let culprit = (1..=sets.len())
            .find(|&count| targets_fit(&sets[..count - 1]) && !targets_fit(&sets[..count]));
        let message = match culprit {
            Some(count) => format!("from `--set {}`: {message}", sets[count - 1]),
            None => message,
        };
        Err(Error::Spec { file, message })
    }
}
