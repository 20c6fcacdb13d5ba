//! Which paths of the published document are Wan video models, and the names
//! the codegen derives from a path: the operationIds and the family, kind and
//! tier the generated types are named for.
//!
//! Everything keys on the path, never on upstream schema names or
//! operationIds: those are not stable (26 of the 51 Wan operations have no
//! operationId, and another model copies Wan 2.7's body names with a `_1`).

use std::collections::{BTreeMap, BTreeSet};

/// The video kinds, as `(path segment, short name, Rust name)`.
pub const KINDS: &[(&str, &str, &str)] = &[
    ("text-to-video", "t2v", "T2v"),
    ("image-to-video", "i2v", "I2v"),
    ("reference-to-video", "r2v", "R2v"),
    ("video-edit", "edit", "Edit"),
];

/// One Wan collection path, `/v1/ai/{kind}/{segment}`, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The kind's path segment, e.g. `image-to-video`.
    pub kind: &'static str,
    /// The model's path segment, e.g. `wan-2-5-i2v-720p`.
    pub segment: String,
    /// The generation, e.g. `2.5`.
    pub family: String,
    /// The version as the segment spells it, e.g. `v22` or `25`.
    version_token: String,
    /// The segment's tokens after the version, e.g. `["i2v", "720p"]`.
    rest: Vec<String>,
}

/// The collection path of a Wan path (`/v1/ai/{kind}/{segment}` or its
/// `/{task-id}` child) and whether it is the child; `None` for any other path.
pub fn parse(path: &str) -> Option<(Endpoint, bool)> {
    let rest = path.strip_prefix("/v1/ai/")?;
    let mut parts = rest.split('/');
    let kind_segment = parts.next()?;
    let segment = parts.next()?;
    let status = match (parts.next(), parts.next()) {
        (None, _) => false,
        (Some("{task-id}"), None) => true,
        _ => return None,
    };
    let &(kind, _, _) = KINDS.iter().find(|(k, _, _)| *k == kind_segment)?;
    let tokens: Vec<&str> = segment.split('-').collect();
    let [wan, major, minor, rest @ ..] = tokens.as_slice() else {
        return None;
    };
    let major_digits = major.strip_prefix('v').unwrap_or(major);
    if *wan != "wan"
        || major_digits.is_empty()
        || !major_digits.bytes().all(|b| b.is_ascii_digit())
        || minor.is_empty()
        || !minor.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((
        Endpoint {
            kind,
            segment: segment.to_owned(),
            family: format!("{major_digits}.{minor}"),
            version_token: format!("{major}{minor}"),
            rest: rest.iter().map(|t| t.to_string()).collect(),
        },
        status,
    ))
}

impl Endpoint {
    /// `/v1/ai/{kind}/{segment}`.
    pub fn collection(&self) -> String {
        format!("/v1/ai/{}/{}", self.kind, self.segment)
    }

    /// The kind's short name, e.g. `i2v`.
    pub fn kind_short(&self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _, _)| *k == self.kind)
            .expect("parsed")
            .1
    }

    fn kind_rust(&self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _, _)| *k == self.kind)
            .expect("parsed")
            .2
    }

    /// The segment's tokens after the version that are not the kind, e.g.
    /// `720p`; empty where the body picks the resolution (Wan 2.7).
    pub fn tier(&self) -> String {
        self.rest
            .iter()
            .filter(|t| !is_kind_token(t))
            .cloned()
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The stem of the operationIds, e.g. `wan_25_t2v_480p`. The kind is
    /// added after the version where the segment does not say it and another
    /// kind serves the same segment (`wan-v2-6-720p` is both t2v and i2v),
    /// which gives the published create ids (`create_video_wan_v26_t2v_720p`,
    /// `create_video_wan_v22_580p`, `create_video_wan_27_edit`).
    pub fn stem(&self, ambiguous: bool) -> String {
        let mut parts = vec!["wan".to_owned(), self.version_token.clone()];
        if ambiguous && !self.rest.iter().any(|t| is_kind_token(t)) {
            parts.push(self.kind_short().to_owned());
        }
        parts.extend(self.rest.iter().map(|t| t.replace('-', "_")));
        parts.join("_")
    }

    /// The family's Rust prefix, e.g. `Wan25`.
    pub fn family_rust(&self) -> String {
        format!("Wan{}", self.family.replace('.', ""))
    }

    /// The family and kind's Rust prefix, e.g. `Wan25T2v`.
    pub fn family_kind_rust(&self) -> String {
        format!("{}{}", self.family_rust(), self.kind_rust())
    }

    /// [`Endpoint::family_kind_rust`] with the tier, e.g. `Wan26T2v720p`.
    pub fn tier_rust(&self) -> String {
        format!("{}{}", self.family_kind_rust(), pascal(&self.tier()))
    }
}

fn is_kind_token(token: &str) -> bool {
    KINDS.iter().any(|(_, short, _)| *short == token)
}

/// The segments served under more than one kind: their operationIds need
/// the kind to stay apart.
pub fn ambiguous_segments<'a>(
    endpoints: impl IntoIterator<Item = &'a Endpoint>,
) -> BTreeSet<String> {
    let mut kinds: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in endpoints {
        kinds.entry(&e.segment).or_default().insert(e.kind);
    }
    kinds
        .into_iter()
        .filter(|(_, k)| k.len() > 1)
        .map(|(s, _)| s.to_owned())
        .collect()
}

/// `task-detail_1` → `TaskDetail1`, `480p` → `480p`.
pub fn pascal(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            let first = chars.next().expect("not empty").to_ascii_uppercase();
            std::iter::once(first).chain(chars).collect::<String>()
        })
        .collect()
}

/// An upstream schema name without a leading family tag, e.g.
/// `wan-v22-aspect-ratio` → `aspect-ratio`.
pub fn without_family(name: &str) -> &str {
    let mut parts = name.splitn(3, '-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("wan"), Some(version), Some(rest))
            if version
                .trim_start_matches('v')
                .bytes()
                .all(|b| b.is_ascii_digit()) =>
        {
            rest
        }
        _ => name,
    }
}
