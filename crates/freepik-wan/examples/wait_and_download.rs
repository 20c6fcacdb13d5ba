//! Creating a task, following its status changes, and downloading with a
//! progress line, against the built-in simulator (no key, no network).
//!
//! ```sh
//! cargo run -p freepik-wan --example wait_and_download
//! ```

use std::time::Duration;

use freepik_wan::{AspectRatio, Client, TaskStatus};
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = freepik_wan_sim::Simulator::builder()
        .processing_time(Duration::from_secs(3))
        .start()
        .await?;
    let client = Client::builder()
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .build()?;

    // An image path as the first argument, or the repository's sample.
    let image = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample.jpg").to_owned()
    });
    let task = client
        .image_to_video(image.as_str())
        .prompt("the camera drifts slowly to the left")
        .aspect_ratio(AspectRatio::Widescreen16x9)
        .await?;
    println!("created {}", task.id);

    // One item per status change; the stream ends when the task does.
    let mut changes = std::pin::pin!(client.watch(&task.id));
    let mut last = None;
    while let Some(change) = changes.next().await {
        let task = change?;
        println!("  {}", task.status);
        last = Some(task);
    }
    let done = last.expect("the stream yields the final status");
    if done.status != TaskStatus::Completed {
        return Err(format!("task ended {}", done.status).into());
    }

    let out = std::env::temp_dir().join(format!("{}.mp4", done.id));
    let saved = client
        .download_with_progress(&done, &out, |p| {
            if let Some(total) = p.total {
                eprint!("\r  {} / {} bytes", p.bytes, total);
            }
        })
        .await?;
    eprintln!();
    println!("saved {} ({} bytes)", saved.path.display(), saved.bytes);
    Ok(())
}
