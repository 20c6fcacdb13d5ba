//! One run at a time per journal: a lease row in the journal, refreshed
//! every second, naming the process that holds it and where it runs.
//!
//! A second run takes the lease only when the holder has certainly stopped
//! for good, never from a live run that is merely slow or paused:
//! - on the same machine and in the same PID namespace (the lease records the
//!   boot id and the namespace, and the process's start time against PID
//!   reuse), `/proc` decides: a process that is gone (or a zombie) gives the
//!   lease up at once; one that is alive keeps it, stopped (Ctrl-Z, SIGSTOP)
//!   or not, however old its heartbeat;
//! - elsewhere (another container sharing the volume, another machine), the
//!   process cannot be seen: the lease is taken once its heartbeat is
//!   [`FOREIGN_STALE_AFTER_MS`] old, long past any ordinary pause. A run
//!   paused longer than that and then resumed writes nothing more: every
//!   write checks the lease in the same statement, and a task it learns of is
//!   kept for its row (see the journal's `orphans`).

use std::sync::Arc;
use std::time::Duration;

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::journal::{SqliteJournal as Journal, now_ms};

/// How long a lease held where this run cannot see the process lasts
/// without a heartbeat.
pub const FOREIGN_STALE_AFTER_MS: i64 = 60_000;
const HEARTBEAT: Duration = Duration::from_secs(1);

/// This run's hold on the journal; released when dropped.
pub struct Lease {
    journal: Arc<Journal>,
    holder: String,
    heartbeat: tokio::task::JoinHandle<()>,
}

/// Who holds a lease, as recorded.
struct Holder {
    pid: i64,
    heartbeat_ms: i64,
    host: String,
    start_time: i64,
}

impl Lease {
    /// Takes the journal's lease, or says who holds it.
    pub async fn take(journal: Arc<Journal>) -> Result<Lease, String> {
        let holder = format!("{}-{}", std::process::id(), now_ms());
        if let Some(other) = try_take(&journal, &holder)? {
            let how = if other.host == this_host() {
                match process_state(other.pid, other.start_time) {
                    Some('T' | 't') => " and is stopped (paused); \
                        resume it (`fg`, or `kill -CONT`) or end it first"
                        .to_owned(),
                    _ => " and is running".to_owned(),
                }
            } else {
                let age = (now_ms() - other.heartbeat_ms).max(0) / 1000;
                format!(
                    " elsewhere (another container or machine; last heard of {age}s ago); it \
                     is taken over once silent for {}s",
                    FOREIGN_STALE_AFTER_MS / 1000
                )
            };
            return Err(format!(
                "another batch run (pid {}) is using the journal {}{how}",
                other.pid,
                journal.path().display()
            ));
        }
        journal.hold(&holder);
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

/// Takes the lease if it is free or its holder has certainly stopped; else
/// says who holds it.
fn try_take(journal: &Journal, holder: &str) -> Result<Option<Holder>, String> {
    let err = |e: rusqlite::Error| format!("batch journal (lease): {e}");
    let mut db = journal.db();
    let tx = db
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let current: Option<Holder> = tx
        .query_row(
            "SELECT pid, heartbeat_ms, host, start_time FROM lease WHERE id = 1",
            [],
            |r| {
                Ok(Holder {
                    pid: r.get(0)?,
                    heartbeat_ms: r.get(1)?,
                    host: r.get(2)?,
                    start_time: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(err)?;
    if let Some(other) = current
        && held(&other)
    {
        return Ok(Some(other));
    }
    let pid = std::process::id();
    tx.execute(
        "INSERT OR REPLACE INTO lease (id, holder, pid, heartbeat_ms, host, start_time)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        params![
            holder,
            pid as i64,
            now_ms(),
            this_host(),
            start_time(pid as i64).unwrap_or(0)
        ],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(None)
}

/// Whether `holder` still holds its lease.
fn held(holder: &Holder) -> bool {
    let host = this_host();
    if !host.is_empty() && holder.host == host {
        // Visible here: alive (even stopped) holds; gone does not.
        return process_state(holder.pid, holder.start_time).is_some();
    }
    now_ms() - holder.heartbeat_ms < FOREIGN_STALE_AFTER_MS
}

/// Where this process runs, as far as `/proc` can be trusted to see other
/// processes: this boot of this machine, and this PID namespace. Empty where
/// that cannot be told (not Linux), so no lease is ever judged by `/proc`.
fn this_host() -> String {
    if !cfg!(target_os = "linux") {
        return String::new();
    }
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let namespace = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if boot.trim().is_empty() || namespace.is_empty() {
        return String::new();
    }
    format!("{}/{namespace}", boot.trim())
}

/// The fields of `/proc/<pid>/stat` after the command name: the state is the
/// first, the start time (in clock ticks since boot) the 20th.
fn stat_fields(pid: i64) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn start_time(pid: i64) -> Option<i64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// The state letter of process `pid` if it is alive and is the process that
/// took the lease (same start time, where one was recorded): `None` when it
/// is gone, a zombie, or a later process that reused the pid.
fn process_state(pid: i64, started: i64) -> Option<char> {
    let fields = stat_fields(pid)?;
    let state = fields.first()?.chars().next()?;
    if matches!(state, 'Z' | 'X') {
        return None;
    }
    let now_started: i64 = fields.get(19)?.parse().ok()?;
    if started != 0 && now_started != started {
        return None;
    }
    Some(state)
}
