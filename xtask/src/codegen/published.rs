//! Magnific's published OpenAPI 3.0 document: the excerpt of it the project
//! vendors (the Wan paths and every component they reference), and the Wan
//! operations and schemas taken from a document or an excerpt.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Map, Value};

use super::schema::check_standard;
use super::{Sources, endpoint, object, only_keys};

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Parses YAML (or JSON, a subset) into a JSON value.
pub fn parse_yaml(text: &str) -> Result<Value> {
    serde_yaml::from_str(text).context("not valid YAML")
}

fn check_version(top: &Map<String, Value>) -> Result<()> {
    let version = top.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.0") {
        bail!("openapi: `{version}`; only OpenAPI 3.0.x is supported (progenitor reads 3.0)");
    }
    Ok(())
}

/// The Wan paths of a document, in its order (selected by path: see
/// [`endpoint::parse`]).
fn wan_paths(top: &Map<String, Value>) -> Result<Vec<(&String, &Value)>> {
    let paths = object(top.get("paths").context("no `paths`")?, "paths")?;
    let wan: Vec<_> = paths
        .iter()
        .filter(|(path, _)| endpoint::parse(path).is_some())
        .collect();
    if wan.is_empty() {
        bail!(
            "no Wan path (/v1/ai/{{{}}}/wan-<major>-<minor>...) is in the document",
            endpoint::KINDS
                .iter()
                .map(|(k, _, _)| *k)
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    Ok(wan)
}

/// The part of a published document the codegen reads: its version, info,
/// servers and security, the Wan path items as published, and every component
/// they reference (schemas, examples, parameters, responses, request bodies),
/// directly or through other components, plus the security schemes. Keys keep
/// the document's order, so the same document gives the same excerpt.
pub fn excerpt(doc: &Value) -> Result<Value> {
    let top = object(doc, "document")?;
    check_version(top)?;
    let paths: Map<String, Value> = wan_paths(top)?
        .into_iter()
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    let components = top.get("components").and_then(Value::as_object);
    let mut wanted: Vec<(String, String)> = Vec::new();
    collect_component_refs(&Value::Object(paths.clone()), &mut wanted);
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    while let Some((kind, name)) = wanted.pop() {
        if !seen.insert((kind.clone(), name.clone())) {
            continue;
        }
        let target = components
            .and_then(|c| c.get(&kind))
            .and_then(|c| c.get(&name))
            .with_context(|| format!("$ref to components.{kind}.{name}, which is not defined"))?;
        collect_component_refs(target, &mut wanted);
    }
    let mut out_components = Map::new();
    for (kind, entries) in components.into_iter().flatten() {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        let kept: Map<String, Value> = entries
            .iter()
            .filter(|(name, _)| {
                kind == "securitySchemes" || seen.contains(&(kind.clone(), (*name).clone()))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            out_components.insert(kind.clone(), Value::Object(kept));
        }
    }
    let mut out = Map::new();
    for key in ["openapi", "info", "servers", "security"] {
        if let Some(v) = top.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out.insert("paths".into(), Value::Object(paths));
    out.insert("components".into(), Value::Object(out_components));
    Ok(Value::Object(out))
}

/// `(kind, name)` of every `#/components/{kind}/{name}` reference in `value`.
fn collect_component_refs(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some((kind, name)) = v
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/"))
                        .and_then(|r| r.split_once('/'))
                    {
                        out.push((kind.to_owned(), name.to_owned()));
                    }
                } else {
                    collect_component_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_component_refs(v, out)),
        _ => {}
    }
}

/// The Wan operations of an OpenAPI 3.0 document (or of its [`excerpt`]) and
/// every schema they reference, directly or through other schemas.
pub fn extract(doc: &Value, source: &str) -> Result<Sources> {
    let top = object(doc, "document")?;
    check_version(top)?;
    let operations = operations(top, wan_paths(top)?)?;
    let schemas = referenced_schemas(top, &operations, source)?;
    Ok(Sources {
        operations,
        schemas,
        ..Sources::default()
    })
}

/// Every operation of a service excerpt (uploads: no model paths), each of
/// which must name its own operationId, and the schemas they reference.
pub fn extract_service(doc: &Value, source: &str) -> Result<Sources> {
    let top = object(doc, "document")?;
    check_version(top)?;
    let paths = object(top.get("paths").context("no `paths`")?, "paths")?;
    let operations = operations(top, paths.iter().collect())?;
    for (path, method, op) in &operations {
        ensure!(
            op.get("operationId").and_then(Value::as_str).is_some(),
            "{method} {path}: a service operation needs an operationId"
        );
    }
    let schemas = referenced_schemas(top, &operations, source)?;
    Ok(Sources {
        service_operations: operations,
        schemas,
        ..Sources::default()
    })
}

/// `(path, method, operation)` of `paths`, with `$ref`s to parameters,
/// bodies and responses inlined and path-level parameters merged in.
fn operations(
    top: &Map<String, Value>,
    paths: Vec<(&String, &Value)>,
) -> Result<Vec<(String, String, Value)>> {
    let components = top.get("components").cloned().unwrap_or(Value::Null);
    let mut operations = Vec::new();
    for (path, item) in paths {
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
            operations.push((path.to_string(), method.to_string(), op));
        }
    }
    Ok(operations)
}

/// Every schema reachable from `operations`, then from those schemas, as
/// `(name, schema, source)`.
fn referenced_schemas(
    top: &Map<String, Value>,
    operations: &[(String, String, Value)],
    source: &str,
) -> Result<Vec<(String, Value, String)>> {
    let components = top.get("components").cloned().unwrap_or(Value::Null);
    let schemas = components.get("schemas").and_then(Value::as_object);
    let mut wanted: Vec<String> = Vec::new();
    for (_, _, op) in operations {
        collect_schema_refs(op, &mut wanted);
    }
    let mut found = Vec::new();
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
        found.push((name, schema.clone(), source.to_owned()));
    }
    Ok(found)
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
