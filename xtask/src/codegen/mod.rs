//! `cargo xtask codegen`: from Magnific's published OpenAPI document to the one
//! normalized OpenAPI 3.0.3 document that progenitor reads.
//!
//! `--from FILE` reads the published document, keeps its Wan paths and every
//! component they reference ([`published::excerpt`]) and vendors that excerpt
//! as [`EXCERPT`]; every run (and `--check`) then normalizes the vendored
//! excerpt ([`Sources::vendored`]), so the checked-in spec is always what the
//! repository's own files give. [`normalize`] makes the operations fit
//! progenitor. Anything not understood fails with the place it was found, so
//! an upstream change is never silently dropped.

pub mod copies;
mod endpoint;
mod normalize;
mod published;
mod schema;

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value};

pub use normalize::normalize;

/// The normalized document, relative to the workspace root.
pub const NORMALIZED: &str = "openapi/freepik-wan.json";

/// The vendored excerpt of the published document, relative to the workspace root.
pub const EXCERPT: &str = "openapi/upstream/magnific-wan.yaml";

/// The vendored excerpt of the operations the SDK uses besides the models'
/// (Magnific's Upload Files API), written by hand from the docs: the
/// published document does not have them.
pub const SERVICE_EXCERPT: &str = "openapi/upstream/magnific-uploads.yaml";

/// Upstream operations and schemas, in plain OpenAPI form, not yet normalized.
#[derive(Debug, Default)]
pub struct Sources {
    /// `(path, method, operation object)` in the order found.
    pub operations: Vec<(String, String, Value)>,
    /// Operations outside the models' paths (uploads), each with its own
    /// operationId and named schemas: `(path, method, operation object)`.
    pub service_operations: Vec<(String, String, Value)>,
    /// Named schemas, each with the source that defined it (for error messages).
    pub schemas: Vec<(String, Value, String)>,
    /// Where these came from, recorded in the normalized document (`x-sources`).
    pub origin: String,
}

impl Sources {
    /// The vendored excerpts under `root`: the models' and the service's.
    pub fn vendored(root: &Path) -> Result<Sources> {
        let mut sources = Sources::from_excerpt(&parse_excerpt(&read(&root.join(EXCERPT))?)?)?;
        let service = published::parse_yaml(&read(&root.join(SERVICE_EXCERPT))?)
            .and_then(|doc| published::extract_service(&doc, SERVICE_EXCERPT))
            .context(SERVICE_EXCERPT)?;
        sources.service_operations = service.service_operations;
        sources.schemas.extend(service.schemas);
        sources.origin = format!("{EXCERPT}, {SERVICE_EXCERPT}");
        Ok(sources)
    }

    /// The operations and schemas of an excerpt (or of a whole document).
    pub fn from_excerpt(doc: &Value) -> Result<Sources> {
        let mut sources = published::extract(doc, EXCERPT).context(EXCERPT)?;
        sources.origin = EXCERPT.into();
        Ok(sources)
    }
}

/// The excerpt of the published document in `file` (YAML 1.2 or JSON).
pub fn excerpt_of(file: &Path) -> Result<Value> {
    let name = file.display().to_string();
    published::parse_yaml(&read(file)?)
        .and_then(|doc| published::excerpt(&doc))
        .with_context(|| name)
}

/// Parses a vendored excerpt.
pub fn parse_excerpt(text: &str) -> Result<Value> {
    published::parse_yaml(text).context(EXCERPT)
}

/// The text written to [`EXCERPT`]: a header naming the document, then YAML
/// 1.2 as serde_yaml writes it. Like the published document, it leaves Wan
/// 2.7's `16:9` unquoted, which a YAML 1.1 reader (PyYAML) takes for the
/// sexagesimal integer 969: read it as YAML 1.2, as the header says.
pub fn render_excerpt(excerpt: &Value, from: &str) -> Result<String> {
    Ok(format!(
        "# The Wan paths of Magnific's published OpenAPI document ({from}) and every\n\
         # component they reference, as published. Written by `cargo xtask codegen --from`;\n\
         # do not edit by hand: `cargo xtask codegen` normalizes this into {NORMALIZED}.\n\
         # YAML 1.2: `16:9` is a string (a YAML 1.1 parser would read an integer).\n{}",
        serde_yaml::to_string(excerpt)?
    ))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The text written to [`NORMALIZED`]: pretty JSON with a final newline.
pub fn render(doc: &Value) -> Result<String> {
    Ok(serde_json::to_string_pretty(doc)? + "\n")
}

/// `--check`: whether `current` (the checked-in text) is what the sources
/// give (`wanted`), byte for byte. `Ok(verdict)` when it is, `Err(problem)` when not.
pub fn check(current: &str, wanted: &Value) -> Result<std::result::Result<String, String>> {
    let text = render(wanted)?;
    if current == text {
        return Ok(Ok(format!("{NORMALIZED} is up to date")));
    }
    Ok(Err(format!(
        "{NORMALIZED} is out of date with {EXCERPT}:\n{}\nrun `cargo xtask codegen` and commit the result",
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
