//! One media input of a create (an image, a video, an audio track, a
//! reference or its voice): a local file, bytes, a URL, or a finished task's
//! video. Every model's every media field takes each: a local file or bytes
//! goes up through Magnific's Upload Files API ([`Client::upload`]) where the
//! model takes only URLs, and a task is sent as its freshest video URL.
//!
//! Files and bytes are checked before anything is sent, against what the
//! model's spec says of the field ([`MediaRules`]): the format by the bytes
//! (never the name), the size, and an image's pixels per side and aspect.
//!
//! [`Client::upload`]: crate::Client::upload

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use freepik_wan_api::models::MediaRules;

use crate::error::{Error, Result};
use crate::http_url;
use crate::model::Model;
use crate::task::{Task, TaskId};
use crate::upload::UploadSource;

/// A media input: a file, bytes, a URL, or a finished task's video.
///
/// A string is a URL when it has a scheme (`https://…`), else a path. A
/// [`TaskId`] or [`Task`] stands for that task's video (it must be
/// `COMPLETED` when the create is sent).
///
/// ```
/// use freepik_wan::{Media, TaskId};
///
/// assert!(matches!(Media::from("clip.mp4"), Media::Path(_)));
/// assert!(matches!(Media::from("https://example.com/clip.mp4"), Media::Url(_)));
/// assert!(matches!(Media::from(vec![0u8; 4]), Media::Bytes(_)));
/// assert!(matches!(Media::from(TaskId::from("0f3c")), Media::Task(_)));
/// // The command line's form of a task: `task:KIND/SEGMENT/ID`.
/// let task = Media::parse("task:text-to-video/wan-2-7/0f3c")?;
/// assert!(matches!(task, Media::Task(id) if id.as_str() == "0f3c"));
/// # Ok::<(), freepik_wan::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Media {
    /// A local file.
    Path(PathBuf),
    /// The file's bytes, in memory.
    Bytes(Bytes),
    /// A public http(s) URL the service fetches itself.
    Url(String),
    /// The video of a finished task.
    Task(TaskId),
}

impl fmt::Debug for Media {
    /// Never bytes, nor a URL's query (it may hold a token).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Media {
    /// The command line's spelling: `task:KIND/SEGMENT/ID` for a task's
    /// video, a URL with a scheme, or a path.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a `task:` that names no known model or no id.
    pub fn parse(text: &str) -> Result<Media> {
        let text = text.trim();
        let Some(rest) = text.strip_prefix("task:") else {
            return Ok(Media::from(text));
        };
        let refuse = |reason: String| Error::Validation {
            field: "task",
            reason,
        };
        let (model, id) = rest.rsplit_once('/').ok_or_else(|| {
            refuse(format!(
                "{text:?} is not task:KIND/SEGMENT/TASK_ID (e.g. task:text-to-video/wan-2-7/0f3c…)"
            ))
        })?;
        let model: Model = model.parse()?;
        if id.trim().is_empty() {
            return Err(refuse(format!("{text:?} names no task id")));
        }
        Ok(Media::Task(TaskId::from(id.trim()).with_model(model)))
    }

    /// What it is, for messages: `file clip.mp4`, `1234 bytes`, `URL
    /// https://host/path?…`, `task text-to-video/wan-2-7/0f3c`.
    pub fn describe(&self) -> String {
        match self {
            Media::Path(path) => format!("file {}", path.display()),
            Media::Bytes(bytes) => format!("{} bytes", bytes.len()),
            Media::Url(url) => match url::Url::parse(url.trim()) {
                Ok(parsed) => format!("URL {}", http_url::shown(&parsed)),
                Err(_) => format!("URL {}", http_url::strip_query(url.trim())),
            },
            Media::Task(id) => format!("task {}/{id}", id.model()),
        }
    }

    /// A file or bytes (to be sent inline or uploaded).
    pub(crate) fn is_local(&self) -> bool {
        matches!(self, Media::Path(_) | Media::Bytes(_))
    }

    pub(crate) fn upload_source(&self) -> Option<UploadSource> {
        match self {
            Media::Path(path) => Some(UploadSource::Path(path.clone())),
            Media::Bytes(bytes) => Some(UploadSource::Bytes(bytes.clone())),
            _ => None,
        }
    }
}

impl From<&str> for Media {
    /// A URL when it has a scheme (`https://…`), else a path.
    fn from(text: &str) -> Self {
        let text = text.trim();
        if text.contains("://") {
            Media::Url(text.to_owned())
        } else {
            Media::Path(PathBuf::from(text))
        }
    }
}

impl From<String> for Media {
    /// As `From<&str>`.
    fn from(text: String) -> Self {
        Media::from(text.as_str())
    }
}

impl From<&String> for Media {
    /// As `From<&str>`.
    fn from(text: &String) -> Self {
        Media::from(text.as_str())
    }
}

impl From<PathBuf> for Media {
    fn from(path: PathBuf) -> Self {
        Media::Path(path)
    }
}

impl From<&PathBuf> for Media {
    fn from(path: &PathBuf) -> Self {
        Media::Path(path.clone())
    }
}

impl From<&Path> for Media {
    fn from(path: &Path) -> Self {
        Media::Path(path.to_owned())
    }
}

impl From<Vec<u8>> for Media {
    fn from(bytes: Vec<u8>) -> Self {
        Media::Bytes(Bytes::from(bytes))
    }
}

impl From<Bytes> for Media {
    fn from(bytes: Bytes) -> Self {
        Media::Bytes(bytes)
    }
}

impl From<TaskId> for Media {
    fn from(id: TaskId) -> Self {
        Media::Task(id)
    }
}

impl From<&TaskId> for Media {
    fn from(id: &TaskId) -> Self {
        Media::Task(id.clone())
    }
}

impl From<&Task> for Media {
    fn from(task: &Task) -> Self {
        Media::Task(task.id.clone())
    }
}

impl From<crate::ImageInput> for Media {
    fn from(image: crate::ImageInput) -> Self {
        image.into_media()
    }
}

/// The media types by what their bytes say, as the spec's prose names them.
fn format_name(mime: &str) -> Option<&'static str> {
    Some(match mime {
        "image/jpeg" => "jpeg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/bmp" => "bmp",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        "audio/x-wav" | "audio/wav" => "wav",
        "audio/mpeg" => "mp3",
        _ => return None,
    })
}

/// How many leading bytes the checks read: enough for any format's magic
/// bytes and an image's dimensions.
const HEAD: u64 = 64 * 1024;

/// Checks a file or bytes against what the spec says of `field`: the format
/// by its bytes, its size, and an image's pixels. Reads only the head of a
/// file (and its metadata).
pub(crate) fn check_local(media: &Media, field: &'static str, rules: &MediaRules) -> Result<()> {
    let refuse = |reason: String| Error::Validation { field, reason };
    let (head, len) = match media {
        Media::Bytes(bytes) => (
            bytes[..bytes.len().min(HEAD as usize)].to_vec(),
            bytes.len() as u64,
        ),
        Media::Path(path) => {
            let file = std::fs::File::open(path).map_err(|e| {
                refuse(format!(
                    "cannot read {} ({e}); a URL needs its scheme (https://…)",
                    path.display()
                ))
            })?;
            let len = file
                .metadata()
                .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?
                .len();
            let mut head = Vec::new();
            file.take(HEAD)
                .read_to_end(&mut head)
                .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
            (head, len)
        }
        _ => return Ok(()),
    };
    let what = media.describe();
    if len == 0 {
        return Err(refuse(format!("{what} is empty")));
    }
    if let Some(max) = rules.max_bytes
        && len > max
    {
        return Err(refuse(format!(
            "{what} is {len} bytes; the limit is {max} ({} MB)",
            max >> 20
        )));
    }
    let mime = crate::upload::sniff(&head);
    let format = mime.and_then(format_name);
    let kind_ok = mime.is_some_and(|m| m.starts_with(rules.kind));
    let format_ok = match format {
        Some(format) if !rules.formats.is_empty() => rules.formats.contains(&format),
        _ => kind_ok,
    };
    if !format_ok {
        let takes = if rules.formats.is_empty() {
            format!("an {} file", rules.kind)
        } else {
            rules
                .formats
                .iter()
                .map(|f| f.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(refuse(format!(
            "{what} is {} by its bytes; it takes {takes}",
            mime.unwrap_or("no known media type")
        )));
    }
    if rules.kind == "image" {
        let size = imagesize::blob_size(&head)
            .map_err(|_| refuse(format!("{what}: no width and height found in its header")))?;
        let (w, h) = (size.width as u64, size.height as u64);
        if let Some((min, max)) = rules.sides
            && [w, h]
                .iter()
                .any(|side| *side < u64::from(min) || *side > u64::from(max))
        {
            return Err(refuse(format!(
                "{what} is {w}x{h} px; each side must be {min} to {max} px"
            )));
        }
        if let Some(aspect) = rules.max_aspect
            && (w > h * u64::from(aspect) || h > w * u64::from(aspect))
        {
            return Err(refuse(format!(
                "{what} is {w}x{h} px; its aspect ratio must be between 1:{aspect} and {aspect}:1"
            )));
        }
    }
    Ok(())
}
