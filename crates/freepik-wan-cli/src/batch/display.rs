//! What a batch shows while it runs: a progress bar with rows done, failed
//! and to go, the rate and an ETA on a terminal; one plain line per row
//! otherwise; nothing with `--quiet`.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::journal::State;
use crate::output::Output;

pub struct Display {
    out: Output,
    bar: ProgressBar,
    total: u64,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    downloaded: u64,
    failed: u64,
    other: u64,
}

impl Display {
    /// For `total` rows, of which `done` are already downloaded.
    pub fn new(out: Output, total: u64, done: u64) -> Display {
        let bar = if out.live() {
            let bar = ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos}/{len} downloaded · {msg} · {per_sec} · ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_position(done);
        let display = Display {
            out,
            bar,
            total,
            counts: Mutex::new(Counts {
                downloaded: done,
                ..Counts::default()
            }),
        };
        display.refresh();
        display
    }

    /// A note about one row, above the bar (or as a line).
    pub fn note(&self, text: String) {
        if self.out.live() {
            self.bar.suspend(|| self.out.note(&text));
        } else {
            self.out.note(&text);
        }
    }

    /// A row got as far as it goes in this run.
    pub fn row(&self, line: u64, state: State) {
        {
            let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            match state {
                State::Downloaded => counts.downloaded += 1,
                State::Failed => counts.failed += 1,
                _ => counts.other += 1,
            }
        }
        if state == State::Downloaded {
            self.bar.inc(1);
        }
        if self.out.lines() {
            self.out.stderr(format!("line {line}: {}", state.as_str()));
        }
        self.refresh();
    }

    fn refresh(&self) {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let to_go = self
            .total
            .saturating_sub(counts.downloaded + counts.failed + counts.other);
        self.bar.set_message(format!(
            "{} failed · {} left over · {to_go} to go",
            counts.failed, counts.other
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
