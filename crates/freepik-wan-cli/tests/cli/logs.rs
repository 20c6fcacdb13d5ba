//! `--log-format json`: one JSON object per library event on stderr, inside
//! the create, wait and download spans with the task's id and model, and
//! never the key or a signed URL's token; the default output is unchanged.

use std::time::Duration;

use freepik_wan_sim::Faults;
use serde_json::Value;

use super::{KEY, Sim, batch_args, manifest, run, sample_image, tempdir};

/// The JSON events of a run's stderr: every line of it, the CLI's own
/// notes and progress lines included (target `freepik_wan_cli`).
fn events(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The names of the spans an event is in, with their task id and model.
fn spans_of(event: &Value) -> Vec<(String, Option<String>, Option<String>)> {
    let mut all: Vec<&Value> = event["spans"].as_array().into_iter().flatten().collect();
    all.extend(event.get("span"));
    all.into_iter()
        .map(|span| {
            let text = |name: &str| span[name].as_str().map(str::to_owned);
            (
                span["name"].as_str().unwrap_or_default().to_owned(),
                text("freepik_wan.task_id"),
                text("freepik_wan.model"),
            )
        })
        .collect()
}

fn check(stderr: &str, model: &str) {
    let events = events(stderr);
    assert!(events.len() > 5, "{stderr}");
    let task_id = events
        .iter()
        .find(|e| e["fields"]["message"] == "task created")
        .and_then(|e| e["fields"]["task_id"].as_str())
        .unwrap_or_else(|| panic!("no task created event: {stderr}"))
        .to_owned();
    for name in [
        "freepik_wan.create",
        "freepik_wan.wait",
        "freepik_wan.download",
    ] {
        let carried = events.iter().any(|e| {
            spans_of(e).iter().any(|(span, id, m)| {
                span == name && id.as_deref() == Some(&task_id) && m.as_deref() == Some(model)
            })
        });
        assert!(
            carried,
            "no event in {name} with {task_id} at {model}: {stderr}"
        );
    }
    // An HTTP attempt's span, with OpenTelemetry's fields.
    assert!(
        events
            .iter()
            .any(|e| e["span"]["name"] == "freepik_wan.call"
                && e["span"]["http.request.method"] == "POST"
                && e["span"]["http.response.status_code"] == 200),
        "{stderr}"
    );
    assert!(!stderr.contains(KEY), "the key: {stderr}");
    assert!(!stderr.contains("token="), "a URL token: {stderr}");
    assert!(!stderr.contains("hmac="), "a URL token: {stderr}");
}

#[test]
fn json_logs_carry_the_create_wait_and_download_spans_and_no_secret() {
    let dir = tempdir();
    let image = sample_image();
    let image = image.to_str().unwrap();
    let simulated = run(
        dir.path(),
        &[
            "--log-format",
            "json",
            "generate",
            "--simulate",
            "--image",
            image,
            "--prompt",
            "waves roll in",
            "--out",
            "sim.mp4",
        ],
    )
    .ok();
    check(&simulated.stderr, "image-to-video/wan-v2-2-580p");
    // The CLI's own notes are events too.
    assert!(
        events(&simulated.stderr)
            .iter()
            .any(|e| e["target"] == "freepik_wan_cli"
                && e["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("created task "))),
        "{}",
        simulated.stderr
    );

    // Against a service whose video URLs are signed, with the key passed.
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            signed_urls: true,
            ..Faults::none()
        },
    );
    let signed = sim
        .run(
            dir.path(),
            &[
                "--log-format",
                "json",
                "--verbose",
                "generate",
                "--image",
                image,
                "--out",
                "signed.mp4",
            ],
        )
        .ok();
    check(&signed.stderr, "image-to-video/wan-v2-2-580p");
    // --verbose: debug events too.
    assert!(
        events(&signed.stderr).iter().any(|e| e["level"] == "DEBUG"),
        "{}",
        signed.stderr
    );
}

/// At any level, RUST_LOG=trace included (the HTTP crates' own events
/// too), against signed video URLs that redirect: no key, no token.
#[test]
fn no_level_shows_the_key_or_a_url_token() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            signed_urls: true,
            rate_video_redirect: 1.0,
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let image = sample_image();
    let output = super::command(dir.path())
        .args(sim.args(&[
            "--log-format",
            "json",
            "generate",
            "--image",
            image.to_str().unwrap(),
            "--out",
            "v.mp4",
        ]))
        .env("RUST_LOG", "trace")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    check(&stderr, "image-to-video/wan-v2-2-580p");
    assert!(
        events(&stderr).iter().any(|e| e["level"] == "TRACE"),
        "{stderr}"
    );
}

#[test]
fn the_default_log_format_writes_no_log_events() {
    let sim = Sim::quick();
    let dir = tempdir();
    let image = sample_image();
    let run = sim
        .run(
            dir.path(),
            &[
                "generate",
                "--image",
                image.to_str().unwrap(),
                "--out",
                "v.mp4",
            ],
        )
        .ok();
    assert!(
        !run.stderr.lines().any(|line| line.starts_with('{')),
        "{}",
        run.stderr
    );
    // The notes as they always were.
    assert!(run.stderr.contains("created task "), "{}", run.stderr);
    assert!(!run.stderr.contains("INFO"), "{}", run.stderr);
}

/// A batch's summary counts what the library did: API requests by status,
/// creates by outcome, retries (the service answers 503s), pacing, waits,
/// bytes.
#[test]
fn a_batch_summary_counts_requests_creates_retries_waits_and_bytes() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            seed: 3,
            rate_503: 0.3,
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let rows = 4;
    let manifest = manifest(dir.path(), rows);
    let out = dir.path().join("videos");
    let mut args = vec!["--json"];
    args.extend(batch_args(
        manifest.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    let summary = sim.run(dir.path(), &args).ok().json();
    let counts = &summary["counts"];
    assert_eq!(counts["creates"]["accepted"], rows as u64, "{summary}");
    assert!(
        counts["api_requests"]["200"].as_u64().unwrap() >= 2 * rows as u64,
        "{counts}"
    );
    assert!(
        counts["api_requests"]["503"].as_u64().unwrap() > 0,
        "{counts}"
    );
    assert!(counts["retries"].as_u64().unwrap() > 0, "{counts}");
    assert!(counts["paced"]["count"].as_u64().unwrap() > 0, "{counts}");
    assert_eq!(counts["waits"]["count"], rows as u64, "{counts}");
    let videos: Vec<std::path::PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    assert_eq!(videos.len(), rows, "{videos:?}");
    let bytes: u64 = videos
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(counts["download_bytes"], bytes, "{counts}");
}
