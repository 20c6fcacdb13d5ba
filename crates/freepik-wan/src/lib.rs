//! Image to video with the **Wan v2.2** model (480p, 580p, 720p) of
//! Magnific's API, formerly Freepik's API, from Rust.
//!
//! Hand it an image and a prompt; the service runs Wan 2.2 and a few
//! tens of seconds later there is an MP4. This crate turns the three HTTP
//! operations into the whole job:
//!
//! - **create** a task from a file, bytes or a URL, with every documented
//!   limit checked before anything is sent ([`Client::image_to_video`]);
//! - **wait** for it with polling that backs off, honours `Retry-After` and
//!   stops at a deadline ([`Client::wait`], or [`Client::watch`] for a stream
//!   of status changes);
//! - **download** the video atomically, with progress ([`Client::download`]);
//! - **verify webhooks** Freepik sends on every status change ([`webhook`]);
//! - **retry** what is safe to retry, and never a create that may have
//!   reached the service ([`RetryPolicy`]);
//! - **typed errors** that say what happened ([`Error`]).
//!
//! # Quickstart
//!
//! ```no_run
//! # async fn run() -> freepik_wan::Result<()> {
//! let client = freepik_wan::Client::from_env()?; // MAGNIFIC_API_KEY or FREEPIK_API_KEY
//! let task = client.image_to_video("cat.jpg").prompt("the cat yawns").await?;
//! let done = client.wait(&task.id).await?;
//! client.download(&done, "cat.mp4").await?;
//! # Ok(()) }
//! ```
//!
//! # Testing without credits
//!
//! The `freepik-wan-sim` crate is an offline simulator of the service: point
//! [`ClientBuilder::base_url`] at it and everything above works, webhooks
//! included, with no key and no network.
//!
//! # Features
//!
//! - `rustls` (default): TLS through rustls.
//! - `native-tls`: TLS through the platform's library instead.
//! - `schemars`: `schemars::JsonSchema` for [`Task`], [`TaskId`], [`TaskStatus`]
//!   and the raw client's types, to describe them in your own documents.
#![deny(missing_docs)]

mod api_error;
mod client;
mod create;
mod download;
mod endpoint;
mod error;
mod http_url;
pub mod image_input;
mod resolution;
mod retry;
mod task;
mod wait;
pub mod webhook;

pub use client::{
    API_KEY_ENV, BASE_URL_ENV, Client, ClientBuilder, DEFAULT_BASE_URL, LEGACY_FREEPIK_BASE_URL,
    MAGNIFIC_API_KEY_ENV, MAGNIFIC_BASE_URL_ENV,
};
pub use create::{AspectRatio, ImageToVideo, MAX_PROMPT_CHARS, VideoDuration};
pub use download::{Downloaded, Progress, VideoSource, VideoStream};
pub use error::{Error, InvalidParam, Result};
pub use image_input::ImageInput;
pub use resolution::Resolution;
pub use retry::RetryPolicy;
pub use task::{Task, TaskId, TaskStatus};
pub use wait::{Wait, WaitOptions};
