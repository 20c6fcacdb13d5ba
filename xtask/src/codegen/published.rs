//! Plain OpenAPI 3.0 documents: Freepik's full published description (from
//! which the three Wan v2.2 580p operations are extracted) and the project's
//! own document for the GET operations.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use super::schema::check_standard;
use super::{Sources, object, only_keys};

/// The Wan v2.2 580p paths; every other path of a full document is skipped.
pub const WAN_PATHS: &[&str] = &[
    "/v1/ai/image-to-video/wan-v2-2-580p",
    "/v1/ai/image-to-video/wan-v2-2-580p/{task-id}",
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Parses YAML (or JSON, a subset) into a JSON value.
pub fn parse_yaml(text: &str) -> Result<Value> {
    serde_yaml::from_str(text).context("not valid YAML")
}

/// The Wan v2.2 580p operations of an OpenAPI 3.0 document and every schema
/// they reference, directly or through other schemas.
pub fn extract(doc: &Value, source: &str) -> Result<Sources> {
    let top = object(doc, "document")?;
    let version = top.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.0") {
        bail!("openapi: `{version}`; only OpenAPI 3.0.x is supported (progenitor reads 3.0)");
    }
    let paths = object(top.get("paths").context("no `paths`")?, "paths")?;
    let components = top.get("components").cloned().unwrap_or(Value::Null);

    let mut sources = Sources::default();
    for path in WAN_PATHS {
        let Some(item) = paths.get(*path) else {
            continue;
        };
        let at = format!("paths.{path}");
        let item = object(item, &at)?;
        only_keys(
            item,
            &[METHODS, &["parameters", "summary", "description"]].concat(),
            &at,
        )?;
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let at = format!("{at}.{method}");
            let mut op = inline_refs(op, &components, &at)?;
            let op_map = op.as_object_mut().context("operation is not a mapping")?;
            only_keys(
                op_map,
                &[
                    "operationId",
                    "summary",
                    "description",
                    "parameters",
                    "requestBody",
                    "responses",
                    "tags",
                    "security",
                    "deprecated",
                ],
                &at,
            )?;
            if let Some(shared) = item.get("parameters") {
                let shared = inline_refs(shared, &components, &at)?;
                let params = op_map
                    .entry("parameters")
                    .or_insert_with(|| Value::Array(vec![]));
                if let (Some(list), Some(extra)) = (params.as_array_mut(), shared.as_array()) {
                    list.extend(extra.iter().cloned());
                }
            }
            sources
                .operations
                .push((path.to_string(), method.to_string(), op));
        }
    }
    if sources.operations.is_empty() {
        bail!(
            "none of the Wan v2.2 580p paths ({}) is in the document",
            WAN_PATHS.join(", ")
        );
    }

    // Every schema reachable from the operations, then from those schemas.
    let schemas = components.get("schemas").and_then(Value::as_object);
    let mut wanted: Vec<String> = Vec::new();
    for (_, _, op) in &sources.operations {
        collect_schema_refs(op, &mut wanted);
    }
    let mut seen = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let schema = schemas
            .and_then(|s| s.get(&name))
            .with_context(|| format!("$ref to components.schemas.{name}, which is not defined"))?;
        check_standard(schema, &format!("components.schemas.{name}"))?;
        collect_schema_refs(schema, &mut wanted);
        sources
            .schemas
            .push((name, schema.clone(), source.to_owned()));
    }
    Ok(sources)
}

/// Replaces `$ref`s to parameters, request bodies and responses with what they
/// point at; drops example references, which the client does not use.
fn inline_refs(value: &Value, components: &Value, at: &str) -> Result<Value> {
    Ok(match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                for kind in ["parameters", "requestBodies", "responses"] {
                    let prefix = format!("#/components/{kind}/");
                    if let Some(name) = r.strip_prefix(&prefix) {
                        let target = components
                            .get(kind)
                            .and_then(|c| c.get(name))
                            .with_context(|| format!("{at}: dangling $ref {r}"))?;
                        return inline_refs(target, components, at);
                    }
                }
            }
            let mut out = Map::new();
            for (k, v) in map {
                if k == "examples" {
                    continue;
                }
                out.insert(k.clone(), inline_refs(v, components, &format!("{at}.{k}"))?);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| inline_refs(v, components, &format!("{at}[{i}]")))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

/// Names of the component schemas `value` references.
pub fn collect_schema_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(name) = v
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    {
                        out.push(name.to_owned());
                    }
                } else {
                    collect_schema_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_schema_refs(v, out)),
        _ => {}
    }
}
