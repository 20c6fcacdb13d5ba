//! Validation of the create body, by the contract's rules rather than any SDK's reading.
//!
//! Every bad field is reported at once, like Freepik's `invalid_params`, so a client sees
//! all of its mistakes in one round trip.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use serde::Serialize;
use serde_json::{Map, Value};

/// Largest accepted decoded image, in bytes (the contract's "10 MB").
pub(crate) const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// Smallest and largest accepted image side, in pixels.
const SIDE_PX: std::ops::RangeInclusive<usize> = 240..=8000;
const MAX_PROMPT_CHARS: usize = 2000;
const DURATIONS: [&str; 2] = ["5", "10"];
const ASPECT_RATIOS: [&str; 5] = [
    "auto",
    "widescreen_16_9",
    "social_story_9_16",
    "square_1_1",
    "classic_4_3",
];

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

/// Checks a create body against every rule of the contract.
pub(crate) fn validate_create(body: &[u8]) -> Result<CreateRequest, Rejection> {
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
    check_image(&fields, &mut invalid);
    if let Some(prompt) = optional_string(&fields, "prompt", &mut invalid) {
        let chars = prompt.chars().count();
        if chars > MAX_PROMPT_CHARS {
            invalid.push(InvalidParam::new(
                "prompt",
                format!("must be at most {MAX_PROMPT_CHARS} characters long, got {chars}"),
            ));
        }
    }
    if let Some(duration) = present(&fields, "duration", "a string", &mut invalid)
        && !duration.as_str().is_some_and(|d| DURATIONS.contains(&d))
    {
        invalid.push(InvalidParam::new(
            "duration",
            "must be the string \"5\" or \"10\"",
        ));
    }
    if let Some(ratio) = present(&fields, "aspect_ratio", "a string", &mut invalid)
        && !ratio.as_str().is_some_and(|r| ASPECT_RATIOS.contains(&r))
    {
        invalid.push(InvalidParam::new(
            "aspect_ratio",
            format!("must be one of {}", ASPECT_RATIOS.join(", ")),
        ));
    }
    if let Some(seed) = present(&fields, "seed", "an integer", &mut invalid)
        && seed.as_i64().is_none()
    {
        invalid.push(InvalidParam::new(
            "seed",
            "must be an integer between -9223372036854775808 and 9223372036854775807",
        ));
    }
    let webhook_url = optional_string(&fields, "webhook_url", &mut invalid).and_then(|url| {
        if is_http_url(url) {
            Some(url.to_owned())
        } else {
            invalid.push(InvalidParam::new(
                "webhook_url",
                "must be an absolute http(s) URL",
            ));
            None
        }
    });

    if invalid.is_empty() {
        Ok(CreateRequest { webhook_url })
    } else {
        Err(Rejection::Invalid(invalid))
    }
}

/// An optional field's value. JSON `null` is not absent: the contract types every field
/// (a string, an integer) and null is neither, so it is refused naming the field, as
/// Freepik's own schema does; a client that means "unset" leaves the field out.
fn present<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    kind: &str,
    invalid: &mut Vec<InvalidParam>,
) -> Option<&'a Value> {
    let value = fields.get(name)?;
    if value.is_null() {
        invalid.push(InvalidParam::new(name, format!("must be {kind}, not null")));
        return None;
    }
    Some(value)
}

/// An optional string field, reporting a wrong type.
fn optional_string<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    invalid: &mut Vec<InvalidParam>,
) -> Option<&'a str> {
    let value = present(fields, name, "a string", invalid)?;
    let text = value.as_str();
    if text.is_none() {
        invalid.push(InvalidParam::new(name, "must be a string"));
    }
    text
}

fn check_image(fields: &Map<String, Value>, invalid: &mut Vec<InvalidParam>) {
    if !fields.contains_key("image") {
        invalid.push(InvalidParam::new("image", "is required"));
        return;
    }
    let Some(value) = present(fields, "image", "a string", invalid) else {
        return;
    };
    let Some(image) = value.as_str() else {
        invalid.push(InvalidParam::new("image", "must be a string"));
        return;
    };
    if let Err(reason) = check_image_string(image) {
        invalid.push(InvalidParam::new("image", reason));
    }
}

fn check_image_string(image: &str) -> Result<(), String> {
    let lower = image.get(..8).unwrap_or(image).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        // The simulator never fetches it: a well-formed URL is all it can check.
        return if is_http_url(image) {
            Ok(())
        } else {
            Err("is not a valid http(s) URL".into())
        };
    }
    if image.is_empty() {
        return Err("must be an http(s) URL or a base64-encoded image".into());
    }
    // Check the size before decoding, so a huge string is refused without a huge buffer.
    let decoded_upper_bound = image.len() / 4 * 3;
    if decoded_upper_bound > MAX_IMAGE_BYTES + 2 {
        return Err(format!(
            "the image must be at most {MAX_IMAGE_BYTES} bytes (10 MiB)"
        ));
    }
    let bytes = STANDARD.decode(image).map_err(|_| {
        "must be an http(s) URL or standard base64 (with padding) of a JPEG, PNG or WebP image"
            .to_owned()
    })?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(format!(
            "the image must be at most {MAX_IMAGE_BYTES} bytes (10 MiB), got {}",
            bytes.len()
        ));
    }
    match imagesize::image_type(&bytes) {
        Ok(imagesize::ImageType::Jpeg | imagesize::ImageType::Png | imagesize::ImageType::Webp) => {
        }
        _ => return Err("the image must be a JPEG, PNG or WebP".into()),
    }
    let size = imagesize::blob_size(&bytes)
        .map_err(|_| "the image data is truncated or corrupt".to_owned())?;
    if !SIDE_PX.contains(&size.width) || !SIDE_PX.contains(&size.height) {
        return Err(format!(
            "each side of the image must be 240 to 8000 px, got {}x{}",
            size.width, size.height
        ));
    }
    Ok(())
}

/// An absolute http or https URL with a host.
pub(crate) fn is_http_url(text: &str) -> bool {
    Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}
