//! `freepik-wan models`: every model of the spec, with what it takes, and no
//! request sent (no key, no server needed).

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_freepik-wan");

fn models(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("models")
        .env_remove("MAGNIFIC_API_KEY")
        .env_remove("FREEPIK_API_KEY")
        // A base URL nobody serves: the command must not need one.
        .env("FREEPIK_BASE_URL", "http://127.0.0.1:9")
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn models_lists_every_published_model_with_its_kind_durations_and_resolutions() {
    let (code, plain) = models(&[]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines.len(), 18, "a header and 17 models:\n{plain}");
    let line = |model: &str| {
        lines
            .iter()
            .find(|l| l.split('\t').next() == Some(model))
            .unwrap_or_else(|| panic!("{model} missing:\n{plain}"))
            .split('\t')
            .collect::<Vec<_>>()
    };
    let v22 = line("image-to-video/wan-v2-2-580p");
    assert_eq!(v22[1], "image-to-video");
    assert!(v22[2].starts_with("image*,prompt,"), "{v22:?}");
    assert_eq!((v22[3], v22[4]), ("5, 10", "580p"));
    let v26 = line("text-to-video/wan-v2-6-1080p");
    assert_eq!(v26[3], "5, 10, 15");
    assert!(v26[4].starts_with("1080p (size 1920*1080,"), "{v26:?}");
    let r2v = line("reference-to-video/wan-2-7");
    assert!(
        r2v[2].contains("prompt*") && r2v[2].contains("image_urls"),
        "{r2v:?}"
    );
    assert_eq!((r2v[3], r2v[4]), ("2-10", "720P, 1080P"));
    assert_eq!(line("video-edit/wan-2-7")[3], "0-10");
}

#[test]
fn models_in_json_says_which_inputs_are_urls_only() {
    let (code, text) = models(&["--json"]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["count"], 17);
    let model = |name: &str| {
        doc["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == name)
            .unwrap()
            .clone()
    };
    let image = |m: &Value| {
        m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "image")
            .unwrap()
            .clone()
    };
    let v22 = model("image-to-video/wan-v2-2-720p");
    assert_eq!(image(&v22)["base64"], true);
    assert_eq!(image(&v22)["url_only"], false);
    let v25 = model("image-to-video/wan-2-5-i2v-720p");
    assert_eq!(image(&v25)["url_only"], true);
    assert_eq!(v25["durations"]["choices"], serde_json::json!(["5", "10"]));
    let t2v = model("text-to-video/wan-2-7");
    assert_eq!(t2v["durations"], serde_json::json!({"min": 2, "max": 15}));
    assert_eq!(t2v["family"], "2.7");
}
