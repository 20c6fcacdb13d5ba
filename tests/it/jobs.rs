//! `freepik_wan::jobs` against a real PostgreSQL the tests start, and the
//! simulator: replicas sharing one store, webhooks delivered twice at once,
//! leases that lapse, creates whose answer was lost, a connection killed
//! mid-transaction, the server crashed and restarted; and the
//! multi-replica example run as a program.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use freepik_wan::jobs::{
    Delivery, Finished, JobError, JobState, JobStore, Jobs, JobsConfig, Settled,
};
use freepik_wan::postgres::{Database, tokio_postgres};
use freepik_wan::reqwest::header::{HeaderMap, HeaderValue};
use freepik_wan::webhook::{Verifier, WebhookSecret};
use freepik_wan::{Client, Model, RateLimit, RetryPolicy, VideoRequest};
use freepik_wan_sim::{Faults, SimHandle, Simulator};
use freepik_wan_tests::pg::Cluster;

/// How many times the handler ran, by job.
type Runs = Arc<Mutex<HashMap<i64, u32>>>;

fn client_for(sim: &SimHandle) -> Client {
    Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .rate_limit(RateLimit::none())
        .timeout(Duration::from_secs(10))
        .uncertain_grace(Duration::from_millis(200))
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(50)),
        )
        .build()
        .unwrap()
}

fn config(owner: &str) -> JobsConfig {
    JobsConfig {
        owner: owner.into(),
        lease: Duration::from_secs(2),
        sweep_after: Duration::from_secs(60),
        retry_after: Duration::from_millis(200),
        reconcile_every: Duration::from_millis(200),
        poll_every: Duration::from_millis(100),
        ..JobsConfig::default()
    }
}

/// A replica whose handler counts its runs.
async fn replica(url: &str, sim: &SimHandle, config: JobsConfig, runs: &Runs) -> Jobs {
    let runs = runs.clone();
    replica_with(url, sim, config, move |done: Finished| {
        let runs = runs.clone();
        async move {
            *runs.lock().unwrap().entry(done.job).or_default() += 1;
            Ok::<(), String>(())
        }
    })
    .await
}

async fn replica_with<F, Fut>(url: &str, sim: &SimHandle, config: JobsConfig, handler: F) -> Jobs
where
    F: Fn(Finished) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let store = JobStore::open(Database::from_url(url).unwrap())
        .await
        .unwrap();
    Jobs::with_config(
        store,
        client_for(sim),
        Verifier::new(sim.webhook_secret()),
        config,
        handler,
    )
}

fn text_to_video(n: usize) -> VideoRequest {
    let model: Model = "text-to-video/wan-2-7".parse().unwrap();
    model.request().prompt(format!("video {n}"))
}

/// A webhook request as the service signs it.
fn webhook(sim: &SimHandle, id: &str, task: &str, status: &str) -> (HeaderMap, Vec<u8>) {
    let body = serde_json::json!({
        "task_id": task,
        "status": status,
        "generated": ["https://cdn.example/video.mp4"],
    })
    .to_string()
    .into_bytes();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = WebhookSecret::new(sim.webhook_secret())
        .sign(id, now, &body)
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::from_str(id).unwrap());
    headers.insert("webhook-timestamp", HeaderValue::from(now));
    headers.insert(
        "webhook-signature",
        HeaderValue::from_str(&signature).unwrap(),
    );
    (headers, body)
}

async fn state(jobs: &Jobs, id: i64) -> JobState {
    jobs.store().job(id).await.unwrap().state
}

/// Waits until job `id` is in `want`.
async fn until_state(jobs: &Jobs, id: i64, want: JobState) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while state(jobs, id).await != want {
        assert!(Instant::now() < deadline, "job {id} never got to {want}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (at most `limit`) until every job of `ids` has ended.
async fn until_final(jobs: &Jobs, ids: &[i64], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let mut all = true;
        for id in ids {
            all &= jobs
                .store()
                .job(*id)
                .await
                .is_ok_and(|j| j.state.is_final());
        }
        if all {
            return;
        }
        if Instant::now() > deadline {
            let rows = jobs.store().jobs().await;
            panic!("jobs {ids:?} did not end within {limit:?}: {rows:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sim(processing: Duration, faults: Faults) -> SimHandle {
    Simulator::builder()
        .processing_time(processing)
        .faults(faults)
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_webhook_delivered_to_two_replicas_at_once_runs_the_handler_once() {
    let url = Cluster::shared().database("jobs_twice");
    let sim = sim(Duration::from_secs(60), Faults::none()).await;
    let runs = Runs::default();
    let a = replica(&url, &sim, config("a"), &runs).await;
    let b = replica(&url, &sim, config("b"), &runs).await;
    let mut jobs = Vec::new();
    for n in 0..8 {
        let id = a.enqueue(text_to_video(n)).await.unwrap();
        assert_eq!(b.send_one().await.unwrap(), Some(id));
        jobs.push(id);
    }
    for (n, id) in jobs.iter().enumerate() {
        let task = a.store().job(*id).await.unwrap().task_id.unwrap();
        let (headers, body) = webhook(&sim, &format!("msg_{n}"), &task, "COMPLETED");
        // The same delivery on both replicas at the same moment.
        let (da, db) = tokio::join!(a.webhook(&headers, &body), b.webhook(&headers, &body));
        let mut both = [da.unwrap(), db.unwrap()];
        both.sort_by_key(|d| format!("{d:?}"));
        assert_eq!(
            both,
            [Delivery::Claimed { job: *id }, Delivery::Duplicate],
            "job {id}: one replica claims it, the other sees the webhook-id again"
        );
    }
    until_final(&a, &jobs, Duration::from_secs(10)).await;
    // Later repeats, on either replica: nothing more.
    for (n, id) in jobs.iter().enumerate() {
        let task = a.store().job(*id).await.unwrap().task_id.unwrap();
        let (headers, body) = webhook(&sim, &format!("msg_{n}"), &task, "COMPLETED");
        assert_eq!(
            b.webhook(&headers, &body).await.unwrap(),
            Delivery::Duplicate
        );
        assert_eq!(
            a.webhook(&headers, &body).await.unwrap(),
            Delivery::Duplicate
        );
        // A new webhook-id for an end already handled claims nothing.
        let (headers, body) = webhook(&sim, &format!("again_{n}"), &task, "COMPLETED");
        assert_eq!(
            a.webhook(&headers, &body).await.unwrap(),
            Delivery::NotWaiting
        );
        assert_eq!(state(&a, *id).await, JobState::Done);
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(
        runs,
        jobs.iter().map(|id| (*id, 1)).collect(),
        "each handler ran once"
    );
    assert_eq!(a.store().webhooks_seen().await.unwrap(), 16);
    assert_eq!(sim.stats().creates_accepted, 8);
    // A forged delivery is refused and records nothing.
    let (headers, mut body) = webhook(&sim, "forged", "x", "COMPLETED");
    body.push(b' ');
    assert!(matches!(
        a.webhook(&headers, &body).await,
        Err(JobError::Sdk(_))
    ));
    assert_eq!(a.store().webhooks_seen().await.unwrap(), 16);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finishing_worker_whose_lease_lapsed_cannot_write() {
    let url = Cluster::shared().database("jobs_fence");
    let sim = sim(Duration::from_millis(200), Faults::none()).await;
    let runs = Runs::default();
    // Replica a stalls: its heartbeat is slower than its lease (a paused
    // process), and its handler ends late, failing.
    let stalled = JobsConfig {
        lease: Duration::from_secs(1),
        heartbeat_every: Some(Duration::from_secs(60)),
        sweep_after: Duration::ZERO,
        ..config("a")
    };
    let a = replica_with(&url, &sim, stalled, |_done| async {
        tokio::time::sleep(Duration::from_millis(3500)).await;
        Err("a gave up".to_string())
    })
    .await;
    let b = replica(
        &url,
        &sim,
        JobsConfig {
            sweep_after: Duration::ZERO,
            ..config("b")
        },
        &runs,
    )
    .await;
    let id = a.enqueue(text_to_video(1)).await.unwrap();
    assert_eq!(a.send_one().await.unwrap(), Some(id));
    tokio::time::sleep(Duration::from_millis(400)).await; // the task ends
    let stalled = tokio::spawn({
        let a = a.clone();
        async move { a.sweep_one().await }
    });
    until_state(&b, id, JobState::Finishing).await; // a has claimed it
    tokio::time::sleep(Duration::from_millis(1300)).await; // a's lease lapses
    assert_eq!(
        b.sweep_one().await.unwrap(),
        Some(id),
        "b takes the job over"
    );
    assert_eq!(state(&b, id).await, JobState::Done);
    let late = stalled.await.unwrap();
    let job = b.store().job(id).await.unwrap();
    assert_eq!(
        job.state,
        JobState::Done,
        "a's failure did not undo b's end: {job:?}"
    );
    assert!(
        matches!(late, Err(JobError::LeaseLost { job }) if job == id),
        "a's late write is refused: {late:?}"
    );
    assert_eq!(job.owner, None);
    assert_eq!(job.error, None);
    assert_eq!(job.fence, 3, "claims: send, a's finish, b's finish");
    assert_eq!(runs.lock().unwrap().get(&id), Some(&1));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_whose_answer_was_lost_is_settled_by_another_replica_and_never_sent_again() {
    let url = Cluster::shared().database("jobs_uncertain");
    let sim = sim(
        Duration::from_millis(300),
        Faults {
            rate_create_gateway_error: 1.0,
            ..Faults::none()
        },
    )
    .await;
    let runs = Runs::default();
    let settle = JobsConfig {
        sweep_after: Duration::ZERO,
        ..config("b")
    };
    let a = replica(&url, &sim, config("a"), &runs).await;
    let b = replica(&url, &sim, settle, &runs).await;
    // A task the key already had: in the baseline, never taken for this create's.
    sim.add_completed_task("text-to-video/wan-2-7").unwrap();
    let id = a.enqueue(text_to_video(1)).await.unwrap();
    assert_eq!(a.send_one().await.unwrap(), Some(id));
    let job = a.store().job(id).await.unwrap();
    assert_eq!(job.state, JobState::Uncertain, "{job:?}");
    assert_eq!(sim.stats().creates_accepted, 1);
    sim.calm();
    // Another replica settles it from the list: the one task made.
    let made = sim.stats().tasks_made[0].clone();
    let settled = b.reconcile_one().await.unwrap();
    assert_eq!(settled, Some((id, Settled::Adopted(made.clone()))));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !state(&b, id).await.is_final() && Instant::now() < deadline {
        b.run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let job = b.store().job(id).await.unwrap();
    assert_eq!(job.state, JobState::Done, "{job:?}");
    assert_eq!(job.task_id.as_deref(), Some(made.as_str()));
    assert_eq!(sim.stats().creates_accepted, 1, "never sent again");
    assert_eq!(runs.lock().unwrap().get(&id), Some(&1));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_stalled_mid_create_loses_the_job_to_one_that_adopts_its_task() {
    let url = Cluster::shared().database("jobs_stalled");
    // The create makes its task at once and answers 3 s later.
    let sim = sim(
        Duration::from_millis(300),
        Faults {
            rate_create_late: 1.0,
            create_late_by: Duration::from_secs(3),
            ..Faults::none()
        },
    )
    .await;
    let runs = Runs::default();
    let stalled = JobsConfig {
        lease: Duration::from_secs(1),
        heartbeat_every: Some(Duration::from_secs(60)),
        ..config("a")
    };
    let a = replica(&url, &sim, stalled, &runs).await;
    let b = replica(&url, &sim, config("b"), &runs).await;
    let id = a.enqueue(text_to_video(1)).await.unwrap();
    let sending = tokio::spawn({
        let a = a.clone();
        async move { a.send_one().await }
    });
    until_state(&b, id, JobState::Sending).await; // its create is on the wire
    tokio::time::sleep(Duration::from_millis(1300)).await; // a's lease lapses
    assert_eq!(state(&b, id).await, JobState::Sending);
    // a's lease lapsed with its create on the wire: b takes the job as an
    // uncertain create, and finds the task a's create made.
    let made = sim.stats().tasks_made[0].clone();
    let settled = b.reconcile_one().await.unwrap();
    assert_eq!(settled, Some((id, Settled::Adopted(made.clone()))));
    let late = sending.await.unwrap();
    assert!(
        matches!(late, Err(JobError::LeaseLost { job }) if job == id),
        "a's record of its create is refused: {late:?}"
    );
    let job = b.store().job(id).await.unwrap();
    assert_eq!(job.state, JobState::Created);
    assert_eq!(job.task_id.as_deref(), Some(made.as_str()));
    assert_eq!(job.fence, 2);
    assert_eq!(sim.stats().creates_accepted, 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handler_that_panics_is_run_again_and_the_worker_goes_on() {
    let url = Cluster::shared().database("jobs_panic");
    let sim = sim(Duration::from_millis(200), Faults::none()).await;
    let runs = Runs::default();
    let counted = runs.clone();
    let a = replica_with(
        &url,
        &sim,
        JobsConfig {
            sweep_after: Duration::ZERO,
            ..config("a")
        },
        move |done: Finished| {
            let runs = counted.clone();
            async move {
                let n = {
                    let mut runs = runs.lock().unwrap();
                    let n = runs.entry(done.job).or_default();
                    *n += 1;
                    *n
                };
                assert!(n > 1, "the first run of each handler panics");
                Ok::<(), String>(())
            }
        },
    )
    .await;
    let ids = [
        a.enqueue(text_to_video(1)).await.unwrap(),
        a.enqueue(text_to_video(2)).await.unwrap(),
    ];
    let worker = tokio::spawn(a.clone().run());
    until_final(&a, &ids, Duration::from_secs(10)).await;
    assert!(!worker.is_finished(), "the worker goes on");
    worker.abort();
    for id in ids {
        let job = a.store().job(id).await.unwrap();
        assert_eq!(job.state, JobState::Done, "{job:?}");
        assert_eq!(job.attempts, 1, "one failed run: {job:?}");
        assert_eq!(runs.lock().unwrap().get(&id), Some(&2));
    }
    sim.shutdown().await;
}

/// The backend of the statement waiting on a lock, once there is one.
async fn waiting_backend(monitor: &tokio_postgres::Client) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = monitor
            .query_opt(
                "SELECT pid FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE freepik_wan_jobs%'",
                &[],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            return row.get(0);
        }
        assert!(Instant::now() < deadline, "no statement waits on the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_killed_mid_transaction_loses_nothing_and_the_replica_reconnects() {
    let url = Cluster::shared().database("jobs_kill");
    let sim = sim(Duration::from_secs(60), Faults::none()).await;
    let runs = Runs::default();
    let a = replica(&url, &sim, config("a"), &runs).await;
    let id = a.enqueue(text_to_video(1)).await.unwrap();
    a.send_one().await.unwrap();
    let task = a.store().job(id).await.unwrap().task_id.unwrap();

    // The test holds the job's row, so that the delivery's transaction
    // stops half-way (its webhook-id written, its claim waiting), and kills
    // its connection there.
    let database = Database::from_url(&url).unwrap();
    let mut holder = database.connect().await.unwrap();
    let monitor = database.connect().await.unwrap();
    let hold = holder.transaction().await.unwrap();
    hold.execute(
        "SELECT 1 FROM freepik_wan_jobs WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await
    .unwrap();
    let (headers, body) = webhook(&sim, "msg_1", &task, "COMPLETED");
    let delivery = tokio::spawn({
        let (a, headers, body) = (a.clone(), headers.clone(), body.clone());
        async move { a.webhook(&headers, &body).await }
    });
    let pid = waiting_backend(&monitor).await;
    monitor
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let failed = delivery.await.unwrap();
    assert!(
        matches!(&failed, Err(e) if e.is_connection_lost()),
        "a typed, lost-connection error (answer 5xx): {failed:?}"
    );
    hold.rollback().await.unwrap();
    // Nothing of the delivery stayed: its sender's retry is handled.
    assert_eq!(a.store().webhooks_seen().await.unwrap(), 0);
    assert_eq!(
        a.webhook(&headers, &body).await.unwrap(),
        Delivery::Claimed { job: id },
        "the replica reconnected, and the retried delivery claims the job"
    );
    until_final(&a, &[id], Duration::from_secs(10)).await;
    assert_eq!(state(&a, id).await, JobState::Done);
    assert_eq!(runs.lock().unwrap().get(&id), Some(&1));
    assert_eq!(sim.stats().creates_accepted, 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_crashed_and_restarted_mid_run_pays_nothing_twice_and_loses_nothing() {
    let cluster = Cluster::start();
    let url = cluster.database("jobs_crash");
    let sim = sim(Duration::from_millis(500), Faults::none()).await;
    let runs = Runs::default();
    let quick = |owner| JobsConfig {
        sweep_after: Duration::from_millis(300),
        ..config(owner)
    };
    let a = replica(&url, &sim, quick("a"), &runs).await;
    let b = replica(&url, &sim, quick("b"), &runs).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(a.enqueue(text_to_video(n)).await.unwrap());
    }
    let workers = [tokio::spawn(a.clone().run()), tokio::spawn(b.clone().run())];
    // Mid-run: once the first creates are made.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.stats().creates_accepted < 2 {
        assert!(Instant::now() < deadline, "no create was made");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.crash();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(a.store().jobs().await.unwrap_err().is_connection_lost());
    cluster.restart();
    until_final(&a, &ids, Duration::from_secs(20)).await;
    for worker in workers {
        worker.abort();
    }
    let rows = a.store().jobs().await.unwrap();
    assert!(rows.iter().all(|j| j.state == JobState::Done), "{rows:#?}");
    let tasks: std::collections::HashSet<_> = rows.iter().map(|j| j.task_id.clone()).collect();
    assert_eq!(tasks.len(), 6, "six jobs, six tasks");
    assert_eq!(sim.stats().creates_accepted, 6, "nothing paid twice");
    let runs = runs.lock().unwrap().clone();
    // At least once each; twice only for a handler whose end the crash cut.
    assert!(
        ids.iter().all(|id| runs.get(id).is_some_and(|n| *n >= 1)),
        "{runs:?}"
    );
    sim.shutdown().await;
}

/// The newest modification time of the `.rs` files under `dir`.
fn newest_source(dir: &std::path::Path) -> std::time::SystemTime {
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let time = if path.is_dir() {
            newest_source(&path)
        } else if path.extension().is_some_and(|e| e == "rs") {
            std::fs::metadata(&path).unwrap().modified().unwrap()
        } else {
            continue;
        };
        newest = newest.max(time);
    }
    newest
}

/// The multi-replica example, run as a program on a fresh database: two
/// replicas, one webhook delivered to both at once, one lost. `cargo test
/// --workspace` builds it (the tests crate turns on freepik-wan's
/// `postgres` feature); a run of this binary alone builds it when it is
/// missing or older than the library's and the example's sources.
#[test]
fn the_multi_replica_example_runs_on_postgres() {
    let exe = std::env::current_exe().unwrap();
    let examples = exe.parent().unwrap().parent().unwrap().join("examples");
    let example = examples.join(format!("multi_replica{}", std::env::consts::EXE_SUFFIX));
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/freepik-wan");
    let built = std::fs::metadata(&example).and_then(|m| m.modified());
    let written = newest_source(&sdk.join("src")).max(newest_source(&sdk.join("examples")));
    if !built.is_ok_and(|b| b >= written) {
        // Cargo holds no lock while tests run.
        let status = std::process::Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args(["build", "-p", "freepik-wan", "--features", "postgres"])
            .args(["--example", "multi_replica"])
            .status()
            .unwrap();
        assert!(status.success(), "building the example failed");
    }
    let url = Cluster::shared().database("jobs_example");
    let out = std::process::Command::new(&example)
        .arg(&url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the example failed:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
    for want in [
        "handler ran 1 time(s)",
        "webhook: Claimed",
        "webhook: Duplicate",
    ] {
        assert!(stdout.contains(want), "no {want:?} in:\n{stdout}");
    }
    assert_eq!(stdout.matches("): done, task").count(), 2, "{stdout}");
    assert_eq!(
        stdout.matches("handler ran 1 time(s)").count(),
        2,
        "{stdout}"
    );
    // Job two's webhooks were lost: the sweep finished it.
    let cluster = Cluster::shared();
    let db = url.rsplit('/').next().unwrap();
    let two_task = cluster.psql(
        db,
        "SELECT task_id FROM freepik_wan_jobs WHERE data = '\"two\"'",
    );
    let two_hooks = cluster.psql(
        db,
        &format!("SELECT count(*) FROM freepik_wan_webhooks WHERE task_id = '{two_task}'"),
    );
    assert_eq!(two_hooks, "0", "job two got no webhook");
}
