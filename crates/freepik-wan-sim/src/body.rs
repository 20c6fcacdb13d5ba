//! Streamed response bodies that can be throttled or cut half-way.
//!
//! A body is some byte segments followed by a run of zeros (the video padding), so a
//! 256 MiB video is served from a static zero buffer without allocating 256 MiB.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use tokio::time::Instant;

/// Largest chunk handed to hyper at once.
const CHUNK: usize = 64 * 1024;

/// Pause before cutting the connection.
const CUT_DELAY: Duration = Duration::from_millis(20);

static ZEROS: [u8; CHUNK] = [0; CHUNK];

/// A response that never arrives: its body fails before hyper has written the
/// head, so the client sees the connection close with no answer at all.
pub(crate) fn dropped_connection() -> Response {
    let failed = futures_util::stream::once(async {
        Err::<Bytes, _>(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "simulated dropped connection",
        ))
    });
    Response::new(Body::from_stream(failed))
}

/// What a streamed body is made of and how it misbehaves.
pub(crate) struct BodyPlan {
    /// Bytes served first, in order.
    pub(crate) segments: Vec<Bytes>,
    /// Zero bytes served after the segments.
    pub(crate) zeros: u64,
    /// Cut the connection (stream error) after half of the body.
    pub(crate) cut: bool,
    /// Throttle to this many bytes per second.
    pub(crate) bytes_per_sec: Option<u64>,
}

impl BodyPlan {
    /// A plain in-memory body, possibly cut.
    pub(crate) fn bytes(bytes: Bytes, cut: bool) -> Self {
        Self {
            segments: vec![bytes],
            zeros: 0,
            cut,
            bytes_per_sec: None,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.segments.iter().map(|s| s.len() as u64).sum::<u64>() + self.zeros
    }

    /// Keeps only bytes `start..end` of the body (a byte-range request); a cut then
    /// happens half-way through that part.
    pub(crate) fn slice(self, start: u64, end: u64) -> Self {
        let mut segments = Vec::new();
        let mut at = 0u64;
        for segment in self.segments {
            let (from, to) = (at, at + segment.len() as u64);
            let (lo, hi) = (from.max(start), to.min(end));
            if lo < hi {
                segments.push(segment.slice((lo - from) as usize..(hi - from) as usize));
            }
            at = to;
        }
        let (lo, hi) = (at.max(start), (at + self.zeros).min(end));
        Self {
            segments,
            zeros: hi.saturating_sub(lo),
            ..self
        }
    }

    /// A 200 response with this body, `content_type`, and a `Content-Length` that is the
    /// full length even when the body will be cut: that is what makes a cut detectable as
    /// a truncated body rather than a short, valid one.
    pub(crate) fn into_response(self, content_type: &'static str) -> Response {
        self.into_response_with(StatusCode::OK, content_type)
    }

    /// A 200 response sent chunked, with no `Content-Length`, that ends
    /// cleanly after half of the body: nothing at the HTTP level says it is
    /// short.
    pub(crate) fn into_half_without_length(self, content_type: &'static str) -> Response {
        let len = self.len() / 2;
        let body = self.into_body(len);
        let mut response = Response::new(body);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }

    /// Like [`BodyPlan::into_response`], with another status (206 for a range).
    pub(crate) fn into_response_with(
        self,
        status: StatusCode,
        content_type: &'static str,
    ) -> Response {
        let len = self.len();
        let mut response = Response::new(self.into_body(len));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        response
    }

    /// The body, stopping after `len` bytes (cut with an error half-way
    /// instead when the plan says so).
    fn into_body(self, len: u64) -> Body {
        let pace = self.bytes_per_sec.filter(|&rate| rate > 0);
        // Small chunks when throttled, so the pace is smooth rather than bursty.
        let chunk = pace.map_or(CHUNK, |rate| (rate / 20).clamp(1, CHUNK as u64) as usize);
        let state = StreamState {
            segments: self.segments.into(),
            zeros: self.zeros,
            sent: 0,
            limit: if self.cut { len / 2 } else { len },
            cut: self.cut,
            pace,
            chunk,
            started: None,
        };
        Body::from_stream(futures_util::stream::unfold(state, StreamState::next))
    }
}

/// What a `Range` request header asks of a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeAsk {
    /// No usable range: serve everything with 200. Malformed and multi-range headers
    /// land here too, which RFC 9110 allows (a server may ignore Range).
    Full,
    /// Bytes `start..end` with 206.
    Part { start: u64, end: u64 },
    /// Starts past the end: 416.
    Unsatisfiable,
}

/// Reads a single `bytes=` range: `S-E`, `S-` or the suffix form `-N`.
pub(crate) fn parse_range(header: Option<&str>, len: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Full;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Full;
    };
    if spec.contains(',') {
        return RangeAsk::Full;
    }
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return match last.parse::<u64>() {
            Ok(0) => RangeAsk::Unsatisfiable,
            Ok(suffix) if len > 0 => RangeAsk::Part {
                start: len - suffix.min(len),
                end: len,
            },
            Ok(_) => RangeAsk::Unsatisfiable,
            Err(_) => RangeAsk::Full,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeAsk::Full;
    };
    let end = if last.is_empty() {
        len
    } else {
        match last.parse::<u64>() {
            Ok(last) if last >= start => last.saturating_add(1).min(len),
            _ => return RangeAsk::Full,
        }
    };
    if start >= len {
        RangeAsk::Unsatisfiable
    } else {
        RangeAsk::Part { start, end }
    }
}

struct StreamState {
    segments: VecDeque<Bytes>,
    zeros: u64,
    sent: u64,
    /// Bytes to send before stopping (all of them, or half when cutting).
    limit: u64,
    cut: bool,
    pace: Option<u64>,
    chunk: usize,
    started: Option<Instant>,
}

impl StreamState {
    async fn next(mut self) -> Option<(io::Result<Bytes>, Self)> {
        let room = (self.limit - self.sent).min(self.chunk as u64) as usize;
        let piece = if room == 0 {
            None
        } else if let Some(front) = self.segments.front_mut() {
            let piece = front.split_to(room.min(front.len()));
            if front.is_empty() {
                self.segments.pop_front();
            }
            Some(piece)
        } else if self.zeros > 0 {
            let n = room.min(self.zeros.min(CHUNK as u64) as usize);
            self.zeros -= n as u64;
            Some(Bytes::from_static(&ZEROS[..n]))
        } else {
            None
        };
        let Some(piece) = piece else {
            if self.cut {
                // Erroring the body makes hyper abort the connection short of the
                // announced Content-Length: the client sees a truncated body. The pause
                // first lets hyper flush what was sent, else the client would get no
                // headers at all and see a failed request rather than a cut body.
                self.cut = false;
                tokio::time::sleep(CUT_DELAY).await;
                let err = io::Error::new(io::ErrorKind::ConnectionReset, "simulated reset");
                return Some((Err(err), self));
            }
            return None;
        };
        self.sent += piece.len() as u64;
        if let Some(rate) = self.pace {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = started + Duration::from_secs_f64(self.sent as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
        }
        Some((Ok(piece), self))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn plan() -> BodyPlan {
        BodyPlan {
            segments: vec![Bytes::from_static(b"abc"), Bytes::from_static(b"defg")],
            zeros: 5,
            cut: false,
            bytes_per_sec: None,
        }
    }

    #[test]
    fn slices_span_segments_and_zeros() {
        let sliced = plan().slice(2, 9);
        assert_eq!(sliced.segments, [&b"c"[..], &b"defg"[..]]);
        assert_eq!(sliced.zeros, 2);
        assert_eq!(sliced.len(), 7);

        let tail = plan().slice(8, 12);
        assert!(tail.segments.is_empty());
        assert_eq!(tail.zeros, 4);

        let head = plan().slice(0, 1);
        assert_eq!(head.segments, [&b"a"[..]]);
        assert_eq!(head.zeros, 0);
    }

    #[test]
    fn range_headers() {
        let part = |start, end| RangeAsk::Part { start, end };
        assert_eq!(parse_range(None, 10), RangeAsk::Full);
        assert_eq!(parse_range(Some("bytes=2-5"), 10), part(2, 6));
        assert_eq!(parse_range(Some("bytes=4-"), 10), part(4, 10));
        assert_eq!(parse_range(Some("bytes=4-100"), 10), part(4, 10));
        assert_eq!(parse_range(Some("bytes=-3"), 10), part(7, 10));
        assert_eq!(parse_range(Some("bytes=-30"), 10), part(0, 10));
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), RangeAsk::Full);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), RangeAsk::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeAsk::Full);
        assert_eq!(parse_range(Some("bytes=x-1"), 10), RangeAsk::Full);
    }
}
