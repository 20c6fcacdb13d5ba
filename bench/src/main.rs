//! Benchmarks and the long soak of `freepik-wan` against the simulator, on
//! loopback: `cargo xtask bench` and `cargo xtask soak` (which run
//! `cargo run --release -p freepik-wan-bench -- bench|soak [args]`).
//!
//! Every figure is a ratio against a baseline measured in the same run, on the
//! same machine, so that the numbers say something about the SDK rather than
//! about the machine: hand-written reqwest calls for request overhead, the
//! simulator's processing time for pipeline throughput, the simulator's own
//! completion instant for wait latency, `curl` for download throughput, and
//! the process's resident set before a phase for memory.
//!
//! Memory phases run in a child process (this binary, re-executed with a
//! `child-*` command) so that the simulator's own buffers and the earlier
//! phases' heap do not count against the SDK; the child resets its peak
//! (`VmHWM`) through `/proc/self/clear_refs` right before the measured call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use freepik_wan::{Client, RetryPolicy};
use freepik_wan_sim::{Faults, SimHandle, Simulator};
use freepik_wan_tests::{expected_video, png};
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::instrument::WithSubscriber as _;

mod fleet;
mod pipeline;

const API_PATH: &str = "/v1/ai/image-to-video/wan-v2-2-580p";
/// The MP4 the simulator serves, for checking downloaded files.
const USAGE: &str = "usage: freepik-wan-bench bench [--quick] [--only roundtrip,pipeline,fleet,download,image,upload] [--modes sdk,webhooks,batch,old] [--tasks N] \
     [--concurrency N] [--processing-ms MS] [--iterations N]\n       freepik-wan-bench soak \
     [--tasks N] [--concurrency N] [--retries N] [--seed N] [--naive-create-retries]\nphases: roundtrip, pipeline, fleet (the PostgreSQL journal), \
     download, image";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode> {
    let Some((command, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match command.as_str() {
        "bench" => runtime.block_on(bench(Options::parse(rest)?)),
        "soak" => runtime.block_on(soak(Options::parse(rest)?)),
        "child-download" => runtime.block_on(child_download(rest)),
        "child-create" => runtime.block_on(child_create(rest)),
        "child-upload" => runtime.block_on(child_upload(rest)),
        other => bail!("unknown command `{other}`\n{USAGE}"),
    }
}

struct Options {
    quick: bool,
    only: Option<Vec<String>>,
    tasks: Option<usize>,
    concurrency: Option<usize>,
    processing_ms: Option<u64>,
    iterations: Option<usize>,
    retries: Option<usize>,
    seed: Option<u64>,
    naive_create_retries: bool,
    /// The pipeline's modes to run (all when unset).
    modes: Option<Vec<String>>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options {
            quick: false,
            only: None,
            tasks: None,
            concurrency: None,
            processing_ms: None,
            iterations: None,
            retries: None,
            seed: None,
            naive_create_retries: false,
            modes: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--quick" => o.quick = true,
                "--only" => o.only = Some(value()?.split(',').map(str::to_owned).collect()),
                "--tasks" => o.tasks = Some(value()?.parse()?),
                "--concurrency" => o.concurrency = Some(value()?.parse()?),
                "--processing-ms" => o.processing_ms = Some(value()?.parse()?),
                "--iterations" => o.iterations = Some(value()?.parse()?),
                "--retries" => o.retries = Some(value()?.parse()?),
                "--seed" => o.seed = Some(value()?.parse()?),
                "--naive-create-retries" => o.naive_create_retries = true,
                "--modes" => o.modes = Some(value()?.split(',').map(str::to_owned).collect()),
                other => bail!("unknown option `{other}`\n{USAGE}"),
            }
        }
        Ok(o)
    }

    fn runs(&self, phase: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|p| p == phase))
    }
}

/// One row of the summary table, also printed as a JSON line when measured.
struct Row {
    measure: String,
    value: String,
    baseline: String,
    ratio: String,
    goal: String,
    met: Option<bool>,
}

fn emit(rows: &mut Vec<Row>, row: Row, mut json_line: Value) {
    json_line["measure"] = json!(row.measure);
    json_line["goal"] = json!(row.goal);
    json_line["goal_met"] = json!(row.met);
    println!("{json_line}");
    rows.push(row);
}

async fn bench(opts: Options) -> Result<ExitCode> {
    let machine = machine();
    println!("{}", json!({"measure": "machine", "machine": machine}));
    let mut rows = Vec::new();
    if opts.runs("roundtrip") {
        roundtrip(&opts, &mut rows).await?;
    }
    if opts.runs("pipeline") {
        pipeline::phase(&opts, &mut rows).await?;
    }
    if opts.runs("fleet") {
        fleet::phase(&opts, &mut rows).await?;
    }
    if opts.runs("download") {
        download_phase(&opts, &mut rows).await?;
    }
    if opts.runs("image") {
        image_phase(&mut rows).await?;
    }
    if opts.runs("upload") {
        upload_phase(&mut rows).await?;
    }
    println!();
    println!("Machine: {machine}");
    println!();
    println!("| measure | SDK | baseline | ratio | goal | met |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "–",
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.measure, r.value, r.baseline, r.ratio, r.goal, met
        );
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------- helpers

/// A client for phases that measure the SDK's own overhead, not its pacing:
/// unpaced, against a simulator that enforces no limit.
fn sdk_client(sim: &SimHandle) -> freepik_wan::ClientBuilder {
    Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .rate_limit(freepik_wan::RateLimit::none())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    format!(
        "{cpus} CPUs ({model}), {:.1} GiB RAM, {} {}",
        ram_kib as f64 / (1024.0 * 1024.0),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}

/// Resets the peak resident set to the current one (Linux >= 4.0).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------- round trip

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct RawTask {
    task_id: String,
    #[allow(dead_code)] // decoded for parity with the SDK, not read
    status: String,
}

#[derive(Deserialize)]
struct RawDetail {
    #[allow(dead_code)]
    task_id: String,
    #[allow(dead_code)]
    status: String,
    #[allow(dead_code)]
    generated: Vec<String>,
}

/// The baseline: the same create and get an integrator would write by hand
/// with reqwest (typed decoding, status check, no validation, no retries).
async fn raw_round_trip(http: &reqwest::Client, base: &str, key: &str, image: &[u8]) -> Result<()> {
    let body = json!({"image": STANDARD.encode(image), "duration": "5"});
    let created: Envelope<RawTask> = http
        .post(format!("{base}{API_PATH}"))
        .header("x-freepik-api-key", key)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let _: Envelope<RawDetail> = http
        .get(format!("{base}{API_PATH}/{}", created.data.task_id))
        .header("x-freepik-api-key", key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(())
}

async fn sdk_round_trip(client: &Client, image: &Bytes) -> Result<()> {
    let task = client.image_to_video(image.clone()).await?;
    client.task(&task.id).await?;
    Ok(())
}

async fn roundtrip(opts: &Options, rows: &mut Vec<Row>) -> Result<()> {
    let iterations = opts
        .iterations
        .unwrap_or(if opts.quick { 300 } else { 3000 });
    // Tasks stay unfinished: only request overhead is measured here.
    let sim = Simulator::builder()
        .processing_time(Duration::from_secs(3600))
        .start()
        .await?;
    let client = sdk_client(&sim).build()?;
    let http = reqwest::Client::new();
    let (base, key) = (sim.base_url(), sim.api_key().to_owned());
    // A small real-world-sized upload (a 48 KiB 640x360 image).
    let image = Bytes::from(png(640, 360, 48 << 10));
    for _ in 0..iterations / 10 {
        sdk_round_trip(&client, &image).await?;
        raw_round_trip(&http, &base, &key, &image).await?;
    }
    // Three arms, rotated so none always goes first: the hand-written
    // baseline, the SDK as users get it (no subscriber: its spans cost a
    // disabled callsite check), and the SDK under a subscriber that takes
    // every span and event (`Registry` stores each span's data), which is
    // what the spans cost a service that exports them.
    let traced = tracing::Dispatch::new(tracing_subscriber::registry());
    let (mut sdk, mut raw, mut spans) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..iterations {
        for k in 0..3 {
            let t = Instant::now();
            match (i + k) % 3 {
                0 => {
                    sdk_round_trip(&client, &image).await?;
                    sdk.push(t.elapsed().as_secs_f64() * 1e6);
                }
                1 => {
                    raw_round_trip(&http, &base, &key, &image).await?;
                    raw.push(t.elapsed().as_secs_f64() * 1e6);
                }
                _ => {
                    sdk_round_trip(&client, &image)
                        .with_subscriber(traced.clone())
                        .await?;
                    spans.push(t.elapsed().as_secs_f64() * 1e6);
                }
            }
        }
    }
    let (sdk, raw, spans) = (sorted(sdk), sorted(raw), sorted(spans));
    for (label, p) in [("median", 0.5), ("p95", 0.95)] {
        let (s, r) = (percentile(&sdk, p), percentile(&raw, p));
        let ratio = s / r;
        emit(
            rows,
            Row {
                measure: format!("create+get round trip, {label}"),
                value: format!("{s:.0} µs"),
                baseline: format!("{r:.0} µs (hand-written reqwest)"),
                ratio: format!("{ratio:.3}×"),
                goal: "≤ 1.05×".into(),
                met: Some(ratio <= 1.05),
            },
            json!({"iterations": iterations, "sdk_us": s, "baseline_us": r, "ratio": ratio,
                   "image_bytes": image.len()}),
        );
    }
    for (label, p) in [("median", 0.5), ("p95", 0.95)] {
        let (t, s) = (percentile(&spans, p), percentile(&sdk, p));
        let ratio = t / s;
        emit(
            rows,
            Row {
                measure: format!("create+get round trip with every span recorded, {label}"),
                value: format!("{t:.0} µs"),
                baseline: format!("{s:.0} µs (the SDK, no subscriber)"),
                ratio: format!("{ratio:.3}×"),
                goal: "≤ 1.05× (tracing adds no measurable time)".into(),
                met: Some(ratio <= 1.05),
            },
            json!({"iterations": iterations, "spans_us": t, "sdk_us": s, "ratio": ratio}),
        );
    }
    sim.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------- download

/// Runs this binary again with `args` and reads the JSON line it prints.
fn child(args: &[&str]) -> Result<Value> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe).args(args).output()?;
    ensure!(
        out.status.success(),
        "child {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)?;
    let line = text.lines().last().context("child printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

async fn child_download(args: &[String]) -> Result<ExitCode> {
    let [mode, url, path] = args else {
        bail!("child-download file|stream URL PATH");
    };
    let client = Client::builder()
        .api_key("unused")
        .retry(RetryPolicy::none())
        .build()?;
    let baseline = status_kib("VmRSS")?;
    let reset = reset_peak();
    let t = Instant::now();
    let bytes = if mode == "file" {
        client.download(url.as_str(), path).await?.bytes
    } else {
        let mut video = client.download_stream(url.as_str()).await?;
        let mut n = 0u64;
        while let Some(chunk) = video.next().await {
            n += chunk?.len() as u64;
        }
        n
    };
    let secs = t.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM")?;
    println!(
        "{}",
        json!({"baseline_kib": baseline, "peak_kib": peak, "secs": secs, "bytes": bytes,
               "peak_reset": reset})
    );
    Ok(ExitCode::SUCCESS)
}

fn curl(url: &str, out: &Path) -> Result<f64> {
    let t = Instant::now();
    let status = Command::new("curl")
        .args(["-sS", "--fail", "-o"])
        .arg(out)
        .arg(url)
        .status()?;
    ensure!(status.success(), "curl failed");
    Ok(t.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn download_phase(opts: &Options, rows: &mut Vec<Row>) -> Result<()> {
    const SIZE: u64 = 256 << 20;
    let rounds = if opts.quick { 1 } else { 3 };
    let sim = Simulator::builder()
        .processing_time(Duration::from_millis(100))
        .video_size(SIZE)
        .start()
        .await?;
    let client = sdk_client(&sim).build()?;
    let task = client.image_to_video(png(640, 360, 1024)).await?;
    let done = client.wait(&task.id).await?;
    let url = done.video_url().context("no video URL")?.to_owned();
    let dir = tempfile::tempdir()?;
    let file: PathBuf = dir.path().join("video.mp4");
    let file_arg = file.to_string_lossy().into_owned();
    let have_curl = Command::new("curl").arg("--version").output().is_ok();
    if !have_curl {
        eprintln!("note: curl is not installed; download throughput has no baseline");
    }

    let mib_s = |secs: f64| mib(SIZE as f64) / secs;
    for (mode, target, what) in [
        (
            "file",
            file_arg.as_str(),
            "to a file (SDK fsyncs; curl does not)",
        ),
        ("stream", "-", "streamed, not stored (curl -o /dev/null)"),
    ] {
        let (mut sdk, mut base, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
        let mut reset_ok = true;
        for _ in 0..rounds {
            let r = child(&["child-download", mode, &url, target])?;
            ensure!(
                r["bytes"] == json!(SIZE),
                "the SDK downloaded {} bytes",
                r["bytes"]
            );
            sdk.push(r["secs"].as_f64().unwrap_or(f64::NAN));
            let over = r["peak_kib"].as_u64().unwrap_or(0) as f64
                - r["baseline_kib"].as_u64().unwrap_or(0) as f64;
            peaks.push(over / 1024.0);
            reset_ok &= r["peak_reset"] == json!(true);
            if have_curl {
                let out = if mode == "file" {
                    file.clone()
                } else {
                    PathBuf::from("/dev/null")
                };
                base.push(curl(&url, &out)?);
            }
        }
        let s = median(sdk);
        let peak = peaks.iter().copied().fold(f64::MIN, f64::max);
        let (baseline, ratio, met) = if have_curl {
            let b = median(base);
            // Throughput ratio: SDK MiB/s over curl MiB/s (1.0 = as fast).
            let ratio = b / s;
            (
                format!("{:.0} MiB/s (curl)", mib_s(b)),
                format!("{ratio:.2}× of curl"),
                None,
            )
        } else {
            ("curl not installed".into(), "–".into(), None)
        };
        emit(
            rows,
            Row {
                measure: format!("256 MiB download, {what}: throughput"),
                value: format!("{:.0} MiB/s", mib_s(s)),
                baseline,
                ratio,
                goal: "report (vs curl)".into(),
                met,
            },
            json!({"mode": mode, "bytes": SIZE, "sdk_s": s, "sdk_mib_s": mib_s(s), "rounds": rounds}),
        );
        emit(
            rows,
            Row {
                measure: format!("256 MiB download, {what}: peak RSS over baseline"),
                value: format!("{peak:.1} MiB"),
                baseline: "child's RSS before the call".into(),
                ratio: format!("{:.4}× of the video", peak / mib(SIZE as f64)),
                goal: "flat, ≤ 16 MiB".into(),
                met: Some(peak <= 16.0 && reset_ok),
            },
            json!({"mode": mode, "peak_over_baseline_mib": peak, "peak_reset_worked": reset_ok}),
        );
    }
    sim.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------- image

async fn child_create(args: &[String]) -> Result<ExitCode> {
    let [mode, base_url, key, path] = args else {
        bail!("child-create sdk|request|raw BASE_URL KEY PATH");
    };
    let client = Client::builder()
        .api_key(key.as_str())
        .base_url(base_url.as_str())
        .build()?;
    let http = reqwest::Client::new();
    let baseline = status_kib("VmRSS")?;
    let reset = reset_peak();
    if mode == "sdk" {
        client.image_to_video(Path::new(path)).await?;
    } else if mode == "request" {
        // Any model's way (VideoRequest), the image inline as base64.
        let request = freepik_wan::Model::default()
            .request()
            .image(Path::new(path))
            .inline_limit(u64::MAX);
        client.create(request).await?;
    } else {
        // What a hand-written integration does: read, encode, post.
        let raw = tokio::fs::read(path).await?;
        let body = json!({"image": STANDARD.encode(&raw), "duration": "5"});
        drop(raw);
        http.post(format!("{base_url}{API_PATH}"))
            .header("x-freepik-api-key", key.as_str())
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
    }
    let peak = status_kib("VmHWM")?;
    println!(
        "{}",
        json!({"baseline_kib": baseline, "peak_kib": peak, "peak_reset": reset})
    );
    Ok(ExitCode::SUCCESS)
}

async fn image_phase(rows: &mut Vec<Row>) -> Result<()> {
    const SIZE: usize = 9 << 20;
    let sim = Simulator::builder()
        .processing_time(Duration::from_secs(3600))
        .start()
        .await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("large.png");
    // A 7680x4320 PNG header padded to 9 MiB: valid for the SDK's checks and
    // the simulator's, and as large as a real photo upload gets.
    std::fs::write(&path, png(7680, 4320, SIZE))?;
    let path = path.to_string_lossy().into_owned();
    let (base_url, key) = (sim.base_url(), sim.api_key().to_owned());
    let mut over = HashMap::new();
    for mode in ["sdk", "request", "raw"] {
        let r = child(&["child-create", mode, &base_url, &key, &path])?;
        ensure!(r["peak_reset"] == json!(true), "could not reset VmHWM");
        let kib = r["peak_kib"].as_u64().unwrap_or(0) as f64
            - r["baseline_kib"].as_u64().unwrap_or(0) as f64;
        over.insert(mode, kib / 1024.0);
    }
    ensure!(
        sim.stats().creates_accepted == 3,
        "the simulator refused the 9 MiB image"
    );
    let (sdk, raw) = (over["sdk"], over["raw"]);
    let request = over["request"];
    let request_ratio = request / mib(SIZE as f64);
    emit(
        rows,
        Row {
            measure:
                "create with a 9 MiB image inline, through VideoRequest: peak RSS over baseline"
                    .into(),
            value: format!("{request:.1} MiB"),
            baseline: format!("9 MiB image (hand-written reqwest: {raw:.1} MiB)"),
            ratio: format!("{request_ratio:.2}× the image"),
            goal: "≤ 3×".into(),
            met: Some(request_ratio <= 3.0),
        },
        json!({"image_bytes": SIZE, "request_peak_over_baseline_mib": request,
               "raw_peak_over_baseline_mib": raw, "ratio": request_ratio}),
    );
    let ratio = sdk / mib(SIZE as f64);
    emit(
        rows,
        Row {
            measure: "create with a 9 MiB image: peak RSS over baseline".into(),
            value: format!("{sdk:.1} MiB"),
            baseline: format!("9 MiB image (hand-written reqwest: {raw:.1} MiB)"),
            ratio: format!("{ratio:.2}× the image"),
            goal: "≤ 3×".into(),
            met: Some(ratio <= 3.0),
        },
        json!({"image_bytes": SIZE, "sdk_peak_over_baseline_mib": sdk,
               "raw_peak_over_baseline_mib": raw, "ratio": ratio}),
    );
    sim.shutdown().await;
    Ok(())
}

/// `child-upload BASE_URL KEY PATH`: uploads one file through the SDK and
/// reports the peak RSS over the baseline and the time.
async fn child_upload(args: &[String]) -> Result<ExitCode> {
    let [base_url, key, path] = args else {
        bail!("child-upload BASE_URL KEY PATH");
    };
    let client = Client::builder()
        .api_key(key.as_str())
        .base_url(base_url.as_str())
        .build()?;
    let baseline = status_kib("VmRSS")?;
    let reset = reset_peak();
    let t = Instant::now();
    let uploaded = client.upload(Path::new(path)).await?;
    let secs = t.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM")?;
    println!(
        "{}",
        json!({"baseline_kib": baseline, "peak_kib": peak, "peak_reset": reset,
               "secs": secs, "bytes": uploaded.bytes})
    );
    Ok(ExitCode::SUCCESS)
}

/// A 95 MB upload against a 1 KiB one (peak RSS over baseline: memory must
/// not grow with the file), and curl's PUT of the same file to a signed URL
/// of the same storage host (throughput), on loopback.
async fn upload_phase(rows: &mut Vec<Row>) -> Result<()> {
    const BIG: usize = 95_000_000;
    let sim = Simulator::builder().start().await?;
    let dir = tempfile::tempdir()?;
    let big = dir.path().join("big.mp4");
    let tiny = dir.path().join("tiny.mp4");
    std::fs::write(&big, freepik_wan_tests::mp4(BIG))?;
    std::fs::write(&tiny, freepik_wan_tests::mp4(1024))?;
    let (base_url, key) = (sim.base_url(), sim.api_key().to_owned());
    let mut over = HashMap::new();
    let mut secs = HashMap::new();
    for (name, path) in [("tiny", &tiny), ("big", &big)] {
        let path = path.to_string_lossy().into_owned();
        let r = child(&["child-upload", &base_url, &key, &path])?;
        ensure!(r["peak_reset"] == json!(true), "could not reset VmHWM");
        let kib = r["peak_kib"].as_u64().unwrap_or(0) as f64
            - r["baseline_kib"].as_u64().unwrap_or(0) as f64;
        over.insert(name, kib / 1024.0);
        secs.insert(name, r["secs"].as_f64().unwrap_or(0.0));
    }
    // curl's PUT of the same file to a fresh signed URL, with its headers.
    let target: Value = reqwest::Client::new()
        .post(format!("{base_url}/v1/ai/uploads/request-url"))
        .header("x-magnific-api-key", key.as_str())
        .json(&json!({"files": [{"content_type": "video/mp4"}]}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let file = &target["files"][0];
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
        .arg(&big)
        .arg(file["upload_url"].as_str().context("upload_url")?);
    for (name, value) in file["headers"].as_object().context("headers")? {
        curl.arg("-H")
            .arg(format!("{name}: {}", value.as_str().unwrap_or("")));
    }
    let t = Instant::now();
    let out = curl.output().context("running curl")?;
    let curl_secs = t.elapsed().as_secs_f64();
    ensure!(
        String::from_utf8_lossy(&out.stdout).trim() == "200",
        "curl's PUT failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added = over["big"] - over["tiny"];
    emit(
        rows,
        Row {
            measure: "95 MB upload (request-url + streamed PUT): peak RSS over a 1 KiB upload's"
                .into(),
            value: format!("{added:.1} MiB"),
            baseline: format!("1 KiB upload: {:.1} MiB over baseline", over["tiny"]),
            ratio: format!("{:.3}× the file", added / mib(BIG as f64)),
            goal: "≤ 32 MiB".into(),
            met: Some(added <= 32.0),
        },
        json!({"bytes": BIG, "big_over_baseline_mib": over["big"],
               "tiny_over_baseline_mib": over["tiny"], "added_mib": added}),
    );
    let sdk_rate = mib(BIG as f64) / secs["big"];
    let curl_rate = mib(BIG as f64) / curl_secs;
    emit(
        rows,
        Row {
            measure: "95 MB upload on loopback: throughput".into(),
            value: format!("{sdk_rate:.0} MiB/s"),
            baseline: format!("{curl_rate:.0} MiB/s, `curl -T` to a signed URL"),
            ratio: format!("{:.2}× curl's throughput", sdk_rate / curl_rate),
            goal: "report".into(),
            met: None,
        },
        json!({"sdk_mib_per_s": sdk_rate, "curl_mib_per_s": curl_rate}),
    );
    sim.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------- soak

async fn soak(opts: Options) -> Result<ExitCode> {
    const VIDEO: usize = 1 << 20;
    let tasks = opts.tasks.unwrap_or(200);
    let concurrency = opts.concurrency.unwrap_or(25);
    let retries = opts.retries.unwrap_or(8);
    let seed = opts.seed.unwrap_or(0x50a4);
    let sim = Simulator::builder()
        .processing_time(Duration::from_secs(2))
        .video_size(VIDEO as u64)
        .faults(Faults {
            seed,
            rate_503: 0.10,
            rate_429: 0.05,
            retry_after_secs: 1,
            rate_reset: 0.02,
            // 1 MiB at 2 MiB/s: half a second per download, many at once.
            download_bytes_per_sec: Some(2 << 20),
            // Creates that make the task, then fail: 10 % in all.
            rate_create_gateway_error: 0.05,
            rate_create_cut: 0.03,
            rate_create_late: 0.02,
            create_late_by: Duration::from_secs(3),
            // Gateways that may have forwarded the create, a lagging list.
            create_gateway_statuses: vec![502, 504, 520, 524, 408, 503, 307],
            list_lag: Duration::from_millis(500),
            ..Faults::none()
        })
        .start()
        .await?;
    // The SDK's default policies, except more retries (see the README) and a
    // 2 s request timeout, so that a late create answer comes after it.
    let client = sdk_client(&sim)
        .timeout(Duration::from_secs(2))
        .uncertain_grace(Duration::from_secs(3))
        .retry(RetryPolicy::default().max_retries(retries))
        .build()?;
    let naive = opts.naive_create_retries;
    let dir = tempfile::tempdir()?;
    let image = Bytes::from(png(640, 360, 48 << 10));
    let started = Instant::now();
    let results: Vec<(usize, Result<Option<String>>)> = stream::iter(0..tasks)
        .map(|i| {
            let (client, image) = (client.clone(), image.clone());
            let path = dir.path().join(format!("video-{i:04}.mp4"));
            async move {
                let run = async {
                    let Some(id) = soak_create(&client, image, naive).await? else {
                        return anyhow::Ok(None);
                    };
                    let done = client.wait(&id).await?;
                    client.download(&done, &path).await?;
                    anyhow::Ok(Some(id.to_string()))
                };
                (i, run.await)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed();

    let expected = expected_video(VIDEO);
    let mut ids = Vec::new();
    let (mut lost, mut reported) = (Vec::new(), 0usize);
    for (i, result) in results {
        match result {
            Ok(Some(id)) => ids.push(id),
            Ok(None) => reported += 1,
            Err(err) => lost.push(format!("task {i}: {err:#}")),
        }
    }
    ids.sort();
    let unique = {
        let mut u = ids.clone();
        u.dedup();
        u.len()
    };
    let (mut files, mut corrupt, mut partial) = (0, 0, 0);
    for entry in std::fs::read_dir(dir.path())? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("video-") || !name.ends_with(".mp4") {
            partial += 1;
            continue;
        }
        files += 1;
        if std::fs::read(entry.path())? != expected {
            corrupt += 1;
        }
    }
    let stats = sim.stats();
    let count = |code: u16| stats.requests.iter().filter(|r| r.status == code).count();
    // Every task the simulator made is held by a job or was reported to it
    // as possibly made; anything more was paid twice.
    let duplicates = stats.creates_accepted as i64 - unique as i64 - reported as i64;
    let acted_then_failed = stats
        .requests
        .iter()
        .filter(|r| r.method == "POST" && matches!(r.status, 502 | 504))
        .count();
    let report = json!({
        "measure": "soak", "tasks": tasks, "concurrency": concurrency, "retries": retries,
        "seed": seed, "wall_s": wall.as_secs_f64(), "ok": ids.len(), "lost": lost.len(),
        "creates_accepted": stats.creates_accepted, "duplicate_creates": duplicates,
        "reported_uncertain": reported, "creates_answered_502_504": acted_then_failed,
        "naive_create_retries": naive,
        "distinct_task_ids": unique, "files": files, "corrupt_files": corrupt,
        "partial_files": partial, "requests": stats.requests.len(),
        "injected_503": count(503), "injected_429": count(429),
    });
    println!("{report}");
    for l in &lost {
        eprintln!("lost: {l}");
    }
    sim.shutdown().await;
    let clean = lost.is_empty()
        && duplicates == 0
        && unique == ids.len()
        && files == ids.len()
        && corrupt == 0
        && partial == 0;
    println!(
        "soak: {} of {tasks} tasks held, {reported} reported as possibly made, {} lost, \
         {duplicates} paid twice, {corrupt} corrupt, {partial} partial files, {} 503s and {} 429s \
         injected, {acted_then_failed} creates answered 502/504 after acting, {:.1} s: {}",
        ids.len(),
        lost.len(),
        count(503),
        count(429),
        wall.as_secs_f64(),
        if clean { "PASS" } else { "FAIL" }
    );
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A soak job's create: an uncertain one is reconciled (adopted when exactly
/// one unclaimed task appeared; `None` when it stays uncertain), or, with
/// `naive`, any failed create is simply sent again, as hand-written code does.
async fn soak_create(
    client: &Client,
    image: Bytes,
    naive: bool,
) -> Result<Option<freepik_wan::TaskId>> {
    let mut tries = 0;
    loop {
        match client.image_to_video(image.clone()).await {
            Ok(task) => return Ok(Some(task.id)),
            Err(freepik_wan::Error::CreateUncertain(uncertain)) if !naive => {
                return Ok(match client.reconcile(&uncertain) {
                    freepik_wan::Reconciled::Adopted(task) => Some(task.id),
                    _ => None,
                });
            }
            Err(_) if naive && tries < 5 => tries += 1,
            Err(err) => return Err(err.into()),
        }
    }
}
