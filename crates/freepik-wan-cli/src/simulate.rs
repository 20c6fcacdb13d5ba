//! `simulate`: the offline simulator as a server, for trying the CLI, curl or
//! one's own integration without a key, credits or network.

use std::time::Duration;

use freepik_wan_sim::{Faults, ListCap, Simulator};
use serde_json::json;

use crate::args::Simulate;
use crate::exit::{Code, Failure};
use crate::output::Output;

/// Runs the simulator until Ctrl-C (or SIGTERM), after printing where it is
/// and the credentials it accepts: its own, never the user's.
pub async fn simulate(args: Simulate, out: Output) -> Result<(), Failure> {
    let faults = Faults {
        seed: args.fault_seed,
        latency: Duration::from_millis(args.fault_latency_ms),
        rate_503: args.fault_503,
        rate_429: args.fault_429,
        retry_after_secs: args.fault_retry_after,
        rate_reset: args.fault_reset,
        download_bytes_per_sec: args.fault_download_bps,
        rate_task_failure: args.fault_task_failure,
        rate_create_gateway_error: args.fault_create_gateway_error,
        rate_create_cut: args.fault_create_cut,
        rate_create_late: args.fault_create_late,
        create_late_by: Duration::from_secs(args.fault_create_late_secs),
        create_gateway_statuses: args.fault_gateway_statuses,
        redirect_to: args.fault_redirect_to,
        list_lag: Duration::from_millis(args.fault_list_lag_ms),
        list_cap: args.fault_list_cap.map(|max| ListCap {
            max,
            newest: !args.fault_list_oldest,
        }),
        case_insensitive_ids: args.fault_case_insensitive_ids,
        webhook_duplicates: args.fault_webhook_duplicates,
        webhook_reorder: args.fault_webhook_reorder,
        credits: args.credits,
        expire_first_url: args.fault_expire_urls,
        quota_after_creates: args.fault_quota_after,
        rate_upload_503: args.fault_upload_503,
        expire_first_upload_url: args.fault_expire_first_upload_url,
        upload_url_ttl: Duration::from_secs(args.upload_url_ttl_secs),
        asset_ttl: Duration::from_secs(args.asset_ttl_secs),
        ..Faults::none()
    };
    let simulator = Simulator::builder()
        .port(args.port)
        .api_key(&args.api_key)
        .webhook_secret(&args.webhook_secret)
        .processing_time(Duration::from_millis(args.processing_ms))
        .faults(faults)
        .rate_limit(args.rate_limit)
        .start()
        .await
        .map_err(|e| Failure::new(Code::Service, format!("cannot start the simulator: {e}")))?;
    // `NAME=value` lines, so they can be pasted into a shell or an `.env`.
    out.event(
        format!(
            "FREEPIK_BASE_URL={}\nFREEPIK_API_KEY={}\nFREEPIK_WEBHOOK_SECRET={}",
            simulator.base_url(),
            simulator.api_key(),
            simulator.webhook_secret()
        ),
        json!({
            "base_url": simulator.base_url(),
            "api_key": simulator.api_key(),
            "webhook_secret": simulator.webhook_secret(),
        }),
    );
    out.note(format!(
        "simulator running; counters at {}/_sim/stats; Ctrl-C to stop",
        simulator.base_url()
    ));
    crate::signal::interrupted().await;
    let stats = simulator.stats();
    out.note(format!(
        "stopping after {} requests, {} tasks created",
        stats.requests_total, stats.creates_accepted
    ));
    simulator.shutdown().await;
    Ok(())
}
