//! The image a video starts from: a file, bytes in memory, or an http(s) URL
//! the service fetches itself.
//!
//! The service takes JPEG, PNG or WebP, each side 240 to 8000 px, at most
//! 10 MiB. Files and bytes are checked against those rules before anything is
//! sent (by content, reading only the image header), so a wrong file fails at
//! once with a reason instead of as a failed task minutes later. URLs are
//! passed through untouched: the service fetches them.
//!
//! ```
//! use freepik_wan::ImageInput;
//!
//! let from_file = ImageInput::path("photo.jpg");
//! let from_memory = ImageInput::from(vec![0u8; 1234]);
//! let from_web = ImageInput::url("https://example.com/photo.jpg?token=abc")?;
//!
//! assert_eq!(from_file.describe(), "file photo.jpg");
//! assert_eq!(from_memory.describe(), "1234 bytes");
//! // The query string may hold a token, so logs never see it.
//! assert_eq!(from_web.describe(), "URL https://example.com/photo.jpg?…");
//! # Ok::<(), freepik_wan::Error>(())
//! ```

mod format;
mod limits;
mod source;

pub use format::{ImageFormat, inspect};
pub use limits::{MAX_IMAGE_BYTES, MAX_SIDE, MIN_SIDE};
pub use source::ImageInput;

use crate::Error;

/// The request field every image error names.
const FIELD: &str = "image";

fn invalid(reason: String) -> Error {
    Error::Validation {
        field: FIELD,
        reason,
    }
}

#[cfg(test)]
mod tests;
