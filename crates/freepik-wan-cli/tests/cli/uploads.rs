//! Local files for every model (issue 24): uploaded through the simulator's
//! Upload Files API (a storage host on another origin that checks the
//! signed headers and refuses the key), then sent as their asset URLs; a
//! finished task's video as an input.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use freepik_wan_sim::Faults;

use super::{Sim, assert_mp4, http_get_json, http_json, spawn_simulate, tempdir};

/// A PNG header of `width`x`height` px, padded to `len` bytes: what the
/// checks read (magic bytes and dimensions).
fn png(width: u32, height: u32, len: usize) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(b"IHDR");
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    out.resize(len.max(out.len()), 0);
    out
}

/// A WAV header padded to `len` bytes.
fn wav(len: usize) -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.resize(len.max(44), 0);
    out
}

fn sample_video() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../freepik-wan-sim/assets/sample.mp4")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// The uploaded files' bytes, sorted.
fn uploaded(sim: &Sim) -> Vec<Vec<u8>> {
    let mut files: Vec<Vec<u8>> = sim
        .handle
        .uploaded_files()
        .into_iter()
        .map(|(_, _, bytes)| bytes.to_vec())
        .collect();
    files.sort();
    files
}

#[test]
fn local_files_for_url_only_models_are_uploaded_and_make_one_create_each() {
    let sim = Sim::quick();
    let dir = tempdir();
    let image = write(dir.path(), "face.png", &png(640, 480, 5_000));
    let voice = write(dir.path(), "voice.wav", &wav(4_000));
    let video = sample_video().display().to_string();
    let with_voice = format!("{image},voice={voice}");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--model", "image-to-video/wan-2-7", "--image", &image],
            vec![&image],
        ),
        (
            vec![
                "--model",
                "video-edit/wan-2-7",
                "--video",
                &video,
                "--prompt",
                "snow",
            ],
            vec![&video],
        ),
        (
            vec![
                "--model",
                "reference-to-video/wan-2-7",
                "--prompt",
                "Image 1 sings to Video 1",
                "--reference",
                &with_voice,
                "--reference",
                &video,
            ],
            vec![&image, &voice, &video],
        ),
        (
            vec![
                "--model",
                "image-to-video/wan-v2-6-720p",
                "--image",
                &image,
                "--prompt",
                "she turns",
            ],
            vec![&image],
        ),
    ];
    for (i, (inputs, files)) in cases.iter().enumerate() {
        let before = sim.handle.stats();
        let out = format!("{i}.mp4");
        let mut args = vec!["generate", "--out", &out];
        args.extend(inputs.iter().copied());
        let done = sim.run(dir.path(), &args);
        assert_eq!(done.code, 0, "{inputs:?}: {done:?}");
        assert_mp4(&dir.path().join(&out));
        let after = sim.handle.stats();
        assert_eq!(after.creates_accepted - before.creates_accepted, 1);
        // The create's URLs name uploaded files (the simulator refuses a
        // create naming one that is not), whose bytes are the files'.
        let stored = uploaded(&sim);
        for file in files {
            let bytes = std::fs::read(file).unwrap();
            assert!(stored.contains(&bytes), "{file} was not uploaded as is");
        }
    }
    let stats = sim.handle.stats();
    assert_eq!(stats.uploads.key_refused, 0, "the storage host saw the key");
    // One upload per file per run: each run is its own client (a batch
    // shares its uploads across rows: see below).
    assert_eq!(stats.uploads.stored, 6, "{:?}", stats.uploads);
}

#[test]
fn files_a_model_or_the_upload_cannot_take_exit_2_with_nothing_sent() {
    let sim = Sim::quick();
    let dir = tempdir();
    let text = write(
        dir.path(),
        "photo.png",
        b"a text file, whatever its name says",
    );
    let big = dir.path().join("big.mp4");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(120 << 20)
        .unwrap();
    for args in [
        vec![
            "--json",
            "generate",
            "--model",
            "image-to-video/wan-2-7",
            "--image",
            &text,
        ],
        vec![
            "--json",
            "generate",
            "--model",
            "video-edit/wan-2-7",
            "--prompt",
            "x",
            "--video",
            big.to_str().unwrap(),
        ],
    ] {
        let refused = sim.run(dir.path(), &args);
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(refused.json()["field"].is_string(), "{refused:?}");
    }
    let stats = sim.handle.stats();
    assert_eq!(stats.creates_attempted, 0);
    assert_eq!(stats.uploads.urls_requested, 0);
}

#[test]
fn a_storage_503_and_an_expired_upload_url_still_end_in_one_create_and_an_mp4() {
    for faults in [
        Faults {
            rate_upload_503: 0.5,
            seed: 3,
            ..Faults::none()
        },
        Faults {
            expire_first_upload_url: true,
            ..Faults::none()
        },
    ] {
        let sim = Sim::start(Duration::from_millis(300), faults);
        let dir = tempdir();
        let image = write(dir.path(), "face.png", &png(640, 480, 5_000));
        let done = sim.run(
            dir.path(),
            &[
                "generate",
                "--model",
                "image-to-video/wan-2-7",
                "--image",
                &image,
                "--out",
                "v.mp4",
            ],
        );
        assert_eq!(done.code, 0, "{done:?}");
        assert_mp4(&dir.path().join("v.mp4"));
        assert_eq!(sim.handle.stats().creates_accepted, 1);
    }
}

#[test]
fn a_batch_of_six_rows_sharing_one_local_image_uploads_it_once() {
    let sim = Sim::quick();
    let dir = tempdir();
    write(dir.path(), "shared.png", &png(640, 480, 5_000));
    let manifest = dir.path().join("rows.csv");
    let mut text = String::from("model,image,prompt\n");
    for i in 0..6 {
        text.push_str(&format!("image-to-video/wan-2-7,shared.png,take {i}\n"));
    }
    std::fs::write(&manifest, text).unwrap();
    let out = dir.path().join("videos");
    let done = sim.run(
        dir.path(),
        &[
            "batch",
            manifest.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(done.code, 0, "{done:?}");
    let stats = sim.handle.stats();
    assert_eq!(stats.creates_accepted, 6);
    assert_eq!(stats.uploads.stored, 1, "{:?}", stats.uploads);
}

#[test]
fn a_finished_task_is_an_input_by_task_and_a_running_one_is_refused_unsent() {
    let sim = Sim::start(Duration::from_millis(300), Faults::none());
    let dir = tempdir();
    let made = sim
        .run(
            dir.path(),
            &[
                "--json",
                "generate",
                "--model",
                "text-to-video/wan-2-7",
                "--prompt",
                "a fox",
                "--out",
                "fox.mp4",
            ],
        )
        .ok()
        .json();
    let id = made["task_id"].as_str().unwrap();
    let task = format!("task:text-to-video/wan-2-7/{id}");
    for inputs in [
        vec![
            "--model",
            "video-edit/wan-2-7",
            "--prompt",
            "snow",
            "--video",
            &task,
        ],
        vec!["--model", "image-to-video/wan-2-7", "--video", &task],
    ] {
        let mut args = vec!["generate", "--out", "next.mp4"];
        args.extend(inputs.iter().copied());
        let done = sim.run(dir.path(), &args);
        assert_eq!(done.code, 0, "{inputs:?}: {done:?}");
    }
    // The task's status was fetched right before each create (for its
    // freshest URL).
    let gets = sim
        .handle
        .stats()
        .requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(id))
        .count();
    assert!(gets >= 3, "{gets}");
    // A task still running: refused, exit 2, no create.
    let running = sim
        .run(
            dir.path(),
            &[
                "--json",
                "generate",
                "--no-wait",
                "--model",
                "text-to-video/wan-2-7",
                "--prompt",
                "slow",
            ],
        )
        .ok()
        .json();
    let running = format!(
        "task:text-to-video/wan-2-7/{}",
        running["task_id"].as_str().unwrap()
    );
    let before = sim.handle.stats().creates_accepted;
    let refused = sim.run(
        dir.path(),
        &[
            "generate",
            "--model",
            "video-edit/wan-2-7",
            "--prompt",
            "x",
            "--video",
            &running,
        ],
    );
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("freepik-wan wait"), "{refused:?}");
    assert_eq!(sim.handle.stats().creates_accepted, before);
}

/// A batch run again (rows appended to the manifest) reuses the uploads its
/// journal recorded while they stay readable, and uploads again the ones
/// about to expire.
#[test]
fn a_resumed_batch_reuses_valid_uploads_and_uploads_expired_ones_again() {
    for (expiring, uploads_after) in [(false, 1), (true, 2)] {
        let sim = Sim::quick();
        let dir = tempdir();
        write(dir.path(), "shared.png", &png(640, 480, 5_000));
        let manifest = dir.path().join("rows.csv");
        let row = |i: u32| format!("image-to-video/wan-2-7,shared.png,take {i}\n");
        std::fs::write(
            &manifest,
            format!("model,image,prompt\n{}{}", row(1), row(2)),
        )
        .unwrap();
        let out = dir.path().join("videos");
        let args = [
            "batch",
            manifest.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ];
        assert_eq!(sim.run(dir.path(), &args).code, 0);
        assert_eq!(sim.handle.stats().uploads.stored, 1);
        if expiring {
            // A day later: the recorded asset is readable for an hour more,
            // too little for a task made from it.
            let journal = rusqlite::Connection::open(out.join("freepik-wan-batch.db")).unwrap();
            let soon = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64
                + 3_600_000;
            let changed = journal
                .execute("UPDATE uploads SET readable_until_ms = ?1", [soon])
                .unwrap();
            assert_eq!(changed, 1);
        }
        // Two more rows at the end, the same image; the next run is a new
        // process, whose client knows only what the journal kept.
        let mut text = std::fs::read_to_string(&manifest).unwrap();
        text.push_str(&row(3));
        text.push_str(&row(4));
        std::fs::write(&manifest, text).unwrap();
        let again = sim.run(dir.path(), &args);
        assert_eq!(again.code, 0, "{again:?}");
        let stats = sim.handle.stats();
        assert_eq!(stats.creates_accepted, 4);
        assert_eq!(stats.uploads.stored, uploads_after, "expiring: {expiring}");
        // The asset URL's token never reaches the output.
        assert!(!again.stdout.contains("token=") && !again.stderr.contains("token="));
    }
}

/// `simulate`'s upload flags reach the simulator: the lifetimes it hands
/// out, the first upload URL expiring, and storage answering 503.
#[test]
fn simulate_takes_the_upload_faults_and_lifetimes() {
    let dir = tempdir();
    let (_simulator, started) = spawn_simulate(
        dir.path(),
        &[
            "--fault-expire-first-upload-url",
            "--fault-upload-503",
            "0.5",
            "--fault-seed",
            "7",
            "--upload-url-ttl-secs",
            "45",
            "--asset-ttl-secs",
            "600",
        ],
    );
    let base_url = started["base_url"].as_str().unwrap();
    // Three files (three sizes: three contents), one upload call.
    let images: Vec<String> = (1..=3)
        .map(|i| write(dir.path(), &format!("{i}.png"), &png(640, 480, 1_000 * i)))
        .collect();
    let mut args = vec!["--base-url", base_url, "--api-key", "sim-key"];
    args.extend(["--json", "--log-format", "json", "upload"]);
    args.extend(images.iter().map(String::as_str));
    let staged = super::run(dir.path(), &args).ok();
    // Storage answered 503 at least once (the seed decides where), and the
    // PUT was tried again; the first URL expired, so one more was asked for.
    assert!(
        staged.stderr.contains(r#""http.response.status_code":503"#),
        "{staged:?}"
    );
    let stats = http_get_json(base_url, "/_sim/stats");
    assert_eq!(stats["uploads"]["urls_requested"], 4, "{stats}");
    assert_eq!(stats["uploads"]["stored"], 3, "{stats}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let until = staged.json()["files"][0]["readable_until"]
        .as_u64()
        .unwrap();
    assert!((now + 590..=now + 600).contains(&until), "{until} {now}");
    let target = http_json(
        base_url,
        "POST",
        "/v1/ai/uploads/request-url",
        &[
            ("x-magnific-api-key", "sim-key"),
            ("content-type", "application/json"),
        ],
        r#"{"files":[{"content_type":"image/png"}]}"#,
    );
    assert_eq!(target["files"][0]["expires_in"], 45, "{target}");
    assert_eq!(target["files"][0]["asset_url_expires_in"], 600, "{target}");
}
