use tokio_postgres::Client;

use super::{Database, StoreError};

/// A store's schema as numbered steps: step `n` (from 1) takes the schema
/// from version `n - 1` to `n`. Steps are only ever appended.
///
/// [`run`](Self::run) brings a database up to the newest step in one
/// transaction, under an advisory lock so that workers starting at once
/// migrate it once. The version of each store is a row of the shared table
/// `freepik_wan_schema`. A database whose version is newer than the steps
/// this build knows is refused ([`StoreError::NewerSchema`]), since an older
/// build would misread it.
///
/// ```
/// use freepik_wan::postgres::Migrations;
///
/// const NOTES: Migrations = Migrations {
///     component: "notes",
///     steps: &[
///         "CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL)",
///         "ALTER TABLE notes ADD COLUMN author text",
///     ],
/// };
/// assert_eq!(NOTES.newest(), 2);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Migrations {
    /// The store's name in `freepik_wan_schema`.
    pub component: &'static str,
    /// Its steps, each one or more SQL statements.
    pub steps: &'static [&'static str],
}

impl Migrations {
    /// The newest version: the number of steps.
    pub fn newest(&self) -> i32 {
        i32::try_from(self.steps.len()).unwrap_or(i32::MAX)
    }

    /// Applies the steps the database lacks; the version it is at after.
    ///
    /// # Errors
    /// [`StoreError::NewerSchema`] for a database written by a newer build,
    /// [`StoreError::Query`] when a step fails (nothing of it stays).
    pub async fn run(&self, client: &mut Client, database: &Database) -> Result<i32, StoreError> {
        let tx = client
            .transaction()
            .await
            .map_err(StoreError::query("begin a migration"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('freepik_wan_schema'))",
            &[],
        )
        .await
        .map_err(StoreError::query("lock the schema table"))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS freepik_wan_schema (
                component text PRIMARY KEY,
                version integer NOT NULL,
                migrated_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(StoreError::query("create the schema table"))?;
        let found: i32 = tx
            .query_opt(
                "SELECT version FROM freepik_wan_schema WHERE component = $1",
                &[&self.component],
            )
            .await
            .map_err(StoreError::query("read the schema version"))?
            .map_or(0, |row| row.get(0));
        let known = self.newest();
        if found > known {
            return Err(StoreError::NewerSchema {
                component: self.component,
                database: database.to_string(),
                found,
                known,
            });
        }
        if found == known {
            return Ok(found);
        }
        for step in &self.steps[usize::try_from(found).unwrap_or(0)..] {
            tx.batch_execute(step)
                .await
                .map_err(StoreError::query("apply a schema step"))?;
        }
        tx.execute(
            "INSERT INTO freepik_wan_schema (component, version) VALUES ($1, $2)
             ON CONFLICT (component) DO UPDATE SET version = $2, migrated_at = now()",
            &[&self.component, &known],
        )
        .await
        .map_err(StoreError::query("record the schema version"))?;
        tx.commit()
            .await
            .map_err(StoreError::query("commit a migration"))?;
        tracing::info!(
            component = self.component,
            from = found,
            to = known,
            "migrated the schema"
        );
        Ok(known)
    }
}
