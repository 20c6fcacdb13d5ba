//! The promises under faults the simulator's kind weather used to hide: a
//! list that lags, a run paused mid-create, gateways that answer after
//! acting, an account that runs out of credits, a long `Retry-After`. Each
//! test here failed on the code before these faults were handled.

use std::path::Path;
use std::time::{Duration, Instant};

use freepik_wan_sim::{Faults, ListCap};
use serde_json::Value;

use super::{Killed, Sim, manifest, run, run_json, sample_image, spawn_logged, tempdir};

/// `batch MANIFEST --out-dir OUT` with the given extra flags.
fn batch(manifest: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "batch".to_owned(),
        manifest.display().to_string(),
        "--out-dir".to_owned(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn with_sim(sim: &Sim, args: Vec<String>) -> Vec<String> {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    sim.args(&refs)
}

/// The journal's rows, as `batch status --json` shows them.
fn journal_rows(dir: &Path, out: &Path) -> Vec<Value> {
    let status = run_json(dir, &["--json", "batch", "status", out.to_str().unwrap()]);
    status["entries"].as_array().unwrap().clone()
}

/// The journal's rows, or none while there is no journal yet.
fn journal_rows_if_any(dir: &Path, out: &Path) -> Vec<Value> {
    let status = run(dir, &["--json", "batch", "status", out.to_str().unwrap()]);
    if status.code != 0 {
        return Vec::new();
    }
    status.json()["entries"].as_array().unwrap().clone()
}

/// Polls `check` until it holds, for at most `limit`.
fn until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}");
}

/// A batch of sample rows against a simulator, killed mid-run and resumed.
struct Resumable {
    dir: tempfile::TempDir,
    out: std::path::PathBuf,
    /// The command line, the same for the killed run and the next.
    args: Vec<String>,
}

impl Resumable {
    /// `rows` rows, `batch` run with `extra` flags against `sim`.
    fn new(sim: &Sim, rows: usize, extra: &[&str]) -> Resumable {
        let dir = tempdir();
        let manifest = manifest(dir.path(), rows);
        let out = dir.path().join("videos");
        let args = with_sim(sim, batch(&manifest, &out, extra));
        Resumable { dir, out, args }
    }

    /// Starts the batch and kills it (SIGKILL: no clean-up of any kind)
    /// once `ready` holds, within `limit`.
    fn kill_when(&self, limit: Duration, what: &str, ready: impl FnMut() -> bool) {
        let mut killed = spawn_logged(
            self.dir.path(),
            &self.args,
            &self.dir.path().join("killed.log"),
        );
        until(limit, what, ready);
        killed.kill().unwrap();
        killed.wait().unwrap();
    }

    /// The next run, with the same command line.
    fn resume(&self) -> super::Run {
        run(self.dir.path(), &self.args)
    }

    /// The journal's rows, or none while there is no journal yet.
    fn rows(&self) -> Vec<Value> {
        journal_rows_if_any(self.dir.path(), &self.out)
    }
}

#[test]
fn a_row_left_sending_is_adopted_from_a_list_that_lags_20_s() {
    // The create makes its task and answers 3 s later; the list shows a task
    // only 20 s after it was made.
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            rate_create_late: 1.0,
            create_late_by: Duration::from_secs(3),
            list_lag: Duration::from_secs(20),
            ..Faults::none()
        },
    );
    let batch = Resumable::new(&sim, 1, &[]);
    batch.kill_when(
        Duration::from_secs(20),
        "the create reached the service",
        || sim.handle.stats().creates_accepted == 1,
    );
    // At once: the task is not in the list yet, and will not be for 20 s.
    let resumed = batch.resume();
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(
        resumed.stderr.contains("made by the last run's create"),
        "{resumed:?}"
    );
    assert_eq!(
        sim.handle.stats().creates_accepted,
        1,
        "one task for one row"
    );
}

#[test]
fn a_list_cut_to_its_oldest_page_never_has_a_row_paid_twice() {
    // The list shows only the account's two oldest tasks, and two tasks made
    // elsewhere (not in the journal) fill that page: a task this batch makes
    // never shows in it. Creates make their task and answer 2 s later.
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            rate_create_late: 1.0,
            create_late_by: Duration::from_secs(2),
            list_cap: Some(ListCap {
                max: 2,
                newest: false,
            }),
            ..Faults::none()
        },
    );
    let batch = Resumable::new(&sim, 1, &["--list-grace", "1"]);
    let image = sample_image();
    for _ in 0..2 {
        let elsewhere = sim.run(
            batch.dir.path(),
            &["generate", "--image", image.to_str().unwrap(), "--no-wait"],
        );
        assert_eq!(elsewhere.code, 0, "{elsewhere:?}");
    }
    batch.kill_when(
        Duration::from_secs(20),
        "the batch's create reached the service",
        || sim.handle.stats().creates_accepted == 3,
    );
    // Its task is made but never listed: absent from a list that shows no
    // task made after it proves nothing.
    let resumed = batch.resume();
    assert_eq!(resumed.code, 3, "the row is uncertain: {resumed:?}");
    assert_eq!(
        sim.handle.stats().creates_accepted,
        3,
        "the row was paid twice: {resumed:?}"
    );
    let rows = batch.rows();
    assert_eq!(rows[0]["state"], "uncertain", "{rows:?}");
    // Only the user's word sends it again.
    let mut resend = batch.args.clone();
    resend.push("--resend-uncertain".to_owned());
    let resent = run(batch.dir.path(), &resend);
    assert_eq!(resent.code, 0, "{resent:?}");
    assert!(
        resent.stderr.contains("sent again (--resend-uncertain)"),
        "{resent:?}"
    );
    assert_eq!(sim.handle.stats().creates_accepted, 4);
    assert_eq!(batch.rows()[0]["state"], "downloaded");
}

#[test]
fn a_row_whose_create_never_arrived_is_sent_again_once_later_creates_prove_it() {
    // Row 2's create is held by a proxy and never reaches the service; the
    // run is killed while it waits. The next run cannot prove the absence
    // before any later create shows in the list: it makes row 3 first, then
    // sends row 2 again.
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            create_hold_from: Some(2),
            create_hold_until: Some(2),
            ..Faults::none()
        },
    );
    let batch = Resumable::new(&sim, 3, &["--list-grace", "1", "--concurrency", "1"]);
    batch.kill_when(
        Duration::from_secs(30),
        "row 2's create is on its way",
        || {
            batch
                .rows()
                .iter()
                .any(|r| r["line"] == 3 && r["state"] == "sending")
        },
    );
    assert_eq!(sim.handle.stats().creates_accepted, 1);
    let resumed = batch.resume();
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(
        resumed
            .stderr
            .contains("settled after this run's other creates")
            && resumed.stderr.contains("is sent again"),
        "{resumed:?}"
    );
    let rows = batch.rows();
    assert!(rows.iter().all(|r| r["state"] == "downloaded"), "{rows:?}");
    assert_eq!(sim.handle.stats().creates_accepted, 3, "one task per row");
}

#[test]
fn a_paused_run_keeps_its_journal_and_every_row_is_made_once() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            rate_create_late: 1.0,
            create_late_by: Duration::from_secs(2),
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let manifest = manifest(dir.path(), 2);
    let out = dir.path().join("videos");
    let args = with_sim(&sim, batch(&manifest, &out, &["--list-grace", "2"]));
    let first = Killed(spawn_logged(
        dir.path(),
        &args,
        &dir.path().join("first.log"),
    ));
    let pid = first.0.id();
    until(
        Duration::from_secs(20),
        "the first create reached the service",
        || sim.handle.stats().creates_accepted == 1,
    );
    // Paused mid-create (its answer is on the way), well past any heartbeat.
    signal(pid, "STOP");
    std::thread::sleep(Duration::from_secs(4));
    let second = run(dir.path(), &args);
    signal(pid, "CONT");
    assert_eq!(
        second.code, 2,
        "the paused run keeps the journal: {second:?}"
    );
    assert!(second.stderr.contains("stopped"), "{second:?}");
    let mut first = first;
    let status = first.0.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("first.log")).unwrap();
    // Every row downloaded after at most one more run.
    if !status.success() {
        let again = run(dir.path(), &args);
        assert_eq!(again.code, 0, "{again:?}\nfirst run: {log}");
    }
    let rows = journal_rows(dir.path(), &out);
    assert!(rows.iter().all(|r| r["state"] == "downloaded"), "{rows:?}");
    assert_eq!(
        sim.handle.stats().creates_accepted,
        2,
        "one task per row: {log}"
    );
}

#[test]
fn a_row_never_gets_the_task_of_an_uncertain_row() {
    // Row A's create acts and answers 502 while the list lags (A ends
    // uncertain); row B's create is held and never reaches the service.
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            rate_create_gateway_error: 1.0,
            create_gateway_statuses: vec![502],
            list_lag: Duration::from_secs(5),
            create_hold_from: Some(2),
            ..Faults::none()
        },
    );
    let batch = Resumable::new(&sim, 2, &["--list-grace", "1", "--concurrency", "1"]);
    batch.kill_when(Duration::from_secs(30), "row B is being sent", || {
        let rows = batch.rows();
        let sending =
            rows.len() == 2 && rows[0]["state"] == "uncertain" && rows[1]["state"] == "sending";
        if sending {
            // Well into its create.
            std::thread::sleep(Duration::from_millis(300));
        }
        sending
    });
    // Until row A's task shows in the list: the one unclaimed task there.
    std::thread::sleep(Duration::from_secs(5));
    let resumed = batch.resume();
    assert_ne!(resumed.code, 0, "{resumed:?}");
    let rows = batch.rows();
    assert_eq!(
        rows[1]["task_id"],
        Value::Null,
        "row B was given row A's task: {rows:?}"
    );
    assert_eq!(rows[1]["state"], "uncertain", "{rows:?}");
    assert_eq!(sim.handle.stats().creates_accepted, 1);
}

#[test]
fn a_create_answered_524_after_acting_may_exist_and_is_made_once() {
    let faults = || Faults {
        rate_create_gateway_error: 1.0,
        create_gateway_statuses: vec![524],
        ..Faults::none()
    };
    let sim = Sim::start(Duration::from_millis(300), faults());
    let dir = tempdir();
    let image = sample_image();
    let generate = run(
        dir.path(),
        &sim.args(&[
            "--json",
            "generate",
            "--image",
            image.to_str().unwrap(),
            "--no-wait",
        ]),
    );
    assert_eq!(generate.code, 3, "{generate:?}");
    let report: Value = serde_json::from_str(generate.stdout.trim())
        .or_else(|_| serde_json::from_str(generate.stderr.trim()))
        .unwrap_or_else(|e| panic!("{e}: {generate:?}"));
    assert_eq!(report["may_exist"], true, "{report}");

    let sim = Sim::start(Duration::from_millis(300), faults());
    let manifest = manifest(dir.path(), 1);
    let out = dir.path().join("videos");
    let args = with_sim(&sim, batch(&manifest, &out, &["--list-grace", "2"]));
    let first = run(dir.path(), &args);
    if first.code != 0 {
        let second = run(dir.path(), &args);
        assert_eq!(second.code, 0, "{first:?}\n{second:?}");
    }
    assert_eq!(sim.handle.stats().creates_accepted, 1, "1 task for 1 row");
    let rows = journal_rows(dir.path(), &out);
    assert_eq!(rows[0]["state"], "downloaded", "{rows:?}");
}

#[test]
fn a_long_retry_after_stops_generate_and_the_batch_soon() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            create_retry_after: Some(3600),
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let image = sample_image();
    let started = Instant::now();
    let generate = run(
        dir.path(),
        &sim.args(&["generate", "--image", image.to_str().unwrap()]),
    );
    assert_eq!(generate.code, 3, "{generate:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    let manifest = manifest(dir.path(), 2);
    let out = dir.path().join("videos");
    let args = with_sim(&sim, batch(&manifest, &out, &[]));
    let started = Instant::now();
    let batch = run(dir.path(), &args);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_ne!(batch.code, 0, "{batch:?}");
    assert!(batch.stderr.contains("stopped creating"), "{batch:?}");
    let rows = journal_rows(dir.path(), &out);
    assert!(rows.iter().all(|r| r["state"] == "pending"), "{rows:?}");
}

#[test]
fn rows_refused_for_credits_are_made_once_the_account_is_topped_up() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            credits: Some(1),
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let manifest = manifest(dir.path(), 3);
    let out = dir.path().join("videos");
    let args = with_sim(&sim, batch(&manifest, &out, &["--concurrency", "1"]));
    let refused = run(dir.path(), &args);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(refused.stderr.contains("402"), "{refused:?}");
    let rows = journal_rows(dir.path(), &out);
    let pending = rows.iter().filter(|r| r["state"] == "pending").count();
    assert_eq!(
        pending, 2,
        "refused rows are not sent, not failed: {rows:?}"
    );

    sim.handle.add_credits(10);
    let again = run(dir.path(), &args);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(sim.handle.stats().creates_accepted, 3, "one task each");
    let rows = journal_rows(dir.path(), &out);
    assert!(rows.iter().all(|r| r["state"] == "downloaded"), "{rows:?}");
}

#[test]
fn the_key_can_come_from_a_file_and_never_from_argv() {
    let sim = Sim::quick();
    let dir = tempdir();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{}\n", super::KEY)).unwrap();
    let url = sim.url();
    let listed = run(
        dir.path(),
        &[
            "--base-url",
            &url,
            "--api-key-file",
            key_file.to_str().unwrap(),
            "list",
        ],
    );
    assert_eq!(listed.code, 0, "{listed:?}");
    let missing = run(
        dir.path(),
        &[
            "--base-url",
            &url,
            "--api-key-file",
            "/nonexistent/key",
            "list",
        ],
    );
    assert_eq!(missing.code, 2, "{missing:?}");
}

#[test]
fn ctrl_c_during_the_create_lets_it_answer_and_names_the_task() {
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            rate_create_late: 1.0,
            create_late_by: Duration::from_secs(2),
            ..Faults::none()
        },
    );
    let dir = tempdir();
    let image = sample_image();
    let args = sim.args(&["--json", "generate", "--image", image.to_str().unwrap()]);
    let log = dir.path().join("generate.log");
    let child = super::command(dir.path())
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    until(
        Duration::from_secs(20),
        "the create reached the service",
        || sim.handle.stats().creates_accepted == 1,
    );
    signal(child.id(), "INT");
    let output = child.wait_with_output().unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(output.status.code(), Some(130), "{said}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let task = report["task_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{report}"));
    assert!(said.contains(&format!("freepik-wan wait {task}")), "{said}");
    assert_eq!(sim.handle.stats().creates_accepted, 1);
}

#[test]
fn every_kind_of_model_makes_a_video_from_the_command_line() {
    let dir = tempdir();
    let kinds: [&[&str]; 4] = [
        &[
            "--model",
            "text-to-video/wan-2-7",
            "--prompt",
            "a lighthouse at dawn",
        ],
        &[
            "--model",
            "image-to-video/wan-v2-6-720p",
            "--image",
            "https://example.com/cat.jpg",
            "--prompt",
            "the cat yawns",
        ],
        &[
            "--model",
            "reference-to-video/wan-2-7",
            "--prompt",
            "Image 1 plays the piano",
            "--reference",
            "https://example.com/p.jpg,voice=https://example.com/v.wav",
        ],
        &[
            "--model",
            "video-edit/wan-2-7",
            "--video",
            "https://example.com/clip.mp4",
            "--prompt",
            "make it snow",
        ],
    ];
    for (i, kind) in kinds.iter().enumerate() {
        let file = format!("{i}.mp4");
        let mut args = vec!["--json", "generate", "--simulate", "--out", &file];
        args.extend_from_slice(kind);
        let done = run(dir.path(), &args);
        assert_eq!(done.code, 0, "{kind:?}: {done:?}");
        assert_eq!(done.json()["status"], "COMPLETED", "{kind:?}");
        super::assert_mp4(&dir.path().join(&file));
    }
    // A local file for a URL-only model: uploaded, then sent as its URL
    // (it used to be refused: 14 of 17 models took URLs only).
    let image = sample_image();
    let uploaded = run(
        dir.path(),
        &[
            "generate",
            "--simulate",
            "--model",
            "image-to-video/wan-2-7",
            "--image",
            image.to_str().unwrap(),
            "--out",
            "local.mp4",
        ],
    );
    assert_eq!(uploaded.code, 0, "{uploaded:?}");
    super::assert_mp4(&dir.path().join("local.mp4"));
}

#[test]
fn a_row_removed_after_its_task_was_made_is_named_and_the_run_ends() {
    let sim = Sim::start(Duration::from_secs(3), Faults::none());
    let dir = tempdir();
    let manifest = manifest(dir.path(), 3);
    let out = dir.path().join("videos");
    // The waits give up at once: every row is left `created`, its task paid.
    let first = run(
        dir.path(),
        &with_sim(&sim, batch(&manifest, &out, &["--timeout", "1"])),
    );
    assert_eq!(first.code, 4, "{first:?}");
    let rows = journal_rows(dir.path(), &out);
    let last = rows.iter().find(|r| r["line"] == 4).expect("line 4")["task_id"]
        .as_str()
        .expect("a task")
        .to_owned();
    // The last row is removed from the manifest.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let kept: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&manifest, kept.join("\n") + "\n").unwrap();
    let args = with_sim(&sim, batch(&manifest, &out, &["--json", "--quiet"]));
    // Every run ends, and names the removed row's task every time.
    for _ in 0..2 {
        let run = run(dir.path(), &args);
        assert_eq!(run.code, 0, "{run:?}");
        let summary = run.json();
        assert_eq!(summary["downloaded"], 2, "{summary}");
        assert_eq!(summary["pending"], 0, "{summary}");
        let removed = &summary["removed"][0];
        assert_eq!(removed["line"], 4, "{summary}");
        assert_eq!(removed["task_id"], last.as_str(), "{summary}");
        let command = removed["command"].as_str().unwrap();
        assert!(
            command.starts_with(&format!("freepik-wan wait {last}")),
            "{command}"
        );
        assert!(command.contains("--out"), "{command}");
        assert!(run.stderr.contains(&last), "not on stderr with -q: {run:?}");
    }
    assert_eq!(sim.handle.stats().creates_accepted, 3, "paid once each");
}

#[test]
fn a_row_inserted_at_the_top_is_refused_saying_how_to_keep_what_was_made() {
    let sim = Sim::start(Duration::from_secs(3), Faults::none());
    let dir = tempdir();
    let manifest = manifest(dir.path(), 3);
    let out = dir.path().join("videos");
    let first = run(
        dir.path(),
        &with_sim(&sim, batch(&manifest, &out, &["--timeout", "1"])),
    );
    assert_eq!(first.code, 4, "{first:?}");
    let made: Vec<String> = journal_rows(dir.path(), &out)
        .iter()
        .map(|r| r["task_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(made.len(), 3);
    // A new row at the top moves every other row down a line.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let new_row = format!("{},a new row,99\n", sample_image().display());
    std::fs::write(&manifest, format!("{header}\n{new_row}{rows}")).unwrap();
    let args = with_sim(&sim, batch(&manifest, &out, &["--json"]));
    let refused = run(dir.path(), &args);
    assert_eq!(refused.code, 2, "{refused:?}");
    let said = refused.json();
    let error = said["error"].as_str().unwrap();
    assert!(error.contains("at the end"), "{error}");
    assert!(error.contains("line 3 is what line 2 was"), "{error}");
    for id in &made {
        assert!(error.contains(&format!("freepik-wan wait {id}")), "{error}");
    }
    let tasks = said["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3, "{said}");
    assert_eq!(sim.handle.stats().creates_accepted, 3, "nothing was sent");
    // Following the advice: the new row at the end instead. Only it is paid.
    std::fs::write(&manifest, format!("{header}\n{rows}{new_row}")).unwrap();
    let run = run(dir.path(), &args);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["downloaded"], 4);
    assert_eq!(
        sim.handle.stats().creates_accepted,
        4,
        "the old rows paid again"
    );
}

#[test]
fn a_row_removed_while_its_create_was_in_flight_is_adopted_named_and_the_run_ends() {
    // Each create makes its task and answers 3 s later.
    let sim = Sim::start(
        Duration::from_millis(300),
        Faults {
            rate_create_late: 1.0,
            create_late_by: Duration::from_secs(3),
            ..Faults::none()
        },
    );
    let batch = Resumable::new(&sim, 2, &["--json", "--list-grace", "3"]);
    // Killed while the last row's create is made but not yet answered.
    batch.kill_when(
        Duration::from_secs(30),
        "the last row's create reached the service",
        || sim.handle.stats().creates_accepted == 2,
    );
    // Then the last row is blanked out of the manifest.
    let manifest = batch.dir.path().join("manifest.csv");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "";
    std::fs::write(&manifest, lines.join("\n") + "\n").unwrap();
    for _ in 0..2 {
        let run = batch.resume();
        assert_eq!(run.code, 0, "{run:?}");
        let summary = run.json();
        assert_eq!(summary["downloaded"], 1, "{summary}");
        let removed = &summary["removed"][0];
        assert_eq!(removed["line"], 3, "{summary}");
        let id = removed["task_id"].as_str().expect("the adopted task");
        assert!(run.stderr.contains(id), "{run:?}");
    }
    assert_eq!(sim.handle.stats().creates_accepted, 2, "paid once each");
}
