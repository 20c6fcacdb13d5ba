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
}

impl Output {
    /// From the global flags; a terminal on stderr gets live progress displays.
    pub fn new(json: bool, quiet: bool) -> Self {
        Output {
            json,
            quiet,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Live progress displays: on a terminal, unless `--quiet`.
    pub fn live(&self) -> bool {
        self.terminal && !self.quiet
    }

    /// Plain progress lines: when stderr is a file or pipe, unless `--quiet`.
    pub fn lines(&self) -> bool {
        !self.terminal && !self.quiet
    }

    /// A note for the human on stderr (dropped with `--quiet`).
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
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
        eprintln!("error: {}", failure.message);
        if self.json {
            print_json(&failure.to_json());
        }
    }
}

fn print_json(value: &Value) {
    // `Value`'s Display is compact JSON and cannot fail.
    println!("{value}");
}
