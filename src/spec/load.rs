//! Layered loading: built-in defaults < spec file < `[profile.<name>]` < `SLR_*` environment
//! (run-time keys only) < `--set key.path=value`.

use super::column::Column;
use super::method::MethodName;
use super::types::{DEFAULT_GROUP, FigureKind, RawSpec, RowSpec, ScheduleKind};
use crate::base::{glob_match, sha256_hex};
use crate::catalog::{Architecture, Storage};
use crate::error::{Error, Result};
use crate::metrics::Metric;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Environment variables read into `runtime` (and nothing else).
const RUNTIME_ENV_KEYS: [&str; 6] = [
    "data_root",
    "runs_root",
    "reports_root",
    "backend",
    "threads",
    "loss_every",
];

/// How to load a spec.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Profile overlay to apply, e.g. `smoke` or `paper`.
    pub profile: Option<String>,
    /// `key.path=value` overrides, applied last. Values parse as TOML, else as strings.
    pub sets: Vec<String>,
    /// Whether `SLR_*` environment variables are read (tests turn this off).
    pub read_env: bool,
}

/// A spec after layering and validation.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file it came from.
    pub path: PathBuf,
    /// The profile that was applied.
    pub profile: Option<String>,
    /// The layered spec.
    pub raw: RawSpec,
    /// Rows merged with `[defaults]` and validated, in file order.
    pub rows: Vec<RowSpec>,
    /// SHA-256 of every checkpoint a row imports, by the path the row names.
    pub imports: BTreeMap<PathBuf, String>,
}

impl Loaded {
    /// Whether the row's group is selected by `groups` (all are when it is absent).
    pub fn row_selected(&self, row: &RowSpec) -> bool {
        self.raw
            .groups
            .as_ref()
            .is_none_or(|groups| groups.contains(&row.group))
    }

    /// Why a row does not run in this setting (model not implemented, group not selected), or
    /// `None` when it runs.
    pub fn why_not_run(&self, row: &RowSpec) -> Option<String> {
        if !row.model.buildable() {
            return Some(format!("model `{}` not implemented yet", row.model.name()));
        }
        (!self.row_selected(row)).then(|| {
            format!(
                "group `{}` not selected by profile `{}`",
                row.group,
                self.profile.as_deref().unwrap_or("(none)")
            )
        })
    }
}

/// Finds a spec: an existing path, or an id looked up as `experiments/<id>.toml`.
pub fn locate(spec: &str) -> Result<PathBuf> {
    let as_path = PathBuf::from(spec);
    if as_path.is_file() {
        return Ok(as_path);
    }
    let by_id = Path::new("experiments").join(format!("{spec}.toml"));
    if by_id.is_file() {
        return Ok(by_id);
    }
    let known: Vec<String> = std::fs::read_dir("experiments")
        .map(|entries| {
            let mut ids: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_suffix(".toml").map(str::to_owned)
                })
                .collect();
            ids.sort();
            ids
        })
        .unwrap_or_default();
    Err(Error::Usage(format!(
        "spec `{spec}` not found: not a file, and no experiments/{spec}.toml; known specs: {}",
        if known.is_empty() {
            "none (run from the repository root)".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// Loads, layers and validates the spec at `path`. An error caused by an environment value
/// or a `--set` names that layer instead of the file.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Loaded> {
    let error = match load_layers(path, options) {
        Ok(loaded) => return Ok(loaded),
        Err(error @ Error::Spec { .. }) if options.read_env || !options.sets.is_empty() => error,
        Err(error) => return Err(error),
    };
    let Error::Spec { message, .. } = &error else {
        return Err(error);
    };
    let with = |read_env: bool, sets: &[String]| {
        load_layers(
            path,
            &LoadOptions {
                profile: options.profile.clone(),
                sets: sets.to_vec(),
                read_env,
            },
        )
        .is_ok()
    };
    if !with(false, &[]) {
        return Err(error);
    }
    if options.read_env && !with(true, &[]) {
        return Err(Error::spec(
            path,
            format!("from the environment (SLR_* variables): {message}"),
        ));
    }
    for count in 1..=options.sets.len() {
        if !with(options.read_env, &options.sets[..count]) {
            let set = &options.sets[count - 1];
            return Err(Error::spec(path, format!("from `--set {set}`: {message}")));
        }
    }
    Err(error)
}

fn load_layers(path: &Path, options: &LoadOptions) -> Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read spec {}: {e}", path.display())))?;
    // Parse once with `toml` for syntax errors with line and column.
    if let Err(e) = text.parse::<toml::Table>() {
        return Err(Error::spec(path, format!("not valid TOML: {e}")));
    }
    let mut figment = Figment::from(Toml::string(&text));

    if let Some(profile) = &options.profile {
        let key = format!("profile.{profile}");
        if figment.find_value(&key).is_err() {
            let known: Vec<String> = figment
                .find_value("profile")
                .ok()
                .and_then(|v| v.into_dict())
                .map(|d| d.keys().cloned().collect())
                .unwrap_or_default();
            return Err(Error::spec(
                path,
                format!(
                    "key `profile.{profile}`: no such profile; allowed values: {}",
                    list_or_none(&known)
                ),
            ));
        }
        let overlay = figment.focus(&key);
        figment = figment.merge(overlay);
    }

    if options.read_env {
        figment = figment.merge(
            Env::prefixed("SLR_")
                .only(&RUNTIME_ENV_KEYS)
                .map(|key| format!("runtime.{key}").into()),
        );
    }

    for set in &options.sets {
        let (key, value) = parse_set(set)?;
        figment = figment.merge(Serialized::global(&key, value));
    }

    let raw: RawSpec = figment
        .extract()
        .map_err(|e| Error::spec(path, describe(&e, "")))?;
    let rows = merge_rows(path, &raw)?;
    let mut loaded = Loaded {
        path: path.to_owned(),
        profile: options.profile.clone(),
        raw,
        rows,
        imports: BTreeMap::new(),
    };
    validate(&loaded)?;
    loaded.imports = hash_imports(&loaded)?;
    Ok(loaded)
}

/// SHA-256 of each checkpoint named by a selected row's `import` (the stage's identity).
fn hash_imports(loaded: &Loaded) -> Result<BTreeMap<PathBuf, String>> {
    let mut imports = BTreeMap::new();
    for (index, row) in loaded.rows.iter().enumerate() {
        let Some(file) = &row.import else { continue };
        if imports.contains_key(file) || loaded.why_not_run(row).is_some() {
            continue;
        }
        let bytes = std::fs::read(file).map_err(|e| {
            Error::spec(
                &loaded.path,
                format!(
                    "row `{}` (rows[{index}]): key `import`: cannot read {}: {e}",
                    row.name,
                    file.display()
                ),
            )
        })?;
        imports.insert(file.clone(), sha256_hex(&bytes));
    }
    Ok(imports)
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Splits `key.path=value`; the value is read as a TOML value when it parses as one (numbers,
/// booleans, arrays, inline tables), otherwise as a string.
fn parse_set(set: &str) -> Result<(String, Value)> {
    let Some((key, value)) = set.split_once('=') else {
        return Err(Error::Usage(format!(
            "--set `{set}`: expected key.path=value"
        )));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(Error::Usage(format!("--set `{set}`: empty key")));
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"));
    let value = match parsed {
        Some(v) => Value::serialize(v).map_err(|e| Error::Usage(format!("--set `{set}`: {e}")))?,
        None => Value::from(value.trim().to_owned()),
    };
    Ok((key.to_owned(), value))
}

/// Merges every row over `[defaults]` and its group's `[group_defaults]`, and checks it as a
/// [`RowSpec`]. A method's settings table in `[defaults]` or a group's defaults applies to the
/// rows of that method only; in a row, only the row's own method's table is accepted.
fn merge_rows(path: &Path, raw: &RawSpec) -> Result<Vec<RowSpec>> {
    // A row's group: its own, else `[defaults]`'s, else the default.
    let group_of = |row: &Dict| -> String {
        row.get("group")
            .or_else(|| raw.defaults.get("group"))
            .and_then(|v| v.as_str())
            .unwrap_or(DEFAULT_GROUP)
            .to_owned()
    };
    let groups: BTreeSet<String> = raw.rows.iter().map(group_of).collect();
    if let Some(unknown) = raw.group_defaults.keys().find(|g| !groups.contains(*g)) {
        return Err(Error::spec(
            path,
            format!(
                "key `group_defaults.{unknown}`: no row is in group `{unknown}`; groups: {}",
                groups
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    // A group's defaults choose neither a row's name nor, after the fact, its group.
    for (group, defaults) in &raw.group_defaults {
        if let Some(key) = ["name", "group"]
            .into_iter()
            .find(|k| defaults.contains_key(*k))
        {
            return Err(Error::spec(
                path,
                format!(
                    "key `group_defaults.{group}.{key}`: a group's defaults cannot set `{key}`; \
                     set it on the rows"
                ),
            ));
        }
    }
    raw.rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let name = row
                .get("name")
                .and_then(|v| v.as_str())
                .map(|n| format!(" `{n}`"))
                .unwrap_or_default();
            let group = group_of(row);
            let group_defaults = raw.group_defaults.get(&group);
            // In the order the layers merge: the row's, its group's, the spec's.
            let method = row
                .get("method")
                .or_else(|| group_defaults.and_then(|d| d.get("method")))
                .or_else(|| raw.defaults.get("method"))
                .and_then(|v| v.as_str());
            let mut merged = raw.defaults.clone();
            let mut layers = String::from("[defaults]");
            if let Some(group_defaults) = group_defaults {
                merge_dict(&mut merged, group_defaults);
                layers.push_str(&format!(" and [group_defaults.{group}]"));
            }
            for other in MethodName::ALL.into_iter().filter(|m| m.has_settings()) {
                if Some(other.name()) == method {
                    continue;
                }
                merged.remove(other.name());
                if row.contains_key(other.name()) {
                    let method = method.unwrap_or(MethodName::default().name());
                    return Err(Error::spec(
                        path,
                        format!(
                            "row{name} (rows[{index}]): key `{}`: method `{method}` takes no \
                             `{}` settings; remove the table or set `method = \"{}\"`",
                            other.name(),
                            other.name(),
                            other.name()
                        ),
                    ));
                }
            }
            merge_dict(&mut merged, row);
            Figment::from(Serialized::defaults(merged))
                .extract::<RowSpec>()
                .map_err(|e| {
                    Error::spec(
                        path,
                        describe(&e, &format!("row{name} (rows[{index}] over {layers}): ")),
                    )
                })
        })
        .collect()
}

/// Recursive dictionary merge: `over`'s keys win, nested tables merge.
fn merge_dict(base: &mut Dict, over: &Dict) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Dict(_, base_dict)), Value::Dict(_, over_dict)) => {
                merge_dict(base_dict, over_dict)
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Renders a figment error as "key `a.b`: what is wrong; allowed ...".
fn describe(error: &figment::Error, prefix: &str) -> String {
    use figment::error::Kind;
    let key = error.path.join(".");
    let what = match &error.kind {
        Kind::UnknownField(field, allowed) => {
            let full = join_key(&key, field);
            return format!(
                "{prefix}unknown key `{full}`; allowed keys: {}",
                allowed.join(", ")
            );
        }
        Kind::UnknownVariant(value, allowed) => format!(
            "unknown value `{value}`; allowed values: {}",
            allowed.join(", ")
        ),
        Kind::MissingField(field) => {
            let full = join_key(&key, field);
            return format!("{prefix}missing key `{full}`");
        }
        other => other.to_string(),
    };
    if key.is_empty() {
        format!("{prefix}{what}")
    } else {
        format!("{prefix}key `{key}`: {what}")
    }
}

/// `key.field`, unless figment's path already ends with the field.
fn join_key(key: &str, field: &str) -> String {
    if key.is_empty() || key == field || key.ends_with(&format!(".{field}")) {
        if key.is_empty() {
            field.to_owned()
        } else {
            key.to_owned()
        }
    } else {
        format!("{key}.{field}")
    }
}

/// More epochs than any experiment needs: a typo, not a budget.
const MAX_EPOCHS: usize = 100_000;
/// More worker threads than any machine this runs on has.
const MAX_THREADS: usize = 1024;

/// Whether `id` can name a file in its folder: letters, digits, `-`, `_` and `.`, not empty,
/// no `..`, no leading dot.
fn file_stem_ok(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && !id.contains("..")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks what serde cannot: ratios, layer names, budgets, unique names, published cells.
fn validate(loaded: &Loaded) -> Result<()> {
    let path = &loaded.path;
    let fail = |message: String| Err(Error::spec(path, message));
    let id = &loaded.raw.table.id;
    if !file_stem_ok(id) {
        return fail(format!(
            "key `table.id`: `{id}` must be a file stem of letters, digits, `-`, `_` and `.` \
             (it names the report file)"
        ));
    }
    if let Some(threads) = loaded.raw.runtime.threads
        && !(1..=MAX_THREADS).contains(&threads)
    {
        return fail(format!(
            "key `runtime.threads`: {threads} is outside 1..={MAX_THREADS}"
        ));
    }
    if loaded.rows.is_empty() {
        return fail("key `rows`: no rows; a spec needs at least one [[rows]] entry".into());
    }
    let mut names = BTreeSet::new();
    for (index, row) in loaded.rows.iter().enumerate() {
        let at = format!("row `{}` (rows[{index}])", row.name);
        if row.name.trim().is_empty() {
            return fail(format!(
                "{at}: key `name`: empty; a row needs a name (its runs and report lines go by it)"
            ));
        }
        if !names.insert(row.name.clone()) {
            return fail(format!("{at}: key `name`: duplicate row name"));
        }
        if row.seeds.is_empty() {
            return fail(format!("{at}: key `seeds`: at least one seed is required"));
        }
        let mut seen = BTreeSet::new();
        if let Some(seed) = row.seeds.iter().find(|s| !seen.insert(**s)) {
            return fail(format!(
                "{at}: key `seeds`: seed {seed} appears twice (each seed is one run)"
            ));
        }
        if row.batch_size == 0 {
            return fail(format!("{at}: key `batch_size`: must be at least 1"));
        }
        if row.test_batch_size == 0 {
            return fail(format!("{at}: key `test_batch_size`: must be at least 1"));
        }
        for (key, budget) in [
            ("pretrain", &row.pretrain),
            ("train", &row.train),
            ("retrain", &row.retrain),
        ] {
            if budget.steps == Some(0) {
                return fail(format!("{at}: key `{key}.steps`: must be at least 1"));
            }
            let dropout = budget.dropout;
            if !(0.0..1.0).contains(&dropout) {
                return fail(format!(
                    "{at}: key `{key}.dropout`: {dropout} is outside [0, 1)"
                ));
            }
            if dropout > 0.0 && row.model.dropout_site().is_none() {
                return fail(format!(
                    "{at}: key `{key}.dropout`: model `{}` has no dropout site",
                    row.model.name()
                ));
            }
        }
        if let Some(init) = row.init {
            if row.import.is_some() {
                return fail(format!(
                    "{at}: key `init`: a row with `import` starts from the checkpoint's weights, \
                     so `init = \"{}\"` would not be used",
                    init.name()
                ));
            }
            if let Err(message) = init.check(row.model) {
                return fail(format!("{at}: key `init`: {message}"));
            }
        }
        if row.pretrain.epochs == 0 && row.import.is_none() {
            return fail(format!(
                "{at}: key `pretrain.epochs`: must be at least 1 (a dense model is trained first)"
            ));
        }
        if row.method.trains() && row.train.epochs == 0 {
            return fail(format!(
                "{at}: key `train.epochs`: method `{}` needs at least 1 training epoch",
                row.method.name().name()
            ));
        }
        validate_snapshots(loaded, &at, row).or_else(fail)?;
        if let Err((key, message)) = row.method.validate() {
            return fail(format!("{at}: key `{key}`: {message}"));
        }
        for (key, budget) in [
            ("pretrain", &row.pretrain),
            ("train", &row.train),
            ("retrain", &row.retrain),
        ] {
            let lr = budget.optimizer.lr;
            if !(lr.is_finite() && lr > 0.0) {
                return fail(format!(
                    "{at}: key `{key}.optimizer.lr`: {lr} must be a positive number"
                ));
            }
            let momentum = budget.optimizer.momentum;
            if !(0.0..1.0).contains(&momentum) {
                return fail(format!(
                    "{at}: key `{key}.optimizer.momentum`: {momentum} is outside [0, 1)"
                ));
            }
            let decay = budget.optimizer.weight_decay;
            if !(decay.is_finite() && decay >= 0.0) {
                return fail(format!(
                    "{at}: key `{key}.optimizer.weight_decay`: {decay} must be a number >= 0"
                ));
            }
            let o = &budget.optimizer;
            for (name, value) in [
                ("l2", o.l2),
                ("decoupled_weight_decay", o.decoupled_weight_decay),
            ] {
                if !(value.is_finite() && value >= 0.0) {
                    return fail(format!(
                        "{at}: key `{key}.optimizer.{name}`: {value} must be a number >= 0"
                    ));
                }
            }
            if o.kind.is_adam() {
                if o.momentum != 0.0 || o.nesterov {
                    return fail(format!(
                        "{at}: key `{key}.optimizer.momentum`: Adam has no momentum or Nesterov \
                         setting (its moments are beta1 and beta2)"
                    ));
                }
                for (name, value) in [("beta1", o.beta1), ("beta2", o.beta2)] {
                    if !(0.0..1.0).contains(&value) {
                        return fail(format!(
                            "{at}: key `{key}.optimizer.{name}`: {value} is outside [0, 1)"
                        ));
                    }
                }
                if !(o.eps.is_finite() && o.eps > 0.0) {
                    return fail(format!(
                        "{at}: key `{key}.optimizer.eps`: {} must be a positive number",
                        o.eps
                    ));
                }
            }
            let gamma = budget.schedule.gamma;
            if !(gamma.is_finite() && gamma > 0.0) {
                return fail(format!(
                    "{at}: key `{key}.schedule.gamma`: {gamma} must be a positive number"
                ));
            }
            if budget.epochs > MAX_EPOCHS {
                return fail(format!(
                    "{at}: key `{key}.epochs`: {} is more than {MAX_EPOCHS}",
                    budget.epochs
                ));
            }
            if budget.schedule.step_size == 0 {
                return fail(format!(
                    "{at}: key `{key}.schedule.step_size`: must be at least 1"
                ));
            }
            match budget.schedule.period_epochs {
                Some(0) => {
                    return fail(format!(
                        "{at}: key `{key}.schedule.period_epochs`: must be at least 1"
                    ));
                }
                Some(_) if budget.schedule.kind != ScheduleKind::ReferenceCosine => {
                    return fail(format!(
                        "{at}: key `{key}.schedule.period_epochs`: only `reference-cosine` has a period of its own"
                    ));
                }
                _ => {}
            }
        }
        if let Some(0) = row.data.train_limit {
            return fail(format!("{at}: key `data.train_limit`: must be at least 1"));
        }
        if let Some(held) = row.data.holdout_first {
            let (train, _) = row.dataset.split_sizes();
            if held >= train {
                return fail(format!(
                    "{at}: key `data.holdout_first`: {held} leaves none of the {train} training \
                     examples of `{}`",
                    row.dataset.name()
                ));
            }
            if matches!(
                row.dataset.entry().storage,
                Storage::ImageFolder | Storage::Lanes(_) | Storage::Detection(_)
            ) {
                return fail(format!(
                    "{at}: key `data.holdout_first`: `{}` is read from image files; holdouts \
                     need an in-memory data set (IDX or CIFAR)",
                    row.dataset.name()
                ));
            }
        }
        if let Some(0) = row.data.test_limit {
            return fail(format!("{at}: key `data.test_limit`: must be at least 1"));
        }
        if row.data.augment.is_some()
            && !matches!(
                row.dataset.entry().storage,
                Storage::Lanes(_) | Storage::Detection(_)
            )
        {
            return fail(format!(
                "{at}: key `data.augment`: `{}` is not a lane or detection data set (the option \
                 switches UFLD's or YOLOv3's augmentation; CIFAR-format sets always train with \
                 theirs)",
                row.dataset.name()
            ));
        }
        validate_sparsity(path, &at, row)?;
        let (task, data_task) = (row.model.entry().task, row.dataset.task());
        if task != data_task {
            return fail(format!(
                "{at}: key `dataset`: `{}` is a {} data set; model `{}` does {}",
                row.dataset.name(),
                data_task.name(),
                row.model.name(),
                task.name()
            ));
        }
        if let (Architecture::Ufld(head), Storage::Lanes(files)) =
            (row.model.entry().architecture, row.dataset.entry().storage)
            && head.griding_num != files.griding_num
        {
            return fail(format!(
                "{at}: key `model`: {} has {} griding cells but data set `{}` has {}",
                row.model.name(),
                head.griding_num,
                row.dataset.name(),
                files.griding_num
            ));
        }
        let (model, data) = (row.model.input_shape(), row.dataset.image_shape());
        if let Architecture::Yolo(config) = row.model.entry().architecture {
            // Fully convolutional: any square input whose side is a multiple of 32.
            if data[0] != 3 || data[1] != data[2] || data[1] % 32 != 0 {
                return fail(format!(
                    "{at}: key `dataset`: {} takes square RGB inputs whose side is a multiple \
                     of 32; data set `{}` has {}x{}x{}",
                    row.model.name(),
                    row.dataset.name(),
                    data[0],
                    data[1],
                    data[2]
                ));
            }
            let classes = row.dataset.entry().classes;
            if classes > config.classes {
                return fail(format!(
                    "{at}: key `dataset`: `{}` has {classes} classes; {} detects {}",
                    row.dataset.name(),
                    row.model.name(),
                    config.classes
                ));
            }
        } else if model != data {
            return fail(format!(
                "{at}: key `model`: {} takes {}x{}x{} images but data set `{}` has {}x{}x{}",
                row.model.name(),
                model[0],
                model[1],
                model[2],
                row.dataset.name(),
                data[0],
                data[1],
                data[2]
            ));
        }
    }
    if let Some(groups) = &loaded.raw.groups {
        for group in groups {
            if !loaded.rows.iter().any(|r| &r.group == group) {
                let mut known: Vec<&str> = loaded.rows.iter().map(|r| r.group.as_str()).collect();
                known.sort();
                known.dedup();
                return fail(format!(
                    "key `groups`: no row is in group `{group}`; allowed values: {}",
                    known.join(", ")
                ));
            }
        }
    }
    for (index, cell) in loaded.raw.published.iter().enumerate() {
        if !Metric::parse(&cell.metric).is_some_and(Metric::is_final) {
            return fail(format!(
                "key `published[{index}].metric`: unknown metric `{}`; allowed values: {}",
                cell.metric,
                Metric::final_names().join(", ")
            ));
        }
        if cell.citation.trim().is_empty() {
            return fail(format!(
                "key `published[{index}].citation`: a published number needs a citation"
            ));
        }
        if let Some(row) = &cell.row
            && !names.contains(row)
        {
            return fail(format!(
                "key `published[{index}].row`: no row named `{row}`; allowed values: {}",
                list_or_none(&names.iter().cloned().collect::<Vec<_>>())
            ));
        }
    }
    validate_claims(loaded)?;
    validate_report(loaded)
}

/// `[[claim]]` entries name a table metric, rows that exist and do not overlap, and a
/// direction when the metric has none.
fn validate_claims(loaded: &Loaded) -> Result<()> {
    let fail = |message: String| Err(Error::spec(&loaded.path, message));
    let mut ids = BTreeSet::new();
    for (index, claim) in loaded.raw.claim.iter().enumerate() {
        let at = format!("key `claim[{index}]");
        if !file_stem_ok(&claim.id) {
            return fail(format!(
                "{at}.id`: `{}` must be letters, digits, `-`, `_` and `.`",
                claim.id
            ));
        }
        if !ids.insert(claim.id.as_str()) {
            return fail(format!("{at}.id`: duplicate claim id `{}`", claim.id));
        }
        if claim.citation.trim().is_empty() {
            return fail(format!("{at}.citation`: a claim needs a citation"));
        }
        let Some(metric) = Metric::parse(&claim.metric).filter(|m| m.is_final()) else {
            return fail(format!(
                "{at}.metric`: unknown metric `{}`; allowed values: {}",
                claim.metric,
                Metric::final_names().join(", ")
            ));
        };
        if claim.direction.is_none() && metric.direction() == crate::metrics::Direction::Neutral {
            return fail(format!(
                "{at}.direction`: `{}` has no better direction; set `direction` to \"higher\" or \"lower\"",
                claim.metric
            ));
        }
        let rows = |pattern: &str| -> Vec<&str> {
            loaded
                .rows
                .iter()
                .map(|r| r.name.as_str())
                .filter(|name| glob_match(pattern, name))
                .collect()
        };
        let (better, than) = (rows(&claim.better), rows(&claim.than));
        for (key, pattern, matched) in [
            ("better", &claim.better, &better),
            ("than", &claim.than, &than),
        ] {
            if matched.is_empty() {
                return fail(format!("{at}.{key}`: `{pattern}` matches no row"));
            }
        }
        if let Some(both) = better.iter().find(|name| than.contains(name)) {
            return fail(format!(
                "{at}.than`: row `{both}` is on both sides of the claim"
            ));
        }
    }
    Ok(())
}

/// `[report] columns` and `[[figure]]` entries name known columns, metrics and rows.
fn validate_report(loaded: &Loaded) -> Result<()> {
    let fail = |message: String| Err(Error::spec(&loaded.path, message));
    for (index, name) in loaded.raw.report.columns.iter().enumerate() {
        if Column::parse(name).is_none() {
            return fail(format!(
                "key `report.columns[{index}]`: unknown column `{name}`; allowed values: {}",
                Column::names().join(", ")
            ));
        }
    }
    if let Some(rule) = &loaded.raw.report.plateau {
        let per_epoch = Metric::parse(&format!("{}@1", rule.metric))
            .is_some_and(|m| m.is_final() && m.retrain_epoch().is_none());
        if !per_epoch {
            return fail(format!(
                "key `report.plateau.metric`: `{}` is not recorded after every training epoch; \
                 allowed values: {}",
                rule.metric,
                Metric::AccHardprune
            ));
        }
        if rule.epochs < 2 {
            return fail(format!(
                "key `report.plateau.epochs`: {} compares nothing; at least 2",
                rule.epochs
            ));
        }
        if !(rule.within.is_finite() && rule.within >= 0.0) {
            return fail(format!(
                "key `report.plateau.within`: {} must be a number >= 0",
                rule.within
            ));
        }
    }
    let mut ids = BTreeSet::new();
    for (index, figure) in loaded.raw.figure.iter().enumerate() {
        let at = format!("key `figure[{index}]");
        if !file_stem_ok(&figure.id) {
            return fail(format!(
                "{at}.id`: `{}` must be a file stem of letters, digits, `-`, `_` and `.`",
                figure.id
            ));
        }
        if !ids.insert(figure.id.as_str()) {
            return fail(format!("{at}.id`: duplicate figure id `{}`", figure.id));
        }
        if super::types::CLAIMS_FIGURE_IDS.contains(&figure.id.as_str())
            && !loaded.raw.claim.is_empty()
        {
            return fail(format!(
                "{at}.id`: `{}` is a claims figure of this spec; choose another id",
                figure.id
            ));
        }
        for pattern in &figure.rows {
            if !loaded.rows.iter().any(|r| glob_match(pattern, &r.name)) {
                return fail(format!("{at}.rows`: `{pattern}` matches no row"));
            }
        }
        let metric = figure.metric.as_deref();
        let kind = figure.kind.name();
        match figure.kind {
            FigureKind::Epochs => {
                if !metric
                    .and_then(Metric::parse)
                    .is_some_and(Metric::is_per_epoch)
                {
                    return fail(format!(
                        "{at}.metric`: kind `{kind}` needs a per-epoch metric; allowed values: {}",
                        Metric::per_epoch_keys().join(", ")
                    ));
                }
            }
            FigureKind::Retrain => {
                if metric.is_some_and(|m| Metric::parse(m) != Some(Metric::AccTest)) {
                    return fail(format!(
                        "{at}.metric`: kind `{kind}` always plots `{}`; remove the key",
                        Metric::AccTest
                    ));
                }
            }
            FigureKind::Tradeoff => {
                if !metric.and_then(Metric::parse).is_some_and(Metric::is_final) {
                    return fail(format!(
                        "{at}.metric`: kind `{kind}` needs a table metric; allowed values: {}",
                        Metric::final_names().join(", ")
                    ));
                }
            }
        }
    }
    Ok(())
}

fn validate_sparsity(path: &Path, at: &str, row: &RowSpec) -> Result<()> {
    let fail = |message: String| Err(Error::spec(path, format!("{at}: {message}")));
    let names = row.model.prunable_candidates();
    let method = row.method.name().name();
    match (row.method.prunes(), &row.sparsity) {
        // A count rule alone (e.g. from `[defaults]`) names no ratio: nothing to refuse.
        (false, Some(s)) if s.uniform.is_none() && s.per_layer.is_empty() && s.layers.is_none() => {
            return Ok(());
        }
        (false, Some(_)) => {
            return fail(format!(
                "key `sparsity`: method `{method}` prunes nothing; remove `sparsity` or choose a pruning method"
            ));
        }
        (false, None) => return Ok(()),
        (true, None) => {
            return fail(format!(
                "key `sparsity`: method `{method}` needs `sparsity.uniform` or `sparsity.per_layer`"
            ));
        }
        (true, Some(_)) => {}
    }
    let sparsity = row.sparsity.as_ref().expect("checked above");
    if sparsity.uniform.is_none() && sparsity.per_layer.is_empty() {
        return fail("key `sparsity`: give `uniform` or `per_layer`".into());
    }
    let check_ratio = |key: String, ratio: f64| -> Result<()> {
        if !(0.0..1.0).contains(&ratio) {
            return Err(Error::spec(
                path,
                format!("{at}: key `{key}`: {ratio} is outside [0, 1)"),
            ));
        }
        Ok(())
    };
    if let Some(ratio) = sparsity.uniform {
        check_ratio("sparsity.uniform".into(), ratio)?;
    }
    for (layer, ratio) in &sparsity.per_layer {
        check_ratio(format!("sparsity.per_layer.\"{layer}\""), *ratio)?;
        if !names.iter().any(|n| n == layer) {
            return fail(format!(
                "key `sparsity.per_layer.\"{layer}\"`: no such weight in {}; allowed values: {}",
                row.model.name(),
                names.join(", ")
            ));
        }
    }
    if let Some(patterns) = &sparsity.layers {
        if patterns.is_empty() {
            return fail(
                "key `sparsity.layers`: an empty list prunes nothing; name the layers to prune \
                 or leave the key out (the model's default layers)"
                    .into(),
            );
        }
        for pattern in patterns {
            if !names.iter().any(|n| glob_match(pattern, n)) {
                return fail(format!(
                    "key `sparsity.layers`: pattern `{pattern}` matches no weight of {}; weights: {}",
                    row.model.name(),
                    names.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// `train.snapshots` and `prune_at_epoch` name epochs of the row's own training. A row that
/// its profile does not select is not checked against its epochs: it never runs there, and a
/// budget row's epoch may lie beyond a shorter profile's training.
fn validate_snapshots(loaded: &Loaded, at: &str, row: &RowSpec) -> std::result::Result<(), String> {
    for (key, budget) in [("pretrain", &row.pretrain), ("retrain", &row.retrain)] {
        if !budget.snapshots.is_empty() {
            return Err(format!(
                "{at}: key `{key}.snapshots`: only the method's training (`train.snapshots`) \
                 keeps snapshots"
            ));
        }
    }
    let trains = row.method.trains();
    if row.prune_at_epoch.is_some() && !trains {
        return Err(format!(
            "{at}: key `prune_at_epoch`: method `{}` has no training stage to prune from",
            row.method.name().name()
        ));
    }
    if !trains || !loaded.row_selected(row) {
        return Ok(());
    }
    let epochs = row.train.epochs;
    let in_range = |e: usize| (1..=epochs).contains(&e);
    if let Some(&bad) = row.train.snapshots.iter().find(|&&e| !in_range(e)) {
        return Err(format!(
            "{at}: key `train.snapshots`: epoch {bad} is not an epoch of the row's training \
             (1..={epochs})"
        ));
    }
    if let Some(bad) = row.prune_at_epoch.filter(|&e| !in_range(e)) {
        return Err(format!(
            "{at}: key `prune_at_epoch`: epoch {bad} is not an epoch of the row's training \
             (1..={epochs})"
        ));
    }
    Ok(())
}
