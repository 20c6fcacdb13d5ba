//! `cargo xtask codegen`: from the upstream documents to the one normalized
//! OpenAPI 3.0.3 document that progenitor reads.
//!
//! Two ways in, one way out:
//! - [`Sources::vendored`]: the seed page (the docs site's YAML rendering of the
//!   create operation) plus the project-written document for the two GETs;
//! - [`Sources::published`]: Freepik's full published OpenAPI document, from
//!   which the three Wan v2.2 580p operations are extracted.
//!
//! Both become plain OpenAPI operations and schemas ([`Sources`]), and
//! [`normalize`] makes them fit progenitor. Anything not understood fails with
//! the place it was found, so an upstream change is never silently dropped.

pub mod copies;
mod normalize;
mod published;
mod schema;
mod seed;
mod siblings;

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value};

pub use normalize::normalize;

/// The normalized document, relative to the workspace root.
pub const NORMALIZED: &str = "openapi/freepik-wan.json";

/// The seed page, vendored byte for byte.
pub const SEED_FILE: &str = "wan-v2-2-580p-create.seed.md";
/// The project-written document for the status and list operations.
pub const TASKS_FILE: &str = "wan-v2-2-580p-tasks.yaml";

/// Upstream operations and schemas, in plain OpenAPI form, not yet normalized.
#[derive(Debug, Default)]
pub struct Sources {
    /// `(path, method, operation object)` in the order found.
    pub operations: Vec<(String, String, Value)>,
    /// Named schemas, each with the source that defined it (for error messages).
    pub schemas: Vec<(String, Value, String)>,
    /// Where these came from, recorded in the normalized document (`x-sources`).
    pub origin: String,
}

/// [`Sources::origin`] of the vendored sources; any other origin is a
/// published document that is not in the repository.
pub const VENDORED_ORIGIN: &str = "openapi/upstream/";

impl Sources {
    /// The vendored seed page plus the project's own document for the GETs.
    pub fn vendored(dir: &Path) -> Result<Sources> {
        Sources::from_texts(&read(&dir.join(SEED_FILE))?, &read(&dir.join(TASKS_FILE))?)
    }

    /// [`Sources::vendored`] from the two documents' texts.
    pub fn from_texts(seed_text: &str, tasks_text: &str) -> Result<Sources> {
        let mut sources = seed::parse(seed_text).context(SEED_FILE)?;
        let tasks = published::parse_yaml(tasks_text)
            .and_then(|doc| published::extract(&doc, TASKS_FILE))
            .context(TASKS_FILE)?;
        sources.operations.extend(tasks.operations);
        sources.schemas.extend(tasks.schemas);
        sources.origin = VENDORED_ORIGIN.into();
        Ok(sources)
    }

    /// Freepik's full published OpenAPI document (YAML or JSON).
    pub fn published(file: &Path) -> Result<Sources> {
        let text = read(file)?;
        let name = file.display().to_string();
        let doc = published::parse_yaml(&text).with_context(|| name.clone())?;
        let mut sources = published::extract(&doc, &name).with_context(|| name.clone())?;
        let file_name = file
            .file_name()
            .map_or(name.clone(), |f| f.to_string_lossy().into());
        sources.origin = format!("published document {file_name}");
        Ok(sources)
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The text written to [`NORMALIZED`]: pretty JSON with a final newline.
pub fn render(doc: &Value) -> Result<String> {
    Ok(serde_json::to_string_pretty(doc)? + "\n")
}

/// Where a normalized document says it came from (its `info.x-sources`).
pub fn origin(doc: &Value) -> Option<&str> {
    doc["info"]["x-sources"].as_str()
}

/// The document's wire shape: what progenitor generates code from, without
/// the descriptive text (descriptions, summaries, titles, examples) or `info`.
/// Keys are sorted, so two shapes render alike whatever order they were built in.
pub fn shape(doc: &Value) -> Value {
    sort_keys(&serde_json::json!({
        "paths": normalize::structure(&doc["paths"]),
        "components": normalize::structure(&doc["components"]),
    }))
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: std::collections::BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, sort_keys(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// `--check`: whether `current` (the checked-in text) is what the sources
/// give (`wanted`). `Ok(Ok(verdict))` when it is, `Ok(Err(problem))` when not.
///
/// A spec written `--from` a published document (not in the repository)
/// cannot be remade byte for byte from `openapi/upstream/`: its descriptive
/// text is the document's. Checked against the vendored sources
/// (`against_vendored`), such a spec passes when the client's shape is the
/// same; everything else must match to the byte.
pub fn check(
    current: &str,
    wanted: &Value,
    against_vendored: bool,
) -> Result<std::result::Result<String, String>> {
    let text = render(wanted)?;
    if current == text {
        return Ok(Ok(format!("{NORMALIZED} is up to date")));
    }
    let checked_in: Option<Value> = serde_json::from_str(current).ok();
    if against_vendored
        && let Some(doc) = &checked_in
        && let Some(origin) = origin(doc).filter(|o| *o != VENDORED_ORIGIN)
    {
        if shape(doc) == shape(wanted) {
            return Ok(Ok(format!(
                "{NORMALIZED} is up to date in shape (its text comes from the {origin})"
            )));
        }
        return Ok(Err(format!(
            "{NORMALIZED} (from the {origin}) no longer has the shape openapi/upstream/ gives:\n{}\nrun `cargo xtask codegen` (or `--from` the newer document) and commit the result",
            first_difference(&render(&shape(doc))?, &render(&shape(wanted))?)
        )));
    }
    Ok(Err(format!(
        "{NORMALIZED} is out of date with its sources:\n{}\nrun `cargo xtask codegen` and commit the result",
        first_difference(current, &text)
    )))
}

/// A short description of where two renderings part, for `--check` output.
pub fn first_difference(current: &str, wanted: &str) -> String {
    if current.is_empty() {
        return format!("  {NORMALIZED} is missing or empty");
    }
    let mut a = current.lines();
    let mut b = wanted.lines();
    let mut line = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (x, y) => {
                return format!(
                    "  line {line}\n  checked in: {}\n  sources say: {}",
                    x.unwrap_or("<end of file>").trim(),
                    y.unwrap_or("<end of file>").trim()
                );
            }
        }
    }
}

/// Reads `value` as an object or fails naming `at`.
fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .with_context(|| format!("{at}: expected a mapping, found {value}"))
}

/// Fails naming the first key of `map` that is not in `known`.
fn only_keys(map: &Map<String, Value>, known: &[&str], at: &str) -> Result<()> {
    if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
        anyhow::bail!("{at}: unsupported key `{key}` (the codegen does not know what it means)");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
