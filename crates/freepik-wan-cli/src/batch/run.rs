//! One batch run: recover what a killed run left half-done, then take each
//! row as far as it goes (create, wait, download), with creates one at a
//! time so that at most one row is ever "sent but not confirmed".

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use freepik_wan::{Client, Error, Reconciled, Resolution, TaskId, UncertainCreate};
use sha2::{Digest, Sha256};

use super::display::Display;
use super::journal::{Entry, Journal, State};
use super::lease::Lease;
use super::manifest::{self, Row};

/// What one run needs.
pub struct Run {
    pub client: Client,
    pub journal: Arc<Journal>,
    pub lease: Lease,
    pub display: Display,
    /// Held for the length of a create: one row at a time is in `sending`.
    pub create_slot: tokio::sync::Mutex<()>,
    /// Set by the first quota answer: no create is sent after it.
    pub quota: std::sync::OnceLock<String>,
}

type Sql<T> = Result<T, String>;

impl Run {
    /// Settles rows a killed run left in `sending`: the create may or may not
    /// have reached the service. The task list says: a task nobody in the
    /// journal holds, and that was not there before the run's creates, is
    /// that create's (adopted); none means the create never arrived (sent
    /// again, and said so); more than one cannot be told apart (`uncertain`,
    /// never sent again).
    pub async fn recover(&self) -> Sql<()> {
        let sending: Vec<Entry> = self
            .journal
            .entries()?
            .into_iter()
            .filter(|e| e.state == State::Sending)
            .collect();
        for entry in &sending {
            let resolution: Resolution = entry.resolution.parse().unwrap_or_default();
            let listed = match self.client.tasks_at(resolution).await {
                Ok(listed) => listed,
                Err(error) => {
                    self.display.note(format!(
                        "line {}: its create may have been sent by the last run, and the task \
                         list cannot be read to tell ({error}); it is left for the next run",
                        entry.line
                    ));
                    continue;
                }
            };
            let held: HashSet<String> = self.journal.task_ids()?.into_iter().collect();
            let mut candidates = Vec::new();
            for task in listed {
                let id = task.id.as_str();
                if !held.contains(id) && !self.journal.seen(id)? {
                    candidates.push(id.to_owned());
                }
            }
            let line = entry.line;
            match candidates.as_slice() {
                [one] => {
                    let note = format!("adopted task {one}, made by the last run's create");
                    self.journal
                        .set(line, State::Created, Some(one), Some(&note))?;
                    self.display.note(format!("line {line}: {note}"));
                }
                [] => {
                    let note = "the last run's create is not in the task list: it never \
                                reached the service, and is sent again";
                    self.journal.set(line, State::Pending, None, Some(note))?;
                    self.display.note(format!("line {line}: {note}"));
                }
                many => {
                    let note = format!(
                        "the last run's create may have made one of these tasks: {}",
                        many.join(", ")
                    );
                    self.journal
                        .set(line, State::Uncertain, None, Some(&note))?;
                    self.display.note(format!("line {line}: {note}"));
                }
            }
        }
        Ok(())
    }

    /// Lists the resolutions still to be created at, so that tasks already
    /// there are never taken for this run's.
    pub async fn baseline(&self, rows: &[Row]) -> Sql<()> {
        let entries = self.journal.entries()?;
        let pending: HashSet<u64> = entries
            .iter()
            .filter(|e| e.state == State::Pending)
            .map(|e| e.line)
            .collect();
        let resolutions: HashSet<Resolution> = rows
            .iter()
            .filter(|r| pending.contains(&r.line))
            .map(|r| r.resolution)
            .collect();
        for resolution in resolutions {
            let listed =
                self.client.tasks_at(resolution).await.map_err(|e| {
                    format!("cannot list the {resolution} tasks already there: {e}")
                })?;
            let ids: Vec<String> = listed.iter().map(|t| t.id.to_string()).collect();
            self.journal.saw(&ids)?;
        }
        Ok(())
    }

    /// Takes one row as far as it goes in this run; returns its state.
    pub async fn process(&self, row: &Row) -> Sql<State> {
        let entry = self.journal.entry(row.line)?;
        let (state, task_id) = match entry.state {
            State::Downloaded if file_matches(&entry) => return Ok(State::Downloaded),
            // The file is gone or changed: fetch it again from the task.
            State::Downloaded => (State::Completed, entry.task_id.clone()),
            other => (other, entry.task_id.clone()),
        };
        let task_id = match (state, task_id) {
            (State::Pending, _) => match self.create(row).await? {
                Ok(id) => id,
                Err(state) => return Ok(state),
            },
            (State::Created | State::Completed, Some(id)) => id,
            (state, _) => return Ok(state),
        };
        self.finish(row, &task_id).await
    }

    /// The create, one at a time: `Ok(task id)`, or the state the row is
    /// left in.
    async fn create(&self, row: &Row) -> Sql<Result<String, State>> {
        let _slot = self.create_slot.lock().await;
        if self.quota.get().is_some() {
            // The quota is reached: the row stays pending for a later run.
            return Ok(Err(State::Pending));
        }
        if !self.journal.claim(row.line, self.lease.holder())? {
            return Ok(Err(self.journal.entry(row.line)?.state));
        }
        let line = row.line;
        match manifest::request(&self.client, row).send().await {
            Ok(task) => {
                let id = task.id.to_string();
                self.journal.set(line, State::Created, Some(&id), None)?;
                Ok(Ok(id))
            }
            Err(Error::CreateUncertain(uncertain)) => match self.client.reconcile(&uncertain) {
                Reconciled::Adopted(task) => {
                    let id = task.id.to_string();
                    let note = format!("adopted {id} after: {}", uncertain.cause);
                    self.journal
                        .set(line, State::Created, Some(&id), Some(&note))?;
                    Ok(Ok(id))
                }
                _ => {
                    let note = uncertain_note(&uncertain);
                    self.journal
                        .set(line, State::Uncertain, None, Some(&note))?;
                    self.display.note(format!("line {line}: {note}"));
                    Ok(Err(State::Uncertain))
                }
            },
            // Nothing was made, and no create will be until the quota
            // allows: this row and those not yet sent wait for a later run.
            Err(error @ Error::QuotaExceeded { .. }) => {
                let note = format!("not sent: {error}");
                self.journal.set(line, State::Pending, None, Some(&note))?;
                if self.quota.set(error.to_string()).is_ok() {
                    self.display
                        .note(format!("line {line}: {note}; no more creates in this run"));
                }
                Ok(Err(State::Pending))
            }
            // Refused for what the row asks: sending it again cannot help.
            Err(error @ (Error::Validation { .. } | Error::Config(_))) => {
                self.fail(line, &error.to_string())
            }
            Err(error) if refused(&error) => self.fail(line, &error.to_string()),
            // Not acted on (the SDK retries those, and says so when it may
            // have been): the row waits for the next run.
            Err(error) => {
                let note = format!("not sent: {error}");
                self.journal.set(line, State::Pending, None, Some(&note))?;
                self.display.note(format!("line {line}: {note}"));
                Ok(Err(State::Pending))
            }
        }
    }

    fn fail(&self, line: u64, reason: &str) -> Sql<Result<String, State>> {
        self.journal.set(line, State::Failed, None, Some(reason))?;
        self.display.note(format!("line {line}: failed: {reason}"));
        Ok(Err(State::Failed))
    }

    /// Waits for the row's task and downloads its video.
    async fn finish(&self, row: &Row, task_id: &str) -> Sql<State> {
        let line = row.line;
        let id = TaskId::from(task_id).with_resolution(row.resolution);
        let task = match self.client.wait(&id).await {
            Ok(task) => task,
            Err(Error::TaskFailed { task }) => {
                let reason = format!("task {} FAILED on the service", task.id);
                self.journal.set(line, State::Failed, None, Some(&reason))?;
                self.display.note(format!("line {line}: {reason}"));
                return Ok(State::Failed);
            }
            Err(error) => {
                // Timed out or unreachable: the task goes on; a later run
                // waits for it again.
                let note = format!("still waiting: {error}");
                self.journal.set(line, State::Created, None, Some(&note))?;
                self.display.note(format!("line {line}: {note}"));
                return Ok(State::Created);
            }
        };
        self.journal.set(line, State::Completed, None, None)?;
        if let Some(dir) = row.out.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        if let Err(error) = self.client.download(&task, &row.out).await {
            let note = format!("download failed: {error}");
            self.journal
                .set(line, State::Completed, None, Some(&note))?;
            self.display.note(format!("line {line}: {note}"));
            return Ok(State::Completed);
        }
        let (bytes, sha256) =
            digest(&row.out).map_err(|e| format!("cannot read back {}: {e}", row.out.display()))?;
        self.journal.downloaded(line, bytes, &sha256)?;
        Ok(State::Downloaded)
    }
}

/// A create refused for what it asks (4xx other than timeouts and limits).
fn refused(error: &Error) -> bool {
    error
        .status()
        .is_some_and(|s| s.is_client_error() && !matches!(s.as_u16(), 408 | 429))
}

fn uncertain_note(uncertain: &UncertainCreate) -> String {
    let ids: Vec<&str> = uncertain.candidates.iter().map(|t| t.id.as_str()).collect();
    if ids.is_empty() {
        format!("{uncertain}; not sent again")
    } else {
        format!("{uncertain}; not sent again: `freepik-wan wait <id>` picks one up")
    }
}

/// Whether the downloaded file is still the one the journal recorded.
fn file_matches(entry: &Entry) -> bool {
    match (&entry.sha256, entry.bytes, digest(&entry.out)) {
        (Some(sha), Some(bytes), Ok((len, actual))) => len == bytes && &actual == sha,
        _ => false,
    }
}

/// The file's length and SHA-256.
pub fn digest(path: &Path) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let total = std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok((total, format!("{:x}", hasher.finalize())))
}
