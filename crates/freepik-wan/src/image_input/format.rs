//! Telling JPEG, PNG and WebP apart by content, and reading their size from
//! the header.

use std::fmt;
use std::io::Cursor;

use super::invalid;
use crate::Error;

/// The format of an image, as read from its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageFormat {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47`).
    Png,
    /// WebP (`RIFF....WEBP`), lossy, lossless or extended.
    Webp,
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
            ImageFormat::Webp => "WebP",
        })
    }
}

/// Identifies an image by its content and reads its width and height from
/// the header, without decoding the pixels.
///
/// This says what the image is; it does not apply the service's size limits
/// (create does that).
///
/// ```
/// use freepik_wan::image_input::{ImageFormat, inspect};
///
/// // A PNG's signature and IHDR chunk: 640x480.
/// let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
/// png.extend_from_slice(&640u32.to_be_bytes());
/// png.extend_from_slice(&480u32.to_be_bytes());
/// png.extend_from_slice(&[8, 2, 0, 0, 0]);
/// assert_eq!(inspect(&png)?, (ImageFormat::Png, 640, 480));
///
/// let err = inspect(b"GIF89a\x10\x00\x10\x00\x00\x00\x00").unwrap_err();
/// assert!(err.to_string().contains("looks like GIF"));
/// # Ok::<(), freepik_wan::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Validation`] (field `image`) if it is not JPEG, PNG or WebP, or
/// its header is too short or corrupt to give a size.
pub fn inspect(bytes: &[u8]) -> Result<(ImageFormat, u32, u32), Error> {
    sniff(bytes).map_err(|why| invalid(format!("the data {why}")))
}

/// The reason is a predicate ("is not JPEG, ...") so that callers can put
/// their own subject in front.
pub(super) fn sniff(bytes: &[u8]) -> Result<(ImageFormat, u32, u32), String> {
    let mut cursor = Cursor::new(bytes);
    let kind = imagesize::reader_type(&mut cursor).map_err(|_| not_an_image(bytes))?;
    let format = match kind {
        imagesize::ImageType::Jpeg => ImageFormat::Jpeg,
        imagesize::ImageType::Png => ImageFormat::Png,
        imagesize::ImageType::Webp => ImageFormat::Webp,
        other => {
            return Err(format!(
                "is not JPEG, PNG or WebP (looks like {})",
                other_name(other)
            ));
        }
    };
    // `reader_type` left the cursor where the format's size reader expects it.
    let size = kind.reader_size(&mut cursor).map_err(|_| {
        format!(
            "looks like {format} but its header is truncated or corrupt (no width and height found)"
        )
    })?;
    let side = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok((format, side(size.width), side(size.height)))
}

fn not_an_image(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "is empty".to_owned();
    }
    let head = &bytes[..bytes.len().min(512)];
    // The 512-byte cut may split a character; only a bad byte before the end
    // means binary.
    let text = match std::str::from_utf8(head) {
        Ok(text) => Some(text),
        Err(err) if err.error_len().is_none() => {
            std::str::from_utf8(&head[..err.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    let looks_like = if text.is_some_and(|s| {
        s.chars()
            .all(|c| !c.is_control() || c.is_ascii_whitespace())
    }) {
        "looks like text"
    } else {
        "not a known image format"
    };
    format!("is not JPEG, PNG or WebP ({looks_like})")
}

fn other_name(kind: imagesize::ImageType) -> String {
    use imagesize::ImageType as T;
    match kind {
        T::Gif => "GIF".to_owned(),
        T::Bmp => "BMP".to_owned(),
        T::Tiff => "TIFF".to_owned(),
        T::Heif(_) => "HEIF/AVIF".to_owned(),
        T::Ico => "ICO".to_owned(),
        T::Jxl => "JPEG XL".to_owned(),
        T::Psd => "PSD".to_owned(),
        T::Qoi => "QOI".to_owned(),
        T::Exr => "OpenEXR".to_owned(),
        T::Tga => "TGA".to_owned(),
        other => format!("{other:?}"),
    }
}
