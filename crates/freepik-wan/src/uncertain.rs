//! Creates that may have happened: the request reached the service, but the
//! answer was lost (a gateway's 502/504, a cut connection, a timeout). The
//! task may exist and may be charged for, so the SDK neither retries blindly
//! nor drops it: it returns [`Error::CreateUncertain`] with the tasks that
//! could be the one, and [`Client::reconcile`] adopts one by a stated rule.

use std::fmt;

use crate::client::Client;
use crate::error::Error;
use crate::resolution::Resolution;
use crate::task::Task;

/// What the SDK learned about a create whose answer was lost; carried by
/// [`Error::CreateUncertain`].
///
/// `candidates` are the tasks that appeared in the list operation after the
/// create began and are not this client's (neither created by it nor
/// adopted): one of them may be the task this create made. Pass it to
/// [`Client::reconcile`] to adopt a task by the rule documented there.
#[derive(Debug)]
#[non_exhaustive]
pub struct UncertainCreate {
    /// The resolution the create was sent to.
    pub resolution: Resolution,
    /// Tasks that may be the one this create made, as the list showed them.
    pub candidates: Vec<Task>,
    /// Whether the list could be read at all; `false` means `candidates` is
    /// empty for lack of knowledge, not because no task appeared.
    pub listed: bool,
    /// What happened to the create.
    pub cause: Box<Error>,
}

impl fmt::Display for UncertainCreate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the create may have made a task ({})", self.cause)?;
        if !self.listed {
            return write!(f, "; the task list could not be read to look for it");
        }
        match self.candidates.as_slice() {
            [] => write!(f, "; no new task appeared in the list"),
            [one] => write!(f, "; one new task appeared: {}", one.id),
            many => {
                let ids: Vec<&str> = many.iter().map(|t| t.id.as_str()).collect();
                write!(f, "; {} new tasks appeared: {}", many.len(), ids.join(", "))
            }
        }
    }
}

/// What [`Client::reconcile`] decided.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reconciled {
    /// Exactly one unclaimed task appeared: it is now this client's.
    Adopted(Task),
    /// Several unclaimed tasks appeared: which one is this create's cannot be
    /// told. None was adopted; decide yourself (wait for all, or cancel none).
    Ambiguous(Vec<Task>),
    /// No unclaimed task appeared (or the list could not be read): the
    /// create most likely did not happen. See [`Client::reconcile`] for when
    /// that is wrong.
    NotFound,
}

impl Client {
    /// Settles an uncertain create by one rule: if **exactly one** of its
    /// candidates is still unclaimed (no other reconcile of this client took
    /// it), adopt that one; otherwise report.
    ///
    /// Where the rule can be wrong:
    /// - another program (or another `Client`) using the same key created a
    ///   task at the same moment: its task may be adopted as this one's, or
    ///   make the result ambiguous;
    /// - several uncertain creates of this client at once see each other's
    ///   tasks: each is then ambiguous (none is adopted twice);
    /// - a list that pages or lags may not show the task yet: `NotFound`
    ///   then does not prove that nothing was made, and creating again may
    ///   pay twice. Look again later (`client.tasks_at(resolution)`) when
    ///   that matters.
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client) -> freepik_wan::Result<freepik_wan::Task> {
    /// use freepik_wan::{Error, Reconciled};
    ///
    /// match client.image_to_video("cat.jpg").await {
    ///     Ok(task) => Ok(task),
    ///     Err(Error::CreateUncertain(uncertain)) => match client.reconcile(&uncertain) {
    ///         Reconciled::Adopted(task) => Ok(task),
    ///         _ => Err(Error::CreateUncertain(uncertain)),
    ///     },
    ///     Err(other) => Err(other),
    /// }
    /// # }
    /// ```
    pub fn reconcile(&self, uncertain: &UncertainCreate) -> Reconciled {
        let ledger = &self.shared.ledger;
        let open: Vec<&Task> = uncertain
            .candidates
            .iter()
            .filter(|task| !ledger.is_claimed(task))
            .collect();
        match open.as_slice() {
            [] => Reconciled::NotFound,
            [one] if ledger.claim(one) => {
                tracing::info!(task_id = %one.id, "adopted the task of an uncertain create");
                Reconciled::Adopted((*one).clone())
            }
            // Claimed by another reconcile in between: look again.
            [_] => self.reconcile(uncertain),
            many => Reconciled::Ambiguous(many.iter().map(|t| (*t).clone()).collect()),
        }
    }
}
