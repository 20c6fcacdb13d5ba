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
}

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
        Ok(sources)
    }

    /// Freepik's full published OpenAPI document (YAML or JSON).
    pub fn published(file: &Path) -> Result<Sources> {
        let text = read(file)?;
        let name = file.display().to_string();
        let doc = published::parse_yaml(&text).with_context(|| name.clone())?;
        published::extract(&doc, &name).with_context(|| name.clone())
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The text written to [`NORMALIZED`]: pretty JSON with a final newline.
pub fn render(doc: &Value) -> Result<String> {
    Ok(serde_json::to_string_pretty(doc)? + "\n")
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
