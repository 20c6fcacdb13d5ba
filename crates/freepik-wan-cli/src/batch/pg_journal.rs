//! The batch journal's PostgreSQL backend (feature `postgres`): one batch
//! shared by workers on several machines.
//!
//! - A worker works only while it holds a seat of the batch's fleet
//!   ([`freepik_wan::postgres::fleet`]): its lease, renewed by a heartbeat.
//!   It sends a create only while its own monotonic clock says the lease
//!   holds for a while yet ([`PgJournal::may_send`]).
//! - Rows are claimed a few at a time in short transactions (`FOR UPDATE
//!   SKIP LOCKED`): free rows, and rows whose owner's lease lapsed. Each
//!   claim takes a new fencing token, and every write names it and this
//!   worker's live lease in the same statement: a worker whose row was
//!   taken over changes nothing, and a task it learned is still recorded
//!   (`orphans`). Taking over a lapsed worker's rows also ends its database
//!   sessions, so a worker that was only paused finds itself cut off.
//! - `sent_seq` is a sequence, one order for the whole fleet, so today's
//!   proof rule settles a row a dead worker left `sending`.
//! - Creates go one at a time across the fleet (an advisory lock held from
//!   the claim to the recorded result), so at most one row is ever "sent but
//!   not confirmed" whatever happens to the workers or the database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use freepik_wan::postgres::fleet::{Fleet, Seat, SeatHolder};
use freepik_wan::postgres::tokio_postgres::{Client, Row as PgRow};
use freepik_wan::postgres::{Database, Migrations, StoreError};

use super::journal::{Entry, LOST_LEASE, Sql, State, endpoint_key, now_ms};
use super::manifest::Row;

/// The fleet's pool of seats in `freepik_wan_fleet_seats`.
const POOL: &str = "freepik_wan_batch";
/// The advisory lock creates are sent under.
const CREATE_LOCK: i64 = 0x6672_6565_7069_6b01;

const SCHEMA: Migrations = Migrations {
    component: "freepik_wan_batch_journal",
    steps: &["CREATE SEQUENCE batch_sent_seq;
        CREATE SEQUENCE batch_fence;
        CREATE TABLE batch_rows (
            line bigint PRIMARY KEY,
            fingerprint text NOT NULL,
            resolution text NOT NULL,
            out text NOT NULL,
            state text NOT NULL,
            task_id text,
            bytes bigint,
            sha256 text,
            reason text,
            sent_seq bigint,
            sent_ms bigint,
            updated_ms bigint NOT NULL,
            owner text,
            fence bigint,
            written_by text
        );
        CREATE TABLE batch_workers (
            id text PRIMARY KEY,
            host text NOT NULL,
            pid integer NOT NULL,
            out_dir text NOT NULL,
            started timestamptz NOT NULL DEFAULT now(),
            heartbeat timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE batch_seen (task_id text PRIMARY KEY, seq bigint NOT NULL);
        CREATE TABLE batch_orphans (
            task_id text PRIMARY KEY,
            line bigint NOT NULL,
            noted_ms bigint NOT NULL
        );
        CREATE TABLE batch_uploads (
            sha256 text PRIMARY KEY,
            file_id text NOT NULL,
            asset_url text NOT NULL,
            content_type text NOT NULL,
            bytes bigint NOT NULL,
            readable_until_ms bigint NOT NULL
        );"],
};

/// This worker's seat in the sessions' application name, which a worker
/// taking its rows over uses to end its sessions.
fn application_name(worker: &str) -> String {
    format!("freepik-wan batch {worker}")
}

/// The row is this worker's live claim: `$F` its fence, `$W` the worker.
fn fenced(fence: usize, worker: usize) -> String {
    format!(
        "fence = ${fence} AND EXISTS (SELECT 1 FROM freepik_wan_fleet_seats
             WHERE pool = '{POOL}' AND holder = ${worker} AND expires >= now())"
    )
}

/// The states a row can still move on from.
const UNFINISHED: &str = "('pending', 'sending', 'created', 'completed')";

const ENTRY_COLUMNS: &str = "line, resolution, out, state, task_id, bytes, sha256, reason, \
                             sent_seq, sent_ms, written_by";

fn read_entry(r: &PgRow) -> Entry {
    Entry {
        line: r.get::<_, i64>(0) as u64,
        resolution: r.get(1),
        out: PathBuf::from(r.get::<_, String>(2)),
        state: State::parse(r.get(3)),
        task_id: r.get(4),
        bytes: r.get::<_, Option<i64>>(5).map(|b| b as u64),
        sha256: r.get(6),
        reason: r.get(7),
        sent_seq: r.get(8),
        sent_ms: r.get(9),
        worker: r.get(10),
    }
}

/// A live worker, as `batch status` shows it.
pub struct WorkerInfo {
    pub id: String,
    pub host: String,
    pub pid: i32,
    pub out_dir: String,
    pub heartbeat_ms_ago: i64,
}

/// The journal in PostgreSQL, as one worker uses it.
pub struct PgJournal {
    database: Database,
    /// Statements and short transactions.
    db: tokio::sync::Mutex<Client>,
    /// Holds the create lock while a create is out.
    create_lock: tokio::sync::Mutex<Client>,
    fleet: Fleet,
    /// This worker's id (unique per process).
    worker: String,
    /// The fences of the rows this worker claimed.
    fences: std::sync::Mutex<HashMap<u64, i64>>,
    /// This worker's seat, once it has one (renewed by [`heartbeat`]).
    seat: Arc<std::sync::Mutex<Option<Seat>>>,
    heartbeat: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// What a store error means to the run: the message, with what to do.
fn store(database: &Database) -> impl Fn(StoreError) -> String + use<> {
    let shown = database.to_string();
    move |error| {
        if error.is_connection_lost() {
            format!(
                "the batch journal at {shown} cannot be reached ({error}); nothing is lost: \
                 run the same command again once the database is back"
            )
        } else {
            format!("batch journal: {error}")
        }
    }
}

/// A failed statement, as [`store`] words it.
fn query(
    what: &'static str,
    database: &Database,
) -> impl Fn(freepik_wan::postgres::tokio_postgres::Error) -> String + use<> {
    let store = store(database);
    move |source| store(StoreError::Query { what, source })
}

impl PgJournal {
    /// Connects (three sessions: statements, the heartbeat, the create
    /// lock), brings the schema up to date (refusing a newer one), and
    /// prepares the fleet's seats (`fleet` seats when the journal is new;
    /// when given for an existing journal it must be the recorded number).
    pub async fn open(database: Database, fleet: Option<u32>) -> Sql<PgJournal> {
        let worker = format!("{}-{}", std::process::id(), now_ms());
        let mut named = database.clone();
        named
            .config_mut()
            .application_name(application_name(&worker));
        let err = store(&database);
        let mut db = named.connect().await.map_err(&err)?;
        SCHEMA.run(&mut db, &database).await.map_err(&err)?;
        let pool = Fleet::new(POOL);
        pool.prepare(&mut db, &database, fleet)
            .await
            .map_err(&err)?;
        let create_lock = named.connect().await.map_err(&err)?;
        Ok(PgJournal {
            database,
            db: tokio::sync::Mutex::new(db),
            create_lock: tokio::sync::Mutex::new(create_lock),
            fleet: pool,
            worker,
            fences: std::sync::Mutex::new(HashMap::new()),
            seat: Arc::new(std::sync::Mutex::new(None)),
            heartbeat: std::sync::Mutex::new(None),
        })
    }

    /// Opens the journal to read it (`batch status`): no seat, and a
    /// database without a journal is refused rather than given one.
    pub async fn open_to_read(database: Database) -> Sql<PgJournal> {
        use freepik_wan::postgres::tokio_postgres::error::SqlState;
        let db = database.connect().await.map_err(store(&database))?;
        let found = db
            .query_opt(
                "SELECT version FROM freepik_wan_schema WHERE component = $1",
                &[&SCHEMA.component],
            )
            .await;
        let exists = match found {
            Ok(row) => row.is_some(),
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => false,
            Err(e) => return Err(query("read the schema version", &database)(e)),
        };
        if !exists {
            return Err(format!(
                "{database} holds no batch journal: nothing has run there yet \
                 (`freepik-wan batch MANIFEST --out-dir DIR --journal URL` starts one)"
            ));
        }
        drop(db);
        PgJournal::open(database, None).await
    }

    /// The database, without its password.
    pub fn name(&self) -> String {
        self.database.to_string()
    }

    /// This worker's id.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    fn err(&self) -> impl Fn(StoreError) -> String + use<> {
        store(&self.database)
    }

    fn q(
        &self,
        what: &'static str,
    ) -> impl Fn(freepik_wan::postgres::tokio_postgres::Error) -> String + use<> {
        query(what, &self.database)
    }

    fn fence(&self, line: u64) -> i64 {
        self.fences
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&line)
            .copied()
            .unwrap_or(-1)
    }

    /// Records this worker, waits for a seat (saying so once, through
    /// `waiting`), and starts the heartbeat that renews it every quarter of
    /// `lease`. Returns the seat's number and the fleet's size.
    pub async fn join(
        &self,
        out_dir: &Path,
        lease: Duration,
        waiting: impl Fn(String),
    ) -> Sql<(i32, u32)> {
        let host = hostname();
        self.db
            .lock()
            .await
            .execute(
                "INSERT INTO batch_workers (id, host, pid, out_dir) VALUES ($1, $2, $3, $4)",
                &[
                    &self.worker,
                    &host,
                    &(std::process::id() as i32),
                    &out_dir.display().to_string(),
                ],
            )
            .await
            .map_err(self.q("record a worker"))?;
        let mut said = false;
        let seat = loop {
            let taken = {
                let mut db = self.db.lock().await;
                self.fleet
                    .take(&mut db, &self.worker, lease)
                    .await
                    .map_err(self.err())?
            };
            if let Some(seat) = taken {
                break seat;
            }
            if !said {
                waiting(
                    "every seat of the batch's fleet is held (see `batch status`); this \
                     worker waits for one"
                        .to_owned(),
                );
                said = true;
            }
            tokio::time::sleep(lease / 4).await;
        };
        if let Some(lapsed) = &seat.lapsed_holder {
            // It may only be paused: its sessions end, so it cannot go on.
            self.end_sessions(&[application_name(lapsed)]).await?;
        }
        let taken = (seat.number, seat.of);
        *lock(&self.seat) = Some(seat);
        let heartbeat = {
            let mut named = self.database.clone();
            named
                .config_mut()
                .application_name(application_name(&self.worker));
            let beat = named.connect().await.map_err(self.err())?;
            let seat = self.seat.clone();
            let fleet = self.fleet.clone();
            let worker = self.worker.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 4).await;
                    // Renewed on a copy: the seat is never locked while the
                    // database answers (or does not).
                    let Some(mut mine) = lock(&seat).clone() else {
                        return;
                    };
                    let renewed =
                        tokio::time::timeout(lease / 4, fleet.renew(&beat, &mut mine)).await;
                    match renewed {
                        Ok(Ok(true)) => {
                            if let Some(held) = lock(&seat).as_mut() {
                                *held = mine;
                            }
                            let _ = beat
                                .execute(
                                    "UPDATE batch_workers SET heartbeat = now() WHERE id = $1",
                                    &[&worker],
                                )
                                .await;
                        }
                        // Lapsed: never renewed again; writes are refused.
                        Ok(Ok(false)) => return,
                        // The database is away or slow: tried again while
                        // the lease may hold (the run stops before it lapses).
                        Ok(Err(_)) | Err(_) => {}
                    }
                }
            })
        };
        *self.heartbeat.lock().unwrap_or_else(|e| e.into_inner()) = Some(heartbeat);
        Ok(taken)
    }

    /// Waits until this worker's seat is sure to hold long enough for a
    /// create (half its lease); an error once it cannot be (the lease
    /// lapsed, or the database cannot renew it in time).
    pub async fn may_send(&self) -> Sql<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            {
                let seat = lock(&self.seat);
                let Some(seat) = seat.as_ref() else {
                    return Err(LOST_LEASE.to_owned());
                };
                if seat.usable(seat.lease() / 2) {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline || !seat.usable(Duration::ZERO) {
                    return Err(format!(
                        "this worker's lease on the batch journal at {} was not renewed in time \
                         (is the database reachable?); it sends nothing more",
                        self.database
                    ));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the database sessions of workers whose lease lapsed.
    async fn end_sessions(&self, names: &[String]) -> Sql<()> {
        self.db
            .lock()
            .await
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = ANY($1) AND datname = current_database()",
                &[&names],
            )
            .await
            .map_err(self.q("end a lapsed worker's sessions"))?;
        Ok(())
    }

    /// Whether this worker's seat is sure to hold for a quarter of its
    /// lease yet; the message to stop with when not.
    pub fn seat_holds(&self) -> Sql<()> {
        let held = lock(&self.seat)
            .as_ref()
            .is_some_and(|s| s.usable(s.lease() / 4));
        if held {
            return Ok(());
        }
        Err(format!(
            "this worker's seat in the batch journal at {} was not renewed in time (is the \
             database reachable? was the process paused?); it stopped before its lease could \
             lapse. Nothing is lost: the same command resumes the batch",
            self.database
        ))
    }

    /// Resolves once this worker's seat is no longer sure to hold for a
    /// quarter of its lease (by this process's monotonic clock): the worker
    /// then stops all its traffic to the service, before another can take
    /// the seat.
    pub async fn seat_lost(&self) -> String {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Err(lost) = self.seat_holds() {
                return lost;
            }
        }
    }

    /// Takes the fleet's create lock: one create out at a time, fleet-wide.
    pub async fn lock_create(&self) -> Sql<()> {
        self.create_lock
            .lock()
            .await
            .execute("SELECT pg_advisory_lock($1)", &[&CREATE_LOCK])
            .await
            .map_err(self.q("take the create lock"))?;
        Ok(())
    }

    /// Gives the create lock back.
    pub async fn unlock_create(&self) -> Sql<()> {
        self.create_lock
            .lock()
            .await
            .execute("SELECT pg_advisory_unlock($1)", &[&CREATE_LOCK])
            .await
            .map_err(self.q("release the create lock"))?;
        Ok(())
    }

    /// Claims up to `count` rows not yet finished and not in `tried`: free
    /// ones, and those of workers whose lease lapsed (whose sessions are
    /// ended). Returns their lines.
    pub async fn take(&self, count: usize, tried: &[u64]) -> Sql<Vec<u64>> {
        let tried: Vec<i64> = tried.iter().map(|&l| l as i64).collect();
        let mut db = self.db.lock().await;
        let tx = db.transaction().await.map_err(self.q("begin a claim"))?;
        let picked = tx
            .query(
                &format!(
                    "WITH picked AS (
                        SELECT line, owner FROM batch_rows r
                        WHERE state IN {UNFINISHED} AND NOT (line = ANY($2))
                          AND (owner IS NULL OR NOT EXISTS (
                                SELECT 1 FROM freepik_wan_fleet_seats s
                                WHERE s.pool = '{POOL}' AND s.holder = r.owner
                                  AND s.expires >= now()))
                        ORDER BY line LIMIT $3 FOR UPDATE SKIP LOCKED)
                     UPDATE batch_rows r SET owner = $1, fence = nextval('batch_fence')
                     FROM picked
                     WHERE r.line = picked.line AND EXISTS (
                        SELECT 1 FROM freepik_wan_fleet_seats
                        WHERE pool = '{POOL}' AND holder = $1 AND expires >= now())
                     RETURNING r.line, r.fence, picked.owner"
                ),
                &[&self.worker, &tried, &(count as i64)],
            )
            .await
            .map_err(self.q("claim rows"))?;
        // A lapsed owner may only be paused: its sessions end here, so it
        // cannot go on (nor hold the create lock).
        let lapsed: Vec<String> = picked
            .iter()
            .filter_map(|r| r.get::<_, Option<String>>(2))
            .filter(|owner| owner != &self.worker)
            .map(|owner| application_name(&owner))
            .collect();
        if !lapsed.is_empty() {
            tx.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = ANY($1) AND datname = current_database()",
                &[&lapsed],
            )
            .await
            .map_err(self.q("end a lapsed worker's sessions"))?;
        }
        tx.commit().await.map_err(self.q("commit a claim"))?;
        let mut fences = self.fences.lock().unwrap_or_else(|e| e.into_inner());
        Ok(picked
            .iter()
            .map(|r| {
                let line = r.get::<_, i64>(0) as u64;
                fences.insert(line, r.get(1));
                line
            })
            .collect())
    }

    /// Gives a claimed row back (its state stays as it is).
    pub async fn release(&self, line: u64) -> Sql<()> {
        let fence = self
            .fences
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&line);
        if let Some(fence) = fence {
            self.db
                .lock()
                .await
                .execute(
                    "UPDATE batch_rows SET owner = NULL, fence = NULL
                     WHERE line = $1 AND fence = $2",
                    &[&(line as i64), &fence],
                )
                .await
                .map_err(self.q("release a row"))?;
        }
        Ok(())
    }

    /// How many unfinished rows other live workers hold.
    pub async fn held_by_others(&self) -> Sql<i64> {
        let row = self
            .db
            .lock()
            .await
            .query_one(
                &format!(
                    "SELECT count(*) FROM batch_rows r
                     WHERE state IN {UNFINISHED} AND owner IS NOT NULL AND owner <> $1
                       AND EXISTS (SELECT 1 FROM freepik_wan_fleet_seats s
                                   WHERE s.pool = '{POOL}' AND s.holder = r.owner
                                     AND s.expires >= now())"
                ),
                &[&self.worker],
            )
            .await
            .map_err(self.q("read the rows others hold"))?;
        Ok(row.get(0))
    }

    /// Leaves the fleet: the seat and every row still claimed go back.
    pub async fn leave(&self) {
        if let Some(beat) = self
            .heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            beat.abort();
        }
        let db = self.db.lock().await;
        let _ = db
            .execute(
                "UPDATE batch_rows SET owner = NULL, fence = NULL WHERE owner = $1",
                &[&self.worker],
            )
            .await;
        let seat = lock(&self.seat).take();
        if let Some(seat) = seat {
            let _ = self.fleet.release(&db, &seat).await;
        }
    }

    /// The fleet's seats and their holders.
    pub async fn seats(&self) -> Sql<Vec<SeatHolder>> {
        let db = self.db.lock().await;
        self.fleet.seats(&db).await.map_err(self.err())
    }

    /// The live workers (holding a seat), with their last heartbeat.
    pub async fn workers(&self) -> Sql<Vec<WorkerInfo>> {
        let rows = self
            .db
            .lock()
            .await
            .query(
                &format!(
                    "SELECT w.id, w.host, w.pid, w.out_dir,
                            (extract(epoch FROM now() - w.heartbeat) * 1000)::bigint
                     FROM batch_workers w
                     WHERE EXISTS (SELECT 1 FROM freepik_wan_fleet_seats s
                                   WHERE s.pool = '{POOL}' AND s.holder = w.id
                                     AND s.expires >= now())
                     ORDER BY w.started"
                ),
                &[],
            )
            .await
            .map_err(self.q("read the workers"))?;
        Ok(rows
            .iter()
            .map(|r| WorkerInfo {
                id: r.get(0),
                host: r.get(1),
                pid: r.get(2),
                out_dir: r.get(3),
                heartbeat_ms_ago: r.get(4),
            })
            .collect())
    }

    pub async fn register(&self, rows: &[Row]) -> Sql<()> {
        let lines: Vec<i64> = rows.iter().map(|r| r.line as i64).collect();
        let prints: Vec<&str> = rows.iter().map(|r| r.fingerprint.as_str()).collect();
        let keys: Vec<String> = rows.iter().map(|r| endpoint_key(r.model)).collect();
        let outs: Vec<String> = rows.iter().map(|r| r.out.display().to_string()).collect();
        let mut db = self.db.lock().await;
        let tx = db
            .transaction()
            .await
            .map_err(self.q("begin registering"))?;
        tx.execute(
            "INSERT INTO batch_rows (line, fingerprint, resolution, out, state, updated_ms)
             SELECT l, f, r, o, 'pending', $5
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS t (l, f, r, o)
             ON CONFLICT (line) DO NOTHING",
            &[&lines, &prints, &keys, &outs, &now_ms()],
        )
        .await
        .map_err(self.q("register rows"))?;
        let changed = tx
            .query_opt(
                "SELECT b.line FROM batch_rows b
                 JOIN unnest($1::bigint[], $2::text[]) AS t (l, f) ON b.line = t.l
                 WHERE b.fingerprint <> t.f ORDER BY b.line LIMIT 1",
                &[&lines, &prints],
            )
            .await
            .map_err(self.q("register rows"))?;
        if let Some(row) = changed {
            return Err(format!(
                "line {} of the manifest changed since the journal recorded it; nothing was sent",
                row.get::<_, i64>(0)
            ));
        }
        tx.commit().await.map_err(self.q("register rows"))
    }

    pub async fn fingerprints(&self) -> Sql<Vec<(u64, String)>> {
        let rows = self
            .db
            .lock()
            .await
            .query(
                "SELECT line, fingerprint FROM batch_rows ORDER BY line",
                &[],
            )
            .await
            .map_err(self.q("read"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
            .collect())
    }

    pub async fn entries(&self) -> Sql<Vec<Entry>> {
        let rows = self
            .db
            .lock()
            .await
            .query(
                &format!("SELECT {ENTRY_COLUMNS} FROM batch_rows ORDER BY line"),
                &[],
            )
            .await
            .map_err(self.q("read"))?;
        Ok(rows.iter().map(read_entry).collect())
    }

    pub async fn entry(&self, line: u64) -> Sql<Entry> {
        self.db
            .lock()
            .await
            .query_opt(
                &format!("SELECT {ENTRY_COLUMNS} FROM batch_rows WHERE line = $1"),
                &[&(line as i64)],
            )
            .await
            .map_err(self.q("read"))?
            .map(|r| read_entry(&r))
            .ok_or_else(|| format!("line {line} is missing from the journal"))
    }

    pub async fn claim(&self, line: u64) -> Sql<bool> {
        let changed = self
            .db
            .lock()
            .await
            .execute(
                &format!(
                    "UPDATE batch_rows SET state = 'sending', updated_ms = $4,
                            sent_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
                            sent_seq = nextval('batch_sent_seq')
                     WHERE line = $1 AND state = 'pending' AND {}",
                    fenced(2, 3)
                ),
                &[&(line as i64), &self.fence(line), &self.worker, &now_ms()],
            )
            .await
            .map_err(self.q("claim a row"))?;
        Ok(changed == 1)
    }

    pub async fn set(
        &self,
        line: u64,
        state: State,
        task_id: Option<&str>,
        reason: Option<&str>,
    ) -> Sql<()> {
        let changed = self
            .db
            .lock()
            .await
            .execute(
                &format!(
                    "UPDATE batch_rows SET state = $4, task_id = COALESCE($5, task_id),
                            reason = $6, updated_ms = $7
                     WHERE line = $1 AND {}",
                    fenced(2, 3)
                ),
                &[
                    &(line as i64),
                    &self.fence(line),
                    &self.worker,
                    &state.as_str(),
                    &task_id,
                    &reason,
                    &now_ms(),
                ],
            )
            .await
            .map_err(self.q("update a row"))?;
        if changed == 0 {
            if let Some(id) = task_id {
                self.orphan(line, id).await?;
            }
            return Err(LOST_LEASE.to_owned());
        }
        Ok(())
    }

    /// Records a task made for `line` by a worker that cannot write the row.
    pub async fn orphan(&self, line: u64, task_id: &str) -> Sql<()> {
        self.db
            .lock()
            .await
            .execute(
                "INSERT INTO batch_orphans (task_id, line, noted_ms) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&task_id, &(line as i64), &now_ms()],
            )
            .await
            .map_err(self.q("record an orphan"))?;
        Ok(())
    }

    pub async fn orphans_of(&self, line: u64) -> Sql<Vec<String>> {
        let rows = self
            .db
            .lock()
            .await
            .query(
                "SELECT task_id FROM batch_orphans WHERE line = $1 ORDER BY noted_ms",
                &[&(line as i64)],
            )
            .await
            .map_err(self.q("read"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn orphan_ids(&self) -> Sql<Vec<String>> {
        let rows = self
            .db
            .lock()
            .await
            .query("SELECT task_id FROM batch_orphans", &[])
            .await
            .map_err(self.q("read"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn retry_failed(&self) -> Sql<usize> {
        self.reset("failed", "failed before: sent again (--retry-failed)")
            .await
    }

    pub async fn resend_uncertain(&self) -> Sql<usize> {
        self.reset(
            "uncertain",
            "uncertain before: sent again (--resend-uncertain)",
        )
        .await
    }

    async fn reset(&self, from: &str, note: &str) -> Sql<usize> {
        let changed = self
            .db
            .lock()
            .await
            .execute(
                &format!(
                    "UPDATE batch_rows SET state = 'pending', reason = $2, updated_ms = $3
                     WHERE state = $1 AND task_id IS NULL AND owner IS NULL
                       AND EXISTS (SELECT 1 FROM freepik_wan_fleet_seats
                                   WHERE pool = '{POOL}' AND holder = $4
                                     AND expires >= now())"
                ),
                &[&from, &note, &now_ms(), &self.worker],
            )
            .await
            .map_err(self.q("reset rows"))?;
        Ok(changed as usize)
    }

    pub async fn downloaded(&self, line: u64, out: &Path, bytes: u64, sha256: &str) -> Sql<()> {
        let changed = self
            .db
            .lock()
            .await
            .execute(
                &format!(
                    "UPDATE batch_rows SET state = 'downloaded', bytes = $4, sha256 = $5,
                            reason = NULL, updated_ms = $6, out = $7,
                            written_by = $3 || ' on ' || (SELECT host FROM batch_workers
                                                           WHERE id = $3)
                     WHERE line = $1 AND {}",
                    fenced(2, 3)
                ),
                &[
                    &(line as i64),
                    &self.fence(line),
                    &self.worker,
                    &(bytes as i64),
                    &sha256,
                    &now_ms(),
                    &out.display().to_string(),
                ],
            )
            .await
            .map_err(self.q("update a row"))?;
        if changed == 0 {
            return Err(LOST_LEASE.to_owned());
        }
        Ok(())
    }

    /// The database's clock (Unix ms): the one `sent_ms` is written by, so
    /// that workers on machines whose clocks differ measure a create's age
    /// alike.
    pub async fn now_ms(&self) -> Sql<i64> {
        Ok(self
            .db
            .lock()
            .await
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                &[],
            )
            .await
            .map_err(self.q("read the clock"))?
            .get(0))
    }

    pub async fn seen_at(&self, task_id: &str) -> Sql<Option<i64>> {
        Ok(self
            .db
            .lock()
            .await
            .query_opt("SELECT seq FROM batch_seen WHERE task_id = $1", &[&task_id])
            .await
            .map_err(self.q("read"))?
            .map(|r| r.get(0)))
    }

    pub async fn uploads(&self) -> Sql<Vec<freepik_wan::Uploaded>> {
        let rows = self
            .db
            .lock()
            .await
            .query(
                "SELECT sha256, file_id, asset_url, content_type, bytes, readable_until_ms
                 FROM batch_uploads",
                &[],
            )
            .await
            .map_err(self.q("read uploads"))?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                super::sqlite::restore_upload(
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                )
            })
            .collect())
    }

    pub async fn remember_uploads(&self, uploads: &[freepik_wan::Uploaded]) -> Sql<()> {
        let db = self.db.lock().await;
        for u in uploads {
            let until = u
                .readable_until
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            db.execute(
                "INSERT INTO batch_uploads
                 (sha256, file_id, asset_url, content_type, bytes, readable_until_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (sha256) DO UPDATE SET file_id = $2, asset_url = $3,
                    content_type = $4, bytes = $5, readable_until_ms = $6",
                &[
                    &super::sqlite::hex(&u.sha256),
                    &u.file_id,
                    &u.asset_url,
                    &u.content_type,
                    &(u.bytes as i64),
                    &until,
                ],
            )
            .await
            .map_err(self.q("record uploads"))?;
        }
        Ok(())
    }

    pub async fn saw(&self, task_ids: &[String]) -> Sql<()> {
        if task_ids.is_empty() {
            return Ok(());
        }
        self.db
            .lock()
            .await
            .execute(
                "INSERT INTO batch_seen (task_id, seq)
                 SELECT id, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END
                             FROM batch_sent_seq)
                 FROM unnest($1::text[]) AS t (id)
                 ON CONFLICT DO NOTHING",
                &[&task_ids],
            )
            .await
            .map_err(self.q("record listed tasks"))?;
        Ok(())
    }
}

/// The seat, locked for a moment (never across an await).
fn lock(seat: &std::sync::Mutex<Option<Seat>>) -> std::sync::MutexGuard<'_, Option<Seat>> {
    seat.lock().unwrap_or_else(|e| e.into_inner())
}

/// This machine's name, for `batch status`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
