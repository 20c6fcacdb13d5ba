//! Jobs for web services on PostgreSQL (feature `postgres`): several
//! replicas behind a load balancer share intended videos through one
//! database, River/Oban style: a small schema ([`JOBS_SCHEMA`]), a claim
//! query (`FOR UPDATE SKIP LOCKED`), a lease with a heartbeat, and a fencing
//! token that every write of a claimed job names.
//!
//! 1. **Enqueue** ([`Jobs::enqueue`]) on any replica: the request is checked
//!    and stored; URLs and task inputs as they are, a local file's bytes in
//!    the database with the job (a path means nothing on another replica;
//!    see below).
//! 2. **Send** ([`Jobs::send_one`], run by [`Jobs::run`] on every replica):
//!    a worker claims the job, uploads its inputs, lists the model's tasks
//!    (the baseline), commits `sending`, then creates the task and records
//!    it (`created`).
//! 3. **Uncertain creates** are never sent again. A create whose answer was
//!    lost ([`Error::CreateUncertain`](crate::Error::CreateUncertain)), or a
//!    job left `sending` by a worker that died or lost the database, is
//!    `uncertain`; any replica settles it from the task list by the SDK's
//!    proof rule, with the store as the ledger ([`Jobs::reconcile_one`],
//!    [`Settled`]).
//! 4. **Finish**: a webhook on any replica ([`Jobs::webhook`]: verified,
//!    its `webhook-id` recorded in the store), or the sweep for a webhook
//!    that never came ([`Jobs::sweep_one`]), claims the job (`created` →
//!    `finishing` in one statement: one winner) and runs the app's handler.
//!
//! # The handler's contract
//!
//! - Two deliveries of one webhook, to one replica or two, at once or
//!   apart, and the sweep racing them: the job is claimed once, so the
//!   handler runs **once**.
//! - The claim is a lease, extended by a heartbeat while the handler runs.
//!   If the replica dies mid-handler (or loses the database longer than the
//!   lease), the lease lapses and the sweep on another replica runs the
//!   handler **again**: at-least-once across crashes. Only one run is
//!   recorded `done` (the write is fenced): a run whose lease was taken over
//!   cannot mark the job. So make the handler idempotent (write the video
//!   to a path named by the job, as [`Client::download`](crate::Client::download)
//!   does atomically; upsert rather than insert).
//! - A handler that returns `Err` puts the job back (`created`) for the
//!   sweep to retry after [`JobsConfig::retry_after`], up to
//!   [`JobsConfig::max_attempts`], then `failed`.
//! - The handler is called for a task that `FAILED` too (then the job ends
//!   `failed`).
//!
//! # The database
//!
//! Each [`JobStore`] holds one connection and opens a new one on the next
//! call after it breaks; a call that met the break fails with a typed
//! [`StoreError`](crate::postgres::StoreError) (inside [`JobError::Store`]).
//! [`Jobs::run`] logs it and goes on: a dropped connection or a restarted
//! server costs a round. A task created while the database is away is
//! recorded when it returns (tried for twice the lease), else the job is
//! reconciled by another worker, which finds the task: nothing is paid
//! twice or lost.
//!
//! # One rate budget for the replicas
//!
//! The service's limits are per IP, so replicas behind one egress IP share
//! them: each paces at its share, `n` replicas at
//! [`RateLimit::freepik().share(n)`](crate::RateLimit::share), and together
//! they stay inside the whole. Where the number of replicas changes, size a
//! [`Fleet`](crate::postgres::fleet::Fleet) for the most there can be and
//! have each replica hold a seat while it works, as the CLI's batch workers
//! do: a replica without a seat does not send.
//!
//! # Why local files go into the database
//!
//! Uploading at enqueue would put a call to Magnific (paced, retried,
//! failing on its own) into the app's request path and start the staged
//! file's clock (its URL lives about a day) before a worker has the job; a
//! path is only good on the replica that has the file. So the bytes are
//! kept with the job (`bytea`) and deleted once its create is settled. For
//! large videos, give a URL instead.
//!
//! ```no_run
//! use freepik_wan::jobs::{JobStore, Jobs};
//! use freepik_wan::postgres::Database;
//! use freepik_wan::webhook::Verifier;
//! use freepik_wan::{Client, Model};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = JobStore::open(Database::from_url(&std::env::var("DATABASE_URL")?)?).await?;
//! let client = Client::from_env()?;
//! let jobs = Jobs::new(store, client, Verifier::new("whsec_..."), |done| async move {
//!     println!("job {} ended: {}", done.job, done.task.status);
//!     Ok::<(), std::io::Error>(())
//! });
//! let model: Model = "image-to-video/wan-2-7".parse()?;
//! let request = model
//!     .request()
//!     .image("cat.jpg") // read now, uploaded by whichever replica sends it
//!     .prompt("the cat yawns")
//!     .webhook_url("https://app.example.com/webhooks/magnific");
//! let job = jobs.enqueue(request).await?;
//! println!("job {job} queued");
//! jobs.run().await; // works the due jobs of every replica, forever
//! # Ok(()) }
//! ```

mod error;
mod finish;
mod lease;
mod reconcile;
mod runner;
mod schema;
mod send;
mod state;
mod store;
mod stored;

pub use error::JobError;
pub use finish::Delivery;
pub use reconcile::Settled;
pub use runner::{Finished, Jobs, JobsConfig};
pub use schema::JOBS_SCHEMA;
pub use state::JobState;
pub use store::{JobRow, JobStore, Lease};
