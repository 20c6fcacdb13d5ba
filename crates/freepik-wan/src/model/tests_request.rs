use std::path::Path;

use freepik_wan_api::types;
use serde_json::json;

use super::*;
use crate::error::Error;

const IMG: &str = "https://example.com/cat.jpg";
const VID: &str = "https://example.com/clip.mp4";
const VOICE: &str = "https://example.com/voice.wav";

fn model(s: &str) -> Model {
    s.parse().unwrap()
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn build(request: VideoRequest) -> Result<CreateBody, Error> {
    block(request.build())
}

/// The field a refusal names (Validation or UrlRequired).
fn refused(request: VideoRequest) -> (&'static str, String) {
    match build(request) {
        Err(Error::Validation { field, reason }) => (field, reason),
        Err(err @ Error::UrlRequired { field, .. }) => (field, err.to_string()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The smallest request each kind of model takes.
fn minimal(m: Model) -> VideoRequest {
    match (m.kind(), m.field("start_image_url").is_some()) {
        (Kind::TextToVideo, _) => m.request().prompt("a fox in the snow"),
        (Kind::ImageToVideo, false) => m.request().image(IMG).prompt("the cat yawns"),
        (Kind::ImageToVideo, true) => m.request().image(IMG),
        (Kind::ReferenceToVideo, _) => m
            .request()
            .prompt("Image 1 waves")
            .reference_image(IMG, Some(VOICE.into())),
        (Kind::VideoEdit, _) => m.request().video(VID),
    }
}

/// What a stand-in that knows only the published schemas does: decode the
/// body as the model's generated type.
fn decodes_as_its_generated_type(body: &CreateBody) {
    let name = body.model().info().body;
    let decoded = match name {
        "CreateTaskRequest" => body.to_typed::<types::CreateTaskRequest>().map(drop),
        "Wan25T2vRequest" => body.to_typed::<types::Wan25T2vRequest>().map(drop),
        "Wan25I2vRequest" => body.to_typed::<types::Wan25I2vRequest>().map(drop),
        "Wan26T2v720pRequest" => body.to_typed::<types::Wan26T2v720pRequest>().map(drop),
        "Wan26T2v1080pRequest" => body.to_typed::<types::Wan26T2v1080pRequest>().map(drop),
        "Wan26I2v720pRequest" => body.to_typed::<types::Wan26I2v720pRequest>().map(drop),
        "Wan26I2v1080pRequest" => body.to_typed::<types::Wan26I2v1080pRequest>().map(drop),
        "Wan27T2vRequest" => body.to_typed::<types::Wan27T2vRequest>().map(drop),
        "Wan27I2vRequest" => body.to_typed::<types::Wan27I2vRequest>().map(drop),
        "Wan27R2vRequest" => body.to_typed::<types::Wan27R2vRequest>().map(drop),
        "Wan27EditRequest" => body.to_typed::<types::Wan27EditRequest>().map(drop),
        other => panic!("a body type this test does not know: {other}"),
    };
    decoded.unwrap_or_else(|e| panic!("{}: {e}", body.model()));
}

#[test]
fn the_smallest_request_of_every_model_builds_and_fits_its_published_schema() {
    for m in Model::all() {
        let body = build(minimal(m)).unwrap_or_else(|e| panic!("{m}: {e}"));
        decodes_as_its_generated_type(&body);
    }
}

#[test]
fn every_setter_of_each_family_fits_its_published_schema() {
    let full = [
        model("wan-v2-2-720p")
            .request()
            .image(IMG)
            .prompt("p")
            .duration(10)
            .aspect_ratio("square_1_1")
            .seed(7)
            .webhook_url("https://hooks.example.com/w"),
        model("wan-2-5-t2v-1080p")
            .request()
            .prompt("p")
            .negative_prompt("n")
            .duration(10)
            .prompt_expansion(false)
            .seed(0)
            .resolution("1080p"),
        model("image-to-video/wan-v2-6-720p")
            .request()
            .image(IMG)
            .prompt("p")
            .duration(15)
            .size("960*960")
            .shot_type("multi")
            .prompt_expansion(true)
            .seed(-1),
        model("text-to-video/wan-2-7")
            .request()
            .prompt("p")
            .audio(VOICE)
            .aspect_ratio("9:16")
            .resolution("720p")
            .duration(15)
            .prompt_expansion(false),
        model("image-to-video/wan-2-7")
            .request()
            .video(VID)
            .end_image(IMG)
            .duration(12),
        model("reference-to-video/wan-2-7")
            .request()
            .prompt("Image 1 and Video 1 dance")
            .reference_image(IMG, None)
            .reference_video(VID, Some(VOICE.into()))
            .image(IMG)
            .duration(10),
        model("video-edit/wan-2-7")
            .request()
            .video(VID)
            .prompt("make it night")
            .reference_image(IMG, None)
            .duration(0)
            .set("additional_settings", json!({"audio_setting": "origin"})),
    ];
    for request in full {
        let body = build(request).unwrap();
        decodes_as_its_generated_type(&body);
    }
    let body = build(
        model("text-to-video/wan-2-7")
            .request()
            .prompt("p")
            .resolution("720p")
            .duration(3),
    )
    .unwrap();
    assert_eq!(body.json()["resolution"], "720P");
    assert_eq!(body.json()["duration"], 3, "an integer in Wan 2.7");
    let body = build(model("wan-2-5-t2v-480p").request().prompt("p").duration(10)).unwrap();
    assert_eq!(body.json()["duration"], "10", "a string up to Wan 2.6");
}

#[test]
fn each_family_has_its_own_duration_range() {
    let refuse = |m: &str, secs: u32| {
        let m = model(m);
        let (field, reason) = refused(minimal(m).duration(secs));
        assert_eq!(field, "duration", "{m} {secs}");
        reason
    };
    let ok = |m: &str, secs: u32| build(minimal(model(m)).duration(secs)).unwrap();
    assert!(refuse("wan-v2-2-580p", 15).contains("5, 10 s"));
    refuse("wan-2-5-i2v-480p", 15);
    ok("text-to-video/wan-v2-6-720p", 15);
    refuse("text-to-video/wan-v2-6-720p", 7);
    ok("text-to-video/wan-2-7", 2);
    refuse("text-to-video/wan-2-7", 1);
    refuse("text-to-video/wan-2-7", 16);
    ok("reference-to-video/wan-2-7", 10);
    refuse("reference-to-video/wan-2-7", 11);
    ok("video-edit/wan-2-7", 0);
    refuse("video-edit/wan-2-7", 11);
}

#[test]
fn the_spec_limits_of_each_field_are_checked() {
    // Prompt lengths differ per family (2.5: 800; 2.2 and 2.6: 2000; 2.7: 5000).
    let t2v25 = model("wan-2-5-t2v-720p");
    assert!(build(t2v25.request().prompt("é".repeat(800))).is_ok());
    let (field, reason) = refused(t2v25.request().prompt("é".repeat(801)));
    assert_eq!(field, "prompt");
    assert!(reason.contains("801") && reason.contains("800"), "{reason}");
    let t2v26 = model("text-to-video/wan-v2-6-1080p");
    assert!(build(t2v26.request().prompt("x".repeat(2000))).is_ok());
    assert_eq!(
        refused(
            t2v26
                .request()
                .prompt("x")
                .negative_prompt("n".repeat(1001))
        )
        .0,
        "negative_prompt"
    );
    // Seeds: 2.5 from 0, 2.6 from -1.
    assert_eq!(refused(t2v25.request().prompt("x").seed(-1)).0, "seed");
    assert!(build(t2v26.request().prompt("x").seed(-1)).is_ok());
    assert_eq!(
        refused(t2v26.request().prompt("x").seed(2_147_483_648)).0,
        "seed"
    );
    // 2.6's size list is the tier's.
    let (field, reason) = refused(t2v26.request().prompt("x").size("1280*720"));
    assert_eq!(field, "size");
    assert!(reason.contains("1920*1080"), "{reason}");
    // 2.7's aspect ratios; 2.2's are words.
    let t2v27 = model("text-to-video/wan-2-7");
    assert_eq!(
        refused(t2v27.request().prompt("x").aspect_ratio("2:1")).0,
        "aspect_ratio"
    );
    assert_eq!(
        refused(
            model("wan-v2-2-480p")
                .request()
                .image(IMG)
                .aspect_ratio("16:9")
        )
        .0,
        "aspect_ratio"
    );
    // Required fields.
    assert_eq!(refused(t2v25.request()).0, "prompt");
    assert_eq!(
        refused(model("wan-2-5-i2v-720p").request().prompt("x")).0,
        "image"
    );
    assert_eq!(
        refused(model("video-edit/wan-2-7").request().prompt("x")).0,
        "video_url"
    );
    // Video edit takes at most 3 images.
    let edit = (0..4).fold(model("video-edit/wan-2-7").request().video(VID), |r, _| {
        r.reference_image(IMG, None)
    });
    assert_eq!(refused(edit).0, "image_urls");
    // A field the model does not take.
    assert_eq!(
        refused(t2v25.request().prompt("x").shot_type("single")).0,
        "shot_type"
    );
    assert_eq!(refused(t2v25.request().prompt("x").image(IMG)).0, "image");
    // Bad URLs.
    assert_eq!(
        refused(
            model("video-edit/wan-2-7")
                .request()
                .video("ftp://example.com/a.mp4")
        )
        .0,
        "video_url"
    );
    // Resolution: the tier in the path, or the body's field.
    let (field, reason) = refused(t2v25.request().prompt("x").resolution("1080p"));
    assert_eq!(field, "resolution");
    assert!(
        reason.contains("text-to-video/wan-2-5-t2v-1080p"),
        "{reason}"
    );
    assert!(build(t2v25.request().prompt("x").resolution("720P")).is_ok());
    assert_eq!(
        refused(t2v27.request().prompt("x").resolution("480p")).0,
        "resolution"
    );
}

#[test]
fn the_rules_said_only_in_prose_are_checked() {
    // Wan 2.6: multi-shot needs prompt expansion (off by default).
    let t2v26 = model("text-to-video/wan-v2-6-720p");
    let (field, reason) = refused(t2v26.request().prompt("x").shot_type("multi"));
    assert_eq!(field, "shot_type");
    assert!(reason.contains("prompt expansion"), "{reason}");
    assert_eq!(
        refused(
            t2v26
                .request()
                .prompt("x")
                .shot_type("multi")
                .prompt_expansion(false)
        )
        .0,
        "shot_type"
    );
    assert!(
        build(
            t2v26
                .request()
                .prompt("x")
                .shot_type("multi")
                .prompt_expansion(true)
        )
        .is_ok()
    );

    // Wan 2.7 image-to-video: start image, start + end, or a video (+ end).
    let i2v = model("image-to-video/wan-2-7");
    assert!(build(i2v.request().image(IMG).end_image(IMG)).is_ok());
    assert!(build(i2v.request().video(VID)).is_ok());
    assert_eq!(refused(i2v.request().prompt("x")).0, "start_image_url");
    assert_eq!(refused(i2v.request().end_image(IMG)).0, "start_image_url");
    assert_eq!(refused(i2v.request().image(IMG).video(VID)).0, "video_url");

    // Reference-to-video: 1 to 5 references, images and videos together.
    let r2v = model("reference-to-video/wan-2-7");
    assert_eq!(refused(r2v.request().prompt("x")).0, "image_urls");
    let five = (0..3).fold(r2v.request().prompt("x"), |r, _| {
        r.reference_image(IMG, None)
    });
    let five = five
        .reference_video(VID, None)
        .reference_video(VID, Some(VOICE.into()));
    assert!(build(five.clone()).is_ok());
    let (field, reason) = refused(five.reference_image(IMG, None));
    assert_eq!(field, "image_urls");
    assert!(reason.contains("not 6"), "{reason}");
    // Video edit's images take no voice.
    assert_eq!(
        refused(
            model("video-edit/wan-2-7")
                .request()
                .video(VID)
                .reference_image(IMG, Some(VOICE.into()))
        )
        .0,
        "image_urls"
    );
}

#[test]
fn without_a_client_only_wan_2_2_sends_a_local_image_the_others_need_an_upload() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/sample.jpg");
    let bytes = std::fs::read(&sample).unwrap();
    let body = build(model("wan-v2-2-580p").request().image(&sample)).unwrap();
    let image = body.json()["image"].as_str().unwrap().to_owned();
    assert!(!image.starts_with("http") && image.len() > 1000, "base64");

    for (m, field) in [
        ("wan-2-5-i2v-720p", "image"),
        ("image-to-video/wan-v2-6-1080p", "image"),
        ("image-to-video/wan-2-7", "start_image_url"),
        ("reference-to-video/wan-2-7", "start_image_url"),
    ] {
        let m = model(m);
        // Reference-to-video needs a reference besides its start image.
        let base = || {
            let request = m.request().prompt("x");
            if m.field("image_urls").is_some() {
                request.reference_image(IMG, None)
            } else {
                request
            }
        };
        for request in [base().image(&sample), base().image(bytes.clone())] {
            // `check` passes (Client::create would upload it); `build`,
            // which has no client, cannot send it.
            request.check().unwrap();
            match build(request) {
                Err(Error::UrlRequired { field: f, model }) => {
                    assert_eq!((f, model), (field, m));
                }
                other => panic!("{m}: {other:?}"),
            }
        }
        // Bytes that are no image are refused by their content first.
        let err = base().image(vec![1u8, 2, 3]).check();
        assert!(
            matches!(err, Err(Error::Validation { field: f, .. }) if f == field),
            "{err:?}"
        );
    }
    // A name that is neither a file nor a URL: refused, naming the field.
    for (request, field) in [
        (
            model("video-edit/wan-2-7").request().video("clip.mp4"),
            "video_url",
        ),
        (
            model("text-to-video/wan-2-7")
                .request()
                .prompt("x")
                .audio("song.mp3"),
            "audio_url",
        ),
        (
            model("reference-to-video/wan-2-7")
                .request()
                .prompt("x")
                .reference_image("me.jpg", None),
            "image_urls",
        ),
    ] {
        let err = request.check().unwrap_err();
        assert!(
            matches!(err, Error::Validation { field: f, .. } if f == field),
            "{err}"
        );
        assert!(err.to_string().contains("https://"), "{err}");
    }
}

#[test]
fn a_local_file_is_checked_against_what_the_spec_says_of_its_field() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/sample.jpg");
    let dir = tempfile::tempdir().unwrap();
    // A text file named .png: refused by its bytes.
    let fake = dir.path().join("photo.png");
    std::fs::write(&fake, "not an image at all").unwrap();
    let err = model("image-to-video/wan-2-7")
        .request()
        .image(&fake)
        .check()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field: "start_image_url", reason } if reason.contains("JPEG")),
        "{err}"
    );
    // An image where a video is wanted.
    let err = model("video-edit/wan-2-7")
        .request()
        .video(&sample)
        .check()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field: "video_url", reason } if reason.contains("MP4")),
        "{err}"
    );
    // Over the field's size (100 MB for a 2.7 edit video): the size is
    // read from the file's metadata, not by reading it.
    let big = dir.path().join("big.mp4");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(120 << 20).unwrap();
    let err = model("video-edit/wan-2-7")
        .request()
        .video(&big)
        .check()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field: "video_url", reason } if reason.contains("104857600")),
        "{err}"
    );
}

#[test]
fn urls_are_sent_as_valid_uris() {
    let body = build(
        model("video-edit/wan-2-7")
            .request()
            .video("https://bücher.example/my clip.mp4?sig=a b")
            .webhook_url("https://example.com/hooks/ä b"),
    )
    .unwrap();
    assert_eq!(
        body.json()["video_url"],
        "https://xn--bcher-kva.example/my%20clip.mp4?sig=a%20b"
    );
    assert_eq!(
        body.json()["webhook_url"],
        "https://example.com/hooks/%C3%A4%20b"
    );
    let err = build(model("video-edit/wan-2-7").request().video("ftp://x/y.mp4")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Validation {
                field: "video_url",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn set_reaches_any_field_and_checks_the_ones_the_spec_describes() {
    let edit = model("video-edit/wan-2-7");
    let body = build(
        edit.request()
            .video(VID)
            .set("a_field_from_next_year", json!({"x": 1})),
    )
    .unwrap();
    assert_eq!(body.json()["a_field_from_next_year"]["x"], 1);
    assert_eq!(
        refused(edit.request().video(VID).set("duration", json!(99))).0,
        "duration"
    );
    assert_eq!(
        refused(edit.request().video(VID).set("duration", json!("5"))).0,
        "duration"
    );
}
