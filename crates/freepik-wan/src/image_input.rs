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

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use tokio::io::AsyncReadExt as _;

use crate::Error;
use crate::http_url;

/// The largest image the service accepts, in bytes (10 MiB).
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// The shortest side the service accepts, in pixels.
pub const MIN_SIDE: u32 = 240;
/// The longest side the service accepts, in pixels.
pub const MAX_SIDE: u32 = 8000;

const FIELD: &str = "image";

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
    /// Surrounding whitespace is trimmed; otherwise the URL is sent exactly
    /// as written.
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
            wire: wire.to_owned(),
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

    /// What create sends in the `image` field: the URL as written, or the
    /// image's bytes as plain standard base64 (no `data:` prefix).
    ///
    /// With `check`, files and bytes must be JPEG, PNG or WebP by content,
    /// each side within [`MIN_SIDE`]..=[`MAX_SIDE`], and at most
    /// [`MAX_IMAGE_BYTES`]; a file's size is checked from its metadata before
    /// it is read. Without it (the caller's explicit opt-out) only the file's
    /// existence is checked.
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

fn invalid(reason: String) -> Error {
    Error::Validation {
        field: FIELD,
        reason,
    }
}

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
fn sniff(bytes: &[u8]) -> Result<(ImageFormat, u32, u32), String> {
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

fn check_image(raw: &[u8], subject: &str) -> Result<(), Error> {
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

fn check_len(len: u64, subject: &str) -> Result<(), Error> {
    if len > MAX_IMAGE_BYTES {
        return Err(invalid(format!(
            "{subject} is {len} bytes; the limit is {MAX_IMAGE_BYTES} (10 MiB)"
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend_from_slice(&13u32.to_be_bytes());
        out.extend_from_slice(b"IHDR");
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
        out.extend_from_slice(&[0; 4]); // CRC, not checked by a header sniff
        out
    }

    /// SOI, an APP0/JFIF segment (so the size reader must skip a segment),
    /// then SOF0 with the dimensions.
    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        out.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
        out.extend_from_slice(b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
        out.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    /// RIFF header and a VP8X chunk, whose canvas size is stored minus one.
    fn webp(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&22u32.to_le_bytes());
        out.extend_from_slice(b"WEBPVP8X");
        out.extend_from_slice(&10u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]); // flags + reserved
        out.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
        out.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
        out
    }

    fn gif() -> Vec<u8> {
        b"GIF89a\x00\x04\x00\x04\x00\x00\x00".to_vec()
    }

    fn reason(err: Error) -> String {
        match err {
            Error::Validation { field, reason } => {
                assert_eq!(field, "image");
                reason
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    async fn wire(bytes: Vec<u8>) -> Result<String, Error> {
        ImageInput::from(bytes).into_wire(true).await
    }

    fn temp_file(contents: &[u8], suffix: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
        file.write_all(contents).unwrap();
        file.flush().unwrap();
        file
    }

    #[test]
    fn inspect_reads_each_format() {
        assert_eq!(
            inspect(&png(640, 480)).unwrap(),
            (ImageFormat::Png, 640, 480)
        );
        assert_eq!(
            inspect(&jpeg(1920, 1080)).unwrap(),
            (ImageFormat::Jpeg, 1920, 1080)
        );
        assert_eq!(
            inspect(&webp(960, 512)).unwrap(),
            (ImageFormat::Webp, 960, 512)
        );
    }

    #[test]
    fn inspect_refuses_other_content() {
        let r = reason(inspect(&gif()).unwrap_err());
        assert!(
            r.contains("is not JPEG, PNG or WebP (looks like GIF)"),
            "{r}"
        );
        let r = reason(inspect(b"hello, I am a text file pretending\n").unwrap_err());
        assert!(r.contains("looks like text"), "{r}");
        let r = reason(inspect(b"").unwrap_err());
        assert!(r.contains("empty"), "{r}");
        let r = reason(
            inspect(&[
                0x00, 0x01, 0x02, 0xFE, 0xFF, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
            ])
            .unwrap_err(),
        );
        assert!(r.contains("not a known image format"), "{r}");
        // Right signature, header cut short.
        let r = reason(inspect(&png(640, 480)[..14]).unwrap_err());
        assert!(
            r.contains("looks like PNG but its header is truncated"),
            "{r}"
        );
    }

    #[tokio::test]
    async fn each_format_is_accepted_and_round_trips() {
        for image in [png(640, 480), jpeg(640, 480), webp(640, 480)] {
            let encoded = wire(image.clone()).await.unwrap();
            assert!(!encoded.starts_with("data:"));
            assert_eq!(STANDARD.decode(&encoded).unwrap(), image);
        }
    }

    #[tokio::test]
    async fn sides_are_bounded() {
        for (w, h) in [(239, 600), (600, 239), (8001, 600), (600, 8001)] {
            let r = reason(wire(png(w, h)).await.unwrap_err());
            assert_eq!(
                r,
                format!("the image is {w}x{h} px; each side must be 240–8000 px")
            );
        }
        for (w, h) in [(240, 240), (8000, 8000), (240, 8000)] {
            wire(png(w, h)).await.unwrap();
        }
        assert!(wire(jpeg(239, 600)).await.is_err());
        assert!(wire(webp(8001, 600)).await.is_err());
        wire(jpeg(8000, 240)).await.unwrap();
        wire(webp(240, 8000)).await.unwrap();
    }

    fn padded_png(len: u64) -> Vec<u8> {
        let mut image = png(640, 480);
        image.resize(len as usize, 0);
        image
    }

    #[tokio::test]
    async fn size_limit_on_bytes() {
        let encoded = wire(padded_png(MAX_IMAGE_BYTES)).await.unwrap();
        assert_eq!(encoded.len(), (MAX_IMAGE_BYTES as usize).div_ceil(3) * 4);
        let r = reason(wire(padded_png(MAX_IMAGE_BYTES + 1)).await.unwrap_err());
        assert_eq!(
            r,
            "the image is 10485761 bytes; the limit is 10485760 (10 MiB)"
        );
    }

    #[tokio::test]
    async fn size_limit_on_files() {
        let ok = temp_file(&padded_png(MAX_IMAGE_BYTES), ".png");
        ImageInput::path(ok.path()).into_wire(true).await.unwrap();
        let big = temp_file(&padded_png(MAX_IMAGE_BYTES + 1), ".png");
        let r = reason(
            ImageInput::path(big.path())
                .into_wire(true)
                .await
                .unwrap_err(),
        );
        assert!(
            r.ends_with("is 10485761 bytes; the limit is 10485760 (10 MiB)"),
            "{r}"
        );
        assert!(
            r.starts_with(&format!("file {}", big.path().display())),
            "{r}"
        );
    }

    #[tokio::test]
    async fn oversized_file_is_refused_from_metadata_without_reading() {
        // A sparse 1 TiB file: reading it (or even allocating for it) would
        // not finish, so a prompt refusal shows the size came from metadata.
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().write_all(&png(640, 480)).unwrap();
        let huge = 1u64 << 40;
        if file.as_file().set_len(huge).is_err() {
            eprintln!("skipped: the temp file system has no sparse files this large");
            return;
        }
        let r = reason(
            ImageInput::path(file.path())
                .into_wire(true)
                .await
                .unwrap_err(),
        );
        assert!(
            r.ends_with(&format!("is {huge} bytes; the limit is 10485760 (10 MiB)")),
            "{r}"
        );
    }

    #[tokio::test]
    async fn file_is_sniffed_by_content_not_extension() {
        let png_named_jpg = temp_file(&png(640, 480), ".jpg");
        let encoded = ImageInput::path(png_named_jpg.path())
            .into_wire(true)
            .await
            .unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap(), png(640, 480));

        let text_named_png = temp_file(b"just some notes\n", ".png");
        let r = reason(
            ImageInput::path(text_named_png.path())
                .into_wire(true)
                .await
                .unwrap_err(),
        );
        assert!(
            r.contains("is not JPEG, PNG or WebP (looks like text)"),
            "{r}"
        );
        assert!(r.starts_with("file "), "{r}");

        let gif_file = temp_file(&gif(), ".gif");
        let r = reason(
            ImageInput::path(gif_file.path())
                .into_wire(true)
                .await
                .unwrap_err(),
        );
        assert!(r.contains("(looks like GIF)"), "{r}");
    }

    #[tokio::test]
    async fn missing_file_and_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.png");
        let r = reason(
            ImageInput::path(&missing)
                .into_wire(true)
                .await
                .unwrap_err(),
        );
        assert_eq!(r, format!("file {} does not exist", missing.display()));
        // Existence is required even without checks.
        assert!(ImageInput::path(&missing).into_wire(false).await.is_err());

        let r = reason(
            ImageInput::path(dir.path())
                .into_wire(false)
                .await
                .unwrap_err(),
        );
        assert!(r.ends_with("is a directory, not an image file"), "{r}");
    }

    #[tokio::test]
    async fn unchecked_lets_anything_through() {
        let text = b"not an image at all".to_vec();
        let encoded = ImageInput::from(text.clone())
            .into_wire(false)
            .await
            .unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap(), text);

        let file = temp_file(&text, ".png");
        let encoded = ImageInput::path(file.path())
            .into_wire(false)
            .await
            .unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap(), text);

        // Too small and too big too.
        ImageInput::from(png(10, 10))
            .into_wire(false)
            .await
            .unwrap();
        ImageInput::from(padded_png(MAX_IMAGE_BYTES + 1))
            .into_wire(false)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn urls_are_sent_unchanged() {
        let raw = "https://cdn.example.com/a%20b/cat.png?X-Amz-Signature=abc&x=1";
        let wire = ImageInput::url(raw).unwrap().into_wire(true).await.unwrap();
        assert_eq!(wire, raw);
        let wire = ImageInput::url("  http://example.com/cat.jpg\n")
            .unwrap()
            .into_wire(true)
            .await
            .unwrap();
        assert_eq!(wire, "http://example.com/cat.jpg");

        let parsed = url::Url::parse("https://example.com/x.webp").unwrap();
        let input = ImageInput::try_from(parsed).unwrap();
        assert_eq!(
            input.into_wire(true).await.unwrap(),
            "https://example.com/x.webp"
        );
    }

    #[test]
    fn bad_urls_are_refused() {
        let r = reason(ImageInput::url("ftp://example.com/cat.png").unwrap_err());
        assert!(r.contains("must be http or https, not \"ftp\""), "{r}");
        let r = reason(ImageInput::url("images/cat.png?token=secret").unwrap_err());
        assert!(r.contains("is not an absolute http(s) URL"), "{r}");
        assert!(!r.contains("secret"), "{r}");
        let r = reason(ImageInput::url("/cat.png").unwrap_err());
        assert!(r.contains("ImageInput::path"), "{r}");
        assert!(ImageInput::url("").is_err());
        assert!(ImageInput::url("file:///tmp/cat.png").is_err());
        assert!(ImageInput::url("data:image/png;base64,AAAA").is_err());
        let ftp = url::Url::parse("ftp://example.com/cat.png").unwrap();
        assert!(ImageInput::try_from(ftp).is_err());
    }

    #[test]
    fn describe_and_debug_hide_secrets() {
        let input = ImageInput::url("https://user:pw@example.com:8443/p/cat.png?token=s3cr3t#frag")
            .unwrap();
        assert_eq!(input.describe(), "URL https://example.com:8443/p/cat.png?…");
        let debug = format!("{input:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("pw"),
            "{debug}"
        );
        assert_eq!(
            ImageInput::url("https://example.com").unwrap().describe(),
            "URL https://example.com/"
        );

        assert_eq!(ImageInput::from(vec![7u8; 1234]).describe(), "1234 bytes");
        assert_eq!(
            format!("{:?}", ImageInput::from(vec![7u8; 1234])),
            "ImageInput::Bytes(1234 bytes)"
        );
        assert_eq!(ImageInput::path("photo.jpg").describe(), "file photo.jpg");
        assert_eq!(
            ImageInput::from(Path::new("a/b.png")).describe(),
            "file a/b.png"
        );
        assert_eq!(
            ImageInput::from(&PathBuf::from("c.webp")).describe(),
            "file c.webp"
        );
        assert_eq!(
            ImageInput::from(Bytes::from_static(b"xy")).describe(),
            "2 bytes"
        );
    }
}
