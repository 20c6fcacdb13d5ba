//! One run at a time per journal: a lease row in the journal, refreshed
//! every second. A second run refuses while the lease is fresh and its
//! holder alive; a lease left by a run that was killed is taken over at once
//! where the system shows that process is gone (Linux), and otherwise once
//! it has gone stale, within a few seconds. Row claims check the lease in the same statement, so a
//! run that lost it (say, suspended for longer than the lease) sends
//! nothing more.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::journal::{Journal, now_ms};

/// How long a lease lasts without a heartbeat.
const STALE_AFTER_MS: i64 = 3_000;
const HEARTBEAT: Duration = Duration::from_secs(1);

/// This run's hold on the journal; released when dropped.
pub struct Lease {
    journal: Arc<Journal>,
    holder: String,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Takes the journal's lease, waiting out a stale one left by a run that
    /// was killed; refuses while another run holds it.
    pub async fn take(journal: Arc<Journal>) -> Result<Lease, String> {
        let holder = format!("{}-{}", std::process::id(), now_ms());
        let mut last_seen: Option<i64> = None;
        loop {
            match try_take(&journal, &holder)? {
                None => break,
                Some((pid, heartbeat)) => {
                    let age = now_ms() - heartbeat;
                    if last_seen.is_some_and(|seen| seen != heartbeat) {
                        return Err(format!(
                            "another batch run (pid {pid}) is using the journal {}",
                            journal.path().display()
                        ));
                    }
                    last_seen = Some(heartbeat);
                    // Let it go stale, then look again: a live run will
                    // have refreshed it by then.
                    let wait = (STALE_AFTER_MS - age).max(0) as u64 + 100;
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
            }
        }
        let beat = (journal.clone(), holder.clone());
        let heartbeat = tokio::spawn(async move {
            let (journal, holder) = beat;
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let _ = journal.db().execute(
                    "UPDATE lease SET heartbeat_ms = ?2 WHERE holder = ?1",
                    params![holder, now_ms()],
                );
            }
        });
        Ok(Lease {
            journal,
            holder,
            heartbeat,
        })
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.heartbeat.abort();
        let _ = self
            .journal
            .db()
            .execute("DELETE FROM lease WHERE holder = ?1", params![self.holder]);
    }
}

/// Takes the lease if it is free or stale; else says who holds it (pid,
/// last heartbeat).
fn try_take(journal: &Journal, holder: &str) -> Result<Option<(i64, i64)>, String> {
    let err = |e: rusqlite::Error| format!("batch journal (lease): {e}");
    let mut db = journal.db();
    let tx = db
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let current: Option<(i64, i64)> = tx
        .query_row(
            "SELECT pid, heartbeat_ms FROM lease WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(err)?;
    if let Some((pid, heartbeat)) = current
        && now_ms() - heartbeat < STALE_AFTER_MS
        && !process_gone(pid)
    {
        return Ok(Some((pid, heartbeat)));
    }
    tx.execute(
        "INSERT OR REPLACE INTO lease (id, holder, pid, heartbeat_ms) VALUES (1, ?1, ?2, ?3)",
        params![holder, std::process::id() as i64, now_ms()],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(None)
}

/// Whether the process `pid` of this machine has certainly exited (Linux:
/// no `/proc/<pid>`, or a zombie that nobody has reaped yet). Elsewhere
/// nothing is certain, and the lease goes stale instead.
fn process_gone(pid: i64) -> bool {
    if !cfg!(target_os = "linux") || !std::path::Path::new("/proc/self/stat").exists() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (name) S ...`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| matches!(state, 'Z' | 'X')),
    }
}
