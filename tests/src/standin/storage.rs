//! The stand-in's storage origin, a cloud bucket as the Upload Files docs
//! describe it: a signed `PUT` with exactly the headers `request-url`
//! returned and no API key, XML errors, and the stored file at its
//! `asset_url`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{API_KEY_HEADERS, State, seen};

/// The docs' lifetimes: an upload URL for 2 minutes, an asset for a day.
const UPLOAD_TTL: Duration = Duration::from_secs(120);
const ASSET_TTL: Duration = Duration::from_secs(86_400);
/// The signed length range: at most 1 GiB.
const LENGTH_RANGE: &str = "0,1073741824";

/// One file `request-url` staged.
pub(super) struct Staged {
    content_type: String,
    signature: String,
    expires: Instant,
    pub(super) asset_url: String,
    /// What the PUT stored.
    pub(super) bytes: Option<Bytes>,
}

/// Stages a file of `content_type`: its `UploadTarget` as the docs show it.
pub(super) fn stage(state: &State, content_type: &str) -> Value {
    let n = state.id();
    let mut staged = state.staged.lock().unwrap();
    let slot = staged.len();
    let signature = format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let asset_url = format!(
        "{}/assets/{slot}?token=exp={n}~hmac={signature}",
        state.storage
    );
    staged.push(Staged {
        content_type: content_type.to_owned(),
        signature: signature.clone(),
        expires: Instant::now() + UPLOAD_TTL,
        asset_url: asset_url.clone(),
        bytes: None,
    });
    json!({
        "file_id": format!("upl_{slot}"),
        "upload_url": format!("{}/upload/{slot}?X-Goog-Signature={signature}", state.storage),
        "headers": {"Content-Type": content_type, "x-goog-content-length-range": LENGTH_RANGE},
        "expires_in": UPLOAD_TTL.as_secs(),
        "asset_url": asset_url,
        "asset_url_expires_in": ASSET_TTL.as_secs(),
    })
}

pub(super) async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) {
    let app = Router::new()
        .fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { answer(&state, method, &uri, headers, body) }
            },
        )
        .layer(DefaultBodyLimit::disable());
    axum::serve(listener, app).await.unwrap();
}

fn answer(state: &State, method: Method, uri: &Uri, headers: HeaderMap, body: Bytes) -> Response {
    let request = seen(method.clone(), uri, headers, body);
    state.storage_seen.lock().unwrap().push(request.clone());
    if API_KEY_HEADERS
        .iter()
        .any(|h| request.headers.contains_key(*h))
    {
        return xml(StatusCode::BAD_REQUEST, "InvalidArgument");
    }
    let slot = |prefix: &str| {
        uri.path()
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
    };
    match (method, slot("/upload/"), slot("/assets/")) {
        (Method::PUT, Some(slot), _) => put(state, slot, uri.query(), &request),
        (Method::GET, _, Some(slot)) => asset(state, slot, uri),
        _ => xml(StatusCode::NOT_FOUND, "NoSuchKey"),
    }
}

fn put(state: &State, slot: usize, query: Option<&str>, request: &crate::Seen) -> Response {
    let mut staged = state.staged.lock().unwrap();
    let Some(file) = staged.get_mut(slot) else {
        return xml(StatusCode::NOT_FOUND, "NoSuchUpload");
    };
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let signed = query == Some(&format!("X-Goog-Signature={}", file.signature))
        && header("content-type") == Some(file.content_type.as_str())
        && header("x-goog-content-length-range") == Some(LENGTH_RANGE);
    if !signed {
        return xml(StatusCode::FORBIDDEN, "SignatureDoesNotMatch");
    }
    if Instant::now() > file.expires || state.expire_first.swap(false, Ordering::Relaxed) {
        return xml(StatusCode::BAD_REQUEST, "ExpiredToken");
    }
    if state.one_503.swap(false, Ordering::Relaxed) {
        return xml(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
    }
    if request.body.len() > 1 << 30 {
        return xml(StatusCode::BAD_REQUEST, "EntityTooLarge");
    }
    file.bytes = Some(request.body.clone());
    StatusCode::OK.into_response()
}

fn asset(state: &State, slot: usize, uri: &Uri) -> Response {
    let staged = state.staged.lock().unwrap();
    let stored = staged
        .get(slot)
        .filter(|file| file.asset_url.ends_with(&uri.to_string()))
        .and_then(|file| Some((file.content_type.clone(), file.bytes.clone()?)));
    match stored {
        Some((content_type, bytes)) => {
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        None => xml(StatusCode::FORBIDDEN, "AccessDenied"),
    }
}

/// A bucket's error: an XML body naming the code.
fn xml(status: StatusCode, code: &str) -> Response {
    let body = format!("<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code></Error>");
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}
