//! Only a video is saved: a page in place of the video, or a body cut short
//! with no `Content-Length` to tell, is refused (retried, and resumed where
//! it was cut), never renamed into place as the `.mp4`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use freepik_wan::{Client, RateLimit, RetryPolicy};
use freepik_wan_tests::{HostLog, Reply, SIM_VIDEO, Scripted, raw_host};
use futures_util::StreamExt;
use serde_json::json;

const TASK: &str = "8d3c6a0e-5b1f-4f7e-9a2d-0c4b7e1f6a93";

fn client_at(base: &str) -> Client {
    Client::builder()
        .api_key("k")
        .base_url(base)
        .retry(
            RetryPolicy::default()
                .max_retries(2)
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(20)),
        )
        .rate_limit(RateLimit::none())
        .build()
        .unwrap()
}

/// The API's answer for the task: COMPLETED, its video at `url`.
fn completed(url: &str) -> Reply {
    Reply::json(
        200,
        json!({"data": {"task_id": TASK, "status": "COMPLETED", "generated": [url]}}),
    )
}

/// A video host answering each request with `serve(range start, count)`'s
/// raw head and body (see [`raw_host`]), at a signed-looking URL.
async fn video_host(
    serve: impl Fn(Option<u64>, usize) -> (String, Vec<u8>) + Send + Sync + 'static,
) -> (String, HostLog) {
    let (base, log) = raw_host(move |_, from, count| serve(from, count)).await;
    (format!("{base}/v.mp4?token=exp=1~hmac=secret"), log)
}

/// A `200` with `body` and no `Content-Length`: the connection's close ends it.
fn unsized_body(content_type: &str, body: &[u8]) -> (String, Vec<u8>) {
    (
        format!("HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\nconnection: close\r\n\r\n"),
        body.to_vec(),
    )
}

/// The dir's entries, by name.
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_page_answered_200_in_place_of_the_video_is_refused_and_nothing_is_saved() {
    let page = b"<!doctype html><html><body>Please sign in</body></html>";
    let (url, seen) = video_host(move |_, _| {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            page.len()
        );
        (head, page.to_vec())
    })
    .await;
    let api = Scripted::start(vec![completed(&url), completed(&url)]).await;
    let client = client_at(&api.url());
    let task = client.task(TASK).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    std::fs::write(&out, b"the earlier video").unwrap();
    let err = client
        .download(&task, &out)
        .await
        .expect_err("a page was saved as the video");
    let message = err.to_string();
    assert!(
        message.contains("not a whole video") && message.contains("text/html"),
        "{message}"
    );
    assert!(
        !message.contains("hmac"),
        "the URL's token is shown: {message}"
    );
    assert!(err.is_retryable(), "a proxy's page may pass: {err:?}");
    assert_eq!(seen.len(), 3, "tried again, as a cut is");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"the earlier video",
        "the page replaced the file"
    );
    assert_eq!(names(dir.path()), ["v.mp4"], "a part file is left");

    // The stream refuses it too.
    let err = client
        .download_stream(&task)
        .await
        .expect_err("a page was streamed as the video");
    assert!(err.to_string().contains("text/html"), "{err}");
}

#[tokio::test]
async fn a_page_labelled_as_bytes_is_refused_by_what_it_holds() {
    let page = b"<html><body>502 Bad Gateway</body></html>";
    let (url, _) = video_host(move |_, _| unsized_body("application/octet-stream", page)).await;
    let client = client_at("http://127.0.0.1:1");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let err = client
        .download(url.as_str(), &out)
        .await
        .expect_err("a page was saved as the video");
    assert!(err.to_string().contains("ftyp"), "{err}");
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
    // A stream says so in place of the first chunk.
    let mut stream = client.download_stream(url.as_str()).await.unwrap();
    let first = stream.next().await.expect("an item");
    assert!(
        first
            .as_ref()
            .is_err_and(|e| e.to_string().contains("ftyp")),
        "{first:?}"
    );
}

#[tokio::test]
async fn a_body_cut_with_no_content_length_is_resumed_not_taken_for_the_video() {
    let video = SIM_VIDEO.to_vec();
    let half = video.len() / 2;
    let served = video.clone();
    let (url, seen) = video_host(move |from, _| match from {
        // The whole video asked for: half of it comes, then the close.
        None => unsized_body("video/mp4", &served[..half]),
        Some(from) => {
            let from = from as usize;
            let head = format!(
                "HTTP/1.1 206 Partial Content\r\ncontent-type: video/mp4\r\n\
                 content-range: bytes {from}-{}/{}\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n",
                served.len() - 1,
                served.len(),
                served.len() - from
            );
            (head, served[from..].to_vec())
        }
    })
    .await;
    let client = client_at("http://127.0.0.1:1");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let saved = client.download(url.as_str(), &out).await.unwrap();
    assert_eq!(
        seen.ranges(),
        [None, Some(format!("bytes={half}-"))],
        "the cut body was taken for the video, or not resumed"
    );
    assert!(std::fs::read(&out).unwrap() == video, "not the video");
    assert_eq!(saved.bytes, video.len() as u64);
    assert_eq!(names(dir.path()), ["v.mp4"]);
}

#[tokio::test]
async fn a_body_always_cut_with_no_content_length_leaves_no_file() {
    let half = SIM_VIDEO.len() / 2;
    // A host that ignores ranges and is cut every time.
    let (url, seen) = video_host(move |_, _| unsized_body("video/mp4", &SIM_VIDEO[..half])).await;
    let api = Scripted::start(vec![completed(&url)]).await;
    let client = client_at(&api.url());
    let task = client.task(TASK).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let err = client
        .download(&task, &out)
        .await
        .expect_err("a video cut in half was saved");
    assert!(err.to_string().contains("cut short"), "{err}");
    assert_eq!(seen.len(), 3);
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[tokio::test]
async fn a_redirect_never_carries_the_signed_url_in_a_referer() {
    use axum::http::HeaderMap;
    let referers = Arc::new(Mutex::new(Vec::new()));
    let log = referers.clone();
    let app = axum::Router::new().route(
        "/v.mp4",
        axum::routing::get(move |headers: HeaderMap| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(
                    headers
                        .get("referer")
                        .map(|v| v.to_str().unwrap_or("?").to_owned()),
                );
                ([("content-type", "video/mp4")], SIM_VIDEO)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // Another host name for the same server: the redirect crosses hosts.
    let target = format!(
        "http://localhost:{}/v.mp4",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (url, _) = video_host(move |_, _| {
        let head = format!(
            "HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n"
        );
        (head, Vec::new())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    client_at("http://127.0.0.1:1")
        .download(url.as_str(), dir.path().join("v.mp4"))
        .await
        .unwrap();
    assert_eq!(*referers.lock().unwrap(), [None], "the token went along");
}
