//! Shared helpers for the integration tests: a scripted HTTP server for retry
//! and failure cases httpmock cannot sequence, a stand-in for the service that
//! knows only the published schemas and the upload flow ([`standin`]), and
//! tiny valid images.

pub mod standin;

pub mod pg;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// A raw answer with a content type.
    pub fn raw(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", content_type.into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// Answers only after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// A request the scripted server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The method.
    pub method: Method,
    /// The path.
    pub path: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

#[derive(Default)]
struct State {
    replies: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
    /// Answer every list request `{"data": []}`, outside the script.
    empty_lists: bool,
}

/// A loopback server answering each request with the next scripted reply
/// (the last one repeats once the script runs out).
pub struct Scripted {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    /// Starts a server with `replies`.
    pub async fn start(replies: Vec<Reply>) -> Scripted {
        Scripted::serve(replies, false).await
    }

    /// Starts a server with `replies` for everything but list requests,
    /// which get an empty list (the SDK lists before a client's first create,
    /// and after a create that may have happened).
    pub async fn with_empty_lists(replies: Vec<Reply>) -> Scripted {
        Scripted::serve(replies, true).await
    }

    async fn serve(replies: Vec<Reply>, empty_lists: bool) -> Scripted {
        let state = Arc::new(State {
            replies: Mutex::new(replies.into()),
            seen: Mutex::default(),
            empty_lists,
        });
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { answer(state, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Scripted { addr, state, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The POST requests (creates) seen so far.
    pub fn posts(&self) -> Vec<Seen> {
        let mut seen = self.seen();
        seen.retain(|s| s.method == Method::POST);
        seen
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    state: Arc<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A list is a GET of a model's collection (`.../wan-v2-2-580p`), not of a task in it.
    let list = method == Method::GET
        && uri
            .path()
            .rsplit('/')
            .next()
            .is_some_and(|last| last.starts_with("wan-v2-2-"));
    state.seen.lock().unwrap().push(Seen {
        method,
        path: uri.path().to_owned(),
        headers,
        body,
    });
    if state.empty_lists && list {
        return axum::Json(serde_json::json!({"data": []})).into_response();
    }
    let reply = {
        let mut replies = state.replies.lock().unwrap();
        if replies.len() > 1 {
            replies.pop_front()
        } else {
            replies.front().cloned()
        }
    };
    let Some(reply) = reply else {
        return StatusCode::NOT_IMPLEMENTED.into_response();
    };
    tokio::time::sleep(reply.delay).await;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// A loopback server that, for every connection, promises `promised` bytes
/// and sends only `sent` of them before closing: a download cut half-way.
pub async fn truncating_server(promised: usize, sent: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: {promised}\r\n\r\n"
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&vec![7u8; sent]).await;
                let _ = socket.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            });
        }
    });
    format!("http://{addr}/video.mp4")
}

/// The requests a [`raw_host`] was sent, in order: each one's target (path
/// and query) and `Range` header.
#[derive(Clone, Debug, Default)]
pub struct HostLog(Arc<Mutex<Vec<HostRequest>>>);

/// A request's target (path and query) and `Range` header.
pub type HostRequest = (String, Option<String>);

impl HostLog {
    /// Each request's target and `Range`.
    pub fn requests(&self) -> Vec<HostRequest> {
        self.0.lock().unwrap().clone()
    }

    /// Each request's `Range`.
    pub fn ranges(&self) -> Vec<Option<String>> {
        self.requests()
            .into_iter()
            .map(|(_, range)| range)
            .collect()
    }

    /// How many requests came.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Whether none came.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A loopback host for the cases a well-behaved server cannot play (bodies
/// cut short, no `Content-Length`, odd heads): each request is answered by
/// `serve(path, range start, request count)` with a raw HTTP head and body,
/// then the connection is closed (which also ends a body of unknown
/// length). Returns its base URL and the log of what it was sent.
pub async fn raw_host(
    serve: impl Fn(&str, Option<u64>, usize) -> (String, Vec<u8>) + Send + Sync + 'static,
) -> (String, HostLog) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = HostLog::default();
    let seen = log.clone();
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (serve, seen) = (serve.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let range = head.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("range:")
                        .map(|v| v.trim().to_owned())
                });
                let from = range
                    .as_deref()
                    .and_then(|r| r.strip_prefix("bytes="))
                    .and_then(|r| r.strip_suffix('-'))
                    .and_then(|n| n.parse().ok());
                let count = {
                    let mut seen = seen.0.lock().unwrap();
                    seen.push((target.clone(), range));
                    seen.len()
                };
                let path = target.split('?').next().unwrap_or("/");
                let (head, body) = serve(path, from, count);
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.flush().await;
                let _ = socket.shutdown().await;
                // Closed at once, the socket could reset the connection
                // before the client has read the answer.
                tokio::time::sleep(Duration::from_millis(20)).await;
            });
        }
    });
    (format!("http://{addr}"), log)
}

/// A loopback video server that cuts every whole-file answer half-way and,
/// when `ranges` is set, answers `Range: bytes=N-` with the rest (`206`).
/// Returns the video's URL and the log of what it was sent.
pub async fn resuming_server(video: Vec<u8>, ranges: bool) -> (String, HostLog) {
    let len = video.len();
    let (base, log) = raw_host(move |_, from, _| match from.filter(|_| ranges) {
        Some(from) => {
            let from = usize::try_from(from).unwrap_or(len).min(len);
            (
                format!(
                    "HTTP/1.1 206 Partial Content\r\ncontent-type: video/mp4\r\n\
                     content-range: bytes {from}-{}/{len}\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n",
                    len - 1,
                    len - from
                ),
                video[from..].to_vec(),
            )
        }
        // The whole file, cut half-way.
        None => (
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\n\
                 content-length: {len}\r\nconnection: close\r\n\r\n"
            ),
            video[..len / 2].to_vec(),
        ),
    })
    .await;
    (format!("{base}/video.mp4"), log)
}

/// A PNG signature and IHDR chunk of `width` x `height` (all the SDK's header
/// checks read; the CRC is not checked), padded with zeros to `len` bytes.
pub fn png(width: u32, height: u32, len: usize) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(b"IHDR");
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    out.resize(len.max(out.len()), 0);
    out
}

/// A WAV header (`RIFF`, `WAVE`, `fmt `: what the checks read) padded with
/// zeros to `len` bytes.
pub fn wav(len: usize) -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(len.saturating_sub(8) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.resize(len.max(44), 0);
    out
}

/// A valid MP4 of exactly `size` bytes (at least 32): an `ftyp` box, then a
/// top-level `free` box whose payload counts up (mod 251), so that bytes
/// stitched at a wrong offset do not pass for the video.
pub fn mp4(size: usize) -> Vec<u8> {
    let mut out = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
    let free = u32::try_from(size - out.len()).expect("an MP4 under 4 GiB");
    out.extend_from_slice(&free.to_be_bytes());
    out.extend_from_slice(b"free");
    let at = out.len();
    out.extend((at..size).map(|i| (i % 251) as u8));
    out
}

/// Writes a valid MP4 of `size` bytes at `path` without writing its bytes:
/// an `ftyp` box, then a `free` box whose payload is a hole in a sparse
/// file (a 120 MB video costs no disk and no memory).
pub fn sparse_mp4(path: &std::path::Path, size: u64) {
    let head = mp4(32);
    let mut file = std::fs::File::create(path).unwrap();
    std::io::Write::write_all(&mut file, &head[..24]).unwrap();
    let free = u32::try_from(size - 24).expect("an MP4 under 4 GiB");
    std::io::Write::write_all(&mut file, &free.to_be_bytes()).unwrap();
    std::io::Write::write_all(&mut file, b"free").unwrap();
    file.set_len(size).unwrap();
}

/// The MP4 the simulator serves for every task.
pub const SIM_VIDEO: &[u8] = include_bytes!("../../crates/freepik-wan-sim/assets/sample.mp4");

/// The file the simulator serves when asked for `size` bytes
/// (`SimulatorBuilder::video_size`): its MP4, then a top-level `free` box of
/// zeros up to `size`, which keeps the file a valid MP4.
pub fn expected_video(size: usize) -> Vec<u8> {
    let pad = size - SIM_VIDEO.len();
    let mut out = SIM_VIDEO.to_vec();
    out.extend_from_slice(&u32::try_from(pad).expect("a pad under 4 GiB").to_be_bytes());
    out.extend_from_slice(b"free");
    out.resize(size, 0);
    out
}
