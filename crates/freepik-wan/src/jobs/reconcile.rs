//! Settling an uncertain create on any replica, by the SDK's proof rule
//! with the store as the ledger.
//!
//! The candidates are the tasks the model's list shows now that were not in
//! the job's baseline (the list taken just before its create was sent) and
//! that no job holds. Exactly one candidate is adopted, unless another open
//! create of the same model (`sending` or `uncertain`, on any replica) sent
//! after that task was listed could have made it just as well: then, as with
//! several candidates, which create made which task cannot be told, and none
//! is adopted. Nothing is ever sent again: a job that stays unsettled stays
//! `uncertain`, looked at again every
//! [`reconcile_every`](super::JobsConfig::reconcile_every), for the app to
//! decide on.

use std::collections::HashSet;

use serde_json::Value;

use super::store::{Due, Lease};
use super::{JobError, Jobs};
use crate::model::Model;

/// What a reconciliation decided.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settled {
    /// Exactly one task could be the create's: it is now the job's (`created`).
    Adopted(String),
    /// Several tasks could be (or one that another open create could have
    /// made too): none was adopted; the job stays `uncertain`.
    Ambiguous(Vec<String>),
    /// No new task shows (yet: a list may lag); the job stays `uncertain`.
    NotFound,
}

fn ids(value: Option<&Value>) -> Option<HashSet<String>> {
    value?.as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    })
}

impl Jobs {
    /// Claims one uncertain job (or one left `sending` by a worker whose
    /// lease lapsed) and settles it if the task list allows; the job and
    /// the decision, or `None` when none is due.
    ///
    /// # Errors
    /// The database's failure, or [`JobError::LeaseLost`].
    pub async fn reconcile_one(&self) -> Result<Option<(i64, Settled)>, JobError> {
        // Boxed: the list's future is large in a debug build.
        Box::pin(self.reconcile()).await
    }

    async fn reconcile(&self) -> Result<Option<(i64, Settled)>, JobError> {
        let config = &self.inner.config;
        let store = &self.inner.store;
        let Some((lease, row)) = store
            .claim(Due::Reconcile, &config.owner, config.lease)
            .await?
        else {
            return Ok(None);
        };
        let _beat = self.heartbeat(&lease);
        let model: Model = row.model.parse()?;
        let listed = match self.inner.client.tasks_at(model).await {
            Ok(tasks) => tasks,
            Err(error) => {
                self.unsettled(&lease, &error.to_string()).await?;
                return Ok(Some((lease.job, Settled::NotFound)));
            }
        };
        let Some(baseline) = ids(row.baseline.as_ref()) else {
            self.unsettled(
                &lease,
                "no list of the tasks there before its create: no task can be told to be its",
            )
            .await?;
            return Ok(Some((lease.job, Settled::NotFound)));
        };
        let new: Vec<String> = listed
            .iter()
            .map(|t| t.id.as_str().to_owned())
            .filter(|id| !baseline.contains(id))
            .collect();
        // Read after the list: a create that made one of these and recorded
        // it since is seen here.
        let known: HashSet<String> = store.known_tasks(&new).await?.into_iter().collect();
        let candidates: Vec<String> = new.into_iter().filter(|id| !known.contains(id)).collect();
        let settled = match candidates.as_slice() {
            [] => Settled::NotFound,
            [one] => {
                let others = store.open_creates(&row.model, row.id).await?;
                let contested = others
                    .iter()
                    .any(|b| ids(b.as_ref()).is_none_or(|b| !b.contains(one)));
                if contested {
                    Settled::Ambiguous(candidates.clone())
                } else {
                    Settled::Adopted(one.clone())
                }
            }
            _ => Settled::Ambiguous(candidates.clone()),
        };
        match &settled {
            Settled::Adopted(task_id) => {
                let adopted = store
                    .write(
                        &lease,
                        "state = 'created', task_id = $3, owner = NULL, lease_until = NULL,
                         error = NULL, next_check = now()",
                        &[task_id],
                        "adopt the task of an uncertain create",
                    )
                    .await;
                match adopted {
                    Ok(()) => {
                        tracing::info!(
                            job = lease.job,
                            task_id,
                            "adopted the task of an uncertain create"
                        );
                        let _ = store.drop_media(lease.job).await;
                    }
                    // Taken by another job meanwhile (the unique task id).
                    Err(JobError::Store(error)) if !error.is_connection_lost() => {
                        self.unsettled(&lease, &error.to_string()).await?;
                        return Ok(Some((lease.job, Settled::Ambiguous(candidates))));
                    }
                    Err(error) => return Err(error),
                }
            }
            Settled::Ambiguous(tasks) => {
                let why = format!(
                    "uncertain create: {} tasks could be its ({}); none adopted",
                    tasks.len(),
                    tasks.join(", ")
                );
                self.unsettled(&lease, &why).await?;
            }
            Settled::NotFound => {
                self.unsettled(&lease, "uncertain create: no new task in the list yet")
                    .await?;
            }
        }
        Ok(Some((lease.job, settled)))
    }

    /// Leaves the job `uncertain` until the next reconciliation.
    async fn unsettled(&self, lease: &Lease, why: &str) -> Result<(), JobError> {
        let every = self.inner.config.reconcile_every.as_secs_f64();
        self.inner
            .store
            .write(
                lease,
                "state = 'uncertain', owner = NULL, lease_until = NULL, error = $3,
                 next_check = now() + make_interval(secs => $4)",
                &[&why, &every],
                "leave a create uncertain",
            )
            .await
    }
}
