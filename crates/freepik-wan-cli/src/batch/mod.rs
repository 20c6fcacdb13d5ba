//! `batch`: many videos from a manifest, resumable after a crash or a kill,
//! never paying for a row twice; and `batch status`, which reads the journal.
//!
//! The pieces: [`manifest`] reads and checks the rows, [`journal`] records
//! each row's state in SQLite, [`lease`] keeps a second run off the same
//! journal, [`run`] takes each row through create, wait and download, and
//! [`display`] shows progress.

mod display;
mod journal;
mod lease;
mod manifest;
mod run;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::args::BatchRun;
use crate::connect::Connection;
use crate::exit::{Code, Failure};
use crate::output::Output;
use crate::signal::interrupted;
use journal::{Entry, Journal, State, Tally};

/// The journal's file name inside the output directory.
const JOURNAL_FILE: &str = "freepik-wan-batch.db";

/// `batch MANIFEST --out-dir DIR`.
pub async fn batch(connection: &Connection, args: BatchRun, out: Output) -> Result<(), Failure> {
    let usage = |message: String| Failure::new(Code::Usage, message);
    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| args.out_dir.join(JOURNAL_FILE));
    let (rows, mut invalid) =
        manifest::read(&args.manifest, &args.out_dir, &journal_path).map_err(usage)?;
    // An uncertain create looks for its task as long as recovery would.
    let client = connection
        .builder(args.timeout)?
        .uncertain_grace(args.list_grace)
        .build()?;
    // The SDK's own checks (image format and size, prompt), before anything is sent.
    let (rows, more) = manifest::check(&client, rows).await;
    invalid.extend(more);
    invalid.sort_by_key(|i| i.line);
    if !invalid.is_empty() {
        for bad in &invalid {
            out.note(format!("line {}: {}", bad.line, bad.reason));
        }
        if !args.skip_invalid {
            return Err(Failure::new(
                Code::Usage,
                format!(
                    "{} of {} rows are invalid (listed above); nothing was sent \
                     (--skip-invalid runs the others)",
                    invalid.len(),
                    invalid.len() + rows.len()
                ),
            )
            .with("invalid", json!(invalid_json(&invalid))));
        }
    }
    let journal = Arc::new(Journal::open(&journal_path).map_err(usage)?);
    // The lease first: a run that is refused writes nothing.
    let lease = lease::Lease::take(journal.clone()).await.map_err(usage)?;
    journal.register(&rows).map_err(usage)?;
    if args.resend_uncertain {
        let again = journal.resend_uncertain().map_err(usage)?;
        if again > 0 {
            out.note(format!(
                "{again} uncertain rows are sent again (--resend-uncertain)"
            ));
        }
    }
    if args.retry_failed {
        let again = journal.retry_failed().map_err(usage)?;
        if again > 0 {
            out.note(format!(
                "{again} rows that failed without a task are sent again"
            ));
        }
    }

    let service = |message: String| Failure::new(Code::Service, message);
    let done = Tally::of(&journal.entries().map_err(service)?).downloaded;
    let run = run::Run {
        // Its wait options carry `--timeout`, for each row's wait.
        client,
        journal: journal.clone(),
        _lease: lease,
        display: display::Display::new(out, rows.len() as u64, done as u64),
        create_slot: tokio::sync::Mutex::new(()),
        list_grace: args.list_grace,
        stopped: std::sync::Mutex::new(None),
    };
    let work = async {
        // Rows whose absence from the list the first pass could not prove
        // wait for this run's own creates, which may prove it.
        let deferred = run.recover(run::Pass::First).await?;
        run.baseline(&rows).await?;
        let (later, now): (Vec<&manifest::Row>, Vec<&manifest::Row>) =
            rows.iter().partition(|r| deferred.contains(&r.line));
        let mut states = process_rows(&run, now, args.concurrency).await;
        if !later.is_empty() {
            run.recover(run::Pass::Last).await?;
            states.extend(process_rows(&run, later, args.concurrency).await);
        }
        states.into_iter().collect::<Result<Vec<_>, String>>()
    };
    let finished = tokio::select! {
        finished = work => finished,
        () = interrupted() => {
            run.display.finish();
            return Err(Failure::new(
                Code::Interrupted,
                "interrupted; nothing is lost: the same command resumes the batch",
            ));
        }
    };
    run.display.finish();
    finished.map_err(service)?;
    report(&journal, &args.out_dir, &invalid, run.stopped(), out)
}

/// Takes `rows` as far as they go, `concurrency` at a time.
async fn process_rows(
    run: &run::Run,
    rows: Vec<&manifest::Row>,
    concurrency: usize,
) -> Vec<Result<(u64, State), String>> {
    futures_util::stream::iter(rows)
        .map(|row| async move {
            let state = run.process(row).await?;
            run.display.row(row.line, state);
            Ok((row.line, state))
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// The summary, and the exit code: 0 only when every row is downloaded.
fn report(
    journal: &Journal,
    out_dir: &Path,
    invalid: &[manifest::Invalid],
    stopped: Option<(run::Stop, String)>,
    out: Output,
) -> Result<(), Failure> {
    let entries = journal
        .entries()
        .map_err(|e| Failure::new(Code::Service, e))?;
    let tally = Tally::of(&entries);
    let downloaded = tally.downloaded;
    let failed = tally.failed + invalid.len();
    let uncertain = tally.uncertain;
    let pending = tally.unfinished();
    let summary = json!({
        "journal": journal.path().display().to_string(),
        "out_dir": out_dir.display().to_string(),
        "rows": entries.len() + invalid.len(),
        "downloaded": downloaded,
        "failed": failed,
        "uncertain": uncertain,
        "pending": pending,
        "invalid": invalid_json(invalid),
        "stopped": stopped.as_ref().map(|(kind, _)| kind.as_str()),
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
    });
    let line = format!(
        "{downloaded} of {} rows downloaded into {}; {failed} failed, {uncertain} uncertain, \
         {pending} not finished",
        entries.len() + invalid.len(),
        out_dir.display()
    );
    if failed + uncertain + pending == 0 {
        out.result(line, summary);
        return Ok(());
    }
    let stop_note;
    let (code, next) = if let Some((_, reason)) = &stopped {
        stop_note = format!(
            "stopped creating: {reason}; the rows not sent stay pending: run the same command \
             again once that is fixed"
        );
        (Code::Service, stop_note.as_str())
    } else if failed > 0 {
        (Code::Failed, "see `freepik-wan batch status` for why")
    } else if uncertain > 0 {
        (
            Code::Service,
            "some creates may have made tasks: `freepik-wan batch status` names them",
        )
    } else {
        (Code::TimedOut, "run the same command again to resume")
    };
    let mut failure = Failure::new(code, format!("{line}; {next}"));
    if let Value::Object(fields) = summary {
        for (key, value) in fields {
            failure = failure.with(&key, value);
        }
    }
    Err(failure)
}

/// `batch status DIR`: the journal's rows and their states.
pub fn status(dir: &Path, journal: Option<PathBuf>, out: Output) -> Result<(), Failure> {
    let path = journal.unwrap_or_else(|| dir.join(JOURNAL_FILE));
    let journal = Journal::open_existing(&path).map_err(|e| Failure::new(Code::Usage, e))?;
    let entries = journal
        .entries()
        .map_err(|e| Failure::new(Code::Service, e))?;
    let mut table = format!(
        "{:>6}  {:<10}  {:<36}  {}\n",
        "line", "state", "task", "file"
    );
    for e in &entries {
        table.push_str(&format!(
            "{:>6}  {:<10}  {:<36}  {}{}\n",
            e.line,
            e.state.as_str(),
            e.task_id.as_deref().unwrap_or("-"),
            e.out.display(),
            e.reason
                .as_deref()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default()
        ));
    }
    let tally = Tally::of(&entries);
    table.push_str(&format!(
        "{} rows: {} downloaded, {} failed, {} uncertain, {} not finished",
        tally.rows,
        tally.downloaded,
        tally.failed,
        tally.uncertain,
        tally.unfinished()
    ));
    out.result(
        table,
        json!({
            "journal": path.display().to_string(),
            "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
        }),
    );
    Ok(())
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "line": e.line,
        "state": e.state.as_str(),
        "task_id": e.task_id,
        "resolution": e.resolution,
        "file": e.out.display().to_string(),
        "bytes": e.bytes,
        "sha256": e.sha256,
        "reason": e.reason,
    })
}

fn invalid_json(invalid: &[manifest::Invalid]) -> Value {
    json!(
        invalid
            .iter()
            .map(|i| json!({"line": i.line, "reason": i.reason}))
            .collect::<Vec<_>>()
    )
}
