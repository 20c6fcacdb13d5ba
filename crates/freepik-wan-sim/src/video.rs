//! The video every completed task "generates": a tiny real H.264 MP4, optionally padded.

use bytes::Bytes;

use crate::body::BodyPlan;

/// 2 s of 320x176 H.264 (Constrained Baseline) test pattern, `moov` first; see
/// `assets/README.md` for how it was made.
pub(crate) const FIXTURE: &[u8] = include_bytes!("../assets/sample.mp4");

/// The served file: the fixture, then padding that keeps it a valid MP4.
pub(crate) struct Video {
    /// The fixture (patched when the padding is too small for a box of its own) and the
    /// header of the padding `free` box, if any.
    segments: Vec<Bytes>,
    /// Zero bytes after the segments: the payload of the padding.
    zeros: u64,
    /// Whether the fixture's last box was grown over the padding (a padding
    /// too small for a box of its own).
    grown: bool,
}

/// What starts the payload of the `free` box that tags a video with its task.
const TAG_PREFIX: &[u8] = b"freepik-wan-sim task=";

/// The top-level `free` box naming `task_id`.
fn tag_box(task_id: &str) -> Bytes {
    let payload_len = TAG_PREFIX.len() + task_id.len();
    let mut tag = Vec::with_capacity(8 + payload_len);
    tag.extend_from_slice(&((8 + payload_len) as u32).to_be_bytes());
    tag.extend_from_slice(b"free");
    tag.extend_from_slice(TAG_PREFIX);
    tag.extend_from_slice(task_id.as_bytes());
    Bytes::from(tag)
}

/// The task a video served with [`Faults::tag_videos`](crate::Faults::tag_videos)
/// belongs to, read from its tag box; `None` when `mp4` is not a whole MP4
/// (its top-level boxes must tile it exactly, the first an `ftyp`) or has no tag.
///
/// ```
/// assert_eq!(freepik_wan_sim::video_task_tag(b"<html></html>"), None);
/// ```
pub fn video_task_tag(mp4: &[u8]) -> Option<String> {
    let boxes = top_level_boxes(mp4);
    let &(first, _) = boxes.first()?;
    if mp4.get(first + 4..first + 8)? != b"ftyp" || !tiles(mp4, &boxes) {
        return None;
    }
    boxes.iter().find_map(|&(at, width)| {
        if width != 4 || mp4.get(at + 4..at + 8)? != b"free" {
            return None;
        }
        let size = u32::from_be_bytes(mp4[at..at + 4].try_into().ok()?) as usize;
        let payload = mp4.get(at + 8..at + size)?;
        let id = payload.strip_prefix(TAG_PREFIX)?;
        let id: Vec<u8> = id.iter().copied().take_while(|b| *b != 0).collect();
        String::from_utf8(id).ok()
    })
}

/// Whether the boxes found run exactly to the end of `mp4` (a file cut short
/// ends inside its last box).
fn tiles(mp4: &[u8], boxes: &[(usize, u8)]) -> bool {
    let Some(&(at, width)) = boxes.last() else {
        return false;
    };
    let len = match width {
        0 => return true,
        4 => u32::from_be_bytes(mp4[at..at + 4].try_into().expect("4 bytes")) as u64,
        _ => u64::from_be_bytes(mp4[at + 8..at + 16].try_into().expect("8 bytes")),
    };
    len >= 8 && at as u64 + len == mp4.len() as u64
}

impl Video {
    /// A video of exactly `target` bytes, or the bare fixture when `target` is `None` or
    /// not larger than the fixture (it cannot be shrunk).
    pub(crate) fn new(target: Option<u64>) -> Self {
        let fixture = Bytes::from_static(FIXTURE);
        let pad = target.map_or(0, |t| t.saturating_sub(FIXTURE.len() as u64));
        match pad {
            0 => Self {
                segments: vec![fixture],
                zeros: 0,
                grown: false,
            },
            // Too small for a box header: grow the last top-level box instead, which
            // players ignore as trailing bytes inside it.
            1..8 => Self {
                segments: vec![Bytes::from(grow_last_box(FIXTURE, pad))],
                zeros: pad,
                grown: true,
            },
            8..=0xffff_ffff => {
                let mut header = Vec::with_capacity(8);
                header.extend_from_slice(&(pad as u32).to_be_bytes());
                header.extend_from_slice(b"free");
                Self {
                    segments: vec![fixture, Bytes::from(header)],
                    zeros: pad - 8,
                    grown: false,
                }
            }
            // Beyond 4 GiB a box needs the 64-bit `largesize` form (size field 1).
            _ => {
                let mut header = Vec::with_capacity(16);
                header.extend_from_slice(&1u32.to_be_bytes());
                header.extend_from_slice(b"free");
                header.extend_from_slice(&pad.to_be_bytes());
                Self {
                    segments: vec![fixture, Bytes::from(header)],
                    zeros: pad - 16,
                    grown: false,
                }
            }
        }
    }

    /// How the file is streamed for one download; `tag`: the task whose
    /// tag box follows the fixture ([`Faults::tag_videos`](crate::Faults::tag_videos)).
    /// A tagged video is the tag box's size longer, except that a padding
    /// too small for a box of its own is dropped.
    pub(crate) fn plan(
        &self,
        cut: bool,
        bytes_per_sec: Option<u64>,
        tag: Option<&str>,
    ) -> BodyPlan {
        let (mut segments, zeros) = match (tag, self.grown) {
            (Some(_), true) => (vec![Bytes::from_static(FIXTURE)], 0),
            _ => (self.segments.clone(), self.zeros),
        };
        if let Some(id) = tag {
            segments.insert(1, tag_box(id));
        }
        BodyPlan {
            segments,
            zeros,
            cut,
            bytes_per_sec,
        }
    }
}

/// Top-level boxes of an MP4 as `(offset, size field width)`; width 0 means the box runs
/// to the end of the file (size field 0).
fn top_level_boxes(mp4: &[u8]) -> Vec<(usize, u8)> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= mp4.len() {
        let size = u32::from_be_bytes(mp4[at..at + 4].try_into().expect("4 bytes")) as u64;
        let (len, width) = match size {
            0 => (mp4.len() as u64 - at as u64, 0),
            1 if at + 16 <= mp4.len() => (
                u64::from_be_bytes(mp4[at + 8..at + 16].try_into().expect("8 bytes")),
                8,
            ),
            _ => (size, 4),
        };
        boxes.push((at, width));
        if len < 8 {
            break;
        }
        at = at.saturating_add(len as usize);
    }
    boxes
}

/// A copy of `mp4` whose last top-level box claims `extra` more bytes.
fn grow_last_box(mp4: &[u8], extra: u64) -> Vec<u8> {
    let mut out = mp4.to_vec();
    match top_level_boxes(mp4).last() {
        Some(&(at, 4)) => {
            let size = u32::from_be_bytes(out[at..at + 4].try_into().expect("4 bytes"));
            let grown = size
                .checked_add(extra as u32)
                .expect("the fixture's last box is far from 4 GiB");
            out[at..at + 4].copy_from_slice(&grown.to_be_bytes());
        }
        Some(&(at, 8)) => {
            let size = u64::from_be_bytes(out[at + 8..at + 16].try_into().expect("8 bytes"));
            out[at + 8..at + 16].copy_from_slice(&(size + extra).to_be_bytes());
        }
        // A box sized 0 already extends to the end of the file.
        _ => {}
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn fixture_is_a_faststart_mp4() {
        let kinds: Vec<&[u8]> = top_level_boxes(FIXTURE)
            .iter()
            .map(|&(at, _)| &FIXTURE[at + 4..at + 8])
            .collect();
        assert_eq!(kinds.first(), Some(&&b"ftyp"[..]));
        let moov = kinds.iter().position(|k| *k == b"moov").expect("moov");
        let mdat = kinds.iter().position(|k| *k == b"mdat").expect("mdat");
        assert!(moov < mdat, "moov must come first for progressive playback");
        assert!(FIXTURE.len() < 30 * 1024);
    }

    #[test]
    fn padding_beyond_4_gib_uses_a_largesize_box() {
        let target = 5 * 1024 * 1024 * 1024u64;
        let video = Video::new(Some(target));
        let header = &video.segments[1];
        assert_eq!(&header[..8], b"\0\0\0\x01free");
        let pad = u64::from_be_bytes(header[8..16].try_into().unwrap());
        assert_eq!(pad, target - FIXTURE.len() as u64);
        let total: u64 = video.segments.iter().map(|s| s.len() as u64).sum::<u64>() + video.zeros;
        assert_eq!(total, target);
    }

    #[test]
    fn no_padding_when_the_target_is_not_larger() {
        for target in [None, Some(0), Some(FIXTURE.len() as u64)] {
            let video = Video::new(target);
            assert_eq!(video.segments, [Bytes::from_static(FIXTURE)]);
            assert_eq!(video.zeros, 0);
        }
    }

    #[test]
    fn a_tagged_video_names_its_task_and_a_cut_one_does_not() {
        let id = "046b6c7f-0b8a-43b9-b35d-6489e6daee91";
        for video in [
            Video::new(None),
            Video::new(Some(FIXTURE.len() as u64 + 3)),
            Video::new(Some(100_000)),
        ] {
            let plan = video.plan(false, None, Some(id));
            let mut file: Vec<u8> = plan.segments.iter().flat_map(|s| s.to_vec()).collect();
            file.resize(file.len() + plan.zeros as usize, 0);
            assert_eq!(video_task_tag(&file).as_deref(), Some(id));
            assert_eq!(video_task_tag(&file[..file.len() - 1]), None, "a cut file");
            assert_eq!(video_task_tag(&file[..file.len() / 2]), None, "a half file");
        }
        assert_eq!(video_task_tag(FIXTURE), None, "the untagged fixture");
        assert_eq!(video_task_tag(b"<html><body>502</body></html>"), None);
    }

    #[test]
    fn boxes_tile_the_padded_file() {
        for extra in 1..8u64 {
            let grown = grow_last_box(FIXTURE, extra);
            let mut file = grown.clone();
            file.resize(grown.len() + extra as usize, 0);
            let boxes = top_level_boxes(&file);
            let &(last, _) = boxes.last().expect("boxes");
            let size = u32::from_be_bytes(file[last..last + 4].try_into().unwrap()) as usize;
            assert_eq!(last + size, file.len(), "extra {extra}");
        }
    }
}
