//! PostgreSQL, for state that outlives one machine: the batch journal and the
//! job store of a fleet of workers (feature `postgres`, off by default).
//!
//! This module holds what every such store needs, and nothing of any one
//! store's schema:
//! - [`Database`]: where the database is, from a URL or key=value string,
//!   with the standard `PG*` variables and password file filling what the
//!   URL leaves out, shown without its password;
//! - [`Migrations`]: a store's versioned schema, brought up to date on start,
//!   refusing a database written by a newer version;
//! - [`fleet`]: seats that keep a fleet of workers inside one shared budget.
//!
//! The driver is [`tokio_postgres`] (re-exported, so callers use the same
//! version): the most used asynchronous PostgreSQL client, without a query
//! macro layer to compile. Connections are plain TCP or a Unix socket; TLS to
//! the database is not built in (see [`Database::connect`]).
//!
//! ```no_run
//! use freepik_wan::postgres::{Database, Migrations};
//!
//! const SCHEMA: Migrations = Migrations {
//!     component: "my_app_jobs",
//!     steps: &["CREATE TABLE my_jobs (id bigserial PRIMARY KEY, note text)"],
//! };
//!
//! # async fn run() -> Result<(), freepik_wan::postgres::StoreError> {
//! let database = Database::from_url("postgres://app@db.internal/videos")?;
//! println!("journal: {database}"); // never shows the password
//! let mut client = database.connect().await?;
//! SCHEMA.run(&mut client, &database).await?;
//! # Ok(()) }
//! ```

mod database;
mod error;
pub mod fleet;
mod migrate;

pub use database::Database;
pub use error::StoreError;
pub use migrate::Migrations;
pub use tokio_postgres;
