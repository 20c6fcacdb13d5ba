//! Runs the simulator as a standalone server until Ctrl-C (or SIGTERM), so that tools
//! outside Rust (curl, an HTTP fuzzer, another language's client) can talk to it.
//!
//! ```text
//! cargo run -p freepik-wan-sim --example serve -- --port 8080
//! ```
//!
//! Every option can also be given as an environment variable; a flag wins over its variable.
//!
//! | flag                  | variable                | default              |
//! |-----------------------|-------------------------|----------------------|
//! | `--port`              | `SIM_PORT`              | 0 (a free port)      |
//! | `--api-key`           | `SIM_API_KEY`           | `sim-key`            |
//! | `--webhook-secret`    | `SIM_WEBHOOK_SECRET`    | `sim-webhook-secret` |
//! | `--processing-ms`     | `SIM_PROCESSING_MS`     | 3000                 |
//! | `--task-failure-rate` | `SIM_TASK_FAILURE_RATE` | 0.0                  |
//! | `--seed`              | `SIM_SEED`              | 0                    |
//!
//! It prints `base_url=...`, `api_key=...` and `webhook_secret=...`, one per line, as soon
//! as it listens: a script that passes `--port 0` reads the port from there, which avoids
//! the race of picking a free port first and binding it later.

use std::env;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use freepik_wan_sim::{Faults, Simulator};

const USAGE: &str = "usage: serve [--port P] [--api-key K] [--webhook-secret S] \
[--processing-ms N] [--task-failure-rate F] [--seed N]
(or the variables SIM_PORT, SIM_API_KEY, SIM_WEBHOOK_SECRET, SIM_PROCESSING_MS, \
SIM_TASK_FAILURE_RATE, SIM_SEED)";

/// The flags, paired with the variable each one overrides.
const OPTIONS: [(&str, &str); 6] = [
    ("--port", "SIM_PORT"),
    ("--api-key", "SIM_API_KEY"),
    ("--webhook-secret", "SIM_WEBHOOK_SECRET"),
    ("--processing-ms", "SIM_PROCESSING_MS"),
    ("--task-failure-rate", "SIM_TASK_FAILURE_RATE"),
    ("--seed", "SIM_SEED"),
];

struct Options {
    values: Vec<Option<String>>,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let mut values: Vec<Option<String>> =
            OPTIONS.iter().map(|(_, var)| env::var(var).ok()).collect();
        let mut args = env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Err(String::new());
            }
            // Both `--port 8080` and `--port=8080`.
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let index = OPTIONS
                .iter()
                .position(|(name, _)| *name == flag)
                .ok_or_else(|| format!("unknown argument {flag:?}"))?;
            let value = match inline {
                Some(value) => value,
                None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
            };
            values[index] = Some(value);
        }
        Ok(Self { values })
    }

    /// The value of option `index`, parsed, or `default` when neither flag nor variable
    /// is set.
    fn get<T: FromStr>(&self, index: usize, default: T) -> Result<T, String> {
        match &self.values[index] {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| {
                let (flag, var) = OPTIONS[index];
                format!("bad value {text:?} for {flag} / {var}")
            }),
        }
    }
}

// One thread is plenty for a local test server, and keeps it light beside a fuzzer on a
// small machine.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match Options::parse() {
        Ok(options) => options,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("serve: {problem}");
            }
            eprintln!("{USAGE}");
            return if problem.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match run(&options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("serve: {problem}");
            ExitCode::from(2)
        }
    }
}

async fn run(options: &Options) -> Result<(), String> {
    let faults = Faults {
        seed: options.get(5, 0u64)?,
        rate_task_failure: options.get(4, 0.0f64)?,
        ..Faults::none()
    };
    if !(0.0..=1.0).contains(&faults.rate_task_failure) {
        return Err("--task-failure-rate must be between 0 and 1".into());
    }
    let sim = Simulator::builder()
        .port(options.get(0, 0u16)?)
        .api_key(options.get(1, "sim-key".to_owned())?)
        .webhook_secret(options.get(2, "sim-webhook-secret".to_owned())?)
        .processing_time(Duration::from_millis(options.get(3, 3000u64)?))
        .faults(faults)
        .start()
        .await
        .map_err(|e| format!("cannot start: {e}"))?;

    println!("base_url={}", sim.base_url());
    println!("api_key={}", sim.api_key());
    println!("webhook_secret={}", sim.webhook_secret());

    stopped().await;
    let stats = sim.stats();
    eprintln!(
        "serve: stopping after {} requests, {} tasks created",
        stats.requests.len(),
        stats.creates_accepted
    );
    sim.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one (what `kill` and scripts send).
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
