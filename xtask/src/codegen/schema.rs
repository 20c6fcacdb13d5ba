//! The schema keywords the codegen understands.

use anyhow::{Result, bail};
use serde_json::Value;

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

/// Checks that a plain OpenAPI schema uses only keywords the codegen knows.
pub fn check_standard(value: &Value, at: &str) -> Result<()> {
    let map = object(value, at)?;
    only_keys(map, &[SCHEMA_KEYS, &["anyOf"]].concat(), at)?;
    // Wan 2.7's i2v and r2v bodies carry `anyOf: []`, which says nothing
    // (the normalizer drops it); a real choice of shapes is not supported.
    if let Some(any_of) = map.get("anyOf")
        && any_of.as_array().is_none_or(|a| !a.is_empty())
    {
        bail!("{at}: `anyOf` with members is not supported (only the empty `anyOf: []`)");
    }
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
