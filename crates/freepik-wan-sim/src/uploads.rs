//! The Upload Files API: `POST /v1/ai/uploads/request-url` on the API, and a
//! storage host on another origin that answers like a cloud bucket: it takes
//! a `PUT` only with the signed headers and without an API key, answers XML
//! errors (`ExpiredToken`, `SignatureDoesNotMatch`), and serves each staged
//! file at its `asset_url` until that expires.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use bytes::Bytes;
use freepik_wan_api::models::ModelInfo;
use serde_json::{Value, json};
use tokio::time::Instant;

/// The content types the upload takes (the docs' list).
pub(crate) const CONTENT_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/webp",
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "audio/mpeg",
    "audio/wav",
    "audio/mp4",
    "audio/ogg",
];

/// The signed length range: at most 1 GiB.
const LENGTH_RANGE: &str = "0,1073741824";
const MAX_UPLOAD: usize = 1 << 30;

/// The headers carrying an API key: storage must never see one.
const API_KEY_HEADERS: [&str; 2] = ["x-magnific-api-key", "x-freepik-api-key"];

/// How uploads behave, from [`Faults`](crate::Faults).
#[derive(Clone, Debug)]
pub(crate) struct UploadRules {
    /// How long an upload URL stays valid (`expires_in`).
    pub(crate) upload_ttl: Duration,
    /// How long an asset URL stays readable (`asset_url_expires_in`).
    pub(crate) asset_ttl: Duration,
    /// The first PUT the storage host sees is answered `400 ExpiredToken`.
    pub(crate) expire_first_put: bool,
    /// Share of PUTs answered `503 SlowDown`-style XML.
    pub(crate) rate_put_503: f64,
    /// Seed of the PUT fault dice.
    pub(crate) seed: u64,
}

struct Staged {
    content_type: String,
    signature: String,
    token: String,
    url_expires: Instant,
    asset_expires: Option<Instant>,
    bytes: Option<Bytes>,
    puts: u32,
}

/// Every staged file, and the storage host's counters.
pub(crate) struct Uploads {
    /// `http://127.0.0.1:PORT` of the storage host.
    storage_base: String,
    rules: UploadRules,
    files: Mutex<HashMap<String, Staged>>,
    next: AtomicU64,
    rng: Mutex<fastrand::Rng>,
    /// Files asked for in `request-url` calls.
    pub(crate) urls_requested: AtomicU64,
    /// PUTs stored.
    pub(crate) uploads: AtomicU64,
    /// Bytes stored.
    pub(crate) upload_bytes: AtomicU64,
    /// Requests that reached storage carrying an API key (refused).
    pub(crate) key_at_storage: AtomicU64,
    /// Whether the first upload URL has been answered as expired.
    expired_one: std::sync::atomic::AtomicBool,
}

impl Uploads {
    pub(crate) fn new(storage_base: String, rules: UploadRules) -> Self {
        let rng = Mutex::new(fastrand::Rng::with_seed(rules.seed ^ 0x5eed_u64));
        Uploads {
            storage_base,
            rules,
            files: Mutex::default(),
            next: AtomicU64::new(1),
            rng,
            urls_requested: AtomicU64::new(0),
            uploads: AtomicU64::new(0),
            upload_bytes: AtomicU64::new(0),
            key_at_storage: AtomicU64::new(0),
            expired_one: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<String, Staged>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer to a `request-url` body, or the reason it is refused.
    pub(crate) fn request_urls(&self, body: &[u8]) -> Result<Value, String> {
        let body: Value =
            serde_json::from_slice(body).map_err(|e| format!("The body is not valid JSON: {e}"))?;
        let files = body
            .get("files")
            .and_then(Value::as_array)
            .filter(|files| !files.is_empty())
            .ok_or("`files` must be a non-empty list")?;
        let mut answers = Vec::with_capacity(files.len());
        for file in files {
            let content_type = file
                .get("content_type")
                .and_then(Value::as_str)
                .filter(|ct| CONTENT_TYPES.contains(ct))
                .ok_or_else(|| {
                    format!(
                        "content_type must be one of {}, not {}",
                        CONTENT_TYPES.join(", "),
                        file.get("content_type").unwrap_or(&Value::Null)
                    )
                })?;
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let kind = content_type.split('/').next().unwrap_or("file");
            let short = match kind {
                "image" => "img",
                "video" => "vid",
                "audio" => "aud",
                _ => "file",
            };
            let file_id = format!("upl_{short}_{n:08x}");
            let signature = format!("sig{n:x}{:08x}", fastrand::u32(..));
            let token = format!("exp={}~hmac={:016x}", n, fastrand::u64(..));
            self.files().insert(
                file_id.clone(),
                Staged {
                    content_type: content_type.to_owned(),
                    signature: signature.clone(),
                    token: token.clone(),
                    url_expires: Instant::now() + self.rules.upload_ttl,
                    asset_expires: None,
                    bytes: None,
                    puts: 0,
                },
            );
            self.urls_requested.fetch_add(1, Ordering::Relaxed);
            answers.push(json!({
                "file_id": file_id,
                "upload_url": format!(
                    "{}/upload/{file_id}?X-Goog-Signature={signature}",
                    self.storage_base
                ),
                "headers": {
                    "Content-Type": content_type,
                    "x-goog-content-length-range": LENGTH_RANGE,
                },
                "expires_in": self.rules.upload_ttl.as_secs().max(1),
                "asset_url": format!("{}/assets/{file_id}?token={token}", self.storage_base),
                "asset_url_expires_in": self.rules.asset_ttl.as_secs().max(1),
            }));
        }
        Ok(json!({ "files": answers }))
    }

    /// Where the asset URLs live: a create's URL starting with it names a
    /// staged file.
    fn asset_prefix(&self) -> String {
        format!("{}/assets/", self.storage_base)
    }

    /// Checks every staged-file URL in a create's body: it must name an
    /// uploaded file, still readable, of the kind its field takes. The
    /// `(field, reason)` of each that does not.
    pub(crate) fn check_create(&self, model: &ModelInfo, body: &[u8]) -> Vec<(String, String)> {
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
            return Vec::new();
        };
        let mut refused = Vec::new();
        let prefix = self.asset_prefix();
        for (name, value) in &fields {
            let Some(field) = model.field(name) else {
                continue;
            };
            let mut urls: Vec<(&str, Option<&'static str>)> = Vec::new();
            match value {
                Value::String(url) => urls.push((url, field.media.map(|m| m.kind))),
                Value::Array(items) => {
                    for item in items {
                        match item {
                            Value::String(url) => urls.push((url, field.media.map(|m| m.kind))),
                            Value::Object(map) => {
                                for (key, url) in map {
                                    let Some(url) = url.as_str() else { continue };
                                    let kind = field
                                        .fields
                                        .iter()
                                        .find(|f| f.name == key)
                                        .and_then(|f| f.media)
                                        .map(|m| m.kind);
                                    urls.push((url, kind));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
            for (url, kind) in urls {
                let Some(rest) = url.strip_prefix(&prefix) else {
                    continue;
                };
                if let Err(reason) = self.readable(rest, kind) {
                    refused.push((name.clone(), reason));
                }
            }
        }
        refused
    }

    /// Whether `rest` (`FILE_ID?token=…`) names a readable file of `kind`.
    fn readable(&self, rest: &str, kind: Option<&str>) -> Result<(), String> {
        let (file_id, query) = rest.split_once('?').unwrap_or((rest, ""));
        let files = self.files();
        let staged = files
            .get(file_id)
            .ok_or_else(|| format!("no uploaded file {file_id}"))?;
        if staged.bytes.is_none() {
            return Err(format!("file {file_id} was never uploaded (no PUT)"));
        }
        if query != format!("token={}", staged.token) {
            return Err(format!(
                "the URL of file {file_id} is not its signed asset URL"
            ));
        }
        if staged.asset_expires.is_some_and(|at| Instant::now() >= at) {
            return Err(format!("file {file_id} has expired"));
        }
        if let Some(kind) = kind
            && !staged.content_type.starts_with(kind)
        {
            return Err(format!(
                "file {file_id} is {}, not the {kind} this field takes",
                staged.content_type
            ));
        }
        Ok(())
    }

    /// Every stored file: its id, content type and bytes, in no order.
    pub(crate) fn stored(&self) -> Vec<(String, String, Bytes)> {
        self.files()
            .iter()
            .filter_map(|(id, staged)| {
                let bytes = staged.bytes.clone()?;
                Some((id.clone(), staged.content_type.clone(), bytes))
            })
            .collect()
    }

    /// The counters, for [`Stats`](crate::Stats).
    pub(crate) fn stats(&self) -> crate::UploadStats {
        crate::UploadStats {
            urls_requested: self.urls_requested.load(Ordering::Relaxed),
            stored: self.uploads.load(Ordering::Relaxed),
            bytes: self.upload_bytes.load(Ordering::Relaxed),
            key_refused: self.key_at_storage.load(Ordering::Relaxed),
        }
    }

    /// The storage host's routes.
    pub(crate) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/upload/{file_id}", put(store))
            .route("/assets/{file_id}", get(fetch))
            // A bucket takes what the signed length range allows.
            .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD + 1))
            .with_state(self)
    }
}

/// Cloud storage's error body.
fn xml(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")],
        format!(
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        ),
    )
        .into_response()
}

async fn store(
    State(uploads): State<Arc<Uploads>>,
    Path(file_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if API_KEY_HEADERS.iter().any(|h| headers.contains_key(*h)) {
        uploads.key_at_storage.fetch_add(1, Ordering::Relaxed);
        return xml(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "An API key is not accepted here: the signature is the authorization.",
        );
    }
    let fault_503 = {
        let roll = uploads.rng.lock().unwrap_or_else(|e| e.into_inner()).f64();
        roll < uploads.rules.rate_put_503
    };
    let mut files = uploads.files();
    let Some(staged) = files.get_mut(&file_id) else {
        return xml(StatusCode::NOT_FOUND, "NoSuchUpload", "No such upload.");
    };
    staged.puts += 1;
    let signed = query
        .as_deref()
        .and_then(|q| q.strip_prefix("X-Goog-Signature="))
        == Some(staged.signature.as_str());
    let header_is = |name: &str, want: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == want)
    };
    if !signed
        || !header_is("content-type", &staged.content_type)
        || !header_is("x-goog-content-length-range", LENGTH_RANGE)
    {
        return xml(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    let expire_this = uploads.rules.expire_first_put
        && !uploads
            .expired_one
            .swap(true, std::sync::atomic::Ordering::Relaxed);
    if Instant::now() >= staged.url_expires || expire_this {
        return xml(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "The provided token has expired.",
        );
    }
    if fault_503 {
        return xml(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "We encountered an internal error. Please try again.",
        );
    }
    if body.len() > MAX_UPLOAD {
        return xml(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size.",
        );
    }
    uploads.uploads.fetch_add(1, Ordering::Relaxed);
    uploads
        .upload_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    staged.asset_expires = Some(Instant::now() + uploads.rules.asset_ttl);
    staged.bytes = Some(body);
    StatusCode::OK.into_response()
}

async fn fetch(
    State(uploads): State<Arc<Uploads>>,
    Path(file_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let files = uploads.files();
    let readable = files.get(&file_id).and_then(|staged| {
        let fresh = staged.asset_expires.is_some_and(|at| Instant::now() < at);
        let signed = query.as_deref() == Some(&format!("token={}", staged.token));
        (fresh && signed)
            .then(|| Some((staged.content_type.clone(), staged.bytes.clone()?)))
            .flatten()
    });
    match readable {
        Some((content_type, bytes)) => {
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => xml(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Access denied. Request has expired.",
        ),
    }
}
