//! End-to-end tests: a started simulator driven over HTTP with reqwest.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::video::FIXTURE;
use crate::{Faults, SimHandle, Simulator, SimulatorBuilder};

const PATH: &str = "/v1/ai/image-to-video/wan-v2-2-580p";
const FAST: Duration = Duration::from_millis(200);

fn fast() -> SimulatorBuilder {
    Simulator::builder().processing_time(FAST)
}

async fn start(builder: SimulatorBuilder) -> SimHandle {
    builder.start().await.expect("simulator starts")
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A valid image as the simulator sees it (it reads only the header), made
/// here so the packaged crate's tests need no file from outside it.
fn sample_b64() -> String {
    STANDARD.encode(png_header(640, 360))
}

/// The start of a PNG whose IHDR claims `width` x `height`: enough for a size sniffer.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend_from_slice(&width.to_be_bytes());
    png.extend_from_slice(&height.to_be_bytes());
    png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    png
}

async fn post_create(sim: &SimHandle, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{PATH}", sim.base_url()))
        .header("x-freepik-api-key", sim.api_key())
        .json(body)
        .send()
        .await
        .expect("create request")
}

async fn create_ok(sim: &SimHandle, body: &Value) -> String {
    let response = post_create(sim, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json: Value = response.json().await.expect("json");
    assert_eq!(json["data"]["status"], "CREATED");
    json["data"]["task_id"]
        .as_str()
        .expect("task_id")
        .to_owned()
}

async fn get_task(sim: &SimHandle, id: &str) -> reqwest::Response {
    client()
        .get(format!("{}{PATH}/{id}", sim.base_url()))
        .header("x-freepik-api-key", sim.api_key())
        .send()
        .await
        .expect("get request")
}

/// Polls until the task reaches a terminal status; returns every status seen, in order
/// and without repeats, and the last body.
async fn poll_until_done(sim: &SimHandle, id: &str) -> (Vec<String>, Value) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let response = get_task(sim, id).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        let status = body["data"]["status"].as_str().expect("status").to_owned();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "COMPLETED" || status == "FAILED" {
            return (seen, body);
        }
        assert!(Instant::now() < deadline, "task never finished: {seen:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Posts `body` and returns the names in `invalid_params`, checking the problem+json shape.
async fn invalid_names(sim: &SimHandle, body: &Value) -> Vec<String> {
    let response = post_create(sim, body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "body {body}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let json: Value = response.json().await.expect("json");
    assert_eq!(json["message"], "Your request parameters didn't validate.");
    json["invalid_params"]
        .as_array()
        .expect("invalid_params")
        .iter()
        .map(|p| {
            assert!(p["reason"].as_str().is_some_and(|r| !r.is_empty()));
            p["name"].as_str().expect("name").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn each_invalid_field_is_named() {
    let sim = start(fast()).await;
    let jpg = sample_b64();
    let cases: Vec<(Value, &str)> = vec![
        (json!([1, 2]), "body"),
        (json!({}), "image"),
        (json!({"image": null}), "image"),
        (json!({"image": 42}), "image"),
        (json!({"image": ""}), "image"),
        (json!({"image": "not base64 at all!"}), "image"),
        (json!({"image": "http://"}), "image"),
        (json!({"image": STANDARD_NO_PAD_SAMPLE}), "image"),
        (
            json!({"image": STANDARD.encode(b"plain text, not an image")}),
            "image",
        ),
        (
            json!({"image": STANDARD.encode(png_header(100, 300))}),
            "image",
        ),
        (
            json!({"image": STANDARD.encode(png_header(300, 8001))}),
            "image",
        ),
        (json!({"image": jpg, "prompt": 7}), "prompt"),
        (json!({"image": jpg, "prompt": "é".repeat(2001)}), "prompt"),
        (json!({"image": jpg, "duration": 5}), "duration"),
        (json!({"image": jpg, "duration": "7"}), "duration"),
        (
            json!({"image": jpg, "aspect_ratio": "16:9"}),
            "aspect_ratio",
        ),
        (json!({"image": jpg, "aspect_ratio": 1}), "aspect_ratio"),
        (json!({"image": jpg, "seed": 1.5}), "seed"),
        (json!({"image": jpg, "seed": "42"}), "seed"),
        (
            json!({"image": jpg, "seed": 9_223_372_036_854_775_808u64}),
            "seed",
        ),
        (
            json!({"image": jpg, "webhook_url": "ftp://example.com/hook"}),
            "webhook_url",
        ),
        (
            json!({"image": jpg, "webhook_url": "/relative/hook"}),
            "webhook_url",
        ),
        (json!({"image": jpg, "webhook_url": 3}), "webhook_url"),
        // The contract types every field; null is none of them.
        (json!({"image": jpg, "webhook_url": null}), "webhook_url"),
        (json!({"image": jpg, "prompt": null}), "prompt"),
        (json!({"image": jpg, "duration": null}), "duration"),
        (json!({"image": jpg, "aspect_ratio": null}), "aspect_ratio"),
        (json!({"image": jpg, "seed": null}), "seed"),
        // A field the model's spec does not have is refused, naming it.
        (
            json!({"image": jpg, "unknown_field": {"ignored": true}}),
            "unknown_field",
        ),
        (
            json!({"image": jpg, "negative_prompt": "blur"}),
            "negative_prompt",
        ),
    ];
    for (body, field) in cases {
        let names = invalid_names(&sim, &body).await;
        assert_eq!(names, vec![field.to_owned()], "body {body:.200}");
    }
    assert_eq!(sim.stats().creates_accepted, 0);
}

/// The sample JPEG in base64 without its `=` padding (its length is not a multiple of 3).
const STANDARD_NO_PAD_SAMPLE: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD";

#[tokio::test]
async fn every_bad_field_is_reported_at_once() {
    let sim = start(fast()).await;
    let body = json!({
        "prompt": "x".repeat(2001),
        "duration": 10,
        "aspect_ratio": "wide",
        "seed": "1",
        "webhook_url": "mailto:me@example.com",
    });
    let mut names = invalid_names(&sim, &body).await;
    names.sort();
    assert_eq!(
        names,
        [
            "aspect_ratio",
            "duration",
            "image",
            "prompt",
            "seed",
            "webhook_url"
        ]
    );
}

#[tokio::test]
async fn oversized_image_is_refused_by_decoded_size() {
    let sim = start(fast()).await;
    // A JPEG signature followed by zeros: only the size rule can refuse it.
    let mut big = vec![0u8; crate::validate::MAX_IMAGE_BYTES + 1];
    big[..4].copy_from_slice(&[0xff, 0xd8, 0xff, 0xe0]);
    let names = invalid_names(&sim, &json!({"image": STANDARD.encode(&big)})).await;
    assert_eq!(names, ["image"]);
}

#[tokio::test]
async fn valid_bodies_are_accepted() {
    let sim = start(fast()).await;
    let jpg = sample_b64();
    let bodies = [
        json!({"image": jpg}),
        json!({"image": "https://img.example.com/cat.jpg"}),
        json!({
            "image": jpg,
            "prompt": "é".repeat(2000),
            "duration": "10",
            "aspect_ratio": "social_story_9_16",
            "seed": -70,
            "webhook_url": "http://127.0.0.1:9/hook",
        }),
        json!({"image": STANDARD.encode(png_header(240, 8000))}),
    ];
    for body in &bodies {
        create_ok(&sim, body).await;
    }
    assert_eq!(sim.stats().creates_accepted, bodies.len() as u64);
}

#[tokio::test]
async fn malformed_empty_and_huge_bodies_get_json_errors() {
    let sim = start(fast()).await;
    let url = format!("{}{PATH}", sim.base_url());
    let send = |body: Vec<u8>| {
        client()
            .post(&url)
            .header("x-freepik-api-key", sim.api_key())
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for body in [b"{\"image\": ".to_vec(), Vec::new(), b"\xff\xfe".to_vec()] {
        let response = send(body).await.expect("send");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["content-type"], "application/json");
        let json: Value = response.json().await.expect("json");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(json.get("invalid_params").is_none());
    }
    let response = send(vec![b' '; 17 * 1024 * 1024]).await.expect("send");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let json: Value = response.json().await.expect("json");
    assert!(json["message"].is_string());
}

#[tokio::test]
async fn the_key_is_accepted_in_either_brand_header() {
    let sim = start(fast()).await;
    let url = format!("{}{PATH}", sim.base_url());
    let list = |header: &'static str, key: String| client().get(&url).header(header, key).send();
    for header in ["x-magnific-api-key", "x-freepik-api-key"] {
        let ok = list(header, sim.api_key().to_owned()).await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "{header}");
        let wrong = list(header, "not-the-key".into()).await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{header}");
    }
    // One good header is enough, whichever of the two holds the bad key.
    let both = client()
        .get(&url)
        .header("x-magnific-api-key", "stale-key")
        .header("x-freepik-api-key", sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn api_key_is_checked_first() {
    let sim = start(fast()).await;
    let base = sim.base_url();
    let requests = [
        client().post(format!("{base}{PATH}")).json(&json!({})),
        client().get(format!("{base}{PATH}")),
        client().get(format!("{base}{PATH}/no-such-task")),
        client().delete(format!("{base}{PATH}")),
    ];
    for request in requests {
        let missing = request.try_clone().unwrap().send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.json::<Value>().await.unwrap(),
            json!({"message": "Missing API key"})
        );
        let wrong = request
            .header("x-freepik-api-key", "not-the-key")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            wrong.json::<Value>().await.unwrap(),
            json!({"message": "Invalid API key"})
        );
    }
    let stats = sim.stats();
    assert_eq!(stats.requests.len(), 8);
    assert!(stats.requests.iter().all(|r| r.status == 401));
    assert!(
        stats
            .requests
            .iter()
            .all(|r| !r.path.contains("not-the-key"))
    );
}

#[tokio::test]
async fn unknown_task_and_other_keys_tasks_are_not_found() {
    let sim = start(fast().extra_api_key("other-key")).await;
    let response = get_task(&sim, "046b6c7f-0b8a-43b9-b35d-6489e6daee91").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "Task not found"})
    );

    let mine = create_ok(&sim, &json!({"image": sample_b64()})).await;
    let as_other = client()
        .get(format!("{}{PATH}/{mine}", sim.base_url()))
        .header("x-freepik-api-key", "other-key")
        .send()
        .await
        .unwrap();
    assert_eq!(as_other.status(), StatusCode::NOT_FOUND);
    let others_list: Value = client()
        .get(format!("{}{PATH}", sim.base_url()))
        .header("x-freepik-api-key", "other-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(others_list, json!({"data": []}));
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths() {
    let sim = start(fast()).await;
    let base = sim.base_url();
    let cases = [
        (
            reqwest::Method::DELETE,
            format!("{base}{PATH}"),
            "GET, HEAD, POST",
        ),
        (
            reqwest::Method::PUT,
            format!("{base}{PATH}/abc"),
            "GET, HEAD",
        ),
        (
            reqwest::Method::POST,
            format!("{base}/files/abc.mp4"),
            "GET, HEAD",
        ),
    ];
    for (method, url, allow) in cases {
        let response = client()
            .request(method, url)
            .header("x-freepik-api-key", sim.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], allow);
        assert!(response.json::<Value>().await.unwrap()["message"].is_string());
    }
    for path in ["/v1/ai/image-to-video/wan-v2-2-999p", "/nope", "/files/"] {
        let response = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(response.json::<Value>().await.unwrap()["message"].is_string());
    }
    let banner = client().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(banner.status(), StatusCode::OK);
    assert!(banner.text().await.unwrap().contains("freepik-wan-sim"));
}

#[tokio::test]
async fn task_completes_with_a_downloadable_mp4() {
    let sim = start(Simulator::builder().processing_time(Duration::from_millis(400))).await;
    let created = Instant::now();
    let id = create_ok(&sim, &json!({"image": sample_b64()})).await;
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "a version 4 UUID: {id}");
    assert!(sim.completed_at(&id).is_none());

    let (seen, body) = poll_until_done(&sim, &id).await;
    // Polls sample the life cycle: on a loaded machine a short phase can fall
    // between two polls, so check order rather than that every phase was seen
    // (the webhook test sees every one).
    let order = ["CREATED", "IN_PROGRESS", "COMPLETED"];
    let ranks: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).expect("a known status"))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("COMPLETED"));
    let done = sim.completed_at(&id).expect("completed_at");
    assert!(done.duration_since(created) >= Duration::from_millis(390));
    let url = format!("{}/files/{id}.mp4", sim.base_url());
    assert_eq!(
        body,
        json!({"data": {"task_id": id, "status": "COMPLETED", "generated": [url]}})
    );

    // No API key: the video URL works like a CDN link.
    let video = client().get(&url).send().await.unwrap();
    assert_eq!(video.status(), StatusCode::OK);
    assert_eq!(video.headers()["content-type"], "video/mp4");
    assert_eq!(
        video.headers()["content-length"],
        FIXTURE.len().to_string().as_str()
    );
    let bytes = video.bytes().await.unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    assert_eq!(&bytes[..], FIXTURE);
}

#[tokio::test]
async fn status_before_completion_has_empty_generated_and_no_file() {
    let sim = start(Simulator::builder().processing_time(Duration::from_secs(30))).await;
    let id = create_ok(&sim, &json!({"image": sample_b64()})).await;
    let body: Value = get_task(&sim, &id).await.json().await.unwrap();
    assert_eq!(
        body,
        json!({"data": {"task_id": id, "status": "CREATED", "generated": []}})
    );
    let file = client()
        .get(format!("{}/files/{id}.mp4", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn failure_rate_one_fails_every_task() {
    let faults = Faults {
        rate_task_failure: 1.0,
        ..Faults::none()
    };
    let sim = start(fast().faults(faults)).await;
    let id = create_ok(&sim, &json!({"image": sample_b64()})).await;
    let (seen, body) = poll_until_done(&sim, &id).await;
    assert_eq!(seen.last().map(String::as_str), Some("FAILED"));
    assert_eq!(body["data"]["generated"], json!([]));
    assert!(sim.completed_at(&id).is_some());
    let file = client()
        .get(format!("{}/files/{id}.mp4", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn list_shows_the_keys_tasks_newest_first() {
    let sim = start(Simulator::builder().processing_time(Duration::from_secs(30))).await;
    let first = create_ok(&sim, &json!({"image": sample_b64()})).await;
    let second = create_ok(&sim, &json!({"image": "https://example.com/a.png"})).await;
    let response = client()
        .get(format!("{}{PATH}", sim.base_url()))
        .header("x-freepik-api-key", sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"data": [
            {"task_id": second, "status": "CREATED"},
            {"task_id": first, "status": "CREATED"},
        ]})
    );
}

/// What the test webhook receiver saw.
#[derive(Debug)]
pub(crate) struct Delivery {
    headers: HeaderMap,
    pub(crate) body: Bytes,
}

struct Receiver {
    /// Attempts still to be refused with a 500.
    refuse: AtomicU32,
    deliveries: mpsc::UnboundedSender<Delivery>,
}

/// A webhook receiver on an ephemeral port; returns its URL and the deliveries it got
/// (refused ones included).
pub(crate) async fn receiver(refuse_first: u32) -> (String, mpsc::UnboundedReceiver<Delivery>) {
    async fn hook(
        State(receiver): State<Arc<Receiver>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let _ = receiver.deliveries.send(Delivery { headers, body });
        let refused = receiver
            .refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refused {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::NO_CONTENT
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(Receiver {
        refuse: AtomicU32::new(refuse_first),
        deliveries: tx,
    });
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

pub(crate) async fn next_delivery(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a webhook arrives in time")
        .expect("receiver open")
}

fn header<'a>(delivery: &'a Delivery, name: &str) -> &'a str {
    delivery.headers[name].to_str().expect("ASCII header")
}

/// Recomputes the signature independently of the simulator's code.
fn expected_signature(secret: &str, delivery: &Delivery) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    let signed = [
        header(delivery, "webhook-id").as_bytes(),
        b".",
        header(delivery, "webhook-timestamp").as_bytes(),
        b".",
        &delivery.body,
    ]
    .concat();
    mac.update(&signed);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn webhooks_are_signed_and_sent_on_every_status_change() {
    let (url, mut deliveries) = receiver(0).await;
    let sim = start(fast().webhook_secret("whsec-test")).await;
    let id = create_ok(&sim, &json!({"image": sample_b64(), "webhook_url": url})).await;

    let mut ids = Vec::new();
    for status in ["CREATED", "IN_PROGRESS", "COMPLETED"] {
        let delivery = next_delivery(&mut deliveries).await;
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        let generated = if status == "COMPLETED" {
            json!([format!("{}/files/{id}.mp4", sim.base_url())])
        } else {
            json!([])
        };
        assert_eq!(
            body,
            json!({"task_id": id, "status": status, "generated": generated})
        );
        assert_eq!(header(&delivery, "content-type"), "application/json");
        assert_eq!(
            header(&delivery, "webhook-signature"),
            expected_signature("whsec-test", &delivery)
        );
        assert_ne!(
            header(&delivery, "webhook-signature"),
            expected_signature("sim-webhook-secret", &delivery)
        );
        let timestamp: u64 = header(&delivery, "webhook-timestamp").parse().unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(timestamp) <= 5);
        ids.push(header(&delivery, "webhook-id").to_owned());
    }
    assert!(ids.iter().all(|id| id.starts_with("msg_")));
    ids.dedup();
    assert_eq!(ids.len(), 3, "each event has its own id");

    // Counters are bumped after the receiver answers.
    let stats = stats_when(&sim, |s| s.webhooks_delivered >= 3).await;
    assert_eq!(stats.webhooks_delivered, 3);
    assert_eq!(stats.webhook_attempts, 3);
}

#[tokio::test]
async fn a_refused_webhook_is_retried_with_the_same_id() {
    let (url, mut deliveries) = receiver(2).await;
    let sim = start(Simulator::builder().processing_time(Duration::from_secs(30))).await;
    let id = create_ok(&sim, &json!({"image": sample_b64(), "webhook_url": url})).await;

    let attempts = [
        next_delivery(&mut deliveries).await,
        next_delivery(&mut deliveries).await,
        next_delivery(&mut deliveries).await,
    ];
    let first_id = header(&attempts[0], "webhook-id");
    for attempt in &attempts {
        assert_eq!(header(attempt, "webhook-id"), first_id);
        assert_eq!(attempt.body, attempts[0].body);
        assert_eq!(
            header(attempt, "webhook-signature"),
            expected_signature("sim-webhook-secret", attempt)
        );
    }
    let body: Value = serde_json::from_slice(&attempts[0].body).unwrap();
    assert_eq!(body["task_id"], id.as_str());
    assert_eq!(body["status"], "CREATED");

    let stats = stats_when(&sim, |s| {
        s.webhook_attempts >= 3 && s.webhooks_delivered >= 1
    })
    .await;
    assert_eq!(stats.webhook_attempts, 3);
    assert_eq!(stats.webhooks_delivered, 1);
}

/// The simulator's stats once `done` holds of them, or after 5 s (the
/// caller's assertions then say what is missing): counters are bumped after
/// the receiver answers, so they are polled, not slept for.
async fn stats_when(sim: &SimHandle, done: impl Fn(&crate::Stats) -> bool) -> crate::Stats {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = sim.stats();
        if done(&stats) || Instant::now() >= deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn statuses_under(faults: Faults, n: usize) -> Vec<(u16, Option<String>)> {
    let sim = start(fast().faults(faults)).await;
    let mut out = Vec::new();
    for _ in 0..n {
        let response = client()
            .get(format!("{}{PATH}", sim.base_url()))
            .header("x-freepik-api-key", sim.api_key())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        match status {
            503 => assert_eq!(
                body,
                json!({"message": "Service Unavailable. Please try again later."})
            ),
            429 => assert_eq!(body, json!({"message": "Too many requests"})),
            200 => assert_eq!(body, json!({"data": []})),
            other => panic!("unexpected status {other}"),
        }
        out.push((status, retry_after));
    }
    out
}

#[tokio::test]
async fn faults_are_deterministic_under_a_seed() {
    let faults = |seed| Faults {
        seed,
        rate_503: 0.3,
        rate_429: 0.3,
        retry_after_secs: 7,
        ..Faults::none()
    };
    let first = statuses_under(faults(42), 40).await;
    let again = statuses_under(faults(42), 40).await;
    let other_seed = statuses_under(faults(43), 40).await;
    assert_eq!(first, again);
    assert_ne!(first, other_seed);
    for code in [200, 429, 503] {
        assert!(
            first.iter().any(|(s, _)| *s == code),
            "no {code} in {first:?}"
        );
    }
    for (status, retry_after) in &first {
        let expected = (*status == 429).then(|| "7".to_owned());
        assert_eq!(retry_after, &expected);
    }
}

#[tokio::test]
async fn faulted_creates_make_no_task() {
    let faults = Faults {
        seed: 5,
        rate_503: 0.25,
        rate_429: 0.25,
        ..Faults::none()
    };
    let sim = start(Simulator::builder().faults(faults)).await;
    let mut accepted = 0;
    let mut faulted = 0;
    for _ in 0..24 {
        let response = post_create(&sim, &json!({"image": "https://example.com/a.jpg"})).await;
        match response.status().as_u16() {
            200 => accepted += 1,
            429 | 503 => faulted += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        faulted > 0 && accepted > 0,
        "{accepted} accepted, {faulted} faulted"
    );
    assert_eq!(sim.stats().creates_accepted, accepted);

    let always = Faults {
        rate_503: 1.0,
        ..Faults::none()
    };
    let sim = start(Simulator::builder().faults(always)).await;
    let response = post_create(&sim, &json!({"image": "https://example.com/a.jpg"})).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sim.stats().creates_accepted, 0);
}

/// Starts a simulator, runs one task to completion without polling over HTTP (which the
/// faults might cut), and returns the video URL.
async fn completed_video(builder: SimulatorBuilder) -> (SimHandle, String) {
    let sim = start(builder.processing_time(Duration::from_millis(50))).await;
    let id = create_ok(&sim, &json!({"image": sample_b64()})).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.completed_at(&id).is_none() {
        assert!(Instant::now() < deadline, "task never completed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let url = format!("{}/files/{id}.mp4", sim.base_url());
    (sim, url)
}

#[tokio::test]
async fn video_size_pads_to_exactly_n_bytes() {
    for n in [1024 * 1024 + 3, FIXTURE.len() as u64 + 5] {
        let (_sim, url) = completed_video(Simulator::builder().video_size(n)).await;
        let response = client().get(&url).send().await.unwrap();
        assert_eq!(response.headers()["content-length"], n.to_string().as_str());
        let bytes = response.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, n);
        assert_eq!(&bytes[4..8], b"ftyp");
        // Top-level boxes still tile the whole file, so it stays a valid MP4.
        let mut at = 0usize;
        let mut kinds = Vec::new();
        while at < bytes.len() {
            let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            kinds.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
            assert!(size >= 8);
            at += size;
        }
        assert_eq!(at, bytes.len(), "boxes {kinds:?}");
        if n > FIXTURE.len() as u64 + 8 {
            assert_eq!(kinds.last().map(String::as_str), Some("free"));
        }
    }
}

#[tokio::test]
async fn downloads_honour_byte_ranges() {
    let n = 100_000u64;
    let (_sim, url) = completed_video(Simulator::builder().video_size(n)).await;
    let full = client().get(&url).send().await.unwrap();
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    let full = full.bytes().await.unwrap();

    let tail = client()
        .get(&url)
        .header("range", "bytes=5000-")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.headers()["content-range"], "bytes 5000-99999/100000");
    assert_eq!(tail.headers()["content-length"], "95000");
    assert_eq!(tail.bytes().await.unwrap(), full.slice(5000..));

    let head = client()
        .get(&url)
        .header("range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(head.bytes().await.unwrap(), full.slice(..8));

    let past = client()
        .get(&url)
        .header("range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.headers()["content-range"], "bytes */100000");
}

#[tokio::test]
async fn resets_cut_downloads_and_status_bodies() {
    let faults = Faults {
        rate_reset: 1.0,
        ..Faults::none()
    };
    let (sim, url) = completed_video(Simulator::builder().faults(faults).video_size(200_000)).await;
    let mut response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], "200000");
    let mut received = 0;
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len(),
            Ok(None) => panic!("a cut body must end in an error, got {received} bytes"),
            Err(error) => break error,
        }
    };
    assert_eq!(received, 100_000, "cut half-way: {error}");

    let id = url.rsplit('/').next().unwrap().trim_end_matches(".mp4");
    let status = get_task(&sim, id).await;
    assert_eq!(status.status(), StatusCode::OK);
    assert!(status.bytes().await.is_err());
    let list = client()
        .get(format!("{}{PATH}", sim.base_url()))
        .header("x-freepik-api-key", sim.api_key())
        .send()
        .await
        .unwrap();
    assert!(list.bytes().await.is_err());
    // Creates are never cut.
    create_ok(&sim, &json!({"image": sample_b64()})).await;
}

#[tokio::test]
async fn downloads_are_throttled_and_api_calls_delayed() {
    let faults = Faults {
        latency: Duration::from_millis(150),
        download_bytes_per_sec: Some(100_000),
        ..Faults::none()
    };
    let (sim, url) = completed_video(Simulator::builder().faults(faults).video_size(50_000)).await;

    let started = Instant::now();
    let bytes = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(bytes.len(), 50_000);
    assert!(took >= Duration::from_millis(450), "download took {took:?}");

    let started = Instant::now();
    let list = client()
        .get(format!("{}{PATH}", sim.base_url()))
        .header("x-freepik-api-key", sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn stats_record_requests_and_shutdown_stops_serving() {
    let sim = start(fast()).await;
    let base = sim.base_url();
    assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with('/'));
    create_ok(&sim, &json!({"image": sample_b64()})).await;
    let _ = get_task(&sim, "missing").await;
    let records: Vec<(String, String, u16)> = sim
        .stats()
        .requests
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect();
    assert_eq!(
        records,
        [
            ("POST".to_owned(), PATH.to_owned(), 200),
            ("GET".to_owned(), format!("{PATH}/missing"), 404),
        ]
    );
    assert!(!format!("{sim:?}").contains("sim-key"));

    sim.shutdown().await;
    let after = client().get(format!("{base}/")).send().await;
    assert!(after.is_err(), "the port no longer answers");
}

#[tokio::test]
async fn each_resolution_has_its_own_endpoint_and_tasks() {
    let sim = start(fast()).await;
    let at = |resolution: &str| {
        format!(
            "{}/v1/ai/image-to-video/wan-v2-2-{resolution}",
            sim.base_url()
        )
    };
    let created: Value = client()
        .post(at("720p"))
        .header("x-freepik-api-key", sim.api_key())
        .json(&json!({ "image": sample_b64() }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["data"]["task_id"].as_str().expect("task_id");
    let get = |resolution: &str| {
        client()
            .get(format!("{}/{id}", at(resolution)))
            .header("x-freepik-api-key", sim.api_key())
            .send()
    };
    assert_eq!(get("720p").await.unwrap().status(), StatusCode::OK);
    // A 720p task is not found at its siblings' paths.
    assert_eq!(get("580p").await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(get("480p").await.unwrap().status(), StatusCode::NOT_FOUND);
    let list = |resolution: &str| {
        client()
            .get(at(resolution))
            .header("x-freepik-api-key", sim.api_key())
            .send()
    };
    let listed: Value = list("720p").await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"][0]["task_id"], id);
    let listed: Value = list("480p").await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"], json!([]));
    // A model the family does not have is no endpoint at all.
    let response = list("1080p").await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    sim.shutdown().await;
}

#[tokio::test]
async fn past_the_rate_limit_a_key_gets_429_with_retry_after_and_stats_count_it() {
    let sim = start(fast().rate_limit(crate::RateLimit::per_second(3))).await;
    let url = format!("{}{PATH}", sim.base_url());
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let response = client()
            .get(&url)
            .header("x-magnific-api-key", sim.api_key())
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = response.headers().get("retry-after").cloned();
            let body: Value = response.json().await.unwrap();
            assert!(body["message"].is_string(), "{body}");
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert_eq!(retry_after.unwrap(), "1");

    // The counters, for tools in any language: no key needed, not counted.
    let stats: Value = client()
        .get(format!("{}/_sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["responses"], json!({"200": 3, "429": 2}));
    assert_eq!(stats["requests"], 5);
    assert_eq!(stats["api_requests"], 5);
    assert_eq!(stats["creates_accepted"], 0);
    assert_eq!(stats["tasks"], 0);
    sim.shutdown().await;
}

/// The ids a list shows, in its order.
async fn listed_ids(sim: &SimHandle) -> Vec<String> {
    let response = client()
        .get(format!("{}{PATH}", sim.base_url()))
        .header("x-freepik-api-key", sim.api_key())
        .send()
        .await
        .expect("list request");
    let json: Value = response.json().await.expect("json");
    json["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["task_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_lagging_list_shows_a_task_only_after_the_lag_and_get_finds_it_at_once() {
    let sim = start(fast().faults(Faults {
        list_lag: Duration::from_millis(400),
        ..Faults::none()
    }))
    .await;
    let id = create_ok(&sim, &json!({"image": sample_b64()})).await;
    assert!(listed_ids(&sim).await.is_empty());
    assert_eq!(get_task(&sim, &id).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(listed_ids(&sim).await, vec![id]);
}

#[tokio::test]
async fn a_capped_list_shows_the_newest_or_the_oldest() {
    for newest in [true, false] {
        let sim = start(fast().faults(Faults {
            list_cap: Some(crate::ListCap { max: 2, newest }),
            ..Faults::none()
        }))
        .await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(create_ok(&sim, &json!({"image": sample_b64()})).await);
        }
        let shown = listed_ids(&sim).await;
        let expected = if newest {
            vec![ids[2].clone(), ids[1].clone()]
        } else {
            vec![ids[1].clone(), ids[0].clone()]
        };
        assert_eq!(shown, expected, "newest: {newest}");
    }
}

#[tokio::test]
async fn credits_run_out_with_a_402_that_makes_nothing_and_can_be_topped_up() {
    let sim = start(fast().faults(Faults {
        credits: Some(1),
        ..Faults::none()
    }))
    .await;
    create_ok(&sim, &json!({"image": sample_b64()})).await;
    let refused = post_create(&sim, &json!({"image": sample_b64()})).await;
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(sim.stats().creates_accepted, 1);
    sim.add_credits(1);
    create_ok(&sim, &json!({"image": sample_b64()})).await;
    assert_eq!(sim.stats().creates_accepted, 2);
}

#[tokio::test]
async fn ids_can_match_without_regard_to_case() {
    let sim = start(fast().faults(Faults {
        case_insensitive_ids: true,
        ..Faults::none()
    }))
    .await;
    let id = create_ok(&sim, &json!({"image": sample_b64()})).await;
    let response = get_task(&sim, &id.to_ascii_uppercase()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json: Value = response.json().await.unwrap();
    assert_eq!(
        json["data"]["task_id"],
        id.as_str(),
        "answered under the issued id"
    );
    let strict = start(fast()).await;
    let id = create_ok(&strict, &json!({"image": sample_b64()})).await;
    assert_eq!(
        get_task(&strict, &id.to_ascii_uppercase()).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_redirect_after_acting_points_where_it_is_told() {
    let sim = start(fast().faults(Faults {
        rate_create_gateway_error: 1.0,
        create_gateway_statuses: vec![307],
        redirect_to: "http://127.0.0.1:9/elsewhere".into(),
        ..Faults::none()
    }))
    .await;
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .post(format!("{}{PATH}", sim.base_url()))
        .header("x-freepik-api-key", sim.api_key())
        .json(&json!({"image": sample_b64()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        response.headers()["location"],
        "http://127.0.0.1:9/elsewhere"
    );
    assert_eq!(
        sim.stats().creates_accepted,
        1,
        "the task exists all the same"
    );
}

#[test]
fn the_request_log_keeps_the_latest_and_counts_all() {
    let stats = crate::stats::StatsCollector::default();
    let extra = 5;
    for i in 0..crate::REQUEST_LOG_KEPT + extra {
        stats.record(crate::RequestRecord {
            method: "GET".into(),
            path: format!("/{i}"),
            status: if i % 2 == 0 { 200 } else { 429 },
        });
    }
    let snapshot = stats.snapshot(0);
    assert_eq!(snapshot.requests.len(), crate::REQUEST_LOG_KEPT);
    assert_eq!(
        snapshot.requests_total,
        (crate::REQUEST_LOG_KEPT + extra) as u64
    );
    assert_eq!(snapshot.requests[0].path, format!("/{extra}"));
    let counts = snapshot.responses();
    assert_eq!(counts[&200] + counts[&429], snapshot.requests_total);
}

#[tokio::test]
async fn webhooks_can_come_twice_and_newest_first() {
    let (url, mut deliveries) = receiver(0).await;
    let sim = start(fast().faults(Faults {
        webhook_duplicates: true,
        webhook_reorder: true,
        ..Faults::none()
    }))
    .await;
    create_ok(&sim, &json!({"image": sample_b64(), "webhook_url": url})).await;
    let mut seen = Vec::new();
    for _ in 0..6 {
        let delivery = next_delivery(&mut deliveries).await;
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        seen.push((
            body["status"].as_str().unwrap().to_owned(),
            header(&delivery, "webhook-id").to_owned(),
        ));
    }
    let statuses: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "COMPLETED",
            "COMPLETED",
            "IN_PROGRESS",
            "IN_PROGRESS",
            "CREATED",
            "CREATED"
        ]
    );
    for pair in seen.chunks(2) {
        assert_eq!(pair[0].1, pair[1].1, "a repeat keeps its webhook-id");
    }
}

#[tokio::test]
async fn an_expiring_first_url_answers_403_and_the_next_status_hands_out_a_fresh_one() {
    let faults = Faults {
        expire_first_url: true,
        ..Faults::none()
    };
    let sim = start(fast().faults(faults)).await;
    let id = create_ok(&sim, &json!({"image": sample_b64()})).await;
    let (_, body) = poll_until_done(&sim, &id).await;
    let first = body["data"]["generated"][0].as_str().unwrap().to_owned();
    assert!(first.contains("?token=exp="), "{first}");
    let refused = client().get(&first).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.headers()["content-type"], "application/xml");
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("<Code>AccessDenied</Code>") && page.contains("expired"),
        "{page}"
    );
    // Still refused, however often it is asked.
    let again = client().get(&first).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN);

    let (_, body) = poll_until_done(&sim, &id).await;
    let fresh = body["data"]["generated"][0].as_str().unwrap().to_owned();
    assert_ne!(fresh, first);
    let video = client().get(&fresh).send().await.unwrap();
    assert_eq!(video.status(), StatusCode::OK);
    assert_eq!(&video.bytes().await.unwrap()[..], FIXTURE);
}

#[tokio::test]
async fn without_the_fault_urls_carry_no_token_and_never_expire() {
    let (sim, url) = completed_video(fast()).await;
    for _ in 0..2 {
        let video = client().get(&url).send().await.unwrap();
        assert_eq!(video.status(), StatusCode::OK);
    }
    drop(sim);
}

#[tokio::test]
async fn past_the_quota_every_create_gets_a_429_without_retry_after_and_makes_nothing() {
    let faults = Faults {
        quota_after_creates: Some(2),
        ..Faults::none()
    };
    let sim = start(fast().faults(faults)).await;
    let body = json!({"image": sample_b64()});
    create_ok(&sim, &body).await;
    create_ok(&sim, &body).await;
    for _ in 0..3 {
        let refused = post_create(&sim, &body).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().get("retry-after").is_none());
        let json: Value = refused.json().await.unwrap();
        assert_eq!(json["message"], "Limit for free users reached.");
    }
    assert_eq!(sim.stats().creates_accepted, 2);
}
