//! [`Jobs`]: one replica's view of the store, with its client, its webhook
//! verifier and the app's handler; the loop that works the due jobs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{JobError, JobStore};
use crate::client::Client;
use crate::model::VideoRequest;
use crate::task::Task;
use crate::webhook::Verifier;

/// A task's end, handed to the app's handler: the job, the data given at
/// enqueue, and the task (`COMPLETED` with its video URLs, or `FAILED`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Finished {
    /// The job.
    pub job: i64,
    /// The app's data given at [`Jobs::enqueue_with`] (`null` otherwise).
    pub data: Value,
    /// The task at its end. A download of a `COMPLETED` one fetches fresh
    /// URLs itself if these have expired.
    pub task: Task,
}

pub(crate) type Handler =
    Box<dyn Fn(Finished) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// How a replica works its jobs. Fields may be added in a minor version:
/// build it with `..JobsConfig::default()`.
#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// This worker's name in the store (`owner`): by default the process id
    /// and a random suffix.
    pub owner: String,
    /// How long a claim lasts without a heartbeat (extended every third of
    /// it while the worker works). A worker gone for longer loses its jobs
    /// to the others.
    pub lease: Duration,
    /// How often a claimed job's lease is extended while its worker works:
    /// a third of the lease unless set. A worker that stalls longer than
    /// the lease (a paused process, a frozen VM) loses the job.
    pub heartbeat_every: Option<Duration>,
    /// How long after its create a job's webhook is waited for before the
    /// sweep fetches its task; also how long a still-running task is left
    /// before the next look.
    pub sweep_after: Duration,
    /// The wait before a step that failed (an upload, a handler) is tried
    /// again.
    pub retry_after: Duration,
    /// The wait between two reconciliations of an uncertain create.
    pub reconcile_every: Duration,
    /// How many failed tries (sends that made nothing, handler runs) before
    /// the job is `failed`.
    pub max_attempts: i32,
    /// How often [`Jobs::run`] looks for due jobs.
    pub poll_every: Duration,
    /// How long a `webhook-id` is remembered: [`Jobs::run`] forgets older
    /// ones about hourly (a sender retries for hours, not days). A week by
    /// default.
    pub webhook_ids_kept: Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            owner: format!("pid{}-{:08x}", std::process::id(), fastrand::u32(..)),
            lease: Duration::from_secs(30),
            heartbeat_every: None,
            sweep_after: Duration::from_secs(300),
            retry_after: Duration::from_secs(30),
            reconcile_every: Duration::from_secs(30),
            max_attempts: 5,
            poll_every: Duration::from_secs(1),
            webhook_ids_kept: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The job system of one replica: enqueue intended videos, work them
/// (upload, create), take their webhooks, sweep the ones whose webhook never
/// came, and run the app's handler once per job. Every replica runs one over
/// the same [`JobStore`]; clones share it.
///
/// See [the module](super) for the contract.
///
/// ```no_run
/// use std::time::Duration;
/// use freepik_wan::jobs::{JobStore, Jobs, JobsConfig};
/// use freepik_wan::postgres::Database;
/// use freepik_wan::webhook::Verifier;
/// use freepik_wan::{Client, Model};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = JobStore::open(Database::from_url("postgres://app@db.internal/videos")?).await?;
/// let client = Client::from_env()?;
/// let jobs = Jobs::new(store, client.clone(), Verifier::new("whsec_..."), move |done| {
///     let client = client.clone();
///     async move {
///         // Idempotent: a replica that dies here means another run.
///         client.download(&done.task, format!("/videos/{}.mp4", done.job)).await?;
///         Ok::<(), freepik_wan::Error>(())
///     }
/// });
/// let model: Model = "text-to-video/wan-2-7".parse()?;
/// jobs.enqueue(
///     model
///         .request()
///         .prompt("a lighthouse at dawn")
///         .webhook_url("https://app.example.com/webhooks/magnific"),
/// )
/// .await?;
/// tokio::spawn(jobs.clone().run()); // on every replica
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Jobs {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: JobStore,
    pub(crate) client: Client,
    pub(crate) verifier: Verifier,
    pub(crate) handler: Handler,
    pub(crate) config: JobsConfig,
}

impl fmt::Debug for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jobs")
            .field("database", self.inner.store.database())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Jobs {
    /// One replica's jobs with the default [`JobsConfig`]; `handler` runs
    /// at each job's end (see the module's contract).
    pub fn new<F, Fut, E>(store: JobStore, client: Client, verifier: Verifier, handler: F) -> Jobs
    where
        F: Fn(Finished) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        Jobs::with_config(store, client, verifier, JobsConfig::default(), handler)
    }

    /// [`new`](Self::new) with a configuration.
    pub fn with_config<F, Fut, E>(
        store: JobStore,
        client: Client,
        verifier: Verifier,
        config: JobsConfig,
        handler: F,
    ) -> Jobs
    where
        F: Fn(Finished) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        let handler: Handler = Box::new(move |finished| {
            let run = handler(finished);
            Box::pin(async move { run.await.map_err(|e| e.to_string()) })
        });
        Jobs {
            inner: Arc::new(Inner {
                store,
                client,
                verifier,
                handler,
                config,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &JobStore {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &JobsConfig {
        &self.inner.config
    }

    /// Starts the heartbeat of a claim.
    pub(crate) fn heartbeat(&self, lease: &super::Lease) -> super::lease::Heartbeat {
        let config = &self.inner.config;
        super::lease::Heartbeat::start(
            self.inner.store.clone(),
            lease.clone(),
            config.lease,
            config.heartbeat_every.unwrap_or(config.lease / 3),
        )
    }

    /// Stores an intended video; its job id. The request is checked first
    /// (nothing is stored when a check fails); a local file is read now and
    /// kept with the job, so that any replica can upload it.
    ///
    /// # Errors
    /// [`JobError::Sdk`] for a request that fails its checks or a file that
    /// cannot be read; the database's failure.
    pub async fn enqueue(&self, request: VideoRequest) -> Result<i64, JobError> {
        self.enqueue_with(request, Value::Null).await
    }

    /// [`enqueue`](Self::enqueue) with the app's own data, handed back to
    /// the handler ([`Finished::data`]).
    ///
    /// # Errors
    /// As [`enqueue`](Self::enqueue).
    pub async fn enqueue_with(&self, request: VideoRequest, data: Value) -> Result<i64, JobError> {
        request.check()?;
        let model = request.model().to_string();
        let (stored, blobs) = super::stored::store(&request).await?;
        Ok(self
            .inner
            .store
            .insert(&model, &stored, &data, &blobs)
            .await?)
    }

    /// Works every due job once: sends the queued ones, reconciles the
    /// uncertain ones, sweeps the ones whose webhook is late (running their
    /// handler). How many steps it took.
    ///
    /// # Errors
    /// The first failure (the database's, mostly); the job it met is left
    /// for the next round.
    pub async fn run_once(&self) -> Result<usize, JobError> {
        let mut steps = 0;
        while Box::pin(self.send_one()).await?.is_some() {
            steps += 1;
        }
        while Box::pin(self.reconcile_one()).await?.is_some() {
            steps += 1;
        }
        while Box::pin(self.sweep_one()).await?.is_some() {
            steps += 1;
        }
        Ok(steps)
    }

    /// Works the due jobs every [`poll_every`](JobsConfig::poll_every),
    /// forever. A failure (the database away, a dropped connection) is
    /// logged and the next round tries again, on a new connection.
    ///
    /// A handler that panics counts as a failed run (the job is tried
    /// again); the loop goes on.
    pub async fn run(self) {
        let config = &self.inner.config;
        let mut forgot = tokio::time::Instant::now();
        loop {
            if let Err(error) = Box::pin(self.run_once()).await {
                tracing::warn!(%error, "a round of jobs failed; trying again");
            }
            if forgot.elapsed() >= Duration::from_secs(3600) {
                forgot = tokio::time::Instant::now();
                if let Err(error) = self
                    .inner
                    .store
                    .forget_webhooks(config.webhook_ids_kept)
                    .await
                {
                    tracing::warn!(%error, "could not forget old webhook-ids");
                }
            }
            tokio::time::sleep(config.poll_every).await;
        }
    }
}
