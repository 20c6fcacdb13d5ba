//! A short soak: tasks through create → wait → download against the simulator
//! while it answers 10 % of API calls 503, 5 % 429 with `Retry-After: 1`,
//! cuts 2 % of status and download responses half-way and throttles
//! downloads. What a user relies on under that weather: no task lost, no task
//! created twice (a retried create must never be paid twice), every file
//! byte-for-byte right, and no partial file left behind.
//!
//! `cargo xtask soak` runs the long version (200 tasks). Nothing here is
//! timed: speed is the benchmark's business.

use std::time::Duration;

use freepik_wan::{Client, RetryPolicy, WaitOptions};
use freepik_wan_sim::{Faults, Simulator};
use freepik_wan_tests::{expected_video, png};

const TASKS: usize = 36;
/// Large enough that a cut lands mid-body and throttling shows; small enough
/// to keep the test quick.
const VIDEO_BYTES: usize = 256 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_faults_loses_nothing_and_creates_nothing_twice() {
    let sim = Simulator::builder()
        .processing_time(Duration::from_millis(300))
        .video_size(VIDEO_BYTES as u64)
        .faults(Faults {
            seed: 0x50a4,
            rate_503: 0.10,
            rate_429: 0.05,
            retry_after_secs: 1,
            rate_reset: 0.02,
            download_bytes_per_sec: Some(2 << 20),
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    // Retry-After is 1 s, well inside the budget, so a 429 costs a second and
    // is never the last word. Eight retries: at a 15 % fault rate the chance
    // that nine tries of one call all fail is about 3e-8. (The default three
    // retries would lose about one call in 2,000 to this weather.)
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
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

    let jobs = (0..TASKS).map(|i| {
        let client = client.clone();
        let path = out.path().join(format!("video-{i:03}.mp4"));
        tokio::spawn(async move {
            let task = client
                .image_to_video(png(640, 360, 4096))
                .prompt(format!("soak task {i}"))
                .await?;
            let done = client.wait(&task.id).await?;
            let saved = client.download(&done, &path).await?;
            Ok::<_, freepik_wan::Error>((task.id, saved))
        })
    });
    let results = futures_util::future::join_all(jobs).await;

    let mut ids = Vec::new();
    let mut lost = Vec::new();
    for (i, joined) in results.into_iter().enumerate() {
        match joined.expect("a task panicked") {
            Ok((id, saved)) => {
                assert_eq!(saved.bytes, VIDEO_BYTES as u64, "task {i}: size reported");
                ids.push(id);
            }
            Err(err) => lost.push(format!("task {i}: {err}")),
        }
    }
    assert!(lost.is_empty(), "lost tasks: {lost:#?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), TASKS, "two jobs got the same task id");

    let stats = sim.stats();
    assert_eq!(
        stats.creates_accepted, TASKS as u64,
        "the service made a different number of tasks than were asked for"
    );
    // The weather really happened (not asserting exact counts: the order of
    // concurrent requests, and so the dice, varies between runs).
    let count = |code| stats.requests.iter().filter(|r| r.status == code).count();
    assert!(count(503) > 0 && count(429) > 0, "no faults were injected");

    let expected = expected_video(VIDEO_BYTES);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap();
        assert!(bytes == expected, "{name}: corrupt ({} bytes)", bytes.len());
        names.push(name);
    }
    names.sort();
    let want: Vec<String> = (0..TASKS).map(|i| format!("video-{i:03}.mp4")).collect();
    assert_eq!(
        names, want,
        "partial or stray files left in the output directory"
    );
    sim.shutdown().await;
}
