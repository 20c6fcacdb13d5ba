//! Which Wan v2.2 tier makes the video: Freepik serves 480p, 580p and 720p
//! at sibling paths with one body and one set of responses.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The output resolution, which picks the model endpoint (and the price).
///
/// A task lives at the endpoint that made it, so its [`TaskId`](crate::TaskId)
/// remembers its resolution: waits, status and downloads reach the right path
/// without being told again.
///
/// ```
/// use freepik_wan::Resolution;
///
/// assert_eq!(Resolution::default(), Resolution::P580);
/// assert_eq!("720p".parse::<Resolution>().unwrap(), Resolution::P720);
/// assert_eq!(Resolution::P480.path_segment(), "wan-v2-2-480p");
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum Resolution {
    /// 480p: the cheapest tier.
    #[serde(rename = "480p")]
    P480,
    /// 580p (the default): about 960x512 for 16:9.
    #[default]
    #[serde(rename = "580p")]
    P580,
    /// 720p: the sharpest tier.
    #[serde(rename = "720p")]
    P720,
}

impl Resolution {
    /// Every tier, lowest first.
    pub const ALL: [Resolution; 3] = [Resolution::P480, Resolution::P580, Resolution::P720];

    /// The short name, e.g. `"720p"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::P480 => "480p",
            Resolution::P580 => "580p",
            Resolution::P720 => "720p",
        }
    }

    /// The model's segment of the API path, e.g. `"wan-v2-2-720p"`.
    pub fn path_segment(self) -> &'static str {
        match self {
            Resolution::P480 => "wan-v2-2-480p",
            Resolution::P580 => "wan-v2-2-580p",
            Resolution::P720 => "wan-v2-2-720p",
        }
    }
}

impl FromStr for Resolution {
    type Err = Error;

    /// `"480p"`, `"580p"` or `"720p"` (the `p` may be left out).
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        let wanted = wanted.trim_end_matches('p');
        Resolution::ALL
            .into_iter()
            .find(|r| r.as_str().trim_end_matches('p') == wanted)
            .ok_or_else(|| Error::Validation {
                field: "resolution",
                reason: format!("{s:?} is not a resolution; use 480p, 580p or 720p"),
            })
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
