//! `freepik-wan`: every Wan video model of Magnific's API (formerly Freepik's),
//! 2.2 to 2.7 (text-, image-, reference-to-video and video edit), from the shell.
//!
//! This file parses the command line, runs the command and turns its outcome
//! into an exit code; each command lives in its own module.

#![forbid(unsafe_code)]

mod args;
mod batch;
mod connect;
mod counts;
mod exit;
mod generate;
mod logs;
mod models_cmd;
mod output;
mod progress;
mod signal;
mod simulate;
mod tasks;
mod upload_cmd;
mod webhook_cmd;

use std::process::ExitCode;

use clap::Parser as _;
use clap::error::ErrorKind;
use freepik_wan::TaskId;

use crate::args::{BatchCommand, BatchRun, Cli, Command, WebhookCommand};
use crate::connect::Connection;
use crate::exit::{Code, Failure};
use crate::output::Output;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let out =
        Output::new(cli.json, cli.quiet).with_json_logs(cli.log_format == args::LogFormat::Json);
    logs::init(cli.log_format, cli.verbose);
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Code::Service,
                format!("cannot start the async runtime: {e}"),
            )
        })
        .and_then(|runtime| runtime.block_on(run(cli, out)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.failure(&failure);
            failure.code.into()
        }
    }
}

/// A command line clap refused: its message and usage on stderr, exit 2,
/// and with `--json` (anywhere on the line) the one JSON object on stdout
/// that every exit prints. `--help` and `--version` print as usual.
fn usage_error(error: clap::Error) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        error.exit();
    }
    let json = std::env::args_os()
        .skip(1)
        .take_while(|arg| arg != "--")
        .any(|arg| arg == "--json");
    let _ = error.print();
    if json {
        // The first line of clap's message, without its "error: " prefix.
        let rendered = error.render().to_string();
        let message = rendered
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("invalid command line")
            .trim_start_matches("error: ")
            .to_owned();
        let failure = Failure::new(Code::Usage, message).with("usage", serde_json::json!(true));
        println!("{}", failure.to_json());
    }
    Code::Usage.into()
}

async fn run(cli: Cli, out: Output) -> Result<(), Failure> {
    let api_key = match &cli.api_key_file {
        Some(path) => Some(connect::read_key_file(path)?),
        None => cli.api_key,
    };
    let connection = Connection {
        api_key,
        base_url: cli.base_url,
        min_upload_rate: cli.min_upload_rate * 1024,
    };
    match cli.command {
        Command::Generate(args) => generate::generate(&connection, args, out).await,
        Command::Status { task_id, tier } => {
            let id = TaskId::from(task_id).with_model(tier.target()?.0);
            tasks::status(&connection, id, out).await
        }
        Command::List { tier } => tasks::list(&connection, tier.target()?.0, out).await,
        Command::Wait {
            task_id,
            out: path,
            timeout,
            tier,
        } => {
            let id = TaskId::from(task_id).with_model(tier.target()?.0);
            generate::wait(&connection, id, path, timeout, out).await
        }
        Command::Webhook(WebhookCommand::Verify(args)) => webhook_cmd::verify(args, out),
        Command::Webhook(WebhookCommand::Listen {
            port,
            secret,
            secret_keying,
        }) => webhook_cmd::listen(port, secret, secret_keying, out).await,
        Command::Simulate(args) => simulate::simulate(args, out).await,
        Command::Upload { files } => upload_cmd::upload(&connection, files, out).await,
        Command::Models => {
            models_cmd::models(out);
            Ok(())
        }
        Command::Batch(args) => match (args.command, args.manifest, args.out_dir) {
            (
                Some(BatchCommand::Status {
                    dir,
                    journal,
                    journal_password_file,
                }),
                _,
                _,
            ) => batch::status(dir, journal, journal_password_file, out).await,
            (None, Some(manifest), Some(out_dir)) => {
                let run = BatchRun {
                    manifest,
                    out_dir,
                    concurrency: usize::from(args.concurrency),
                    skip_invalid: args.skip_invalid,
                    journal: args.journal,
                    journal_password_file: args.journal_password_file,
                    fleet: args.fleet,
                    worker_lease: std::time::Duration::try_from_secs_f64(args.worker_lease)
                        .ok()
                        .filter(|d| *d >= std::time::Duration::from_millis(400))
                        .ok_or_else(|| {
                            Failure::new(Code::Usage, "--worker-lease: at least 0.4 seconds")
                        })?,
                    timeout: args.timeout,
                    retry_failed: args.retry_failed,
                    resend_uncertain: args.resend_uncertain,
                    list_grace: std::time::Duration::from_secs(args.list_grace),
                };
                batch::batch(&connection, run, out).await
            }
            // clap requires both unless a subcommand is given.
            _ => Err(Failure::new(
                Code::Usage,
                "batch needs MANIFEST and --out-dir",
            )),
        },
    }
}
