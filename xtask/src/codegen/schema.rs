//! Schema objects: the docs-rendering dialect converted to plain OpenAPI, and
//! the set of schema keywords the codegen understands.

use anyhow::Result;
use serde_json::{Map, Value};

use super::{object, only_keys};

/// Schema keywords the codegen understands (OpenAPI 3.0 schema objects).
pub const SCHEMA_KEYS: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "enum",
    "default",
    "description",
    "example",
    "format",
    "maxLength",
    "minLength",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "maxItems",
    "minItems",
    "pattern",
    "allOf",
    "$ref",
    "title",
    "nullable",
    "additionalProperties",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// Converts one schema of the docs rendering into a plain OpenAPI schema.
///
/// The rendering writes `requiredProperties` for `required`, tags hoisted
/// schemas with `refIdentifier` (dropped: the normalizer names schemas by their
/// role), and marks a required request body with `required: true` on the schema
/// itself (returned as the second value).
pub fn from_docs_rendering(value: &Value, at: &str) -> Result<(Value, bool)> {
    let map = object(value, at)?;
    let mut known: Vec<&str> = SCHEMA_KEYS.to_vec();
    known.extend(["requiredProperties", "refIdentifier"]);
    only_keys(map, &known, at)?;
    let mut out = Map::new();
    let mut body_required = false;
    for (key, v) in map {
        match key.as_str() {
            "refIdentifier" => {}
            "requiredProperties" => {
                out.insert("required".into(), v.clone());
            }
            "required" if v.is_boolean() => body_required = v == &Value::Bool(true),
            "properties" => {
                let mut props = Map::new();
                for (name, prop) in object(v, &format!("{at}.properties"))? {
                    let (prop, _) = from_docs_rendering(prop, &format!("{at}.properties.{name}"))?;
                    props.insert(name.clone(), prop);
                }
                out.insert(key.clone(), Value::Object(props));
            }
            "items" => {
                let (items, _) = from_docs_rendering(v, &format!("{at}.items"))?;
                out.insert(key.clone(), items);
            }
            "allOf" => {
                let mut members = Vec::new();
                for (i, member) in v.as_array().into_iter().flatten().enumerate() {
                    members.push(from_docs_rendering(member, &format!("{at}.allOf[{i}]"))?.0);
                }
                out.insert(key.clone(), Value::Array(members));
            }
            _ => {
                out.insert(key.clone(), v.clone());
            }
        }
    }
    Ok((Value::Object(out), body_required))
}

/// Checks that a plain OpenAPI schema uses only keywords the codegen knows.
pub fn check_standard(value: &Value, at: &str) -> Result<()> {
    let map = object(value, at)?;
    only_keys(map, SCHEMA_KEYS, at)?;
    if let Some(props) = map.get("properties") {
        for (name, prop) in object(props, &format!("{at}.properties"))? {
            check_standard(prop, &format!("{at}.properties.{name}"))?;
        }
    }
    if let Some(items) = map.get("items") {
        check_standard(items, &format!("{at}.items"))?;
    }
    for (i, member) in map
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_standard(member, &format!("{at}.allOf[{i}]"))?;
    }
    Ok(())
}
