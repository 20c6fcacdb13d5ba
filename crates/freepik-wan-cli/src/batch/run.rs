//! One batch run: recover what a killed run left half-done, then take each
//! row as far as it goes (create, wait, download), with creates one at a
//! time so that at most one row is ever "sent but not confirmed".

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use freepik_wan::{Client, Error, Model, Reconciled, TaskId, UncertainCreate};
use sha2::{Digest, Sha256};

use super::display::Display;
use super::journal::{Entry, Journal, State, endpoint_model};
use super::lease::Lease;
use super::manifest::{self, Row};

/// What one run needs.
pub struct Run {
    pub client: Client,
    pub journal: Arc<Journal>,
    /// Held for as long as the run lasts; released when dropped.
    pub _lease: Option<Lease>,
    pub display: Display,
    /// Held for the length of a create: one row at a time is in `sending`.
    pub create_slot: tokio::sync::Mutex<()>,
    /// How long a create's task may take to show in the list.
    pub list_grace: Duration,
    /// Why this run stopped creating, once it did (the account was refused,
    /// a quota or a long rate-limit pause): rows not yet sent stay pending.
    pub stopped: std::sync::Mutex<Option<(Stop, String)>>,
    /// The content hashes of the uploads the journal has already.
    pub uploads_kept: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
}

type Sql<T> = Result<T, String>;

/// Why a run stopped creating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The service's quota is reached (a 429 that waiting does not help).
    Quota,
    /// The account was refused (401/402/403), or the service asked to wait
    /// longer than the run's budget (429).
    Refused,
}

impl Stop {
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::Quota => "quota",
            Stop::Refused => "refused",
        }
    }
}

/// How often recovery reads the list again while it waits for a task.
const RELIST: Duration = Duration::from_secs(2);

/// What recovery decided for a row left `sending`.
enum Settled {
    /// This task is the row's.
    Adopt(String, String),
    /// The create never reached the service (or its task is not listed
    /// within the grace): send it again.
    SendAgain(String),
    /// Its task cannot be told apart from another's, or the list cannot be
    /// trusted to show it: never sent again.
    Uncertain(String),
    /// The list could not be read: left for the next run.
    Later(String),
    /// Absent for the whole grace, but the list does not show tasks made
    /// both before and after this create, so a page or a cap may hide it:
    /// left `sending` until this run's later creates can show that (the
    /// run's last pass).
    NoProofYet(String),
}

/// Which recovery pass: the first settles rows before any create; the last,
/// after this run's creates, settles the rows the first could not prove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    First,
    Last,
}

impl Run {
    /// Settles rows a killed run left in `sending`: the create may or may not
    /// have reached the service. Only what proves it decides:
    /// - a task a run that lost its lease recorded for the row is the row's;
    /// - a listed task that no row holds, that was not seen before the row's
    ///   claim, and that no other unsettled row (sending or uncertain) could
    ///   have made, is adopted;
    /// - several such tasks, or one another row could have made, leave the
    ///   row `uncertain` (never sent again, never given another row's task);
    /// - none: the list is read again until `list_grace` has passed since
    ///   the create, and only then is the row sent again, provided the list
    ///   proves the absence: it is empty, or it shows every task the journal
    ///   holds at that endpoint and tasks made both before and after the
    ///   create (a list that pages or caps, newest or oldest first, would
    ///   cut off one side). Without both, the row waits for this run's
    ///   later creates ([`Pass::Last`]); still unproven, it is `uncertain`.
    ///
    /// Returns the lines left for the last pass.
    pub async fn recover(&self, pass: Pass) -> Sql<Vec<u64>> {
        let sending: Vec<Entry> = self
            .journal
            .entries()
            .await?
            .into_iter()
            .filter(|e| e.state == State::Sending)
            .collect();
        let mut deferred = Vec::new();
        for entry in &sending {
            if !self.recover_row(entry, pass).await? {
                deferred.push(entry.line);
            }
        }
        Ok(deferred)
    }

    /// Settles one row left `sending` (see [`recover`](Self::recover));
    /// `false` when it is left for the last pass.
    pub async fn recover_row(&self, entry: &Entry, pass: Pass) -> Sql<bool> {
        let line = entry.line;
        let settled = self.settle(entry).await?;
        let (state, task, note) = match (settled, pass) {
            (Settled::Adopt(id, note), _) => (State::Created, Some(id), note),
            (Settled::SendAgain(note), _) => (State::Pending, None, note),
            (Settled::Uncertain(note), _) => (State::Uncertain, None, note),
            (Settled::Later(note), _) => {
                self.display.note(format!("line {line}: {note}"));
                return Ok(true);
            }
            (Settled::NoProofYet(note), Pass::First) => {
                self.display.note(format!(
                    "line {line}: {note}; settled after this run's other creates"
                ));
                return Ok(false);
            }
            (Settled::NoProofYet(note), Pass::Last) => (
                State::Uncertain,
                None,
                format!("{note}, and no later create showed in it either: not sent again"),
            ),
        };
        self.journal
            .set(line, state, task.as_deref(), Some(&note))
            .await?;
        self.display.note(format!("line {line}: {note}"));
        Ok(true)
    }

    async fn settle(&self, entry: &Entry) -> Sql<Settled> {
        if let Some(id) = self
            .journal
            .orphans_of(entry.line)
            .await?
            .into_iter()
            .next()
        {
            return Ok(Settled::Adopt(
                id.clone(),
                format!("adopted task {id}, made by a run that lost the journal to this one"),
            ));
        }
        let model = endpoint_model(&entry.resolution);
        let sent_seq = entry.sent_seq.unwrap_or(0);
        let grace_ms = i64::try_from(self.list_grace.as_millis()).unwrap_or(i64::MAX);
        loop {
            let listed = match self.client.tasks_at(model).await {
                Ok(listed) => listed,
                Err(error) => {
                    return Ok(Settled::Later(format!(
                        "its create may have been sent by the last run, and the task list cannot \
                         be read to tell ({error}); it is left for the next run"
                    )));
                }
            };
            let ids: Vec<String> = listed.iter().map(|t| t.id.to_string()).collect();
            self.journal.saw(&ids).await?;
            let entries = self.journal.entries().await?;
            let mut held: HashSet<String> =
                entries.iter().filter_map(|e| e.task_id.clone()).collect();
            held.extend(self.journal.orphan_ids().await?);
            // Rows whose create may have made a task nobody holds.
            let unsettled: Vec<&Entry> = entries
                .iter()
                .filter(|e| e.line != entry.line)
                .filter(|e| matches!(e.state, State::Sending | State::Uncertain))
                .filter(|e| e.task_id.is_none() && e.resolution == entry.resolution)
                .collect();
            let mut candidates = Vec::new();
            let mut contested = Vec::new();
            for id in &ids {
                if held.contains(id) {
                    continue;
                }
                let seen = self.journal.seen_at(id).await?;
                if seen.is_some_and(|at| at < sent_seq) {
                    continue;
                }
                // Could another unsettled row's create have made it?
                let theirs = unsettled
                    .iter()
                    .any(|other| seen.is_none_or(|at| other.sent_seq.unwrap_or(0) <= at));
                if theirs {
                    contested.push(id.clone());
                }
                candidates.push(id.clone());
            }
            match (candidates.as_slice(), contested.is_empty()) {
                ([one], true) => {
                    return Ok(Settled::Adopt(
                        one.clone(),
                        format!("adopted task {one}, made by the last run's create"),
                    ));
                }
                ([], _) => {}
                (many, _) => {
                    return Ok(Settled::Uncertain(format!(
                        "the last run's create may have made one of these tasks, which other \
                         unsettled rows may have made too: {}; not sent again",
                        many.join(", ")
                    )));
                }
            }
            let since_ms = self.journal.clock_ms().await? - entry.sent_ms.unwrap_or(0);
            if since_ms < grace_ms {
                let left = Duration::from_millis((grace_ms - since_ms) as u64);
                tokio::time::sleep(left.min(RELIST)).await;
                continue;
            }
            // Absent for the whole grace: proof enough only if nothing
            // the list leaves out could be it.
            let shown: HashSet<&str> = ids.iter().map(String::as_str).collect();
            let here: Vec<&Entry> = entries
                .iter()
                .filter(|e| e.resolution == entry.resolution)
                .collect();
            let missing = here
                .iter()
                .filter_map(|e| e.task_id.as_deref())
                .find(|id| !shown.contains(id));
            let sent_again = Settled::SendAgain(format!(
                "the last run's create is not in the task list {}s after it was sent: it \
                 never reached the service, and is sent again",
                since_ms / 1000
            ));
            if ids.is_empty() {
                return Ok(sent_again);
            }
            if let Some(id) = missing {
                return Ok(Settled::Uncertain(format!(
                    "the last run's create is not in the task list, but neither is task {id} \
                     that another row holds: the list does not show every task, so it proves \
                     nothing; not sent again"
                )));
            }
            // A list cut to a page shows one end of the account's tasks:
            // only tasks made on both sides of this create show that its
            // place in the list is on the page.
            // When the creates of the rows whose tasks it shows were sent.
            let shown_sent: Vec<i64> = here
                .iter()
                .filter(|e| e.task_id.as_deref().is_some_and(|id| shown.contains(id)))
                .filter_map(|e| e.sent_seq)
                .collect();
            let made_after = shown_sent.iter().any(|&at| at > sent_seq);
            let mut made_before = shown_sent.iter().any(|&at| at < sent_seq);
            // Else a listed task seen before this create was made before it.
            for id in &ids {
                if made_before {
                    break;
                }
                made_before = self
                    .journal
                    .seen_at(id)
                    .await?
                    .is_some_and(|at| at < sent_seq);
            }
            return Ok(if made_before && made_after {
                sent_again
            } else {
                Settled::NoProofYet(format!(
                    "the last run's create is not in the task list {}s after it was sent, \
                     but the list shows no task made {} it, so a page or a cap may hide it",
                    since_ms / 1000,
                    if made_before { "after" } else { "before" }
                ))
            });
        }
    }

    /// Lists the models still to be created at, so that tasks already
    /// there are never taken for this run's.
    pub async fn baseline(&self, rows: &[Row]) -> Sql<()> {
        let entries = self.journal.entries().await?;
        let pending: HashSet<u64> = entries
            .iter()
            .filter(|e| e.state == State::Pending)
            .map(|e| e.line)
            .collect();
        let models: HashSet<Model> = rows
            .iter()
            .filter(|r| pending.contains(&r.line))
            .map(|r| r.model)
            .collect();
        for model in models {
            let listed = self
                .client
                .tasks_at(model)
                .await
                .map_err(|e| format!("cannot list the {model} tasks already there: {e}"))?;
            let ids: Vec<String> = listed.iter().map(|t| t.id.to_string()).collect();
            self.journal.saw(&ids).await?;
        }
        Ok(())
    }

    /// Takes one row as far as it goes in this run; returns its state.
    pub async fn process(&self, row: &Row) -> Sql<State> {
        let entry = self.journal.entry(row.line).await?;
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
        if self.stopped().is_some() {
            return Ok(Err(State::Pending));
        }
        // A shared journal: one create out at a time in the whole fleet,
        // and only while this worker's lease is sure to hold.
        self.journal.lock_create().await?;
        let created = match self.journal.may_send().await {
            Ok(()) => self.create_locked(row).await,
            Err(error) => Err(error),
        };
        let unlocked = self.journal.unlock_create().await;
        let created = created?;
        unlocked?;
        Ok(created)
    }

    /// [`create`](Self::create), once it may send.
    async fn create_locked(&self, row: &Row) -> Sql<Result<String, State>> {
        if !self.journal.claim(row.line).await? {
            return Ok(Err(self.journal.entry(row.line).await?.state));
        }
        let line = row.line;
        let created = match manifest::request(row) {
            // Checked before each step: never sent by a worker past its lease.
            Ok(request) => self.journal.guarded(self.client.create(request)).await?,
            Err(error) => Err(error),
        };
        // Uploads are kept whatever the create did: a resumed run reuses them.
        let uploads: Vec<_> = {
            let mut kept = self.uploads_kept.lock().unwrap_or_else(|e| e.into_inner());
            self.client
                .uploads()
                .into_iter()
                .filter(|u| kept.insert(u.sha256))
                .collect()
        };
        if !uploads.is_empty()
            && let Err(error) = self.journal.remember_uploads(&uploads).await
        {
            self.display.note(format!(
                "line {line}: the journal could not record its uploads: {error}"
            ));
        }
        match created {
            Ok(task) => {
                let id = task.id.to_string();
                if let Err(error) = self
                    .journal
                    .set(line, State::Created, Some(&id), None)
                    .await
                {
                    // The task exists and is paid for: whatever happens
                    // next, its id must not be lost.
                    self.display
                        .note(format!("line {line}: created task {id}, but the journal could not record it: {error}"));
                    return Err(format!(
                        "{error} (line {line} made task {id}: `freepik-wan wait {id}`)"
                    ));
                }
                Ok(Ok(id))
            }
            Err(Error::CreateUncertain(mut uncertain)) => {
                // The SDK's ledger knows this process's tasks only; the journal
                // knows every run's: a task another row holds, or one an earlier
                // run's list showed before this row's claim, is not this row's,
                // however new it looks to a client that started after it.
                let not_ours = self.ruled_out(line, &uncertain.candidates).await?;
                uncertain
                    .candidates
                    .retain(|task| !not_ours.contains(task.id.as_str()));
                self.reconciled(line, &uncertain).await
            }
            // Nothing was made, and no create will be until the quota
            // allows: this row and those not yet sent wait for a later run.
            Err(error @ Error::QuotaExceeded { .. }) => {
                let note = format!("not sent: {error}");
                self.journal
                    .set(line, State::Pending, None, Some(&note))
                    .await?;
                // The error says it all ("the service's quota is reached …").
                self.stop(Stop::Quota, error.to_string());
                Ok(Err(State::Pending))
            }
            // Refused for what the row asks: sending it again cannot help.
            Err(error @ (Error::Validation { .. } | Error::Config(_))) => {
                self.fail(line, &error.to_string()).await
            }
            // Refused for the account (a revoked key, no credits, a quota),
            // or asked to wait longer than this run can: not the row's
            // fault. It stays pending, and no other row is sent.
            Err(error) if stops_the_batch(&error) => {
                let note = format!("not sent: {error}");
                self.journal
                    .set(line, State::Pending, None, Some(&note))
                    .await?;
                self.stop(
                    Stop::Refused,
                    format!("the service refused a create: {error}"),
                );
                Ok(Err(State::Pending))
            }
            Err(error) if refused(&error) => self.fail(line, &error.to_string()).await,
            // Not acted on (the SDK retries those, and says so when it may
            // have been): the row waits for the next run.
            Err(error) => {
                let note = format!("not sent: {error}");
                self.journal
                    .set(line, State::Pending, None, Some(&note))
                    .await?;
                self.display.note(format!("line {line}: {note}"));
                Ok(Err(State::Pending))
            }
        }
    }

    /// Settles an uncertain create's row by the SDK's rule on the candidates
    /// the journal left: adopted, or `uncertain` (never sent again).
    async fn reconciled(
        &self,
        line: u64,
        uncertain: &UncertainCreate,
    ) -> Sql<Result<String, State>> {
        match self.client.reconcile(uncertain) {
            Reconciled::Adopted(task) => {
                let id = task.id.to_string();
                let note = format!("adopted {id} after: {}", uncertain.cause);
                self.journal
                    .set(line, State::Created, Some(&id), Some(&note))
                    .await?;
                Ok(Ok(id))
            }
            _ => {
                let note = uncertain_note(uncertain);
                self.journal
                    .set(line, State::Uncertain, None, Some(&note))
                    .await?;
                self.display.note(format!("line {line}: {note}"));
                Ok(Err(State::Uncertain))
            }
        }
    }

    /// The candidates the journal proves are not row `line`'s: tasks another
    /// row or an orphan holds, and tasks a list showed before the row's claim.
    async fn ruled_out(&self, line: u64, candidates: &[freepik_wan::Task]) -> Sql<HashSet<String>> {
        let entries = self.journal.entries().await?;
        let sent_seq = entries
            .iter()
            .find(|e| e.line == line)
            .and_then(|e| e.sent_seq)
            .unwrap_or(0);
        let mut held: HashSet<String> = entries
            .iter()
            .filter(|e| e.line != line)
            .filter_map(|e| e.task_id.clone())
            .collect();
        held.extend(self.journal.orphan_ids().await?);
        let mut out = HashSet::new();
        for task in candidates {
            let id = task.id.to_string();
            if held.contains(&id)
                || self
                    .journal
                    .seen_at(&id)
                    .await?
                    .is_some_and(|at| at < sent_seq)
            {
                out.insert(id);
            }
        }
        Ok(out)
    }

    /// Why this run stopped creating, if it did.
    pub fn stopped(&self) -> Option<(Stop, String)> {
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn stop(&self, kind: Stop, reason: String) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if stopped.is_none() {
            self.display
                .note(format!("{reason}; no more rows are sent in this run"));
            *stopped = Some((kind, reason));
        }
    }

    async fn fail(&self, line: u64, reason: &str) -> Sql<Result<String, State>> {
        self.journal
            .set(line, State::Failed, None, Some(reason))
            .await?;
        self.display.note(format!("line {line}: failed: {reason}"));
        Ok(Err(State::Failed))
    }

    /// Waits for the row's task and downloads its video.
    async fn finish(&self, row: &Row, task_id: &str) -> Sql<State> {
        let line = row.line;
        let id = TaskId::from(task_id).with_model(row.model);
        let task = match self.client.wait(&id).await {
            Ok(task) => task,
            Err(Error::TaskFailed { task }) => {
                let reason = format!("task {} FAILED on the service", task.id);
                self.journal
                    .set(line, State::Failed, None, Some(&reason))
                    .await?;
                self.display.note(format!("line {line}: {reason}"));
                return Ok(State::Failed);
            }
            Err(error) => {
                // Timed out or unreachable: the task goes on; a later run
                // waits for it again.
                let note = format!("still waiting: {error}");
                self.journal
                    .set(line, State::Created, None, Some(&note))
                    .await?;
                self.display.note(format!("line {line}: {note}"));
                return Ok(State::Created);
            }
        };
        self.journal.set(line, State::Completed, None, None).await?;
        if let Some(dir) = row.out.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        if let Err(error) = self.client.download(&task, &row.out).await {
            let note = format!("download failed: {error}");
            self.journal
                .set(line, State::Completed, None, Some(&note))
                .await?;
            self.display.note(format!("line {line}: {note}"));
            return Ok(State::Completed);
        }
        let (bytes, sha256) =
            digest(&row.out).map_err(|e| format!("cannot read back {}: {e}", row.out.display()))?;
        self.journal
            .downloaded(line, &row.out, bytes, &sha256)
            .await?;
        Ok(State::Downloaded)
    }
}

/// A create answer that says the account cannot create now, whatever the
/// row: 401 (key), 402 (credits), 403 (forbidden), or a 429 the SDK gave up
/// on (a quota, or a pause longer than its budget).
fn stops_the_batch(error: &Error) -> bool {
    error
        .status()
        .is_some_and(|s| matches!(s.as_u16(), 401 | 402 | 403 | 429))
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
