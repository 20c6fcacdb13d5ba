//! The pipeline phase: many tasks, a fixed number at a time, each create →
//! wait → download, against a simulator that enforces Freepik's published
//! rate limits (250 requests in any 5 s, 1,200 in any 2 minutes, per key).
//!
//! Two cases: 150 tasks bound by processing (8 s each, 50 at a time), and
//! 1,000 tasks bound by the 2-minute window (1.5 s each, 50 at a time: the
//! tasks could go faster than the window lets them). Each runs, in the same
//! run, through the SDK with shared waiting (its defaults), the SDK with
//! webhooks handed to `Client::deliver`, `freepik-wan batch`, and the SDK at
//! the old fixed pace (9 requests/s, bursts of 20) for comparison.
//!
//! Each is measured against its ideal: the larger of what processing allows
//! (rounds of `concurrency` tasks, each `processing` long) and what both
//! windows allow for the fewest requests a task can cost (the instant the
//! windows, at their full published budgets, let the last of those requests
//! through when sent as early as possible).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use axum::body::Bytes as Body;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use freepik_wan::webhook::Verifier;
use freepik_wan::{Client, RateLimit, TaskId};
use freepik_wan_sim::{SimHandle, Simulator};
use freepik_wan_tests::{SIM_VIDEO, png};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

use crate::{Options, Row, emit, percentile, sorted};

/// Freepik's published windows: (requests, seconds).
const WINDOWS: [(usize, f64); 2] = [(250, 5.0), (1200, 120.0)];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The SDK's defaults: paced by the windows, one poller for all waits.
    Polling,
    /// The SDK's defaults with webhooks delivered to the client.
    Webhooks,
    /// `freepik-wan batch` (polling; creates one at a time).
    Batch,
    /// The SDK polling as before, at the old fixed pace.
    OldPace,
}

impl Mode {
    const ALL: [Mode; 4] = [Mode::Polling, Mode::Webhooks, Mode::Batch, Mode::OldPace];

    /// Its name for `--modes`.
    fn name(self) -> &'static str {
        match self {
            Mode::Polling => "sdk",
            Mode::Webhooks => "webhooks",
            Mode::Batch => "batch",
            Mode::OldPace => "old",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Mode::Polling => "SDK, shared waiting (defaults)",
            Mode::Webhooks => "SDK, webhooks + client.deliver",
            Mode::Batch => "freepik-wan batch",
            Mode::OldPace => "old fixed pace (9/s, bursts of 20), shared waiting",
        }
    }

    /// The fewest API requests a task can cost: the create, and (without
    /// webhooks) the fetch that returns the video URL.
    fn min_requests(self) -> usize {
        match self {
            Mode::Webhooks => 1,
            _ => 2,
        }
    }

    /// The goal on wall time over the ideal; none for the old pace.
    fn goal(self) -> Option<f64> {
        match self {
            Mode::Webhooks => Some(1.05),
            Mode::OldPace => None,
            _ => Some(1.1),
        }
    }
}

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    tasks: usize,
    concurrency: usize,
    processing: Duration,
}

struct Run {
    wall: Duration,
    ok: usize,
    lost: usize,
    /// Simulator's COMPLETED → the wait returned; none for the batch.
    latencies_ms: Option<Vec<f64>>,
    api_requests: usize,
    refused_429: u64,
    creates_accepted: u64,
}

pub(crate) async fn phase(opts: &Options, rows: &mut Vec<Row>) -> Result<()> {
    let custom = opts.tasks.is_some() || opts.concurrency.is_some() || opts.processing_ms.is_some();
    let cases = if custom {
        vec![Case {
            name: "custom",
            tasks: opts.tasks.unwrap_or(150),
            concurrency: opts.concurrency.unwrap_or(50),
            processing: Duration::from_millis(opts.processing_ms.unwrap_or(8000)),
        }]
    } else if opts.quick {
        vec![Case {
            name: "quick, bound by processing",
            tasks: 60,
            concurrency: 20,
            processing: Duration::from_secs(2),
        }]
    } else {
        vec![
            Case {
                name: "bound by processing",
                tasks: 150,
                concurrency: 50,
                processing: Duration::from_secs(8),
            },
            Case {
                name: "bound by the 2-minute window",
                tasks: 1000,
                concurrency: 50,
                processing: Duration::from_millis(1500),
            },
        ]
    };
    let cli = cli_binary();
    if cli.is_none() {
        eprintln!(
            "note: no freepik-wan binary next to the bench (cargo xtask bench builds it) \
             or in FREEPIK_WAN_BIN; the batch rows are skipped"
        );
    }
    for case in cases {
        for mode in Mode::ALL {
            if opts
                .modes
                .as_ref()
                .is_some_and(|modes| !modes.iter().any(|m| m == mode.name()))
            {
                continue;
            }
            let run = match mode {
                Mode::Batch => match &cli {
                    Some(cli) => batch(cli, case).await?,
                    None => continue,
                },
                _ => sdk(mode, case).await?,
            };
            report(rows, mode, case, &run);
        }
    }
    Ok(())
}

/// The instant (in seconds from the first) at which `requests` requests,
/// each sent as early as the windows allow, have all gone out: request `i`
/// waits for request `i - budget` of every window to have left it.
pub(crate) fn windows_allow(requests: usize) -> f64 {
    let mut sent: Vec<f64> = Vec::with_capacity(requests);
    for i in 0..requests {
        let mut at = sent.last().copied().unwrap_or(0.0);
        for (budget, length) in WINDOWS {
            if let Some(j) = i.checked_sub(budget) {
                at = at.max(sent[j] + length);
            }
        }
        sent.push(at);
    }
    sent.last().copied().unwrap_or(0.0)
}

fn report(rows: &mut Vec<Row>, mode: Mode, case: Case, run: &Run) {
    let Case {
        tasks,
        concurrency,
        processing,
        ..
    } = case;
    let label = mode.label();
    let by_processing = processing.as_secs_f64() * tasks.div_ceil(concurrency) as f64;
    let by_windows = windows_allow(mode.min_requests() * tasks);
    let ideal = by_processing.max(by_windows);
    let wall = run.wall.as_secs_f64();
    let ratio = wall / ideal;
    let what = format!(
        "{tasks} tasks ({}), {concurrency} at a time, {:.1} s processing; {label}",
        case.name,
        processing.as_secs_f64()
    );
    emit(
        rows,
        Row {
            measure: what.clone(),
            value: format!(
                "{wall:.1} s, {} lost, {} × 429, {} creates accepted",
                run.lost, run.refused_429, run.creates_accepted
            ),
            baseline: format!(
                "{ideal:.1} s ideal (max of processing {by_processing:.0} s, windows {by_windows:.0} s)"
            ),
            ratio: format!("{ratio:.3}×"),
            goal: mode
                .goal()
                .map_or("report".into(), |g| format!("≤ {g}×, 0 lost, 0 × 429")),
            met: mode
                .goal()
                .map(|g| ratio <= g && run.lost == 0 && run.refused_429 == 0),
        },
        json!({"case": case.name, "mode": label, "tasks": tasks, "concurrency": concurrency,
               "processing_ms": processing.as_millis() as u64, "wall_s": wall,
               "ideal_s": ideal, "ideal_by_processing_s": by_processing,
               "ideal_by_windows_s": by_windows, "ratio": ratio, "ok": run.ok, "lost": run.lost,
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
            measure: format!("API requests per task; {what}"),
            value: format!("{per_task:.2} ({} requests)", run.api_requests),
            baseline: format!("{} (the fewest a task can cost)", mode.min_requests()),
            ratio: format!("{:.3}×", per_task / mode.min_requests() as f64),
            goal: format!("≤ {goal}"),
            met: mode.goal().map(|_| per_task <= goal),
        },
        json!({"case": case.name, "mode": label, "api_requests": run.api_requests,
               "per_task": per_task}),
    );
    let Some(latencies) = &run.latencies_ms else {
        return;
    };
    let (p50, p95, max) = (
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
        percentile(latencies, 1.0),
    );
    let goal_ms = match mode {
        Mode::Webhooks => 200.0,
        _ => 2000.0,
    };
    emit(
        rows,
        Row {
            measure: format!("completion noticed (COMPLETED → wait returns); {what}"),
            value: format!("p50 {p50:.0} ms, p95 {p95:.0} ms, max {max:.0} ms"),
            baseline: "simulator's COMPLETED instant".into(),
            ratio: format!("{:.3}× of the goal", p95 / goal_ms),
            goal: format!("p95 ≤ {goal_ms:.0} ms"),
            met: mode.goal().map(|_| p95 <= goal_ms),
        },
        json!({"case": case.name, "mode": label, "latency_ms_p50": p50,
               "latency_ms_p95": p95, "latency_ms_max": max}),
    );
}

async fn simulator(processing: Duration) -> Result<SimHandle> {
    Ok(Simulator::builder()
        .processing_time(processing)
        .rate_limit(freepik_wan_sim::RateLimit::freepik())
        .start()
        .await?)
}

fn count(sim: &SimHandle, wall: Duration, ok: usize, lost: usize) -> Run {
    let stats = sim.stats();
    Run {
        wall,
        ok,
        lost,
        latencies_ms: None,
        api_requests: stats.api_requests(),
        refused_429: stats.responses().get(&429).copied().unwrap_or(0),
        creates_accepted: stats.creates_accepted,
    }
}

async fn sdk(mode: Mode, case: Case) -> Result<Run> {
    let sim = simulator(case.processing).await?;
    let mut builder = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url());
    if mode == Mode::OldPace {
        builder = builder.rate_limit(RateLimit::per_second(9).burst(20));
    }
    let client = builder.build()?;
    let hook = match mode {
        Mode::Webhooks => Some(receiver(client.clone(), sim.webhook_secret()).await?),
        _ => None,
    };
    let dir = tempfile::tempdir()?;
    let image = Bytes::from(png(640, 360, 48 << 10));
    let started = Instant::now();
    let results: Vec<Result<(TaskId, Instant)>> = stream::iter(0..case.tasks)
        .map(|i| {
            let (client, image, hook) = (client.clone(), image.clone(), hook.clone());
            let path = dir.path().join(format!("{i}.mp4"));
            async move {
                let task = client.image_to_video(image).set_webhook_url(hook).await?;
                let done = client.wait(&task.id).await?;
                let returned = Instant::now();
                let saved = client.download(&done, &path).await?;
                ensure!(saved.bytes == SIM_VIDEO.len() as u64, "short download");
                Ok((task.id, returned))
            }
        })
        .buffer_unordered(case.concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
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
    let mut run = count(&sim, wall, ok, lost);
    run.latencies_ms = Some(sorted(latencies_ms));
    sim.shutdown().await;
    Ok(run)
}

/// The `freepik-wan` binary: `FREEPIK_WAN_BIN`, or the one built next to
/// this bench (`cargo xtask bench` builds both).
pub(crate) fn cli_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FREEPIK_WAN_BIN") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let sibling = exe.parent()?.join("freepik-wan");
    sibling.is_file().then_some(sibling)
}

/// `freepik-wan batch` of `case.tasks` rows, `--concurrency` as the case
/// says, against a fresh simulator.
async fn batch(cli: &Path, case: Case) -> Result<Run> {
    let sim = simulator(case.processing).await?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("image.png"), png(640, 360, 48 << 10))?;
    let manifest = dir.path().join("manifest.csv");
    let mut rows = String::from("image,prompt\n");
    for i in 0..case.tasks {
        rows.push_str(&format!("image.png,row {i}\n"));
    }
    std::fs::write(&manifest, rows)?;
    let out = dir.path().join("out");
    let mut command = Command::new(cli);
    command
        .args(["--base-url", &sim.base_url(), "--api-key", sim.api_key()])
        .args(["-q", "--json", "batch"])
        .arg(&manifest)
        .arg("--out-dir")
        .arg(&out)
        .args(["--concurrency", &case.concurrency.to_string()]);
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("running freepik-wan batch")?;
    let wall = started.elapsed();
    let summary: Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "freepik-wan batch printed no JSON: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let ok = summary["downloaded"].as_u64().unwrap_or(0) as usize;
    if !output.status.success() {
        eprintln!("lost (batch): {summary}");
    }
    let run = count(&sim, wall, ok, case.tasks - ok.min(case.tasks));
    sim.shutdown().await;
    Ok(run)
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

#[cfg(test)]
mod tests {
    use super::windows_allow;

    #[test]
    fn the_windows_ideal_is_the_instant_the_last_request_may_go() {
        assert_eq!(windows_allow(250), 0.0);
        assert_eq!(windows_allow(251), 5.0);
        // 1,200 by 20 s, then nothing until the first leave the 2-minute
        // window: 800 more at 120..135 s.
        assert_eq!(windows_allow(1200), 20.0);
        assert_eq!(windows_allow(1201), 120.0);
        assert_eq!(windows_allow(2000), 135.0);
    }
}
