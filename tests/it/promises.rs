//! What the SDK promises under gateways, redirects and ids as the field has
//! them: a create that may have acted is never sent again, the key never
//! follows a redirect, a wait ends whatever the case of its id, and waits
//! survive a poller that is gone. Each failed before it was handled.

use std::time::Duration;

use freepik_wan::{Client, Error, RateLimit, Reconciled, RetryPolicy, TaskId, WaitOptions};
use freepik_wan_sim::{Faults, SimHandle, Simulator};
use freepik_wan_tests::{Reply, Scripted, png};
use serde_json::json;

const KEY: &str = "fpk-promises-key-31337";

fn client(base: &str, key: &str) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(base)
        .rate_limit(RateLimit::none())
        .timeout(Duration::from_millis(800))
        .uncertain_grace(Duration::from_millis(300))
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(50)),
        )
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(50))
                .max_interval(Duration::from_millis(100))
                .timeout(Duration::from_secs(10)),
        )
        .build()
        .unwrap()
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

#[tokio::test]
async fn gateway_answers_after_acting_are_never_taken_for_refusals() {
    // Cloudflare's 520/524, a proxy's 408, a redirect, a 503 from a gateway
    // that forwarded first (HTML, no Retry-After), a bare 500.
    for status in [520u16, 524, 408, 302, 503, 500] {
        let sim = sim(
            Duration::from_millis(200),
            Faults {
                rate_create_gateway_error: 1.0,
                create_gateway_statuses: vec![status],
                ..Faults::none()
            },
        )
        .await;
        let client = client(&sim.base_url(), sim.api_key());
        let result = client.image_to_video(png(320, 320, 2048)).send().await;
        let Err(Error::CreateUncertain(uncertain)) = result else {
            panic!("{status}: {result:?}");
        };
        assert_eq!(posts(&sim), 1, "{status}: the create was sent again");
        assert_eq!(uncertain.candidates.len(), 1, "{status}: {uncertain}");
        assert_eq!(sim.stats().creates_accepted, 1);
    }
}

#[tokio::test]
async fn only_the_services_own_503_is_retried() {
    let created = Reply::json(
        200,
        json!({"data": {"task_id": "046b6c7f-0b8a-43b9-b35d-6489e6daee91", "status": "CREATED"}}),
    );
    let own = Reply::json(
        503,
        json!({"message": "Service Unavailable. Please try again later."}),
    );
    let server = Scripted::with_empty_lists(vec![own, created.clone()]).await;
    let task = client(&server.url(), KEY)
        .image_to_video(png(320, 320, 2048))
        .send()
        .await
        .unwrap();
    assert_eq!(task.id.as_str(), "046b6c7f-0b8a-43b9-b35d-6489e6daee91");
    assert_eq!(
        server.posts().len(),
        2,
        "the service's own 503 proves nothing was made"
    );

    let gateway = Reply::raw(503, "text/html", "<html><h1>503 upstream reset</h1></html>");
    let server = Scripted::with_empty_lists(vec![gateway, created]).await;
    let result = client(&server.url(), KEY)
        .image_to_video(png(320, 320, 2048))
        .send()
        .await;
    assert!(
        matches!(result, Err(Error::CreateUncertain(_))),
        "{result:?}"
    );
    assert_eq!(
        server.posts().len(),
        1,
        "a gateway's 503 may have forwarded it"
    );
}

#[tokio::test]
async fn the_key_never_follows_a_redirect_to_another_host() {
    let elsewhere = Scripted::start(vec![Reply::json(200, json!({"data": []}))]).await;
    let moved = Reply::raw(302, "text/html", "moved").header(
        "location",
        format!(
            "{}/v1/ai/image-to-video/wan-v2-2-580p?token=abc",
            elsewhere.url()
        ),
    );
    let api = Scripted::start(vec![moved]).await;
    let client = client(&api.url(), KEY);
    let fetched = client.task("046b6c7f-0b8a-43b9-b35d-6489e6daee91").await;
    let Err(error @ Error::Api { .. }) = fetched else {
        panic!("{fetched:?}");
    };
    assert_eq!(error.status().map(|s| s.as_u16()), Some(302));
    assert!(error.to_string().contains("redirected to"), "{error}");
    assert!(!error.to_string().contains("token"), "{error}");
    let created = client.image_to_video(png(320, 320, 2048)).send().await;
    assert!(
        matches!(created, Err(Error::CreateUncertain(_))),
        "a redirected create may exist: {created:?}"
    );
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect's target received {} requests",
        elsewhere.seen().len()
    );
}

#[tokio::test]
async fn a_wait_on_an_upper_case_id_ends_when_the_task_does() {
    let sim = sim(
        Duration::from_millis(300),
        Faults {
            case_insensitive_ids: true,
            ..Faults::none()
        },
    )
    .await;
    let client = client(&sim.base_url(), sim.api_key());
    let task = client
        .image_to_video(png(320, 320, 2048))
        .send()
        .await
        .unwrap();
    let shouted = TaskId::from(task.id.as_str().to_ascii_uppercase());
    let done = client.wait(&shouted).await.unwrap();
    assert_eq!(done.id, task.id);
    assert!(done.video_url().is_some());
}

#[tokio::test]
async fn a_task_another_uncertain_create_could_have_made_is_not_adopted() {
    // The first create acts and answers 502 while the list lags behind it;
    // the second is held and never reaches the service.
    let sim = sim(
        Duration::from_secs(30),
        Faults {
            rate_create_gateway_error: 1.0,
            create_gateway_statuses: vec![502],
            list_lag: Duration::from_secs(1),
            create_hold_from: Some(2),
            ..Faults::none()
        },
    )
    .await;
    let client = client(&sim.base_url(), sim.api_key());
    let Err(Error::CreateUncertain(first)) =
        client.image_to_video(png(320, 320, 2048)).send().await
    else {
        panic!("the first create is uncertain");
    };
    assert!(matches!(client.reconcile(&first), Reconciled::NotFound));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let Err(Error::CreateUncertain(second)) =
        client.image_to_video(png(320, 320, 2048)).send().await
    else {
        panic!("the second create is uncertain");
    };
    assert_eq!(
        second.candidates.len(),
        1,
        "the first create's task shows now"
    );
    let settled = client.reconcile(&second);
    assert!(
        matches!(settled, Reconciled::Ambiguous(_)),
        "the first create's task was given to the second: {settled:?}"
    );
}

#[tokio::test]
async fn waits_of_unbounded_length_do_not_panic() {
    let sim = sim(Duration::from_millis(300), Faults::none()).await;
    let client = client(&sim.base_url(), sim.api_key());
    let task = client
        .image_to_video(png(320, 320, 2048))
        .send()
        .await
        .unwrap();
    let options = WaitOptions::default()
        .initial_interval(Duration::from_millis(50))
        .max_interval(Duration::MAX)
        .timeout(Duration::MAX)
        .webhook_fallback(Duration::MAX);
    let done = client.wait(&task.id).options(options).await.unwrap();
    assert!(done.video_url().is_some());
}

/// A client shared by code on two runtimes, the first shut down while its
/// poller runs (as with one `Client` across `#[tokio::test]`s).
#[test]
fn a_wait_is_served_after_the_pollers_runtime_is_gone() {
    let server = tokio::runtime::Runtime::new().unwrap();
    let sim = server.block_on(sim(Duration::from_millis(1500), Faults::none()));
    let client = client(&sim.base_url(), sim.api_key());
    let first = tokio::runtime::Runtime::new().unwrap();
    let task = first.block_on(async {
        let task = client
            .image_to_video(png(320, 320, 2048))
            .send()
            .await
            .unwrap();
        let waiting = client.wait(&task.id).send();
        // The poller is up and polling when the runtime goes.
        let _ = tokio::time::timeout(Duration::from_millis(300), waiting).await;
        task
    });
    let waiting = client.clone();
    let id = task.id.clone();
    first.spawn(async move { waiting.wait(&id).send().await });
    drop(first);
    let second = tokio::runtime::Runtime::new().unwrap();
    let done = second
        .block_on(async { client.wait(&task.id).timeout(Duration::from_secs(8)).await })
        .unwrap();
    assert!(done.video_url().is_some());
    drop(sim);
}

#[tokio::test]
async fn a_timed_out_create_keeps_looking_for_its_task_over_the_grace() {
    // The create answers after the client's timeout, and the list shows the
    // task only a second after it was made.
    let sim = sim(
        Duration::from_secs(30),
        Faults {
            rate_create_late: 1.0,
            create_late_by: Duration::from_secs(5),
            list_lag: Duration::from_secs(1),
            ..Faults::none()
        },
    )
    .await;
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .rate_limit(RateLimit::none())
        .timeout(Duration::from_millis(300))
        .uncertain_grace(Duration::from_secs(3))
        .build()
        .unwrap();
    let Err(Error::CreateUncertain(uncertain)) =
        client.image_to_video(png(320, 320, 2048)).send().await
    else {
        panic!("the create is uncertain");
    };
    assert_eq!(
        uncertain.candidates.len(),
        1,
        "the task appeared after the first list: {uncertain}"
    );
    assert!(matches!(
        client.reconcile(&uncertain),
        Reconciled::Adopted(_)
    ));
    assert_eq!(sim.stats().creates_accepted, 1);
}
