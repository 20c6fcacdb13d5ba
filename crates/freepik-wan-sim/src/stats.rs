//! Counters and the request log that tests and benchmarks assert on.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use freepik_wan_api::models::ModelInfo;
use serde::Serialize;

/// A snapshot of what the simulator has seen so far, from [`SimHandle::stats`](crate::SimHandle::stats).
#[derive(Clone, Debug)]
pub struct Stats {
    /// Creates that made a task, whatever the client then heard (a 200, or one of the
    /// [`Faults`](crate::Faults) that act and then fail). Refused (503/429), unauthorized
    /// and invalid creates are not counted, so this is the number of tasks that exist.
    pub creates_accepted: u64,
    /// [`creates_accepted`](Self::creates_accepted) by model, keyed by the
    /// model's path under `/v1/ai/`, e.g. `"image-to-video/wan-v2-6-1080p"` (a
    /// model with no task made is absent).
    pub creates_by_model: BTreeMap<String, u64>,
    /// Tasks that exist.
    pub tasks: u64,
    /// The HTTP requests received, in the order their responses were produced: every one,
    /// up to the last [`REQUEST_LOG_KEPT`] (older ones are dropped from this log, so a
    /// long-running simulator's memory stays bounded; the counts stay exact).
    pub requests: Vec<RequestRecord>,
    /// How many HTTP requests were received in all.
    pub requests_total: u64,
    /// How many of them were API requests (paths under `/v1/`).
    pub api_requests_total: u64,
    /// How many responses went out with each status code, over all requests.
    pub status_counts: BTreeMap<u16, u64>,
    /// Webhook events a receiver acknowledged with a 2xx.
    pub webhooks_delivered: u64,
    /// Webhook POSTs made, retries included.
    pub webhook_attempts: u64,
    /// Uploads: files asked for in `request-url` calls, PUTs stored, bytes
    /// stored, and requests that reached storage with an API key (refused).
    pub uploads: UploadStats,
    /// Create requests that got past authentication, whatever became of
    /// them (refused, faulted, invalid, or made a task).
    pub creates_attempted: u64,
    /// The ids of the tasks creates made, in the order they were made
    /// (tasks added with [`SimHandle::add_completed_task`](crate::SimHandle::add_completed_task)
    /// are not among them).
    pub tasks_made: Vec<String>,
    /// The ids of the tasks whose create was answered with a 2xx carrying
    /// the id, in the order the answers went out: the creates a client was
    /// told about. A late answer counts when it goes out (not if the client
    /// hung up first).
    pub creates_answered: Vec<String>,
    /// How often each fault was drawn, by name (e.g. `"html_ok"`,
    /// `"status_401"`, `"video_html"`, `"create_gateway_524"`); a fault never
    /// drawn is absent.
    pub faults_drawn: BTreeMap<String, u64>,
    /// Requests to the mirror origin of [`Faults::rate_video_redirect`](crate::Faults::rate_video_redirect)
    /// whose `Referer` carried a `token=` query: a signed URL's secret sent
    /// to another host.
    pub referer_token_leaks: u64,
}

/// What the storage host of uploads saw, in [`Stats::uploads`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UploadStats {
    /// Files asked for in `request-url` calls.
    pub urls_requested: u64,
    /// Files stored by a PUT.
    pub stored: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Requests that reached storage carrying an API key (all refused).
    pub key_refused: u64,
}

/// One request as the simulator saw it. Carries no headers, so never the API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method, e.g. `"GET"`.
    pub method: String,
    /// Path without the query string, e.g. `"/v1/ai/image-to-video/wan-v2-2-580p"`.
    pub path: String,
    /// Status code of the response (200 even if the body was then cut by a reset fault).
    pub status: u16,
}

/// How many of the latest requests [`Stats::requests`] keeps.
pub const REQUEST_LOG_KEPT: usize = 100_000;

/// The live counters behind [`Stats`].
#[derive(Default)]
pub(crate) struct StatsCollector {
    creates_accepted: AtomicU64,
    by_model: Mutex<BTreeMap<String, u64>>,
    webhooks_delivered: AtomicU64,
    webhook_attempts: AtomicU64,
    creates_attempted: AtomicU64,
    referer_token_leaks: AtomicU64,
    made: Mutex<Made>,
    log: Mutex<Log>,
}

/// Tasks made and creates answered, and the faults drawn.
#[derive(Default)]
struct Made {
    tasks: Vec<String>,
    answered: Vec<String>,
    faults: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Log {
    recent: VecDeque<RequestRecord>,
    total: u64,
    api_total: u64,
    by_status: BTreeMap<u16, u64>,
}

impl Stats {
    /// How many responses went out with each status code, e.g. `{200: 812, 429: 0}`
    /// (a status never sent is absent).
    pub fn responses(&self) -> BTreeMap<u16, u64> {
        self.status_counts.clone()
    }

    /// The API requests (paths under `/v1/`), all of them: what a rate
    /// limit counts, without the video downloads.
    pub fn api_requests(&self) -> usize {
        self.api_requests_total as usize
    }

    /// The JSON `GET /_sim/stats` serves: `creates_accepted`,
    /// `creates_by_model` (e.g. `{"image-to-video/wan-v2-6-1080p": 3}`), `tasks`,
    /// `requests` (every request, video downloads included), `api_requests`
    /// (only the API's), `responses` by status code (as strings, JSON keys),
    /// the webhook counters, `creates_attempted`, `tasks_made`,
    /// `creates_answered`, `faults_drawn` and `referer_token_leaks`.
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Wire<'a> {
            creates_accepted: u64,
            creates_by_model: BTreeMap<String, u64>,
            tasks: u64,
            requests: usize,
            api_requests: usize,
            responses: BTreeMap<String, u64>,
            webhooks_delivered: u64,
            webhook_attempts: u64,
            creates_attempted: u64,
            tasks_made: &'a [String],
            creates_answered: &'a [String],
            faults_drawn: &'a BTreeMap<String, u64>,
            referer_token_leaks: u64,
            uploads: UploadStats,
        }
        serde_json::to_value(Wire {
            creates_accepted: self.creates_accepted,
            creates_by_model: self.creates_by_model.clone(),
            tasks: self.tasks,
            requests: self.requests_total as usize,
            api_requests: self.api_requests(),
            responses: self
                .responses()
                .into_iter()
                .map(|(status, n)| (status.to_string(), n))
                .collect(),
            webhooks_delivered: self.webhooks_delivered,
            webhook_attempts: self.webhook_attempts,
            creates_attempted: self.creates_attempted,
            tasks_made: &self.tasks_made,
            creates_answered: &self.creates_answered,
            faults_drawn: &self.faults_drawn,
            referer_token_leaks: self.referer_token_leaks,
            uploads: self.uploads,
        })
        .expect("stats always serialize")
    }
}

impl StatsCollector {
    pub(crate) fn create_attempted(&self) {
        self.creates_attempted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn referer_token_leak(&self) {
        self.referer_token_leaks.fetch_add(1, Ordering::Relaxed);
    }

    /// One more draw of the fault called `name`.
    pub(crate) fn fault(&self, name: &str) {
        let mut made = self.made();
        *made.faults.entry(name.to_owned()).or_default() += 1;
    }

    pub(crate) fn create_answered(&self, task_id: &str) {
        self.made().answered.push(task_id.to_owned());
    }

    fn made(&self) -> std::sync::MutexGuard<'_, Made> {
        self.made.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn create_accepted(&self, model: &ModelInfo, task_id: &str) {
        self.made().tasks.push(task_id.to_owned());
        self.creates_accepted.fetch_add(1, Ordering::Relaxed);
        let mut by_model = self.by_model.lock().unwrap_or_else(|e| e.into_inner());
        *by_model.entry(model.path()).or_default() += 1;
    }

    pub(crate) fn webhook_attempt(&self) {
        self.webhook_attempts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn webhook_delivered(&self) {
        self.webhooks_delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, record: RequestRecord) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.total += 1;
        if record.path.starts_with("/v1/") {
            log.api_total += 1;
        }
        *log.by_status.entry(record.status).or_default() += 1;
        if log.recent.len() == REQUEST_LOG_KEPT {
            log.recent.pop_front();
        }
        log.recent.push_back(record);
    }

    pub(crate) fn snapshot(&self, tasks: usize) -> Stats {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let made = self.made();
        Stats {
            creates_attempted: self.creates_attempted.load(Ordering::Relaxed),
            tasks_made: made.tasks.clone(),
            creates_answered: made.answered.clone(),
            faults_drawn: made.faults.clone(),
            referer_token_leaks: self.referer_token_leaks.load(Ordering::Relaxed),
            creates_accepted: self.creates_accepted.load(Ordering::Relaxed),
            creates_by_model: self
                .by_model
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            tasks: tasks as u64,
            requests: log.recent.iter().cloned().collect(),
            requests_total: log.total,
            api_requests_total: log.api_total,
            status_counts: log.by_status.clone(),
            webhooks_delivered: self.webhooks_delivered.load(Ordering::Relaxed),
            webhook_attempts: self.webhook_attempts.load(Ordering::Relaxed),
            uploads: UploadStats::default(),
        }
    }
}
