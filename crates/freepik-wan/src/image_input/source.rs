//! Where an image comes from (a file, bytes or a URL) and how it becomes the
//! `image` field of the request.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use tokio::io::AsyncReadExt as _;

use super::limits::{MAX_IMAGE_BYTES, check_image, check_len};
use super::{FIELD, invalid};
use crate::Error;
use crate::http_url;

/// The image a video starts from: a file path, bytes in memory, or an
/// http(s) URL.
///
/// Build one with [`path`](Self::path), [`bytes`](Self::bytes),
/// [`url`](Self::url) or `From`/`TryFrom`. Files are read only when the task
/// is created, and then sent as base64; URLs are sent as they are.
///
/// `Debug` and [`describe`](Self::describe) never show image bytes or a URL's
/// query string.
#[derive(Clone)]
pub struct ImageInput(Source);

#[derive(Clone)]
enum Source {
    Path(PathBuf),
    Bytes(Bytes),
    Url {
        /// What the caller wrote (trimmed): sent as is, since a re-serialized
        /// URL could break a signed query string.
        wire: String,
        /// Scheme, host and path only.
        shown: String,
    },
    /// A string that looked like a URL but is not a usable one; reported by
    /// create, before anything is sent, like every other input problem.
    Invalid(String),
}

impl ImageInput {
    /// An image file, read when the task is created.
    ///
    /// Nothing touches the file system here; a missing file is reported by
    /// the create call, before any request is sent.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        ImageInput(Source::Path(path.into()))
    }

    /// An image already in memory (the encoded file, not decoded pixels).
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        ImageInput(Source::Bytes(bytes.into()))
    }

    /// An image the service downloads itself. It must be reachable from the
    /// internet; the SDK does not fetch or check it.
    ///
    /// Surrounding whitespace is trimmed, and the URL is sent as a valid URI,
    /// as a browser sends it: spaces and non-ASCII characters
    /// percent-encoded, the host in IDNA; escapes already there are kept.
    ///
    /// ```
    /// use freepik_wan::ImageInput;
    ///
    /// assert!(ImageInput::url("https://example.com/cat.png").is_ok());
    /// assert!(ImageInput::url("ftp://example.com/cat.png").is_err());
    /// assert!(ImageInput::url("cat.png").is_err()); // a file? use ImageInput::path
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] (field `image`) unless it is an absolute `http`
    /// or `https` URL with a host.
    pub fn url(url: &str) -> Result<Self, Error> {
        let wire = url.trim();
        let parsed = url::Url::parse(wire).map_err(|err| {
            invalid(format!(
                "{:?} is not an absolute http(s) URL ({err}); for a local file use ImageInput::path",
                http_url::strip_query(wire)
            ))
        })?;
        http_url::check(&parsed, FIELD)?;
        Ok(ImageInput(Source::Url {
            wire: parsed.to_string(),
            shown: http_url::shown(&parsed),
        }))
    }

    /// A short description for logs and progress output: `"file photo.jpg"`,
    /// `"1234 bytes"` or `"URL https://host/path"` (a query string, which may
    /// hold a token, shows as `?…`).
    pub fn describe(&self) -> String {
        match &self.0 {
            Source::Path(path) => format!("file {}", path.display()),
            Source::Bytes(bytes) => format!("{} bytes", bytes.len()),
            Source::Url { shown, .. } => format!("URL {shown}"),
            Source::Invalid(_) => "an invalid image URL".to_owned(),
        }
    }

    /// The same input as a [`Media`](crate::Media) (an unusable URL stays
    /// one, and is refused where it is checked).
    pub(crate) fn into_media(self) -> crate::Media {
        match self.0 {
            Source::Path(path) => crate::Media::Path(path),
            Source::Bytes(bytes) => crate::Media::Bytes(bytes),
            Source::Url { wire, .. } => crate::Media::Url(wire),
            Source::Invalid(raw) => crate::Media::Url(raw),
        }
    }

    /// What create sends in the `image` field: the URL as written, or the
    /// image's bytes as plain standard base64 (no `data:` prefix).
    ///
    /// With `check`, files and bytes must be JPEG, PNG or WebP by content,
    /// each side within [`MIN_SIDE`]..=[`MAX_SIDE`], and at most
    /// [`MAX_IMAGE_BYTES`]; a file's size is checked from its metadata before
    /// it is read. Without it (the caller's explicit opt-out) only the file's
    /// existence is checked.
    /// The checks [`into_wire`](Self::into_wire) makes, without encoding.
    pub(crate) async fn check(&self, check: bool) -> Result<(), Error> {
        match &self.0 {
            Source::Url { .. } => Ok(()),
            Source::Invalid(reason) => Err(invalid(reason.clone())),
            Source::Path(path) => {
                let raw = read_file(path, check).await?;
                if check {
                    check_image(&raw, &format!("file {}", path.display()))?;
                }
                Ok(())
            }
            Source::Bytes(bytes) if check => check_image(bytes, "the image"),
            Source::Bytes(_) => Ok(()),
        }
    }

    pub(crate) async fn into_wire(self, check: bool) -> Result<String, Error> {
        match self.0 {
            Source::Url { wire, .. } => Ok(wire),
            Source::Invalid(reason) => Err(invalid(reason)),
            Source::Path(path) => {
                let raw = read_file(&path, check).await?;
                if check {
                    check_image(&raw, &format!("file {}", path.display()))?;
                }
                Ok(encode(raw))
            }
            Source::Bytes(bytes) => {
                if check {
                    check_image(&bytes, "the image")?;
                }
                Ok(encode(bytes))
            }
        }
    }
}

/// Takes the bytes by value so they are freed as soon as the base64 exists,
/// keeping the peak at the raw size plus its encoding.
fn encode(raw: impl AsRef<[u8]>) -> String {
    STANDARD.encode(raw.as_ref())
}

impl fmt::Debug for ImageInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Path(path) => f.debug_tuple("ImageInput::Path").field(path).finish(),
            Source::Bytes(bytes) => write!(f, "ImageInput::Bytes({} bytes)", bytes.len()),
            Source::Url { shown, .. } => f.debug_tuple("ImageInput::Url").field(shown).finish(),
            Source::Invalid(_) => f.write_str("ImageInput::Invalid"),
        }
    }
}

/// A string starting with `http://` or `https://` is a URL; anything else is a
/// file path. A malformed URL is reported by create, before anything is sent.
///
/// ```
/// use freepik_wan::ImageInput;
///
/// assert_eq!(ImageInput::from("photos/cat.jpg").describe(), "file photos/cat.jpg");
/// assert_eq!(ImageInput::from("https://example.com/cat.jpg?sig=x").describe(), "URL https://example.com/cat.jpg?…");
/// ```
impl From<&str> for ImageInput {
    fn from(value: &str) -> Self {
        let lower = value
            .trim_start()
            .get(..8)
            .unwrap_or("")
            .to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            match ImageInput::url(value) {
                Ok(input) => input,
                Err(err) => ImageInput(Source::Invalid(match err {
                    Error::Validation { reason, .. } => reason,
                    other => other.to_string(),
                })),
            }
        } else {
            ImageInput::path(value)
        }
    }
}

/// As for `&str`: a URL when it starts with `http://` or `https://`, else a path.
impl From<String> for ImageInput {
    fn from(value: String) -> Self {
        ImageInput::from(value.as_str())
    }
}

impl From<&Path> for ImageInput {
    fn from(path: &Path) -> Self {
        ImageInput::path(path)
    }
}

impl From<PathBuf> for ImageInput {
    fn from(path: PathBuf) -> Self {
        ImageInput::path(path)
    }
}

impl From<&PathBuf> for ImageInput {
    fn from(path: &PathBuf) -> Self {
        ImageInput::path(path.as_path())
    }
}

impl From<Vec<u8>> for ImageInput {
    fn from(bytes: Vec<u8>) -> Self {
        ImageInput::bytes(bytes)
    }
}

impl From<Bytes> for ImageInput {
    fn from(bytes: Bytes) -> Self {
        ImageInput::bytes(bytes)
    }
}

/// `TryFrom` rather than `From`: a [`url::Url`] may be `ftp:`, `file:` or
/// `data:`, which the service does not fetch.
impl TryFrom<url::Url> for ImageInput {
    type Error = Error;

    fn try_from(url: url::Url) -> Result<Self, Error> {
        http_url::check(&url, FIELD)?;
        let shown = http_url::shown(&url);
        Ok(ImageInput(Source::Url {
            wire: url.into(),
            shown,
        }))
    }
}

async fn read_file(path: &Path, check: bool) -> Result<Vec<u8>, Error> {
    let subject = format!("file {}", path.display());
    let io_error = |source| Error::Io {
        action: "reading the image",
        path: path.to_owned(),
        source,
    };
    let meta = tokio::fs::metadata(path).await.map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            invalid(format!("{subject} does not exist"))
        } else {
            io_error(err)
        }
    })?;
    if meta.is_dir() {
        return Err(invalid(format!(
            "{subject} is a directory, not an image file"
        )));
    }
    if !meta.is_file() {
        return Err(invalid(format!("{subject} is not a regular file")));
    }
    if check {
        // From metadata, so an oversized file is refused without reading it.
        check_len(meta.len(), &subject)?;
    }
    let file = tokio::fs::File::open(path).await.map_err(io_error)?;
    // Exact capacity: no reallocation (and no transient double) while
    // reading. Fallible, so an unchecked huge file is an error, not an abort.
    let mut raw = Vec::new();
    raw.try_reserve_exact(usize::try_from(meta.len()).unwrap_or(usize::MAX))
        .map_err(|_| {
            io_error(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!("{} bytes do not fit in memory", meta.len()),
            ))
        })?;
    let read = if check {
        // One byte past the limit is enough to tell that the file grew.
        file.take(MAX_IMAGE_BYTES + 1).read_to_end(&mut raw).await
    } else {
        let mut file = file;
        file.read_to_end(&mut raw).await
    };
    read.map_err(io_error)?;
    Ok(raw)
}
