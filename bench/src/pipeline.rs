//! The pipeline phase: many tasks, a fixed number at a time, each create →
//! wait → download, against a simulator that enforces Freepik's published
//! rate limits (50/s over 5 s, 10/s over 2 minutes, per key).
//!
//! Three clients, same run: the old way (every wait polling its own task,
//! no pacing), the SDK's shared waiting at its defaults, and the SDK's
//! webhook-driven waits (a verified webhook handed to `Client::deliver`).

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use axum::body::Bytes as Body;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use freepik_wan::webhook::Verifier;
use freepik_wan::{Client, Error, RateLimit, Task, TaskId, TaskStatus};
use freepik_wan_sim::Simulator;
use freepik_wan_tests::{SIM_VIDEO, png};
use futures_util::{StreamExt, stream};
use serde_json::json;

use crate::{Options, Row, emit, percentile, sorted};

/// The 2-minute limit's average: what any client can sustain.
const LIMIT_PER_SECOND: f64 = 10.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// v1 of this SDK: each wait polls its own task (1 s growing to 2 s),
    /// nothing paces the calls.
    PerTaskPolling,
    /// The SDK's defaults: paced, one poller for all waits.
    SharedWaiting,
    /// The SDK's defaults with webhooks delivered to the client.
    Webhooks,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::PerTaskPolling => "old: per-task polling, unpaced",
            Mode::SharedWaiting => "shared waiting, paced (defaults)",
            Mode::Webhooks => "webhooks + client.deliver, paced (defaults)",
        }
    }

    /// The fewest API requests a task can cost: the create, and (without
    /// webhooks) the fetch that returns the video URL.
    fn min_requests(self) -> f64 {
        match self {
            Mode::Webhooks => 1.0,
            _ => 2.0,
        }
    }
}

struct Run {
    wall: Duration,
    ok: usize,
    lost: usize,
    latencies_ms: Vec<f64>,
    api_requests: usize,
    refused_429: u64,
    creates_accepted: u64,
}

pub(crate) async fn phase(opts: &Options, rows: &mut Vec<Row>) -> Result<()> {
    let tasks = opts.tasks.unwrap_or(if opts.quick { 100 } else { 1000 });
    let concurrency = opts.concurrency.unwrap_or(50);
    let processing =
        Duration::from_millis(
            opts.processing_ms
                .unwrap_or(if opts.quick { 2000 } else { 8000 }),
        );
    // The old way against the real limits takes minutes per hundred tasks
    // once the 2-minute window fills: a fifth of the tasks shows it.
    let old_tasks = (tasks / 5).max(concurrency);
    for (mode, tasks) in [
        (Mode::SharedWaiting, tasks),
        (Mode::Webhooks, tasks),
        (Mode::PerTaskPolling, old_tasks),
    ] {
        let run = pipeline(mode, tasks, concurrency, processing).await?;
        report(rows, mode, tasks, concurrency, processing, &run);
    }
    Ok(())
}

fn report(
    rows: &mut Vec<Row>,
    mode: Mode,
    tasks: usize,
    concurrency: usize,
    processing: Duration,
    run: &Run,
) {
    let label = mode.label();
    let by_processing = processing.as_secs_f64() * tasks.div_ceil(concurrency) as f64;
    let by_limit = mode.min_requests() * tasks as f64 / LIMIT_PER_SECOND;
    let ideal = by_processing.max(by_limit);
    let wall = run.wall.as_secs_f64();
    let ratio = wall / ideal;
    let sdk = mode != Mode::PerTaskPolling;
    emit(
        rows,
        Row {
            measure: format!(
                "{tasks} tasks, {concurrency} at a time, Freepik's limits enforced; {label}"
            ),
            value: format!(
                "{wall:.1} s, {} lost, {} × 429, {} creates accepted",
                run.lost, run.refused_429, run.creates_accepted
            ),
            baseline: format!(
                "{ideal:.0} s ideal (max of processing {by_processing:.0} s, limit {by_limit:.0} s)"
            ),
            ratio: format!("{ratio:.3}×"),
            goal: "≤ 1.1×, 0 lost, 0 × 429".into(),
            met: sdk.then_some(ratio <= 1.1 && run.lost == 0 && run.refused_429 == 0),
        },
        json!({"mode": label, "tasks": tasks, "concurrency": concurrency,
               "processing_ms": processing.as_millis() as u64, "wall_s": wall,
               "ideal_s": ideal, "ideal_by_processing_s": by_processing,
               "ideal_by_limit_s": by_limit, "ratio": ratio, "ok": run.ok, "lost": run.lost,
               "responses_429": run.refused_429, "creates_accepted": run.creates_accepted}),
    );
    let per_task = run.api_requests as f64 / tasks as f64;
    let goal = match mode {
        Mode::Webhooks => 1.3,
        _ => 2.5,
    };
    emit(
        rows,
        Row {
            measure: format!("API requests per task; {label}"),
            value: format!("{per_task:.2} ({} requests)", run.api_requests),
            baseline: format!("{:.0} (create + fetch of the URLs)", mode.min_requests()),
            ratio: format!("{:.3}×", per_task / mode.min_requests()),
            goal: format!("≤ {goal}"),
            met: sdk.then_some(per_task <= goal),
        },
        json!({"mode": label, "api_requests": run.api_requests, "per_task": per_task}),
    );
    let (p50, p95, max) = (
        percentile(&run.latencies_ms, 0.5),
        percentile(&run.latencies_ms, 0.95),
        percentile(&run.latencies_ms, 1.0),
    );
    let goal_ms = match mode {
        Mode::Webhooks => 200.0,
        _ => 2000.0,
    };
    emit(
        rows,
        Row {
            measure: format!("completion noticed (COMPLETED → wait returns); {label}"),
            value: format!("p50 {p50:.0} ms, p95 {p95:.0} ms, max {max:.0} ms"),
            baseline: "simulator's COMPLETED instant".into(),
            ratio: format!("{:.3}× of the goal", p95 / goal_ms),
            goal: format!("p95 ≤ {goal_ms:.0} ms"),
            met: sdk.then_some(p95 <= goal_ms),
        },
        json!({"mode": label, "latency_ms_p50": p50, "latency_ms_p95": p95,
               "latency_ms_max": max}),
    );
}

async fn pipeline(
    mode: Mode,
    tasks: usize,
    concurrency: usize,
    processing: Duration,
) -> Result<Run> {
    let sim = Simulator::builder()
        .processing_time(processing)
        .rate_limit(freepik_wan_sim::RateLimit::freepik())
        .start()
        .await?;
    let mut builder = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url());
    if mode == Mode::PerTaskPolling {
        builder = builder.rate_limit(RateLimit::none());
    }
    let client = builder.build()?;
    let hook = match mode {
        Mode::Webhooks => Some(receiver(client.clone(), sim.webhook_secret()).await?),
        _ => None,
    };
    let dir = tempfile::tempdir()?;
    let image = Bytes::from(png(640, 360, 48 << 10));
    let started = Instant::now();
    let results: Vec<Result<(TaskId, Instant)>> = stream::iter(0..tasks)
        .map(|i| {
            let (client, image, hook) = (client.clone(), image.clone(), hook.clone());
            let path = dir.path().join(format!("{i}.mp4"));
            async move {
                let task = client.image_to_video(image).set_webhook_url(hook).await?;
                let done = match mode {
                    Mode::PerTaskPolling => poll_alone(&client, &task.id).await?,
                    _ => client.wait(&task.id).await?,
                };
                let returned = Instant::now();
                let saved = client.download(&done, &path).await?;
                ensure!(saved.bytes == SIM_VIDEO.len() as u64, "short download");
                Ok((task.id, returned))
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
    let stats = sim.stats();
    let api_requests = stats
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .count();
    let (mut ok, mut lost, mut latencies_ms) = (0, 0, Vec::new());
    for result in results {
        match result {
            Ok((id, returned)) => {
                ok += 1;
                if let Some(completed) = sim.completed_at(id.as_str()) {
                    let late = returned.saturating_duration_since(completed);
                    latencies_ms.push(late.as_secs_f64() * 1e3);
                }
            }
            Err(err) => {
                lost += 1;
                eprintln!("lost ({}): {err:#}", mode.label());
            }
        }
    }
    let run = Run {
        wall,
        ok,
        lost,
        latencies_ms: sorted(latencies_ms),
        api_requests,
        refused_429: stats.responses().get(&429).copied().unwrap_or(0),
        creates_accepted: stats.creates_accepted,
    };
    sim.shutdown().await;
    Ok(run)
}

/// How v1 waited: its own task, 1 s growing by 1.5× to 2 s, ±10 % jitter.
async fn poll_alone(client: &Client, id: &TaskId) -> freepik_wan::Result<Task> {
    let mut interval = Duration::from_secs(1);
    loop {
        match client.task(id).await {
            Ok(task) if task.status == TaskStatus::Completed => return Ok(task),
            Ok(task) if task.status.is_terminal() => {
                return Err(Error::TaskFailed {
                    task: Box::new(task),
                });
            }
            Ok(_) => {}
            Err(err) if err.is_retryable() => {}
            Err(err) => return Err(err),
        }
        let jitter = 0.9 + 0.2 * (id.as_str().len() % 7) as f64 / 7.0;
        tokio::time::sleep(interval.mul_f64(jitter)).await;
        interval = interval.mul_f64(1.5).min(Duration::from_secs(2));
    }
}

/// A webhook endpoint that verifies each event and hands it to `client`.
async fn receiver(client: Client, secret: &str) -> Result<String> {
    let verifier = Verifier::new(secret);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Body| {
            let (client, verifier) = (client.clone(), verifier.clone());
            async move {
                match verifier.verify(&headers, &body) {
                    Ok(event) => {
                        client.deliver(&event);
                        StatusCode::NO_CONTENT
                    }
                    Err(_) => StatusCode::UNAUTHORIZED,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}
