//! A plan's pruning targets checked against the models' layer sizes before anything runs: a
//! pruned layer must keep at least one weight (else its compression is infinite and nothing
//! it feeds can learn).

use super::projection::keep_count;
use crate::error::{Error, Result};
use crate::models::{Net, params};
use crate::spec::{ModelKind, Plan, StageConfig};
use burn::tensor::Device;
use std::collections::{BTreeMap, HashMap};

/// Refuses (exit 2, naming the file, row and layer) a ratio that keeps no weight of a layer.
pub fn check_plan(plan: &Plan) -> Result<()> {
    let mut sizes: HashMap<ModelKind, BTreeMap<String, usize>> = HashMap::new();
    let mut checked = Vec::new();
    for run in &plan.runs {
        if checked.contains(&run.row) {
            continue;
        }
        checked.push(run.row);
        for stage in &run.stages {
            let StageConfig::Prune(config) = &stage.config else {
                continue;
            };
            let layers = sizes.entry(run.model).or_insert_with(|| {
                params::shapes(&Net::init(run.model, &Device::flex()))
                    .into_iter()
                    .map(|(name, shape)| (name, shape.iter().product()))
                    .collect()
            });
            for (name, ratio) in &config.ratios {
                let Some(&n) = layers.get(name) else { continue };
                if keep_count(n, *ratio, config.count_rule) == 0 {
                    return Err(Error::spec(
                        &plan.spec.path,
                        format!(
                            "row `{}` (rows[{}]): key `sparsity`: ratio {ratio} keeps none of the \
                             {n} weights of `{name}`; a pruned layer must keep at least one",
                            run.row_name, run.row
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
