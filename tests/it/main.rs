//! The workspace's one integration-test binary: each module covers one crate
//! or one behaviour, against local mock servers or the simulator.

mod api;
mod bad_input;
mod download_checks;
mod e2e;
mod field;
mod jobs;
mod models;
mod observe;
mod postgres;
mod promises;
mod resolution;
mod review;
mod scale;
mod sdk;
mod soak;
mod uncertain;
mod upload;
