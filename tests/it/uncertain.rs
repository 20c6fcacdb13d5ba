//! Creates that may have happened: the simulator makes the task and then
//! fails the answer; the SDK must not create again, and must name the task.

use std::time::Duration;

use freepik_wan::{Client, Error, RateLimit, Reconciled, RetryPolicy, TaskStatus, WaitOptions};
use freepik_wan_sim::{Faults, SimHandle, Simulator};
use freepik_wan_tests::png;

fn client_for(sim: &SimHandle) -> Client {
    Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .rate_limit(RateLimit::none())
        .timeout(Duration::from_millis(500))
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(10))
                .max_backoff(Duration::from_millis(50)),
        )
        .wait_options(
            WaitOptions::default()
                .initial_interval(Duration::from_millis(50))
                .max_interval(Duration::from_millis(100))
                .timeout(Duration::from_secs(10)),
        )
        .build()
        .unwrap()
}

fn posts(sim: &SimHandle) -> usize {
    sim.stats()
        .requests
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

/// Every kind of "acted, then failed" create: one request, a typed error
/// naming the task it made, and that task adopted and waited for.
#[tokio::test]
async fn a_create_that_acted_then_failed_names_its_task_and_is_never_repeated() {
    let kinds = [
        (
            "502/504 with an HTML page",
            Faults {
                rate_create_gateway_error: 1.0,
                ..Faults::none()
            },
        ),
        (
            "a dropped connection",
            Faults {
                rate_create_cut: 1.0,
                ..Faults::none()
            },
        ),
        (
            "an answer after the client's timeout",
            Faults {
                rate_create_late: 1.0,
                create_late_by: Duration::from_secs(2),
                ..Faults::none()
            },
        ),
    ];
    for (kind, faults) in kinds {
        let sim = Simulator::builder()
            .processing_time(Duration::from_millis(200))
            .faults(faults)
            .start()
            .await
            .unwrap();
        let client = client_for(&sim);
        let err = client.image_to_video(png(640, 360, 100)).await.unwrap_err();
        let Error::CreateUncertain(uncertain) = err else {
            panic!("{kind}: want CreateUncertain, got {err:?}")
        };
        assert_eq!(sim.stats().creates_accepted, 1, "{kind}");
        assert!(uncertain.listed, "{kind}");
        assert_eq!(uncertain.candidates.len(), 1, "{kind}: {uncertain}");
        let message = uncertain.to_string();
        assert!(
            message.contains(uncertain.candidates[0].id.as_str()),
            "{kind}: {message}"
        );
        let Reconciled::Adopted(task) = client.reconcile(&uncertain) else {
            panic!("{kind}: not adopted")
        };
        // Adopted once: a second reconcile of the same error finds it taken.
        assert!(matches!(client.reconcile(&uncertain), Reconciled::NotFound));
        let done = client.wait(&task.id).await.unwrap();
        assert_eq!(done.status, TaskStatus::Completed, "{kind}");
        // Every create here makes a task: one task means one create sent.
        assert_eq!(
            sim.stats().creates_accepted,
            1,
            "{kind}: the create was repeated"
        );
    }
}

#[tokio::test]
async fn tasks_that_were_there_before_are_never_candidates() {
    // Every create acts, then answers 502 or 504.
    let sim = Simulator::builder()
        .processing_time(Duration::from_secs(30))
        .faults(Faults {
            rate_create_gateway_error: 1.0,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    // Another program made two tasks with the same key earlier.
    let other = client_for(&sim);
    for _ in 0..2 {
        let err = other.image_to_video(png(640, 360, 100)).await.unwrap_err();
        assert!(matches!(err, Error::CreateUncertain(_)), "{err:?}");
    }
    // A new client's create: of the three tasks now listed, only the one
    // that appeared after its create began is a candidate.
    let client = client_for(&sim);
    let Error::CreateUncertain(uncertain) =
        client.image_to_video(png(640, 360, 100)).await.unwrap_err()
    else {
        panic!("want CreateUncertain")
    };
    assert_eq!(sim.stats().creates_accepted, 3);
    assert_eq!(uncertain.candidates.len(), 1, "{uncertain}");
    let listed = client.tasks().await.unwrap();
    assert_eq!(listed.len(), 3);
}

#[tokio::test]
async fn concurrent_uncertain_creates_never_adopt_one_task_twice() {
    let sim = Simulator::builder()
        .processing_time(Duration::from_secs(30))
        .faults(Faults {
            seed: 11,
            rate_create_gateway_error: 0.5,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    let client = client_for(&sim);
    let creates = (0..12).map(|_| async {
        match client.image_to_video(png(640, 360, 100)).await {
            Ok(task) => (Some(task), None),
            Err(Error::CreateUncertain(uncertain)) => match client.reconcile(&uncertain) {
                Reconciled::Adopted(task) => (Some(task), None),
                _ => (None, Some(uncertain)),
            },
            Err(other) => panic!("{other:?}"),
        }
    });
    let outcomes = futures_util::future::join_all(creates).await;
    let mut held: Vec<String> = outcomes
        .iter()
        .filter_map(|(task, _)| task.as_ref().map(|t| t.id.to_string()))
        .collect();
    let reported = outcomes.iter().filter(|(_, u)| u.is_some()).count();
    let accepted = sim.stats().creates_accepted as usize;
    assert_eq!(posts(&sim), 12, "no create was repeated");
    assert_eq!(accepted, 12);
    held.sort();
    let distinct = {
        let mut d = held.clone();
        d.dedup();
        d.len()
    };
    assert_eq!(
        distinct,
        held.len(),
        "a task was handed out twice: {held:?}"
    );
    // Every task made is held, or was reported as possibly made.
    assert_eq!(accepted, held.len() + reported, "duplicates");
}
