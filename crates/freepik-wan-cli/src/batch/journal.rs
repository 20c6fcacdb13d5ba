//! The batch journal: what each row of a batch is at, so that a batch killed
//! at any moment resumes without losing a task or paying for one twice.
//!
//! One journal, two backends: a SQLite file ([`SqliteJournal`], the default,
//! one run at a time under its [`lease`](super::lease)), and PostgreSQL
//! (feature `postgres`, [`PgJournal`](super::pg_journal::PgJournal)), where
//! several workers share one batch, each claiming rows under a fencing
//! token. Both keep the same rules: a row moves `pending → sending → created
//! → completed → downloaded` (or ends `failed` or `uncertain`), `sending` is
//! committed before the create goes out, and a task learned by a writer that
//! lost its hold is still recorded (`orphans`).
//!
//! [`Journal`] is what the run uses: the same calls whatever the backend.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use freepik_wan::{Model, Resolution};

use super::manifest::Row;
pub use super::sqlite::SqliteJournal;

/// Where a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Sending,
    Created,
    Completed,
    Downloaded,
    Failed,
    Uncertain,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Created => "created",
            State::Completed => "completed",
            State::Downloaded => "downloaded",
            State::Failed => "failed",
            State::Uncertain => "uncertain",
        }
    }

    pub fn parse(text: &str) -> State {
        match text {
            "sending" => State::Sending,
            "created" => State::Created,
            "completed" => State::Completed,
            "downloaded" => State::Downloaded,
            "failed" => State::Failed,
            "uncertain" => State::Uncertain,
            _ => State::Pending,
        }
    }
}

/// A row as the journal has it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub line: u64,
    pub resolution: String,
    pub out: PathBuf,
    pub state: State,
    pub task_id: Option<String>,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
    pub reason: Option<String>,
    /// The counter value its create was claimed at (`sending`), if ever.
    pub sent_seq: Option<i64>,
    /// When (Unix ms) its create was claimed, if ever.
    pub sent_ms: Option<i64>,
    /// The worker that downloaded it, where several share the journal.
    pub worker: Option<String>,
}

/// How many rows are where: what the summary, `batch status` and the
/// progress display count.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub rows: usize,
    pub downloaded: usize,
    pub failed: usize,
    pub uncertain: usize,
}

impl Tally {
    pub fn of(entries: &[Entry]) -> Tally {
        let count = |state| entries.iter().filter(|e| e.state == state).count();
        Tally {
            rows: entries.len(),
            downloaded: count(State::Downloaded),
            failed: count(State::Failed),
            uncertain: count(State::Uncertain),
        }
    }

    /// Rows neither downloaded nor ended: pending, or a task still running.
    pub fn unfinished(&self) -> usize {
        self.rows - self.downloaded - self.failed - self.uncertain
    }
}

/// How the journal names a row's model endpoint: a Wan 2.2 tier as it
/// always did (`580p`), any other model by its path.
pub fn endpoint_key(model: Model) -> String {
    model
        .resolution()
        .map_or_else(|| model.to_string(), |r| r.as_str().to_owned())
}

/// The model a journal's endpoint key names (the default for one it does
/// not know).
pub fn endpoint_model(key: &str) -> Model {
    key.parse::<Resolution>()
        .map(Model::from)
        .or_else(|_| key.parse::<Model>())
        .unwrap_or_default()
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub type Sql<T> = Result<T, String>;

/// A write was refused because this run no longer holds the journal (its
/// lease, or its claim on the row, was taken over).
pub const LOST_LEASE: &str = "this run lost the journal's lease to another run (was it paused?); \
                              it stops here and changes nothing more";

/// Where the journal is, as `--journal` names it.
#[derive(Debug)]
pub enum JournalAt {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`).
    #[cfg(feature = "postgres")]
    Postgres(Box<freepik_wan::postgres::Database>),
}

/// Whether `--journal` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(journal: &std::path::Path) -> bool {
    let text = journal.to_string_lossy();
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

impl JournalAt {
    /// Where `--journal` (or the default file in `dir`) points, with the
    /// password file for a database. The URL is never repeated in an error
    /// (it may hold a password).
    pub fn parse(
        journal: Option<PathBuf>,
        default: PathBuf,
        password_file: Option<&std::path::Path>,
    ) -> Result<JournalAt, String> {
        let Some(journal) = journal else {
            return Ok(JournalAt::File(default));
        };
        if !is_postgres_url(&journal) {
            if password_file.is_some() {
                return Err("--journal-password-file is for a PostgreSQL journal \
                            (--journal postgres://…)"
                    .to_owned());
            }
            return Ok(JournalAt::File(journal));
        }
        #[cfg(feature = "postgres")]
        {
            let url = journal.to_string_lossy();
            let mut database =
                freepik_wan::postgres::Database::from_url(&url).map_err(|e| e.to_string())?;
            if let Some(file) = password_file {
                database = database.password_file(file).map_err(|e| e.to_string())?;
            }
            Ok(JournalAt::Postgres(Box::new(database)))
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = password_file;
            Err(
                "--journal names a PostgreSQL database, but this freepik-wan was built \
                 without PostgreSQL support: build it with `--features postgres` \
                 (cargo install freepik-wan-cli --features postgres), or give a file"
                    .to_owned(),
            )
        }
    }
}

/// The journal, whichever its backend.
pub enum Journal {
    /// A SQLite file, used by one run at a time.
    Sqlite(std::sync::Arc<SqliteJournal>),
    /// A PostgreSQL database shared by workers.
    #[cfg(feature = "postgres")]
    Postgres(Box<super::pg_journal::PgJournal>),
}

/// Calls the backend's method: the SQLite one is synchronous.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Journal::Sqlite(journal) => journal.$method($($arg),*),
            #[cfg(feature = "postgres")]
            Journal::Postgres(journal) => journal.$method($($arg),*).await,
        }
    };
}

impl Journal {
    /// The journal as output names it: a path, or the database without its
    /// password.
    pub fn name(&self) -> String {
        match self {
            Journal::Sqlite(journal) => journal.path().display().to_string(),
            #[cfg(feature = "postgres")]
            Journal::Postgres(journal) => journal.name(),
        }
    }

    /// Waits until this run may send a create (a shared journal's worker:
    /// while its lease is sure to hold); an error once it may not.
    pub async fn may_send(&self) -> Sql<()> {
        match self {
            Journal::Sqlite(_) => Ok(()),
            #[cfg(feature = "postgres")]
            Journal::Postgres(journal) => journal.may_send().await,
        }
    }

    /// Runs `work` (a create) only while this run may send: on a shared
    /// journal, the worker's seat is checked before every step of it, so a
    /// worker paused past its lease (whose row another may have settled
    /// and sent again) drops the create on waking instead of sending it.
    /// An error when it was dropped; whether it had gone out is unknown,
    /// so its row stays `sending`, for the proof rule.
    pub async fn guarded<F: std::future::Future>(&self, work: F) -> Sql<F::Output> {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            #[cfg(feature = "postgres")]
            if let Journal::Postgres(journal) = self
                && let Err(lost) = journal.seat_holds()
            {
                return std::task::Poll::Ready(Err(lost));
            }
            work.as_mut().poll(cx).map(Ok)
        })
        .await
    }

    /// The clock a row's `sent_ms` is written by: this machine's for a
    /// file, the database's for a shared journal (machines' clocks differ).
    pub async fn clock_ms(&self) -> Sql<i64> {
        match self {
            Journal::Sqlite(_) => Ok(now_ms()),
            #[cfg(feature = "postgres")]
            Journal::Postgres(journal) => journal.now_ms().await,
        }
    }

    /// Takes the lock creates are sent under (fleet-wide on a shared
    /// journal; a SQLite journal's run has it by its lease).
    pub async fn lock_create(&self) -> Sql<()> {
        match self {
            Journal::Sqlite(_) => Ok(()),
            #[cfg(feature = "postgres")]
            Journal::Postgres(journal) => journal.lock_create().await,
        }
    }

    /// Gives back what [`lock_create`](Self::lock_create) took.
    pub async fn unlock_create(&self) -> Sql<()> {
        match self {
            Journal::Sqlite(_) => Ok(()),
            #[cfg(feature = "postgres")]
            Journal::Postgres(journal) => journal.unlock_create().await,
        }
    }

    /// Records the manifest's rows (see [`SqliteJournal::register`]).
    pub async fn register(&self, rows: &[Row]) -> Sql<()> {
        dispatch!(self.register(rows))
    }

    /// Each recorded row's line and fingerprint.
    pub async fn fingerprints(&self) -> Sql<Vec<(u64, String)>> {
        dispatch!(self.fingerprints())
    }

    /// Every row, by line.
    pub async fn entries(&self) -> Sql<Vec<Entry>> {
        dispatch!(self.entries())
    }

    /// One row.
    pub async fn entry(&self, line: u64) -> Sql<Entry> {
        dispatch!(self.entry(line))
    }

    /// Moves a pending row to `sending`, with the next `sent_seq`.
    pub async fn claim(&self, line: u64) -> Sql<bool> {
        dispatch!(self.claim(line))
    }

    /// Moves a row to `state`, with what it learned.
    pub async fn set(
        &self,
        line: u64,
        state: State,
        task_id: Option<&str>,
        reason: Option<&str>,
    ) -> Sql<()> {
        dispatch!(self.set(line, state, task_id, reason))
    }

    /// The tasks recorded for `line` by a writer that lost its hold.
    pub async fn orphans_of(&self, line: u64) -> Sql<Vec<String>> {
        dispatch!(self.orphans_of(line))
    }

    /// Every orphaned task.
    pub async fn orphan_ids(&self) -> Sql<Vec<String>> {
        dispatch!(self.orphan_ids())
    }

    /// `--retry-failed`.
    pub async fn retry_failed(&self) -> Sql<usize> {
        dispatch!(self.retry_failed())
    }

    /// `--resend-uncertain`.
    pub async fn resend_uncertain(&self) -> Sql<usize> {
        dispatch!(self.resend_uncertain())
    }

    /// A row's video is in its file.
    pub async fn downloaded(
        &self,
        line: u64,
        out: &std::path::Path,
        bytes: u64,
        sha256: &str,
    ) -> Sql<()> {
        dispatch!(self.downloaded(line, out, bytes, sha256))
    }

    /// The counter value when a task was first seen in a list.
    pub async fn seen_at(&self, task_id: &str) -> Sql<Option<i64>> {
        dispatch!(self.seen_at(task_id))
    }

    /// The uploads earlier runs made.
    pub async fn uploads(&self) -> Sql<Vec<freepik_wan::Uploaded>> {
        dispatch!(self.uploads())
    }

    /// Records uploads.
    pub async fn remember_uploads(&self, uploads: &[freepik_wan::Uploaded]) -> Sql<()> {
        dispatch!(self.remember_uploads(uploads))
    }

    /// Records tasks a list just showed.
    pub async fn saw(&self, task_ids: &[String]) -> Sql<()> {
        dispatch!(self.saw(task_ids))
    }
}
