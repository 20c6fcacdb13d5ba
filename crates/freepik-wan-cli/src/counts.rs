//! A batch's counts, from the library's metrics (its `metrics` feature): API
//! requests by status, creates by outcome, retries, time paced, waits,
//! bytes downloaded and uploaded, added to the batch's summary. A recorder
//! of sums, kept in this process: nothing is exported.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::{Value, json};

/// Every counter and histogram the library touched, by name and labels.
#[derive(Default)]
struct Sums {
    counters: Mutex<HashMap<Key, Arc<AtomicU64>>>,
    histograms: Mutex<HashMap<Key, Arc<Samples>>>,
}

/// A histogram's count and total.
#[derive(Default)]
struct Samples(Mutex<(u64, f64)>);

impl metrics::HistogramFn for Samples {
    fn record(&self, value: f64) {
        let mut samples = self.0.lock().unwrap_or_else(|e| e.into_inner());
        samples.0 += 1;
        samples.1 += value;
    }
}

#[derive(Clone)]
struct SumRecorder(Arc<Sums>);

impl Recorder for SumRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut counters = self.0.counters.lock().unwrap_or_else(|e| e.into_inner());
        Counter::from_arc(counters.entry(key.clone()).or_default().clone())
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut histograms = self.0.histograms.lock().unwrap_or_else(|e| e.into_inner());
        Histogram::from_arc(histograms.entry(key.clone()).or_default().clone())
    }
}

static SUMS: OnceLock<Arc<Sums>> = OnceLock::new();

/// Starts counting (once per process; a recorder already set elsewhere
/// wins, and then the counts stay empty).
pub fn install() {
    SUMS.get_or_init(|| {
        let sums = Arc::new(Sums::default());
        let _ = metrics::set_global_recorder(SumRecorder(sums.clone()));
        sums
    });
}

/// The counts so far, as the summary's `counts` object.
pub fn json() -> Value {
    let Some(sums) = SUMS.get() else {
        return Value::Null;
    };
    let counters = sums.counters.lock().unwrap_or_else(|e| e.into_inner());
    let histograms = sums.histograms.lock().unwrap_or_else(|e| e.into_inner());
    // The total of counter `name`, by the value of its `label` (or all).
    let by = |name: &str, label: Option<&str>| {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for (key, value) in counters.iter().filter(|(k, _)| k.name() == name) {
            let group = match label {
                Some(label) => key
                    .labels()
                    .find(|l| l.key() == label)
                    .map_or_else(String::new, |l| l.value().to_owned()),
                None => String::new(),
            };
            *out.entry(group).or_default() += value.load(Ordering::Relaxed);
        }
        out
    };
    let total = |name: &str| by(name, None).values().sum::<u64>();
    let samples = |name: &str| {
        let (mut count, mut sum) = (0u64, 0f64);
        for (_, s) in histograms.iter().filter(|(k, _)| k.name() == name) {
            let s = s.0.lock().unwrap_or_else(|e| e.into_inner());
            count += s.0;
            sum += s.1;
        }
        json!({ "count": count, "seconds": (sum * 1000.0).round() / 1000.0 })
    };
    json!({
        "api_requests": by("freepik_wan_api_requests_total", Some("status")),
        "creates": by("freepik_wan_creates_total", Some("outcome")),
        "retries": total("freepik_wan_retries_total"),
        "paced": samples("freepik_wan_paced_seconds"),
        "waits": samples("freepik_wan_wait_seconds"),
        "download_bytes": total("freepik_wan_download_bytes_total"),
        "upload_bytes": total("freepik_wan_upload_bytes_total"),
    })
}

/// The counts in a few words, for the plain summary (`None` when not
/// counting).
pub fn plain() -> Option<String> {
    let counts = json();
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let sum = |v: &Value| v.as_object().map_or(0, |o| o.values().map(n).sum::<u64>());
    if counts.is_null() {
        return None;
    }
    let creates = counts["creates"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(outcome, count)| format!("{} {outcome}", n(count)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    Some(format!(
        "{} API requests ({} retries, {:.1} s paced); creates: {}; {} bytes downloaded, {} uploaded",
        sum(&counts["api_requests"]),
        n(&counts["retries"]),
        counts["paced"]["seconds"].as_f64().unwrap_or(0.0),
        if creates.is_empty() {
            "none".to_owned()
        } else {
            creates
        },
        n(&counts["download_bytes"]),
        n(&counts["upload_bytes"]),
    ))
}
