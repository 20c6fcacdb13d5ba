//! The Wan v2.2 family: a task made at one resolution is created, polled and
//! listed at that resolution's endpoint, and nowhere else.

use std::time::Duration;

use freepik_wan::{Client, Resolution, TaskId, WaitOptions};
use freepik_wan_tests::{Reply, Scripted, png};
use serde_json::json;

const TASK: &str = "9a1f2a8e-6d0c-4a57-8a43-0c5a3e6f1b20";

fn client(base: &str) -> Client {
    Client::builder()
        .api_key("fpk-family")
        .base_url(base)
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(10))
                .max_interval(Duration::from_millis(20)),
        )
        .build()
        .unwrap()
}

fn task(status: &str) -> Reply {
    Reply::json(
        200,
        json!({"data": {"task_id": TASK, "status": status, "generated": ["https://cdn.example/v.mp4"]}}),
    )
}

#[tokio::test]
async fn a_720p_task_is_created_and_waited_for_at_the_720p_endpoint() {
    let server = Scripted::with_empty_lists(vec![
        Reply::json(200, json!({"data": {"task_id": TASK, "status": "CREATED"}})),
        task("IN_PROGRESS"),
        task("COMPLETED"),
    ])
    .await;
    let client = client(&server.url());
    let created = client
        .image_to_video(png(640, 360, 100))
        .resolution(Resolution::P720)
        .await
        .unwrap();
    assert_eq!(created.id.resolution(), Resolution::P720);
    let done = client.wait(&created.id).await.unwrap();
    assert_eq!(
        done.id.resolution(),
        Resolution::P720,
        "the fetched task keeps it"
    );

    let seen: Vec<(String, String)> = server
        .seen()
        .into_iter()
        .map(|s| (s.method.to_string(), s.path))
        .collect();
    let collection = "/v1/ai/image-to-video/wan-v2-2-720p";
    let one = format!("{collection}/{TASK}");
    // The client's first create lists that resolution first.
    assert_eq!(seen[0], ("GET".to_string(), collection.to_string()));
    assert_eq!(seen[1], ("POST".to_string(), collection.to_string()));
    assert!(seen.len() >= 4, "{seen:?}");
    for (method, path) in &seen[2..] {
        assert_eq!((method.as_str(), path.as_str()), ("GET", one.as_str()));
    }
}

#[tokio::test]
async fn ids_from_strings_are_580p_and_lists_name_their_resolution() {
    let server = Scripted::start(vec![
        task("COMPLETED"),
        task("COMPLETED"),
        Reply::json(
            200,
            json!({"data": [{"task_id": TASK, "status": "IN_PROGRESS"}]}),
        ),
    ])
    .await;
    let client = client(&server.url());
    client.task(TASK).await.unwrap();
    client
        .task(TaskId::from(TASK).with_resolution(Resolution::P480))
        .await
        .unwrap();
    let listed = client.tasks_at(Resolution::P480).await.unwrap();
    assert_eq!(listed[0].id.resolution(), Resolution::P480);

    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            format!("/v1/ai/image-to-video/wan-v2-2-580p/{TASK}"),
            format!("/v1/ai/image-to-video/wan-v2-2-480p/{TASK}"),
            "/v1/ai/image-to-video/wan-v2-2-480p".to_string(),
        ]
    );
}
