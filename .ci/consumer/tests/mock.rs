//! The packaged typed mock helpers (`freepik-wan-mock`) answering the SDK's
//! raw client, as a user's own tests would use them.

use freepik_wan::raw::types;
use freepik_wan_mock::MockServerExt;

const TASK: &str = "046b6c7f-0b8a-43b9-b35d-6489e6daee91";

#[tokio::test]
async fn the_packaged_mock_answers_the_raw_client() {
    let server = httpmock::MockServer::start_async().await;
    let mock = server.get_wan_v22_580p_task(|when, then| {
        let _ = when.task_id(TASK);
        then.ok(&types::GetTaskResponse {
            data: types::TaskDetail {
                task_id: TASK.into(),
                status: freepik_wan::TaskStatus::Completed,
                generated: Some(vec!["https://cdn.example/v.mp4".into()]),
            },
        });
    });
    let client = freepik_wan::Client::builder()
        .api_key("consumer-test-key")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let answer = client
        .raw()
        .get_wan_v22_580p_task()
        .task_id(TASK)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.into_inner().data.generated.unwrap_or_default(),
        ["https://cdn.example/v.mp4"]
    );
    mock.assert_async().await;
}
