//! Counters and the request log that tests and benchmarks assert on.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// A snapshot of what the simulator has seen so far, from [`SimHandle::stats`](crate::SimHandle::stats).
#[derive(Clone, Debug)]
pub struct Stats {
    /// Creates that made a task, whatever the client then heard (a 200, or one of the
    /// [`Faults`](crate::Faults) that act and then fail). Refused (503/429), unauthorized
    /// and invalid creates are not counted, so this is the number of tasks that exist.
    pub creates_accepted: u64,
    /// Tasks that exist.
    pub tasks: u64,
    /// Every HTTP request received, in the order their responses were produced.
    pub requests: Vec<RequestRecord>,
    /// Webhook events a receiver acknowledged with a 2xx.
    pub webhooks_delivered: u64,
    /// Webhook POSTs made, retries included.
    pub webhook_attempts: u64,
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

/// The live counters behind [`Stats`].
#[derive(Default)]
pub(crate) struct StatsCollector {
    creates_accepted: AtomicU64,
    webhooks_delivered: AtomicU64,
    webhook_attempts: AtomicU64,
    requests: Mutex<Vec<RequestRecord>>,
}

impl Stats {
    /// How many responses went out with each status code, e.g. `{200: 812, 429: 0}`
    /// (a status never sent is absent).
    pub fn responses(&self) -> BTreeMap<u16, u64> {
        let mut counts = BTreeMap::new();
        for request in &self.requests {
            *counts.entry(request.status).or_default() += 1;
        }
        counts
    }

    /// The API requests among [`requests`](Self::requests) (paths under
    /// `/v1/`): what a rate limit counts, without the video downloads.
    pub fn api_requests(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| r.path.starts_with("/v1/"))
            .count()
    }

    /// The JSON `GET /_sim/stats` serves: `creates_accepted`, `tasks`,
    /// `requests` (every request, video downloads included), `api_requests`
    /// (only the API's), `responses` by status code (as strings, JSON keys),
    /// and the webhook counters.
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Wire {
            creates_accepted: u64,
            tasks: u64,
            requests: usize,
            api_requests: usize,
            responses: BTreeMap<String, u64>,
            webhooks_delivered: u64,
            webhook_attempts: u64,
        }
        serde_json::to_value(Wire {
            creates_accepted: self.creates_accepted,
            tasks: self.tasks,
            requests: self.requests.len(),
            api_requests: self.api_requests(),
            responses: self
                .responses()
                .into_iter()
                .map(|(status, n)| (status.to_string(), n))
                .collect(),
            webhooks_delivered: self.webhooks_delivered,
            webhook_attempts: self.webhook_attempts,
        })
        .expect("stats always serialize")
    }
}

impl StatsCollector {
    pub(crate) fn create_accepted(&self) {
        self.creates_accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn webhook_attempt(&self) {
        self.webhook_attempts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn webhook_delivered(&self) {
        self.webhooks_delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, record: RequestRecord) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }

    pub(crate) fn snapshot(&self, tasks: usize) -> Stats {
        Stats {
            creates_accepted: self.creates_accepted.load(Ordering::Relaxed),
            tasks: tasks as u64,
            requests: self
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            webhooks_delivered: self.webhooks_delivered.load(Ordering::Relaxed),
            webhook_attempts: self.webhook_attempts.load(Ordering::Relaxed),
        }
    }
}
