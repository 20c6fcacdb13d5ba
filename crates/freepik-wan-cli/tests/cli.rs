//! The `freepik-wan` binary as a user runs it: a subprocess talking to an
//! in-test simulator, checked on its exit codes, its stdout (plain and
//! `--json`), the files it writes, and that the API key never shows.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use freepik_wan::webhook::WebhookSecret;
use freepik_wan_sim::{Faults, SimHandle, Simulator};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_freepik-wan");
/// Distinctive, so that finding it in any output means it leaked.
const KEY: &str = "cli-test-key-5f3a9c0e";
const SECRET: &str = "cli-test-webhook-secret";

fn sample_image() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/sample.jpg")
}

/// A simulator on its own runtime, so tests can block on subprocesses.
struct Sim {
    handle: SimHandle,
    // Dropped after `handle`: the server's tasks live on it.
    _runtime: tokio::runtime::Runtime,
}

impl Sim {
    fn start(processing: Duration, faults: Faults) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = runtime
            .block_on(
                Simulator::builder()
                    .api_key(KEY)
                    .webhook_secret(SECRET)
                    .processing_time(processing)
                    .faults(faults)
                    .start(),
            )
            .expect("simulator starts");
        Sim {
            handle,
            _runtime: runtime,
        }
    }

    fn quick() -> Sim {
        Sim::start(Duration::from_millis(300), Faults::none())
    }

    /// `freepik-wan --base-url <sim> --api-key <key> <args>`.
    fn run(&self, dir: &Path, args: &[&str]) -> Run {
        run(dir, &self.args(args))
    }

    /// `--base-url <sim> --api-key <key>` followed by `args`.
    fn args(&self, args: &[&str]) -> Vec<String> {
        let url = self.url();
        let mut all = vec!["--base-url", &url, "--api-key", KEY];
        all.extend_from_slice(args);
        all.into_iter().map(str::to_owned).collect()
    }

    fn url(&self) -> String {
        self.handle.base_url()
    }
}

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one JSON object on stdout: {self:?}");
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

fn command(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        // Only what a test passes counts, not the machine's environment.
        .env_remove("FREEPIK_API_KEY")
        .env_remove("FREEPIK_BASE_URL")
        .env_remove("MAGNIFIC_API_KEY")
        .env_remove("MAGNIFIC_BASE_URL")
        .env_remove("FREEPIK_WEBHOOK_SECRET")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    command
}

/// Runs the binary to completion; every run is checked for the key.
fn run<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Run {
    let output = command(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let run = Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
        "the API key leaked: {run:?}"
    );
    run
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn assert_mp4(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 8, "{} is too short", path.display());
    assert_eq!(&bytes[4..8], b"ftyp", "{} is not an MP4", path.display());
}

#[test]
fn generate_downloads_an_mp4_and_prints_its_path() {
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
                "--prompt",
                "the cat yawns",
                "--duration",
                "10",
                "--aspect-ratio",
                "square_1_1",
                "--seed",
                "-7",
                "--out",
                "cat.mp4",
            ],
        )
        .ok();
    assert_eq!(run.stdout.trim(), "cat.mp4");
    // Not a terminal: plain progress lines on stderr.
    assert!(run.stderr.contains("COMPLETED"), "{run:?}");
    assert_mp4(&dir.path().join("cat.mp4"));
    assert_eq!(sim.handle.stats().creates_accepted, 1);
}

#[test]
fn no_wait_then_status_then_wait_then_list_in_json() {
    let sim = Sim::quick();
    let dir = tempdir();
    let image = sample_image();
    let image = image.to_str().unwrap();

    let created = sim
        .run(
            dir.path(),
            &["--json", "generate", "--image", image, "--no-wait"],
        )
        .ok()
        .json();
    let id = created["task_id"].as_str().expect("task_id").to_owned();
    assert!(created["status"].is_string(), "{created}");
    assert!(created["timings"]["create_ms"].is_u64(), "{created}");
    assert!(created["file"].is_null(), "{created}");

    let status = sim.run(dir.path(), &["status", &id, "--json"]).ok().json();
    assert_eq!(status["task_id"], id.as_str());
    assert!(status["urls"].is_array(), "{status}");

    let waited = sim
        .run(dir.path(), &["--json", "wait", &id, "--out", "v.mp4"])
        .ok()
        .json();
    assert_eq!(waited["task_id"], id.as_str());
    assert_eq!(waited["status"], "COMPLETED");
    assert_eq!(waited["file"], "v.mp4");
    assert!(waited["bytes"].as_u64().unwrap() > 0, "{waited}");
    assert!(waited["urls"][0].as_str().unwrap().ends_with(".mp4"));
    for timing in ["wait_ms", "download_ms", "total_ms"] {
        assert!(waited["timings"][timing].is_u64(), "{timing}: {waited}");
    }
    assert_mp4(&dir.path().join("v.mp4"));

    // Once complete, status shows the URL too, plain: id, status, URL.
    let plain = sim.run(dir.path(), &["status", &id]).ok();
    let fields: Vec<&str> = plain.stdout.trim().split('\t').collect();
    assert_eq!(fields[..2], [id.as_str(), "COMPLETED"]);
    assert!(fields[2].starts_with("http://"), "{plain:?}");

    let list = sim.run(dir.path(), &["list", "--json"]).ok().json();
    assert_eq!(list["count"], 1);
    assert_eq!(list["tasks"][0]["task_id"], id.as_str());
    assert_eq!(list["tasks"][0]["status"], "COMPLETED");
    let plain = sim.run(dir.path(), &["list"]).ok();
    assert_eq!(plain.stdout.trim(), format!("{id}\tCOMPLETED"));
}

#[test]
fn resolution_picks_the_endpoint_for_generate_status_wait_and_list() {
    let sim = Sim::quick();
    let dir = tempdir();
    let image = sample_image();
    let image = image.to_str().unwrap();
    let hd = "/v1/ai/image-to-video/wan-v2-2-720p";

    let created = sim
        .run(
            dir.path(),
            &[
                "--json",
                "generate",
                "--image",
                image,
                "--resolution",
                "720p",
                "--no-wait",
            ],
        )
        .ok()
        .json();
    let id = created["task_id"].as_str().expect("task_id").to_owned();
    // The task lives at 720p: asked for at the default 580p, it is not found.
    assert_eq!(sim.run(dir.path(), &["status", &id]).code, 3);
    sim.run(dir.path(), &["status", &id, "--resolution", "720p"])
        .ok();
    sim.run(
        dir.path(),
        &["wait", &id, "--resolution", "720p", "--out", "hd.mp4"],
    )
    .ok();
    assert_mp4(&dir.path().join("hd.mp4"));
    let listed = sim
        .run(dir.path(), &["--json", "list", "--resolution", "720p"])
        .ok()
        .json();
    assert_eq!(listed["tasks"][0]["task_id"], id.as_str());
    let listed = sim.run(dir.path(), &["--json", "list"]).ok().json();
    assert_eq!(listed["count"], 0, "580p has no tasks: {listed}");

    let requests = sim.handle.stats().requests;
    let creates: Vec<&str> = requests
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(creates, [hd]);
    let one = format!("{hd}/{id}");
    assert!(
        requests
            .iter()
            .any(|r| r.method == "GET" && r.path == one && r.status == 200)
    );

    let bad = sim.run(dir.path(), &["list", "--resolution", "1080p"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr.contains("480p") && bad.stderr.contains("720p"),
        "{bad:?}"
    );
}

#[test]
fn generate_in_json_prints_one_object_with_file_bytes_and_timings() {
    let sim = Sim::quick();
    let dir = tempdir();
    let image = sample_image();
    let run = sim
        .run(
            dir.path(),
            &["--json", "generate", "--image", image.to_str().unwrap()],
        )
        .ok();
    let out = run.json();
    let id = out["task_id"].as_str().unwrap();
    // The default file is named after the task.
    assert_eq!(out["file"], format!("{id}.mp4"));
    assert_mp4(&dir.path().join(format!("{id}.mp4")));
    assert_eq!(out["status"], "COMPLETED");
    assert!(out["bytes"].as_u64().unwrap() > 0);
    for timing in ["create_ms", "wait_ms", "download_ms", "total_ms"] {
        assert!(out["timings"][timing].is_u64(), "{timing}: {out}");
    }
}

#[test]
fn generate_simulate_needs_no_key_and_writes_a_real_mp4() {
    let dir = tempdir();
    let image = sample_image();
    let run = run(
        dir.path(),
        &[
            "--json",
            "generate",
            "--simulate",
            "--image",
            image.to_str().unwrap(),
            "--prompt",
            "waves roll in",
            "--out",
            "sim.mp4",
        ],
    )
    .ok();
    let out = run.json();
    assert_eq!(out["status"], "COMPLETED");
    assert_eq!(out["file"], "sim.mp4");
    assert_mp4(&dir.path().join("sim.mp4"));
}

#[test]
fn bad_input_exits_2_naming_the_field_and_sends_nothing() {
    let sim = Sim::quick();
    let dir = tempdir();
    let image = sample_image();
    let image = image.to_str().unwrap();

    let missing = sim.run(dir.path(), &["generate", "--image", "no-such-file.jpg"]);
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("image"), "{missing:?}");
    assert!(missing.stderr.contains("no-such-file.jpg"), "{missing:?}");

    let long = "x".repeat(2001);
    let prompt = sim.run(
        dir.path(),
        &["--json", "generate", "--image", image, "--prompt", &long],
    );
    assert_eq!(prompt.code, 2, "{prompt:?}");
    assert!(prompt.stderr.contains("prompt"), "{prompt:?}");
    assert!(prompt.stderr.contains("2000"), "{prompt:?}");
    let error = prompt.json();
    assert_eq!(error["field"], "prompt");
    assert_eq!(error["exit_code"], 2);

    let duration = sim.run(
        dir.path(),
        &["generate", "--image", image, "--duration", "7"],
    );
    assert_eq!(duration.code, 2, "{duration:?}");
    // Checked against the model: Wan 2.2 makes 5 or 10 s videos.
    assert!(duration.stderr.contains("duration"), "{duration:?}");
    assert!(duration.stderr.contains("5, 10"), "{duration:?}");

    let ratio = sim.run(
        dir.path(),
        &["generate", "--image", image, "--aspect-ratio", "wide"],
    );
    assert_eq!(ratio.code, 2, "{ratio:?}");
    assert!(ratio.stderr.contains("widescreen_16_9"), "{ratio:?}");

    let webhook = sim.run(
        dir.path(),
        &["generate", "--image", image, "--webhook-url", "ftp://x"],
    );
    assert_eq!(webhook.code, 2, "{webhook:?}");
    assert!(webhook.stderr.contains("webhook_url"), "{webhook:?}");

    assert_eq!(sim.handle.stats().creates_accepted, 0);
    assert!(sim.handle.stats().requests.is_empty());
}

#[test]
fn a_missing_key_exits_2_and_says_where_to_put_one() {
    let dir = tempdir();
    let run = run(dir.path(), &["status", "some-task"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("MAGNIFIC_API_KEY"), "{run:?}");
    assert!(run.stderr.contains("FREEPIK_API_KEY"), "{run:?}");
    assert!(run.stderr.contains("--api-key"), "{run:?}");
}

/// A stand-in for the service after the rename: it reads the key from
/// `x-magnific-api-key` only (a request with just `x-freepik-api-key` is
/// unauthenticated), and serves one task that is complete at once.
fn magnific_only_stand_in(runtime: &tokio::runtime::Runtime) -> String {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    const TASK: &str = "3f0c2b9e-1d4a-4e57-9b1f-2a6c0d8e7f41";
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let authorized = |headers: &HeaderMap| {
        headers
            .get("x-magnific-api-key")
            .is_some_and(|v| v.as_bytes() == KEY.as_bytes())
    };
    let collection = "/v1/ai/image-to-video/wan-v2-2-580p";
    let video = base.clone() + "/files/v.mp4";
    let app = axum::Router::new()
        .route(
            collection,
            post(move |headers: HeaderMap| async move {
                if !authorized(&headers) {
                    return (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"message": "Invalid API key"})));
                }
                (StatusCode::OK, axum::Json(serde_json::json!({"data": {"task_id": TASK, "status": "CREATED"}})))
            }),
        )
        .route(
            &format!("{collection}/{{id}}"),
            get(move |headers: HeaderMap| async move {
                if !authorized(&headers) {
                    return (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"message": "Invalid API key"})));
                }
                let task = serde_json::json!({"task_id": TASK, "status": "COMPLETED", "generated": [video]});
                (StatusCode::OK, axum::Json(serde_json::json!({ "data": task })))
            }),
        )
        .route(
            "/files/v.mp4",
            get(|| async { b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec() }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[test]
fn generate_takes_the_key_from_magnific_api_key_and_sends_magnifics_header() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let base = magnific_only_stand_in(&runtime);
    let dir = tempdir();
    let image = sample_image();
    let generate = |vars: &[(&str, &str)]| {
        let mut command = command(dir.path());
        command
            .args([
                "generate",
                "--image",
                image.to_str().unwrap(),
                "--out",
                "m.mp4",
            ])
            .env("MAGNIFIC_BASE_URL", &base);
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let ok = generate(&[("MAGNIFIC_API_KEY", KEY)]);
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert_eq!(ok.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(KEY), "{stderr}");
    assert_mp4(&dir.path().join("m.mp4"));
    // Both names set: MAGNIFIC_API_KEY wins (a stale FREEPIK_API_KEY is ignored).
    let both = generate(&[("MAGNIFIC_API_KEY", KEY), ("FREEPIK_API_KEY", "stale-key")]);
    assert_eq!(
        both.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
    // The key under the old name alone still works: it goes in both headers.
    let legacy = generate(&[("FREEPIK_API_KEY", KEY)]);
    assert_eq!(
        legacy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&legacy.stderr)
    );
}

/// A stand-in whose tasks are COMPLETED at once and whose video URL answers
/// `200 text/html` (a proxy's or a sign-in page), never the video.
fn html_video_stand_in(runtime: &tokio::runtime::Runtime) -> String {
    use axum::routing::get;
    const TASK: &str = "5e2b7c1a-9d3f-4a6e-8b0c-1f4d2e6a9c37";
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let video = base.clone() + "/files/v.mp4";
    let collection = "/v1/ai/image-to-video/wan-v2-2-580p";
    let app = axum::Router::new()
        .route(
            collection,
            get(|| async { axum::Json(serde_json::json!({"data": []})) }).post(|| async {
                axum::Json(serde_json::json!({"data": {"task_id": TASK, "status": "CREATED"}}))
            }),
        )
        .route(
            &format!("{collection}/{{id}}"),
            get(move || async move {
                let task = serde_json::json!({"task_id": TASK, "status": "COMPLETED", "generated": [video]});
                axum::Json(serde_json::json!({ "data": task }))
            }),
        )
        .route(
            "/files/v.mp4",
            get(|| async {
                (
                    [("content-type", "text/html; charset=utf-8")],
                    "<!doctype html><html><body>Please sign in</body></html>",
                )
            }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[test]
fn a_page_in_place_of_the_video_is_never_saved_as_the_mp4() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let base = html_video_stand_in(&runtime);
    let dir = tempdir();
    let image = sample_image();
    let generate = run(
        dir.path(),
        &[
            "--base-url",
            &base,
            "--api-key",
            KEY,
            "generate",
            "--image",
            image.to_str().unwrap(),
            "--out",
            "m.mp4",
        ],
    );
    assert_eq!(generate.code, 3, "{generate:?}");
    assert!(
        generate.stderr.contains("not a whole video"),
        "{generate:?}"
    );
    assert!(!dir.path().join("m.mp4").exists(), "the page was saved");

    let manifest = manifest(dir.path(), 1);
    let out = dir.path().join("videos");
    let mut args = vec!["--base-url", &base, "--api-key", KEY, "--json"];
    args.extend(batch_args(
        manifest.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    let batch = run(dir.path(), &args);
    assert_ne!(batch.code, 0, "{batch:?}");
    let summary = batch.json();
    assert_eq!(summary["downloaded"], 0, "{summary}");
    let entry = &summary["entries"][0];
    assert_ne!(entry["state"], "downloaded", "{summary}");
    assert!(
        entry["reason"]
            .as_str()
            .unwrap()
            .contains("not a whole video"),
        "{summary}"
    );
    let files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("freepik-wan-batch.db"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
}

#[test]
fn a_wrong_key_exits_3_with_the_service_message_and_never_shows_the_key() {
    let sim = Sim::quick();
    let dir = tempdir();
    let wrong = "wrong-key-d41d8cd98f";
    let image = sample_image();
    for json in [false, true] {
        let mut args = vec!["--base-url".to_owned(), sim.url()];
        if json {
            args.push("--json".into());
        }
        args.extend(["generate", "--image", image.to_str().unwrap()].map(String::from));
        let run = command(dir.path())
            .args(&args)
            .env("FREEPIK_API_KEY", wrong)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(3), "{stdout}{stderr}");
        assert!(stderr.contains("Invalid API key"), "{stderr}");
        assert!(!stdout.contains(wrong) && !stderr.contains(wrong));
        if json {
            let error: Value = serde_json::from_str(stdout.trim()).unwrap();
            assert_eq!(error["http_status"], 401);
            assert_eq!(error["exit_code"], 3);
        }
    }
}

#[test]
fn a_wait_past_its_timeout_exits_4_and_names_the_task() {
    let sim = Sim::start(Duration::from_secs(120), Faults::none());
    let dir = tempdir();
    let image = sample_image();
    let run = sim.run(
        dir.path(),
        &[
            "--json",
            "generate",
            "--image",
            image.to_str().unwrap(),
            "--timeout",
            "1",
        ],
    );
    assert_eq!(run.code, 4, "{run:?}");
    let error = run.json();
    assert!(error["task_id"].is_string(), "{error}");
    assert!(run.stderr.contains("wait"), "{run:?}");
}

#[test]
fn a_create_answered_504_exits_3_sends_one_create_and_names_the_task() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            rate_create_gateway_error: 1.0,
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
    let stats = sim.handle.stats();
    assert_eq!(stats.creates_accepted, 1, "{run:?}");
    let posts = stats.requests.iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "exactly one create: {run:?}");
    let error = run.json();
    assert_eq!(error["may_exist"], true, "{error}");
    let candidates = error["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{error}");
    let id = candidates[0]["task_id"].as_str().unwrap();
    let next = format!("freepik-wan wait {id}");
    assert!(error["error"].as_str().unwrap().contains(&next), "{error}");
}

/// A 429 asking for an hour must not freeze the client for that hour: the
/// first call's 429 pauses the client, and the create, which may not wait
/// that long, fails at once with a 429 saying how long the service asked.
#[test]
fn a_429_asking_for_an_hour_exits_3_at_once_and_says_how_long() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            rate_429: 1.0,
            retry_after_secs: 3600,
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let image = sample_image();
    let started = std::time::Instant::now();
    let run = sim.run(
        dir.path(),
        &["--json", "generate", "--image", image.to_str().unwrap()],
    );
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{run:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}: {run:?}");
    assert_eq!(sim.handle.stats().creates_accepted, 0, "{run:?}");
    let error = run.json();
    let message = error["error"].as_str().unwrap();
    assert!(message.contains("429"), "{error}");
    assert!(message.contains("3600 s"), "says how long: {error}");
}

/// A server that accepts connections and never answers; it lives as long
/// as the test process.
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming() {
            held.push(socket);
        }
    });
    url
}

#[test]
fn timeouts_hold_against_a_server_that_never_answers() {
    let url = silent_server();
    let dir = tempdir();
    let image = sample_image();
    let task = "0a0b0c0d-0000-4000-8000-000000000001";
    let commands: [&[&str]; 2] = [
        &["wait", task, "--timeout", "2"],
        &[
            "generate",
            "--image",
            image.to_str().unwrap(),
            "--timeout",
            "2",
        ],
    ];
    for args in commands {
        let started = std::time::Instant::now();
        let mut all = vec!["--base-url", &url, "--api-key", KEY];
        all.extend_from_slice(args);
        let run = run(dir.path(), &all);
        let took = started.elapsed();
        assert_eq!(run.code, 4, "{args:?}: {run:?}");
        // Within about a second of the deadline, not after the 60 s
        // request timeout and its retries.
        assert!(took < Duration::from_secs(4), "{args:?} took {took:?}");
    }
}

#[test]
fn a_failed_task_exits_1() {
    let faults = Faults {
        rate_task_failure: 1.0,
        ..Faults::none()
    };
    let sim = Sim::start(Duration::from_millis(300), faults);
    let dir = tempdir();
    let image = sample_image();
    let run = sim.run(
        dir.path(),
        &["--json", "generate", "--image", image.to_str().unwrap()],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("failed"), "{run:?}");
    let error = run.json();
    assert_eq!(error["status"], "FAILED");
    assert!(error["task_id"].is_string());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn webhook_verify_exits_0_for_a_signed_body_and_1_for_a_tampered_one() {
    let dir = tempdir();
    let body =
        br#"{"task_id":"t-1","status":"COMPLETED","generated":["https://cdn.example/v.mp4"]}"#;
    std::fs::write(dir.path().join("body.json"), body).unwrap();
    let ts = now().to_string();
    let signature = WebhookSecret::new(SECRET)
        .sign("msg_1", now(), body)
        .unwrap();
    let verify = |file: &str, json: bool| {
        let mut args = vec![];
        if json {
            args.push("--json");
        }
        args.extend([
            "webhook",
            "verify",
            "--secret",
            SECRET,
            "--webhook-id",
            "msg_1",
            "--webhook-timestamp",
            &ts,
            "--webhook-signature",
            &signature,
            "--body",
            file,
        ]);
        run(dir.path(), &args)
    };

    let valid = verify("body.json", false).ok();
    assert_eq!(
        valid.stdout.trim(),
        "t-1\tCOMPLETED\thttps://cdn.example/v.mp4"
    );
    let event = verify("body.json", true).ok().json();
    assert_eq!(event["valid"], true);
    assert_eq!(event["task_id"], "t-1");
    assert_eq!(event["status"], "COMPLETED");
    assert_eq!(event["webhook_id"], "msg_1");

    let tampered = body
        .to_vec()
        .iter()
        .map(|&b| if b == b'1' { b'2' } else { b })
        .collect::<Vec<_>>();
    std::fs::write(dir.path().join("tampered.json"), tampered).unwrap();
    let invalid = verify("tampered.json", true);
    assert_eq!(invalid.code, 1, "{invalid:?}");
    assert!(invalid.stderr.contains("invalid webhook"), "{invalid:?}");
    assert_eq!(invalid.json()["valid"], false);

    // The body on stdin, the secret from the environment.
    let mut child = command(dir.path())
        .env("FREEPIK_WEBHOOK_SECRET", SECRET)
        .args([
            "webhook",
            "verify",
            "--webhook-id",
            "msg_1",
            "--webhook-timestamp",
            &ts,
            "--webhook-signature",
            &signature,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn help_lists_the_exit_codes_and_hides_the_key() {
    let dir = tempdir();
    let output = command(dir.path())
        .env("FREEPIK_API_KEY", KEY)
        .env("FREEPIK_WEBHOOK_SECRET", SECRET)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0));
    assert!(help.contains("Exit codes"), "{help}");
    for line in [
        "0  done",
        "1  the task FAILED",
        "2  usage",
        "3  API",
        "4  timed out",
    ] {
        assert!(help.contains(line), "{line:?} missing from {help}");
    }
    assert!(!help.contains(KEY), "{help}");

    let output = command(dir.path())
        .env("FREEPIK_WEBHOOK_SECRET", SECRET)
        .args(["webhook", "verify", "--help"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&output.stdout).contains(SECRET));
}

#[test]
fn help_describes_every_model_not_the_2_2_only_tool() {
    let dir = tempdir();
    let help = |args: &[&str]| {
        let output = command(dir.path()).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let top = help(&["--help"]);
    for said in [
        "2.5",
        "2.6",
        "2.7",
        "text-to-video",
        "reference-to-video",
        "video edit",
    ] {
        assert!(top.contains(said), "{said:?} missing from {top}");
    }
    for stale in [
        "with the Wan v2.2 model",
        "Make a video from an image",
        "at one resolution's endpoint",
    ] {
        assert!(!top.contains(stale), "{stale:?} in {top}");
    }
    let batch = help(&["batch", "--help"]);
    assert!(!batch.contains("`image` required"), "{batch}");
    assert!(batch.contains("`model`"), "{batch}");
    let list = help(&["list", "--help"]);
    assert!(list.contains("model's endpoint"), "{list}");
}

/// Reads a child's lines on a thread, so a test can wait for one with a deadline.
fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn line_matching(rx: &mpsc::Receiver<String>, pattern: &str) -> String {
    loop {
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(line) if line.contains(pattern) => return line,
            Ok(_) => continue,
            Err(e) => panic!("no line with {pattern:?}: {e}"),
        }
    }
}

/// Kills the child when the test ends, pass or fail.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `webhook listen --json` on a free port, killed when the test ends.
struct Listener {
    _child: Killed,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// Its base URL, as it printed it.
    url: String,
}

impl Listener {
    fn start(dir: &Path) -> Listener {
        let mut child = Killed(
            command(dir)
                .args([
                    "--json", "webhook", "listen", "--port", "0", "--secret", SECRET,
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let stdout = lines(child.0.stdout.take().unwrap());
        let stderr = lines(child.0.stderr.take().unwrap());
        let listening = line_matching(&stderr, "listening on ");
        let url = listening
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_owned();
        Listener {
            _child: child,
            stdout,
            stderr,
            url,
        }
    }
}

#[test]
fn webhook_listen_prints_each_verified_event_and_refuses_bad_signatures() {
    let sim = Sim::quick();
    let dir = tempdir();
    let listener = Listener::start(dir.path());
    let (stdout, stderr, url) = (&listener.stdout, &listener.stderr, listener.url.clone());

    let image = sample_image();
    let hook = format!("{url}hooks/freepik");
    sim.run(
        dir.path(),
        &[
            "generate",
            "--image",
            image.to_str().unwrap(),
            "--webhook-url",
            &hook,
        ],
    )
    .ok();
    let completed: Value = serde_json::from_str(&line_matching(stdout, "COMPLETED")).unwrap();
    assert_eq!(completed["valid"], true);
    assert!(completed["urls"][0].as_str().unwrap().ends_with(".mp4"));

    // An unsigned POST is refused with 401.
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST /hooks/freepik HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    line_matching(stderr, "rejected a webhook");
}

#[test]
fn generate_meets_an_expired_video_url_fetches_a_fresh_one_and_exits_0() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            expire_first_url: true,
            ..Faults::none()
        },
    );
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
    assert_eq!(run.stdout.trim(), "v.mp4");
    assert_mp4(&dir.path().join("v.mp4"));
    let stats = sim.handle.stats();
    let refused = stats
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/files/") && r.status == 403)
        .count();
    assert_eq!(refused, 1, "the first URL was refused once: {run:?}");
}

#[test]
fn a_quota_429_exits_3_at_once_showing_the_service_message() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            quota_after_creates: Some(0),
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let image = sample_image();
    let started = std::time::Instant::now();
    let run = sim.run(
        dir.path(),
        &["--json", "generate", "--image", image.to_str().unwrap()],
    );
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{run:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {run:?}");
    let posts = sim
        .handle
        .stats()
        .requests
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert!(posts <= 2, "{posts} creates: {run:?}");
    assert!(
        run.stderr.contains("Limit for free users reached."),
        "{run:?}"
    );
    let error = run.json();
    assert_eq!(error["quota"], true, "{error}");
    assert_eq!(error["http_status"], 429, "{error}");
}

#[test]
fn a_batch_stops_creating_at_the_first_quota_answer_and_keeps_the_rest_pending() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            quota_after_creates: Some(0),
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let manifest = manifest(dir.path(), 10);
    let out = dir.path().join("videos");
    let mut args = vec!["--json"];
    args.extend(batch_args(
        manifest.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    let run = sim.run(dir.path(), &args);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(run.code, 3, "{run:?}");
    let posts = sim
        .handle
        .stats()
        .requests
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert!(posts <= 3, "{posts} creates after a quota answer: {run:?}");
    let summary = run.json();
    assert_eq!(summary["stopped"], "quota", "{summary}");
    assert_eq!(summary["pending"], 10, "{summary}");
    let said = summary["error"].as_str().unwrap();
    assert!(
        said.contains("quota") && said.contains("Limit for free users reached."),
        "{said}"
    );
    // Said once, not "quota is reached (the service's quota is reached (…))".
    assert_eq!(said.matches("quota is reached").count(), 1, "{said}");
    let status = run_json(
        dir.path(),
        &["--json", "batch", "status", out.to_str().unwrap()],
    );
    let entries = status["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    assert!(entries.iter().all(|e| e["state"] == "pending"), "{status}");
}

#[test]
fn webhook_listen_shows_a_redelivered_webhook_once() {
    let dir = tempdir();
    let listener = Listener::start(dir.path());
    let (stdout, stderr, url) = (&listener.stdout, &listener.stderr, listener.url.clone());
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let post = |id: &str, body: &str| {
        let signature = WebhookSecret::new(SECRET)
            .sign(id, now(), body.as_bytes())
            .unwrap();
        let mut stream = TcpStream::connect(address).unwrap();
        write!(
            stream,
            "POST /hook HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             webhook-id: {id}\r\nwebhook-timestamp: {}\r\nwebhook-signature: {signature}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            now(),
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    };
    let first = r#"{"task_id":"t-1","status":"IN_PROGRESS","generated":[]}"#;
    let second =
        r#"{"task_id":"t-1","status":"COMPLETED","generated":["https://cdn.example/v.mp4"]}"#;
    post("msg_1", first);
    post("msg_1", first); // the sender's retry
    line_matching(stderr, "repeat of webhook msg_1");
    post("msg_2", second);
    let shown: Vec<Value> = (0..2)
        .map(|_| {
            let line = stdout.recv_timeout(Duration::from_secs(15)).unwrap();
            serde_json::from_str(&line).unwrap()
        })
        .collect();
    assert_eq!(shown[0]["webhook_id"], "msg_1", "{shown:?}");
    assert_eq!(
        shown[1]["webhook_id"], "msg_2",
        "the repeat was shown again: {shown:?}"
    );
}

#[test]
fn a_download_killed_half_way_is_resumed_by_the_next_run() {
    let sim = Sim::start(
        Duration::from_millis(200),
        Faults {
            download_bytes_per_sec: Some(8 * 1024),
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let image = sample_image();
    let created = sim
        .run(
            dir.path(),
            &[
                "--json",
                "generate",
                "--no-wait",
                "--image",
                image.to_str().unwrap(),
            ],
        )
        .ok()
        .json();
    let id = created["task_id"].as_str().unwrap().to_owned();
    let args = sim.args(&["wait", &id, "--out", "v.mp4"]);
    let mut child = spawn_logged(dir.path(), &args, &dir.path().join("killed.log"));
    // Until some of the video is on disk, then SIGKILL: no clean-up at all.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let part = loop {
        let part = std::fs::read_dir(dir.path()).unwrap().find_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let len = e.metadata().unwrap().len();
            (name.starts_with(".v.mp4.") && name.ends_with(".part") && len > 0).then(|| e.path())
        });
        if let Some(part) = part {
            break part;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no part file appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(part.exists(), "a killed run cannot clean up");

    let run = sim.run(dir.path(), &["wait", &id, "--out", "v.mp4"]).ok();
    let video = std::fs::read(dir.path().join("v.mp4")).unwrap();
    assert!(
        video == include_bytes!("../../freepik-wan-sim/assets/sample.mp4"),
        "the resumed file is not the video"
    );
    let resumed = sim
        .handle
        .stats()
        .requests
        .iter()
        .any(|r| r.path.starts_with("/files/") && r.status == 206);
    assert!(resumed, "the second run did not resume: {run:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let created_again = sim.handle.stats().creates_accepted;
    assert_eq!(created_again, 1);
}

/// `freepik-wan --json simulate <args>` in the background (killed when the
/// returned guard drops), and the line it printed once listening.
fn spawn_simulate(dir: &Path, args: &[&str]) -> (Killed, Value) {
    let mut simulator = Killed(
        command(dir)
            .args(["--json", "simulate"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = lines(simulator.0.stdout.take().unwrap());
    let started = serde_json::from_str(&line_matching(&stdout, "base_url")).unwrap();
    (simulator, started)
}

#[test]
fn simulate_prints_where_it_listens_and_serves_the_cli() {
    let dir = tempdir();
    let (_simulator, started) = spawn_simulate(dir.path(), &["--processing-ms", "200"]);
    let base_url = started["base_url"].as_str().unwrap();
    assert_eq!(started["api_key"], "sim-key");
    assert_eq!(started["webhook_secret"], "sim-webhook-secret");

    let image = sample_image();
    let run = run(
        dir.path(),
        &[
            "--base-url",
            base_url,
            "--api-key",
            "sim-key",
            "generate",
            "--image",
            image.to_str().unwrap(),
            "--out",
            "s.mp4",
        ],
    )
    .ok();
    assert_eq!(run.stdout.trim(), "s.mp4");
    assert_mp4(&dir.path().join("s.mp4"));

    // What reached it, from its own counters (the published limits are on
    // by default, and the CLI stays inside them).
    let stats = http_get_json(base_url, "/_sim/stats");
    assert_eq!(stats["creates_accepted"], 1, "{stats}");
    assert_eq!(stats["tasks"], 1, "{stats}");
    assert!(stats["responses"]["200"].as_u64().unwrap() >= 3, "{stats}");
    assert!(stats["responses"].get("429").is_none(), "{stats}");
}

/// `GET path` on a local server, the body parsed as JSON (HTTP/1.0: the
/// server closes the connection after the body).
fn http_get_json(base_url: &str, path: &str) -> Value {
    http_json(base_url, "GET", path, &[], "")
}

/// `METHOD path` on a local server with `headers` and `body`, the answer (a
/// 200) parsed as JSON.
fn http_json(
    base_url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Value {
    let address = base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {address}\r\n").unwrap();
    for (name, value) in headers {
        write!(stream, "{name}: {value}\r\n").unwrap();
    }
    write!(stream, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    serde_json::from_str(body).unwrap()
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_waiting_exits_130_and_says_how_to_resume() {
    let sim = Sim::start(Duration::from_secs(120), Faults::none());
    let dir = tempdir();
    let image = sample_image();
    let url = sim.url();
    let mut child = Killed(
        command(dir.path())
            .args(["--base-url", &url, "--api-key", KEY, "generate", "--image"])
            .arg(&image)
            .args(["--out", "later.mp4"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = lines(child.0.stderr.take().unwrap());
    let created = line_matching(&stderr, "created task ");
    let id = created.split_whitespace().nth(2).unwrap().to_owned();
    // Polling has begun (so the handler is in place) once a status is reported.
    line_matching(&stderr, "CREATED after");
    let pid = child.0.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let said = line_matching(&stderr, "interrupted");
    assert!(
        said.contains(&format!("freepik-wan wait {id} --out later.mp4")),
        "{said}"
    );
}

/// A manifest of `rows` rows of the sample image, each with its own prompt.
fn manifest(dir: &Path, rows: usize) -> PathBuf {
    let image = sample_image();
    let mut text = String::from("image,prompt,seed\n");
    for i in 0..rows {
        text.push_str(&format!("{},row {i},{i}\n", image.display()));
    }
    let path = dir.join("manifest.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn batch_args<'a>(manifest: &'a str, out: &'a str) -> Vec<&'a str> {
    // A row a kill left before its create was sent is sent again once the
    // list has not shown its task for 3 s (the simulator's list never lags).
    vec![
        "batch",
        manifest,
        "--out-dir",
        out,
        "--concurrency",
        "8",
        "--list-grace",
        "3",
    ]
}

#[test]
fn batch_checks_every_row_before_sending_and_names_bad_lines() {
    let sim = Sim::quick();
    let dir = tempdir();
    let image = sample_image();
    let text = format!(
        "image,duration\n{img},5\n{missing},5\n{img},7\n",
        img = image.display(),
        missing = dir.path().join("missing.jpg").display()
    );
    let manifest = dir.path().join("m.csv");
    std::fs::write(&manifest, text).unwrap();
    let out = dir.path().join("out");
    let run = sim.run(
        dir.path(),
        &batch_args(manifest.to_str().unwrap(), out.to_str().unwrap()),
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("line 3"), "{run:?}");
    assert!(run.stderr.contains("line 4: duration"), "{run:?}");
    assert_eq!(sim.handle.stats().creates_accepted, 0, "nothing is sent");
}

#[test]
fn a_row_whose_out_is_the_journal_or_another_rows_file_is_refused_before_sending() {
    let sim = Sim::quick();
    let dir = tempdir();
    let image = sample_image();
    let text = format!(
        "image,out\n{img},a.mp4\n{img},freepik-wan-batch.db-wal\n{img},./a.mp4\n\
         {img},freepik-wan-batch.db\n{img},sub/../b.mp4\n",
        img = image.display(),
    );
    let manifest = dir.path().join("m.csv");
    std::fs::write(&manifest, text).unwrap();
    let out = dir.path().join("out");
    let mut args = vec!["--json"];
    args.extend(batch_args(
        manifest.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    let run = sim.run(dir.path(), &args);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("line 3: out:"), "{run:?}");
    assert!(run.stderr.contains("line 4: out:"), "{run:?}");
    assert!(run.stderr.contains("line 5: out:"), "{run:?}");
    assert!(run.stderr.contains("line 6: out:"), "{run:?}");
    let lines: Vec<u64> = run.json()["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5, 6]);
    assert_eq!(sim.handle.stats().creates_accepted, 0, "nothing is sent");

    // A journal put elsewhere is guarded the same way.
    let text = format!("image,out\n{img},state/j.db-shm\n", img = image.display());
    std::fs::write(&manifest, text).unwrap();
    let journal = out.join("state/j.db");
    let mut args = batch_args(manifest.to_str().unwrap(), out.to_str().unwrap());
    args.extend(["--journal", journal.to_str().unwrap()]);
    let run = sim.run(dir.path(), &args);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("line 2: out:"), "{run:?}");
    assert_eq!(sim.handle.stats().creates_accepted, 0, "nothing is sent");
}

#[test]
fn a_batch_killed_three_times_then_resumed_makes_each_video_once() {
    // Each create makes its task and answers 250 ms later: a kill then most
    // likely lands between the two, the moment that could pay twice.
    let sim = Sim::start(
        Duration::from_millis(400),
        Faults {
            rate_create_late: 1.0,
            create_late_by: Duration::from_millis(250),
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let manifest = manifest(dir.path(), 40);
    let out = dir.path().join("videos");
    let args = sim.args(&batch_args(
        manifest.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    // Each kill lands while a create's answer is outstanding: right after
    // the simulator made a task (its answer comes 250 ms later), plus a
    // jitter different on every test run. Timed from the process start
    // instead, a loaded machine could kill every run before its first create.
    let salt = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_millis() as u64;
    let delays: Vec<u64> = (0..3).map(|i| (salt * (i + 7)) % 150).collect();
    let mut said = String::new();
    for delay in &delays {
        let log = dir.path().join("killed-run.log");
        let made_before = sim.handle.stats().creates_accepted;
        let mut child = spawn_logged(dir.path(), &args, &log);
        let started = std::time::Instant::now();
        while sim.handle.stats().creates_accepted == made_before {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no create was made"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(*delay));
        child.kill().unwrap(); // SIGKILL: no clean-up of any kind
        child.wait().unwrap();
        said.push_str(&std::fs::read_to_string(&log).unwrap());
    }
    let run = run(dir.path(), &args);
    assert_eq!(run.code, 0, "kills after {delays:?} ms: {run:?}");
    said.push_str(&run.stderr);
    // The moment that matters was met: a create cut off by a kill after it
    // made its task, adopted by the next run rather than sent again.
    assert!(
        said.contains("made by the last run's create"),
        "kills after {delays:?} ms never left a create unanswered: {said}"
    );
    assert_eq!(
        sim.handle.stats().creates_accepted,
        40,
        "kills after {delays:?} ms: a row was paid twice or never"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 40, "{files:?}");
    let first = std::fs::read(&files[0]).unwrap();
    for file in &files {
        assert_mp4(file);
        assert!(
            std::fs::read(file).unwrap() == first,
            "{} differs",
            file.display()
        );
    }
    let status = run_json(
        dir.path(),
        &["--json", "batch", "status", out.to_str().unwrap()],
    );
    let entries = status["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 40);
    assert!(
        entries.iter().all(|e| e["state"] == "downloaded"),
        "{status}"
    );
    let tasks: std::collections::HashSet<&str> = entries
        .iter()
        .map(|e| e["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(tasks.len(), 40, "two rows hold one task");
}

/// Starts the binary in the background, its stderr to `log`.
fn spawn_logged(dir: &Path, args: &[String], log: &Path) -> Child {
    command(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn run_json(dir: &Path, args: &[&str]) -> Value {
    run(dir, args).ok().json()
}

#[test]
fn a_second_run_on_the_same_journal_is_refused() {
    let sim = Sim::start(Duration::from_secs(3), Faults::none());
    let dir = tempdir();
    let manifest = manifest(dir.path(), 4);
    let out = dir.path().join("videos");
    let args = sim.args(&batch_args(
        manifest.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    let mut first = spawn_logged(dir.path(), &args, &dir.path().join("first-run.log"));
    // Until the first run has its lease (it creates only after taking it).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sim.handle.stats().creates_accepted == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never created"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = run(dir.path(), &args);
    assert_eq!(second.code, 2, "{second:?}");
    assert!(second.stderr.contains("another batch run"), "{second:?}");
    assert!(first.wait().unwrap().success());
    assert_eq!(sim.handle.stats().creates_accepted, 4);
}

#[path = "cli/promises.rs"]
mod promises;

#[path = "cli/review.rs"]
mod review;

#[path = "cli/chaos.rs"]
mod chaos;

#[path = "cli/uploads.rs"]
mod uploads;

#[path = "cli/logs.rs"]
mod logs;

#[cfg(feature = "postgres")]
#[path = "cli/fleet.rs"]
mod fleet;

/// Without the `postgres` feature, a PostgreSQL URL is a usage error that
/// says how to get it, not a SQLite file named `postgres:`.
#[cfg(not(feature = "postgres"))]
#[test]
fn a_postgres_journal_without_the_feature_is_a_usage_error() {
    let sim = Sim::quick();
    let dir = tempdir();
    let manifest = manifest(dir.path(), 1);
    let out = dir.path().join("videos");
    let url = "postgres://me:hunter2-secret@db.example/videos";
    let ran = sim.run(
        dir.path(),
        &[
            "batch",
            manifest.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "--journal",
            url,
        ],
    );
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("--features postgres"), "{ran:?}");
    assert!(
        !ran.stderr.contains("hunter2") && !ran.stdout.contains("hunter2"),
        "{ran:?}"
    );
    assert!(
        !dir.path().join("postgres:").exists(),
        "no file named postgres:"
    );
    assert_eq!(sim.handle.stats().creates_accepted, 0);
    let status = run(dir.path(), &["batch", "status", "--journal", url]);
    assert_eq!(status.code, 2, "{status:?}");
    assert!(status.stderr.contains("--features postgres"), "{status:?}");
    assert!(!status.stderr.contains("hunter2"), "{status:?}");
}
