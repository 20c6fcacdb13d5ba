//! An offline simulator of the Wan video API of Magnific (formerly Freepik), in the spirit
//! of stripe-mock.
//!
//! It serves the real paths and JSON shapes on `127.0.0.1`, so an integration can be
//! tested without an API key, network access or credits. Every model of the spec is
//! served (the table `freepik_wan_api::models::MODELS`, written from the spec when
//! `freepik-wan-api` is built, so a model a regenerated spec gains is served with no
//! change here), each at `/v1/ai/{kind}/{segment}` (e.g.
//! `image-to-video/wan-v2-2-580p`, `text-to-video/wan-v2-6-1080p`, `video-edit/wan-2-7`):
//!
//! - `POST /v1/ai/{kind}/{segment}` validates the body against the model's spec (required
//!   fields, types, enums, ranges, lengths, list sizes, URLs; base64 only where the spec
//!   says so, i.e. Wan 2.2's `image`; fields the model does not have are refused) and the
//!   rules said only in prose (Wan 2.6 multi-shot needs prompt expansion; Wan 2.7
//!   image-to-video takes a start image, a start and an end image, or a video to continue;
//!   reference-to-video takes 1 to 5 references), and answers
//!   `{"data": {"task_id", "status": "CREATED"}}` (Wan 2.7: the detail envelope, with
//!   `"generated": []`);
//! - `GET /v1/ai/{kind}/{segment}/{task-id}` reports the task, which moves
//!   `CREATED` → `IN_PROGRESS` → `COMPLETED` (or `FAILED`) over
//!   [`SimulatorBuilder::processing_time`];
//! - `GET /v1/ai/{kind}/{segment}` lists the caller's tasks;
//! - a task is found only at the path of the model that created it (`wan-2-7` under
//!   another kind is another model);
//! - `GET /files/{task-id}.mp4` serves a real (tiny) H.264 MP4, like a CDN URL, without a key;
//! - webhooks signed in the Standard Webhooks layout are sent on every status change;
//! - `GET /_sim/stats` counts creates per model (`creates_by_model`) besides the totals.
//!
//! [`Faults`] injects latency, 503s, 429s, cut connections, slow downloads and failed
//! tasks, all driven by one seeded random generator so a run can be replayed.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use freepik_wan_sim::{Faults, Simulator};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sim = Simulator::builder()
//!     .processing_time(Duration::from_millis(500))
//!     .faults(Faults { seed: 7, rate_503: 0.1, ..Faults::none() })
//!     .start()
//!     .await?;
//!
//! // Point the client under test at the simulator.
//! let base_url = sim.base_url(); // e.g. "http://127.0.0.1:41234"
//! let api_key = sim.api_key(); // "sim-key" unless set with `.api_key(..)`
//! # let _ = (base_url, api_key);
//!
//! // ... exercise the integration ...
//!
//! let stats = sim.stats();
//! println!("{} tasks created", stats.creates_accepted);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The simulator sends webhooks over plain HTTP only (it carries no TLS stack), which is what
//! a local receiver under test listens on.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod body;
mod builder;
mod credits;
mod faults;
mod lifecycle;
mod rate_limit;
mod routes;
mod stats;
mod tasks;
mod uploads;
mod validate;
mod video;
mod webhook;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_models;

pub use builder::{SimHandle, Simulator, SimulatorBuilder};
pub use faults::{Faults, ListCap};
pub use rate_limit::RateLimit;
pub use stats::{REQUEST_LOG_KEPT, RequestRecord, Stats, UploadStats};
pub use video::video_task_tag;
