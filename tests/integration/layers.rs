//! The layer rule of ARCHITECTURE.md, read from the source: a module may use modules of lower
//! layers only, never one of its own layer or above (`main.rs` and `lib.rs` excepted).

use super::common::rust_files;
use std::collections::BTreeSet;
use std::path::Path;

/// Top-level modules, bottom layer first; modules on one line share a layer.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["base"],
    &["catalog", "metrics"],
    &["spec"],
    &["data", "models"],
    &["prune"],
    &["train"],
    &["perf"],
    &["run"],
    &["report"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a source file belongs to (`src/spec/load.rs` -> `spec`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

/// Every top-level module a file's text names through `crate::` (`crate::spec::X`,
/// `use crate::{data, models::Net}`), comments and doc links included: a doc link up a layer
/// is a dependency a reader follows too.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // A grouped use: the first identifier of each comma-separated item at depth 0.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        found.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

#[test]
fn the_grouped_use_parser_finds_every_module() {
    let text =
        "use crate::{\n    data::{self, Dataset},\n    error::Result,\n};\nx crate::spec::Run";
    let found: Vec<String> = crate_modules(text).into_iter().collect();
    assert_eq!(found, ["data", "error", "spec"]);
}

#[test]
fn no_module_uses_its_own_layer_or_one_above() {
    let src = super::common::root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        if module == "main" || module == "lib" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            violations.push(format!(
                "{}: module `{module}` has no layer",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in crate_modules(&text) {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer < own => {}
                Some(layer) => violations.push(format!(
                    "{}: `{module}` (layer {own}) uses `{used}` (layer {layer})",
                    file.strip_prefix(&src).unwrap().display()
                )),
                None => violations.push(format!(
                    "{}: uses `crate::{used}`, which has no layer",
                    file.strip_prefix(&src).unwrap().display()
                )),
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
