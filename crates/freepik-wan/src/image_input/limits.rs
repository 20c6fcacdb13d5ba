//! The service's limits on images: bytes and pixels per side.

use super::format::sniff;
use super::invalid;
use crate::Error;

/// The largest image the service accepts, in bytes (10 MiB).
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// The shortest side the service accepts, in pixels.
pub const MIN_SIDE: u32 = 240;
/// The longest side the service accepts, in pixels.
pub const MAX_SIDE: u32 = 8000;

pub(super) fn check_image(raw: &[u8], subject: &str) -> Result<(), Error> {
    check_len(raw.len() as u64, subject)?;
    let (_, width, height) = sniff(raw).map_err(|why| invalid(format!("{subject} {why}")))?;
    let sides = MIN_SIDE..=MAX_SIDE;
    if !sides.contains(&width) || !sides.contains(&height) {
        return Err(invalid(format!(
            "{subject} is {width}x{height} px; each side must be {MIN_SIDE}–{MAX_SIDE} px"
        )));
    }
    Ok(())
}

pub(super) fn check_len(len: u64, subject: &str) -> Result<(), Error> {
    if len > MAX_IMAGE_BYTES {
        return Err(invalid(format!(
            "{subject} is {len} bytes; the limit is {MAX_IMAGE_BYTES} (10 MiB)"
        )));
    }
    Ok(())
}
