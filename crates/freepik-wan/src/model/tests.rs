use super::*;

#[test]
fn every_published_endpoint_is_a_model_that_round_trips_through_its_path() {
    let all: Vec<Model> = Model::all().collect();
    assert_eq!(all.len(), 17);
    for m in &all {
        assert_eq!(m.to_string().parse::<Model>().unwrap(), *m);
        assert_eq!(
            format!("/v1/ai/{m}").parse::<Model>().unwrap(),
            *m,
            "a leading /v1/ai/ is fine"
        );
        let json = serde_json::to_string(m).unwrap();
        assert_eq!(json, format!("\"{m}\""));
        assert_eq!(serde_json::from_str::<Model>(&json).unwrap(), *m);
    }
    let count = |kind: Kind| all.iter().filter(|m| m.kind() == kind).count();
    assert_eq!(count(Kind::TextToVideo), 6);
    assert_eq!(count(Kind::ImageToVideo), 9);
    assert_eq!(count(Kind::ReferenceToVideo), 1);
    assert_eq!(count(Kind::VideoEdit), 1);
}

#[test]
fn a_bare_segment_is_accepted_only_where_one_kind_has_it() {
    let m: Model = "wan-2-5-i2v-1080p".parse().unwrap();
    assert_eq!(m.to_string(), "image-to-video/wan-2-5-i2v-1080p");
    for ambiguous in ["wan-2-7", "wan-v2-6-720p"] {
        let err = ambiguous.parse::<Model>().unwrap_err().to_string();
        assert!(err.contains("several kinds"), "{err}");
    }
    let err = "text-to-video/wan-v2-2-580p".parse::<Model>().unwrap_err();
    assert!(
        matches!(err, Error::Validation { field: "model", .. }),
        "{err}"
    );
}

#[test]
fn the_spec_says_what_each_model_takes() {
    let m = |s: &str| s.parse::<Model>().unwrap();
    assert_eq!(
        m("wan-v2-2-580p").durations(),
        Some(Durations::Choices(&["5", "10"]))
    );
    assert_eq!(m("wan-v2-2-580p").resolutions(), ["580p"]);
    assert!(m("wan-v2-2-580p").field("image").unwrap().base64);
    assert!(!m("wan-2-5-i2v-720p").field("image").unwrap().base64);
    assert_eq!(
        m("text-to-video/wan-v2-6-1080p")
            .durations()
            .unwrap()
            .to_string(),
        "5, 10, 15"
    );
    assert_eq!(m("text-to-video/wan-v2-6-720p").sizes()[0], "1280*720");
    assert_eq!(m("text-to-video/wan-2-7").resolutions(), ["720P", "1080P"]);
    assert_eq!(
        m("reference-to-video/wan-2-7").durations(),
        Some(Durations::Range { min: 2, max: 10 })
    );
    assert_eq!(
        m("video-edit/wan-2-7").durations(),
        Some(Durations::Range { min: 0, max: 10 })
    );
    assert!(!Durations::Range { min: 2, max: 10 }.allows(11));
    assert!(Durations::Choices(&["5", "10"]).allows(10));
    assert!(!Durations::Choices(&["5", "10"]).allows(7));
}

#[test]
fn resolution_maps_onto_the_wan_2_2_models() {
    for r in Resolution::ALL {
        let m = Model::from(r);
        assert_eq!(m.family(), "2.2");
        assert_eq!(m.kind(), Kind::ImageToVideo);
        assert_eq!(m.resolution(), Some(r));
        assert_eq!(
            m.collection_path(),
            format!("/v1/ai/image-to-video/{}", r.path_segment())
        );
    }
    assert_eq!(
        "text-to-video/wan-2-7"
            .parse::<Model>()
            .unwrap()
            .resolution(),
        None
    );
}
