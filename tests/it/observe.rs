//! Observability: the SDK's spans, seen by a recording subscriber, tie each
//! task together from create to download (through retries, pacing and an
//! uncertain create), and never carry a secret; its metrics, seen by a
//! recording recorder, all move.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use freepik_wan::{
    Client, Error, Model, RateLimit, Reconciled, RetryPolicy, Task, VideoRequest, WaitOptions,
};
use freepik_wan_sim::{Faults, SimHandle, Simulator};
use freepik_wan_tests::png;
use tracing::Instrument;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One span as recorded: its name, target, fields (as last recorded) and
/// parent (recording numbers, never reused, unlike span ids).
#[derive(Clone, Debug)]
struct SpanRec {
    name: &'static str,
    target: String,
    fields: BTreeMap<String, String>,
    parent: Option<u64>,
}

/// One event: its target, fields and the span it happened in.
#[derive(Clone, Debug)]
struct EventRec {
    target: String,
    fields: BTreeMap<String, String>,
    span: Option<u64>,
}

/// A `Layer` that keeps every span and event.
#[derive(Clone, Default)]
struct Recorder {
    next: Arc<AtomicU64>,
    spans: Arc<Mutex<HashMap<u64, SpanRec>>>,
    events: Arc<Mutex<Vec<EventRec>>>,
}

/// The recording number of a span, kept in its extensions.
struct Seq(u64);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for Recorder
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .and_then(|parent| parent.extensions().get::<Seq>().map(|s| s.0));
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Seq(seq));
        }
        self.spans.lock().unwrap().insert(
            seq,
            SpanRec {
                name: attrs.metadata().name(),
                target: attrs.metadata().target().to_owned(),
                fields,
                parent,
            },
        );
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(seq) = ctx
            .span(id)
            .and_then(|span| span.extensions().get::<Seq>().map(|s| s.0))
        else {
            return;
        };
        if let Some(rec) = self.spans.lock().unwrap().get_mut(&seq) {
            values.record(&mut Fields(&mut rec.fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let span = ctx
            .event_span(event)
            .and_then(|span| span.extensions().get::<Seq>().map(|s| s.0));
        self.events.lock().unwrap().push(EventRec {
            target: event.metadata().target().to_owned(),
            fields,
            span,
        });
    }
}

impl Recorder {
    fn spans(&self) -> HashMap<u64, SpanRec> {
        self.spans.lock().unwrap().clone()
    }

    fn events(&self) -> Vec<EventRec> {
        self.events.lock().unwrap().clone()
    }
}

/// The root of `seq`'s trace.
fn root(spans: &HashMap<u64, SpanRec>, mut seq: u64) -> u64 {
    while let Some(parent) = spans[&seq].parent {
        seq = parent;
    }
    seq
}

fn field<'a>(span: &'a SpanRec, name: &str) -> Option<&'a str> {
    span.fields.get(name).map(String::as_str)
}

fn client_for(sim: &SimHandle, limit: RateLimit) -> Client {
    Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .rate_limit(limit)
        .timeout(Duration::from_secs(5))
        .retry(
            RetryPolicy::default()
                .max_retries(10)
                .initial_backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(20)),
        )
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(50))
                .max_interval(Duration::from_millis(100))
                .timeout(Duration::from_secs(30)),
        )
        .build()
        .unwrap()
}

fn request() -> VideoRequest {
    let model: Model = "image-to-video/wan-v2-2-720p".parse().unwrap();
    VideoRequest::new(model)
        .image(png(640, 360, 2_000))
        .prompt("a fox in the snow")
        // Uploaded, not inline: the create's upload is in its trace.
        .inline_limit(0)
}

/// One task's life in a `job` span, the way a service would run it; the
/// job records the task's id.
async fn job(client: &Client, dir: &std::path::Path, n: usize) -> Task {
    let span = tracing::info_span!("job", n, task = tracing::field::Empty);
    async {
        let task = match client.create(request()).await {
            Ok(task) => task,
            Err(Error::CreateUncertain(uncertain)) => match client.reconcile(&uncertain) {
                Reconciled::Adopted(task) => task,
                other => panic!("job {n}: the uncertain create was not settled: {other:?}"),
            },
            Err(error) => panic!("job {n}: {error}"),
        };
        tracing::Span::current().record("task", task.id.as_str());
        let done = client.wait(&task.id).await.unwrap();
        client
            .download(&done, dir.join(format!("{n}.mp4")))
            .await
            .unwrap();
        done
    }
    .instrument(span)
    .await
}

#[test]
fn every_task_has_one_trace_from_create_to_download_and_no_secret_in_it() {
    let recorder = Recorder::default();
    let (keys, flaky_tasks, uncertain_task) = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn({
            let recorder = recorder.clone();
            move || record(recorder)
        })
        .unwrap()
        .join()
        .unwrap();

    let spans = recorder.spans();
    let events = recorder.events();
    let jobs: Vec<(u64, &SpanRec)> = spans
        .iter()
        .filter(|(_, s)| s.name == "job")
        .map(|(seq, s)| (*seq, s))
        .collect();
    assert_eq!(jobs.len(), 3);
    for (job_seq, job) in &jobs {
        let id = field(job, "task").expect("the job recorded its task");
        let in_trace: Vec<&SpanRec> = spans
            .iter()
            .filter(|(seq, _)| *seq != job_seq && root(&spans, **seq) == *job_seq)
            .map(|(_, s)| s)
            .collect();
        // One span per operation, each naming the task and its model.
        for name in [
            "freepik_wan.create",
            "freepik_wan.wait",
            "freepik_wan.download",
        ] {
            let op = in_trace
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("{id}: no {name} span in {in_trace:#?}"));
            // An uncertain create learns no id: its reconcile names it.
            let named = match field(op, "freepik_wan.create.uncertain") {
                Some("true") => in_trace
                    .iter()
                    .find(|s| s.name == "freepik_wan.reconcile")
                    .unwrap_or_else(|| panic!("{id}: uncertain, and no reconcile")),
                _ => op,
            };
            assert_eq!(
                field(named, "freepik_wan.task_id"),
                Some(id),
                "{name}: {op:?}"
            );
            assert_eq!(
                field(op, "freepik_wan.model"),
                Some("image-to-video/wan-v2-2-720p"),
                "{name}: {op:?}"
            );
        }
        assert!(
            in_trace.iter().any(|s| s.name == "freepik_wan.upload"),
            "{id}: the create's upload is in its trace"
        );
        // The create's HTTP call: OpenTelemetry's fields.
        let create_call = in_trace
            .iter()
            .find(|s| {
                s.name == "freepik_wan.call"
                    && field(s, "freepik_wan.operation") == Some("create_task")
                    && field(s, "http.response.status_code").is_some()
            })
            .unwrap_or_else(|| panic!("{id}: no create call in {in_trace:#?}"));
        assert_eq!(field(create_call, "http.request.method"), Some("POST"));
        assert_eq!(field(create_call, "server.address"), Some("127.0.0.1"));
        assert_eq!(
            field(create_call, "url.path"),
            Some("/v1/ai/image-to-video/wan-v2-2-720p")
        );
        // The video's GET, by host and path only.
        let video = in_trace
            .iter()
            .find(|s| {
                s.name == "freepik_wan.call"
                    && field(s, "freepik_wan.operation") == Some("download")
            })
            .unwrap_or_else(|| panic!("{id}: no download call"));
        assert_eq!(field(video, "http.request.method"), Some("GET"));
        assert_eq!(field(video, "http.response.status_code"), Some("200"));
        // The shared poller's polls are found by the task's id too.
        let polled = spans.values().any(|s| {
            s.name == "freepik_wan.poll"
                && field(s, "freepik_wan.task_ids")
                    .is_some_and(|ids| ids.split(',').any(|i| i == id))
        });
        assert!(polled, "{id}: no poll names it");
        // And the wait saw it end, in its own span.
        let wait_seq = spans
            .iter()
            .find(|(seq, s)| s.name == "freepik_wan.wait" && root(&spans, **seq) == *job_seq)
            .map(|(seq, _)| *seq)
            .unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.span == Some(wait_seq) && field_of(e, "message") == Some("task ended")),
            "{id}: the wait's span has no end event"
        );
    }
    let task_of = |task: &Task| {
        jobs.iter()
            .find(|(_, j)| field(j, "task") == Some(task.id.as_str()))
            .map(|(seq, _)| *seq)
            .unwrap()
    };

    // A retried 503: an attempt answered 503, and a resent one after it.
    let calls: Vec<(u64, &SpanRec)> = spans
        .iter()
        .filter(|(_, s)| s.name == "freepik_wan.call")
        .map(|(seq, s)| (*seq, s))
        .collect();
    assert!(
        calls.iter().any(
            |(_, s)| field(s, "http.response.status_code") == Some("503")
                && field(s, "error.type") == Some("503")
        ),
        "no 503 attempt recorded"
    );
    assert!(
        calls
            .iter()
            .any(|(_, s)| field(s, "http.request.resend_count").is_some_and(|n| n != "0")),
        "no resend recorded"
    );

    // A paced create: the flaky client's creates waited for the pacer.
    let flaky_jobs: Vec<u64> = flaky_tasks.iter().map(task_of).collect();
    let paced = calls.iter().any(|(seq, s)| {
        flaky_jobs.contains(&root(&spans, *seq))
            && field(s, "freepik_wan.operation") == Some("create_task")
            && field(s, "freepik_wan.paced_ms").is_some_and(|ms| ms.parse::<u64>().unwrap() > 0)
    });
    assert!(paced, "no paced create recorded");

    // The uncertain create: marked so, and reconciled to the same task.
    let uncertain_job = task_of(&uncertain_task);
    let in_job = |name: &str| {
        spans
            .iter()
            .filter(|(seq, s)| s.name == name && root(&spans, **seq) == uncertain_job)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
    };
    let create = in_job("freepik_wan.create");
    assert_eq!(
        field(create[0], "freepik_wan.create.uncertain"),
        Some("true")
    );
    assert_eq!(
        field(create[0], "freepik_wan.create.outcome"),
        Some("uncertain")
    );
    let reconcile = in_job("freepik_wan.reconcile");
    assert_eq!(
        field(reconcile[0], "freepik_wan.task_id"),
        Some(uncertain_task.id.as_str())
    );
    assert_eq!(
        field(reconcile[0], "freepik_wan.reconcile.outcome"),
        Some("adopted")
    );

    // No secret anywhere the SDK wrote: not the key, not a URL's token.
    let ours =
        |target: &str| target.starts_with("freepik_wan") && !target.starts_with("freepik_wan_sim");
    let mut values: Vec<&String> = Vec::new();
    for s in spans.values().filter(|s| ours(&s.target)) {
        values.extend(s.fields.values());
    }
    for e in events.iter().filter(|e| ours(&e.target)) {
        values.extend(e.fields.values());
    }
    assert!(values.len() > 100, "too little recorded: {}", values.len());
    for value in values {
        for key in &keys {
            assert!(!value.contains(key.as_str()), "the key in {value}");
        }
        assert!(!value.contains("token="), "a URL token in {value}");
        assert!(!value.contains("hmac="), "a URL token in {value}");
    }
}

/// Runs three jobs on one thread, under `recorder`: two against a flaky,
/// paced service, one whose create is answered 502 after it made the task.
fn record(recorder: Recorder) -> ([String; 2], [Task; 2], Task) {
    // A second dispatcher, kept alive: while only one exists, a callsite
    // first hit by another test's thread takes that thread's interest (none
    // without a global subscriber) for good, and this recorder would never
    // see it; with two, every callsite asks every live dispatcher.
    let _another = tracing::Dispatch::new(tracing_subscriber::registry());
    let subscriber = tracing_subscriber::registry().with(recorder);
    // This thread's subscriber; the runtime below runs every task on it.
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        // 503s on two in five API calls (retried), video URLs signed
        // with a token, and a client paced at 4 requests a second.
        let flaky = Simulator::builder()
            .processing_time(Duration::from_millis(300))
            .faults(Faults {
                seed: 7,
                rate_503: 0.4,
                signed_urls: true,
                ..Faults::none()
            })
            .start()
            .await
            .unwrap();
        let client = client_for(&flaky, RateLimit::per_second(4).burst(1));
        let (a, b) = tokio::join!(job(&client, dir.path(), 0), job(&client, dir.path(), 1));
        // Every create answered 502 after making its task.
        let gateway = Simulator::builder()
            .processing_time(Duration::from_millis(200))
            .faults(Faults {
                rate_create_gateway_error: 1.0,
                signed_urls: true,
                ..Faults::none()
            })
            .start()
            .await
            .unwrap();
        let c = job(&client_for(&gateway, RateLimit::none()), dir.path(), 2).await;
        (
            [flaky.api_key().to_owned(), gateway.api_key().to_owned()],
            [a, b],
            c,
        )
    })
}

fn field_of<'a>(event: &'a EventRec, name: &str) -> Option<&'a str> {
    event.fields.get(name).map(String::as_str)
}

/// Every metric of the README's table, as a recording recorder sees it
/// after: two jobs against a flaky, paced service (retries, pacing,
/// uploads, waits, downloads), an uncertain create, a refused create and a
/// create over quota.
#[test]
fn every_metric_moves_with_bounded_labels() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let tasks = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            metrics::with_local_recorder(&recorder, || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(metered())
            })
        })
        .unwrap()
        .join()
        .unwrap();

    let snapshot = snapshotter.snapshot().into_vec();
    let mut counters: HashMap<MetricKey, u64> = HashMap::new();
    let mut histograms: HashMap<MetricKey, Vec<f64>> = HashMap::new();
    for (key, _, _, value) in snapshot {
        let name = key.key().name().to_owned();
        let mut labels: Vec<(String, String)> = key
            .key()
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        labels.sort();
        for (_, value) in &labels {
            assert!(
                !tasks.iter().any(|id| value.contains(id.as_str())),
                "{name}: a task id as a label: {labels:?}"
            );
        }
        match value {
            DebugValue::Counter(n) => {
                counters.insert((name, labels), n);
            }
            DebugValue::Histogram(values) => {
                histograms.insert((name, labels), values.iter().map(|v| v.0).collect());
            }
            DebugValue::Gauge(_) => {}
        }
    }
    let counted = |name: &str, with: &[(&str, &str)]| -> u64 {
        counters
            .iter()
            .filter(|((n, labels), _)| {
                n == name
                    && with
                        .iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, n)| *n)
            .sum()
    };
    let sampled = |name: &str, with: &[(&str, &str)]| -> Vec<f64> {
        histograms
            .iter()
            .filter(|((n, labels), _)| {
                n == name
                    && with
                        .iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .flat_map(|(_, v)| v.clone())
            .collect()
    };
    let model = "image-to-video/wan-v2-2-720p";
    let requests = "freepik_wan_api_requests_total";
    for operation in [
        "create_task",
        "get_task",
        "list_tasks",
        "request_upload_urls",
    ] {
        assert!(
            counted(requests, &[("operation", operation), ("status", "200")]) > 0,
            "{operation}: {counters:#?}"
        );
    }
    assert!(
        counted(requests, &[("model", model), ("status", "503")]) > 0,
        "{counters:#?}"
    );
    for outcome in ["accepted", "uncertain", "refused", "quota"] {
        assert!(
            counted(
                "freepik_wan_creates_total",
                &[("model", model), ("outcome", outcome)]
            ) > 0,
            "{outcome}: {counters:#?}"
        );
    }
    assert_eq!(
        counted("freepik_wan_creates_total", &[("outcome", "accepted")]),
        2
    );
    assert!(
        counted("freepik_wan_retries_total", &[]) > 0,
        "{counters:#?}"
    );
    let paced = sampled("freepik_wan_paced_seconds", &[("operation", "create_task")]);
    assert!(paced.iter().any(|s| *s > 0.0), "{paced:?}");
    let waits = sampled(
        "freepik_wan_wait_seconds",
        &[("model", model), ("status", "COMPLETED")],
    );
    assert_eq!(waits.len(), 3, "{histograms:#?}");
    assert!(waits.iter().all(|s| *s > 0.0));
    assert!(counted("freepik_wan_download_bytes_total", &[("model", model)]) > 3 * 1000);
    assert_eq!(
        counted("freepik_wan_upload_bytes_total", &[]),
        // Each client uploads its image once: three jobs, and the two
        // refused creates (which upload before they are refused).
        5 * png(640, 360, 2_000).len() as u64
    );
}

/// A metric's name and its sorted labels.
type MetricKey = (String, Vec<(String, String)>);

/// The runs `every_metric_moves_with_bounded_labels` measures; the ids of
/// the tasks made.
async fn metered() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Simulator::builder()
        .processing_time(Duration::from_millis(300))
        .faults(Faults {
            seed: 7,
            rate_503: 0.4,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    let client = client_for(&flaky, RateLimit::per_second(4).burst(1));
    let (a, b) = tokio::join!(job(&client, dir.path(), 0), job(&client, dir.path(), 1));
    let gateway = Simulator::builder()
        .processing_time(Duration::from_millis(200))
        .faults(Faults {
            rate_create_gateway_error: 1.0,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    let c = job(&client_for(&gateway, RateLimit::none()), dir.path(), 2).await;
    for faults in [
        Faults {
            credits: Some(0),
            ..Faults::none()
        },
        Faults {
            quota_after_creates: Some(0),
            ..Faults::none()
        },
    ] {
        let refusing = Simulator::builder().faults(faults).start().await.unwrap();
        let error = client_for(&refusing, RateLimit::none())
            .create(request())
            .await
            .unwrap_err();
        assert!(error.status().is_some(), "{error:?}");
    }
    vec![a.id.to_string(), b.id.to_string(), c.id.to_string()]
}

/// A webhook verified and delivered: each in its span, naming the task,
/// a refused one naming why; never the secret, the signature or the body.
#[test]
fn webhooks_are_verified_and_delivered_in_spans_without_the_secret() {
    use freepik_wan::webhook::{Verifier, WebhookSecret};

    const SECRET: &str = "observe-webhook-secret-7c1d";
    let recorder = Recorder::default();
    let _another = tracing::Dispatch::new(tracing_subscriber::registry());
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    tracing::callsite::rebuild_interest_cache();

    let client = Client::new("observe-key-0b9e").unwrap();
    let task_id = "6f1c0c9e-7a51-4f3e-9a3b-1f0e5d2c4b7a";
    let body = format!(
        r#"{{"task_id":"{task_id}","status":"COMPLETED","generated":["https://cdn.example/v.mp4?token=exp=1~hmac=abc"]}}"#
    );
    let now = std::time::SystemTime::now();
    let ts = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let signature = WebhookSecret::new(SECRET)
        .sign("msg_1", ts, body.as_bytes())
        .unwrap();
    let verifier = Verifier::new(SECRET).now(now);
    let event = verifier
        .verify_parts("msg_1", &ts.to_string(), &signature, body.as_bytes())
        .unwrap();
    client.deliver(&event);
    let wrong = WebhookSecret::new("another-secret")
        .sign("msg_2", ts, body.as_bytes())
        .unwrap();
    let forged = verifier.verify_parts("msg_2", &ts.to_string(), &wrong, body.as_bytes());
    assert!(forged.is_err());

    let spans = recorder.spans();
    let named = |name: &str| {
        spans
            .values()
            .filter(|s| s.name == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let verified = named("freepik_wan.webhook.verify");
    assert_eq!(verified.len(), 2, "{verified:#?}");
    assert!(
        verified
            .iter()
            .any(|s| field(s, "freepik_wan.task_id") == Some(task_id))
    );
    assert!(
        verified
            .iter()
            .any(|s| field(s, "error.type") == Some("no_matching_signature"))
    );
    let delivered = named("freepik_wan.webhook.deliver");
    assert_eq!(field(&delivered[0], "freepik_wan.task_id"), Some(task_id));
    assert_eq!(
        field(&delivered[0], "freepik_wan.task.status"),
        Some("COMPLETED")
    );
    for value in spans.values().flat_map(|s| s.fields.values()) {
        for secret in [SECRET, signature.as_str(), "token=", "hmac="] {
            assert!(!value.contains(secret), "{secret} in {value}");
        }
    }
}
