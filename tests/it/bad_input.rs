//! The bad-input matrix: every input a user can get wrong is refused with a
//! typed error naming the field, *before* any request leaves the machine; and
//! every malformed answer a server (or a proxy in front of it) can give turns
//! into a typed error (`Decode`, `Api` or `Transport`), never a panic or a hang.
//!
//! Refusals run against an httpmock server whose catch-all mock must see zero
//! calls: a check that happens only on the service's side would cost the user
//! a round trip (and, for creates, possibly credits).

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::pin::Pin;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use freepik_wan::image_input::{MAX_IMAGE_BYTES, inspect};
use freepik_wan::webhook::{Verifier, WebhookError, WebhookSecret};
use freepik_wan::{AspectRatio, Client, Error, ImageInput, RetryPolicy, Task, VideoDuration};
use freepik_wan_tests::png;
use httpmock::MockServer;
use reqwest::header::{HeaderMap, HeaderValue};

const KEY: &str = "test-key";
const TASK: &str = "046b6c7f-0b8a-43b9-b35d-6489e6daee91";
const TASK_PATH: &str = "/v1/ai/image-to-video/wan-v2-2-580p/046b6c7f-0b8a-43b9-b35d-6489e6daee91";
const CREATE_PATH: &str = "/v1/ai/image-to-video/wan-v2-2-580p";

/// What a refusal must be.
#[derive(Clone, Copy)]
enum Want {
    /// `Error::Validation` naming this field.
    Validation(&'static str),
    /// `Error::Config`.
    Config,
    /// `Error::Webhook` of the variant the predicate accepts.
    Webhook(fn(&WebhookError) -> bool),
}

impl Want {
    fn check(self, case: &str, got: Result<(), Error>) {
        let err = match got {
            Ok(()) => panic!("{case}: accepted, but should have been refused"),
            Err(err) => err,
        };
        let ok = match (self, &err) {
            (Want::Validation(want), Error::Validation { field, reason }) => {
                assert!(!reason.is_empty(), "{case}: a refusal must say why");
                *field == want
            }
            (Want::Config, Error::Config(reason)) => !reason.is_empty(),
            (Want::Webhook(matches), Error::Webhook(inner)) => matches(inner),
            _ => false,
        };
        assert!(ok, "{case}: wrong error: {err:?}");
        // Messages are for people: never empty, never the API key.
        let text = err.to_string();
        assert!(!text.is_empty() && !text.contains(KEY), "{case}: {text}");
    }
}

type Case = (
    &'static str,
    Pin<Box<dyn Future<Output = Result<(), Error>>>>,
    Want,
);

fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// Builds a create for `image` and sends it, keeping only the error.
fn create(
    client: &Client,
    image: impl Into<ImageInput>,
) -> Pin<Box<dyn Future<Output = Result<(), Error>>>> {
    let request = client.image_to_video(image);
    Box::pin(async move { request.send().await.map(drop) })
}

fn ready(result: Result<(), Error>) -> Pin<Box<dyn Future<Output = Result<(), Error>>>> {
    Box::pin(std::future::ready(result))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Headers of a correctly signed webhook, minus the ones named in `drop`.
fn webhook_headers(secret: &str, body: &[u8], drop: &str) -> HeaderMap {
    let ts = now();
    let signature = WebhookSecret::new(secret).sign("msg_1", ts, body).unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("webhook-id", "msg_1".to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", signature),
    ] {
        if name != drop {
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
        }
    }
    headers
}

#[tokio::test]
async fn bad_inputs_are_refused_with_typed_errors_before_any_request() {
    let server = MockServer::start_async().await;
    // Matches every request: any call at all is a check done too late.
    let anything = server
        .mock_async(|_, then| {
            then.status(500).body("should not have been called");
        })
        .await;
    let client = client(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let missing = dir.path().join("missing.png");
    let empty = file("empty.png", b"");
    let text = file("notes.png", b"this is a text file, not an image\n");
    let gif = file(
        "anim.png",
        b"GIF89a\x10\x01\x10\x01\x80\x00\x00\xff\xff\xff\x00\x00\x00",
    );
    let truncated = file(
        "truncated.png",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00",
    );
    let narrow = file("narrow.png", &png(239, 480, 1024));
    let huge_side = file("wide.png", &png(8001, 600, 1024));
    let oversized = file(
        "big.png",
        &png(1000, 1000, usize::try_from(MAX_IMAGE_BYTES).unwrap() + 1),
    );
    let ok_image = "https://example.com/cat.png";
    let secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
    let body = br#"{"task_id":"t1","status":"COMPLETED","generated":[]}"#;
    let verifier = Verifier::new(secret);

    let cases: Vec<Case> = vec![
        // Image files.
        (
            "missing file",
            create(&client, missing.as_path()),
            Want::Validation("image"),
        ),
        (
            "directory",
            create(&client, dir.path()),
            Want::Validation("image"),
        ),
        (
            "empty file",
            create(&client, empty.as_path()),
            Want::Validation("image"),
        ),
        (
            "text file",
            create(&client, text.as_path()),
            Want::Validation("image"),
        ),
        (
            "GIF file",
            create(&client, gif.as_path()),
            Want::Validation("image"),
        ),
        (
            "truncated PNG header",
            create(&client, truncated.as_path()),
            Want::Validation("image"),
        ),
        (
            "239 px side",
            create(&client, narrow.as_path()),
            Want::Validation("image"),
        ),
        (
            "8001 px side",
            create(&client, huge_side.as_path()),
            Want::Validation("image"),
        ),
        (
            "10 MiB + 1 file",
            create(&client, oversized.as_path()),
            Want::Validation("image"),
        ),
        // The same rules for bytes in memory.
        (
            "empty bytes",
            create(&client, Vec::new()),
            Want::Validation("image"),
        ),
        (
            "10 MiB + 1 bytes",
            create(
                &client,
                png(1000, 1000, usize::try_from(MAX_IMAGE_BYTES).unwrap() + 1),
            ),
            Want::Validation("image"),
        ),
        (
            "239 px bytes",
            create(&client, png(640, 239, 64)),
            Want::Validation("image"),
        ),
        // Prompts: counted in characters, not bytes.
        (
            "2001-char prompt",
            {
                let r = client.image_to_video(ok_image).prompt("a".repeat(2001));
                Box::pin(async move { r.send().await.map(drop) })
            },
            Want::Validation("prompt"),
        ),
        (
            "2001 multibyte-char prompt",
            {
                let r = client.image_to_video(ok_image).prompt("é".repeat(2001));
                Box::pin(async move { r.send().await.map(drop) })
            },
            Want::Validation("prompt"),
        ),
        // Enums parsed from user text.
        (
            "duration \"7\"",
            ready(VideoDuration::from_str("7").map(drop)),
            Want::Validation("duration"),
        ),
        (
            "duration \"\"",
            ready(VideoDuration::from_str("").map(drop)),
            Want::Validation("duration"),
        ),
        (
            "aspect ratio \"16:9\"",
            ready(AspectRatio::from_str("16:9").map(drop)),
            Want::Validation("aspect_ratio"),
        ),
        // Image URLs.
        (
            "ftp:// image URL",
            ready(ImageInput::url("ftp://example.com/cat.png").map(drop)),
            Want::Validation("image"),
        ),
        (
            "relative image URL",
            ready(ImageInput::url("images/cat.png").map(drop)),
            Want::Validation("image"),
        ),
        (
            "javascript: image URL",
            ready(ImageInput::url("javascript:alert(1)").map(drop)),
            Want::Validation("image"),
        ),
        (
            "empty image URL",
            ready(ImageInput::url("").map(drop)),
            Want::Validation("image"),
        ),
        // A string that looks like a URL but has no host reaches create as such.
        (
            "hostless https image",
            create(&client, "https://"),
            Want::Validation("image"),
        ),
        // Webhook URLs.
        (
            "ftp webhook URL",
            {
                let r = client
                    .image_to_video(ok_image)
                    .webhook_url("ftp://example.com/hook");
                Box::pin(async move { r.send().await.map(drop) })
            },
            Want::Validation("webhook_url"),
        ),
        (
            "webhook URL without host",
            {
                let r = client.image_to_video(ok_image).webhook_url("http://");
                Box::pin(async move { r.send().await.map(drop) })
            },
            Want::Validation("webhook_url"),
        ),
        (
            "webhook URL that is not a URL",
            {
                let r = client.image_to_video(ok_image).webhook_url("not a url");
                Box::pin(async move { r.send().await.map(drop) })
            },
            Want::Validation("webhook_url"),
        ),
        // Task ids and download sources.
        (
            "empty task id",
            {
                let c = client.clone();
                Box::pin(async move { c.task("  ").await.map(drop) })
            },
            Want::Validation("task_id"),
        ),
        (
            "download of an unfinished task",
            {
                let c = client.clone();
                let path = dir.path().join("never.mp4");
                Box::pin(async move {
                    let task = Task::new(TASK, freepik_wan::TaskStatus::InProgress, vec![]);
                    c.download(&task, path).await.map(drop)
                })
            },
            Want::Validation("task"),
        ),
        (
            "download from ftp://",
            {
                let c = client.clone();
                let path = dir.path().join("never.mp4");
                Box::pin(async move { c.download("ftp://example.com/v.mp4", path).await.map(drop) })
            },
            Want::Validation("url"),
        ),
        // Webhook secrets and requests.
        (
            "empty webhook secret",
            ready(
                Verifier::new("")
                    .verify(&webhook_headers("x", body, ""), body)
                    .map(drop)
                    .map_err(Error::from),
            ),
            Want::Webhook(|e| matches!(e, WebhookError::InvalidSecret { .. })),
        ),
        (
            "webhook secret that is not base64",
            ready(
                WebhookSecret::base64("not base64!")
                    .map(drop)
                    .map_err(Error::from),
            ),
            Want::Webhook(|e| matches!(e, WebhookError::InvalidSecret { .. })),
        ),
        (
            "missing webhook-signature header",
            ready(
                verifier
                    .verify(&webhook_headers(secret, body, "webhook-signature"), body)
                    .map(drop)
                    .map_err(Error::from),
            ),
            Want::Webhook(|e| matches!(e, WebhookError::MissingHeader("webhook-signature"))),
        ),
        (
            "missing webhook-id header",
            ready(
                verifier
                    .verify(&webhook_headers(secret, body, "webhook-id"), body)
                    .map(drop)
                    .map_err(Error::from),
            ),
            Want::Webhook(|e| matches!(e, WebhookError::MissingHeader("webhook-id"))),
        ),
        (
            "non-numeric webhook timestamp",
            ready(
                verifier
                    .verify_parts("msg_1", "yesterday", "v1,AAAA", body)
                    .map(drop)
                    .map_err(Error::from),
            ),
            Want::Webhook(|e| matches!(e, WebhookError::MalformedTimestamp { .. })),
        ),
        (
            "stale webhook timestamp",
            {
                let ts = now() - 3600;
                let sig = WebhookSecret::new(secret).sign("msg_1", ts, body).unwrap();
                ready(
                    verifier
                        .verify_parts("msg_1", &ts.to_string(), &sig, body)
                        .map(drop)
                        .map_err(Error::from),
                )
            },
            Want::Webhook(|e| matches!(e, WebhookError::Stale { .. })),
        ),
        (
            "webhook signed with another secret",
            ready(
                verifier
                    .verify(&webhook_headers("whsec_b3RoZXI=", body, ""), body)
                    .map(drop)
                    .map_err(Error::from),
            ),
            Want::Webhook(|e| matches!(e, WebhookError::NoMatchingSignature { v1_entries: 1 })),
        ),
        (
            "webhook body changed after signing",
            ready(
                verifier
                    .verify(
                        &webhook_headers(secret, body, ""),
                        br#"{"task_id":"t2","status":"COMPLETED"}"#,
                    )
                    .map(drop)
                    .map_err(Error::from),
            ),
            Want::Webhook(|e| matches!(e, WebhookError::NoMatchingSignature { .. })),
        ),
        (
            "garbage webhook signature",
            ready(
                verifier
                    .verify_parts("msg_1", &now().to_string(), "garbage", body)
                    .map(drop)
                    .map_err(Error::from),
            ),
            Want::Webhook(|e| matches!(e, WebhookError::MalformedSignature { .. })),
        ),
        // Client configuration.
        (
            "ftp base URL",
            ready(
                Client::builder()
                    .api_key(KEY)
                    .base_url("ftp://example.com")
                    .build()
                    .map(drop),
            ),
            Want::Config,
        ),
        (
            "relative base URL",
            ready(
                Client::builder()
                    .api_key(KEY)
                    .base_url("api.freepik.com")
                    .build()
                    .map(drop),
            ),
            Want::Config,
        ),
        (
            "empty base URL",
            ready(
                Client::builder()
                    .api_key(KEY)
                    .base_url("")
                    .build()
                    .map(drop),
            ),
            Want::Config,
        ),
        (
            "empty API key",
            ready(Client::builder().api_key("").build().map(drop)),
            Want::Config,
        ),
        (
            "blank API key",
            ready(Client::builder().api_key(" \n").build().map(drop)),
            Want::Config,
        ),
        (
            "no API key",
            ready(
                Client::builder()
                    .base_url(server.base_url())
                    .build()
                    .map(drop),
            ),
            Want::Config,
        ),
    ];
    for (name, run, want) in cases {
        want.check(name, run.await);
    }
    assert_eq!(
        anything.calls_async().await,
        0,
        "a bad input reached the server"
    );
}

/// The boundaries are inclusive: what the rules allow is sent.
#[tokio::test]
async fn inputs_at_the_limits_are_sent() {
    let server = MockServer::start_async().await;
    let created = server
        .mock_async(|when, then| {
            when.method("POST").path(CREATE_PATH);
            then.status(200)
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"data":{{"task_id":"{TASK}","status":"CREATED"}}}}"#
                ));
        })
        .await;
    let client = client(&server);
    let limit = usize::try_from(MAX_IMAGE_BYTES).unwrap();
    for (name, image, prompt) in [
        ("2000 multibyte chars", png(240, 8000, 64), "é".repeat(2000)),
        ("exactly 10 MiB", png(8000, 240, limit), "a".repeat(2000)),
    ] {
        let task = client
            .image_to_video(image)
            .prompt(prompt)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(task.id.as_str(), TASK);
    }
    assert_eq!(created.calls_async().await, 2);
}

/// What a malformed answer must become.
#[derive(Clone, Copy, Debug)]
enum Typed {
    Decode,
    Api(u16),
    Transport,
}

fn classify(case: &str, err: &Error) -> Typed {
    match err {
        Error::Decode { .. } => Typed::Decode,
        Error::Api { status, .. } => Typed::Api(status.as_u16()),
        Error::Transport { .. } => Typed::Transport,
        other => panic!("{case}: untyped or unexpected error: {other:?}"),
    }
}

fn same(a: Typed, b: Typed) -> bool {
    match (a, b) {
        (Typed::Decode, Typed::Decode) | (Typed::Transport, Typed::Transport) => true,
        (Typed::Api(x), Typed::Api(y)) => x == y,
        _ => false,
    }
}

#[tokio::test]
async fn malformed_responses_give_typed_errors() {
    let huge = {
        // ~50 MB of non-JSON bytes behind a 200: decoding must fail cleanly,
        // and the error must not carry the body around.
        let mut garbage = Vec::with_capacity(50 << 20);
        while garbage.len() < 50 << 20 {
            garbage.extend_from_slice(b"<garbage \x01\x02\xff> ");
        }
        garbage
    };
    let html = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>\
                 <body><h1>Bad Gateway</h1></body></html>"
        .to_vec();
    let cases: Vec<(&str, u16, &str, Vec<u8>, Typed)> = vec![
        (
            "truncated JSON",
            200,
            "application/json",
            br#"{"data":{"task_id":"abc","sta"#.to_vec(),
            Typed::Decode,
        ),
        (
            "wrong types",
            200,
            "application/json",
            br#"{"data":{"task_id":5,"status":true,"generated":"x"}}"#.to_vec(),
            Typed::Decode,
        ),
        ("HTML 200", 200, "text/html", html.clone(), Typed::Decode),
        (
            "empty 200",
            200,
            "application/json",
            Vec::new(),
            Typed::Decode,
        ),
        (
            "~50 MB garbage 200",
            200,
            "application/json",
            huge,
            Typed::Decode,
        ),
        (
            "200 unknown shape",
            200,
            "application/json",
            br#"{"result":"ok","items":[1,2]}"#.to_vec(),
            Typed::Decode,
        ),
        (
            "200 JSON array",
            200,
            "application/json",
            b"[]".to_vec(),
            Typed::Decode,
        ),
        (
            "200 null data",
            200,
            "application/json",
            br#"{"data":null}"#.to_vec(),
            Typed::Decode,
        ),
        ("502 HTML", 502, "text/html", html.clone(), Typed::Api(502)),
        (
            "500 plain text",
            500,
            "text/plain",
            b"upstream exploded".to_vec(),
            Typed::Api(500),
        ),
        (
            "404 empty body",
            404,
            "application/json",
            Vec::new(),
            Typed::Api(404),
        ),
        ("401 HTML", 401, "text/html", html, Typed::Api(401)),
        (
            "400 truncated JSON",
            400,
            "application/json",
            br#"{"message":"bad"#.to_vec(),
            Typed::Api(400),
        ),
    ];
    for (name, status, content_type, body, want) in cases {
        for op in ["get", "create", "list"] {
            let server = MockServer::start_async().await;
            let body = body.clone();
            server
                .mock_async(|_, then| {
                    then.status(status)
                        .header("content-type", content_type)
                        .body(body);
                })
                .await;
            let client = client(&server);
            let case = format!("{name} ({op})");
            let got = match op {
                "get" => client.task(TASK).await.map(drop),
                "create" => client
                    .image_to_video("https://example.com/cat.png")
                    .await
                    .map(drop),
                _ => client.tasks().await.map(drop),
            };
            let err = match got {
                Ok(()) if op == "list" && name == "200 JSON array" => continue,
                Ok(()) => panic!("{case}: accepted a malformed answer"),
                Err(err) => err,
            };
            // A create answered 200 (unreadable), 500 or 502 may have made
            // its task: that is said first, with what came back inside.
            let may_exist = op == "create" && matches!(status, 200 | 500 | 502);
            let err = match err {
                Error::CreateUncertain(uncertain) => {
                    assert!(may_exist, "{case}: wrongly uncertain: {uncertain}");
                    *uncertain.cause
                }
                other => {
                    assert!(!may_exist, "{case}: want CreateUncertain, got {other:?}");
                    other
                }
            };
            let typed = classify(&case, &err);
            assert!(same(typed, want), "{case}: want {want:?}, got {err:?}");
            assert_eq!(err.status().map(|s| s.as_u16()), Some(status), "{case}");
            // The message quotes at most a snippet of what came back.
            let text = err.to_string();
            assert!(text.len() < 4096, "{case}: a {} byte message", text.len());
        }
    }
}

/// A 200 whose body is cut before its promised length is a transport error,
/// also for `wait` (which must end, not poll forever on a non-retryable error
/// or hang on a half-read body).
#[tokio::test]
async fn cut_and_unknown_answers_end_calls_cleanly() {
    // A raw server: promises 200 bytes of JSON and closes after 20.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"data\":{\"task_id\":",
            );
            let _ = stream.flush();
        }
    });
    let cut = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}"))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = cut.task(TASK).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_retryable(), "a cut body may pass: {err:?}");

    // `wait` on an answer of the wrong shape stops with the decode error
    // instead of polling until its deadline.
    let server = MockServer::start_async().await;
    let polled = server
        .mock_async(|when, then| {
            when.method("GET").path(TASK_PATH);
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"task":{"id":"x"}}"#);
        })
        .await;
    let err = client(&server)
        .wait(TASK)
        .timeout(Duration::from_secs(600))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(polled.calls_async().await, 1);

    // An unknown status is not malformed: it decodes and counts as not done.
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method("GET").path(TASK_PATH);
            then.status(200)
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"data":{{"task_id":"{TASK}","status":"QUEUED_FOR_GPU","generated":[]}}}}"#
                ));
        })
        .await;
    let task = client(&server).task(TASK).await.unwrap();
    assert_eq!(task.status.as_str(), "QUEUED_FOR_GPU");
    assert!(!task.status.is_terminal());
}

/// `inspect` reads any byte string without panicking and refuses what is not
/// an image with a typed error (the fuzz target covers this at scale).
#[test]
fn inspect_refuses_non_images_with_validation_errors() {
    let samples: [&[u8]; 7] = [
        b"",
        b"\x89PNG",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b"GIF89a\x01\x00\x01\x00",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ];
    for sample in samples {
        match inspect(sample) {
            Err(Error::Validation { field: "image", .. }) => {}
            other => panic!("{sample:?}: {other:?}"),
        }
    }
}
