//! A worker's run on a shared (PostgreSQL) journal: it claims rows one at a
//! time as it has room for them, settles a row a dead worker left
//! `sending`, takes each as far as it goes, and gives it back; it ends when
//! no row is left that it has not tried and no live worker holds one that
//! may still need work.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::TryStreamExt as _;

use super::journal::{Sql, State};
use super::manifest::Row;
use super::pg_journal::PgJournal;
use super::run::{Pass, Run};

/// How often a worker with nothing to claim looks again while others work.
const IDLE: Duration = Duration::from_millis(500);

/// Works the journal's rows until none is left for this worker.
pub async fn run(
    run: &Run,
    journal: &PgJournal,
    rows: &[Row],
    concurrency: usize,
) -> Sql<Vec<(u64, State)>> {
    let by_line: HashMap<u64, &Row> = rows.iter().map(|r| (r.line, r)).collect();
    let tried: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let deferred: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let tried = &tried;
    // Ends at the first error: the run stops there.
    let claims = futures_util::stream::unfold(true, |going| async move {
        if !going {
            return None;
        }
        loop {
            if run.stopped().is_some() {
                return None;
            }
            let skip = tried.lock().unwrap_or_else(|e| e.into_inner()).clone();
            match journal.take(1, &skip).await {
                Err(error) => return Some((Err(error), false)),
                Ok(lines) if !lines.is_empty() => {
                    tried
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(&lines);
                    return Some((Ok(lines[0]), true));
                }
                Ok(_) => match journal.held_by_others().await {
                    Err(error) => return Some((Err(error), false)),
                    Ok(0) => return None,
                    // Another worker holds rows: if it dies, they are ours.
                    Ok(_) => tokio::time::sleep(IDLE).await,
                },
            }
        }
    });
    let states: Vec<Option<(u64, State)>> = claims
        .map_ok(|line| {
            let by_line = &by_line;
            let deferred = &deferred;
            async move {
                let Some(row) = by_line.get(&line) else {
                    // Not a row of this worker's manifest (invalid here).
                    journal.release(line).await?;
                    return Ok(None);
                };
                let entry = run.journal.entry(line).await?;
                if entry.state == State::Sending && !run.recover_row(&entry, Pass::First).await? {
                    // Kept claimed until this worker's creates can prove it.
                    deferred
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(line);
                    return Ok(None);
                }
                let state = run.process(row).await?;
                journal.release(line).await?;
                run.display.row(line, state);
                Ok(Some((line, state)))
            }
        })
        .try_buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut done: Vec<(u64, State)> = states.into_iter().flatten().collect();
    let later = std::mem::take(&mut *deferred.lock().unwrap_or_else(|e| e.into_inner()));
    for line in later {
        let entry = run.journal.entry(line).await?;
        if entry.state == State::Sending {
            run.recover_row(&entry, Pass::Last).await?;
        }
        if let Some(row) = by_line.get(&line) {
            let state = run.process(row).await?;
            run.display.row(line, state);
            done.push((line, state));
        }
        journal.release(line).await?;
    }
    Ok(done)
}
