//! Uploads (Magnific's Upload Files API) against a stand-in that answers
//! `request-url` as the docs say and plays the storage host: it checks the
//! signed headers and refuses any request that carries the API key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use freepik_wan::{Client, Error, RateLimit, RetryPolicy};
use freepik_wan_tests::png;
use serde_json::{Value, json};

const KEY: &str = "upload-test-key-93f1";

#[derive(Default)]
struct Storage {
    base: String,
    /// How many request-url calls, and files asked for in each.
    requests: Vec<usize>,
    /// Stored files by slot.
    stored: Vec<Option<Vec<u8>>>,
    /// Signed content type per slot.
    types: Vec<String>,
    /// PUTs seen, and whether any carried the key.
    puts: usize,
    key_seen_at_storage: bool,
    /// The next PUTs to answer with these statuses (then serve normally).
    faults: Vec<u16>,
}

type Shared = Arc<Mutex<Storage>>;

async fn request_url(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get("x-magnific-api-key").is_none_or(|k| k != KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Invalid API key"})),
        )
            .into_response();
    }
    let body: Value = serde_json::from_slice(&body).unwrap();
    let files = body["files"].as_array().unwrap();
    let mut s = s.lock().unwrap();
    s.requests.push(files.len());
    let mut out = Vec::new();
    for file in files {
        let slot = s.stored.len();
        s.stored.push(None);
        let ct = file["content_type"].as_str().unwrap().to_owned();
        s.types.push(ct.clone());
        out.push(json!({
            "file_id": format!("upl_{slot}"),
            "upload_url": format!("{}/storage/{slot}?X-Goog-Signature=sig{slot}", s.base),
            "headers": {"Content-Type": ct, "x-goog-content-length-range": "0,1073741824"},
            "expires_in": 120,
            "asset_url": format!("{}/assets/{slot}?token=t{slot}", s.base),
            "asset_url_expires_in": 86400,
        }));
    }
    axum::Json(json!({"files": out})).into_response()
}

async fn storage_put(
    State(s): State<Shared>,
    Path(slot): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = s.lock().unwrap();
    s.puts += 1;
    if headers.contains_key("x-magnific-api-key") || headers.contains_key("x-freepik-api-key") {
        s.key_seen_at_storage = true;
        return (
            StatusCode::BAD_REQUEST,
            "<Error><Code>InvalidArgument</Code></Error>",
        )
            .into_response();
    }
    if !s.faults.is_empty() {
        let status = s.faults.remove(0);
        let code = if status == 400 {
            "ExpiredToken"
        } else {
            "ServiceUnavailable"
        };
        return (
            StatusCode::from_u16(status).unwrap(),
            format!("<Error><Code>{code}</Code></Error>"),
        )
            .into_response();
    }
    let signed = s.types[slot].clone();
    let sent = headers.get("content-type").and_then(|v| v.to_str().ok());
    let length_range = headers.get("x-goog-content-length-range");
    if sent != Some(signed.as_str()) || length_range.is_none() {
        return (
            StatusCode::FORBIDDEN,
            "<Error><Code>SignatureDoesNotMatch</Code></Error>",
        )
            .into_response();
    }
    s.stored[slot] = Some(body.to_vec());
    StatusCode::OK.into_response()
}

async fn stand_in() -> (Shared, String) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/v1/ai/uploads/request-url", post(request_url))
        .route("/storage/{slot}", put(storage_put))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    shared.lock().unwrap().base = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (shared, base)
}

fn client(base: &str) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(base)
        .rate_limit(RateLimit::none())
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(20)),
        )
        .build()
        .unwrap()
}

fn wav(len: usize) -> Vec<u8> {
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&((len as u32) + 36).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.resize(len.max(44), 0);
    bytes
}

#[tokio::test]
async fn files_go_up_with_one_request_and_the_signed_headers_and_never_the_key() {
    let (storage, base) = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let image = png(640, 360, 40_000);
    let path = dir.path().join("face.png");
    std::fs::write(&path, &image).unwrap();
    let voice = wav(10_000);
    let client = client(&base);
    let staged = client
        .upload_all(vec![path.clone().into(), voice.clone().into()])
        .await
        .unwrap();
    assert_eq!(staged.len(), 2);
    assert_eq!(staged[0].content_type, "image/png");
    assert_eq!(staged[1].content_type, "audio/wav");
    assert!(staged[0].asset_url.contains("/assets/0"));
    {
        let s = storage.lock().unwrap();
        assert_eq!(s.requests, vec![2], "one request-url call for both files");
        assert_eq!(s.stored[0].as_deref(), Some(&image[..]));
        assert_eq!(s.stored[1].as_deref(), Some(&voice[..]));
        assert!(!s.key_seen_at_storage);
    }
    // The same content again: remembered, nothing sent.
    let again = client.upload(path).await.unwrap();
    assert_eq!(again.file_id, staged[0].file_id);
    assert_eq!(storage.lock().unwrap().requests.len(), 1);
    assert!(!format!("{again:?}").contains("token="));
}

#[tokio::test]
async fn a_storage_503_is_tried_again_and_an_expired_url_is_asked_anew() {
    let (storage, base) = stand_in().await;
    storage.lock().unwrap().faults = vec![503, 400];
    let image = png(640, 360, 1000);
    let uploaded = client(&base).upload(image.clone()).await.unwrap();
    let s = storage.lock().unwrap();
    // 503 retried on the same URL; 400 ExpiredToken: a fresh URL.
    assert_eq!(s.requests, vec![1, 1], "{:?}", s.requests);
    assert_eq!(s.puts, 3);
    assert_eq!(uploaded.file_id, "upl_1");
    assert_eq!(s.stored[1].as_deref(), Some(&image[..]));
}

#[tokio::test]
async fn a_file_the_upload_cannot_take_is_refused_by_its_bytes_and_nothing_is_sent() {
    let (storage, base) = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("photo.png");
    std::fs::write(&fake, "this is text, whatever its name says").unwrap();
    let error = client(&base).upload(fake).await.unwrap_err();
    assert!(
        matches!(error, Error::Validation { field: "file", .. }),
        "{error}"
    );
    assert!(error.to_string().contains("photo.png"), "{error}");
    let empty = client(&base).upload(Vec::new()).await.unwrap_err();
    assert!(matches!(empty, Error::Validation { .. }), "{empty}");
    let s = storage.lock().unwrap();
    assert!(s.requests.is_empty() && s.puts == 0);
}

#[tokio::test]
async fn upload_progress_counts_up_to_the_files_total() {
    let (_storage, base) = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.png");
    let image = png(640, 360, 300_000);
    std::fs::write(&path, &image).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    client(&base)
        .upload_all_with_progress(vec![path.into()], move |p| {
            record.lock().unwrap().push((p.bytes, p.total));
        })
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.len() > 2, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    assert_eq!(seen.last(), Some(&(300_000, Some(300_000))));
}
