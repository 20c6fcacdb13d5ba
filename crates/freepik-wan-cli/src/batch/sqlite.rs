//! The batch journal's SQLite backend (the default): a file that records
//! each row's state, used by one run at a time.
//!
//! A row moves `pending → sending → created → completed → downloaded`, or
//! ends `failed` or `uncertain`. `sending` is written (and committed) before
//! the create goes out, and `created` with the task id as soon as it comes
//! back, so a row found in `sending` is one whose create may or may not have
//! reached the service: it is reconciled against the task list, never simply
//! sent again. Every write is its own committed transaction.
//!
//! Order is kept by a counter, not a clock: a claim takes the next number
//! (`sent_seq`), and a task is noted as seen with the number current when
//! the list that showed it had been read. A task seen before a row's claim
//! cannot be that row's; any other may be.
//!
//! Only the run holding the lease writes a row's state: every write checks
//! the lease in the same statement, so a run that lost it (paused past a
//! takeover) changes nothing. A task such a run learns of is still recorded,
//! in `orphans` under its row, so it is never lost nor paid for again.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::journal::{Entry, LOST_LEASE, Sql, State, endpoint_key, now_ms};
use super::manifest::Row;

/// The journal; one connection, used from one run.
pub struct SqliteJournal {
    db: std::sync::Mutex<Connection>,
    path: PathBuf,
    /// The lease this run holds, once it holds one: writes check it.
    holder: std::sync::Mutex<Option<String>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rows (
    line INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    resolution TEXT NOT NULL,
    out TEXT NOT NULL,
    state TEXT NOT NULL,
    task_id TEXT,
    bytes INTEGER,
    sha256 TEXT,
    reason TEXT,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_tasks (task_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS lease (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    pid INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO counter (id, seq) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS orphans (
    task_id TEXT PRIMARY KEY,
    line INTEGER NOT NULL,
    noted_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    sha256 TEXT PRIMARY KEY,
    file_id TEXT NOT NULL,
    asset_url TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    readable_until_ms INTEGER NOT NULL
);
";

/// The journal's schema version (SQLite's `user_version`): 0 for journals
/// written before it was recorded, which this version reads and upgrades.
pub const SCHEMA_VERSION: i64 = 1;

/// Columns later versions added to tables an older journal already has.
const ADDED_COLUMNS: [(&str, &str, &str); 5] = [
    ("rows", "sent_seq", "INTEGER"),
    ("rows", "sent_ms", "INTEGER"),
    ("seen_tasks", "seq", "INTEGER NOT NULL DEFAULT 0"),
    ("lease", "host", "TEXT NOT NULL DEFAULT ''"),
    ("lease", "start_time", "INTEGER NOT NULL DEFAULT 0"),
];

/// The columns [`read_entry`] reads, in its order.
const ENTRY_COLUMNS: &str =
    "line, resolution, out, state, task_id, bytes, sha256, reason, sent_seq, sent_ms";

fn read_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        line: r.get::<_, i64>(0)? as u64,
        resolution: r.get(1)?,
        out: PathBuf::from(r.get::<_, String>(2)?),
        state: State::parse(&r.get::<_, String>(3)?),
        task_id: r.get(4)?,
        bytes: r.get::<_, Option<i64>>(5)?.map(|b| b as u64),
        sha256: r.get(6)?,
        reason: r.get(7)?,
        sent_seq: r.get(8)?,
        sent_ms: r.get(9)?,
        worker: None,
    })
}

fn sql(what: &str) -> impl FnOnce(rusqlite::Error) -> String + '_ {
    move |e| format!("batch journal ({what}): {e}")
}

impl SqliteJournal {
    /// Opens (or creates) the journal at `path`.
    pub fn open(path: &Path) -> Sql<SqliteJournal> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let db = Connection::open(path).map_err(sql("open"))?;
        // WAL: readers (`batch status`) never block the run; FULL: a state
        // is on disk before the action it announces.
        db.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql("journal mode"))?;
        db.pragma_update(None, "synchronous", "FULL")
            .map_err(sql("synchronous"))?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql("busy timeout"))?;
        // A journal written by a newer version may mean something this
        // one would misread: refused before anything is changed.
        let version: i64 = db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql("schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(format!(
                "the batch journal {} was written by a newer freepik-wan (journal version \
                 {version}, this one knows 0 to {SCHEMA_VERSION}): run the newer version, or \
                 use another journal",
                path.display()
            ));
        }
        db.execute_batch(SCHEMA).map_err(sql("schema"))?;
        for (table, column, kind) in ADDED_COLUMNS {
            let present: bool = db
                .prepare(&format!(
                    "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
                ))
                .and_then(|mut q| q.exists(params![column]))
                .map_err(sql("schema"))?;
            if !present {
                db.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))
                    .map_err(sql("schema"))?;
            }
        }
        if version < SCHEMA_VERSION {
            db.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(sql("schema version"))?;
        }
        Ok(SqliteJournal {
            db: std::sync::Mutex::new(db),
            path: path.to_path_buf(),
            holder: std::sync::Mutex::new(None),
        })
    }

    /// From now on, writes are this lease holder's (and refused once it
    /// holds the lease no more).
    pub fn hold(&self, holder: &str) {
        *self.holder.lock().unwrap_or_else(|e| e.into_inner()) = Some(holder.to_owned());
    }

    fn holder(&self) -> String {
        self.holder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// Opens an existing journal to read it.
    pub fn open_existing(path: &Path) -> Sql<SqliteJournal> {
        if !path.exists() {
            return Err(format!("no batch journal at {}", path.display()));
        }
        SqliteJournal::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the manifest's rows: new ones as pending; a known row must
    /// ask for what it asked before (else the journal does not apply to it).
    pub fn register(&self, rows: &[Row]) -> Sql<()> {
        let mut db = self.db();
        let tx = db.transaction().map_err(sql("register"))?;
        for row in rows {
            let known: Option<String> = tx
                .query_row(
                    "SELECT fingerprint FROM rows WHERE line = ?1",
                    params![row.line as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("register"))?;
            match known {
                // `batch` refuses a changed manifest before this, saying
                // how to keep what was made; this only guards the journal.
                Some(print) if print != row.fingerprint => {
                    return Err(format!(
                        "line {} of the manifest changed since the journal recorded it; \
                         nothing was sent",
                        row.line
                    ));
                }
                Some(_) => {}
                None => {
                    tx.execute(
                        "INSERT INTO rows (line, fingerprint, resolution, out, state, updated_ms)
                         VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
                        params![
                            row.line as i64,
                            row.fingerprint,
                            endpoint_key(row.model),
                            row.out.display().to_string(),
                            now_ms()
                        ],
                    )
                    .map_err(sql("register"))?;
                }
            }
        }
        tx.commit().map_err(sql("register"))
    }

    /// Each recorded row's line and the fingerprint it was recorded with.
    pub fn fingerprints(&self) -> Sql<Vec<(u64, String)>> {
        let db = self.db();
        let mut statement = db
            .prepare("SELECT line, fingerprint FROM rows ORDER BY line")
            .map_err(sql("read"))?;
        let rows = statement
            .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
            .map_err(sql("read"))?;
        rows.collect::<Result<_, _>>().map_err(sql("read"))
    }

    pub fn entries(&self) -> Sql<Vec<Entry>> {
        let db = self.db();
        let mut statement = db
            .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM rows ORDER BY line"))
            .map_err(sql("read"))?;
        let rows = statement.query_map([], read_entry).map_err(sql("read"))?;
        rows.collect::<Result<_, _>>().map_err(sql("read"))
    }

    /// One row, by its manifest line.
    pub fn entry(&self, line: u64) -> Sql<Entry> {
        self.db()
            .query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM rows WHERE line = ?1"),
                params![line as i64],
                read_entry,
            )
            .optional()
            .map_err(sql("read"))?
            .ok_or_else(|| format!("line {line} is missing from the journal"))
    }

    /// Claims a pending row for its create: `false` when it is not pending
    /// any more, or this run no longer holds the journal's lease.
    pub fn claim(&self, line: u64) -> Sql<bool> {
        let mut db = self.db();
        let tx = db.transaction().map_err(sql("claim"))?;
        tx.execute("UPDATE counter SET seq = seq + 1 WHERE id = 1", [])
            .map_err(sql("claim"))?;
        let changed = tx
            .execute(
                "UPDATE rows SET state = 'sending', updated_ms = ?3, sent_ms = ?3,
                        sent_seq = (SELECT seq FROM counter WHERE id = 1)
                 WHERE line = ?1 AND state = 'pending'
                   AND EXISTS (SELECT 1 FROM lease WHERE holder = ?2)",
                params![line as i64, self.holder(), now_ms()],
            )
            .map_err(sql("claim"))?;
        tx.commit().map_err(sql("claim"))?;
        Ok(changed == 1)
    }

    /// Moves a row to `state`, with what it learned.
    pub fn set(
        &self,
        line: u64,
        state: State,
        task_id: Option<&str>,
        reason: Option<&str>,
    ) -> Sql<()> {
        let changed = self
            .db()
            .execute(
                "UPDATE rows SET state = ?2, task_id = COALESCE(?3, task_id), reason = ?4,
                        updated_ms = ?5
                 WHERE line = ?1 AND EXISTS (SELECT 1 FROM lease WHERE holder = ?6)",
                params![
                    line as i64,
                    state.as_str(),
                    task_id,
                    reason,
                    now_ms(),
                    self.holder()
                ],
            )
            .map_err(sql("update"))?;
        if changed == 0 {
            if let Some(id) = task_id {
                // Whoever runs now must know this row's task.
                self.orphan(line, id)?;
            }
            return Err(LOST_LEASE.to_owned());
        }
        Ok(())
    }

    /// Records that `task_id` was made for `line` by a run that could not
    /// write the row itself; the next recovery adopts it.
    pub fn orphan(&self, line: u64, task_id: &str) -> Sql<()> {
        self.db()
            .execute(
                "INSERT OR IGNORE INTO orphans (task_id, line, noted_ms) VALUES (?1, ?2, ?3)",
                params![task_id, line as i64, now_ms()],
            )
            .map_err(sql("orphan"))?;
        Ok(())
    }

    /// The tasks recorded as made for `line` by a run that lost its lease.
    pub fn orphans_of(&self, line: u64) -> Sql<Vec<String>> {
        let db = self.db();
        let mut statement = db
            .prepare("SELECT task_id FROM orphans WHERE line = ?1 ORDER BY noted_ms")
            .map_err(sql("read"))?;
        let ids = statement
            .query_map(params![line as i64], |r| r.get(0))
            .map_err(sql("read"))?;
        ids.collect::<Result<_, _>>().map_err(sql("read"))
    }

    /// Every task recorded in `orphans`.
    pub fn orphan_ids(&self) -> Sql<Vec<String>> {
        let db = self.db();
        let mut statement = db
            .prepare("SELECT task_id FROM orphans")
            .map_err(sql("read"))?;
        let ids = statement.query_map([], |r| r.get(0)).map_err(sql("read"))?;
        ids.collect::<Result<_, _>>().map_err(sql("read"))
    }

    /// Rows that failed without a task (refused, say) go back to pending,
    /// for `--retry-failed`; returns how many.
    pub fn retry_failed(&self) -> Sql<usize> {
        self.db()
            .execute(
                "UPDATE rows SET state = 'pending', reason = 'failed before: sent again (--retry-failed)',
                        updated_ms = ?1
                 WHERE state = 'failed' AND task_id IS NULL
                   AND EXISTS (SELECT 1 FROM lease WHERE holder = ?2)",
                params![now_ms(), self.holder()],
            )
            .map_err(sql("retry failed"))
    }

    /// Rows left `uncertain` go back to pending, for `--resend-uncertain`
    /// (the user checked that no task of theirs exists); returns how many.
    pub fn resend_uncertain(&self) -> Sql<usize> {
        self.db()
            .execute(
                "UPDATE rows SET state = 'pending',
                        reason = 'uncertain before: sent again (--resend-uncertain)',
                        updated_ms = ?1
                 WHERE state = 'uncertain' AND task_id IS NULL
                   AND EXISTS (SELECT 1 FROM lease WHERE holder = ?2)",
                params![now_ms(), self.holder()],
            )
            .map_err(sql("resend uncertain"))
    }

    pub fn downloaded(&self, line: u64, _out: &Path, bytes: u64, sha256: &str) -> Sql<()> {
        let changed = self
            .db()
            .execute(
                "UPDATE rows SET state = 'downloaded', bytes = ?2, sha256 = ?3, reason = NULL,
                        updated_ms = ?4
                 WHERE line = ?1 AND EXISTS (SELECT 1 FROM lease WHERE holder = ?5)",
                params![line as i64, bytes as i64, sha256, now_ms(), self.holder()],
            )
            .map_err(sql("update"))?;
        if changed == 0 {
            return Err(LOST_LEASE.to_owned());
        }
        Ok(())
    }

    /// The counter value when `task_id` was first seen in a list, if ever.
    pub fn seen_at(&self, task_id: &str) -> Sql<Option<i64>> {
        self.db()
            .query_row(
                "SELECT seq FROM seen_tasks WHERE task_id = ?1",
                params![task_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("read"))
    }

    /// The uploads an earlier run of this batch made (their asset URLs
    /// carry a token: never printed), for the client to reuse while they
    /// stay readable.
    pub fn uploads(&self) -> Sql<Vec<freepik_wan::Uploaded>> {
        let db = self.db();
        let mut query = db
            .prepare(
                "SELECT sha256, file_id, asset_url, content_type, bytes, readable_until_ms
                 FROM uploads",
            )
            .map_err(sql("uploads"))?;
        let rows = query
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(sql("uploads"))?;
        let mut found = Vec::new();
        for row in rows {
            let (hash, file_id, asset_url, content_type, bytes, until_ms) =
                row.map_err(sql("uploads"))?;
            found.extend(restore_upload(
                hash,
                file_id,
                asset_url,
                content_type,
                bytes,
                until_ms,
            ));
        }
        Ok(found)
    }

    /// Records uploads (by content hash; one already known is kept).
    pub fn remember_uploads(&self, uploads: &[freepik_wan::Uploaded]) -> Sql<()> {
        let mut db = self.db();
        let tx = db.transaction().map_err(sql("uploads"))?;
        for u in uploads {
            let until = u
                .readable_until
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            tx.execute(
                "INSERT OR REPLACE INTO uploads
                 (sha256, file_id, asset_url, content_type, bytes, readable_until_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    hex(&u.sha256),
                    u.file_id,
                    u.asset_url,
                    u.content_type,
                    u.bytes as i64,
                    until
                ],
            )
            .map_err(sql("uploads"))?;
        }
        tx.commit().map_err(sql("uploads"))
    }

    /// Records tasks a list showed, read to its end just now: they exist
    /// before any claim that comes after (the first sighting is kept).
    pub fn saw(&self, task_ids: &[String]) -> Sql<()> {
        let mut db = self.db();
        let tx = db.transaction().map_err(sql("baseline"))?;
        for id in task_ids {
            tx.execute(
                "INSERT OR IGNORE INTO seen_tasks (task_id, seq)
                 VALUES (?1, (SELECT seq FROM counter WHERE id = 1))",
                params![id],
            )
            .map_err(sql("baseline"))?;
        }
        tx.commit().map_err(sql("baseline"))
    }
}

/// An upload as a journal recorded it, if still usable.
pub(super) fn restore_upload(
    hash: String,
    file_id: String,
    asset_url: String,
    content_type: String,
    bytes: i64,
    until_ms: i64,
) -> Option<freepik_wan::Uploaded> {
    let sha256 = unhex(&hash)?;
    let until = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(u64::try_from(until_ms).unwrap_or(0));
    freepik_wan::Uploaded::restore(
        file_id,
        asset_url,
        &content_type,
        u64::try_from(bytes).unwrap_or(0),
        until,
        sha256,
    )
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
