//! A short soak: tasks through create → wait → download against the simulator
//! while it answers 10 % of API calls 503, 5 % 429 with `Retry-After: 1`,
//! cuts 2 % of status and download responses half-way, throttles downloads,
//! and fails 20 % of creates *after* making their task (a gateway's 502/504,
//! a dropped connection, an answer after the client's timeout). What a user
//! relies on under that weather: no task lost, no task paid twice (every task
//! the simulator made is held by a job, or was reported to it as possibly
//! made), every file byte-for-byte right, and no partial file left behind.
//! The same weather with naive create retries does pay twice: the fault
//! model can produce the bad outcome the soak rules out.
//!
//! `cargo xtask soak` runs the long version (200 tasks). Nothing here is
//! timed: speed is the benchmark's business.

use std::time::Duration;

use freepik_wan::{Client, Error, Reconciled, RetryPolicy, TaskId, WaitOptions};
use freepik_wan_sim::{Faults, Simulator};
use freepik_wan_tests::{expected_video, png};

const TASKS: usize = 36;
/// Large enough that a cut lands mid-body and throttling shows; small enough
/// to keep the test quick.
const VIDEO_BYTES: usize = 256 * 1024;

/// How a job creates its task.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Creates {
    /// The SDK's way: an uncertain create is reconciled, never repeated.
    Reconciled,
    /// What a hand-rolled client does: any failed create is sent again.
    NaivelyRetried,
}

/// What a soak run ended with.
struct Outcome {
    /// Tasks the simulator made.
    accepted: u64,
    /// Distinct tasks the jobs ended up holding.
    held: usize,
    /// Jobs told their create may have made a task they could not adopt.
    reported: usize,
    /// Jobs that failed otherwise.
    lost: Vec<String>,
    /// Files not byte-for-byte the video, and stray (partial) files.
    corrupt: usize,
    stray: usize,
    /// Creates the client was told may have made a task.
    uncertain_seen: usize,
}

impl Outcome {
    fn duplicates(&self) -> i64 {
        self.accepted as i64 - self.held as i64 - self.reported as i64
    }
}

async fn soak(tasks: usize, creates: Creates) -> Outcome {
    let sim = Simulator::builder()
        .processing_time(Duration::from_millis(300))
        .video_size(VIDEO_BYTES as u64)
        .faults(Faults {
            seed: 0x50a5,
            rate_503: 0.10,
            rate_429: 0.05,
            retry_after_secs: 1,
            rate_reset: 0.02,
            download_bytes_per_sec: Some(2 << 20),
            rate_create_gateway_error: 0.08,
            rate_create_cut: 0.06,
            rate_create_late: 0.06,
            create_late_by: Duration::from_millis(1500),
            // Gateways as the field has them: each may have forwarded the
            // create before failing it (a 503 here is HTML, no Retry-After).
            create_gateway_statuses: vec![502, 504, 520, 524, 408, 503, 307],
            // A list that lags behind creates, and ids in any case.
            list_lag: Duration::from_millis(300),
            case_insensitive_ids: true,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    // Retry-After is 1 s, well inside the budget, so a 429 costs a second and
    // is never the last word. Eight retries: at a 15 % fault rate the chance
    // that nine tries of one call all fail is about 3e-8. (The default three
    // retries would lose about one call in 2,000 to this weather.) A 1 s
    // request timeout, so that a late create answer comes after it.
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .timeout(Duration::from_secs(1))
        // Longer than the list's lag: an uncertain create finds its task.
        .uncertain_grace(Duration::from_secs(2))
        .retry(
            RetryPolicy::default()
                .max_retries(8)
                .initial_backoff(Duration::from_millis(20))
                .max_backoff(Duration::from_millis(500))
                .budget(Duration::from_secs(30)),
        )
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(100))
                .max_interval(Duration::from_millis(250))
                .timeout(Duration::from_secs(120)),
        )
        .build()
        .unwrap();
    let out = tempfile::tempdir().unwrap();

    let jobs = (0..tasks).map(|i| {
        let client = client.clone();
        let path = out.path().join(format!("video-{i:03}.mp4"));
        tokio::spawn(async move {
            let (created, uncertain) = create(&client, i, creates).await;
            let Some(id) = created? else {
                return Ok((None, uncertain));
            };
            let done = client.wait(&id).await?;
            let saved = client.download(&done, &path).await?;
            assert_eq!(saved.bytes, VIDEO_BYTES as u64, "task {i}: size reported");
            Ok::<_, Error>((Some(id), uncertain))
        })
    });
    let results = futures_util::future::join_all(jobs).await;

    let (mut held, mut reported, mut lost, mut uncertain_seen) = (Vec::new(), 0, Vec::new(), 0);
    for (i, joined) in results.into_iter().enumerate() {
        match joined.expect("a task panicked") {
            Ok((Some(id), uncertain)) => {
                held.push(id.to_string());
                uncertain_seen += uncertain;
            }
            Ok((None, uncertain)) => {
                reported += 1;
                uncertain_seen += uncertain;
            }
            Err(err) => lost.push(format!("task {i}: {err}")),
        }
    }
    held.sort();
    held.dedup();

    let expected = expected_video(VIDEO_BYTES);
    let (mut corrupt, mut stray) = (0, 0);
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("video-") || !name.ends_with(".mp4") {
            stray += 1;
        } else if std::fs::read(entry.path()).unwrap() != expected {
            corrupt += 1;
        }
    }
    let stats = sim.stats();
    let count = |code| stats.requests.iter().filter(|r| r.status == code).count();
    assert!(
        count(503) > 0 && count(429) > 0,
        "no faults were injected: {:?}",
        stats.responses()
    );
    let outcome = Outcome {
        accepted: stats.creates_accepted,
        held: held.len(),
        reported,
        lost,
        corrupt,
        stray,
        uncertain_seen,
    };
    sim.shutdown().await;
    outcome
}

/// Creates job `i`'s task; `None` when the create may have made one that
/// could not be told apart (reported to the job, which stops there). Also
/// says how many of its creates were uncertain.
async fn create(
    client: &Client,
    i: usize,
    creates: Creates,
) -> (Result<Option<TaskId>, Error>, usize) {
    let mut uncertain_seen = 0;
    let result = create_counting(client, i, creates, &mut uncertain_seen).await;
    (result, uncertain_seen)
}

async fn create_counting(
    client: &Client,
    i: usize,
    creates: Creates,
    uncertain_seen: &mut usize,
) -> Result<Option<TaskId>, Error> {
    let mut tries = 0;
    loop {
        let sent = client
            .image_to_video(png(640, 360, 4096))
            .prompt(format!("soak task {i}"))
            .await;
        if matches!(sent, Err(Error::CreateUncertain(_))) {
            *uncertain_seen += 1;
        }
        match (sent, creates) {
            (Ok(task), _) => return Ok(Some(task.id)),
            (Err(Error::CreateUncertain(uncertain)), Creates::Reconciled) => {
                return match client.reconcile(&uncertain) {
                    Reconciled::Adopted(task) => Ok(Some(task.id)),
                    _ => Ok(None),
                };
            }
            (Err(_), Creates::NaivelyRetried) if tries < 5 => tries += 1,
            (Err(err), _) => return Err(err),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_faults_loses_nothing_and_pays_nothing_twice() {
    let outcome = soak(TASKS, Creates::Reconciled).await;
    assert!(outcome.lost.is_empty(), "lost tasks: {:#?}", outcome.lost);
    assert!(
        outcome.uncertain_seen > 0,
        "no create acted and then failed: the weather proves nothing"
    );
    assert_eq!(outcome.duplicates(), 0, "paid twice");
    assert_eq!(outcome.corrupt, 0, "corrupt files");
    assert_eq!(outcome.stray, 0, "partial or stray files left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_create_retries_pay_twice_under_the_same_weather() {
    let outcome = soak(TASKS, Creates::NaivelyRetried).await;
    assert!(
        outcome.duplicates() > 0,
        "naive retries made no duplicate: the soak's fault model could not catch one"
    );
}
