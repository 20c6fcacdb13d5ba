//! `batch`: many videos from a manifest, resumable after a crash or a kill,
//! never paying for a row twice; and `batch status`, which reads the journal.
//!
//! The pieces: [`manifest`] reads and checks the rows, [`journal`] records
//! each row's state (one interface, two backends: [`sqlite`], where
//! [`lease`] keeps a second run off the same file, and, with the `postgres`
//! feature, `pg_journal`, shared by workers that claim rows and hold fleet
//! seats, whose loop is `shared`), [`run`] takes each row through create,
//! wait and download, and [`display`] shows progress.

mod display;
mod journal;
mod lease;
mod manifest;
#[cfg(feature = "postgres")]
mod pg_journal;
mod run;
#[cfg(feature = "postgres")]
mod shared;
mod sqlite;

#[cfg(test)]
mod journal_tests;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::args::BatchRun;
use crate::connect::Connection;
use crate::exit::{Code, Failure};
use crate::output::Output;
use crate::signal::interrupted;
use freepik_wan::TaskId;
use journal::{Entry, Journal, JournalAt, SqliteJournal, State, Tally, endpoint_model};

use crate::generate::wait_command;

/// The journal's file name inside the output directory.
const JOURNAL_FILE: &str = "freepik-wan-batch.db";

/// `batch MANIFEST --out-dir DIR`.
pub async fn batch(connection: &Connection, args: BatchRun, out: Output) -> Result<(), Failure> {
    crate::counts::install();
    let usage = |message: String| Failure::new(Code::Usage, message);
    let at = JournalAt::parse(
        args.journal.clone(),
        args.out_dir.join(JOURNAL_FILE),
        args.journal_password_file.as_deref(),
    )
    .map_err(usage)?;
    // A database is no file a row's video could overwrite.
    let journal_path = match &at {
        JournalAt::File(path) => path.clone(),
        #[cfg(feature = "postgres")]
        JournalAt::Postgres(_) => args.out_dir.join(JOURNAL_FILE),
    };
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
    let (journal, lease, client) = match at {
        JournalAt::File(path) => {
            if args.fleet.is_some() {
                return Err(usage(
                    "--fleet is for a journal shared by workers (--journal postgres://…)"
                        .to_owned(),
                ));
            }
            let journal = Arc::new(SqliteJournal::open(&path).map_err(usage)?);
            // The lease first: a run that is refused writes nothing.
            let lease = lease::Lease::take(journal.clone()).await.map_err(usage)?;
            (Arc::new(Journal::Sqlite(journal)), Some(lease), client)
        }
        #[cfg(feature = "postgres")]
        JournalAt::Postgres(database) => {
            let journal = pg_journal::PgJournal::open(*database, args.fleet)
                .await
                .map_err(usage)?;
            (Arc::new(Journal::Postgres(Box::new(journal))), None, client)
        }
    };
    refuse_changed(&journal, &rows, &args.out_dir).await?;
    journal.register(&rows).await.map_err(usage)?;
    // An earlier run's uploads, reused while they stay readable.
    let earlier = journal.uploads().await.map_err(usage)?;
    let uploads_kept = earlier.iter().map(|u| u.sha256).collect();
    #[cfg(feature = "postgres")]
    let client = match &*journal {
        Journal::Postgres(shared) => {
            // A seat first: a worker without one sends nothing.
            let (seat, of) = shared
                .join(&args.out_dir, args.worker_lease, |note| out.note(note))
                .await
                .map_err(|e| Failure::new(Code::Service, e))?;
            out.note(format!(
                "worker {} holds seat {seat} of {of} of the batch journal at {}; it paces \
                 itself at 1/{of} of the rate limits",
                shared.worker(),
                shared.name()
            ));
            // Its share of the IP's windows: the fleet's seats together
            // stay inside them.
            match connection.builder(args.timeout).and_then(|builder| {
                Ok(builder
                    .uncertain_grace(args.list_grace)
                    .rate_limit(freepik_wan::RateLimit::freepik().share(of))
                    .build()?)
            }) {
                Ok(client) => client,
                Err(failure) => {
                    shared.leave().await;
                    return Err(failure);
                }
            }
        }
        _ => client,
    };
    client.remember_uploads(earlier);
    let service = |message: String| Failure::new(Code::Service, message);
    // The manifest's lines: a journal row on none was removed from it.
    let lines: HashSet<u64> = rows.iter().map(|r| r.line).collect();
    let prepared = async {
        if args.resend_uncertain {
            let again = journal.resend_uncertain().await.map_err(usage)?;
            if again > 0 {
                out.note(format!(
                    "{again} uncertain rows are sent again (--resend-uncertain)"
                ));
            }
        }
        if args.retry_failed {
            let again = journal.retry_failed().await.map_err(usage)?;
            if again > 0 {
                out.note(format!(
                    "{again} rows that failed without a task are sent again"
                ));
            }
        }
        Ok::<_, Failure>(
            Tally::of(&kept(journal.entries().await.map_err(service)?, &lines)).downloaded,
        )
    };
    let done = match prepared.await {
        Ok(done) => done,
        Err(failure) => {
            #[cfg(feature = "postgres")]
            if let Journal::Postgres(shared) = &*journal {
                shared.leave().await;
            }
            return Err(failure);
        }
    };
    let run = run::Run {
        // Its wait options carry `--timeout`, for each row's wait.
        client,
        journal: journal.clone(),
        _lease: lease,
        display: display::Display::new(out, rows.len() as u64, done as u64),
        create_slot: tokio::sync::Mutex::new(()),
        list_grace: args.list_grace,
        stopped: std::sync::Mutex::new(None),
        uploads_kept: std::sync::Mutex::new(uploads_kept),
    };
    let work = async {
        #[cfg(feature = "postgres")]
        if let Journal::Postgres(shared) = &*journal {
            // All of it stops once the seat may lapse: a worker sends
            // nothing past its share.
            let work = async {
                run.baseline(&rows).await?;
                shared::run(&run, shared, &rows, args.concurrency).await
            };
            return tokio::select! {
                done = work => done,
                lost = shared.seat_lost() => Err(lost),
            };
        }
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
            #[cfg(feature = "postgres")]
            if let Journal::Postgres(shared) = &*journal {
                shared.leave().await;
            }
            return Err(Failure::new(
                Code::Interrupted,
                "interrupted; nothing is lost: the same command resumes the batch",
            ));
        }
    };
    run.display.finish();
    #[cfg(feature = "postgres")]
    if let Journal::Postgres(shared) = &*journal {
        shared.leave().await;
    }
    finished.map_err(service)?;
    report(
        &journal,
        &args.out_dir,
        &lines,
        &invalid,
        run.stopped(),
        out,
    )
    .await
}

/// The entries of the manifest's `lines`.
fn kept(entries: Vec<Entry>, lines: &HashSet<u64>) -> Vec<Entry> {
    entries
        .into_iter()
        .filter(|e| lines.contains(&e.line))
        .collect()
}

/// The command that fetches an entry's task's video to its file.
fn fetch_command(entry: &Entry, task_id: &str) -> String {
    let id = TaskId::from(task_id).with_model(endpoint_model(&entry.resolution));
    format!("{} --out {}", wait_command(&id), entry.out.display())
}

/// Refuses a manifest whose rows no longer match the journal's (a row
/// inserted or deleted above others, rows reordered or edited), before
/// anything is sent. The journal knows rows by their line, so a row that
/// moved would be another row's; the refusal says how to keep what was
/// paid for: new rows at the end, a dropped row blanked rather than
/// deleted, moved rows back in place, and the tasks already made, each
/// with the command that fetches its video.
async fn refuse_changed(
    journal: &Journal,
    rows: &[manifest::Row],
    out_dir: &Path,
) -> Result<(), Failure> {
    let service = |message: String| Failure::new(Code::Service, message);
    let recorded: BTreeMap<u64, String> = journal
        .fingerprints()
        .await
        .map_err(service)?
        .into_iter()
        .collect();
    let changed: Vec<&manifest::Row> = rows
        .iter()
        .filter(|r| recorded.get(&r.line).is_some_and(|f| *f != r.fingerprint))
        .collect();
    let Some(first) = changed.first() else {
        return Ok(());
    };
    // Where each changed row was before, when the journal has it elsewhere.
    let moved: Vec<(u64, u64)> = changed
        .iter()
        .filter_map(|row| {
            recorded
                .iter()
                .find(|(line, print)| **print == row.fingerprint && **line != row.line)
                .map(|(line, _)| (*line, row.line))
        })
        .collect();
    let entries = journal.entries().await.map_err(service)?;
    let made: Vec<(&Entry, &str)> = entries
        .iter()
        .filter(|e| !matches!(e.state, State::Failed | State::Pending))
        .filter_map(|e| e.task_id.as_deref().map(|id| (e, id)))
        .collect();
    let downloaded = made
        .iter()
        .filter(|(e, _)| e.state == State::Downloaded)
        .count();
    let to_fetch: Vec<&(&Entry, &str)> = made
        .iter()
        .filter(|(e, _)| e.state != State::Downloaded)
        .collect();

    let mut message = format!(
        "line {} of the manifest asks for something else than when the journal {} recorded \
         it",
        first.line,
        journal.name()
    );
    if !moved.is_empty() {
        let shown: Vec<String> = moved
            .iter()
            .take(3)
            .map(|(from, to)| format!("line {to} is what line {from} was"))
            .collect();
        message.push_str(&format!(
            " ({}{}: rows were inserted, deleted or moved)",
            shown.join(", "),
            if moved.len() > 3 { ", …" } else { "" }
        ));
    }
    message.push_str(
        "; nothing was sent. The journal knows each row by its line, so to keep what was \
         already made, add new rows at the end of the manifest, blank a row's line instead \
         of deleting it, put moved rows back in their old order, and to change a row, blank \
         its line and add the changed row at the end: the same command then goes on from \
         where it was",
    );
    if !made.is_empty() {
        message.push_str(&format!(
            ". A new --out-dir would pay again for the {} rows that already have a task",
            made.len()
        ));
        if downloaded > 0 {
            message.push_str(&format!(
                " ({downloaded} of them downloaded into {})",
                out_dir.display()
            ));
        }
        if !to_fetch.is_empty() {
            let commands: Vec<String> = to_fetch
                .iter()
                .take(10)
                .map(|(e, id)| format!("`{}` (line {})", fetch_command(e, id), e.line))
                .collect();
            message.push_str(&format!(
                "; the videos not downloaded yet are fetched by {}{}",
                commands.join(", "),
                if to_fetch.len() > 10 {
                    " (`freepik-wan batch status` lists the rest)"
                } else {
                    ""
                }
            ));
        }
    }
    let tasks: Vec<Value> = made
        .iter()
        .map(|(e, id)| {
            json!({
                "line": e.line,
                "task_id": id,
                "state": e.state.as_str(),
                "file": e.out.display().to_string(),
                "command": fetch_command(e, id),
            })
        })
        .collect();
    Err(Failure::new(Code::Usage, message)
        .with(
            "changed",
            json!(changed.iter().map(|r| r.line).collect::<Vec<_>>()),
        )
        .with(
            "moved",
            json!(
                moved
                    .iter()
                    .map(|(from, to)| json!({"from": from, "to": to}))
                    .collect::<Vec<_>>()
            ),
        )
        .with("tasks", json!(tasks)))
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
///
/// Rows removed from the manifest (or invalid now, and skipped) after their
/// create was sent are not waited for here; their tasks (paid for) are
/// named, with the command that fetches each video, on stderr (even with
/// `--quiet`), in the summary and in `--json`'s `removed`, and do not keep
/// the exit code from 0.
async fn report(
    journal: &Journal,
    out_dir: &Path,
    lines: &HashSet<u64>,
    invalid: &[manifest::Invalid],
    stopped: Option<(run::Stop, String)>,
    out: Output,
) -> Result<(), Failure> {
    let all = journal
        .entries()
        .await
        .map_err(|e| Failure::new(Code::Service, e))?;
    let removed: Vec<Entry> = all
        .iter()
        .filter(|e| !lines.contains(&e.line))
        .filter(|e| {
            matches!(
                e.state,
                State::Sending | State::Created | State::Completed | State::Uncertain
            )
        })
        .cloned()
        .collect();
    let entries = kept(all, lines);
    let tally = Tally::of(&entries);
    let downloaded = tally.downloaded;
    let failed = tally.failed + invalid.len();
    let uncertain = tally.uncertain;
    let pending = tally.unfinished();
    let summary = json!({
        "journal": journal.name().to_string(),
        "out_dir": out_dir.display().to_string(),
        "rows": entries.len() + invalid.len(),
        "downloaded": downloaded,
        "failed": failed,
        "uncertain": uncertain,
        "pending": pending,
        "invalid": invalid_json(invalid),
        "stopped": stopped.as_ref().map(|(kind, _)| kind.as_str()),
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
        "removed": removed.iter().map(removed_json).collect::<Vec<_>>(),
        // This run's API requests, creates by outcome, retries, pacing,
        // waits and bytes (the library's metrics, summed).
        "counts": crate::counts::json(),
    });
    let mut line = format!(
        "{downloaded} of {} rows downloaded into {}; {failed} failed, {uncertain} uncertain, \
         {pending} not finished",
        entries.len() + invalid.len(),
        out_dir.display()
    );
    if let Some(counts) = crate::counts::plain() {
        line.push_str("; ");
        line.push_str(&counts);
    }
    for entry in &removed {
        let note = removed_note(entry, invalid.iter().any(|i| i.line == entry.line));
        // A paid task is never hidden, not even by --quiet.
        out.warn(&note);
        line.push_str("; ");
        line.push_str(&note);
    }
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

/// `batch status DIR` (or `--journal`): the journal's rows and their
/// states; on a shared journal also the fleet's seats and each live worker
/// with its last heartbeat.
pub async fn status(
    dir: Option<PathBuf>,
    journal: Option<PathBuf>,
    password_file: Option<PathBuf>,
    out: Output,
) -> Result<(), Failure> {
    let usage = |message: String| Failure::new(Code::Usage, message);
    let default = match &dir {
        Some(dir) => dir.join(JOURNAL_FILE),
        None if journal.is_none() => {
            return Err(usage(
                "batch status needs the batch's DIR, or --journal".to_owned(),
            ));
        }
        None => PathBuf::from(JOURNAL_FILE),
    };
    let journal =
        match JournalAt::parse(journal, default, password_file.as_deref()).map_err(usage)? {
            JournalAt::File(path) => Journal::Sqlite(Arc::new(
                SqliteJournal::open_existing(&path).map_err(usage)?,
            )),
            #[cfg(feature = "postgres")]
            JournalAt::Postgres(database) => Journal::Postgres(Box::new(
                pg_journal::PgJournal::open_to_read(*database)
                    .await
                    .map_err(usage)?,
            )),
        };
    let entries = journal
        .entries()
        .await
        .map_err(|e| Failure::new(Code::Service, e))?;
    let mut table = format!(
        "{:>6}  {:<10}  {:<36}  {}\n",
        "line", "state", "task", "file"
    );
    for e in &entries {
        table.push_str(&format!(
            "{:>6}  {:<10}  {:<36}  {}{}{}\n",
            e.line,
            e.state.as_str(),
            e.task_id.as_deref().unwrap_or("-"),
            e.out.display(),
            e.worker
                .as_deref()
                .map(|w| format!("  [by {w}]"))
                .unwrap_or_default(),
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
    #[allow(unused_mut)]
    let mut summary = json!({
        "journal": journal.name(),
        "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
    });
    #[cfg(feature = "postgres")]
    if let Journal::Postgres(shared) = &journal {
        let service = |e: String| Failure::new(Code::Service, e);
        let seats = shared.seats().await.map_err(service)?;
        let workers = shared.workers().await.map_err(service)?;
        let of = seats.len().max(1);
        table.push_str(&format!(
            "\nfleet: {} seats, each worker paces at 1/{of} of the rate limits",
            seats.len()
        ));
        for seat in &seats {
            table.push_str(&format!(
                "\n  seat {}: {}",
                seat.seat,
                match (&seat.holder, seat.renewed_ms_ago) {
                    (Some(holder), Some(ago)) => {
                        format!("{holder} (renewed {:.1}s ago)", ago as f64 / 1000.0)
                    }
                    _ => "free".to_owned(),
                }
            ));
        }
        table.push_str(&format!("\nlive workers: {}", workers.len()));
        for w in &workers {
            table.push_str(&format!(
                "\n  {} on {} (pid {}), videos into {}, last heartbeat {:.1}s ago",
                w.id,
                w.host,
                w.pid,
                w.out_dir,
                w.heartbeat_ms_ago as f64 / 1000.0
            ));
        }
        summary["fleet"] = json!({
            "seats": seats.len(),
            "share": format!("1/{of}"),
            "holders": seats.iter().map(|s| json!({
                "seat": s.seat,
                "worker": s.holder,
                "renewed_ms_ago": s.renewed_ms_ago,
            })).collect::<Vec<_>>(),
        });
        summary["workers"] = json!(
            workers
                .iter()
                .map(|w| json!({
                    "id": w.id,
                    "host": w.host,
                    "pid": w.pid,
                    "out_dir": w.out_dir,
                    "heartbeat_ms_ago": w.heartbeat_ms_ago,
                }))
                .collect::<Vec<_>>()
        );
    }
    out.result(table, summary);
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
        "worker": e.worker,
    })
}

/// What became of a row removed from the manifest (or `invalid` now, and
/// skipped) after its create was sent.
fn removed_note(entry: &Entry, invalid: bool) -> String {
    let line = entry.line;
    let gone = if invalid {
        "is invalid now (see above) and skipped"
    } else {
        "is no longer in the manifest"
    };
    match &entry.task_id {
        Some(id) => format!(
            "line {line} {gone}, but its create was sent and made task {id} (paid for), which \
             this run does not wait for: `{}` fetches its video",
            fetch_command(entry, id)
        ),
        None => format!(
            "line {line} {gone}, but its create was sent and may have made a task ({}): \
             `freepik-wan batch status` and `freepik-wan list` show it",
            entry.state.as_str()
        ),
    }
}

fn removed_json(entry: &Entry) -> Value {
    json!({
        "line": entry.line,
        "state": entry.state.as_str(),
        "task_id": entry.task_id,
        "file": entry.out.display().to_string(),
        "command": entry.task_id.as_deref().map(|id| fetch_command(entry, id)),
        "reason": entry.reason,
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
