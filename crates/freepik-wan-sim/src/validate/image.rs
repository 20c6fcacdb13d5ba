//! The one media input that may be inline: a base64 image (Wan 2.2's
//! `image`, the field the spec describes as "URL or base64"), checked the
//! way the contract states: JPEG, PNG or WebP, each side 240 to 8000 px, at
//! most 10 MB.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::is_http_url;

/// Largest accepted decoded image, in bytes (the contract's "10 MB").
pub(crate) const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// Smallest and largest accepted image side, in pixels.
const SIDE_PX: std::ops::RangeInclusive<usize> = 240..=8000;

/// An http(s) URL, or a base64 image within the limits.
pub(super) fn check_url_or_base64(image: &str) -> Result<(), String> {
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
