//! An offline simulator of Freepik's "Wan v2.2 580p" image-to-video API, in the spirit of
//! stripe-mock.
//!
//! It serves Freepik's own paths and JSON shapes on `127.0.0.1`, so an integration can be
//! tested without an API key, network access or credits:
//!
//! - `POST /v1/ai/image-to-video/wan-v2-2-580p` validates the body the way the contract
//!   describes and answers `{"data": {"task_id", "status": "CREATED"}}`;
//! - `GET /v1/ai/image-to-video/wan-v2-2-580p/{task-id}` reports the task, which moves
//!   `CREATED` → `IN_PROGRESS` → `COMPLETED` (or `FAILED`) over
//!   [`SimulatorBuilder::processing_time`];
//! - `GET /v1/ai/image-to-video/wan-v2-2-580p` lists the caller's tasks;
//! - the 480p and 720p siblings (`wan-v2-2-480p`, `wan-v2-2-720p`) behave the same, and
//!   a task is found only at the resolution's path that created it;
//! - `GET /files/{task-id}.mp4` serves a real (tiny) H.264 MP4, like a CDN URL, without a key;
//! - webhooks signed in the Standard Webhooks layout are sent on every status change.
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
mod validate;
mod video;
mod webhook;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_models;

pub use builder::{SimHandle, Simulator, SimulatorBuilder};
pub use faults::{Faults, ListCap};
pub use rate_limit::RateLimit;
pub use stats::{REQUEST_LOG_KEPT, RequestRecord, Stats};
