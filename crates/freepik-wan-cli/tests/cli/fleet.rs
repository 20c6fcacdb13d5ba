//! Batches on a PostgreSQL journal shared by several workers (feature
//! `postgres`), against a real server the tests start (`tests/src/pg.rs`)
//! and the simulator enforcing the service's real rate windows.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use freepik_wan_sim::{Faults, RateLimit, Simulator};
use serde_json::Value;

use super::{Sim, manifest, run, spawn_logged, tempdir};
use freepik_wan_tests::pg::Cluster;

/// Distinctive, so that finding it in any output means it leaked.
const PASSWORD: &str = "pg-pass-7e1d9b";

/// The simulator with the real windows (250 per 5 s, 1,200 per 2 min).
fn limited_sim(processing: Duration) -> Sim {
    sim_with(processing, Faults::none(), None)
}

/// The simulator with the real windows, `faults`, and videos of `video_size`.
fn sim_with(processing: Duration, faults: Faults, video_size: Option<u64>) -> Sim {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut builder = Simulator::builder()
        .api_key(super::KEY)
        .processing_time(processing)
        .faults(faults)
        .rate_limit(RateLimit::freepik());
    if let Some(bytes) = video_size {
        builder = builder.video_size(bytes);
    }
    let handle = runtime.block_on(builder.start()).expect("simulator starts");
    Sim {
        handle,
        _runtime: runtime,
    }
}

/// The URL with a password the (trusting) cluster ignores.
fn with_password(url: &str) -> String {
    url.replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1)
}

/// `n` workers started at once, each with its own `--out-dir` and log.
struct Workers {
    outs: Vec<PathBuf>,
    logs: Vec<PathBuf>,
    children: Vec<Child>,
}

impl Workers {
    /// Starts `n` workers; `args` gives a worker's arguments for its out-dir.
    fn spawn(dir: &Path, n: usize, args: impl Fn(&Path) -> Vec<String>) -> Workers {
        let outs: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("videos-{i}"))).collect();
        let logs: Vec<PathBuf> = (0..n)
            .map(|i| dir.join(format!("worker-{i}.log")))
            .collect();
        let children = (0..n)
            .map(|i| spawn_logged(dir, &args(&outs[i]), &logs[i]))
            .collect();
        Workers {
            outs,
            logs,
            children,
        }
    }

    /// Waits for every worker from `first` on to exit 0.
    fn assert_finish(&mut self, first: usize, within: Duration) {
        for (i, worker) in self.children.iter_mut().enumerate().skip(first) {
            let code = wait_exit(worker, within);
            assert_eq!(code, Some(0), "worker {i}: {}", log_text(&self.logs[i]));
        }
    }

    /// Waits for every worker to exit; each that did not finish (and none
    /// may, unless `may_finish`) must say why it stopped.
    fn assert_stop_saying_why(&mut self, may_finish: bool) {
        for (i, worker) in self.children.iter_mut().enumerate() {
            let code = wait_exit(worker, Duration::from_secs(30));
            let log = log_text(&self.logs[i]);
            if code == Some(0) && may_finish {
                continue;
            }
            assert_ne!(code, Some(0), "worker {i} cannot have finished: {log}");
            assert!(
                log.contains("cannot be reached") || log.contains("was not renewed in time"),
                "worker {i} says why it stopped: {log}"
            );
        }
    }
}

fn worker_args(sim: &Sim, manifest: &Path, out: &Path, journal: &str) -> Vec<String> {
    sim.args(&[
        "batch",
        manifest.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--journal",
        journal,
        "--fleet",
        "3",
        "--worker-lease",
        "3",
        "--concurrency",
        "8",
        "--list-grace",
        "3",
    ])
}

fn wait_creates(sim: &Sim, at_least: u64, within: Duration) {
    let deadline = Instant::now() + within;
    while sim.handle.stats().creates_accepted < at_least {
        assert!(
            Instant::now() < deadline,
            "only {} creates",
            sim.handle.stats().creates_accepted
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");
    assert!(!text.contains(super::KEY), "the key leaked: {text}");
    text
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a worker did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `batch status --journal URL --json`, checked for the password.
fn status(dir: &Path, journal: &str) -> Value {
    let ran = run(dir, &["--json", "batch", "status", "--journal", journal]);
    assert!(
        !ran.stdout.contains(PASSWORD) && !ran.stderr.contains(PASSWORD),
        "the password leaked: {ran:?}"
    );
    ran.ok().json()
}

/// Every row downloaded, each into a file that is there, with its own task.
fn assert_all_downloaded(status: &Value, rows: usize) {
    let entries = status["entries"].as_array().unwrap();
    assert_eq!(entries.len(), rows, "{status}");
    let mut tasks = std::collections::HashSet::new();
    for e in entries {
        assert_eq!(e["state"], "downloaded", "{e}");
        super::assert_mp4(&PathBuf::from(e["file"].as_str().unwrap()));
        assert!(e["worker"].is_string(), "which worker wrote it: {e}");
        assert!(
            tasks.insert(e["task_id"].as_str().unwrap().to_owned()),
            "{e}"
        );
    }
}

fn responses_429(sim: &Sim) -> u64 {
    sim.handle
        .stats()
        .status_counts
        .get(&429)
        .copied()
        .unwrap_or(0)
}

/// Done when: three workers on one 60-row manifest, one SIGKILLed mid-run;
/// the two survivors finish every row, the killed one's included: 60
/// creates, 60 videos, 0 × 429, and a rerun makes no create.
#[test]
fn three_workers_one_killed_the_survivors_finish_every_row() {
    let cluster = Cluster::shared();
    let journal = with_password(&cluster.database("fleet_kill"));
    let sim = limited_sim(Duration::from_millis(600));
    let dir = tempdir();
    let manifest = manifest(dir.path(), 60);
    let mut workers = Workers::spawn(dir.path(), 3, |out| {
        worker_args(&sim, &manifest, out, &journal)
    });
    wait_creates(&sim, 15, Duration::from_secs(30));
    // Mid-run, while the fleet's seats are all held.
    let mid = status(dir.path(), &journal);
    assert_eq!(mid["fleet"]["seats"], 3, "{mid}");
    assert!(!mid["workers"].as_array().unwrap().is_empty(), "{mid}");
    workers.children[0].kill().unwrap();
    workers.children[0].wait().unwrap();
    workers.assert_finish(1, Duration::from_secs(60));
    for log in &workers.logs {
        log_text(log);
    }
    let stats = sim.handle.stats();
    assert_eq!(stats.creates_accepted, 60, "one create per row");
    assert_eq!(responses_429(&sim), 0, "{:?}", stats.status_counts);
    let after = status(dir.path(), &journal);
    assert_all_downloaded(&after, 60);
    // A rerun finds nothing to do.
    let again = dir.path().join("again.log");
    let mut rerun = spawn_logged(
        dir.path(),
        &worker_args(&sim, &manifest, &workers.outs[1], &journal),
        &again,
    );
    assert_eq!(
        wait_exit(&mut rerun, Duration::from_secs(30)),
        Some(0),
        "{}",
        log_text(&again)
    );
    assert_eq!(
        sim.handle.stats().creates_accepted,
        60,
        "the rerun made no create"
    );
}

/// Done when: PostgreSQL killed and restarted mid-batch: the workers stop
/// with a clear error (or wait), and a rerun ends with N creates for N rows
/// and N videos.
#[test]
fn postgres_killed_mid_batch_a_rerun_pays_once_per_row() {
    let cluster = Cluster::start();
    let journal = with_password(&cluster.database("fleet_crash"));
    let sim = limited_sim(Duration::from_millis(600));
    let dir = tempdir();
    let rows = 30;
    let manifest = manifest(dir.path(), rows);
    let mut workers = Workers::spawn(dir.path(), 2, |out| {
        worker_args(&sim, &manifest, out, &journal)
    });
    wait_creates(&sim, 8, Duration::from_secs(30));
    cluster.crash();
    workers.assert_stop_saying_why(false);
    cluster.restart();
    let again = dir.path().join("again.log");
    let mut rerun = spawn_logged(
        dir.path(),
        &worker_args(&sim, &manifest, &workers.outs[0], &journal),
        &again,
    );
    assert_eq!(
        wait_exit(&mut rerun, Duration::from_secs(60)),
        Some(0),
        "{}",
        log_text(&again)
    );
    assert_eq!(
        sim.handle.stats().creates_accepted,
        rows as u64,
        "one create per row"
    );
    assert_eq!(responses_429(&sim), 0);
    assert_all_downloaded(&status(dir.path(), &journal), rows);
}

/// The password may come from a file, and `postgresql://` is a PostgreSQL
/// URL too; status names the database without any password and shows the
/// fleet's seats; on a database without a journal it says so and makes
/// none.
#[test]
fn status_reads_a_shared_journal_and_never_shows_a_password() {
    let cluster = Cluster::shared();
    let url = cluster.database("fleet_status");
    let db = url.rsplit('/').next().unwrap();
    let dir = tempdir();
    let secret = dir.path().join("pw");
    std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    let journal = format!("postgresql://postgres@127.0.0.1:{}/{db}", cluster.port());
    // No journal there yet: status says so, and creates nothing there.
    let missing = run(
        dir.path(),
        &["batch", "status", "--journal", &with_password(&url)],
    );
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(
        missing.stderr.contains("holds no batch journal"),
        "{missing:?}"
    );
    assert!(
        !missing.stdout.contains(PASSWORD) && !missing.stderr.contains(PASSWORD),
        "{missing:?}"
    );
    assert_eq!(
        cluster.psql(db, "SELECT to_regclass('batch_rows') IS NULL"),
        "t",
        "status made no tables"
    );
    // A one-row batch on one seat makes the journal.
    let sim = Sim::quick();
    let manifest = manifest(dir.path(), 1);
    let mut args = worker_args(&sim, &manifest, &dir.path().join("v"), &journal);
    let at = args.iter().position(|a| a == "--fleet").unwrap();
    args[at + 1] = "1".to_owned();
    run(dir.path(), &args).ok();
    let ran = run(
        dir.path(),
        &[
            "--json",
            "batch",
            "status",
            "--journal",
            &journal,
            "--journal-password-file",
            secret.to_str().unwrap(),
        ],
    );
    assert!(
        !ran.stdout.contains(PASSWORD) && !ran.stderr.contains(PASSWORD),
        "{ran:?}"
    );
    let shown = ran.ok().json();
    assert_eq!(shown["entries"].as_array().unwrap().len(), 1, "{shown}");
    assert_eq!(shown["fleet"]["seats"], 1, "{shown}");
    assert!(shown["journal"].as_str().unwrap().contains(db), "{shown}");
    // The plain table, with the password in the URL.
    let plain = run(
        dir.path(),
        &["batch", "status", "--journal", &with_password(&url)],
    );
    assert!(
        !plain.stdout.contains(PASSWORD) && !plain.stderr.contains(PASSWORD),
        "{plain:?}"
    );
    assert!(plain.stdout.contains("fleet: 1 seats"), "{plain:?}");
    // A worker asking for another number of seats than the journal's is
    // refused before anything is sent.
    args[at + 1] = "2".to_owned();
    let refused = run(dir.path(), &args);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("has 1 seats, not the 2"),
        "{refused:?}"
    );
    assert_eq!(
        sim.handle.stats().creates_accepted,
        1,
        "the first batch's only"
    );
}

/// Runs one worker to its end; its exit code and log.
fn one_worker(
    sim: &Sim,
    dir: &Path,
    manifest: &Path,
    out: &Path,
    journal: &str,
) -> (Option<i32>, String) {
    let log = dir.join(format!(
        "{}.log",
        out.file_name().unwrap().to_string_lossy()
    ));
    let mut child = spawn_logged(dir, &worker_args(sim, manifest, out, journal), &log);
    let code = wait_exit(&mut child, Duration::from_secs(60));
    (code, log_text(&log))
}

/// A worker SIGKILLed while its create is out (the service made the task;
/// its answer had not come back): the next worker takes the row over once
/// the lease lapses and adopts that task by the proof rule. One create per
/// row.
#[test]
fn a_worker_killed_mid_create_is_taken_over_without_paying_twice() {
    let cluster = Cluster::shared();
    let journal = cluster.database("fleet_mid_create");
    let faults = Faults {
        rate_create_late: 1.0,
        create_late_by: Duration::from_millis(1500),
        ..Faults::none()
    };
    let sim = sim_with(Duration::from_millis(300), faults, None);
    let dir = tempdir();
    let manifest = manifest(dir.path(), 4);
    let first_out = dir.path().join("first");
    let log = dir.path().join("first.log");
    let mut first = spawn_logged(
        dir.path(),
        &worker_args(&sim, &manifest, &first_out, &journal),
        &log,
    );
    // The first create is made; its answer is 1.5 s away.
    wait_creates(&sim, 1, Duration::from_secs(20));
    first.kill().unwrap();
    first.wait().unwrap();
    let (code, said) = one_worker(
        &sim,
        dir.path(),
        &manifest,
        &dir.path().join("second"),
        &journal,
    );
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("adopted task"), "{said}");
    assert_eq!(
        sim.handle.stats().creates_accepted,
        4,
        "one create per row: {said}"
    );
    assert_all_downloaded(&status(dir.path(), &journal), 4);
}

/// A worker SIGKILLed while it downloads: the next one fetches the videos
/// into its own directory, from the tasks already made.
#[test]
fn a_worker_killed_mid_download_is_taken_over_without_creating_again() {
    let cluster = Cluster::shared();
    let journal = cluster.database("fleet_mid_download");
    let faults = Faults {
        download_bytes_per_sec: Some(100_000),
        ..Faults::none()
    };
    let sim = sim_with(Duration::from_millis(200), faults, Some(300_000));
    let dir = tempdir();
    let manifest = manifest(dir.path(), 3);
    let first_out = dir.path().join("first");
    let log = dir.path().join("first.log");
    let mut first = spawn_logged(
        dir.path(),
        &worker_args(&sim, &manifest, &first_out, &journal),
        &log,
    );
    wait_creates(&sim, 3, Duration::from_secs(20));
    // Each download takes 3 s: the first ones are under way.
    std::thread::sleep(Duration::from_millis(1500));
    first.kill().unwrap();
    first.wait().unwrap();
    let second_out = dir.path().join("second");
    let (code, said) = one_worker(&sim, dir.path(), &manifest, &second_out, &journal);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(
        sim.handle.stats().creates_accepted,
        3,
        "no create again: {said}"
    );
    let after = status(dir.path(), &journal);
    assert_all_downloaded(&after, 3);
    for e in after["entries"].as_array().unwrap() {
        let file = PathBuf::from(e["file"].as_str().unwrap());
        assert!(
            file.starts_with(&second_out),
            "the second worker wrote it: {e}"
        );
    }
}

/// The database ends every session of the workers mid-batch (as a failover
/// or an administrator would, whatever transaction they were in): they stop
/// with a clear error, and a rerun ends with one create per row and every
/// video.
#[test]
fn connections_dropped_mid_batch_a_rerun_pays_once_per_row() {
    let cluster = Cluster::shared();
    let journal = cluster.database("fleet_dropped");
    let db = journal.rsplit('/').next().unwrap().to_owned();
    let sim = limited_sim(Duration::from_millis(600));
    let dir = tempdir();
    let rows = 20;
    let manifest = manifest(dir.path(), rows);
    let mut workers = Workers::spawn(dir.path(), 2, |out| {
        worker_args(&sim, &manifest, out, &journal)
    });
    wait_creates(&sim, 6, Duration::from_secs(30));
    let ended = cluster.psql(
        &db,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name LIKE 'freepik-wan batch %' AND datname = current_database()",
    );
    assert!(ended.parse::<u32>().unwrap() >= 2, "{ended}");
    workers.assert_stop_saying_why(true);
    let (code, said) = one_worker(&sim, dir.path(), &manifest, &workers.outs[0], &journal);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(
        sim.handle.stats().creates_accepted,
        rows as u64,
        "one create per row"
    );
    assert_all_downloaded(&status(dir.path(), &journal), rows);
}

/// One budget for the fleet: three workers on 300 rows, enough for their
/// creates alone to pass 250 requests in 5 s if each paced itself at the
/// whole limit, stay inside the simulator's real windows together: each
/// holds one of the 3 seats and paces at a third. 0 × 429.
#[test]
fn three_workers_share_the_rate_limit_and_meet_no_429() {
    let cluster = Cluster::shared();
    let journal = cluster.database("fleet_budget");
    let sim = limited_sim(Duration::from_millis(500));
    let dir = tempdir();
    let rows = 300;
    let manifest = manifest(dir.path(), rows);
    let started = Instant::now();
    let mut workers = Workers::spawn(dir.path(), 3, |out| {
        let mut args = worker_args(&sim, &manifest, out, &journal);
        let at = args.iter().position(|a| a == "--concurrency").unwrap();
        args[at + 1] = "32".to_owned();
        args
    });
    workers.assert_finish(0, Duration::from_secs(120));
    let stats = sim.handle.stats();
    eprintln!(
        "300 rows, 3 workers: {:.1}s, {} API requests, {:?}",
        started.elapsed().as_secs_f64(),
        stats.api_requests_total,
        stats.status_counts
    );
    assert_eq!(stats.creates_accepted, rows as u64);
    assert_eq!(responses_429(&sim), 0, "{:?}", stats.status_counts);
}

/// A worker paused (SIGSTOP) past its lease: another takes its rows over
/// and ends its sessions; resumed, it finds itself cut off and stops
/// without writing or paying for anything: every row is made once.
#[test]
fn a_paused_worker_is_fenced_off_and_its_rows_are_made_once() {
    let cluster = Cluster::shared();
    let journal = cluster.database("fleet_paused");
    let sim = limited_sim(Duration::from_millis(1500));
    let dir = tempdir();
    let rows = 12;
    let manifest = manifest(dir.path(), rows);
    let logs = [dir.path().join("paused.log"), dir.path().join("other.log")];
    let mut paused = spawn_logged(
        dir.path(),
        &worker_args(&sim, &manifest, &dir.path().join("paused"), &journal),
        &logs[0],
    );
    wait_creates(&sim, 3, Duration::from_secs(20));
    let pid = paused.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut other = spawn_logged(
        dir.path(),
        &worker_args(&sim, &manifest, &dir.path().join("other"), &journal),
        &logs[1],
    );
    let code = wait_exit(&mut other, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{}", log_text(&logs[1]));
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let code = wait_exit(&mut paused, Duration::from_secs(30));
    let said = log_text(&logs[0]);
    assert_ne!(code, Some(0), "{said}");
    assert_eq!(
        sim.handle.stats().creates_accepted,
        rows as u64,
        "one create per row: {said}"
    );
    assert_all_downloaded(&status(dir.path(), &journal), rows);
}

/// The manifest's fingerprints are kept: a worker with another manifest on
/// the same journal is refused (exit 2, nothing sent), and leaves no seat
/// or worker behind.
#[test]
fn a_different_manifest_on_a_shared_journal_is_refused() {
    let cluster = Cluster::shared();
    let journal = with_password(&cluster.database("fleet_changed"));
    let sim = Sim::quick();
    let dir = tempdir();
    let first = manifest(dir.path(), 2);
    let ran = run(
        dir.path(),
        &worker_args(&sim, &first, &dir.path().join("a"), &journal),
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let other = dir.path().join("other.csv");
    std::fs::write(
        &other,
        format!(
            "image,prompt\n{},something else\n",
            super::sample_image().display()
        ),
    )
    .unwrap();
    let refused = run(
        dir.path(),
        &worker_args(&sim, &other, &dir.path().join("b"), &journal),
    );
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("asks for something else"),
        "{refused:?}"
    );
    assert!(!refused.stderr.contains(PASSWORD), "{refused:?}");
    assert_eq!(sim.handle.stats().creates_accepted, 2, "nothing sent");
    let shown = status(dir.path(), &journal);
    assert_eq!(shown["workers"].as_array().unwrap().len(), 0, "{shown}");
}
