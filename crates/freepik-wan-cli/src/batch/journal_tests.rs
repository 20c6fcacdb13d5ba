//! One journal test suite, run against both backends: SQLite (a file) and,
//! with the `postgres` feature, PostgreSQL (a real server the tests start).
//! Each test is written once, against [`Journal`]; a backend supplies how a
//! run comes to hold rows and how it loses them.

use std::path::Path;
use std::sync::Arc;

use super::journal::{Journal, LOST_LEASE, State};
use super::manifest::{self, Row};
use super::sqlite::SqliteJournal;

/// A journal holding every row of `rows`, as a run would, and how it loses
/// that hold (a lease or claim taken over).
struct Held {
    journal: Journal,
    /// Keeps the SQLite lease row; the temp dir.
    _keep: Vec<Box<dyn std::any::Any + Send>>,
    lose: Box<dyn Fn(&Journal) + Send>,
}

/// `count` rows of a manifest written in `dir`.
fn rows(dir: &Path, count: usize, prompt: &str) -> Vec<Row> {
    let mut text = String::from("image,prompt\n");
    for i in 0..count {
        text.push_str(&format!("cat.jpg,{prompt} {i}\n"));
    }
    let path = dir.join("m.csv");
    std::fs::write(&path, text).unwrap();
    let (rows, invalid) = manifest::read(&path, &dir.join("out"), &dir.join("j.db")).unwrap();
    assert!(invalid.is_empty(), "{invalid:?}");
    rows
}

async fn sqlite(rows: &[Row], dir: &Path) -> Held {
    let inner = Arc::new(SqliteJournal::open(&dir.join("journal.db")).unwrap());
    let lease = super::lease::Lease::take(inner.clone()).await.unwrap();
    let lost = inner.clone();
    let journal = Journal::Sqlite(inner);
    journal.register(rows).await.unwrap();
    Held {
        journal,
        _keep: vec![Box::new(lease)],
        lose: Box::new(move |_| {
            // Another run took the lease over.
            lost.db()
                .execute("UPDATE lease SET holder = 'another run'", [])
                .unwrap();
        }),
    }
}

#[cfg(feature = "postgres")]
async fn postgres(rows: &[Row], name: &str) -> Held {
    use super::pg_journal::PgJournal;
    use freepik_wan::postgres::Database;
    let url = freepik_wan_tests::pg::Cluster::shared().database(name);
    let database = Database::from_url(&url).unwrap();
    let inner = PgJournal::open(database, Some(1)).await.unwrap();
    inner
        .join(
            Path::new("/tmp/out"),
            std::time::Duration::from_secs(30),
            |_| {},
        )
        .await
        .unwrap();
    let journal = Journal::Postgres(Box::new(inner));
    journal.register(rows).await.unwrap();
    if let Journal::Postgres(j) = &journal {
        let lines = j.take(rows.len(), &[]).await.unwrap();
        assert_eq!(lines.len(), rows.len());
    }
    let db = url.rsplit('/').next().unwrap().to_owned();
    Held {
        journal,
        _keep: Vec::new(),
        lose: Box::new(move |_| {
            // Another worker took every row over: new fences.
            freepik_wan_tests::pg::Cluster::shared().psql(
                &db,
                "UPDATE batch_rows SET owner = 'another', fence = nextval('batch_fence')",
            );
        }),
    }
}

/// Defines each test once per backend.
macro_rules! both {
    ($($name:ident($rows:expr)),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let rows = super::rows(dir.path(), $rows, "a");
                    let held = super::sqlite(&rows, dir.path()).await;
                    super::$name(held, &rows, dir.path()).await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let rows = super::rows(dir.path(), $rows, "a");
                    let held = super::postgres(&rows, stringify!($name)).await;
                    super::$name(held, &rows, dir.path()).await;
                }
            )*
        }
    };
}

both! {
    rows_start_pending_and_a_changed_row_is_refused(3),
    claims_take_increasing_numbers_and_a_row_is_claimed_once(3),
    a_task_listed_before_a_claim_is_seen_before_it(2),
    a_row_moves_through_its_states(1),
    a_writer_that_lost_its_hold_changes_nothing_but_keeps_the_task(2),
}

async fn rows_start_pending_and_a_changed_row_is_refused(held: Held, rows: &[Row], dir: &Path) {
    let j = &held.journal;
    let entries = j.entries().await.unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e.state == State::Pending));
    let prints = j.fingerprints().await.unwrap();
    assert_eq!(prints.len(), 3);
    assert_eq!(prints[0], (rows[0].line, rows[0].fingerprint.clone()));
    // Registering again is harmless; a changed row is refused.
    j.register(rows).await.unwrap();
    let changed = self::rows(dir, 3, "b");
    let error = j.register(&changed).await.unwrap_err();
    assert!(error.contains("changed"), "{error}");
}

async fn claims_take_increasing_numbers_and_a_row_is_claimed_once(
    held: Held,
    rows: &[Row],
    _: &Path,
) {
    let j = &held.journal;
    assert!(j.claim(rows[0].line).await.unwrap());
    assert!(j.claim(rows[2].line).await.unwrap());
    assert!(!j.claim(rows[0].line).await.unwrap(), "claimed once");
    let first = j.entry(rows[0].line).await.unwrap();
    let second = j.entry(rows[2].line).await.unwrap();
    assert_eq!(first.state, State::Sending);
    assert!(first.sent_seq.unwrap() < second.sent_seq.unwrap());
    assert!(first.sent_ms.is_some());
    assert_eq!(j.entry(rows[1].line).await.unwrap().state, State::Pending);
}

async fn a_task_listed_before_a_claim_is_seen_before_it(held: Held, rows: &[Row], _: &Path) {
    let j = &held.journal;
    j.saw(&["old".to_owned()]).await.unwrap();
    assert!(j.claim(rows[0].line).await.unwrap());
    j.saw(&["new".to_owned(), "old".to_owned()]).await.unwrap();
    let sent = j.entry(rows[0].line).await.unwrap().sent_seq.unwrap();
    assert!(
        j.seen_at("old").await.unwrap().unwrap() < sent,
        "first sighting kept"
    );
    assert!(j.seen_at("new").await.unwrap().unwrap() >= sent);
    assert_eq!(j.seen_at("never").await.unwrap(), None);
}

async fn a_row_moves_through_its_states(held: Held, rows: &[Row], _: &Path) {
    let j = &held.journal;
    let line = rows[0].line;
    assert!(j.claim(line).await.unwrap());
    j.set(line, State::Created, Some("task-1"), None)
        .await
        .unwrap();
    j.set(line, State::Completed, None, None).await.unwrap();
    j.downloaded(line, &rows[0].out, 42, "abc").await.unwrap();
    let e = j.entry(line).await.unwrap();
    assert_eq!(e.state, State::Downloaded);
    assert_eq!(
        e.task_id.as_deref(),
        Some("task-1"),
        "kept through later writes"
    );
    assert_eq!((e.bytes, e.sha256.as_deref()), (Some(42), Some("abc")));
}

async fn a_writer_that_lost_its_hold_changes_nothing_but_keeps_the_task(
    held: Held,
    rows: &[Row],
    _: &Path,
) {
    let j = &held.journal;
    assert!(j.claim(rows[0].line).await.unwrap());
    (held.lose)(j);
    let error = j
        .set(rows[0].line, State::Created, Some("task-9"), None)
        .await
        .unwrap_err();
    assert_eq!(error, LOST_LEASE);
    let e = j.entry(rows[0].line).await.unwrap();
    assert_eq!(e.state, State::Sending, "unchanged");
    assert_eq!(e.task_id, None);
    assert_eq!(j.orphans_of(rows[0].line).await.unwrap(), vec!["task-9"]);
    assert!(!j.claim(rows[1].line).await.unwrap(), "no claim either");
    assert!(
        j.downloaded(rows[0].line, &rows[0].out, 1, "x")
            .await
            .is_err()
    );
}

#[test]
fn a_sqlite_journal_written_by_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let journal = SqliteJournal::open(&path).unwrap();
    journal
        .db()
        .pragma_update(None, "user_version", super::sqlite::SCHEMA_VERSION + 1)
        .unwrap();
    drop(journal);
    let error = SqliteJournal::open(&path).err().unwrap();
    assert!(error.contains("newer freepik-wan"), "{error}");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_postgres_journal_written_by_a_newer_version_is_refused() {
    use freepik_wan::postgres::Database;
    let cluster = freepik_wan_tests::pg::Cluster::shared();
    let url = cluster.database("newer");
    let open = || super::pg_journal::PgJournal::open(Database::from_url(&url).unwrap(), None);
    open().await.unwrap();
    let db = url.rsplit('/').next().unwrap();
    cluster.psql(
        db,
        "UPDATE freepik_wan_schema SET version = version + 1 \
         WHERE component = 'freepik_wan_batch_journal'",
    );
    let error = open().await.err().unwrap();
    assert!(error.contains("newer freepik-wan"), "{error}");
}
