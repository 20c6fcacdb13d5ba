//! What the service does in the field: video URLs that expire, 429s that are
//! quotas, webhooks delivered twice, and the pieces a multi-replica receiver
//! is built from.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use freepik_wan::webhook::{Verifier, WebhookEvent, WebhookSecret};
use freepik_wan::{Client, Error, RateLimit, RetryPolicy, Task, TaskStatus, WaitOptions};
use freepik_wan_sim::{Faults, SimHandle, Simulator};
use freepik_wan_tests::{Reply, SIM_VIDEO, Scripted, png, raw_host};
use futures_util::StreamExt;
use serde_json::json;

const TASK: &str = "046b6c7f-0b8a-43b9-b35d-6489e6daee91";

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
}

fn client_at(base: &str, key: &str) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(base)
        .retry(quick_retries())
        .rate_limit(RateLimit::none())
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(10))
                .max_interval(Duration::from_millis(20)),
        )
        .build()
        .unwrap()
}

fn sim_client(sim: &SimHandle) -> Client {
    client_at(&sim.base_url(), sim.api_key())
}

async fn sim(processing: Duration, faults: Faults) -> SimHandle {
    Simulator::builder()
        .processing_time(processing)
        .faults(faults)
        .start()
        .await
        .unwrap()
}

fn posts(sim: &SimHandle) -> usize {
    sim.stats()
        .requests
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

fn video() -> Vec<u8> {
    freepik_wan_tests::mp4(100_000)
}

fn whole(video: &[u8], send: usize) -> (String, Vec<u8>) {
    (
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            video.len()
        ),
        video[..send].to_vec(),
    )
}

fn rest(video: &[u8], from: u64, content_range: bool) -> (String, Vec<u8>) {
    let from = from as usize;
    let range = if content_range {
        format!(
            "content-range: bytes {from}-{}/{}\r\n",
            video.len() - 1,
            video.len()
        )
    } else {
        String::new()
    };
    (
        format!(
            "HTTP/1.1 206 Partial Content\r\ncontent-type: video/mp4\r\n{range}content-length: {}\r\nconnection: close\r\n\r\n",
            video.len() - from
        ),
        video[from..].to_vec(),
    )
}

fn access_denied() -> (String, Vec<u8>) {
    let page = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>".to_vec();
    (
        format!(
            "HTTP/1.1 403 Forbidden\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            page.len()
        ),
        page,
    )
}

fn completed(url: &str) -> Reply {
    Reply::json(
        200,
        json!({"data": {"task_id": TASK, "status": "COMPLETED", "generated": [url]}}),
    )
}

#[tokio::test]
async fn an_expired_video_url_is_fetched_again_and_the_download_finishes() {
    let sim = sim(
        Duration::from_millis(100),
        Faults {
            expire_first_url: true,
            ..Faults::none()
        },
    )
    .await;
    let client = sim_client(&sim);
    let task = client.image_to_video(png(640, 360, 2048)).await.unwrap();
    let done = client.wait(&task.id).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let saved = client.download(&done, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), SIM_VIDEO);
    assert_eq!(saved.bytes, SIM_VIDEO.len() as u64);
    let refused = sim
        .stats()
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/files/") && r.status == 403)
        .count();
    assert_eq!(refused, 1);
    // A stream gets the same second chance.
    let stale = Task::new(
        done.id.clone(),
        TaskStatus::Completed,
        done.generated.clone(),
    );
    let mut stream = client.download_stream(&stale).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(bytes, SIM_VIDEO);
}

#[tokio::test]
async fn a_fresh_url_goes_on_from_the_bytes_on_disk() {
    let video = video();
    let served = video.clone();
    let (host, seen) = raw_host(move |path, from, _| match (path, from) {
        ("/old.mp4", None) => whole(&served, 40_000), // cut half-way
        ("/old.mp4", Some(_)) => access_denied(),     // and expired meanwhile
        ("/new.mp4", Some(from)) => rest(&served, from, true),
        _ => whole(&served, served.len()),
    })
    .await;
    let api = Scripted::start(vec![completed(&format!("{host}/new.mp4?sig=2"))]).await;
    let client = client_at(&api.url(), "k");
    let task = Task::new(
        TASK,
        TaskStatus::Completed,
        vec![format!("{host}/old.mp4?sig=1")],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let mut progress = Vec::new();
    client
        .download_with_progress(&task, &out, |p| progress.push(p.bytes))
        .await
        .unwrap();
    assert!(std::fs::read(&out).unwrap() == video, "not the video");
    let seen = seen.requests();
    assert_eq!(
        seen,
        [
            ("/old.mp4?sig=1".to_owned(), None),
            ("/old.mp4?sig=1".to_owned(), Some("bytes=40000-".to_owned())),
            ("/new.mp4?sig=2".to_owned(), Some("bytes=40000-".to_owned())),
        ]
    );
    assert_eq!(api.seen().len(), 1, "the task is fetched once");
    assert!(api.seen()[0].path.ends_with(TASK));
    // Counted on from the kept bytes, never from zero again.
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&100_000));
}

#[tokio::test]
async fn a_fresh_url_refused_too_is_video_url_expired_naming_the_task() {
    let (host, seen) = raw_host(|_, _, _| access_denied()).await;
    let api = Scripted::start(vec![completed(&format!("{host}/new.mp4"))]).await;
    let client = client_at(&api.url(), "k");
    let task = Task::new(TASK, TaskStatus::Completed, vec![format!("{host}/old.mp4")]);
    let dir = tempfile::tempdir().unwrap();
    let err = client
        .download(&task, dir.path().join("v.mp4"))
        .await
        .unwrap_err();
    match &err {
        Error::VideoUrlExpired {
            task_id, status, ..
        } => {
            assert_eq!(task_id.as_str(), TASK);
            assert_eq!(status.as_u16(), 403);
        }
        other => panic!("expected VideoUrlExpired, got {other:?}"),
    }
    assert!(err.to_string().contains(TASK), "{err}");
    assert_eq!(seen.len(), 2, "each URL once: 403 is not retried");
    assert_eq!(api.seen().len(), 1, "one fetch for a fresh URL");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // A bare URL has no task to refresh from: the host's answer as it is.
    let err = client
        .download(format!("{host}/old.mp4"), dir.path().join("w.mp4"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { status, .. } if status.as_u16() == 403),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_206_without_content_range_is_not_taken_for_the_video() {
    let video = video();
    let served = video.clone();
    let (host, seen) = raw_host(move |_, from, count| match from {
        // The first whole answer is cut; the range answer has no
        // Content-Range; a whole answer after that is complete.
        None if count == 1 => whole(&served, 30_000),
        None => whole(&served, served.len()),
        Some(from) => rest(&served, from, false),
    })
    .await;
    let client = client_at(&host, "k");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let saved = client
        .download(format!("{host}/v.mp4"), &out)
        .await
        .unwrap();
    assert_eq!(saved.bytes, video.len() as u64);
    assert!(
        std::fs::read(&out).unwrap() == video,
        "a slice was taken for the video"
    );
    assert_eq!(seen.ranges(), [None, Some("bytes=30000-".to_owned()), None]);
}

#[tokio::test]
async fn a_quota_429_is_not_retried_and_does_not_pause_the_client() {
    let sim = sim(
        Duration::from_millis(100),
        Faults {
            quota_after_creates: Some(0),
            ..Faults::none()
        },
    )
    .await;
    let client = sim_client(&sim);
    let started = Instant::now();
    let err = client
        .image_to_video(png(640, 360, 2048))
        .await
        .unwrap_err();
    match &err {
        Error::QuotaExceeded {
            status, message, ..
        } => {
            assert_eq!(status.as_u16(), 429);
            assert_eq!(message, "Limit for free users reached.");
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    assert!(err.is_quota() && !err.is_retryable());
    assert_eq!(posts(&sim), 1, "a quota answer is never sent again");
    // Not paused: the next call goes out at once (a rate limit would hold
    // it for a second).
    client.tasks().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_plain_too_many_requests_stays_a_rate_limit() {
    let sim = sim(
        Duration::from_millis(100),
        Faults {
            rate_429: 1.0,
            retry_after_secs: 0,
            ..Faults::none()
        },
    )
    .await;
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(quick_retries().max_retries(1))
        .rate_limit(RateLimit::none())
        .build()
        .unwrap();
    let err = client
        .image_to_video(png(640, 360, 2048))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { status, .. } if status.as_u16() == 429),
        "{err:?}"
    );
    assert!(!err.is_quota() && err.is_retryable());
    assert_eq!(posts(&sim), 2, "a rate limit is retried");
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A verified event, as a webhook handler would have it.
fn event(webhook_id: &str, task: &str, status: &str, generated: &[&str]) -> WebhookEvent {
    let secret = "field-secret";
    let body = json!({"task_id": task, "status": status, "generated": generated}).to_string();
    let ts = now();
    let signature = WebhookSecret::new(secret)
        .sign(webhook_id, ts, body.as_bytes())
        .unwrap();
    Verifier::new(secret)
        .verify_parts(webhook_id, &ts.to_string(), &signature, body.as_bytes())
        .unwrap()
}

#[tokio::test]
async fn a_webhook_delivered_twice_wakes_its_wait_once() {
    // Slow enough that the task stays CREATED on the service throughout:
    // everything after the first poll comes from the webhooks.
    let sim = sim(Duration::from_secs(120), Faults::none()).await;
    let client = sim_client(&sim);
    let task = client
        .image_to_video(png(640, 360, 2048))
        .webhook_url("http://127.0.0.1:9/hook")
        .await
        .unwrap();
    let id = task.id.as_str().to_owned();
    let changes = client.watch(&task.id);
    let mut changes = std::pin::pin!(changes);
    let first = changes.next().await.unwrap().unwrap();
    assert_eq!(first.status, TaskStatus::Created);

    let created = event("msg_0", &id, "CREATED", &[]);
    let started = event("msg_1", &id, "IN_PROGRESS", &[]);
    let done = event("msg_2", &id, "COMPLETED", &["http://127.0.0.1:9/v.mp4"]);
    assert!(client.deliver(&created));
    assert!(client.deliver(&started));
    let next = changes.next().await.unwrap().unwrap();
    assert_eq!(next.status, TaskStatus::InProgress);
    // The sender's retries, late: the first would take the wait back to
    // CREATED and wake it, the second wake it with IN_PROGRESS again.
    assert!(!client.deliver(&created), "a repeat is ignored");
    let woken = tokio::time::timeout(Duration::from_millis(300), changes.next()).await;
    assert!(woken.is_err(), "a repeat woke the wait: {woken:?}");
    assert!(!client.deliver(&started), "a repeat is ignored");
    assert!(client.deliver(&done));
    let last = changes.next().await.unwrap().unwrap();
    assert_eq!(last.status, TaskStatus::Completed);
    assert!(!client.deliver(&done));
    assert!(changes.next().await.is_none(), "the wait is over");
}

#[tokio::test]
async fn a_verified_event_becomes_the_task_to_download_on_any_replica() {
    let sim = sim(Duration::from_millis(100), Faults::none()).await;
    let creator = sim_client(&sim);
    let task = creator.image_to_video(png(640, 360, 2048)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.completed_at(task.id.as_str()).is_none() {
        assert!(Instant::now() < deadline, "never completed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Another replica: its own client, no wait, nothing from the creator.
    let replica = sim_client(&sim);
    let id = task.id.as_str();
    assert_eq!(
        replica
            .completed_task(&event("m1", id, "IN_PROGRESS", &[]))
            .await
            .unwrap(),
        None
    );
    // An event without URLs: they are fetched.
    let done = replica
        .completed_task(&event("m2", id, "COMPLETED", &[]))
        .await
        .unwrap()
        .expect("completed");
    assert_eq!(done.id.as_str(), id);
    assert!(done.video_url().is_some());
    let dir = tempfile::tempdir().unwrap();
    replica
        .download(&done, dir.path().join("v.mp4"))
        .await
        .unwrap();
    assert_eq!(std::fs::read(dir.path().join("v.mp4")).unwrap(), SIM_VIDEO);
    let failed = replica
        .completed_task(&event("m3", id, "FAILED", &[]))
        .await
        .unwrap_err();
    assert!(matches!(failed, Error::TaskFailed { .. }), "{failed:?}");
}
