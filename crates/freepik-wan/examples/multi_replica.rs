//! Several replicas behind a load balancer, sharing their jobs through
//! PostgreSQL ([`freepik_wan::jobs`]): a task's webhook reaches any one of
//! them, so no replica waits in-process. The pattern:
//!
//! 1. **Enqueue** on any replica: the request is checked and stored.
//! 2. **Work**, on every replica ([`Jobs::run`]): a worker claims a queued
//!    job (`FOR UPDATE SKIP LOCKED`, a lease with a heartbeat, a fencing
//!    token), uploads its inputs and creates it. A create whose answer was
//!    lost is never sent again: any replica reconciles it from the task list.
//! 3. **Webhook**, on whichever replica gets it ([`Jobs::webhook`]): verify,
//!    record the `webhook-id` in the store, claim the job (one winner), run
//!    the handler; answer at once.
//! 4. **Sweep** (also in [`Jobs::run`]): a job whose webhook never came is
//!    finished from its task (`Client::task`).
//!
//! A deadline never cancels a task (Magnific has no cancel: it runs on and
//! is charged), so nothing here gives up on one.
//!
//! This demo runs two replicas in one process against the simulator, on the
//! PostgreSQL database named by the first argument or `DATABASE_URL`. Job
//! `one`'s webhooks go through a "load balancer" that hands every delivery
//! to **both** replicas at the same moment (as a sender's retry landing on
//! another replica would); job `two`'s webhooks are lost, so that the sweep
//! finishes it. It exits non-zero unless each job ended `done` with its
//! handler run exactly once.
//!
//! ```sh
//! cargo run -p freepik-wan --features postgres --example multi_replica -- postgres://localhost/jobs
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use freepik_wan::jobs::{JobState, JobStore, Jobs, JobsConfig};
use freepik_wan::postgres::Database;
use freepik_wan::webhook::Verifier;
use freepik_wan::{Client, Model, RateLimit};
use freepik_wan_sim::Simulator;

/// How many times the handler ran for each job, across both replicas.
type Runs = Arc<Mutex<HashMap<i64, u32>>>;

/// One replica: its own client and job system over the shared database.
async fn replica(
    name: &'static str,
    database: &Database,
    base_url: &str,
    key: &str,
    secret: &str,
    out: &std::path::Path,
    runs: Runs,
) -> Result<Jobs, Box<dyn std::error::Error>> {
    let store = JobStore::open(database.clone()).await?;
    let client = Client::builder()
        .api_key(key)
        .base_url(base_url)
        .rate_limit(RateLimit::none())
        .build()?;
    let config = JobsConfig {
        owner: format!("replica-{name}"),
        lease: Duration::from_secs(5),
        sweep_after: Duration::from_secs(4),
        retry_after: Duration::from_secs(1),
        reconcile_every: Duration::from_secs(1),
        poll_every: Duration::from_millis(200),
        ..JobsConfig::default()
    };
    let out = out.to_path_buf();
    let downloader = client.clone();
    let jobs = Jobs::with_config(store, client, Verifier::new(secret), config, move |done| {
        let (client, out, runs) = (downloader.clone(), out.clone(), runs.clone());
        async move {
            *runs.lock().unwrap().entry(done.job).or_default() += 1;
            // Named by the job, written atomically: a second run (after a
            // crash mid-handler) only writes the same file again.
            let saved = client
                .download(&done.task, out.join(format!("job-{}.mp4", done.job)))
                .await?;
            println!(
                "[{name}] handler: job {} ({}) saved to {}",
                done.job,
                done.data,
                saved.path.display()
            );
            Ok::<(), freepik_wan::Error>(())
        }
    });
    tokio::spawn(jobs.clone().run());
    Ok(jobs)
}

/// The load balancer of job `one`: every delivery goes to both replicas at
/// the same moment.
async fn both(
    State(replicas): State<Arc<[(&'static str, Jobs); 2]>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let [(a, jobs_a), (b, jobs_b)] = &*replicas;
    let (da, db) = tokio::join!(
        jobs_a.webhook(&headers, &body),
        jobs_b.webhook(&headers, &body)
    );
    for (name, delivery) in [(a, da), (b, db)] {
        match delivery {
            Ok(delivery) => println!("[{name}] webhook: {delivery:?}"),
            Err(error) => {
                println!("[{name}] webhook refused: {error}");
                return StatusCode::UNAUTHORIZED;
            }
        }
    }
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .ok_or("name the PostgreSQL database: an argument or DATABASE_URL")?;
    let database = Database::from_url(&url)?;
    println!("jobs in {database}"); // never shows the password

    let sim = Simulator::builder()
        .processing_time(Duration::from_secs(2))
        .start()
        .await?;
    let out = tempfile::tempdir()?;
    let runs = Runs::default();
    let (key, secret) = (sim.api_key(), sim.webhook_secret());
    let a = replica(
        "a",
        &database,
        &sim.base_url(),
        key,
        secret,
        out.path(),
        runs.clone(),
    )
    .await?;
    let b = replica(
        "b",
        &database,
        &sim.base_url(),
        key,
        secret,
        out.path(),
        runs.clone(),
    )
    .await?;

    let lb = Router::new()
        .route("/webhooks/magnific", post(both))
        .with_state(Arc::new([("a", a.clone()), ("b", b.clone())]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let lb_url = format!("http://{}/webhooks/magnific", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, lb).await });

    // Enqueued on replica a; sent by whichever replica's worker claims it.
    // Job one's image is bytes here: stored with the job, uploaded by the
    // worker that sends it.
    let i2v: Model = "image-to-video/wan-2-7".parse()?;
    let t2v: Model = "text-to-video/wan-2-7".parse()?;
    let image = include_bytes!("../../../assets/sample.jpg").to_vec();
    let one = a
        .enqueue_with(
            i2v.request()
                .image(image)
                .prompt("the camera slowly pushes in")
                .webhook_url(&lb_url),
            serde_json::json!("one"),
        )
        .await?;
    let two = a
        .enqueue_with(
            t2v.request()
                .prompt("a lighthouse at dusk")
                .webhook_url("http://127.0.0.1:9/lost"),
            serde_json::json!("two"),
        )
        .await?;
    println!("enqueued job one: {one}, job two: {two}");

    let deadline = Instant::now() + Duration::from_secs(40);
    let mut ended = false;
    while !ended && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        ended = true;
        for id in [one, two] {
            ended &= a.store().job(id).await.is_ok_and(|j| j.state.is_final());
        }
    }
    let mut ok = true;
    for (name, id) in [("one", one), ("two", two)] {
        let job = a.store().job(id).await?;
        let ran = runs.lock().unwrap().get(&id).copied().unwrap_or(0);
        println!(
            "job {name} ({id}): {}, task {}, handler ran {ran} time(s)",
            job.state,
            job.task_id.as_deref().unwrap_or("-")
        );
        ok &= job.state == JobState::Done && ran == 1;
    }
    sim.shutdown().await;
    if !ok {
        return Err("a job did not end done with its handler run exactly once".into());
    }
    Ok(())
}
