//! Uploads (Magnific's Upload Files API) and URLs as typed, through the SDK,
//! against the stand-in that knows only the published schemas and the upload
//! flow (`freepik_wan_tests::standin`): `request-url` as the docs say, and a
//! storage host that checks the signed headers and refuses the API key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use freepik_wan::{Client, Error, Model, RateLimit, RetryPolicy};
use freepik_wan_tests::standin::{StandIn, StorageFaults};
use freepik_wan_tests::{Reply, Scripted, png, wav};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const KEY: &str = "upload-test-key-93f1";

async fn stand_in() -> StandIn {
    StandIn::start(KEY, StorageFaults::default()).await
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

/// The storage requests: PUTs, and whether each carried an API key.
fn puts(stand_in: &StandIn) -> usize {
    let storage = stand_in.storage_requests();
    storage.iter().filter(|r| r.method == "PUT").count()
}

#[tokio::test]
async fn files_go_up_with_one_request_and_the_signed_headers_and_never_the_key() {
    let stand_in = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let image = png(640, 360, 40_000);
    let path = dir.path().join("face.png");
    std::fs::write(&path, &image).unwrap();
    let voice = wav(10_000);
    let client = client(&stand_in.base_url());
    let staged = client
        .upload_all(vec![path.clone().into(), voice.clone().into()])
        .await
        .unwrap();
    assert_eq!(staged.len(), 2);
    assert_eq!(staged[0].content_type, "image/png");
    assert_eq!(staged[1].content_type, "audio/wav");
    let asked = stand_in.upload_requests();
    assert_eq!(
        asked,
        vec![json!({"files": [{"content_type": "image/png"}, {"content_type": "audio/wav"}]})],
        "one request-url call for both files"
    );
    assert_eq!(
        stand_in.asset(&staged[0].asset_url).as_deref(),
        Some(&image[..])
    );
    assert_eq!(
        stand_in.asset(&staged[1].asset_url).as_deref(),
        Some(&voice[..])
    );
    assert!(!stand_in.storage_saw_a_key());
    // The same content again: remembered, nothing sent.
    let again = client.upload(path).await.unwrap();
    assert_eq!(again.file_id, staged[0].file_id);
    assert_eq!(stand_in.upload_requests().len(), 1);
    assert!(!format!("{again:?}").contains("token="));
}

/// What a client remembers is keyed by the hash of the content sent: the
/// same file again is not sent, another file of the same size is, and a
/// client handed the first one's uploads reuses them.
#[tokio::test]
async fn uploads_are_remembered_by_the_hash_of_what_was_sent() {
    let stand_in = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let (a, b) = (png(640, 360, 70_000), png(360, 640, 70_000));
    let (path_a, path_b) = (write("a.png", &a), write("b.png", &b));
    let first = client(&stand_in.base_url());
    let sent_a = first.upload(path_a.as_path()).await.unwrap();
    assert_eq!(sent_a.sha256, <[u8; 32]>::from(Sha256::digest(&a)));
    let sent_b = first.upload(path_b.as_path()).await.unwrap();
    assert_ne!(
        sent_b.file_id, sent_a.file_id,
        "another content, the same size"
    );
    assert_eq!(sent_b.sha256, <[u8; 32]>::from(Sha256::digest(&b)));
    assert_eq!(stand_in.asset(&sent_b.asset_url).as_deref(), Some(&b[..]));
    assert_eq!(
        first.upload(path_a.as_path()).await.unwrap().file_id,
        sent_a.file_id
    );
    let next = client(&stand_in.base_url());
    next.remember_uploads(first.uploads());
    assert_eq!(next.upload(path_b).await.unwrap().file_id, sent_b.file_id);
    assert_eq!(stand_in.upload_requests().len(), 2);
    assert_eq!(puts(&stand_in), 2);
}

/// A storage host that answers 200 once it has read the request's head,
/// before the body (a server may): the PUT has then read and hashed part
/// of the file, and the upload is remembered by the whole file's hash.
#[tokio::test]
async fn an_upload_answered_before_its_body_was_read_is_remembered_by_the_files_hash() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let storage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upload_url = format!("http://{}/upload/0?sig=s", storage.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = storage.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 1024];
                let _ = socket.read(&mut head).await;
                let answer = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                let _ = socket.write_all(answer.as_bytes()).await;
                // Then read on slowly, so that the client sees the answer
                // long before its body is out.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = tokio::io::copy(&mut socket, &mut tokio::io::sink()).await;
            });
        }
    });
    let target = json!({"files": [{
        "file_id": "upl_0",
        "upload_url": upload_url,
        "headers": {"Content-Type": "image/png", "x-goog-content-length-range": "0,1073741824"},
        "asset_url": "https://storage.example/assets/0?token=t",
    }]});
    let api = Scripted::start(vec![Reply::json(200, target)]).await;
    let dir = tempfile::tempdir().unwrap();
    let image = png(640, 360, 8 << 20);
    let path = dir.path().join("big.png");
    std::fs::write(&path, &image).unwrap();
    let uploaded = client(&api.url()).upload(path).await.unwrap();
    assert_eq!(uploaded.sha256, <[u8; 32]>::from(Sha256::digest(&image)));
}

#[tokio::test]
async fn a_storage_503_is_tried_again_and_an_expired_url_is_asked_anew() {
    let faults = StorageFaults {
        one_503: true,
        expire_first_upload_url: true,
    };
    let stand_in = StandIn::start(KEY, faults).await;
    let image = png(640, 360, 1000);
    let uploaded = client(&stand_in.base_url())
        .upload(image.clone())
        .await
        .unwrap();
    // 400 ExpiredToken: a fresh URL; then 503: the same URL again.
    assert_eq!(stand_in.upload_requests().len(), 2);
    assert_eq!(puts(&stand_in), 3);
    assert_eq!(uploaded.file_id, "upl_1");
    assert_eq!(
        stand_in.asset(&uploaded.asset_url).as_deref(),
        Some(&image[..])
    );
}

#[tokio::test]
async fn a_file_the_upload_cannot_take_is_refused_by_its_bytes_and_nothing_is_sent() {
    let stand_in = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("photo.png");
    std::fs::write(&fake, "this is text, whatever its name says").unwrap();
    let client = client(&stand_in.base_url());
    let error = client.upload(fake).await.unwrap_err();
    assert!(
        matches!(error, Error::Validation { field: "file", .. }),
        "{error}"
    );
    assert!(error.to_string().contains("photo.png"), "{error}");
    let empty = client.upload(Vec::new()).await.unwrap_err();
    assert!(matches!(empty, Error::Validation { .. }), "{empty}");
    assert!(stand_in.api_requests().is_empty() && stand_in.storage_requests().is_empty());
}

#[tokio::test]
async fn upload_progress_counts_up_to_the_files_total() {
    let stand_in = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.png");
    let image = png(640, 360, 300_000);
    std::fs::write(&path, &image).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    client(&stand_in.base_url())
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

/// URLs as typed (a space, a non-ASCII path and host) in every kind of URL
/// field pass the published schema's `format: uri` once the SDK sends them;
/// the same strings sent raw do not.
#[tokio::test]
async fn urls_with_spaces_and_non_ascii_pass_the_published_schema_and_raw_ones_fail() {
    let stand_in = stand_in().await;
    let client = client(&stand_in.base_url());
    let start = "https://example.com/my photos/café.png";
    let end = "https://bücher.example/end frame.png";
    let hook = "https://example.com/hooks/wan ü";
    let request = "image-to-video/wan-2-7"
        .parse::<Model>()
        .unwrap()
        .request()
        .image(start)
        .end_image(end)
        .webhook_url(hook);
    client.create(request).await.unwrap();
    let creates = stand_in.creates();
    let [(path, body)] = &creates[..] else {
        panic!("{creates:?}")
    };
    assert_eq!(path, "/v1/ai/image-to-video/wan-2-7");
    assert_eq!(
        body["start_image_url"],
        "https://example.com/my%20photos/caf%C3%A9.png"
    );
    assert_eq!(
        body["end_image_url"],
        "https://xn--bcher-kva.example/end%20frame.png"
    );
    // The same body with the strings as typed: refused, naming each field.
    let raw = json!({"start_image_url": start, "end_image_url": end, "webhook_url": hook});
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", stand_in.base_url()))
        .header("x-magnific-api-key", KEY)
        .json(&raw)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(answer.headers()["content-type"], "application/problem+json");
    let problem: Value = answer.json().await.unwrap();
    let mut names: Vec<&str> = problem["invalid_params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["end_image_url", "start_image_url", "webhook_url"],
        "{problem}"
    );
    assert_eq!(stand_in.creates().len(), 1);
}
