//! Every model of the spec, end to end: a valid create of each kind and
//! family completes at its own path, and the simulator refuses what the
//! SDK's checks refuse (the spec's limits and the rules said only in prose).
//! The bodies are written as Magnific's published document shapes them.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use freepik_wan_api::models::MODELS;
use serde_json::{Value, json};

use crate::tests::{client, next_delivery, receiver};
use crate::{SimHandle, Simulator};

const IMG: &str = "https://img.example.com/cat.jpg";
const IMG2: &str = "https://img.example.com/dog.png";
const VIDEO: &str = "https://cdn.example.com/clip.mp4";
const VOICE: &str = "https://cdn.example.com/voice.mp3";

async fn start() -> SimHandle {
    Simulator::builder()
        .processing_time(Duration::from_millis(150))
        .start()
        .await
        .expect("simulator starts")
}

fn url(sim: &SimHandle, model: &str) -> String {
    format!("{}/v1/ai/{model}", sim.base_url())
}

async fn post(sim: &SimHandle, model: &str, body: &Value) -> reqwest::Response {
    client()
        .post(url(sim, model))
        .header("x-magnific-api-key", sim.api_key())
        .json(body)
        .send()
        .await
        .expect("create request")
}

async fn get(sim: &SimHandle, path: &str) -> reqwest::Response {
    client()
        .get(url(sim, path))
        .header("x-magnific-api-key", sim.api_key())
        .send()
        .await
        .expect("get request")
}

/// Creates at `model`, checks the create answer's shape (the detail envelope
/// exactly where `detail`), and returns the task id.
async fn create(sim: &SimHandle, model: &str, body: &Value, detail: bool) -> String {
    let response = post(sim, model, body).await;
    assert_eq!(response.status(), StatusCode::OK, "{model} {body}");
    let json: Value = response.json().await.expect("json");
    let id = json["data"]["task_id"]
        .as_str()
        .expect("task_id")
        .to_owned();
    let expected = if detail {
        json!({"data": {"task_id": id, "status": "CREATED", "generated": []}})
    } else {
        json!({"data": {"task_id": id, "status": "CREATED"}})
    };
    assert_eq!(json, expected, "{model}");
    id
}

/// Polls the task at `model` until COMPLETED and returns its video URL.
async fn completed(sim: &SimHandle, model: &str, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = get(sim, &format!("{model}/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{model}/{id}");
        let body: Value = response.json().await.expect("json");
        match body["data"]["status"].as_str().expect("status") {
            "COMPLETED" => {
                let video = format!("{}/files/{id}.mp4", sim.base_url());
                assert_eq!(body["data"]["generated"], json!([video]));
                return video;
            }
            "CREATED" | "IN_PROGRESS" => {}
            other => panic!("{model}: task ended {other}"),
        }
        assert!(Instant::now() < deadline, "{model}: never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Posts `body` at `model`, expects the problem+json 400, and returns the
/// names in `invalid_params`.
async fn refused(sim: &SimHandle, model: &str, body: &Value) -> Vec<String> {
    let response = post(sim, model, body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{model} {body}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let json: Value = response.json().await.expect("json");
    assert!(json["message"].is_string());
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

/// One valid body per kind and family, as the published document shapes them.
fn valid_bodies() -> Vec<(&'static str, Value, bool)> {
    vec![
        (
            "text-to-video/wan-2-5-t2v-720p",
            json!({"prompt": "a paper boat", "duration": "10", "negative_prompt": "blur",
                   "enable_prompt_expansion": false, "seed": 2_147_483_647}),
            false,
        ),
        (
            "text-to-video/wan-v2-6-1080p",
            json!({"prompt": "two scenes", "duration": "15", "size": "1080*1920",
                   "shot_type": "multi", "enable_prompt_expansion": true, "seed": -1}),
            false,
        ),
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "a paper boat", "audio_url": VOICE, "aspect_ratio": "9:16",
                   "resolution": "720P", "duration": 15, "seed": 0,
                   "additional_settings": {"prompt_extend": false}}),
            true,
        ),
        (
            "image-to-video/wan-2-5-i2v-1080p",
            json!({"image": IMG, "prompt": "the cat turns"}),
            false,
        ),
        (
            "image-to-video/wan-v2-6-720p",
            json!({"image": IMG, "prompt": "the cat turns", "size": "960*960", "duration": "5"}),
            false,
        ),
        // Wan 2.7 image-to-video, its three modes.
        (
            "image-to-video/wan-2-7",
            json!({"start_image_url": IMG}),
            true,
        ),
        (
            "image-to-video/wan-2-7",
            json!({"start_image_url": IMG, "end_image_url": IMG2, "prompt": "cat to dog",
                   "resolution": "1080P", "duration": 2}),
            true,
        ),
        (
            "image-to-video/wan-2-7",
            json!({"video_url": VIDEO, "end_image_url": IMG2, "duration": 15}),
            true,
        ),
        (
            "reference-to-video/wan-2-7",
            json!({"prompt": "Image 1 talks to Video 1",
                   "image_urls": [{"url": IMG, "reference_voice": VOICE}],
                   "video_urls": [{"url": VIDEO}],
                   "start_image_url": IMG2, "aspect_ratio": "1:1", "duration": 10}),
            true,
        ),
        (
            "video-edit/wan-2-7",
            json!({"video_url": VIDEO, "prompt": "make it snow",
                   "image_urls": [IMG, IMG2, IMG], "duration": 0,
                   "additional_settings": {"audio_setting": "origin", "prompt_extend": true}}),
            true,
        ),
    ]
}

#[tokio::test]
async fn one_video_of_each_kind_and_family_completes_at_its_own_path() {
    let sim = start().await;
    let mut made = Vec::new();
    for (model, body, detail) in valid_bodies() {
        let id = create(&sim, model, &body, detail).await;
        made.push((model, id));
    }
    for (model, id) in &made {
        let video = completed(&sim, model, id).await;
        let response = client().get(&video).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(&response.bytes().await.unwrap()[4..8], b"ftyp");
        // The list at the model's path has it.
        let listed: Value = get(&sim, model).await.json().await.unwrap();
        assert!(
            listed["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["task_id"] == id.as_str()),
            "{model}: {listed}"
        );
    }

    let stats = sim.stats();
    assert_eq!(stats.creates_accepted, made.len() as u64);
    assert_eq!(stats.creates_by_model["image-to-video/wan-2-7"], 3);
    assert_eq!(stats.creates_by_model["video-edit/wan-2-7"], 1);
    assert_eq!(stats.creates_by_model["text-to-video/wan-v2-6-1080p"], 1);
    assert!(
        !stats
            .creates_by_model
            .contains_key("text-to-video/wan-v2-6-720p")
    );
    let wire: Value = client()
        .get(format!("{}/_sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wire["creates_by_model"]["image-to-video/wan-2-7"], 3);
    assert_eq!(wire["creates_by_model"]["reference-to-video/wan-2-7"], 1);
    assert_eq!(wire["creates_accepted"], made.len());
    sim.shutdown().await;
}

#[tokio::test]
async fn every_model_of_the_spec_is_served_with_its_own_rules() {
    let sim = start().await;
    assert!(MODELS.len() >= 17, "{} models", MODELS.len());
    for model in MODELS {
        let path = model.path();
        // An empty body names exactly the model's required fields (the
        // reference-to-video and image-to-video prose rules come only after).
        let required: Vec<&str> = model
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        let names = refused(&sim, &path, &json!({})).await;
        if required.is_empty() {
            // Wan 2.7 image-to-video: nothing required, but a mode is.
            assert_eq!(names, ["start_image_url"], "{path}");
        } else {
            assert_eq!(names, required, "{path}");
        }
        let listed = get(&sim, &path).await;
        assert_eq!(listed.status(), StatusCode::OK, "{path}");
        let unknown = get(
            &sim,
            &format!("{path}/00000000-0000-4000-8000-000000000000"),
        )
        .await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // The banner names every model's path.
    let banner = client()
        .get(format!("{}/", sim.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for model in MODELS {
        assert!(
            banner.contains(&format!("/v1/ai/{}", model.path())),
            "{banner}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_task_is_found_only_at_the_kind_and_segment_that_made_it() {
    let sim = start().await;
    let id = create(
        &sim,
        "text-to-video/wan-2-7",
        &json!({"prompt": "a boat"}),
        true,
    )
    .await;
    assert_eq!(
        get(&sim, &format!("text-to-video/wan-2-7/{id}"))
            .await
            .status(),
        StatusCode::OK
    );
    // The same segment under the other kinds is another model.
    for other in [
        "image-to-video/wan-2-7",
        "reference-to-video/wan-2-7",
        "video-edit/wan-2-7",
        "text-to-video/wan-v2-6-720p",
    ] {
        let response = get(&sim, &format!("{other}/{id}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{other}");
        let listed: Value = get(&sim, other).await.json().await.unwrap();
        assert_eq!(listed["data"], json!([]), "{other}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_methods_at_every_model_path_get_405_with_allow() {
    let sim = start().await;
    for model in MODELS {
        let collection = url(&sim, &model.path());
        let put = client()
            .put(&collection)
            .header("x-magnific-api-key", sim.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(put.headers()["allow"], "GET, HEAD, POST", "{collection}");
        let delete = client()
            .delete(format!("{collection}/some-id"))
            .header("x-magnific-api-key", sim.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(delete.headers()["allow"], "GET, HEAD");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_prose_rules_are_refused_as_the_sdk_refuses_them() {
    let sim = start().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        // Wan 2.6: multi-shot needs prompt expansion, off by default there.
        (
            "text-to-video/wan-v2-6-720p",
            json!({"prompt": "two scenes", "shot_type": "multi"}),
            "shot_type",
        ),
        (
            "image-to-video/wan-v2-6-1080p",
            json!({"image": IMG, "prompt": "two scenes", "shot_type": "multi",
                   "enable_prompt_expansion": false}),
            "shot_type",
        ),
        // Wan 2.7 image-to-video: a start image or a video, not both, not neither.
        (
            "image-to-video/wan-2-7",
            json!({"start_image_url": IMG, "video_url": VIDEO}),
            "video_url",
        ),
        (
            "image-to-video/wan-2-7",
            json!({"end_image_url": IMG2, "prompt": "ends on a dog"}),
            "start_image_url",
        ),
        (
            "image-to-video/wan-2-7",
            json!({"prompt": "nothing to start from"}),
            "start_image_url",
        ),
        // Reference-to-video: 1 to 5 references, images and videos together.
        (
            "reference-to-video/wan-2-7",
            json!({"prompt": "no one", "start_image_url": IMG}),
            "image_urls",
        ),
        (
            "reference-to-video/wan-2-7",
            json!({"prompt": "a crowd",
                   "image_urls": [{"url": IMG}, {"url": IMG}, {"url": IMG}],
                   "video_urls": [{"url": VIDEO}, {"url": VIDEO}, {"url": VIDEO}]}),
            "image_urls",
        ),
    ];
    for (model, body, field) in cases {
        assert_eq!(refused(&sim, model, &body).await, [field], "{model} {body}");
    }
    // The edges are accepted: multi-shot with expansion where it defaults on
    // is not a case (2.5 has no shot_type), five references are.
    create(
        &sim,
        "reference-to-video/wan-2-7",
        &json!({"prompt": "five",
                "image_urls": [{"url": IMG}, {"url": IMG}, {"url": IMG}],
                "video_urls": [{"url": VIDEO}, {"url": VIDEO, "reference_voice": VOICE}]}),
        true,
    )
    .await;
    assert_eq!(sim.stats().creates_accepted, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_spec_limits_of_each_family_are_refused() {
    let sim = start().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        // Wan 2.5: prompt ≤ 800, required; seed from 0; durations "5"/"10".
        (
            "text-to-video/wan-2-5-t2v-480p",
            json!({"prompt": "x".repeat(801)}),
            "prompt",
        ),
        (
            "text-to-video/wan-2-5-t2v-480p",
            json!({"prompt": "p", "seed": -1}),
            "seed",
        ),
        (
            "text-to-video/wan-2-5-t2v-1080p",
            json!({"prompt": "p", "duration": "15"}),
            "duration",
        ),
        (
            "text-to-video/wan-2-5-t2v-720p",
            json!({"prompt": "p", "negative_prompt": "n".repeat(501)}),
            "negative_prompt",
        ),
        (
            "text-to-video/wan-2-5-t2v-720p",
            json!({"prompt": "p", "enable_prompt_expansion": "yes"}),
            "enable_prompt_expansion",
        ),
        // A URL-only model refuses base64 (and any non-URL) for its image.
        (
            "image-to-video/wan-2-5-i2v-720p",
            json!({"prompt": "p", "image": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}),
            "image",
        ),
        // Wan 2.6: a size of the other tier; a field of another family.
        (
            "text-to-video/wan-v2-6-720p",
            json!({"prompt": "p", "size": "1920*1080"}),
            "size",
        ),
        (
            "text-to-video/wan-v2-6-720p",
            json!({"prompt": "p", "aspect_ratio": "16:9"}),
            "aspect_ratio",
        ),
        (
            "text-to-video/wan-v2-6-1080p",
            json!({"prompt": "p", "seed": -2}),
            "seed",
        ),
        // Wan 2.7: integer durations in each kind's own range, as integers.
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "p", "duration": 16}),
            "duration",
        ),
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "p", "duration": "5"}),
            "duration",
        ),
        (
            "image-to-video/wan-2-7",
            json!({"start_image_url": IMG, "duration": 1}),
            "duration",
        ),
        (
            "reference-to-video/wan-2-7",
            json!({"prompt": "p", "image_urls": [{"url": IMG}], "duration": 11}),
            "duration",
        ),
        (
            "video-edit/wan-2-7",
            json!({"video_url": VIDEO, "duration": -1}),
            "duration",
        ),
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "p", "resolution": "4K"}),
            "resolution",
        ),
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "p", "aspect_ratio": "widescreen_16_9"}),
            "aspect_ratio",
        ),
        // i2v has no aspect ratio at all.
        (
            "image-to-video/wan-2-7",
            json!({"start_image_url": IMG, "aspect_ratio": "16:9"}),
            "aspect_ratio",
        ),
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "p", "additional_settings": true}),
            "additional_settings",
        ),
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "p", "seed": null}),
            "seed",
        ),
        // Its members by their own rules.
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "p", "additional_settings": {"prompt_extend": "yes"}}),
            "additional_settings",
        ),
        (
            "video-edit/wan-2-7",
            json!({"video_url": VIDEO, "additional_settings": {"audio_setting": "loud"}}),
            "additional_settings",
        ),
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "p", "additional_settings": {"audio_setting": "origin"}}),
            "additional_settings",
        ),
        // Every 2.7 input is an http(s) URL.
        (
            "image-to-video/wan-2-7",
            json!({"start_image_url": "iVBORw0KGgo="}),
            "start_image_url",
        ),
        (
            "text-to-video/wan-2-7",
            json!({"prompt": "p", "audio_url": "ftp://example.com/a.mp3"}),
            "audio_url",
        ),
        // Video edit: the video is required; at most 3 images, each a URL.
        ("video-edit/wan-2-7", json!({"prompt": "snow"}), "video_url"),
        (
            "video-edit/wan-2-7",
            json!({"video_url": VIDEO, "image_urls": [IMG, IMG, IMG, IMG]}),
            "image_urls",
        ),
        (
            "video-edit/wan-2-7",
            json!({"video_url": VIDEO, "image_urls": ["not a url"]}),
            "image_urls",
        ),
        // Reference objects: a url, only their own fields, URLs only.
        (
            "reference-to-video/wan-2-7",
            json!({"prompt": "p", "image_urls": [{"reference_voice": VOICE}]}),
            "image_urls",
        ),
        (
            "reference-to-video/wan-2-7",
            json!({"prompt": "p", "image_urls": [{"url": IMG, "name": "Bob"}]}),
            "image_urls",
        ),
        (
            "reference-to-video/wan-2-7",
            json!({"prompt": "p", "video_urls": [{"url": VIDEO, "reference_voice": "voice.mp3"}]}),
            "video_urls",
        ),
        (
            "reference-to-video/wan-2-7",
            json!({"prompt": "p", "image_urls": [IMG]}),
            "image_urls",
        ),
    ];
    for (model, body, field) in cases {
        assert_eq!(refused(&sim, model, &body).await, [field], "{model} {body}");
    }
    assert_eq!(sim.stats().creates_accepted, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wan_2_7_task_sends_its_webhooks() {
    let (hook, mut deliveries) = receiver(0).await;
    let sim = start().await;
    let id = create(
        &sim,
        "video-edit/wan-2-7",
        &json!({"video_url": VIDEO, "webhook_url": hook}),
        true,
    )
    .await;
    let mut statuses = Vec::new();
    while statuses.last().map(String::as_str) != Some("COMPLETED") {
        let delivery = next_delivery(&mut deliveries).await;
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        assert_eq!(body["task_id"], id.as_str());
        statuses.push(body["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, ["CREATED", "IN_PROGRESS", "COMPLETED"]);
    sim.shutdown().await;
}
