//! The SDK end to end against the simulator: create → wait → download →
//! webhooks verified by the SDK, with and without injected faults.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use freepik_wan::webhook::{Verifier, WebhookEvent};
use freepik_wan::{Client, Error, RetryPolicy, TaskStatus, WaitOptions};
use freepik_wan_sim::{Faults, Simulator};

fn client_for(sim: &freepik_wan_sim::SimHandle) -> Client {
    Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(20))
                .max_backoff(Duration::from_millis(200)),
        )
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(50))
                .max_interval(Duration::from_millis(100))
                .timeout(Duration::from_secs(30)),
        )
        .build()
        .unwrap()
}

/// A webhook receiver that verifies every request with the SDK.
async fn receiver(secret: String) -> (String, Arc<Mutex<Vec<WebhookEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let store = events.clone();
    let verifier = Verifier::new(secret.as_str());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let store = store.clone();
            let verifier = verifier.clone();
            async move {
                match verifier.verify(&headers, &body) {
                    Ok(event) => {
                        store.lock().unwrap().push(event);
                        StatusCode::NO_CONTENT
                    }
                    Err(_) => StatusCode::UNAUTHORIZED,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, events)
}

#[tokio::test]
async fn a_whole_generate_flow_with_verified_webhooks() {
    let sim = Simulator::builder()
        .processing_time(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let (hook_url, events) = receiver(sim.webhook_secret().to_owned()).await;
    let client = client_for(&sim);
    let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sample.jpg");

    let task = client
        .image_to_video(&image)
        .prompt("waves roll onto the beach")
        .webhook_url(&hook_url)
        .await
        .unwrap();
    assert_eq!(task.status, TaskStatus::Created);
    let done = task.wait(&client).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    let dir = tempfile::tempdir().unwrap();
    let saved = client
        .download(&done, dir.path().join("v.mp4"))
        .await
        .unwrap();
    let video = std::fs::read(&saved.path).unwrap();
    assert_eq!(video.len() as u64, saved.bytes);
    assert_eq!(&video[4..8], b"ftyp", "an MP4 starts with its ftyp box");

    // Webhooks are delivered off the request path: give the last one a moment.
    for _ in 0..100 {
        if events.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = events.lock().unwrap().clone();
    let statuses: Vec<&TaskStatus> = events.iter().map(|e| &e.status).collect();
    assert_eq!(
        statuses,
        [
            &TaskStatus::Created,
            &TaskStatus::InProgress,
            &TaskStatus::Completed
        ]
    );
    assert!(events.iter().all(|e| e.task_id == done.id));
    assert_eq!(events[2].generated, done.generated);

    let listed = client.tasks().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|t| t.id == done.id && t.status == TaskStatus::Completed)
    );
}

#[tokio::test]
async fn the_simulators_refusals_arrive_as_typed_errors() {
    let sim = Simulator::builder().start().await.unwrap();
    let wrong = Client::builder()
        .api_key("not-the-key")
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let err = wrong.tasks().await.unwrap_err();
    let Error::Api {
        status, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (status.as_u16(), message.as_str()),
        (401, "Invalid API key")
    );

    let client = client_for(&sim);
    let err = client.task("no-such-task").await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));

    // With the SDK's checks off, the simulator's own rules answer, per field.
    let err = client
        .image_to_video(b"plain text, not an image".to_vec())
        .skip_image_checks()
        .await
        .unwrap_err();
    let Error::Api {
        status,
        invalid_params,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(status.as_u16(), 400);
    assert_eq!(invalid_params[0].name, "image");
    assert_eq!(sim.stats().creates_accepted, 0);
}

#[tokio::test]
async fn under_injected_faults_every_task_finishes_exactly_once() {
    let sim = Simulator::builder()
        .processing_time(Duration::from_millis(200))
        .faults(Faults {
            seed: 42,
            rate_503: 0.15,
            rate_429: 0.05,
            retry_after_secs: 0,
            rate_reset: 0.05,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    // A fifth of the calls fail: eight retries make a call that fails every
    // try about 5e-7 likely. The default three lose one call in 600, and
    // with the faults drawn from a seed in arrival order, the 12 creates
    // going out at once (as the windows now allow) gave one of them four
    // faults in a row on most runs.
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(
            RetryPolicy::default()
                .max_retries(8)
                .initial_backoff(Duration::from_millis(20))
                .max_backoff(Duration::from_millis(200)),
        )
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(50))
                .max_interval(Duration::from_millis(100))
                .timeout(Duration::from_secs(30)),
        )
        .build()
        .unwrap();
    let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sample.jpg");
    let dir = tempfile::tempdir().unwrap();
    let jobs = (0..12).map(|i| {
        let client = client.clone();
        let image = image.clone();
        let out = dir.path().join(format!("{i}.mp4"));
        async move {
            let task = client.image_to_video(&image).await?;
            let done = client.wait(&task.id).await?;
            client.download(&done, &out).await
        }
    });
    let results = futures_util::future::join_all(jobs).await;
    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        sim.stats().creates_accepted,
        12,
        "no task lost, none created twice"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 12);
}

#[tokio::test]
async fn a_cut_download_resumes_from_the_bytes_on_disk() {
    let video = freepik_wan_tests::mp4(200_000);
    let (url, asked) = freepik_wan_tests::resuming_server(video.clone(), true).await;
    let client = Client::builder()
        .api_key("k")
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.mp4");
    let mut progress = Vec::new();
    let saved = client
        .download_with_progress(url.as_str(), &out, |p| progress.push(p.bytes))
        .await
        .unwrap();
    assert_eq!(
        asked.ranges(),
        [None, Some("bytes=100000-".to_owned())],
        "the second request asks only for what is missing"
    );
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "the download started over instead of resuming: {progress:?}"
    );
    assert_eq!(saved.bytes, video.len() as u64);
    assert!(std::fs::read(&out).unwrap() == video);

    // A server that ignores ranges only ever sends half: the download keeps
    // starting over, and fails whole, leaving no file, rather than stitching
    // a wrong one together.
    let (url, asked) = freepik_wan_tests::resuming_server(video.clone(), false).await;
    let err = client.download(url.as_str(), &out).await.unwrap_err();
    assert!(asked.len() > 1, "{err}");
    assert!(
        std::fs::read(&out).unwrap() == video,
        "the earlier whole file is untouched"
    );
}
