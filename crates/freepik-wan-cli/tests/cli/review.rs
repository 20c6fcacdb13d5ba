//! The defects an independent review found in the command line (issue 23),
//! one test each, every one of which failed on the code before its fix.

use std::time::Duration;

use freepik_wan::webhook::WebhookSecret;
use freepik_wan_sim::Faults;
use serde_json::Value;

use super::{Sim, now, run, sample_image, tempdir};

/// `--out` that cannot take the video is refused before the create: exit 2,
/// nothing sent (it used to make and wait for the task, then exit 3).
#[test]
fn an_out_path_that_cannot_be_written_is_refused_before_anything_is_sent() {
    let sim = Sim::quick();
    let dir = tempdir();
    let image = sample_image();
    let image = image.to_str().unwrap();
    std::fs::create_dir(dir.path().join("a-dir")).unwrap();
    for out in ["missing/x.mp4", "a-dir", "/proc/x.mp4"] {
        let run = sim.run(
            dir.path(),
            &["--json", "generate", "--image", image, "--out", out],
        );
        assert_eq!(run.code, 2, "--out {out}: {run:?}");
        assert_eq!(run.json()["field"], "out", "{run:?}");
        assert!(run.stderr.contains("nothing was sent"), "{run:?}");
    }
    assert_eq!(sim.handle.stats().creates_accepted, 0);
}

/// Every usage error prints one JSON object with `--json`, wherever the
/// flag stands (clap used to print only its text, on stderr).
#[test]
fn usage_errors_print_one_json_object_with_json() {
    let dir = tempdir();
    let cases: [&[&str]; 5] = [
        &["--json", "status", "t-1", "--model", "wan-2-7"],
        &["--json", "generate", "--prompt", "x", "--duration", "abc"],
        &["--json", "generate", "--no-such-flag"],
        &["wait", "--json"],
        &[
            "--json",
            "generate",
            "--simulate",
            "--no-wait",
            "--prompt",
            "x",
        ],
    ];
    for args in cases {
        let run = run(dir.path(), args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        let object = run.json();
        assert_eq!(object["exit_code"], 2, "{args:?}: {object}");
        assert!(
            object["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{object}"
        );
    }
    // Help is still help.
    let help = run(dir.path(), &["--json", "--help"]);
    assert_eq!(help.code, 0, "{help:?}");
    assert!(help.stdout.contains("Usage"), "{help:?}");
}

/// `wait <id>` for a task made at another model: the 404 says that a task
/// is found only at its model and how to name it; `--no-wait` prints the
/// command that finds it (the README's own pattern used to end in a bare
/// "Task not found").
#[test]
fn waiting_at_the_wrong_model_says_how_to_name_the_right_one() {
    let sim = Sim::quick();
    let dir = tempdir();
    let created = sim
        .run(
            dir.path(),
            &[
                "--json",
                "generate",
                "--no-wait",
                "--model",
                "text-to-video/wan-2-7",
                "--prompt",
                "a fox in the snow",
            ],
        )
        .ok();
    let created = created.json();
    let id = created["task_id"].as_str().unwrap().to_owned();
    let wait = created["wait_command"].as_str().unwrap();
    assert!(
        wait.ends_with(&format!("wait {id} --model text-to-video/wan-2-7")),
        "{created}"
    );
    let lost = sim.run(dir.path(), &["--json", "wait", &id]);
    assert_eq!(lost.code, 3, "{lost:?}");
    let error = lost.json();
    let message = error["error"].as_str().unwrap();
    assert!(message.contains("--model"), "{error}");
    assert!(message.contains("image-to-video/wan-v2-2-580p"), "{error}");
    let status = sim.run(dir.path(), &["status", &id]);
    assert!(status.stderr.contains("--model"), "{status:?}");
    // Named, it is found.
    let found = sim.run(
        dir.path(),
        &["wait", &id, "--model", "text-to-video/wan-2-7"],
    );
    assert_eq!(found.code, 0, "{found:?}");
}

/// A `whsec_` secret keyed by its text (as Magnific's docs key it in three
/// languages of four, and as the simulator signs) verifies by default, as
/// does the Standard Webhooks keying; `--secret-keying` pins one.
#[test]
fn webhook_verify_takes_a_whsec_secret_keyed_either_way() {
    let dir = tempdir();
    let secret = "whsec_c2ltLXNpZ25pbmcta2V5";
    let body = br#"{"task_id":"t-1","status":"COMPLETED","generated":[]}"#;
    std::fs::write(dir.path().join("body.json"), body).unwrap();
    let ts = now().to_string();
    let as_text = WebhookSecret::utf8(secret)
        .sign("msg_1", now(), body)
        .unwrap();
    let as_base64 = WebhookSecret::new(secret)
        .sign("msg_1", now(), body)
        .unwrap();
    assert_ne!(as_text, as_base64);
    let verify = |signature: &str, keying: Option<&str>| {
        let mut args = vec![
            "--json",
            "webhook",
            "verify",
            "--secret",
            secret,
            "--webhook-id",
            "msg_1",
            "--webhook-timestamp",
            &ts,
            "--webhook-signature",
            signature,
            "--body",
            "body.json",
        ];
        if let Some(keying) = keying {
            args.extend(["--secret-keying", keying]);
        }
        let run = run(dir.path(), &args);
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
        run
    };
    assert_eq!(verify(&as_text, None).code, 0);
    assert_eq!(verify(&as_base64, None).code, 0);
    assert_eq!(verify(&as_text, Some("text")).code, 0);
    assert_eq!(verify(&as_text, Some("base64")).code, 1);
    assert_eq!(verify(&as_base64, Some("base64")).code, 0);
    assert_eq!(verify(&as_base64, Some("text")).code, 1);
    let forged = WebhookSecret::utf8("whsec_another")
        .sign("msg_1", now(), body)
        .unwrap();
    let refused = verify(&forged, None);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert_eq!(refused.json()["valid"], false);
}

/// A create refused with a 429 asking for an hour says how long (the
/// baseline list is served; only the create is refused).
#[test]
fn a_create_refused_for_an_hour_says_how_long() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            create_retry_after: Some(3600),
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let image = sample_image();
    let run = sim.run(
        dir.path(),
        &["--json", "generate", "--image", image.to_str().unwrap()],
    );
    assert_eq!(run.code, 3, "{run:?}");
    let error: Value = run.json();
    assert!(
        error["error"].as_str().unwrap().contains("3600 s"),
        "{error}"
    );
}
