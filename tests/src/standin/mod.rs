//! A stand-in for Magnific's service that knows only what is published: the
//! Wan operations and the Upload Files API as vendored under
//! `openapi/upstream/`, and the upload flow the docs describe. It shares no
//! code with the simulator, so a test against it checks the SDK and the CLI
//! against the published contract rather than against our own reading of it.
//!
//! - Every create body is validated against its operation's published
//!   request schema (formats included: `uri` is RFC 3986), and answered 400
//!   `application/problem+json` on a violation; a valid one makes a task,
//!   answered with the fields the published response schema requires.
//! - A task's status is `COMPLETED` with a fresh video URL on each GET (a
//!   real MP4 on the stand-in), unless made with [`StandIn::running_task`].
//! - `POST /v1/ai/uploads/request-url` hands out signed upload URLs on a
//!   second origin, the storage host, which takes a `PUT` only with exactly
//!   the returned headers, refuses any request carrying an API key, answers
//!   XML errors, and serves what it stored at the `asset_url`.
//! - Everything received (bodies, headers, PUT bytes) is recorded.

mod api;
mod spec;
mod storage;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::Seen;

/// The headers that carry an API key.
const API_KEY_HEADERS: [&str; 2] = ["x-magnific-api-key", "x-freepik-api-key"];

/// Storage trouble to play, each once; none by default.
#[derive(Clone, Copy, Debug, Default)]
pub struct StorageFaults {
    /// The first signed PUT is answered `503` (an XML `ServiceUnavailable`).
    pub one_503: bool,
    /// The first upload URL has expired when its PUT arrives (`400
    /// ExpiredToken`).
    pub expire_first_upload_url: bool,
}

/// A running stand-in: an API origin and a storage origin on loopback.
pub struct StandIn {
    state: Arc<State>,
    servers: Vec<JoinHandle<()>>,
}

struct State {
    key: String,
    api: String,
    storage: String,
    /// Faults still to play.
    one_503: AtomicBool,
    expire_first: AtomicBool,
    next_id: AtomicU64,
    api_seen: Mutex<Vec<Seen>>,
    storage_seen: Mutex<Vec<Seen>>,
    /// Accepted creates: the path and the body.
    creates: Mutex<Vec<(String, Value)>>,
    tasks: Mutex<HashMap<String, Task>>,
    staged: Mutex<Vec<storage::Staged>>,
}

/// A task the stand-in made.
struct Task {
    /// The model's collection path.
    path: String,
    /// Stays `IN_PROGRESS` (else `COMPLETED` at once).
    running: bool,
    /// The video URLs its status answers handed out, oldest first.
    urls: Vec<String>,
}

impl State {
    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// What a handler records of a request.
fn seen(method: Method, uri: &Uri, headers: HeaderMap, body: Bytes) -> Seen {
    Seen {
        method,
        path: uri.path().to_owned(),
        headers,
        body,
    }
}

impl StandIn {
    /// Starts both origins; `key` is the API key the API accepts.
    pub async fn start(key: &str, faults: StorageFaults) -> StandIn {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let storage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let state = Arc::new(State {
            key: key.to_owned(),
            api: format!("http://{}", api.local_addr().unwrap()),
            storage: format!("http://{}", storage.local_addr().unwrap()),
            one_503: AtomicBool::new(faults.one_503),
            expire_first: AtomicBool::new(faults.expire_first_upload_url),
            next_id: AtomicU64::new(0),
            api_seen: Mutex::default(),
            storage_seen: Mutex::default(),
            creates: Mutex::default(),
            tasks: Mutex::default(),
            staged: Mutex::default(),
        });
        let servers = vec![
            tokio::spawn(api::serve(api, state.clone())),
            tokio::spawn(storage::serve(storage, state.clone())),
        ];
        StandIn { state, servers }
    }

    /// The API's base URL, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.state.api.clone()
    }

    /// Every request the API origin received, in order.
    pub fn api_requests(&self) -> Vec<Seen> {
        self.state.api_seen.lock().unwrap().clone()
    }

    /// Every request the storage origin received, in order.
    pub fn storage_requests(&self) -> Vec<Seen> {
        self.state.storage_seen.lock().unwrap().clone()
    }

    /// The POSTs sent to a model's path (creates), valid or not.
    pub fn creates_sent(&self) -> usize {
        let models = &spec::spec().models;
        let api = self.api_requests();
        api.iter()
            .filter(|r| r.method == Method::POST && models.iter().any(|m| m.path == r.path))
            .count()
    }

    /// The creates accepted: each one's path and body.
    pub fn creates(&self) -> Vec<(String, Value)> {
        self.state.creates.lock().unwrap().clone()
    }

    /// The `request-url` bodies received, valid or not.
    pub fn upload_requests(&self) -> Vec<Value> {
        let api = self.api_requests();
        api.iter()
            .filter(|r| r.path == api::REQUEST_URL)
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }

    /// How many files the storage host stored.
    pub fn stored(&self) -> usize {
        let staged = self.state.staged.lock().unwrap();
        staged.iter().filter(|s| s.bytes.is_some()).count()
    }

    /// Whether any request to the storage host carried an API key.
    pub fn storage_saw_a_key(&self) -> bool {
        self.storage_requests()
            .iter()
            .any(|r| API_KEY_HEADERS.iter().any(|h| r.headers.contains_key(*h)))
    }

    /// The bytes stored behind an `asset_url` the stand-in handed out.
    pub fn asset(&self, url: &str) -> Option<Bytes> {
        let staged = self.state.staged.lock().unwrap();
        staged.iter().find(|s| s.asset_url == url)?.bytes.clone()
    }

    /// Every string in `body` that is a URL on the storage host, with the
    /// bytes stored behind it (`None`: no stored asset has that URL).
    pub fn assets_named(&self, body: &Value) -> Vec<(String, Option<Bytes>)> {
        let mut urls = Vec::new();
        strings(body, &mut urls);
        urls.retain(|url| url.starts_with(&self.state.storage));
        urls.into_iter()
            .map(|url| {
                let bytes = self.asset(&url);
                (url, bytes)
            })
            .collect()
    }

    /// The video URLs the status of `task_id` handed out, oldest first.
    pub fn video_urls(&self, task_id: &str) -> Vec<String> {
        let tasks = self.state.tasks.lock().unwrap();
        tasks
            .get(task_id)
            .map(|t| t.urls.clone())
            .unwrap_or_default()
    }

    /// A task of the model at `path` (e.g. `/v1/ai/text-to-video/wan-2-7`)
    /// that stays `IN_PROGRESS`; its id.
    pub fn running_task(&self, path: &str) -> String {
        api::add_task(&self.state, path, true)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
    }
}

/// Every string inside `value`.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}
