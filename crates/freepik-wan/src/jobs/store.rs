//! The job store: one PostgreSQL connection per store (reopened after it
//! breaks), the claim query, and the fenced writes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::Row;

use super::schema::JOBS_SCHEMA;
use super::{JobError, JobState};
use crate::postgres::{Database, StoreError};

/// The jobs of every replica, in one PostgreSQL database.
///
/// A store holds one connection, opened again on the next call after it
/// breaks (a dropped connection, a restarted server); a call that met the
/// break fails with a [`StoreError`] whose
/// [`is_connection_lost`](StoreError::is_connection_lost) is true. Clones
/// share the connection.
///
/// ```no_run
/// use freepik_wan::jobs::JobStore;
/// use freepik_wan::postgres::Database;
///
/// # async fn run() -> Result<(), freepik_wan::postgres::StoreError> {
/// let store = JobStore::open(Database::from_url("postgres://app@db.internal/videos")?).await?;
/// # let _ = store;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct JobStore {
    inner: Arc<Inner>,
}

struct Inner {
    database: Database,
    conn: Mutex<Option<tokio_postgres::Client>>,
}

/// A job claimed by one worker: its id and the fencing token it was claimed
/// with. Every write names both, and is refused once another claim has
/// raised the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The job.
    pub job: i64,
    /// The fencing token: the job's `fence` after this claim.
    pub fence: i64,
}

/// A job as the store holds it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct JobRow {
    /// Its id.
    pub id: i64,
    /// Its state.
    pub state: JobState,
    /// The model it is for (`kind/segment`).
    pub model: String,
    /// The app's data given at enqueue.
    pub data: Value,
    /// Its task, once created (or reconciled).
    pub task_id: Option<String>,
    /// The fencing token of its latest claim.
    pub fence: i64,
    /// The worker that claimed it last.
    pub owner: Option<String>,
    /// How many times it was tried (sends, handler runs).
    pub attempts: i32,
    /// The last error, if any.
    pub error: Option<String>,
    pub(crate) request: Value,
    pub(crate) baseline: Option<Value>,
}

/// What a claim looks for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Due {
    /// Queued jobs to send.
    Send,
    /// Uncertain jobs, and jobs left `sending` by a worker whose lease lapsed.
    Reconcile,
    /// Created jobs whose webhook is late, and finishing jobs whose
    /// worker's lease lapsed.
    Sweep,
}

const COLUMNS: &str =
    "id, state, model, data, task_id, fence, owner, attempts, error, request, baseline";

fn job_row(row: &Row) -> JobRow {
    JobRow {
        id: row.get("id"),
        state: row
            .get::<_, String>("state")
            .parse()
            .unwrap_or(JobState::Failed),
        model: row.get("model"),
        data: row.get("data"),
        task_id: row.get("task_id"),
        fence: row.get("fence"),
        owner: row.get("owner"),
        attempts: row.get("attempts"),
        error: row.get("error"),
        request: row.get("request"),
        baseline: row.get("baseline"),
    }
}

/// The connection, locked for one call.
struct Conn<'a>(MutexGuard<'a, Option<tokio_postgres::Client>>);

impl Conn<'_> {
    fn client(&mut self) -> &mut tokio_postgres::Client {
        self.0.as_mut().expect("connected when locked")
    }

    /// Passes `result` on; forgets a connection that is gone, so that the
    /// next call opens a new one.
    fn check<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(error) = &result
            && (error.is_connection_lost() || self.0.as_ref().is_some_and(|c| c.is_closed()))
        {
            *self.0 = None;
        }
        result
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl JobStore {
    /// Connects to `database` and brings its job schema up to date
    /// ([`JOBS_SCHEMA`](super::JOBS_SCHEMA)).
    ///
    /// # Errors
    /// [`StoreError`] when the database cannot be reached, or holds a newer
    /// schema.
    pub async fn open(database: Database) -> Result<JobStore, StoreError> {
        let mut client = database.connect().await?;
        JOBS_SCHEMA.run(&mut client, &database).await?;
        Ok(JobStore {
            inner: Arc::new(Inner {
                database,
                conn: Mutex::new(Some(client)),
            }),
        })
    }

    /// The database, shown without its password.
    pub fn database(&self) -> &Database {
        &self.inner.database
    }

    async fn conn(&self) -> Result<Conn<'_>, StoreError> {
        let mut guard = self.inner.conn.lock().await;
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            *guard = None;
            let client = self.inner.database.connect().await?;
            tracing::info!(database = %self.inner.database, "connected to the job store");
            *guard = Some(client);
        }
        Ok(Conn(guard))
    }

    /// Stores a new job; its id.
    pub(crate) async fn insert(
        &self,
        model: &str,
        request: &Value,
        data: &Value,
        blobs: &[(i32, Bytes)],
    ) -> Result<i64, StoreError> {
        let mut conn = self.conn().await?;
        let result = async {
            let tx = conn
                .client()
                .transaction()
                .await
                .map_err(StoreError::query("begin an enqueue"))?;
            let id: i64 = tx
                .query_one(
                    "INSERT INTO freepik_wan_jobs (model, request, data) VALUES ($1, $2, $3)
                     RETURNING id",
                    &[&model, request, data],
                )
                .await
                .map_err(StoreError::query("store a job"))?
                .get(0);
            for (position, bytes) in blobs {
                tx.execute(
                    "INSERT INTO freepik_wan_job_media (job_id, position, bytes) VALUES ($1, $2, $3)",
                    &[&id, position, &bytes.as_ref()],
                )
                .await
                .map_err(StoreError::query("store a job's file"))?;
            }
            tx.commit()
                .await
                .map_err(StoreError::query("commit an enqueue"))?;
            Ok(id)
        }
        .await;
        conn.check(result)
    }

    /// The bytes of a job's local media.
    pub(crate) async fn media(&self, job: i64) -> Result<Vec<(i32, Bytes)>, StoreError> {
        let mut conn = self.conn().await?;
        let result = conn
            .client()
            .query(
                "SELECT position, bytes FROM freepik_wan_job_media WHERE job_id = $1",
                &[&job],
            )
            .await
            .map_err(StoreError::query("read a job's files"))
            .map(|rows| {
                rows.iter()
                    .map(|r| (r.get(0), Bytes::from(r.get::<_, Vec<u8>>(1))))
                    .collect()
            });
        conn.check(result)
    }

    /// Reads one job.
    ///
    /// # Errors
    /// [`JobError::NoSuchJob`], or the database's failure.
    pub async fn job(&self, id: i64) -> Result<JobRow, JobError> {
        let mut conn = self.conn().await?;
        let sql = format!("SELECT {COLUMNS} FROM freepik_wan_jobs WHERE id = $1");
        let result = conn
            .client()
            .query_opt(&sql, &[&id])
            .await
            .map_err(StoreError::query("read a job"));
        conn.check(result)?
            .map(|r| job_row(&r))
            .ok_or(JobError::NoSuchJob(id))
    }

    /// Every job, oldest first.
    ///
    /// # Errors
    /// The database's failure.
    pub async fn jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        let mut conn = self.conn().await?;
        let sql = format!("SELECT {COLUMNS} FROM freepik_wan_jobs ORDER BY id");
        let result = conn
            .client()
            .query(&sql, &[])
            .await
            .map_err(StoreError::query("list the jobs"));
        Ok(conn.check(result)?.iter().map(job_row).collect())
    }

    /// Claims one due job for `owner` for `lease`: the claim query. One
    /// short statement: the row is picked with `FOR UPDATE SKIP LOCKED` (a
    /// row another worker is claiming at this moment is passed over, not
    /// waited for), its fence raised by one, its lease set.
    pub(crate) async fn claim(
        &self,
        due: Due,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<(Lease, JobRow)>, StoreError> {
        let (which, next) = match due {
            Due::Send => (
                "state = 'queued' AND next_check <= now()
                 AND (lease_until IS NULL OR lease_until < now())",
                "state",
            ),
            Due::Reconcile => (
                "(state = 'uncertain' AND next_check <= now()
                  AND (lease_until IS NULL OR lease_until < now()))
                 OR (state = 'sending' AND lease_until < now())",
                "'uncertain'",
            ),
            Due::Sweep => (
                "(state = 'created' AND next_check <= now())
                 OR (state = 'finishing' AND lease_until < now())",
                "'finishing'",
            ),
        };
        let sql = format!(
            "UPDATE freepik_wan_jobs SET state = {next}, owner = $1, fence = fence + 1,
                 lease_until = now() + make_interval(secs => $2), updated_at = now()
             WHERE id = (SELECT id FROM freepik_wan_jobs WHERE {which}
                         ORDER BY next_check, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING {COLUMNS}"
        );
        let mut conn = self.conn().await?;
        let result = conn
            .client()
            .query_opt(&sql, &[&owner, &secs(lease)])
            .await
            .map_err(StoreError::query("claim a job"));
        Ok(conn.check(result)?.map(|r| {
            let row = job_row(&r);
            (
                Lease {
                    job: row.id,
                    fence: row.fence,
                },
                row,
            )
        }))
    }

    /// A fenced write: `set` applied to the job only while `lease` is its
    /// latest claim. Refused ([`JobError::LeaseLost`]) after a takeover.
    pub(crate) async fn write(
        &self,
        lease: &Lease,
        set: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        what: &'static str,
    ) -> Result<(), JobError> {
        let sql = format!(
            "UPDATE freepik_wan_jobs SET {set}, updated_at = now() WHERE id = $1 AND fence = $2"
        );
        let mut all: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&lease.job, &lease.fence];
        all.extend_from_slice(params);
        let mut conn = self.conn().await?;
        let result = conn
            .client()
            .execute(&sql, &all)
            .await
            .map_err(StoreError::query(what));
        match conn.check(result)? {
            0 => Err(JobError::LeaseLost { job: lease.job }),
            _ => Ok(()),
        }
    }

    /// Extends `lease` by `by` from now: the heartbeat.
    pub(crate) async fn heartbeat(&self, lease: &Lease, by: Duration) -> Result<(), JobError> {
        self.write(
            lease,
            "lease_until = now() + make_interval(secs => $3)",
            &[&secs(by)],
            "extend a lease",
        )
        .await
    }

    /// Deletes a job's stored files (its create is settled).
    pub(crate) async fn drop_media(&self, job: i64) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let result = conn
            .client()
            .execute(
                "DELETE FROM freepik_wan_job_media WHERE job_id = $1",
                &[&job],
            )
            .await
            .map_err(StoreError::query("delete a job's files"));
        conn.check(result).map(|_| ())
    }

    /// Records a webhook delivery and, for a task's end, claims its job: in
    /// one transaction, so that a `webhook-id` seen before (on any replica)
    /// claims nothing, and two deliveries at once claim the job once.
    /// `None` for a repeated `webhook-id`; `Some(None)` when no job was
    /// claimed (not a terminal event, no job has the task, or the job is
    /// not waiting for its end).
    pub(crate) async fn deliver(
        &self,
        webhook_id: &str,
        task_id: &str,
        terminal: bool,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Option<(Lease, JobRow)>>, StoreError> {
        let mut conn = self.conn().await?;
        let result = async {
            let tx = conn
                .client()
                .transaction()
                .await
                .map_err(StoreError::query("begin a webhook delivery"))?;
            let first = tx
                .execute(
                    "INSERT INTO freepik_wan_webhooks (webhook_id, task_id) VALUES ($1, $2)
                     ON CONFLICT (webhook_id) DO NOTHING",
                    &[&webhook_id, &task_id],
                )
                .await
                .map_err(StoreError::query("record a webhook-id"))?;
            if first == 0 {
                return Ok(None);
            }
            let mut claimed = None;
            if terminal {
                let sql = format!(
                    "UPDATE freepik_wan_jobs SET state = 'finishing', owner = $2, fence = fence + 1,
                         lease_until = now() + make_interval(secs => $3), updated_at = now()
                     WHERE task_id = $1 AND (state = 'created'
                           OR (state = 'finishing' AND lease_until < now()))
                     RETURNING {COLUMNS}"
                );
                claimed = tx
                    .query_opt(&sql, &[&task_id, &owner, &secs(lease)])
                    .await
                    .map_err(StoreError::query("claim a job for its webhook"))?
                    .map(|r| {
                        let row = job_row(&r);
                        (
                            Lease {
                                job: row.id,
                                fence: row.fence,
                            },
                            row,
                        )
                    });
            }
            tx.commit()
                .await
                .map_err(StoreError::query("commit a webhook delivery"))?;
            Ok(Some(claimed))
        }
        .await;
        conn.check(result)
    }

    /// Of `ids`, those some job holds as its task.
    pub(crate) async fn known_tasks(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        let result = conn
            .client()
            .query(
                "SELECT task_id FROM freepik_wan_jobs WHERE task_id = ANY($1)",
                &[&ids],
            )
            .await
            .map_err(StoreError::query("look up tasks"))
            .map(|rows| rows.iter().map(|r| r.get(0)).collect());
        conn.check(result)
    }

    /// The baselines of the other jobs of `model` whose create may be on
    /// the wire or may have made a task (`sending`, `uncertain`); `None`
    /// for one sent without a baseline.
    pub(crate) async fn open_creates(
        &self,
        model: &str,
        except: i64,
    ) -> Result<Vec<Option<Value>>, StoreError> {
        let mut conn = self.conn().await?;
        let result = conn
            .client()
            .query(
                "SELECT baseline FROM freepik_wan_jobs
                 WHERE model = $1 AND id <> $2 AND state IN ('sending', 'uncertain')",
                &[&model, &except],
            )
            .await
            .map_err(StoreError::query("look up open creates"))
            .map(|rows| rows.iter().map(|r| r.get(0)).collect());
        conn.check(result)
    }

    /// How many `webhook-id`s the store has recorded.
    ///
    /// # Errors
    /// The database's failure.
    pub async fn webhooks_seen(&self) -> Result<i64, StoreError> {
        let mut conn = self.conn().await?;
        let result = conn
            .client()
            .query_one("SELECT count(*) FROM freepik_wan_webhooks", &[])
            .await
            .map_err(StoreError::query("count webhooks"))
            .map(|r| r.get(0));
        conn.check(result)
    }

    /// Forgets the `webhook-id`s recorded more than `age` ago (a sender
    /// retries for hours, not weeks); how many. Run it now and then.
    ///
    /// # Errors
    /// The database's failure.
    pub async fn forget_webhooks(&self, age: Duration) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let result = conn
            .client()
            .execute(
                "DELETE FROM freepik_wan_webhooks
                 WHERE received_at < now() - make_interval(secs => $1)",
                &[&secs(age)],
            )
            .await
            .map_err(StoreError::query("forget old webhooks"));
        conn.check(result)
    }
}
