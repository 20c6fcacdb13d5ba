//! Configuring, starting and stopping a simulator.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::credits::Credits;
use crate::faults::{Dice, Faults};
use crate::rate_limit::{Limiter, RateLimit};
use crate::routes::{self, AppState};
use crate::stats::{Stats, StatsCollector};
use crate::tasks::TaskStore;
use crate::uploads::{UploadRules, Uploads};
use crate::video::Video;
use crate::webhook;

/// How long [`SimHandle::shutdown`] waits for open connections (say, a throttled download)
/// before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Entry point: `Simulator::builder()....start().await`.
pub struct Simulator;

impl Simulator {
    /// A builder with the defaults: key `"sim-key"`, webhook secret `"sim-webhook-secret"`,
    /// an ephemeral port, 3 s processing time, no faults, no rate limit, the bare MP4 fixture.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }
}

/// Configuration of a simulator; see [`Simulator::builder`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until started"]
pub struct SimulatorBuilder {
    api_key: String,
    extra_api_keys: Vec<String>,
    webhook_secret: String,
    port: u16,
    processing_time: Duration,
    faults: Faults,
    video_size: Option<u64>,
    rate_limit: RateLimit,
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        Self {
            api_key: "sim-key".into(),
            extra_api_keys: Vec::new(),
            webhook_secret: "sim-webhook-secret".into(),
            port: 0,
            processing_time: Duration::from_secs(3),
            faults: Faults::none(),
            video_size: None,
            rate_limit: RateLimit::off(),
        }
    }
}

impl SimulatorBuilder {
    /// The API key clients must send in `x-magnific-api-key` or `x-freepik-api-key`
    /// (default `"sim-key"`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// Accepts one more API key, as a separate account: its tasks are invisible to the
    /// other keys (404 on get, absent from list), as on the real service.
    pub fn extra_api_key(mut self, key: impl Into<String>) -> Self {
        self.extra_api_keys.push(key.into());
        self
    }

    /// The secret webhooks are signed with, keyed as its UTF-8 bytes
    /// (default `"sim-webhook-secret"`).
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = secret.into();
        self
    }

    /// The port to listen on, on 127.0.0.1; 0 (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Time from create to COMPLETED (or FAILED); default 3 s. A task turns IN_PROGRESS
    /// after a tenth of it.
    pub fn processing_time(mut self, time: Duration) -> Self {
        self.processing_time = time;
        self
    }

    /// The faults to inject (default [`Faults::none()`]).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Serves videos of exactly `bytes` bytes: the fixture followed by a top-level MP4
    /// `free` box, which players skip, so the file stays valid. Streamed from a shared
    /// zero buffer, so large sizes cost no memory. Sizes not larger than the fixture
    /// (about 9 KB) serve the fixture unchanged.
    pub fn video_size(mut self, bytes: u64) -> Self {
        self.video_size = Some(bytes);
        self
    }

    /// Enforces rate limits per API key, answering `429` with `Retry-After`
    /// and `{"message": ...}` past them, as the service does (default
    /// [`RateLimit::off`]; [`RateLimit::freepik`] is the published one).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Binds the port and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// When the port cannot be bound, or the webhook HTTP client cannot be built.
    pub async fn start(self) -> io::Result<SimHandle> {
        let listener =
            TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))).await?;
        let base_url = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let (shutdown_tx, shutdown_rx) = watch::channel(false);

        // Webhook receivers under test live on localhost: a proxy from the environment
        // would only get in the way.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(webhook::ATTEMPT_TIMEOUT)
            .build()
            .map_err(io::Error::other)?;
        let stats = Arc::new(StatsCollector::default());
        let tasks = Arc::new(TaskStore::new(base_url.clone(), &self.faults));
        let credits = Arc::new(Credits::new(self.faults.credits));
        // The second origin of video redirects, only when they can happen.
        let mirror = if self.faults.rate_video_redirect > 0.0 {
            Some(TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?)
        } else {
            None
        };
        let mirror_url = match &mirror {
            Some(listener) => Some(format!(
                "http://127.0.0.1:{}",
                listener.local_addr()?.port()
            )),
            None => None,
        };
        // The storage host of uploads: another origin, as a bucket is.
        let storage = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let uploads = Arc::new(Uploads::new(
            format!("http://127.0.0.1:{}", storage.local_addr()?.port()),
            UploadRules {
                upload_ttl: self.faults.upload_url_ttl,
                asset_ttl: self.faults.asset_ttl,
                expire_first_put: self.faults.expire_first_upload_url,
                rate_put_503: self.faults.rate_upload_503,
                seed: self.faults.seed,
            },
        ));
        {
            let app = uploads.clone().router();
            let mut stop = shutdown_rx.clone();
            tokio::spawn(async move {
                axum::serve(storage, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|stop| *stop).await;
                    })
                    .await
            });
        }
        let dice = Arc::new(Dice::new(self.faults.clone()));
        let mut keys = vec![self.api_key.clone()];
        keys.extend(self.extra_api_keys);
        let state = Arc::new(AppState {
            keys,
            processing_time: self.processing_time,
            dice: dice.clone(),
            limiter: Limiter::new(self.rate_limit),
            video: Video::new(self.video_size),
            tasks: tasks.clone(),
            credits: credits.clone(),
            stats: stats.clone(),
            webhooks: webhook::Sender {
                duplicates: self.faults.webhook_duplicates,
                reorder: self.faults.webhook_reorder,
                client,
                secret: self.webhook_secret.as_str().into(),
                stats: stats.clone(),
                shutdown: shutdown_rx.clone(),
            },
            shutdown: shutdown_rx.clone(),
            mirror_url,
            uploads: uploads.clone(),
        });

        let app = routes::router(state);
        if let Some(listener) = mirror {
            let app = app.clone();
            let mut stop = shutdown_rx.clone();
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|stop| *stop).await;
                    })
                    .await
            });
        }
        let mut stop = shutdown_rx;
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await
        });
        tracing::debug!(%base_url, "freepik-wan-sim listening");
        Ok(SimHandle {
            base_url,
            api_key: self.api_key,
            webhook_secret: self.webhook_secret,
            stats,
            tasks,
            credits,
            dice,
            uploads,
            shutdown: shutdown_tx,
            server: Some(server),
        })
    }
}

/// A running simulator. Dropping it stops the server and every task's timers; prefer
/// [`SimHandle::shutdown`] to let open responses finish.
pub struct SimHandle {
    base_url: String,
    api_key: String,
    webhook_secret: String,
    stats: Arc<StatsCollector>,
    tasks: Arc<TaskStore>,
    credits: Arc<Credits>,
    dice: Arc<Dice>,
    uploads: Arc<Uploads>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for SimHandle {
    // Hand-written so that the key and secret never end up in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    /// Where the simulator listens, e.g. `"http://127.0.0.1:41234"` (no trailing slash).
    /// Use it in place of `https://api.magnific.com` (or `https://api.freepik.com`).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The API key the simulator accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The secret webhooks are signed with (as UTF-8 bytes).
    pub fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }

    /// A snapshot of the counters and the request log (also served as JSON
    /// at `GET /_sim/stats`, without a key).
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.snapshot(self.tasks.len());
        stats.uploads = self.uploads.stats();
        stats
    }

    /// When the simulator moved `task_id` to COMPLETED or FAILED; `None` for an unknown
    /// task or one still running. Benchmarks measure a client's wait latency from here.
    pub fn completed_at(&self, task_id: &str) -> Option<Instant> {
        self.tasks.completed_at(task_id)
    }

    /// The files uploaded to the storage host: `(file_id, content_type,
    /// bytes)` of each stored by a PUT, in no particular order. For tests
    /// that check what a client uploaded.
    pub fn uploaded_files(&self) -> Vec<(String, String, bytes::Bytes)> {
        self.uploads.stored()
    }

    /// Calms the simulator down: from now on no fault is injected (no 503,
    /// 429, HTML page, cut, gateway answer, failed task, quota, task quirk or
    /// video fault; tasks made earlier answer without their quirks). The
    /// dice are still rolled, so a replay stays in step.
    /// Properties of the service stay: a lagging or capped list, expiring
    /// URLs, credits, held creates, the rate limit. For a test's last,
    /// settling runs after a fault schedule.
    pub fn calm(&self) {
        self.dice.calm();
    }

    /// Adds a task the account already has from earlier: COMPLETED, made
    /// an hour ago (so even a lagging list shows it), at `model` (its path
    /// under `/v1/ai/`, e.g. `"image-to-video/wan-v2-2-580p"`), owned by the
    /// main key. Not counted as a create. Returns its id, or `None` for a
    /// model the simulator does not serve.
    pub fn add_completed_task(&self, model: &str) -> Option<String> {
        let model = freepik_wan_api::models::MODELS
            .iter()
            .find(|m| m.path() == model)?;
        let owner = crate::tasks::Owner { key: 0, model };
        Some(self.tasks.add_completed(owner, Duration::from_secs(3600)))
    }

    /// Tops up an account whose credits [`Faults::credits`](crate::Faults::credits)
    /// limited: `n` more creates are paid for. No effect on an unlimited account.
    pub fn add_credits(&self, n: u64) {
        self.credits.add(n);
    }

    /// Stops accepting connections, lets open responses finish (for at most a few
    /// seconds), and stops every task's timers and webhook deliveries.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
