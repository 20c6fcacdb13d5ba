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

    fn len(&self) -> u64 {
        self.segments.iter().map(|s| s.len() as u64).sum::<u64>() + self.zeros
    }

    /// A 200 response with this body, `content_type`, and a `Content-Length` that is the
    /// full length even when the body will be cut: that is what makes a cut detectable as
    /// a truncated body rather than a short, valid one.
    pub(crate) fn into_response(self, content_type: &'static str) -> Response {
        let len = self.len();
        let mut response = Response::new(self.into_body(len));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        response
    }

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
