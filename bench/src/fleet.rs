//! The shared batch journal (`freepik-wan batch --journal postgres://…`,
//! the CLI built with its `postgres` feature): the same rows on one worker
//! and on three sharing one PostgreSQL journal and one fleet budget, with
//! the simulator enforcing the real windows. Reported: wall time against
//! the windows' ideal, API requests per task, 429s, and the journal's
//! statements per row as the server counts them (`pg_stat_statements`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use freepik_wan_sim::Simulator;
use freepik_wan_tests::pg::Cluster;
use freepik_wan_tests::png;
use serde_json::{Value, json};

use crate::pipeline::{cli_binary, windows_allow};
use crate::{Options, Row, emit};

/// Tasks in flight per worker.
const CONCURRENCY: usize = 50;
const PROCESSING: Duration = Duration::from_millis(1500);

pub(crate) async fn phase(opts: &Options, rows: &mut Vec<Row>) -> Result<()> {
    let Some(cli) = cli_binary() else {
        eprintln!("note: no freepik-wan binary next to the bench; the fleet rows are skipped");
        return Ok(());
    };
    let tasks = opts.tasks.unwrap_or(if opts.quick { 120 } else { 1000 });
    for workers in [1, 3] {
        let cli = cli.clone();
        let measured = tokio::task::spawn_blocking(move || run(&cli, tasks, workers)).await??;
        report(rows, tasks, workers, &measured);
    }
    Ok(())
}

struct Measured {
    wall: Duration,
    downloaded: usize,
    api_requests: usize,
    refused_429: u64,
    creates: u64,
    statements: u64,
}

fn run(cli: &Path, tasks: usize, workers: usize) -> Result<Measured> {
    let cluster = Cluster::start();
    cluster.psql(
        "postgres",
        "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'",
    );
    cluster.crash();
    cluster.restart();
    let url = cluster.database("bench_fleet");
    let db = url.rsplit('/').next().unwrap_or_default().to_owned();
    cluster.psql(&db, "CREATE EXTENSION pg_stat_statements");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sim = runtime.block_on(
        Simulator::builder()
            .processing_time(PROCESSING)
            .rate_limit(freepik_wan_sim::RateLimit::freepik())
            .start(),
    )?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("image.png"), png(640, 360, 48 << 10))?;
    let manifest = dir.path().join("manifest.csv");
    let mut text = String::from("image,prompt\n");
    for i in 0..tasks {
        text.push_str(&format!("image.png,row {i}\n"));
    }
    std::fs::write(&manifest, text)?;
    let started = Instant::now();
    let children: Vec<_> = (0..workers)
        .map(|i| {
            Command::new(cli)
                .args(["--base-url", &sim.base_url(), "--api-key", sim.api_key()])
                .args(["-q", "--json", "batch"])
                .arg(&manifest)
                .arg("--out-dir")
                .arg(dir.path().join(format!("out-{i}")))
                .args(["--journal", &url, "--fleet", &workers.to_string()])
                .args(["--concurrency", &CONCURRENCY.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("starting freepik-wan batch")
        })
        .collect::<Result<_>>()?;
    let mut downloaded = 0;
    for child in children {
        let output = child.wait_with_output()?;
        let summary: Value = serde_json::from_slice(&output.stdout).with_context(|| {
            format!(
                "freepik-wan batch printed no JSON: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
        ensure!(output.status.success(), "a worker failed: {summary}");
        downloaded = summary["downloaded"].as_u64().unwrap_or(0) as usize;
    }
    let wall = started.elapsed();
    let stats = sim.stats();
    let statements: u64 = cluster
        .psql(
            &db,
            &format!(
                "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s \
                 JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{db}' \
                 AND s.query NOT LIKE '%pg_stat_statements%'"
            ),
        )
        .parse()
        .unwrap_or(0);
    let measured = Measured {
        wall,
        downloaded,
        api_requests: stats.api_requests(),
        refused_429: stats.responses().get(&429).copied().unwrap_or(0),
        creates: stats.creates_accepted,
        statements,
    };
    runtime.block_on(sim.shutdown());
    Ok(measured)
}

fn report(rows: &mut Vec<Row>, tasks: usize, workers: usize, m: &Measured) {
    let by_windows = windows_allow(2 * tasks);
    let by_processing = PROCESSING.as_secs_f64() * tasks.div_ceil(CONCURRENCY * workers) as f64;
    let ideal = by_windows.max(by_processing);
    let wall = m.wall.as_secs_f64();
    let what = format!(
        "{tasks} rows, {workers} worker(s) on one PostgreSQL journal (--fleet {workers}), \
         {CONCURRENCY} at a time each, {:.1} s processing",
        PROCESSING.as_secs_f64()
    );
    emit(
        rows,
        Row {
            measure: what.clone(),
            value: format!(
                "{wall:.1} s, {} downloaded, {} × 429, {} creates accepted",
                m.downloaded, m.refused_429, m.creates
            ),
            baseline: format!(
                "{ideal:.1} s ideal (max of processing {by_processing:.0} s, windows \
                 {by_windows:.0} s)"
            ),
            ratio: format!("{:.3}×", wall / ideal),
            goal: "report; 0 × 429, one create per row".into(),
            met: Some(m.refused_429 == 0 && m.creates == tasks as u64),
        },
        json!({"phase": "fleet", "tasks": tasks, "workers": workers, "wall_s": wall,
               "ideal_s": ideal, "ratio": wall / ideal, "responses_429": m.refused_429,
               "creates_accepted": m.creates, "downloaded": m.downloaded}),
    );
    let per_task = m.api_requests as f64 / tasks as f64;
    emit(
        rows,
        Row {
            measure: format!("API requests per task; {what}"),
            value: format!("{per_task:.2} ({} requests)", m.api_requests),
            baseline: "2 (the fewest a task can cost)".into(),
            ratio: format!("{:.3}×", per_task / 2.0),
            goal: "report".into(),
            met: None,
        },
        json!({"phase": "fleet", "workers": workers, "api_requests": m.api_requests,
               "per_task": per_task}),
    );
    let per_row = m.statements as f64 / tasks as f64;
    emit(
        rows,
        Row {
            measure: format!("journal statements per row (pg_stat_statements); {what}"),
            value: format!("{per_row:.1} ({} statements)", m.statements),
            baseline: "–".into(),
            ratio: "–".into(),
            goal: "report".into(),
            met: None,
        },
        json!({"phase": "fleet", "workers": workers, "statements": m.statements,
               "statements_per_row": per_row}),
    );
}
