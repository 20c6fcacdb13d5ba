//! Where text goes. stdout holds only the command's result (plain text, or
//! exactly one JSON object with `--json`) so it can be piped; everything for
//! the human watching goes to stderr, and `--quiet` keeps only errors there.

use std::io::{IsTerminal as _, Write as _};

use serde_json::Value;

use crate::exit::Failure;

/// The output settings of one run.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    json: bool,
    quiet: bool,
    terminal: bool,
    json_logs: bool,
}

impl Output {
    /// From the global flags; a terminal on stderr gets live progress displays.
    pub fn new(json: bool, quiet: bool) -> Self {
        Output {
            json,
            quiet,
            terminal: std::io::stderr().is_terminal(),
            json_logs: false,
        }
    }

    /// With `--log-format json`: everything this run writes on stderr is a
    /// JSON log event (its notes and progress lines too), never a live
    /// display, so that a supervisor reads one JSON object per line.
    pub fn with_json_logs(mut self, on: bool) -> Self {
        self.json_logs = on;
        self
    }

    /// Live progress displays: on a terminal, unless `--quiet` or JSON logs.
    pub fn live(&self) -> bool {
        self.terminal && !self.quiet && !self.json_logs
    }

    /// Plain progress lines: when stderr is a file or pipe (or the logs are
    /// JSON), unless `--quiet`.
    pub fn lines(&self) -> bool {
        (!self.terminal || self.json_logs) && !self.quiet
    }

    /// A note for the human on stderr (dropped with `--quiet`).
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            self.stderr(text);
        }
    }

    /// A line on stderr whatever the flags (a progress line, or what even
    /// `--quiet` shows): plain, or an info event with JSON logs.
    pub fn stderr(&self, text: impl AsRef<str>) {
        if self.json_logs {
            tracing::info!(target: "freepik_wan_cli", "{}", text.as_ref());
        } else {
            eprintln!("{}", text.as_ref());
        }
    }

    /// A warning on stderr whatever the flags: plain, or a warn event with
    /// JSON logs.
    pub fn warn(&self, text: impl AsRef<str>) {
        if self.json_logs {
            tracing::warn!(target: "freepik_wan_cli", "{}", text.as_ref());
        } else {
            eprintln!("{}", text.as_ref());
        }
    }

    /// The command's result on stdout: `plain` as text, or `json` with `--json`.
    pub fn result(&self, plain: impl AsRef<str>, json: Value) {
        if self.json {
            print_json(&json);
        } else {
            let plain = plain.as_ref();
            if !plain.is_empty() {
                println!("{plain}");
            }
        }
    }

    /// One JSON object per line, for commands that report many events.
    pub fn event(&self, plain: impl AsRef<str>, json: Value) {
        self.result(plain, json);
        // Readers of a long-running command's output want each event now.
        let _ = std::io::stdout().flush();
    }

    /// An error: always on stderr, and as the one JSON object with `--json`.
    pub fn failure(&self, failure: &Failure) {
        if self.json_logs {
            tracing::error!(target: "freepik_wan_cli", "{}", failure.message);
        } else {
            eprintln!("error: {}", failure.message);
        }
        if self.json {
            print_json(&failure.to_json());
        }
    }
}

fn print_json(value: &Value) {
    // `Value`'s Display is compact JSON and cannot fail.
    println!("{value}");
}
