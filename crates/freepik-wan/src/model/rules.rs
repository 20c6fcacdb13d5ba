//! The checks on a create body: each field against what the spec states for
//! it (from the table of models), then the rules the documentation states
//! only in prose, keyed on the fields a model has (not on family names), so
//! a new tier of a family gets its family's rules.

use serde_json::{Map, Value};

use freepik_wan_api::models::Field;

use super::Model;
use crate::error::{Error, Result};

pub use freepik_wan_api::prose::MAX_REFERENCES;

/// `value` against `field`'s type, enum, range, length, list size and URL rule.
pub(super) fn check_field(model: Model, field: &'static Field, value: &Value) -> Result<()> {
    let refuse = |reason: String| {
        Err(Error::Validation {
            field: field.name,
            reason,
        })
    };
    let fits = match field.ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !fits {
        return refuse(format!("{model} takes a {} here, not {value}", field.ty));
    }
    if !field.values.is_empty() {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        if !field.values.contains(&text.as_str()) {
            return refuse(format!(
                "{text:?} is not one of {model}'s: {}",
                field.values.join(", ")
            ));
        }
    }
    if let Some(n) = value.as_i64() {
        if let Some(min) = field.minimum
            && n < min
        {
            return refuse(format!("{n} is below {model}'s least, {min}"));
        }
        if let Some(max) = field.maximum
            && n > max
        {
            return refuse(format!("{n} is above {model}'s greatest, {max}"));
        }
    }
    if let (Some(text), Some(max)) = (value.as_str(), field.max_length) {
        let chars = text.chars().count() as u64;
        if chars > max {
            return refuse(format!("is {chars} characters; {model}'s limit is {max}"));
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(max) = field.max_items
            && items.len() as u64 > max
        {
            return refuse(format!(
                "has {} items; {model} takes at most {max}",
                items.len()
            ));
        }
        for item in items {
            // A reference object's own URLs are checked like a plain URL item.
            let urls: Vec<&Value> = match item {
                Value::Object(map) => map.values().collect(),
                other => vec![other],
            };
            if field.uri || item.is_object() {
                for url in urls {
                    check_url(field.name, url)?;
                }
            }
        }
    } else if field.uri {
        check_url(field.name, value)?;
    }
    Ok(())
}

fn check_url(field: &'static str, value: &Value) -> Result<()> {
    match value.as_str() {
        Some(url) => crate::http_url::parse(url, field).map(drop),
        None => Err(Error::Validation {
            field,
            reason: format!("takes URLs, not {value}"),
        }),
    }
}

/// The rules said only in prose: the one copy in the raw crate, which the
/// simulator uses too.
pub(super) fn check_prose(model: Model, body: &Map<String, Value>) -> Result<()> {
    model
        .info()
        .check_prose(body)
        .map_err(|broken| Error::Validation {
            field: broken.field,
            reason: broken.reason,
        })
}
