//! Local files for every model (issue 24), each scenario run twice: against
//! the simulator, and against the stand-in that knows only the published
//! schemas and the upload flow (`freepik_wan_tests::standin`), which
//! validates every create against its published request schema and records
//! what it received. Files are uploaded through the Upload Files API (a
//! storage host on another origin that checks the signed headers and
//! refuses the key), then sent as their asset URLs; a finished task's video
//! is an input.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use freepik_wan_sim::Faults;
use freepik_wan_tests::standin::{StandIn, StorageFaults};
use freepik_wan_tests::{png, sparse_mp4, wav};
use serde_json::Value;

use super::{KEY, Run, Sim, assert_mp4, http_get_json, http_json, run, spawn_simulate, tempdir};

/// What a scenario needs of the service it runs against.
trait Service {
    /// `freepik-wan --base-url <service> --api-key <key> <args>`.
    fn run(&self, dir: &Path, args: &[&str]) -> Run;
    /// Creates accepted.
    fn creates(&self) -> u64;
    /// Creates sent, accepted or not.
    fn creates_sent(&self) -> u64;
    /// Files asked for in `request-url` calls.
    fn files_asked(&self) -> u64;
    /// Files the storage host stored.
    fn stored(&self) -> u64;
    /// Whether the storage host saw an API key.
    fn storage_saw_a_key(&self) -> bool;
    /// The bytes behind the URL fields of the last create, where the
    /// service records bodies (the stand-in); `None` elsewhere.
    fn last_create_assets(&self) -> Option<Vec<Vec<u8>>>;
    /// Every stored file's bytes.
    fn uploaded(&self) -> Vec<Vec<u8>>;
    /// GETs of the task `id` so far.
    fn task_gets(&self, id: &str) -> usize;
    /// The last create's `video_url` and the newest URL the task `id`'s
    /// status handed out, where the service records them (the stand-in).
    fn sent_and_freshest(&self, id: &str) -> Option<(Value, String)>;
    /// The id of a finished text-to-video/wan-2-7 task.
    fn finished_task(&self, dir: &Path) -> String;
    /// The id of a text-to-video/wan-2-7 task that is still running.
    fn running_task(&self, dir: &Path) -> String;
}

impl Service for Sim {
    fn run(&self, dir: &Path, args: &[&str]) -> Run {
        Sim::run(self, dir, args)
    }
    fn creates(&self) -> u64 {
        self.handle.stats().creates_accepted
    }
    fn creates_sent(&self) -> u64 {
        self.handle.stats().creates_attempted
    }
    fn files_asked(&self) -> u64 {
        self.handle.stats().uploads.urls_requested
    }
    fn stored(&self) -> u64 {
        self.handle.stats().uploads.stored
    }
    fn storage_saw_a_key(&self) -> bool {
        self.handle.stats().uploads.key_refused > 0
    }
    fn last_create_assets(&self) -> Option<Vec<Vec<u8>>> {
        None
    }
    fn uploaded(&self) -> Vec<Vec<u8>> {
        let files = self.handle.uploaded_files().into_iter();
        files.map(|(_, _, bytes)| bytes.to_vec()).collect()
    }
    fn task_gets(&self, id: &str) -> usize {
        let requests = self.handle.stats().requests;
        requests
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(id))
            .count()
    }
    fn sent_and_freshest(&self, _id: &str) -> Option<(Value, String)> {
        None
    }
    fn finished_task(&self, _dir: &Path) -> String {
        self.handle
            .add_completed_task("text-to-video/wan-2-7")
            .unwrap()
    }
    fn running_task(&self, dir: &Path) -> String {
        // Made with a processing time far longer than the test.
        let args = ["--json", "generate", "--no-wait"];
        let made = Sim::run(self, dir, &[&args[..], &T2V_27[..]].concat());
        made.ok().json()["task_id"].as_str().unwrap().to_owned()
    }
}

const T2V_27: [&str; 4] = ["--model", "text-to-video/wan-2-7", "--prompt", "a fox"];

/// The stand-in, on its own runtime (tests block on subprocesses).
struct Stand {
    stand_in: StandIn,
    // Dropped after `stand_in`: its servers live on it.
    _runtime: tokio::runtime::Runtime,
}

impl Stand {
    fn start(faults: StorageFaults) -> Stand {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let stand_in = runtime.block_on(StandIn::start(KEY, faults));
        Stand {
            stand_in,
            _runtime: runtime,
        }
    }

    fn quick() -> Stand {
        Stand::start(StorageFaults::default())
    }
}

impl Service for Stand {
    fn run(&self, dir: &Path, args: &[&str]) -> Run {
        let url = self.stand_in.base_url();
        let mut all = vec!["--base-url", &url, "--api-key", KEY];
        all.extend_from_slice(args);
        run(dir, &all)
    }
    fn creates(&self) -> u64 {
        self.stand_in.creates().len() as u64
    }
    fn creates_sent(&self) -> u64 {
        self.stand_in.creates_sent() as u64
    }
    fn files_asked(&self) -> u64 {
        let asked = self.stand_in.upload_requests();
        asked
            .iter()
            .map(|r| r["files"].as_array().map_or(0, Vec::len) as u64)
            .sum()
    }
    fn stored(&self) -> u64 {
        self.stand_in.stored() as u64
    }
    fn storage_saw_a_key(&self) -> bool {
        self.stand_in.storage_saw_a_key()
    }
    fn last_create_assets(&self) -> Option<Vec<Vec<u8>>> {
        let (_, body) = self.stand_in.creates().pop().expect("a create");
        let named = self.stand_in.assets_named(&body).into_iter();
        let assets = named.map(|(url, bytes)| bytes.unwrap_or_else(|| panic!("{url}: no asset")));
        Some(assets.map(|b| b.to_vec()).collect())
    }
    fn uploaded(&self) -> Vec<Vec<u8>> {
        let puts = self.stand_in.storage_requests().into_iter();
        puts.filter(|r| r.method == "PUT")
            .map(|r| r.body.to_vec())
            .collect()
    }
    fn task_gets(&self, id: &str) -> usize {
        let api = self.stand_in.api_requests();
        api.iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(id))
            .count()
    }
    fn sent_and_freshest(&self, id: &str) -> Option<(Value, String)> {
        let (_, body) = self.stand_in.creates().pop().expect("a create");
        let freshest = self.stand_in.video_urls(id).pop().expect("a status read");
        Some((body["video_url"].clone(), freshest))
    }
    fn finished_task(&self, dir: &Path) -> String {
        // The stand-in's tasks are COMPLETED once looked at.
        let args = ["--json", "generate", "--out", "fox.mp4"];
        let made = self.run(dir, &[&args[..], &T2V_27[..]].concat());
        made.ok().json()["task_id"].as_str().unwrap().to_owned()
    }
    fn running_task(&self, _dir: &Path) -> String {
        self.stand_in.running_task("/v1/ai/text-to-video/wan-2-7")
    }
}

fn sample_video() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../freepik-wan-sim/assets/sample.mp4")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

fn sorted(mut files: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    files.sort();
    files
}

#[test]
fn local_files_for_url_only_models_are_uploaded_and_make_one_create_each() {
    local_files_make_one_create_each(&Sim::quick());
    local_files_make_one_create_each(&Stand::quick());
}

fn local_files_make_one_create_each(service: &impl Service) {
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
        let before = (service.creates(), service.creates_sent());
        let out = format!("{i}.mp4");
        let mut args = vec!["generate", "--out", &out];
        args.extend(inputs.iter().copied());
        let done = service.run(dir.path(), &args);
        assert_eq!(done.code, 0, "{inputs:?}: {done:?}");
        assert_mp4(&dir.path().join(&out));
        let after = (service.creates(), service.creates_sent());
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (1, 1),
            "{inputs:?}"
        );
        let files: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        match service.last_create_assets() {
            // The create's URL fields name uploaded assets, whose bytes are
            // the files'.
            Some(named) => assert_eq!(sorted(named), sorted(files), "{inputs:?}"),
            // The simulator refuses a create naming an asset not uploaded.
            None => {
                let stored = service.uploaded();
                assert!(files.iter().all(|f| stored.contains(f)), "{inputs:?}");
            }
        }
    }
    assert!(!service.storage_saw_a_key(), "the storage host saw the key");
    // One upload per file per run: each run is its own client (a batch
    // shares its uploads across rows: see below).
    assert_eq!(service.stored(), 6);
}

#[test]
fn files_a_model_or_the_upload_cannot_take_exit_2_with_nothing_sent() {
    for service in [&Sim::quick() as &dyn Service, &Stand::quick()] {
        let dir = tempdir();
        let text = write(
            dir.path(),
            "photo.png",
            b"a text file, whatever its name says",
        );
        let big = dir.path().join("big.mp4");
        sparse_mp4(&big, 120 << 20);
        let big = big.display().to_string();
        let edit = ["generate", "--model", "video-edit/wan-2-7", "--prompt", "x"];
        for (args, field, says) in [
            (
                vec![
                    "generate",
                    "--model",
                    "image-to-video/wan-2-7",
                    "--image",
                    &text,
                ],
                "start_image_url",
                "photo.png",
            ),
            (
                [&edit[..], &["--video", &big]].concat(),
                "video_url",
                "100 MB",
            ),
        ] {
            let refused = service.run(dir.path(), &[&["--json"], &args[..]].concat());
            assert_eq!(refused.code, 2, "{refused:?}");
            let error = refused.json();
            assert_eq!(error["field"], field, "{error}");
            assert!(error.to_string().contains(says), "{error}");
        }
        assert_eq!(service.creates_sent(), 0);
        assert_eq!(service.files_asked(), 0);
    }
}

#[test]
fn a_storage_503_and_an_expired_upload_url_still_end_in_one_create_and_an_mp4() {
    let sim = |faults| Sim::start(Duration::from_millis(300), faults);
    let services: [&dyn Service; 4] = [
        &sim(Faults {
            rate_upload_503: 0.5,
            seed: 3,
            ..Faults::none()
        }),
        &sim(Faults {
            expire_first_upload_url: true,
            ..Faults::none()
        }),
        &Stand::start(StorageFaults {
            one_503: true,
            ..StorageFaults::default()
        }),
        &Stand::start(StorageFaults {
            expire_first_upload_url: true,
            ..StorageFaults::default()
        }),
    ];
    for (i, service) in services.into_iter().enumerate() {
        let dir = tempdir();
        let bytes = png(640, 480, 5_000);
        let image = write(dir.path(), "face.png", &bytes);
        let model = ["--model", "image-to-video/wan-2-7", "--image", &image];
        let done = service.run(
            dir.path(),
            &[&["generate", "--out", "v.mp4"], &model[..]].concat(),
        );
        assert_eq!(done.code, 0, "{i}: {done:?}");
        assert_mp4(&dir.path().join("v.mp4"));
        assert_eq!((service.creates(), service.creates_sent()), (1, 1), "{i}");
        if let Some(named) = service.last_create_assets() {
            assert_eq!(named, [bytes], "{i}");
        }
    }
}

#[test]
fn a_batch_of_six_rows_sharing_one_local_image_uploads_it_once() {
    for service in [&Sim::quick() as &dyn Service, &Stand::quick()] {
        let dir = tempdir();
        write(dir.path(), "shared.png", &png(640, 480, 5_000));
        let manifest = dir.path().join("rows.csv");
        let mut text = String::from("model,image,prompt\n");
        for i in 0..6 {
            text.push_str(&format!("image-to-video/wan-2-7,shared.png,take {i}\n"));
        }
        std::fs::write(&manifest, text).unwrap();
        let out = dir.path().join("videos");
        let done = service.run(
            dir.path(),
            &[
                "batch",
                manifest.to_str().unwrap(),
                "--out-dir",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(done.code, 0, "{done:?}");
        assert_eq!(service.creates(), 6);
        assert_eq!(service.files_asked(), 1);
        assert_eq!(service.stored(), 1);
    }
}

#[test]
fn a_finished_task_is_an_input_by_task_and_a_running_one_is_refused_unsent() {
    let sim = Sim::start(Duration::from_secs(60), Faults::none());
    for service in [&sim as &dyn Service, &Stand::quick()] {
        let dir = tempdir();
        let id = service.finished_task(dir.path());
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
            let gets = service.task_gets(&id);
            let mut args = vec!["generate", "--no-wait"];
            args.extend(inputs.iter().copied());
            let done = service.run(dir.path(), &args);
            assert_eq!(done.code, 0, "{inputs:?}: {done:?}");
            // The task's status was fetched right before the create, and
            // its freshest URL sent.
            assert!(service.task_gets(&id) > gets, "{inputs:?}");
            if let Some((sent, freshest)) = service.sent_and_freshest(&id) {
                assert_eq!(sent, freshest.as_str(), "{inputs:?}");
            }
        }
        // A task still running: refused, exit 2, no create.
        let running = format!(
            "task:text-to-video/wan-2-7/{}",
            service.running_task(dir.path())
        );
        let before = service.creates_sent();
        let edit = ["generate", "--model", "video-edit/wan-2-7", "--prompt", "x"];
        let refused = service.run(dir.path(), &[&edit[..], &["--video", &running]].concat());
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(refused.stderr.contains("freepik-wan wait"), "{refused:?}");
        assert_eq!(service.creates_sent(), before);
    }
}

/// URLs as a user types them (a space, a non-ASCII path and host) pass the
/// published schema's `format: uri` (the stand-in answers 400 to them raw:
/// see the `it` binary's `upload::urls_with_spaces_...`).
#[test]
fn urls_as_typed_pass_the_published_schema() {
    let stand = Stand::quick();
    let dir = tempdir();
    let done = stand.run(
        dir.path(),
        &[
            "generate",
            "--model",
            "image-to-video/wan-2-7",
            "--image",
            "https://example.com/my photos/café.png",
            "--webhook-url",
            "https://bücher.example/hooks/wan ü",
            "--out",
            "v.mp4",
        ],
    );
    assert_eq!(done.code, 0, "{done:?}");
    assert_mp4(&dir.path().join("v.mp4"));
    let (_, body) = stand.stand_in.creates().pop().unwrap();
    assert_eq!(
        body["start_image_url"],
        "https://example.com/my%20photos/caf%C3%A9.png"
    );
    assert_eq!(
        body["webhook_url"],
        "https://xn--bcher-kva.example/hooks/wan%20%C3%BC"
    );
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
