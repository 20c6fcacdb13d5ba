//! One client under load: pacing inside the simulator's rate limit, a 429
//! pausing every call, waits sharing one poller, webhooks waking waits, and
//! a deadline that holds against a server that never answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use freepik_wan::webhook::Verifier;
use freepik_wan::{Client, Error, RateLimit, RetryPolicy, TaskStatus, WaitOptions};
use freepik_wan_sim::{SimHandle, Simulator};
use freepik_wan_tests::{Reply, Scripted, png};
use tokio::time::Instant;

const TASK: &str = "0a0b0c0d-0000-4000-8000-000000000001";

fn client_for(sim: &SimHandle, limit: RateLimit) -> Client {
    Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .rate_limit(limit)
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(20))
                .max_backoff(Duration::from_millis(200)),
        )
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(100))
                .max_interval(Duration::from_millis(200))
                .timeout(Duration::from_secs(30)),
        )
        .build()
        .unwrap()
}

fn image() -> Vec<u8> {
    png(640, 480, 2_000)
}

/// The GETs the simulator answered: polls of single tasks and lists.
fn polls(sim: &SimHandle) -> (usize, usize) {
    let requests = sim.stats().requests;
    let gets: Vec<_> = requests.iter().filter(|r| r.method == "GET").collect();
    let lists = gets
        .iter()
        .filter(|r| r.path.ends_with("wan-v2-2-580p"))
        .count();
    (gets.len() - lists, lists)
}

/// Creates `n` tasks at once.
async fn burst_of_creates(client: &Client, n: usize) {
    let creates = (0..n).map(|_| async {
        client
            .image_to_video(image())
            .prompt("a paced create")
            .send()
            .await
            .unwrap()
    });
    futures_util::future::join_all(creates).await;
}

#[tokio::test]
async fn a_paced_client_gets_no_429_where_an_unpaced_one_does() {
    // 20 requests in any second; the client lets through at most 8 in any
    // 0.8 s, so 16 in any second.
    let limit = freepik_wan_sim::RateLimit::per_second(20);
    let sim = Simulator::builder()
        .rate_limit(limit.clone())
        .start()
        .await
        .unwrap();
    let paced = client_for(&sim, RateLimit::per_second(10).burst(8));
    burst_of_creates(&paced, 30).await;
    let stats = sim.stats();
    assert_eq!(stats.creates_accepted, 30);
    assert_eq!(stats.responses().get(&429), None, "{:?}", stats.responses());

    // The fault model bites: the same burst unpaced meets the limit (and
    // its creates, refused before acting, are retried to success).
    let sim = Simulator::builder()
        .rate_limit(limit)
        .start()
        .await
        .unwrap();
    let unpaced = client_for(&sim, RateLimit::none());
    burst_of_creates(&unpaced, 30).await;
    let stats = sim.stats();
    assert_eq!(stats.creates_accepted, 30);
    assert!(
        stats.responses().get(&429).is_some_and(|n| *n > 0),
        "{:?}",
        stats.responses()
    );
}

#[tokio::test]
async fn a_429_pauses_every_call_of_the_client() {
    let server = Scripted::start(vec![
        Reply::json(429, serde_json::json!({"message": "Too many requests"}))
            .header("retry-after", "1"),
        Reply::json(404, serde_json::json!({"message": "Task not found"})),
    ])
    .await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.url())
        .rate_limit(RateLimit::none())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let limited = client.task(TASK).await.unwrap_err();
    assert_eq!(limited.status().map(|s| s.as_u16()), Some(429));
    // Another call, from a clone, did not meet the 429 itself, yet waits it out.
    let started = Instant::now();
    let other = client.clone().task(TASK).await.unwrap_err();
    assert_eq!(other.status().map(|s| s.as_u16()), Some(404));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "went out {:?} after a 429 asking for 1 s",
        started.elapsed()
    );
    assert_eq!(server.seen().len(), 2);
}

/// A client paced by the same windows the server enforces, with no margin,
/// spends every window to its last request and never meets a 429.
#[tokio::test]
async fn a_client_paced_by_the_servers_windows_fills_them_without_a_429() {
    let sim = Simulator::builder()
        .rate_limit(
            freepik_wan_sim::RateLimit::off()
                .window(10, Duration::from_millis(500))
                .window(15, Duration::from_secs(2)),
        )
        .start()
        .await
        .unwrap();
    let windows = [
        (10, Duration::from_millis(500)),
        (15, Duration::from_secs(2)),
    ];
    let client = client_for(&sim, RateLimit::windows(windows).margin(0));
    let started = Instant::now();
    burst_of_creates(&client, 29).await;
    // 30 requests with the first list: 10 at once, 5 more within the 2 s
    // window, then the same again from 2 s.
    assert!(started.elapsed() >= Duration::from_secs(2));
    let stats = sim.stats();
    assert_eq!(stats.creates_accepted, 29);
    assert_eq!(stats.responses().get(&429), None, "{:?}", stats.responses());
}

/// Many first creates at once share the one list they make first, rather
/// than each sending its own.
#[tokio::test]
async fn concurrent_first_creates_share_one_baseline_list() {
    let sim = Simulator::builder().start().await.unwrap();
    let client = client_for(&sim, RateLimit::none());
    burst_of_creates(&client, 20).await;
    assert_eq!(sim.stats().creates_accepted, 20);
    assert_eq!(polls(&sim), (0, 1));
}

/// A 429 asking for an hour does not freeze the client: later calls, which
/// may not wait that long, fail at once with a 429 naming what is left
/// (and are not sent), and a wait whose deadline comes first ends at once.
#[tokio::test]
async fn a_pause_longer_than_a_call_may_wait_fails_it_at_once() {
    let server = Scripted::start(vec![
        Reply::json(429, serde_json::json!({"message": "Too many requests"}))
            .header("retry-after", "3600"),
    ])
    .await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.url())
        .build()
        .unwrap();
    let limited = client.task(TASK).await.unwrap_err();
    assert_eq!(limited.rate_limited(), Some(Duration::from_secs(3600)));
    let started = Instant::now();
    let later = client.clone().task(TASK).await.unwrap_err();
    let left = later.rate_limited().expect("a 429");
    assert!(left > Duration::from_secs(3500), "{left:?}");
    assert!(later.to_string().contains("3600 s"), "{later}");
    let wait = client
        .wait(TASK)
        .timeout(Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(wait.rate_limited().is_some(), "{wait}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.seen().len(), 1, "nothing sent after the 429");
}

#[tokio::test]
async fn concurrent_waits_share_one_poller() {
    let sim = Simulator::builder()
        .processing_time(Duration::from_millis(1_500))
        .start()
        .await
        .unwrap();
    let client = client_for(&sim, RateLimit::none());
    let mut tasks = Vec::new();
    for _ in 0..20 {
        tasks.push(client.image_to_video(image()).send().await.unwrap());
    }
    let waits = tasks.iter().map(|task| client.wait(&task.id).send());
    let done = futures_util::future::join_all(waits).await;
    assert!(
        done.iter()
            .all(|d| d.as_ref().unwrap().status == TaskStatus::Completed)
    );
    assert!(
        done.iter()
            .all(|d| !d.as_ref().unwrap().generated.is_empty())
    );

    // Polling alone, each wait would poll about every 0.2 s for 1.5 s: 150+
    // GETs. Shared, the lists cover every task and each is fetched once at
    // its end (for its video URL).
    let (fetches, lists) = polls(&sim);
    assert!(lists >= 1, "the list was used");
    assert!(
        fetches + lists <= 2 * tasks.len(),
        "{fetches} task fetches and {lists} lists for {} waits",
        tasks.len()
    );
}

/// A webhook receiver that verifies and hands every event to the client.
async fn delivering_receiver(client: Client, secret: &str) -> (String, Arc<Mutex<usize>>) {
    let delivered = Arc::new(Mutex::new(0));
    let count = delivered.clone();
    let verifier = Verifier::new(secret);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (client, verifier, count) = (client.clone(), verifier.clone(), count.clone());
            async move {
                let Ok(event) = verifier.verify(&headers, &body) else {
                    return StatusCode::UNAUTHORIZED;
                };
                if client.deliver(&event) {
                    *count.lock().unwrap() += 1;
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, delivered)
}

/// A simulator, a client at its default cadence (1 s growing to 2 s, 30 s
/// once webhooks arrive) whose webhooks are delivered to it, and a task
/// created with a webhook URL; also the count of deliveries that found a wait.
async fn created_with_webhooks(
    processing: Duration,
) -> (SimHandle, Client, freepik_wan::Task, Arc<Mutex<usize>>) {
    let sim = Simulator::builder()
        .processing_time(processing)
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .wait_options(WaitOptions::default().timeout(Duration::from_secs(10)))
        .build()
        .unwrap();
    let (hook, delivered) = delivering_receiver(client.clone(), sim.webhook_secret()).await;
    let task = client
        .image_to_video(image())
        .webhook_url(&hook)
        .send()
        .await
        .unwrap();
    (sim, client, task, delivered)
}

#[tokio::test]
async fn a_delivered_webhook_ends_the_wait_without_polling() {
    let (sim, client, task, delivered) = created_with_webhooks(Duration::from_secs(2)).await;
    // (The client listed once before its first create.)
    let (fetches_before, lists_before) = polls(&sim);
    let done = client.wait(&task.id).await.unwrap();
    let noticed = std::time::Instant::now();
    assert_eq!(done.status, TaskStatus::Completed);
    assert!(!done.generated.is_empty(), "the webhook carried the URLs");
    assert!(*delivered.lock().unwrap() >= 1);
    let completed = sim.completed_at(task.id.as_str()).unwrap();
    let late = noticed.duration_since(completed);
    assert!(
        late < Duration::from_millis(500),
        "noticed {late:?} after completion"
    );
    // Polling would have fetched it at 0, 1, 2.5 s; with webhooks only the
    // first poll goes out before the fallback cadence takes over.
    let (fetches, lists) = polls(&sim);
    let (fetches, lists) = (fetches - fetches_before, lists - lists_before);
    assert!(fetches + lists <= 1, "{fetches} fetches, {lists} lists");
}

#[tokio::test]
async fn a_lost_webhook_is_covered_by_the_fallback_cadence() {
    let sim = Simulator::builder()
        .processing_time(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let client = client_for(&sim, RateLimit::none());
    // A receiver that acknowledges and drops everything.
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { StatusCode::NO_CONTENT }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let task = client
        .image_to_video(image())
        .webhook_url(&hook)
        .send()
        .await
        .unwrap();
    let options = WaitOptions::default()
        .initial_interval(Duration::from_millis(100))
        .webhook_fallback(Duration::from_millis(400))
        .timeout(Duration::from_secs(10));
    let done = client.wait(&task.id).options(options).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
}

/// A server that accepts connections and never answers.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

#[tokio::test]
async fn a_wait_ends_at_its_deadline_against_a_silent_server() {
    let client = Client::builder()
        .api_key("k")
        .base_url(silent_server().await)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .wait(TASK)
        .timeout(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    // The request timeout (60 s) and its retries are inside the deadline.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_webhook_that_comes_before_the_wait_is_where_the_wait_starts() {
    let (sim, client, task, _) = created_with_webhooks(Duration::from_millis(200)).await;
    // Let the task finish and its webhooks arrive before anyone waits.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.stats().webhooks_delivered < 3 {
        assert!(Instant::now() < deadline, "the webhooks never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Without the delivered event the wait would sit out the 30 s fallback
    // (past its 10 s timeout): it ends at once, with no poll at all.
    let done = client.wait(&task.id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert!(!done.generated.is_empty());
    // Nothing but the list before the client's first create.
    assert_eq!(polls(&sim), (0, 1));
}
