//! The faults an invariant harness draws from: each one observable over
//! HTTP, and counted in the stats.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::tests::client;
use crate::{Faults, SimHandle, Simulator, video_task_tag};

const PATH: &str = "/v1/ai/image-to-video/wan-v2-2-580p";

async fn sim(faults: Faults) -> SimHandle {
    Simulator::builder()
        .processing_time(Duration::from_millis(100))
        .faults(faults)
        .start()
        .await
        .expect("simulator starts")
}

fn image_body() -> Value {
    json!({"image": "https://example.com/a.jpg"})
}

async fn create(sim: &SimHandle) -> reqwest::Response {
    client()
        .post(format!("{}{PATH}", sim.base_url()))
        .header("x-magnific-api-key", sim.api_key())
        .json(&image_body())
        .send()
        .await
        .expect("create")
}

async fn create_id(sim: &SimHandle) -> String {
    let response = create(sim).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["data"]["task_id"].as_str().unwrap().to_owned()
}

async fn get(sim: &SimHandle, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", sim.base_url()))
        .header("x-magnific-api-key", sim.api_key())
        .send()
        .await
        .expect("get")
}

async fn status(sim: &SimHandle, id: &str) -> reqwest::Response {
    get(sim, &format!("{PATH}/{id}")).await
}

async fn until_completed(sim: &SimHandle, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.completed_at(id).is_none() {
        assert!(Instant::now() < deadline, "task never completed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn drawn(sim: &SimHandle, name: &str) -> u64 {
    sim.stats().faults_drawn.get(name).copied().unwrap_or(0)
}

#[tokio::test]
async fn html_200_answers_status_and_list_but_never_a_create() {
    let sim = sim(Faults {
        rate_html_ok: 1.0,
        ..Faults::none()
    })
    .await;
    let id = create_id(&sim).await;
    for response in [status(&sim, &id).await, get(&sim, PATH).await] {
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(response.text().await.unwrap().contains("<html>"));
    }
    assert_eq!(drawn(&sim, "html_ok"), 2);
    assert_eq!(sim.stats().creates_accepted, 1);
}

#[tokio::test]
async fn html_502_answers_everything_but_creates() {
    let sim = sim(Faults {
        rate_html_502: 1.0,
        ..Faults::none()
    })
    .await;
    let id = create_id(&sim).await;
    for response in [status(&sim, &id).await, get(&sim, PATH).await] {
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(response.headers()["content-type"], "text/html");
    }
    assert_eq!(drawn(&sim, "html_502"), 2);
}

#[tokio::test]
async fn a_429_without_retry_after_makes_nothing() {
    let sim = sim(Faults {
        rate_429_no_retry_after: 1.0,
        ..Faults::none()
    })
    .await;
    let refused = create(&sim).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().get("retry-after").is_none());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body, json!({"message": "Too many requests"}));
    let stats = sim.stats();
    assert_eq!(stats.creates_accepted, 0);
    assert_eq!(stats.creates_attempted, 1);
    assert!(stats.creates_answered.is_empty());
    assert_eq!(stats.faults_drawn["429_no_retry_after"], 1);
}

#[tokio::test]
async fn status_fetches_meet_an_hour_long_429_a_quota_or_a_401_and_lists_do_not() {
    /// Sets the fault; the status, `Retry-After` and message it answers; its name.
    type Case = (
        fn(&mut Faults),
        u16,
        Option<&'static str>,
        &'static str,
        &'static str,
    );
    let cases: [Case; 3] = [
        (
            |f| f.rate_status_long_429 = 1.0,
            429,
            Some("3600"),
            "Too many requests",
            "status_long_429",
        ),
        (
            |f| f.rate_status_quota_429 = 1.0,
            429,
            None,
            "Limit for free users reached.",
            "status_quota_429",
        ),
        (
            |f| f.rate_status_401 = 1.0,
            401,
            None,
            "Invalid API key",
            "status_401",
        ),
    ];
    for (set, code, retry_after, said, name) in cases {
        let mut faults = Faults::none();
        set(&mut faults);
        let sim = sim(faults).await;
        let id = create_id(&sim).await;
        let response = status(&sim, &id).await;
        assert_eq!(response.status().as_u16(), code, "{name}");
        let header = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header.as_deref(), retry_after, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["message"], said, "{name}");
        assert_eq!(get(&sim, PATH).await.status(), StatusCode::OK, "{name}");
        assert_eq!(drawn(&sim, name), 1);
    }
}

#[tokio::test]
async fn a_completed_task_can_come_without_its_url_first() {
    let sim = sim(Faults {
        rate_completed_no_url: 1.0,
        ..Faults::none()
    })
    .await;
    let id = create_id(&sim).await;
    until_completed(&sim, &id).await;
    let mut empty = 0;
    let url = loop {
        let body: Value = status(&sim, &id).await.json().await.unwrap();
        assert_eq!(body["data"]["status"], "COMPLETED");
        let generated = body["data"]["generated"].as_array().unwrap();
        match generated.first() {
            Some(url) => break url.as_str().unwrap().to_owned(),
            None => empty += 1,
        }
        assert!(empty <= 2, "still no URL after {empty} answers");
    };
    assert!((1..=2).contains(&empty), "{empty}");
    assert!(url.ends_with(".mp4"), "{url}");
    assert_eq!(drawn(&sim, "completed_no_url"), 1);
    assert_eq!(drawn(&sim, "completed_no_url_answer"), empty);
}

#[tokio::test]
async fn generated_can_be_null_or_missing_before_completed() {
    let sim = Simulator::builder()
        .processing_time(Duration::from_secs(30))
        .faults(Faults {
            rate_generated_null_before_completed: 1.0,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    let mut shapes = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let id = create_id(&sim).await;
        let body: Value = status(&sim, &id).await.json().await.unwrap();
        let data = &body["data"];
        assert_eq!(data["status"], "CREATED");
        shapes.insert(match data.get("generated") {
            Some(Value::Null) => "null",
            None => "missing",
            Some(other) => panic!("generated is {other}"),
        });
    }
    assert_eq!(shapes.len(), 2, "both shapes in 12 tasks: {shapes:?}");
    let stats = sim.stats();
    assert_eq!(
        stats.faults_drawn.get("generated_null").unwrap_or(&0)
            + stats.faults_drawn.get("generated_missing").unwrap_or(&0),
        12
    );
}

/// A completed task's video URL, from a status answer.
async fn video_url(sim: &SimHandle, id: &str) -> String {
    until_completed(sim, id).await;
    let body: Value = status(sim, id).await.json().await.unwrap();
    body["data"]["generated"][0].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tagged_videos_name_their_task_and_signed_urls_carry_a_token() {
    let sim = sim(Faults {
        tag_videos: true,
        signed_urls: true,
        ..Faults::none()
    })
    .await;
    let (a, b) = (create_id(&sim).await, create_id(&sim).await);
    for id in [&a, &b] {
        let url = video_url(&sim, id).await;
        assert!(url.contains("?token=exp=0~hmac=sim"), "{url}");
        let bytes = client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(video_task_tag(&bytes).as_deref(), Some(id.as_str()));
        // Range requests see the same file.
        let tail = client()
            .get(&url)
            .header("range", "bytes=100-")
            .send()
            .await
            .unwrap();
        assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(tail.bytes().await.unwrap(), bytes.slice(100..));
    }
}

#[tokio::test]
async fn a_video_can_be_an_html_page_with_200() {
    let sim = sim(Faults {
        rate_video_html: 1.0,
        ..Faults::none()
    })
    .await;
    let id = create_id(&sim).await;
    let url = video_url(&sim, &id).await;
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let bytes = response.bytes().await.unwrap();
    assert_ne!(&bytes[4..8], b"ftyp");
    assert_eq!(drawn(&sim, "video_html"), 1);
}

#[tokio::test]
async fn a_video_can_end_cleanly_half_way_without_a_length() {
    let sim = sim(Faults {
        rate_video_cut_no_length: 1.0,
        tag_videos: true,
        ..Faults::none()
    })
    .await;
    let id = create_id(&sim).await;
    let url = video_url(&sim, &id).await;
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    // No error at the HTTP level: the body just ends.
    let bytes = response.bytes().await.expect("a clean end");
    assert_eq!(&bytes[4..8], b"ftyp");
    assert_eq!(video_task_tag(&bytes), None, "half a video is not whole");
    assert!(bytes.len() < crate::video::FIXTURE.len());
    assert_eq!(drawn(&sim, "video_cut_no_length"), 1);
}

#[tokio::test]
async fn a_video_can_redirect_to_another_origin_which_sees_the_referer() {
    let sim = sim(Faults {
        rate_video_redirect: 1.0,
        signed_urls: true,
        tag_videos: true,
        ..Faults::none()
    })
    .await;
    let id = create_id(&sim).await;
    let url = video_url(&sim, &id).await;
    let no_follow = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = no_follow.get(&url).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.ends_with(&format!("/mirror/{id}.mp4")),
        "{location}"
    );
    assert!(
        !location.starts_with(&sim.base_url()),
        "another origin: {location}"
    );
    assert_eq!(sim.stats().referer_token_leaks, 0);

    // reqwest's default client follows it and sends the old URL as Referer.
    let followed = client().get(&url).send().await.unwrap();
    assert_eq!(followed.status(), StatusCode::OK);
    let bytes = followed.bytes().await.unwrap();
    assert_eq!(video_task_tag(&bytes).as_deref(), Some(id.as_str()));
    assert_eq!(sim.stats().referer_token_leaks, 1);

    let quiet = reqwest::Client::builder()
        .no_proxy()
        .referer(false)
        .build()
        .unwrap();
    assert_eq!(
        quiet.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(sim.stats().referer_token_leaks, 1, "no Referer, no leak");
}

#[tokio::test]
async fn stats_tell_made_answered_and_attempted_creates_apart() {
    let sim = sim(Faults {
        seed: 3,
        rate_create_gateway_error: 0.5,
        create_gateway_statuses: vec![520, 524],
        ..Faults::none()
    })
    .await;
    let old = sim
        .add_completed_task("image-to-video/wan-v2-2-580p")
        .expect("a served model");
    let mut answered = Vec::new();
    for _ in 0..10 {
        let response = create(&sim).await;
        if response.status() == StatusCode::OK {
            let body: Value = response.json().await.unwrap();
            answered.push(body["data"]["task_id"].as_str().unwrap().to_owned());
        } else {
            assert!([520, 524].contains(&response.status().as_u16()));
        }
    }
    let stats = sim.stats();
    assert_eq!(stats.creates_attempted, 10);
    assert_eq!(stats.tasks_made.len(), 10);
    assert_eq!(stats.creates_answered, answered);
    assert!(!stats.tasks_made.contains(&old));
    let gateway: u64 = ["create_gateway_520", "create_gateway_524"]
        .iter()
        .map(|name| stats.faults_drawn.get(*name).copied().unwrap_or(0))
        .sum();
    assert_eq!(gateway as usize, 10 - answered.len());
    assert!(gateway > 0 && !answered.is_empty(), "{stats:?}");
    // The older task is listed last (oldest), and is COMPLETED.
    let list: Value = get(&sim, PATH).await.json().await.unwrap();
    let listed = list["data"].as_array().unwrap();
    assert_eq!(listed.len(), 11);
    assert_eq!(listed[10], json!({"task_id": old, "status": "COMPLETED"}));
    let json = stats.to_json();
    assert_eq!(json["creates_attempted"], 10);
    assert_eq!(
        json["creates_answered"].as_array().unwrap().len(),
        answered.len()
    );
}

#[tokio::test]
async fn a_calmed_simulator_injects_nothing_more() {
    let sim = sim(Faults {
        rate_503: 1.0,
        ..Faults::none()
    })
    .await;
    assert_eq!(create(&sim).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    sim.calm();
    let id = create_id(&sim).await;
    assert_eq!(status(&sim, &id).await.status(), StatusCode::OK);
    assert_eq!(drawn(&sim, "503"), 1);
}
