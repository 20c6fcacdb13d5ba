//! freepik-wan: image to video with Freepik's Wan v2.2 580p, from Rust.
#![deny(missing_docs)]

mod error;
pub mod image_input;
mod retry;
mod task;
pub mod webhook;

pub use error::{Error, InvalidParam, Result};
pub use image_input::ImageInput;
pub use retry::RetryPolicy;
pub use task::{Task, TaskId, TaskStatus};
