//! The ergonomic crate (`freepik-wan`) against mock and scripted servers:
//! what users rely on when creating, waiting, downloading and failing.

use std::time::{Duration, Instant};

use freepik_wan::{
    AspectRatio, Client, Error, RetryPolicy, TaskStatus, VideoDuration, WaitOptions,
};
use freepik_wan_tests::{Reply, Scripted, png, truncating_server};
use futures_util::StreamExt;
use httpmock::MockServer;
use serde_json::json;

const KEY: &str = "fpk-live-secret-0123456789";
const TASK: &str = "046b6c7f-0b8a-43b9-b35d-6489e6daee91";
const TASKS: &str = "/v1/ai/image-to-video/wan-v2-2-580p";

/// Fast retries so failure paths finish quickly.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
}

fn client(base: &str) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(base)
        .retry(quick_retries())
        .wait_options(fast_wait())
        .build()
        .unwrap()
}

fn task_body(status: &str, generated: &[&str]) -> serde_json::Value {
    json!({"data": {"task_id": TASK, "status": status, "generated": generated}})
}

fn created() -> Reply {
    Reply::json(200, json!({"data": {"task_id": TASK, "status": "CREATED"}}))
}

#[tokio::test]
async fn create_from_a_file_sends_base64_key_user_agent_and_string_duration() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("photo.jpg"); // a PNG by content: content decides
    let bytes = png(640, 360, 100);
    std::fs::write(&image, &bytes).unwrap();
    let server = Scripted::with_empty_lists(vec![created()]).await;
    let task = client(&format!("{}/", server.url()))
        .image_to_video(&image)
        .prompt("the cat yawns")
        .aspect_ratio(AspectRatio::Square1x1)
        .seed(7)
        .send()
        .await
        .unwrap();
    assert_eq!(task.id.as_str(), TASK);
    assert_eq!(task.status, TaskStatus::Created);

    let seen = server.posts();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, TASKS);
    // The key under both brands' header names: Magnific's, and Freepik's.
    assert_eq!(request.headers["x-magnific-api-key"], KEY);
    assert_eq!(request.headers["x-freepik-api-key"], KEY);
    let agent = request.headers["user-agent"].to_str().unwrap();
    assert!(agent.starts_with("freepik-wan/"), "{agent}");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    use base64::Engine;
    let expected_image = base64::engine::general_purpose::STANDARD.encode(&bytes);
    assert_eq!(
        body,
        json!({
            "image": expected_image,
            "prompt": "the cat yawns",
            "duration": "5",
            "aspect_ratio": "square_1_1",
            "seed": 7
        })
    );
}

#[tokio::test]
async fn create_sends_a_url_as_written_and_ten_seconds_as_a_string() {
    let server = Scripted::with_empty_lists(vec![created()]).await;
    client(&server.url())
        .image_to_video("https://cdn.example.com/cat.png?sig=abc")
        .duration(VideoDuration::Ten)
        .webhook_url("https://example.com/hooks")
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&server.posts()[0].body).unwrap();
    assert_eq!(body["image"], "https://cdn.example.com/cat.png?sig=abc");
    assert_eq!(body["duration"], "10");
    assert_eq!(body["webhook_url"], "https://example.com/hooks");
}

#[tokio::test]
async fn an_image_one_byte_over_10_mib_is_refused_without_a_request() {
    let server = MockServer::start_async().await;
    let any = server.mock(|_, then| {
        then.status(200);
    });
    let limit = 10 * 1024 * 1024;
    let image = png(640, 360, limit + 1);
    assert_eq!(image.len(), limit + 1);
    let err = client(&server.base_url())
        .image_to_video(image)
        .send()
        .await
        .unwrap_err();
    match &err {
        Error::Validation { field, reason } => {
            assert_eq!(*field, "image");
            assert!(reason.contains("10485761"), "{reason}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(any.calls_async().await, 0);
}

#[tokio::test]
async fn bad_prompt_webhook_and_missing_file_are_refused_before_sending() {
    let server = MockServer::start_async().await;
    let any = server.mock(|_, then| {
        then.status(200);
    });
    let client = client(&server.base_url());
    let url = "https://example.com/cat.jpg";
    let cases: Vec<(&str, Error)> = vec![
        (
            "prompt",
            client
                .image_to_video(url)
                .prompt("é".repeat(2001))
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "webhook_url",
            client
                .image_to_video(url)
                .webhook_url("ftp://example.com/h")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "webhook_url",
            client
                .image_to_video(url)
                .webhook_url("/relative/hook")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "image",
            client
                .image_to_video("no/such/photo.jpg")
                .send()
                .await
                .unwrap_err(),
        ),
        (
            "image",
            client
                .image_to_video(png(239, 600, 0))
                .send()
                .await
                .unwrap_err(),
        ),
    ];
    for (want, err) in cases {
        match err {
            Error::Validation { field, .. } => assert_eq!(field, want),
            other => panic!("expected a validation error on {want}, got {other:?}"),
        }
    }
    assert_eq!(any.calls_async().await, 0);
    // Exactly 2000 characters is fine.
    let ok = Scripted::start(vec![created()]).await;
    self::client(&ok.url())
        .image_to_video(url)
        .prompt("é".repeat(2000))
        .await
        .unwrap();
}

#[tokio::test]
async fn skip_image_checks_lets_an_unusual_image_through() {
    let server = Scripted::with_empty_lists(vec![created()]).await;
    client(&server.url())
        .image_to_video(b"not an image the SDK knows".to_vec())
        .skip_image_checks()
        .await
        .unwrap();
    assert_eq!(server.posts().len(), 1);
}

#[tokio::test]
async fn status_and_list_return_tasks() {
    let server = Scripted::start(vec![
        Reply::json(200, task_body("COMPLETED", &["https://cdn.example/v.mp4"])),
        Reply::json(
            200,
            json!({"data": [{"task_id": "a", "status": "IN_PROGRESS"}, {"task_id": "b", "status": "SOMETHING_NEW"}]}),
        ),
    ])
    .await;
    let client = client(&server.url());
    let task = client.task(TASK).await.unwrap();
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.video_url(), Some("https://cdn.example/v.mp4"));
    let list = client.tasks().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].status, TaskStatus::Other("SOMETHING_NEW".into()));
    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, [format!("{TASKS}/{TASK}"), TASKS.to_string()]);
}

#[tokio::test]
async fn api_errors_carry_status_message_params_and_headers_but_never_the_key() {
    let server = Scripted::start(vec![
        Reply::json(401, json!({"message": "Invalid API key"})).header("x-request-id", "req-9"),
        Reply::raw(
            400,
            "application/problem+json",
            &json!({"problem": {"message": "Your request parameters didn't validate.", "invalid_params": [{"name": "image", "reason": "too small"}]}}).to_string(),
        ),
        Reply::raw(502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    ])
    .await;
    let client = client(&server.url()).clone();
    let err = client.task(TASK).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(err.request_id(), Some("req-9"));
    assert!(!err.is_retryable());
    let text = format!("{err} {err:?}");
    assert!(text.contains("Invalid API key"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    assert!(!format!("{client:?}").contains(KEY));

    let err = client.task(TASK).await.unwrap_err();
    let Error::Api {
        status,
        message,
        invalid_params,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(status.as_u16(), 400);
    assert_eq!(message, "Your request parameters didn't validate.");
    assert_eq!(invalid_params[0].name, "image");
    assert_eq!(invalid_params[0].reason, "too small");

    // 502 is retried, then reported with a snippet of the proxy's page.
    let err = client.task(TASK).await.unwrap_err();
    let Error::Api {
        status, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(status.as_u16(), 502);
    assert!(message.contains("502 Bad Gateway"), "{message}");
    assert!(err.is_retryable());
    assert_eq!(
        server.seen().len(),
        2 + 4,
        "one try and three retries for the 502"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let server = Scripted::start(vec![
        Reply::json(429, json!({"message": "Too many requests"})).header("retry-after", "1"),
        Reply::json(200, task_body("IN_PROGRESS", &[])),
    ])
    .await;
    let started = Instant::now();
    let task = client(&server.url()).task(TASK).await.unwrap();
    assert_eq!(task.status, TaskStatus::InProgress);
    assert_eq!(server.seen().len(), 2);
    // Behaviour, not speed: the retry did not come before the server allowed it.
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_retry_after_past_the_budget_gives_up_with_the_429() {
    let server = Scripted::start(vec![
        Reply::json(429, json!({"message": "slow down"})).header("retry-after", "3600"),
    ])
    .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.url())
        .retry(quick_retries().budget(Duration::from_secs(5)))
        .build()
        .unwrap();
    let err = client.task(TASK).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn create_is_retried_on_503_but_not_on_500() {
    let server = Scripted::with_empty_lists(vec![
        Reply::json(
            503,
            json!({"message": "Service Unavailable. Please try again later."}),
        ),
        created(),
    ])
    .await;
    client(&server.url())
        .image_to_video("https://example.com/cat.jpg")
        .await
        .unwrap();
    assert_eq!(server.posts().len(), 2);

    let server = Scripted::with_empty_lists(vec![Reply::json(
        500,
        json!({"message": "Internal Server Error"}),
    )])
    .await;
    let err = client(&server.url())
        .image_to_video("https://example.com/cat.jpg")
        .await
        .unwrap_err();
    // A 500 may come after the service acted: the task may exist.
    assert!(matches!(err, Error::CreateUncertain(_)), "{err:?}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(
        server.posts().len(),
        1,
        "a 500 on create may have started a task"
    );
}

#[tokio::test]
async fn create_is_not_retried_after_a_timeout() {
    let server = Scripted::with_empty_lists(vec![created().delayed(Duration::from_secs(2))]).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.url())
        .timeout(Duration::from_millis(300))
        .retry(quick_retries())
        .build()
        .unwrap();
    let err = client
        .image_to_video("https://example.com/cat.jpg")
        .await
        .unwrap_err();
    let Error::CreateUncertain(uncertain) = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(*uncertain.cause, Error::Transport { .. }),
        "{err:?}"
    );
    assert!(
        uncertain.listed && uncertain.candidates.is_empty(),
        "{uncertain:?}"
    );
    assert_eq!(
        server.posts().len(),
        1,
        "the service may have acted: no second create"
    );
    // A read, on the other hand, is retried after a timeout.
    let server = Scripted::start(vec![
        Reply::json(200, task_body("IN_PROGRESS", &[])).delayed(Duration::from_secs(2)),
        Reply::json(200, task_body("IN_PROGRESS", &[])),
    ])
    .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.url())
        .timeout(Duration::from_millis(300))
        .retry(quick_retries())
        .build()
        .unwrap();
    client.task(TASK).await.unwrap();
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn create_is_retried_when_the_connection_was_refused() {
    // A port nothing listens on: the request was never written.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://{closed}"))
        .retry(quick_retries().max_retries(2))
        .build()
        .unwrap();
    let err = client
        .image_to_video("https://example.com/cat.jpg")
        .await
        .unwrap_err();
    let Error::Transport { source } = &err else {
        panic!("{err:?}")
    };
    assert!(source.is_connect());
    assert!(err.is_retryable());
    // The message says why, not only which URL.
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
}

fn fast_wait() -> WaitOptions {
    WaitOptions::default()
        .initial_interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(20))
}

#[tokio::test]
async fn watch_reports_each_change_once_unknown_statuses_included() {
    let server = Scripted::start(vec![
        Reply::json(200, task_body("CREATED", &[])),
        Reply::json(200, task_body("QUEUED_FOR_GPU", &[])),
        Reply::json(200, task_body("IN_PROGRESS", &[])),
        Reply::json(200, task_body("IN_PROGRESS", &[])),
        Reply::json(200, task_body("COMPLETED", &["https://cdn.example/v.mp4"])),
    ])
    .await;
    let client = client(&server.url());
    let seen: Vec<TaskStatus> = client
        .watch(TASK)
        .map(|t| t.unwrap().status)
        .collect()
        .await;
    // One item per change: the repeated IN_PROGRESS is not reported twice.
    assert_eq!(
        seen,
        [
            TaskStatus::Created,
            TaskStatus::Other("QUEUED_FOR_GPU".into()),
            TaskStatus::InProgress,
            TaskStatus::Completed
        ]
    );
}

#[tokio::test]
async fn wait_returns_completed_and_reports_failed_as_an_error() {
    let server = Scripted::start(vec![
        Reply::json(200, task_body("IN_PROGRESS", &[])),
        Reply::json(200, task_body("COMPLETED", &["https://cdn.example/v.mp4"])),
    ])
    .await;
    let client = client(&server.url());
    let done = client.wait(TASK).options(fast_wait()).await.unwrap();
    assert_eq!(done.video_url(), Some("https://cdn.example/v.mp4"));

    let server = Scripted::start(vec![Reply::json(200, task_body("FAILED", &[]))]).await;
    let client = self::client(&server.url());
    let err = client.wait(TASK).options(fast_wait()).await.unwrap_err();
    let Error::TaskFailed { task } = err else {
        panic!("{err:?}")
    };
    assert_eq!(task.status, TaskStatus::Failed);
}

#[tokio::test]
async fn wait_gives_a_timeout_with_the_last_status_at_the_deadline() {
    let server = Scripted::start(vec![Reply::json(200, task_body("IN_PROGRESS", &[]))]).await;
    let err = client(&server.url())
        .wait(TASK)
        .options(fast_wait().timeout(Duration::from_millis(200)))
        .await
        .unwrap_err();
    let Error::Timeout {
        task_id,
        last_status,
        waited,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(task_id.as_str(), TASK);
    assert_eq!(last_status, &Some(TaskStatus::InProgress));
    assert!(*waited >= Duration::from_millis(200));
    assert!(err.to_string().contains("IN_PROGRESS"));
}

#[tokio::test]
async fn wait_keeps_polling_through_a_passing_outage() {
    let outage = Reply::json(
        503,
        json!({"message": "Service Unavailable. Please try again later."}),
    );
    let mut script = vec![Reply::json(200, task_body("IN_PROGRESS", &[]))];
    script.extend(std::iter::repeat_n(outage, 5));
    script.push(Reply::json(
        200,
        task_body("COMPLETED", &["https://cdn.example/v.mp4"]),
    ));
    let server = Scripted::start(script).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.url())
        .retry(quick_retries().max_retries(1))
        .build()
        .unwrap();
    let done = client.wait(TASK).options(fast_wait()).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
}

#[tokio::test]
async fn wait_stops_at_once_on_an_unknown_task() {
    let server =
        Scripted::start(vec![Reply::json(404, json!({"message": "Task not found"}))]).await;
    let err = client(&server.url())
        .wait(TASK)
        .options(fast_wait())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn download_writes_the_whole_file_and_reports_progress() {
    // An MP4: `ftyp`, then a box that runs to the end (size 0).
    let mut video: String = "\0\0\0\x18ftypmp42\0\0\0\0mp42isom\0\0\0\0free".into();
    video.push_str(&"0123456789".repeat(10_000)[video.len()..]);
    let server = Scripted::start(vec![Reply::raw(200, "video/mp4", &video)]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let mut last = None;
    let url = format!("{}/v.mp4", server.url());
    let saved = client(&server.url())
        .download_with_progress(&url, &out, |p| last = Some(p))
        .await
        .unwrap();
    assert_eq!(saved.bytes, 100_000);
    assert_eq!(std::fs::read(&out).unwrap(), video.as_bytes());
    let last = last.unwrap();
    assert_eq!((last.bytes, last.total), (100_000, Some(100_000)));
    assert!(
        server.seen()[0].headers.get("x-freepik-api-key").is_none()
            && server.seen()[0].headers.get("x-magnific-api-key").is_none(),
        "the key never goes to the CDN"
    );
    #[cfg(unix)]
    {
        // The video gets the mode any new file gets, not a temp file's 0600.
        use std::os::unix::fs::PermissionsExt;
        let reference = dir.path().join("reference");
        std::fs::File::create(&reference).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), mode(&reference));
        std::fs::remove_file(&reference).unwrap();
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.mp4"]);
}

#[tokio::test]
async fn a_download_cut_half_way_leaves_no_file() {
    let url = truncating_server(100_000, 50_000).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cut.mp4");
    let client = Client::builder()
        .api_key(KEY)
        .retry(quick_retries().max_retries(1))
        .build()
        .unwrap();
    let err = client.download(&url, &out).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial or temporary file"
    );
}

#[tokio::test]
async fn a_download_that_fails_keeps_an_existing_file_intact() {
    let server = Scripted::start(vec![Reply::raw(
        404,
        "application/xml",
        "<Error>NoSuchKey</Error>",
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.mp4");
    std::fs::write(&out, b"previous video").unwrap();
    let err = client(&server.url())
        .download(format!("{}/gone.mp4", server.url()), &out)
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert!(err.to_string().contains("NoSuchKey"));
    assert_eq!(std::fs::read(&out).unwrap(), b"previous video");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn downloading_an_unfinished_task_says_so() {
    let task = freepik_wan::Task::new(TASK, TaskStatus::InProgress, vec![]);
    let client = Client::new(KEY).unwrap();
    let err = client.download(&task, "never.mp4").await.unwrap_err();
    let Error::Validation { field, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*field, "task");
    assert!(reason.contains("IN_PROGRESS"), "{reason}");
}

#[tokio::test]
async fn download_stream_yields_the_bytes() {
    let video = "\0\0\0\x10ftypisom\0\0\0\0";
    let server = Scripted::start(vec![Reply::raw(200, "video/mp4", video)]).await;
    let mut stream = client(&server.url())
        .download_stream(format!("{}/v.mp4", server.url()))
        .await
        .unwrap();
    assert_eq!(stream.total(), Some(16));
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, video.as_bytes());
}

#[test]
fn configuration_errors_are_typed_and_keyless() {
    let err = Client::builder()
        .base_url("http://127.0.0.1:1")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("FREEPIK_API_KEY"));
    let err = Client::builder()
        .api_key(KEY)
        .base_url("ftp://example.com")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    assert!(!err.to_string().contains(KEY));
    let builder = Client::builder().api_key(KEY);
    assert!(!format!("{builder:?}").contains(KEY));
}

/// Everything every test in this binary logs. A global subscriber, because
/// `set_default` is per thread and its callsite-interest cache races with
/// tests on other threads (a span could go unrecorded).
fn captured_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    use std::sync::{Mutex, OnceLock};
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<u8>> = Box::leak(Box::default());
        struct Writer(&'static Mutex<Vec<u8>>);
        impl std::io::Write for Writer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Writer(logs))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        logs
    })
}

#[tokio::test]
async fn tracing_output_never_contains_the_key() {
    let logs = captured_logs();
    let server = Scripted::start(vec![
        Reply::json(503, json!({"message": "busy"})),
        Reply::json(200, task_body("IN_PROGRESS", &[])),
    ])
    .await;
    client(&server.url()).task(TASK).await.unwrap();
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logs.contains("freepik_wan.call{freepik_wan.operation=\"get_task\" freepik_wan.attempt=2"),
        "{logs}"
    );
    assert!(logs.contains("retrying"), "{logs}");
    assert!(!logs.contains(KEY), "{logs}");
}

#[test]
fn the_default_host_is_magnifics_and_freepiks_is_one_setting_away() {
    let client = Client::new(KEY).unwrap();
    assert_eq!(client.base_url(), "https://api.magnific.com");
    assert_eq!(freepik_wan::DEFAULT_BASE_URL, "https://api.magnific.com");
    let legacy = Client::builder()
        .api_key(KEY)
        .base_url(freepik_wan::LEGACY_FREEPIK_BASE_URL)
        .build()
        .unwrap();
    assert_eq!(legacy.base_url(), "https://api.freepik.com");
}
