//! `slr export`: a stage's model as a safetensors file under the reference's parameter names,
//! with the masks of its pruned layers and its sizes dense and sparse ([`crate::run::export`]).

use super::args::SpecArgs;
use crate::error::{Error, Result};
use crate::models::Net;
use crate::report;
use crate::run::{export, store};
use crate::spec::Run;
use burn::module::Module;
use burn::tensor::Device;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Options of `slr export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Spec options.
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The row whose model to export.
    pub row: String,
    /// Its seed (default: the row's first).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The stage whose output model to export (default: the row's last, `retrain`).
    #[arg(long, value_parser = ["pretrain", "import", "train", "prune", "retrain"])]
    pub stage: Option<String>,
    /// File format (safetensors, the one PyTorch, JAX and Hugging Face read without pickle).
    #[arg(long, default_value = "safetensors", value_parser = ["safetensors"])]
    pub format: String,
    /// Output file (default: `<runs>/exports/<spec>/<row>/seed-<n>/<stage>.safetensors`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Writes the export and prints what it holds.
pub(super) fn run(args: &ExportArgs) -> Result<()> {
    let plan = args.spec.plan()?;
    let runs_root = &plan.spec.raw.runtime.runs_root;
    let rows: Vec<&Run> = plan
        .runs
        .iter()
        .filter(|r| r.row_name == args.row)
        .collect();
    let Some(first) = rows.first() else {
        let names: Vec<&str> = plan.spec.rows.iter().map(|r| r.name.as_str()).collect();
        return Err(Error::Usage(format!(
            "no row `{}` runs in {} (profile {}); rows: {}",
            args.row,
            plan.spec.path.display(),
            plan.spec.profile.as_deref().unwrap_or("none"),
            names.join(", ")
        )));
    };
    let run = match args.seed {
        None => *first,
        Some(seed) => *rows.iter().find(|r| r.seed == seed).ok_or_else(|| {
            let seeds: Vec<String> = rows.iter().map(|r| r.seed.to_string()).collect();
            Error::Usage(format!(
                "--seed {seed}: row `{}` runs seeds {}",
                args.row,
                seeds.join(", ")
            ))
        })?,
    };
    let kinds: Vec<&str> = run.stages.iter().map(|s| s.kind.name()).collect();
    let index = match &args.stage {
        None => run.stages.len() - 1,
        Some(name) => kinds.iter().position(|k| k == name).ok_or_else(|| {
            Error::Usage(format!(
                "--stage {name}: row `{}` has the stages {}",
                args.row,
                kinds.join(", ")
            ))
        })?,
    };
    let stage = &run.stages[index];
    let dir = store::stage_dir(runs_root, run, index);
    let Some(summary) = store::read_summary(&dir)? else {
        return Err(Error::InputNotDone(format!(
            "{}: the {} stage of `{}` seed {} is not done; `slr reproduce` runs it",
            dir.display(),
            stage.kind.name(),
            args.row,
            run.seed
        )));
    };
    let path = dir.join(store::MODEL);
    let net = Net::init(run.model, &Device::flex())
        .try_load_file(&path)
        .map_err(|e| Error::Corrupt {
            path: path.clone(),
            message: format!("cannot load model ({e}); delete the stage folder to rerun it"),
        })?;
    let pruned = stage.config.pruned_ratios().map(|(ratios, _)| ratios);
    let tensors = export::tensors(&net, run.model, |name| {
        pruned.is_some_and(|ratios| ratios.contains_key(name))
    })?;
    let spec = report::report_stem(&plan.spec);
    let out = args.out.clone().unwrap_or_else(|| {
        runs_root
            .join("exports")
            .join(&spec)
            .join(&args.row)
            .join(format!("seed-{}", run.seed))
            .join(format!("{}.safetensors", stage.kind.name()))
    });
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    let commit = store::read_provenance(&dir)
        .map(|p| p.git_commit)
        .unwrap_or_default();
    let metadata = BTreeMap::from([
        ("format".to_owned(), "pt".to_owned()),
        ("model".to_owned(), run.model.name().to_owned()),
        ("spec".to_owned(), spec),
        ("row".to_owned(), args.row.clone()),
        ("seed".to_owned(), run.seed.to_string()),
        ("stage".to_owned(), stage.kind.name().to_owned()),
        ("stage_folder".to_owned(), stage.folder_name()),
        ("git_commit".to_owned(), commit),
        (
            "metrics".to_owned(),
            serde_json::to_string(&summary.metrics).expect("numbers"),
        ),
    ]);
    let sizes = export::write(&out, &tensors, &metadata)?;
    let mb = |bytes: usize| bytes as f64 / 1e6;
    println!("wrote {} ({} tensors)", out.display(), tensors.len());
    if sizes.pruned_weights > 0 {
        println!(
            "pruned layers: {} of {} weights kept ({:.1}x); masks as `<module>.weight_mask`",
            sizes.kept_weights,
            sizes.pruned_weights,
            sizes.pruned_weights as f64 / sizes.kept_weights.max(1) as f64
        );
    }
    println!(
        "size: {:.3} MB dense (float32), {:.3} MB with the pruned layers sparse (bitmask or \
         CSR, whichever is smaller per layer): {:.1}x on disk",
        mb(sizes.dense_bytes),
        mb(sizes.sparse_bytes),
        sizes.ratio()
    );
    Ok(())
}
