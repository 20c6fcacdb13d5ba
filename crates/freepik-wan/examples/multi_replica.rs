//! Several replicas behind a load balancer: a task's webhook reaches any one
//! of them, so no replica waits in-process (`Client::deliver` only wakes
//! waits of the process it is called in). The pattern:
//!
//! 1. **Create** on any replica and store the task id (state `pending`) where
//!    every replica sees it: your database.
//! 2. **Webhook**, on whichever replica gets it: verify, skip a `webhook-id`
//!    already handled, answer at once, then claim the task in the store (a
//!    compare-and-set, so one replica works on it), turn the event into the
//!    task with its video URLs (`Client::completed_task`) and download.
//! 3. **Sweep**, periodically on any replica: finish the tasks still pending
//!    long after their create, whose webhook never came (`Client::task`).
//!
//! A deadline never cancels a task (Magnific has no cancel: it runs on and is
//! charged), so nothing here gives up on one: a task that is still running
//! is simply left for the next webhook or sweep.
//!
//! This demo runs it all in one process against the simulator: two replicas
//! sharing one in-memory store (a stand-in for the database), task `one`'s
//! webhooks reaching the replica that did not create it, and task `two`'s
//! webhooks lost, so that the sweep finishes it.
//!
//! ```sh
//! cargo run -p freepik-wan --example multi_replica
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use freepik_wan::webhook::{RecentIds, Verifier, WebhookEvent};
use freepik_wan::{Client, Error, RateLimit, Resolution, TaskId, TaskStatus};
use freepik_wan_sim::Simulator;

/// Where a task is, as every replica sees it. In production: a table, with
/// [`Store::claim`] an `UPDATE ... SET state = 'working' WHERE id = ? AND
/// state = 'pending'` that reports whether it changed a row.
#[derive(Clone, Default)]
struct Store(Arc<Mutex<HashMap<String, Job>>>);

#[derive(Clone, Debug)]
struct Job {
    resolution: Resolution,
    out: PathBuf,
    created: Instant,
    state: JobState,
}

#[derive(Clone, Debug, PartialEq)]
enum JobState {
    Pending,
    /// Claimed by one replica.
    Working,
    Done(String),
    Failed(String),
}

impl Store {
    fn insert(&self, id: &TaskId, out: PathBuf) {
        let job = Job {
            resolution: id.resolution(),
            out,
            created: Instant::now(),
            state: JobState::Pending,
        };
        self.lock().insert(id.to_string(), job);
    }

    /// Takes a pending task for this replica; `None` if it is unknown,
    /// another replica has it, or it is finished.
    fn claim(&self, id: &str) -> Option<Job> {
        let mut jobs = self.lock();
        let job = jobs.get_mut(id).filter(|j| j.state == JobState::Pending)?;
        job.state = JobState::Working;
        Some(job.clone())
    }

    fn set(&self, id: &str, state: JobState) {
        if let Some(job) = self.lock().get_mut(id) {
            job.state = state;
        }
    }

    fn pending_for(&self, age: Duration) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, j)| j.state == JobState::Pending && j.created.elapsed() >= age)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn all_finished(&self) -> bool {
        self.lock()
            .values()
            .all(|j| matches!(j.state, JobState::Done(_) | JobState::Failed(_)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One replica: its own client (clients are per process), the shared store.
#[derive(Clone)]
struct Replica {
    name: &'static str,
    client: Client,
    verifier: Verifier,
    /// Redeliveries this replica saw: saves a claim; the store's claim is
    /// what makes repeats on *other* replicas harmless.
    seen: Arc<RecentIds>,
    store: Store,
}

/// The webhook endpoint: verify, acknowledge, work afterwards (a sender
/// retries an answer that takes long, which would only add repeats).
async fn webhook(State(replica): State<Replica>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let event = match replica.verifier.verify(&headers, &body) {
        Ok(event) => event,
        Err(error) => {
            eprintln!("[{}] rejected a webhook: {error}", replica.name);
            return StatusCode::UNAUTHORIZED;
        }
    };
    if replica.seen.first_time(&event.webhook_id) && event.status.is_terminal() {
        tokio::spawn(async move { replica.finish(event.task_id.to_string(), Some(event)).await });
    }
    StatusCode::NO_CONTENT
}

impl Replica {
    async fn start(
        name: &'static str,
        base_url: &str,
        key: &str,
        secret: &str,
        store: Store,
    ) -> Result<(Replica, String), Box<dyn std::error::Error>> {
        let client = Client::builder()
            .api_key(key)
            .base_url(base_url)
            .rate_limit(RateLimit::none())
            .build()?;
        let replica = Replica {
            name,
            client,
            verifier: Verifier::new(secret),
            seen: Arc::new(RecentIds::default()),
            store,
        };
        let app = Router::new()
            .route("/webhooks/magnific", post(webhook))
            .with_state(replica.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/webhooks/magnific", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((replica, url))
    }

    /// Takes a task to its end if it has one: from its webhook's event, or
    /// (from the sweep) by fetching it.
    async fn finish(&self, id: String, event: Option<WebhookEvent>) {
        let Some(job) = self.store.claim(&id) else {
            return; // another replica has it, or it is finished
        };
        let task_id = TaskId::from(id.as_str()).with_resolution(job.resolution);
        let task = match event {
            // A webhook does not say the resolution: the store does.
            Some(event) => {
                self.client
                    .completed_task(&event.with_resolution(job.resolution))
                    .await
            }
            None => match self.client.task(&task_id).await {
                Ok(task) if task.status == TaskStatus::Failed => Err(Error::TaskFailed {
                    task: Box::new(task),
                }),
                Ok(task) => Ok((task.status == TaskStatus::Completed).then_some(task)),
                Err(error) => Err(error),
            },
        };
        let state = match task {
            // The download fetches fresh URLs itself if these have expired.
            Ok(Some(task)) => match self.client.download(&task, &job.out).await {
                Ok(saved) => {
                    JobState::Done(format!("{} by replica {}", saved.path.display(), self.name))
                }
                Err(error) => {
                    eprintln!(
                        "[{}] {id}: download failed, left for the sweep: {error}",
                        self.name
                    );
                    JobState::Pending
                }
            },
            // Still running: the next webhook or sweep comes back to it.
            Ok(None) => JobState::Pending,
            Err(Error::TaskFailed { .. }) => JobState::Failed("FAILED on the service".into()),
            Err(error) => {
                eprintln!("[{}] {id}: {error}; left for the sweep", self.name);
                JobState::Pending
            }
        };
        self.store.set(&id, state);
    }

    /// Finishes the tasks whose webhook never came: pending long after the
    /// create. In production, every few minutes, on any replica.
    async fn sweep(&self, age: Duration) {
        for id in self.store.pending_for(age) {
            self.finish(id, None).await;
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::builder()
        .processing_time(Duration::from_secs(2))
        .start()
        .await?;
    let store = Store::default();
    let (a, _) = Replica::start(
        "a",
        &sim.base_url(),
        sim.api_key(),
        sim.webhook_secret(),
        store.clone(),
    )
    .await?;
    let (_b, b_url) = Replica::start(
        "b",
        &sim.base_url(),
        sim.api_key(),
        sim.webhook_secret(),
        store.clone(),
    )
    .await?;
    let out = tempfile::tempdir()?;
    let image = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample.jpg");

    // Created on replica a; the load balancer hands task one's webhooks to
    // replica b, and task two's are lost on the way.
    for (name, hook) in [("one", b_url.as_str()), ("two", "http://127.0.0.1:9/lost")] {
        let task = a
            .client
            .image_to_video(image)
            .prompt(name)
            .webhook_url(hook)
            .await?;
        println!("created task {name}: {}", task.id);
        store.insert(&task.id, out.path().join(format!("{name}.mp4")));
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    while !store.all_finished() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        a.sweep(Duration::from_secs(4)).await;
    }
    for (id, job) in store.lock().iter() {
        println!("{id}: {:?}", job.state);
    }
    sim.shutdown().await;
    Ok(())
}
