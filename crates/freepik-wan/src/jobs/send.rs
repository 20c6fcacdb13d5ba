//! Sending a queued job: claim, upload its inputs, list the model's tasks
//! (the baseline), record `sending`, create, record the outcome.
//!
//! "When unsure, assume the create happened": `sending` is committed before
//! the create goes, so a worker that dies (or loses the database) after it
//! leaves a job that any replica reconciles from the task list, and a create
//! whose answer was lost ([`Error::CreateUncertain`]) is recorded
//! `uncertain`. Neither is ever sent again.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::lease::Heartbeat;
use super::store::{Due, JobRow, Lease};
use super::{JobError, Jobs};
use crate::error::Error;
use crate::postgres::tokio_postgres;

impl Jobs {
    /// Claims one queued job and sends it: uploads its inputs, creates its
    /// task, records the task (or that the create is uncertain). Its id, or
    /// `None` when no job is due.
    ///
    /// # Errors
    /// The database's failure, or [`JobError::LeaseLost`] when another
    /// worker took the job over meanwhile. A failure of the SDK is recorded
    /// on the job (tried again later, or `failed`), not returned.
    pub async fn send_one(&self) -> Result<Option<i64>, JobError> {
        let config = &self.inner.config;
        let store = &self.inner.store;
        let Some((lease, row)) = store.claim(Due::Send, &config.owner, config.lease).await? else {
            return Ok(None);
        };
        let beat = self.heartbeat(&lease);
        // Boxed: the SDK's create future is large (see `Client::create`).
        let result = Box::pin(self.send(&lease, &row, &beat)).await;
        drop(beat);
        result.map(|()| Some(lease.job))
    }

    async fn send(&self, lease: &Lease, row: &JobRow, beat: &Heartbeat) -> Result<(), JobError> {
        let client = &self.inner.client;
        let store = &self.inner.store;
        let blobs = store.media(row.id).await?;
        let request = match super::stored::load(&row.request, &blobs) {
            Ok(request) => request,
            Err(error) => return self.not_sent(lease, row, error).await,
        };
        let model = request.model();
        // Uploads and task inputs: repeating them is harmless.
        let body = match Box::pin(client.prepare(request)).await {
            Ok(body) => body,
            Err(error) => return self.not_sent(lease, row, error).await,
        };
        // The tasks already there, for the proof rule: a task that appears
        // after this list, claimed by no job, may be this create's.
        let baseline: Vec<Value> = match client.tasks_at(model).await {
            Ok(tasks) => tasks.iter().map(|t| Value::from(t.id.as_str())).collect(),
            Err(error) => return self.not_sent(lease, row, error).await,
        };
        if beat.lost() {
            return Err(JobError::LeaseLost { job: lease.job });
        }
        if let Err(error) = store
            .write(
                lease,
                "state = 'sending', baseline = $3",
                &[&Value::Array(baseline)],
                "record a create on its way",
            )
            .await
        {
            // Not sent. Whether `sending` was committed is unknown after a
            // lost connection: put it back (through a reconnect), so that
            // the job is not taken for an uncertain create. The fence keeps
            // this from undoing another worker's claim.
            if error.is_connection_lost() {
                let _ = self
                    .persist(lease, "state = 'queued'", &[], "put back a job not sent")
                    .await;
            }
            return Err(error);
        }
        match Box::pin(client.create_body(body)).await {
            Ok(task) => self.record_created(lease, task.id.as_str()).await,
            Err(Error::CreateUncertain(uncertain)) => {
                tracing::warn!(job = lease.job, %uncertain, "the create may have made a task; it is reconciled, never sent again");
                let why = uncertain.to_string();
                self.persist(
                    lease,
                    "state = 'uncertain', owner = NULL, lease_until = NULL, error = $3,
                         next_check = now()",
                    &[&why],
                    "record an uncertain create",
                )
                .await
            }
            // The SDK's other create errors mean no task was made (a
            // refusal, or a failure before the service could act).
            Err(error) => self.not_sent(lease, row, error).await,
        }
    }

    /// Records the task a create made, through a lost connection or a
    /// restarting database, for as long as the lease could last twice. If it
    /// never gets through (or the lease was taken over), the job is left
    /// `sending` and reconciled by another worker, which finds this task.
    async fn record_created(&self, lease: &Lease, task_id: &str) -> Result<(), JobError> {
        let sweep_after = self.inner.config.sweep_after.as_secs_f64();
        let written = self
            .persist(
                lease,
                "state = 'created', task_id = $3, owner = NULL, lease_until = NULL,
                 error = NULL, next_check = now() + make_interval(secs => $4)",
                &[&task_id, &sweep_after],
                "record a created task",
            )
            .await;
        match written {
            Ok(()) => {
                tracing::info!(job = lease.job, task_id, "created");
                let _ = self.inner.store.drop_media(lease.job).await;
                Ok(())
            }
            Err(error) => {
                tracing::warn!(job = lease.job, task_id, %error, "the task is not recorded: reconciliation will find it");
                Err(error)
            }
        }
    }

    /// A fenced write tried again through a lost connection, for twice the
    /// lease.
    async fn persist(
        &self,
        lease: &Lease,
        set: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        what: &'static str,
    ) -> Result<(), JobError> {
        let until = Instant::now() + self.inner.config.lease * 2;
        loop {
            match self.inner.store.write(lease, set, params, what).await {
                Err(error) if error.is_connection_lost() && Instant::now() < until => {
                    tracing::warn!(job = lease.job, %error, "the job store is away; trying again");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                other => return other,
            }
        }
    }

    /// A step before the create failed, or the create was refused: nothing
    /// was made. Tried again later while it may succeed, else `failed`.
    async fn not_sent(&self, lease: &Lease, row: &JobRow, error: Error) -> Result<(), JobError> {
        let config = &self.inner.config;
        let why = error.to_string();
        let again = error.is_retryable() && row.attempts + 1 < config.max_attempts;
        tracing::warn!(job = lease.job, %error, again, "the job was not sent");
        let set = if again {
            "state = 'queued', owner = NULL, lease_until = NULL, attempts = attempts + 1,
             error = $3, next_check = now() + make_interval(secs => $4)"
        } else {
            "state = 'failed', owner = NULL, lease_until = NULL, attempts = attempts + 1,
             error = $3, next_check = now() + make_interval(secs => $4)"
        };
        self.inner
            .store
            .write(
                lease,
                set,
                &[&why, &config.retry_after.as_secs_f64()],
                "record a job not sent",
            )
            .await?;
        if !again {
            let _ = self.inner.store.drop_media(lease.job).await;
        }
        Ok(())
    }
}
