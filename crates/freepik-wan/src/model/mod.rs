//! Models as data: which endpoint makes the video. The list comes from the
//! spec at build time ([`freepik_wan_api::models::MODELS`]), so a model a
//! regenerated spec gains is here without a hand-written change.

mod durations;
mod kind;
pub(crate) mod request;
mod rules;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use freepik_wan_api::models::{Field, MODELS, ModelInfo};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::resolution::Resolution;

pub use durations::Durations;
pub use kind::Kind;
pub use request::{CreateBody, INLINE_IMAGE_LIMIT, VideoRequest};
pub use rules::MAX_REFERENCES;

/// One Wan model: an endpoint `/v1/ai/{kind}/{segment}`, named by that path
/// under `/v1/ai/` (`image-to-video/wan-v2-6-1080p`, `video-edit/wan-2-7`).
///
/// It parses from that path (a leading `/v1/ai/` is fine, and so is the bare
/// last segment where only one kind has it), and prints and serializes as
/// `{kind}/{segment}`. What it takes (fields, durations, resolutions, sizes)
/// is the spec's.
///
/// ```
/// use freepik_wan::{Kind, Model, Resolution};
///
/// let m: Model = "image-to-video/wan-v2-6-1080p".parse().unwrap();
/// assert_eq!(m.kind(), Kind::ImageToVideo);
/// assert_eq!(m.family(), "2.6");
/// assert_eq!(m.to_string(), "image-to-video/wan-v2-6-1080p");
/// assert_eq!(m.sizes()[0], "1920*1080");
///
/// // A bare segment where only one kind serves it; Wan 2.2 by resolution.
/// let m: Model = "wan-v2-2-720p".parse().unwrap();
/// assert_eq!(m, Model::from(Resolution::P720));
/// assert!("wan-2-7".parse::<Model>().is_err(), "four kinds serve wan-2-7");
/// assert_eq!(Model::all().count(), 17);
/// ```
#[derive(Clone, Copy)]
pub struct Model {
    info: &'static ModelInfo,
    kind: Kind,
}

impl Model {
    /// Every model the spec describes, in its path order.
    pub fn all() -> impl Iterator<Item = Model> {
        MODELS.iter().filter_map(|info| {
            Some(Model {
                info,
                kind: info.kind.parse().ok()?,
            })
        })
    }

    /// What it makes a video from.
    pub fn kind(self) -> Kind {
        self.kind
    }

    /// The model's path segment, e.g. `"wan-v2-6-1080p"`.
    pub fn segment(self) -> &'static str {
        self.info.segment
    }

    /// The generation, e.g. `"2.6"`.
    pub fn family(self) -> &'static str {
        self.info.family
    }

    /// The tier its path names, e.g. `"1080p"`; empty where the body picks
    /// the resolution (Wan 2.7).
    pub fn tier(self) -> &'static str {
        self.info.tier
    }

    /// The collection path, `/v1/ai/{kind}/{segment}`: creates and the list
    /// go there, a task's status to `{collection}/{task-id}`.
    pub fn collection_path(self) -> String {
        format!("/v1/ai/{self}")
    }

    /// Everything the spec says about it (its body's fields and their limits).
    pub fn info(self) -> &'static ModelInfo {
        self.info
    }

    /// The body field named `name`.
    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.info.field(name)
    }

    /// The durations it takes (`None` where its body has no `duration`).
    pub fn durations(self) -> Option<Durations> {
        self.field("duration").and_then(Durations::of)
    }

    /// The output resolutions: the body's `resolution` values where it has
    /// one (Wan 2.7: `720P`, `1080P`), else the tier its path names.
    pub fn resolutions(self) -> Vec<&'static str> {
        match self.field("resolution") {
            Some(f) if !f.values.is_empty() => f.values.to_vec(),
            _ if !self.info.tier.is_empty() => vec![self.info.tier],
            _ => Vec::new(),
        }
    }

    /// The `size` values (`W*H`) where its body has one (Wan 2.6), else empty.
    pub fn sizes(self) -> &'static [&'static str] {
        self.field("size").map_or(&[], |f| f.values)
    }

    /// The Wan 2.2 tier this model is, if it is one.
    pub fn resolution(self) -> Option<Resolution> {
        Resolution::ALL
            .into_iter()
            .find(|r| self.kind == Kind::ImageToVideo && r.path_segment() == self.segment())
    }
}

impl From<Resolution> for Model {
    /// Wan 2.2 image-to-video at that tier.
    fn from(resolution: Resolution) -> Model {
        Model::all()
            .find(|m| m.kind == Kind::ImageToVideo && m.segment() == resolution.path_segment())
            .expect("the spec describes every Wan 2.2 tier (the codegen's tests check it)")
    }
}

impl Default for Model {
    /// Wan 2.2 image-to-video at 580p, the tier the SDK always defaulted to.
    fn default() -> Model {
        Model::from(Resolution::default())
    }
}

impl PartialOrd for Model {
    fn partial_cmp(&self, other: &Model) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Model {
    fn cmp(&self, other: &Model) -> std::cmp::Ordering {
        (self.kind.as_str(), self.segment()).cmp(&(other.kind.as_str(), other.segment()))
    }
}

impl PartialEq for Model {
    fn eq(&self, other: &Model) -> bool {
        self.kind == other.kind && self.segment() == other.segment()
    }
}

impl Eq for Model {}

impl Hash for Model {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        self.segment().hash(state);
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Model({self})")
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.segment())
    }
}

impl FromStr for Model {
    type Err = Error;

    /// `{kind}/{segment}` (optionally after `/v1/ai/`), or a bare segment
    /// that only one kind serves.
    fn from_str(s: &str) -> Result<Model> {
        let wanted = s.trim().to_ascii_lowercase();
        let wanted = wanted.trim_start_matches("/v1/ai/").trim_matches('/');
        let matches: Vec<Model> = match wanted.split_once('/') {
            Some((kind, segment)) => Model::all()
                .filter(|m| m.kind.as_str() == kind && m.segment() == segment)
                .collect(),
            None => Model::all().filter(|m| m.segment() == wanted).collect(),
        };
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::Validation {
                field: "model",
                reason: format!(
                    "{s:?} is not a model; use one of: {}",
                    Model::all()
                        .map(|m| m.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            several => Err(Error::Validation {
                field: "model",
                reason: format!(
                    "{s:?} is served by several kinds; say which: {}",
                    several
                        .iter()
                        .map(|m| m.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
}

impl Serialize for Model {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Model, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_request;
