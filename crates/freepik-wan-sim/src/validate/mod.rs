//! Validation of a create body against its model's entry in the table of
//! models (`freepik_wan_api::models::MODELS`, written from the spec at build
//! time): required fields, types, enums, ranges, lengths, list sizes, URLs;
//! then the rules the documentation states only in prose ([`prose`]), the
//! same ones the SDK checks, so what the SDK refuses the simulator refuses.
//!
//! Every bad field is reported at once, like Freepik's `invalid_params`, so a client sees
//! all of its mistakes in one round trip.

mod image;

use freepik_wan_api::models::{Field, ModelInfo};
use reqwest::Url;
use serde::Serialize;
use serde_json::Value;

#[cfg(test)]
pub(crate) use image::MAX_IMAGE_BYTES;

/// One entry of `invalid_params`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct InvalidParam {
    pub(crate) name: String,
    pub(crate) reason: String,
}

impl InvalidParam {
    fn new(name: &str, reason: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Why a create body was refused.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// Not JSON at all: a plain `{"message"}` 400.
    Malformed(String),
    /// JSON, but fields break the rules: a problem+json 400 listing them.
    Invalid(Vec<InvalidParam>),
}

/// The parts of a valid create body the simulator acts on.
#[derive(Debug)]
pub(crate) struct CreateRequest {
    pub(crate) webhook_url: Option<String>,
}

/// Checks a create body for `model` against every rule its spec and
/// documentation state.
pub(crate) fn validate_create(model: &ModelInfo, body: &[u8]) -> Result<CreateRequest, Rejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::Malformed("The request body is required.".into()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Rejection::Malformed(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(Rejection::Invalid(vec![InvalidParam::new(
            "body",
            "must be a JSON object",
        )]));
    };

    let mut invalid = Vec::new();
    for field in model.fields {
        let reason = match fields.get(field.name) {
            None if field.required => Some("is required".to_owned()),
            None => None,
            // The spec types every field (a string, an integer, ...) and null is none of
            // them; a client that means "unset" leaves the field out.
            Some(Value::Null) => Some(format!("must be {}, not null", article(field.ty))),
            Some(value) => check_field(field, value).err(),
        };
        if let Some(reason) = reason {
            invalid.push(InvalidParam::new(field.name, reason));
        }
    }
    for name in fields.keys() {
        if model.field(name).is_none() {
            invalid.push(InvalidParam::new(
                name,
                format!(
                    "is not a field of {}/{}; it takes {}",
                    model.kind,
                    model.segment,
                    model
                        .fields
                        .iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    // The prose rules (the SDK's own copy, in freepik_wan_api::prose) combine
    // fields: only once each field is right on its own, so a field is not
    // reported twice.
    if invalid.is_empty()
        && let Err(broken) = model.check_prose(&fields)
    {
        invalid.push(InvalidParam::new(broken.field, broken.reason));
    }

    if invalid.is_empty() {
        let webhook_url = fields
            .get("webhook_url")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(CreateRequest { webhook_url })
    } else {
        Err(Rejection::Invalid(invalid))
    }
}

/// "a string", "an integer", ... for a JSON type name.
fn article(ty: &str) -> String {
    match ty.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {ty}"),
        _ => format!("a {ty}"),
    }
}

/// `value` (not null) against what the spec states for `field`.
fn check_field(field: &Field, value: &Value) -> Result<(), String> {
    let fits = match field.ty {
        "string" => value.is_string(),
        // An integer the body's i64 can hold (the service's own integers are 64-bit).
        "integer" => value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !fits {
        return Err(match field.ty {
            "integer" => format!(
                "must be an integer between {} and {}",
                field.minimum.unwrap_or(i64::MIN),
                field.maximum.unwrap_or(i64::MAX)
            ),
            "string" if !field.values.is_empty() => one_of(field),
            ty => format!("must be {}", article(ty)),
        });
    }
    if !field.values.is_empty() {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        if !field.values.contains(&text.as_str()) {
            return Err(one_of(field));
        }
    }
    if let Some(n) = value.as_i64()
        && (field.minimum.is_some_and(|min| n < min) || field.maximum.is_some_and(|max| n > max))
    {
        return Err(format!(
            "must be an integer between {} and {}, got {n}",
            field.minimum.unwrap_or(i64::MIN),
            field.maximum.unwrap_or(i64::MAX)
        ));
    }
    if let Some(text) = value.as_str() {
        check_string(field, text)?;
    }
    if let Some(items) = value.as_array() {
        check_items(field, items)?;
    }
    if value.is_object() && !field.fields.is_empty() {
        check_members(field.fields, value)?;
    }
    Ok(())
}

fn one_of(field: &Field) -> String {
    let quoted: Vec<String> = field.values.iter().map(|v| format!("{v:?}")).collect();
    match quoted.as_slice() {
        [a, b] => format!("must be the string {a} or {b}"),
        _ => format!("must be one of {}", quoted.join(", ")),
    }
}

fn check_string(field: &Field, text: &str) -> Result<(), String> {
    if let Some(max) = field.max_length {
        let chars = text.chars().count() as u64;
        if chars > max {
            return Err(format!(
                "must be at most {max} characters long, got {chars}"
            ));
        }
    }
    if field.base64 {
        return image::check_url_or_base64(text);
    }
    // `image` is the start image (as the SDK names it): where the spec does not say
    // base64, the model fetches it from a public URL, though the spec types it as a
    // plain string.
    if (field.uri || field.name == "image") && !is_http_url(text) {
        return Err(if field.name == "image" {
            "must be a public http(s) URL (this model takes no base64 image)".into()
        } else {
            "must be an absolute http(s) URL".into()
        });
    }
    Ok(())
}

fn check_items(field: &Field, items: &[Value]) -> Result<(), String> {
    if let Some(max) = field.max_items
        && items.len() as u64 > max
    {
        return Err(format!("takes at most {max} items, got {}", items.len()));
    }
    for (i, item) in items.iter().enumerate() {
        if !field.fields.is_empty() {
            check_members(field.fields, item).map_err(|e| format!("item {i}: {e}"))?;
        } else if field.uri && !item.as_str().is_some_and(is_http_url) {
            return Err(format!("item {i} must be an absolute http(s) URL"));
        }
    }
    Ok(())
}

/// An object whose fields the spec lists (`additional_settings`, a reference
/// `{url, reference_voice}`): only those, each by its own rules, the required ones
/// present.
fn check_members(fields: &[Field], value: &Value) -> Result<(), String> {
    let names = || fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
    let Some(map) = value.as_object() else {
        return Err(format!("must be an object with {}", names()));
    };
    for field in fields {
        match map.get(field.name) {
            None if field.required => return Err(format!("{} is required", field.name)),
            None => {}
            Some(Value::Null) => {
                return Err(format!(
                    "{} must be {}, not null",
                    field.name,
                    article(field.ty)
                ));
            }
            Some(value) => check_field(field, value).map_err(|e| format!("{} {e}", field.name))?,
        }
    }
    match map
        .keys()
        .find(|key| !fields.iter().any(|f| f.name == *key))
    {
        Some(key) => Err(format!("{key:?} is not one of {}", names())),
        None => Ok(()),
    }
}

/// An absolute http or https URL with a host.
pub(crate) fn is_http_url(text: &str) -> bool {
    Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}
