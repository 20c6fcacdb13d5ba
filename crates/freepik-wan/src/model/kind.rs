//! What a model makes a video from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The kind of a model: the first segment of its path under `/v1/ai/`.
///
/// ```
/// use freepik_wan::Kind;
///
/// assert_eq!("video-edit".parse::<Kind>().unwrap(), Kind::VideoEdit);
/// assert_eq!(Kind::TextToVideo.as_str(), "text-to-video");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A prompt alone.
    TextToVideo,
    /// A start image (Wan 2.7: also an end image, or a video to continue).
    ImageToVideo,
    /// One to five image or video references, with optional voices.
    ReferenceToVideo,
    /// A video to change.
    VideoEdit,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [
        Kind::TextToVideo,
        Kind::ImageToVideo,
        Kind::ReferenceToVideo,
        Kind::VideoEdit,
    ];

    /// The path segment, e.g. `"image-to-video"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TextToVideo => "text-to-video",
            Kind::ImageToVideo => "image-to-video",
            Kind::ReferenceToVideo => "reference-to-video",
            Kind::VideoEdit => "video-edit",
        }
    }
}

impl FromStr for Kind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::Validation {
                field: "model",
                reason: format!(
                    "{s:?} is not a kind; use text-to-video, image-to-video, reference-to-video or video-edit"
                ),
            })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
