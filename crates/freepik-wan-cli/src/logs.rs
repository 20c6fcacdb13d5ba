//! The library's log events on stderr: `--log-format human|json`,
//! `--verbose`, `RUST_LOG`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::args::LogFormat;

/// Installs the subscriber the flags ask for. Human output without
/// `RUST_LOG` or `--verbose` installs none: stderr stays as it always was
/// (progress and notes only).
pub fn init(format: LogFormat, verbose: bool) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    if format == LogFormat::Human && from_env.is_none() && !verbose {
        return;
    }
    let filter = match from_env {
        Some(directives) => EnvFilter::new(directives),
        None if verbose => EnvFilter::new("debug"),
        None => EnvFilter::new("info"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Human => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder
            .json()
            // Each event carries its span and every span it is in, with
            // their fields (the task id, the model, the HTTP status...).
            .with_current_span(true)
            .with_span_list(true)
            // A span's end is an event too: how long a create, a wait, a
            // download or an HTTP attempt took.
            .with_span_events(FmtSpan::CLOSE)
            .try_init(),
    };
    // Only fails if a subscriber is already set: keep that one.
    let _ = installed;
}
