//! A service that makes videos and exports what the SDK emits over OTLP:
//! its spans through `tracing-opentelemetry`, its metrics (the `metrics`
//! feature) through `metrics-exporter-opentelemetry`, both to an OpenTelemetry
//! collector's OTLP/HTTP endpoint. The SDK picks no exporter: these crates
//! are this example's, not the library's.
//!
//! Each job runs in its own `job` span, so a trace holds one task from its
//! create (and upload) through its wait to its download; the shared poller's
//! `freepik_wan.poll` spans name the tasks they polled
//! (`freepik_wan.task_ids`).
//!
//! ```sh
//! # a collector on localhost:4318 (OTEL_EXPORTER_OTLP_ENDPOINT to change it), then:
//! cargo run -p freepik-wan --features metrics --example otlp
//! ```
//!
//! Without an API key (MAGNIFIC_API_KEY or FREEPIK_API_KEY) it runs against
//! the in-process simulator, so it works offline; with no collector listening
//! the exports fail (and say so on stderr) while the jobs still run.

use std::time::Duration;

use freepik_wan::{Client, Model, RateLimit};
use freepik_wan_sim::Simulator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The collector's OTLP/HTTP base URL.
fn endpoint() -> String {
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .unwrap_or_else(|_| "http://localhost:4318".to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = endpoint();
    let resource = Resource::builder()
        .with_service_name("freepik-wan-otlp-example")
        .build();

    // Spans: the SDK's `tracing` spans become OpenTelemetry spans.
    let spans = SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{base}/v1/traces"))
        .build()?;
    let tracer_provider = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource.clone())
        .build();
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
        ))
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("freepik-wan")))
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();

    // Metrics: the `metrics` facade's counters and histograms become
    // OpenTelemetry instruments, exported every 5 s.
    let metric_exporter = MetricExporter::builder()
        .with_http()
        .with_endpoint(format!("{base}/v1/metrics"))
        .build()?;
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(metric_exporter)
                .with_interval(Duration::from_secs(5))
                .build(),
        )
        .with_resource(resource)
        .build();
    let recorder = metrics_exporter_opentelemetry::Recorder::with_meter(
        opentelemetry::metrics::MeterProvider::meter(&meter_provider, "freepik-wan"),
    );
    metrics::set_global_recorder(recorder)?;

    // The service: a few jobs at once.
    let key = std::env::var("MAGNIFIC_API_KEY")
        .or_else(|_| std::env::var("FREEPIK_API_KEY"))
        .ok();
    let (client, _simulator) = match key {
        Some(_) => (Client::from_env()?, None),
        None => {
            let sim = Simulator::builder()
                .processing_time(Duration::from_secs(2))
                .start()
                .await?;
            let client = Client::builder()
                .api_key(sim.api_key())
                .base_url(sim.base_url())
                .rate_limit(RateLimit::per_second(5))
                .build()?;
            (client, Some(sim))
        }
    };
    let model: Model = "text-to-video/wan-2-7".parse()?;
    let dir = std::env::temp_dir().join("freepik-wan-otlp-example");
    tokio::fs::create_dir_all(&dir).await?;
    let prompts = [
        "a lighthouse at dawn, waves breaking",
        "a fox running through fresh snow",
        "rain on a neon street at night",
    ];
    let jobs = prompts.iter().enumerate().map(|(n, prompt)| {
        let client = client.clone();
        let path = dir.join(format!("{n}.mp4"));
        let span = tracing::info_span!("job", n, prompt = *prompt);
        async move {
            let task = client
                .create(model.request().prompt(*prompt).duration(5))
                .await?;
            let done = client.wait(&task.id).await?;
            let saved = client.download(&done, &path).await?;
            tracing::info!(task_id = %done.id, bytes = saved.bytes, "job done");
            Ok::<_, freepik_wan::Error>(())
        }
        .instrument(span)
    });
    for (n, result) in futures_util::future::join_all(jobs)
        .await
        .into_iter()
        .enumerate()
    {
        if let Err(error) = result {
            eprintln!("job {n}: {error}");
        }
    }

    // Flush what is left before exiting; an export that failed (no
    // collector) is said, not fatal: the videos are made.
    if let Err(error) = tracer_provider.shutdown() {
        eprintln!("exporting spans: {error}");
    }
    if let Err(error) = meter_provider.shutdown() {
        eprintln!("exporting metrics: {error}");
    }
    Ok(())
}
