//! The SDK's side of the defects an independent review found (issue 23):
//! answers a proxy or a lagging service gives, against a scripted server.
//! Each test failed on the code before its fix.

use std::time::Duration;

use freepik_wan::{Client, Error, RateLimit, Reconciled, RetryPolicy, TaskId, WaitOptions};
use freepik_wan_tests::{Reply, Scripted, png};
use serde_json::json;

const TASK: &str = "046b6c7f-0b8a-43b9-b35d-6489e6daee91";
const OLD_TASK: &str = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
const VIDEO: &str = "https://cdn.example/v.mp4";

fn client(base: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .api_key("review-key")
        .base_url(base)
        .rate_limit(RateLimit::none())
        .retry(retry)
        .uncertain_grace(Duration::from_millis(300))
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(20))
                .max_interval(Duration::from_millis(50))
                .timeout(Duration::from_secs(10)),
        )
        .build()
        .unwrap()
}

fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(20))
}

fn html(status: u16) -> Reply {
    Reply::raw(
        status,
        "text/html",
        "<html><body>Just a moment...</body></html>",
    )
}

fn detail(status: &str, generated: serde_json::Value) -> Reply {
    Reply::json(
        200,
        json!({"data": {"task_id": TASK, "status": status, "generated": generated}}),
    )
}

/// The baseline list fails (a proxy's 200 page), the create acts and its
/// answer is lost, and the list then shows only an older task: that task
/// must not be named as the create's (it used to be the one candidate, and
/// `reconcile` adopted yesterday's video as today's).
#[tokio::test]
async fn a_failed_baseline_list_never_names_an_older_task_as_the_new_one() {
    let old = Reply::json(
        200,
        json!({"data": [{"task_id": OLD_TASK, "status": "COMPLETED"}]}),
    );
    let server = Scripted::start(vec![html(200), html(502), old]).await;
    let client = client(&server.url(), RetryPolicy::none());
    let error = client.image_to_video(png(640, 360, 100)).await.unwrap_err();
    let Error::CreateUncertain(uncertain) = error else {
        panic!("want CreateUncertain, got {error:?}")
    };
    assert_eq!(server.posts().len(), 1);
    assert!(uncertain.candidates.is_empty(), "{uncertain}");
    assert!(!uncertain.baselined, "{uncertain}");
    assert!(!uncertain.to_string().contains(OLD_TASK), "{uncertain}");
    assert!(matches!(client.reconcile(&uncertain), Reconciled::NotFound));
}

/// A proxy's `200 text/html` page for a status is asked again, as a 502
/// page is (it used to end the wait with a decode error).
#[tokio::test]
async fn a_proxy_page_answering_200_for_a_status_is_asked_again() {
    let server =
        Scripted::with_empty_lists(vec![html(200), detail("COMPLETED", json!([VIDEO]))]).await;
    let client = client(&server.url(), quick());
    let task = client.wait(TaskId::from(TASK)).await.unwrap();
    assert_eq!(task.video_url(), Some(VIDEO));
}

/// `generated: null`, or no `generated` at all, before COMPLETED means no
/// URLs yet (either used to fail the wait with a decode error).
#[tokio::test]
async fn a_status_without_generated_before_completed_is_read_as_no_urls_yet() {
    let missing = Reply::json(200, json!({"data": {"task_id": TASK, "status": "CREATED"}}));
    let server = Scripted::with_empty_lists(vec![
        detail("IN_PROGRESS", json!(null)),
        missing,
        detail("COMPLETED", json!([VIDEO])),
    ])
    .await;
    let client = client(&server.url(), quick());
    let task = client.wait(TaskId::from(TASK)).await.unwrap();
    assert_eq!(task.video_url(), Some(VIDEO));
}

/// COMPLETED without a URL is asked again until the URL shows (the wait
/// used to return it URL-less, and the CLI then said "nothing was sent").
#[tokio::test]
async fn completed_without_a_url_is_asked_again_until_it_has_one() {
    let server = Scripted::with_empty_lists(vec![
        detail("COMPLETED", json!([])),
        detail("COMPLETED", json!([])),
        detail("COMPLETED", json!([VIDEO])),
    ])
    .await;
    let client = client(&server.url(), quick());
    let task = client.wait(TaskId::from(TASK)).await.unwrap();
    assert_eq!(task.video_url(), Some(VIDEO));
}

/// A COMPLETED task that never gets a URL ends the wait, at its deadline,
/// with an error naming the task as done and paid for.
#[tokio::test]
async fn completed_never_with_a_url_ends_the_wait_naming_the_paid_task() {
    let server = Scripted::with_empty_lists(vec![detail("COMPLETED", json!([]))]).await;
    let client = client(&server.url(), quick());
    let started = std::time::Instant::now();
    let error = client
        .wait(TaskId::from(TASK))
        .timeout(Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4));
    let Error::NoVideoUrl { task_id, .. } = &error else {
        panic!("want NoVideoUrl, got {error:?}")
    };
    assert_eq!(task_id.as_str(), TASK);
    assert!(error.to_string().contains("paid for"), "{error}");
}

/// A create refused 429 with `Retry-After: 3600` says how long.
#[tokio::test]
async fn a_429_asking_for_an_hour_says_how_long() {
    let refused =
        Reply::json(429, json!({"message": "Too many requests"})).header("retry-after", "3600");
    let server = Scripted::with_empty_lists(vec![refused]).await;
    let client = client(&server.url(), quick());
    let error = client.image_to_video(png(640, 360, 100)).await.unwrap_err();
    assert!(error.to_string().contains("3600 s"), "{error}");
    assert_eq!(server.posts().len(), 1);
}
