//! Every kind of model through the SDK against the simulator: a checked
//! request, the create at the model's path, the wait (polled there) and the
//! download; and a task found only at the model that made it.

use std::time::Duration;

use freepik_wan::{Client, Model, RateLimit, WaitOptions};
use freepik_wan_sim::Simulator;
use freepik_wan_tests::png;

fn client(base: &str, key: &str) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(base)
        .rate_limit(RateLimit::none())
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(50))
                .max_interval(Duration::from_millis(100))
                .timeout(Duration::from_secs(20)),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn one_video_of_each_kind_is_created_waited_for_and_downloaded() {
    let sim = Simulator::builder()
        .processing_time(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let client = client(&sim.base_url(), sim.api_key());
    let dir = tempfile::tempdir().unwrap();
    let model = |path: &str| path.parse::<Model>().unwrap();
    let requests = [
        model("text-to-video/wan-2-5-t2v-720p")
            .request()
            .prompt("a fox in the snow"),
        model("text-to-video/wan-v2-6-1080p")
            .request()
            .prompt("two scenes of a harbour")
            .shot_type("multi")
            .prompt_expansion(true)
            .duration(15),
        model("text-to-video/wan-2-7")
            .request()
            .prompt("a lighthouse")
            .duration(3),
        model("image-to-video/wan-v2-2-720p")
            .request()
            .image(png(320, 320, 2048)),
        model("image-to-video/wan-2-5-i2v-480p")
            .request()
            .image("https://example.com/cat.jpg")
            .prompt("the cat yawns"),
        model("image-to-video/wan-v2-6-720p")
            .request()
            .image("https://example.com/cat.jpg")
            .prompt("the cat yawns"),
        model("image-to-video/wan-2-7")
            .request()
            .image("https://example.com/a.jpg")
            .end_image("https://example.com/b.jpg")
            .resolution("1080P"),
        model("image-to-video/wan-2-7")
            .request()
            .video("https://example.com/clip.mp4")
            .prompt("and then it rains"),
        model("reference-to-video/wan-2-7")
            .request()
            .prompt("Image 1 plays the piano")
            .reference_image(
                "https://example.com/p.jpg",
                Some("https://example.com/v.wav".into()),
            ),
        model("video-edit/wan-2-7")
            .request()
            .video("https://example.com/clip.mp4")
            .prompt("make it snow"),
    ];
    for (i, request) in requests.into_iter().enumerate() {
        let wanted = request.model();
        let task = client
            .create(request)
            .await
            .unwrap_or_else(|e| panic!("{wanted}: {e}"));
        assert_eq!(task.id.model(), wanted);
        let done = client.wait(&task.id).await.unwrap();
        let saved = client
            .download(&done, dir.path().join(format!("{i}.mp4")))
            .await
            .unwrap();
        assert!(saved.bytes > 0, "{wanted}");
        let listed = client.tasks_at(wanted).await.unwrap();
        assert!(
            listed.iter().any(|t| t.id == task.id),
            "{wanted}: {listed:?}"
        );
    }
    let stats = sim.stats();
    assert_eq!(stats.creates_accepted, 10);
    // The wan-2-7 kinds share a segment and still keep their tasks apart.
    let t2v = model("text-to-video/wan-2-7");
    let edit = model("video-edit/wan-2-7");
    let t2v_tasks = client.tasks_at(t2v).await.unwrap();
    let edit_tasks = client.tasks_at(edit).await.unwrap();
    assert_eq!((t2v_tasks.len(), edit_tasks.len()), (1, 1));
    let elsewhere = client.task(t2v_tasks[0].id.clone().with_model(edit)).await;
    assert!(elsewhere.is_err(), "found at another model: {elsewhere:?}");
}
