//! The generated raw client (`freepik-wan-api`) against progenitor's typed
//! httpmock helpers (`freepik-wan-mock`): requests as Freepik expects them,
//! every documented response decoded.

use freepik_wan_api::{Client, Error, TaskStatus, types};
use freepik_wan_mock::MockServerExt;
use httpmock::MockServer;
use serde_json::json;

const KEY: &str = "fpk-test-key-123";
const TASK: &str = "046b6c7f-0b8a-43b9-b35d-6489e6daee91";

fn client(server: &MockServer) -> Client {
    Client::with_api_key(&server.base_url(), KEY, reqwest::Client::new()).unwrap()
}

fn detail(status: TaskStatus, generated: Vec<String>) -> types::GetTaskResponse {
    types::GetTaskResponse {
        data: types::TaskDetail {
            task_id: TASK.into(),
            status,
            generated: Some(generated),
        },
    }
}

#[tokio::test]
async fn create_sends_method_path_key_and_string_duration() {
    let server = MockServer::start_async().await;
    let mock = server.create_video_wan_v22_580p(|when, then| {
        when.into_inner()
            .header("x-freepik-api-key", KEY)
            .header("content-type", "application/json")
            .json_body(json!({
                "image": "https://example.com/cat.jpg",
                "prompt": "a cat yawns",
                "duration": "5",
                "aspect_ratio": "widescreen_16_9",
                "seed": 70,
                "webhook_url": "https://example.com/hook"
            }));
        then.ok(&types::CreateTaskResponse {
            data: types::Task {
                task_id: TASK.into(),
                status: TaskStatus::Created,
            },
        });
    });
    let body = types::CreateTaskRequest::builder()
        .image("https://example.com/cat.jpg")
        .prompt(Some(
            "a cat yawns"
                .parse::<types::CreateTaskRequestPrompt>()
                .unwrap(),
        ))
        .duration(types::CreateTaskRequestDuration::X5)
        .aspect_ratio(types::AspectRatio::Widescreen169)
        .seed(70)
        .webhook_url(Some("https://example.com/hook".to_string()));
    let created = client(&server)
        .create_video_wan_v22_580p()
        .body(body)
        .send()
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(created.data.task_id, TASK);
    assert_eq!(created.data.status, TaskStatus::Created);
}

#[tokio::test]
async fn create_decodes_in_progress_like_the_seed_example() {
    let server = MockServer::start_async().await;
    server.create_video_wan_v22_580p(|_, then| {
        then.into_inner()
            .status(200)
            .json_body(json!({"data": {"task_id": TASK, "status": "IN_PROGRESS"}}));
    });
    let created = client(&server)
        .create_video_wan_v22_580p()
        .body(types::CreateTaskRequest::builder().image("aGVsbG8="))
        .send()
        .await
        .unwrap();
    assert_eq!(created.data.status, TaskStatus::InProgress);
}

#[test]
fn the_typed_prompt_holds_at_most_2000_characters() {
    assert!(types::CreateTaskRequestPrompt::try_from("é".repeat(2000)).is_ok());
    let err = types::CreateTaskRequestPrompt::try_from("x".repeat(2001)).unwrap_err();
    assert!(err.to_string().contains("longer than 2000"), "{err}");
}

#[tokio::test]
async fn get_decodes_each_status_and_generated_urls() {
    let cases = [
        (TaskStatus::Created, vec![]),
        (TaskStatus::InProgress, vec![]),
        (
            TaskStatus::Completed,
            vec!["https://cdn.example/video.mp4".to_string()],
        ),
        (TaskStatus::Failed, vec![]),
    ];
    for (status, generated) in cases {
        let server = MockServer::start_async().await;
        let mock = server.get_wan_v22_580p_task(|when, then| {
            when.task_id(TASK)
                .into_inner()
                .header("x-freepik-api-key", KEY);
            then.ok(&detail(status.clone(), generated.clone()));
        });
        let got = client(&server)
            .get_wan_v22_580p_task()
            .task_id(TASK)
            .send()
            .await
            .unwrap();
        mock.assert_async().await;
        assert_eq!(got.data.status, status);
        assert_eq!(got.data.generated, Some(generated));
    }
}

#[tokio::test]
async fn unknown_status_and_unknown_fields_still_decode() {
    let server = MockServer::start_async().await;
    server.get_wan_v22_580p_task(|when, then| {
        when.task_id(TASK);
        then.into_inner().status(200).json_body(json!({
            "data": {
                "task_id": TASK,
                "status": "QUEUED_FOR_GPU",
                "generated": [],
                "progress": 0.4,
                "model": {"name": "wan-2.2"}
            },
            "meta": {"request_id": "abc"}
        }));
    });
    let got = client(&server)
        .get_wan_v22_580p_task()
        .task_id(TASK)
        .send()
        .await
        .unwrap();
    assert_eq!(got.data.status, TaskStatus::Other("QUEUED_FOR_GPU".into()));
}

#[tokio::test]
async fn list_decodes_tasks_without_generated() {
    let server = MockServer::start_async().await;
    server.list_wan_v22_580p_tasks(|when, then| {
        when.into_inner().header("x-freepik-api-key", KEY);
        then.into_inner().status(200).json_body(json!({"data": [
            {"task_id": "a", "status": "IN_PROGRESS"},
            {"task_id": "b", "status": "COMPLETED"},
            {"task_id": "c", "status": "CREATED"}
        ]}));
    });
    let list = client(&server)
        .list_wan_v22_580p_tasks()
        .send()
        .await
        .unwrap();
    let got: Vec<(&str, &TaskStatus)> = list
        .data
        .iter()
        .map(|t| (t.task_id.as_str(), &t.status))
        .collect();
    assert_eq!(
        got,
        [
            ("a", &TaskStatus::InProgress),
            ("b", &TaskStatus::Completed),
            ("c", &TaskStatus::Created)
        ]
    );
}

/// Calls get against a server answering `status` with `content_type` and `body`.
async fn get_error(status: u16, content_type: &str, body: &str) -> Error<types::Error> {
    let server = MockServer::start_async().await;
    server.get_wan_v22_580p_task(|when, then| {
        when.task_id(TASK);
        then.into_inner()
            .status(status)
            .header("content-type", content_type)
            .header("x-request-id", "req-42")
            .body(body);
    });
    client(&server)
        .get_wan_v22_580p_task()
        .task_id(TASK)
        .send()
        .await
        .unwrap_err()
}

fn response(err: &Error<types::Error>) -> (u16, &types::Error) {
    match err {
        Error::ErrorResponse(rv) => (rv.status().as_u16(), rv.as_ref()),
        other => panic!("expected an error response, got {other:?}"),
    }
}

#[tokio::test]
async fn every_documented_error_status_decodes_with_its_message() {
    let cases = [
        (400, "Parameter 'page' must be greater than 0"),
        (401, "Invalid API key"),
        (401, "Missing API key"),
        (404, "Task not found"),
        (429, "Too many requests"),
        (500, "Internal Server Error"),
        (503, "Service Unavailable. Please try again later."),
    ];
    for (status, message) in cases {
        let err = get_error(
            status,
            "application/json",
            &json!({"message": message}).to_string(),
        )
        .await;
        let (got_status, body) = response(&err);
        assert_eq!(got_status, status);
        assert_eq!(body.message.as_deref(), Some(message));
    }
}

#[tokio::test]
async fn problem_json_400_decodes_flat_and_wrapped() {
    let params = json!([
        {"name": "page", "reason": "Parameter 'page' must be greater than 0"},
        {"name": "per_page", "reason": "Parameter 'per_page' must be greater than 0"}
    ]);
    let flat =
        json!({"message": "Your request parameters didn't validate.", "invalid_params": params});
    let err = get_error(400, "application/problem+json", &flat.to_string()).await;
    let (_, body) = response(&err);
    assert_eq!(body.invalid_params.len(), 2);
    assert_eq!(body.invalid_params[1].name.as_deref(), Some("per_page"));

    let wrapped = json!({"problem": {"message": "Your request parameters didn't validate.", "invalid_params": params}});
    let err = get_error(400, "application/problem+json", &wrapped.to_string()).await;
    let (_, body) = response(&err);
    let problem = body.problem.as_ref().expect("wrapped problem");
    assert_eq!(problem.invalid_params[0].name.as_deref(), Some("page"));
}

#[tokio::test]
async fn html_and_empty_error_bodies_keep_status_and_headers() {
    let err = get_error(
        503,
        "text/html",
        "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
    )
    .await;
    let Error::ErrorResponse(rv) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(rv.status().as_u16(), 503);
    assert_eq!(rv.headers()["x-request-id"], "req-42");
    assert!(
        rv.message
            .as_deref()
            .unwrap()
            .contains("503 Service Temporarily Unavailable")
    );

    let err = get_error(500, "application/json", "").await;
    let (status, body) = response(&err);
    assert_eq!(status, 500);
    assert_eq!(body.message, None);
}

#[tokio::test]
async fn trailing_slash_in_base_url_is_not_doubled() {
    let server = MockServer::start_async().await;
    let mock = server.list_wan_v22_580p_tasks(|_, then| {
        then.ok(&types::ListTasksResponse { data: vec![] });
    });
    let client = Client::with_api_key(
        &format!("{}/", server.base_url()),
        KEY,
        reqwest::Client::new(),
    )
    .unwrap();
    client.list_wan_v22_580p_tasks().send().await.unwrap();
    mock.assert_async().await;
}

#[test]
fn the_key_never_shows_in_debug_output() {
    let client =
        Client::with_api_key("https://api.freepik.com", KEY, reqwest::Client::new()).unwrap();
    let debug = format!("{client:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(
        Client::with_api_key(
            "https://api.freepik.com",
            "bad\nkey",
            reqwest::Client::new()
        )
        .is_err()
    );
}

#[test]
fn the_schemars_feature_describes_the_wire_types() {
    let body = serde_json::to_value(schemars::schema_for!(types::CreateTaskRequest)).unwrap();
    let props = &body["properties"];
    assert_eq!(body["required"], json!(["image"]));
    assert_eq!(props["duration"]["default"], "5");
    let aspect = serde_json::to_string(&body).unwrap();
    assert!(aspect.contains("widescreen_16_9"), "{aspect}");

    // The status stays an open string, so a value added later still validates.
    let status = serde_json::to_value(schemars::schema_for!(TaskStatus)).unwrap();
    assert_eq!(status["type"], "string");
    assert!(status.get("enum").is_none());
    let task = serde_json::to_value(schemars::schema_for!(freepik_wan::Task)).unwrap();
    assert_eq!(task["required"], json!(["id", "status", "generated"]));
}
