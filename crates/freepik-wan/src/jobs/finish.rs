//! A job's end: a verified webhook on any replica, or the sweep, claims the
//! job (`created` → `finishing`, one transaction, one winner) and runs the
//! app's handler under a lease with a heartbeat; `done` is a fenced write.

use reqwest::header::HeaderMap;

use super::runner::Finished;
use super::store::{Due, JobRow, Lease};
use super::{JobError, Jobs};
use crate::model::Model;
use crate::task::{Task, TaskId, TaskStatus};
use crate::webhook::WebhookEvent;

/// What [`Jobs::webhook`] did with a delivery. Answer every one of them
/// with a 2xx: only a request that does not verify deserves a 4xx.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Its `webhook-id` was seen before, on this replica or another: nothing done.
    Duplicate,
    /// A status change that is not an end: recorded, nothing to do.
    Progress,
    /// A task's end, but no job waits for it: no job has the task (yet), or
    /// another worker is finishing it, or it is finished. The sweep covers
    /// a job whose task was recorded after its webhook came.
    NotWaiting,
    /// The job was claimed on this replica; its handler is running.
    Claimed {
        /// The job.
        job: i64,
    },
}

impl Jobs {
    /// Takes one webhook request, as it arrived (headers and raw body):
    /// verifies it (a request that does not verify is refused), records its
    /// `webhook-id` in the store (a repeat is seen on every replica), and
    /// for a task's end claims its job and runs the handler in a task of
    /// its own, so the sender can be answered at once.
    ///
    /// ```no_run
    /// use axum::body::Bytes;
    /// use axum::extract::State;
    /// use axum::http::{HeaderMap, StatusCode};
    /// use freepik_wan::jobs::Jobs;
    ///
    /// async fn webhook(State(jobs): State<Jobs>, headers: HeaderMap, body: Bytes) -> StatusCode {
    ///     match jobs.webhook(&headers, &body).await {
    ///         Ok(_) => StatusCode::NO_CONTENT,
    ///         Err(e) if e.is_connection_lost() => StatusCode::SERVICE_UNAVAILABLE, // sent again later
    ///         Err(_) => StatusCode::UNAUTHORIZED,
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    /// [`JobError::Sdk`] with [`Error::Webhook`](crate::Error::Webhook) for
    /// a request that does not verify; the database's failure (nothing was
    /// recorded: answer 5xx, so that the sender delivers it again).
    pub async fn webhook(&self, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, JobError> {
        let event = self
            .inner
            .verifier
            .verify(headers, body)
            .map_err(|e| JobError::Sdk(e.into()))?;
        let config = &self.inner.config;
        let terminal = event.status.is_terminal();
        let delivered = self
            .inner
            .store
            .deliver(
                &event.webhook_id,
                event.task_id.as_str(),
                terminal,
                &config.owner,
                config.lease,
            )
            .await?;
        Ok(match delivered {
            None => Delivery::Duplicate,
            Some(None) if terminal => Delivery::NotWaiting,
            Some(None) => Delivery::Progress,
            Some(Some((lease, row))) => {
                let job = lease.job;
                let jobs = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = Box::pin(jobs.finish(lease, row, Some(event))).await {
                        tracing::warn!(job, %error, "finishing the job failed; the sweep takes it up");
                    }
                });
                Delivery::Claimed { job }
            }
        })
    }

    /// Claims one job whose webhook is late (created longer than
    /// [`sweep_after`](super::JobsConfig::sweep_after) ago), or whose
    /// finishing worker's lease lapsed, fetches its task and, at its end,
    /// runs the handler. The job, or `None` when none is due.
    ///
    /// # Errors
    /// The database's failure, or [`JobError::LeaseLost`].
    pub async fn sweep_one(&self) -> Result<Option<i64>, JobError> {
        let config = &self.inner.config;
        let Some((lease, row)) = self
            .inner
            .store
            .claim(Due::Sweep, &config.owner, config.lease)
            .await?
        else {
            return Ok(None);
        };
        let job = lease.job;
        Box::pin(self.finish(lease, row, None)).await?;
        Ok(Some(job))
    }

    /// Runs the handler for a claimed job at its task's end, and records
    /// the outcome with the claim's fence.
    async fn finish(
        &self,
        lease: Lease,
        row: JobRow,
        event: Option<WebhookEvent>,
    ) -> Result<(), JobError> {
        let config = &self.inner.config;
        let client = &self.inner.client;
        let store = &self.inner.store;
        let _beat = self.heartbeat(&lease);
        let model: Model = row.model.parse()?;
        let Some(task_id) = row.task_id.clone() else {
            return self.release(&lease, "no task", config.retry_after).await;
        };
        let id = TaskId::from(task_id).with_model(model);
        let task: crate::Result<Option<Task>> = match event {
            Some(event) if event.status == TaskStatus::Failed => {
                Ok(Some(event.with_model(model).into_task()))
            }
            Some(event) => client.completed_task(&event.with_model(model)).await,
            None => client
                .task(&id)
                .await
                .map(|t| t.status.is_terminal().then_some(t)),
        };
        let task = match task {
            Ok(Some(task)) => task,
            // Still running (or completed without a URL yet): look later.
            Ok(None) => {
                return self
                    .release(&lease, "the task has not ended", config.sweep_after)
                    .await;
            }
            Err(error) => {
                return self
                    .release(&lease, &error.to_string(), config.retry_after)
                    .await;
            }
        };
        let failed = task.status == TaskStatus::Failed;
        let finished = Finished {
            job: row.id,
            data: row.data.clone(),
            task,
        };
        // A panic is a failed run: the job is retried, the worker goes on.
        let run = std::panic::AssertUnwindSafe((self.inner.handler)(finished));
        let outcome = futures_util::FutureExt::catch_unwind(run)
            .await
            .unwrap_or_else(|_| Err("the handler panicked".to_owned()));
        match outcome {
            Ok(()) => {
                let (state, why) = if failed {
                    ("failed", Some("the task FAILED on the service"))
                } else {
                    ("done", None)
                };
                store
                    .write(
                        &lease,
                        "state = $3, owner = NULL, lease_until = NULL, error = $4",
                        &[&state, &why],
                        "record a finished job",
                    )
                    .await
            }
            Err(why) => {
                let again = row.attempts + 1 < config.max_attempts;
                tracing::warn!(job = row.id, %why, again, "the handler failed");
                let state = if again { "created" } else { "failed" };
                let why = format!("the handler failed: {why}");
                store
                    .write(
                        &lease,
                        "state = $3, owner = NULL, lease_until = NULL, error = $4,
                         attempts = attempts + 1,
                         next_check = now() + make_interval(secs => $5)",
                        &[&state, &why, &config.retry_after.as_secs_f64()],
                        "record a failed handler",
                    )
                    .await
            }
        }
    }

    /// Back to `created`, looked at again after `after`.
    async fn release(
        &self,
        lease: &Lease,
        why: &str,
        after: std::time::Duration,
    ) -> Result<(), JobError> {
        self.inner
            .store
            .write(
                lease,
                "state = 'created', owner = NULL, lease_until = NULL, error = $3,
                 next_check = now() + make_interval(secs => $4)",
                &[&why, &after.as_secs_f64()],
                "put a job back to wait",
            )
            .await
    }
}
