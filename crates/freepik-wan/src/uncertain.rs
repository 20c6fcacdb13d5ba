//! Creates that may have happened: the request reached the service, but the
//! answer was lost (a gateway's 502/504, a cut connection, a timeout). The
//! task may exist and may be charged for, so the SDK neither retries blindly
//! nor drops it: it returns [`Error::CreateUncertain`] with the tasks that
//! could be the one, and [`Client::reconcile`] adopts one by a stated rule.

use std::fmt;

use crate::client::Client;
use crate::error::Error;
use crate::model::Model;
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
    /// The Wan 2.2 resolution the create was sent to (580p for another
    /// model's create: see `model`).
    pub resolution: Resolution,
    /// The model the create was sent to.
    pub model: Model,
    /// Tasks that may be the one this create made, as the list showed them.
    pub candidates: Vec<Task>,
    /// Whether the list could be read at all; `false` means `candidates` is
    /// empty for lack of knowledge, not because no task appeared.
    pub listed: bool,
    /// Whether the model's tasks had been listed before the create was
    /// sent. Without that list no task can be told new (an older one would
    /// look just as new), so `candidates` is empty and `listed` false.
    pub baselined: bool,
    /// What happened to the create.
    pub cause: Box<Error>,
    /// The create attempt's ticket in the client's ledger.
    pub(crate) ticket: u64,
}

impl fmt::Display for UncertainCreate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the create may have made a task ({})", self.cause)?;
        if !self.baselined {
            return write!(
                f,
                "; the tasks already there could not be listed before it was sent, so no task \
                 in the list can be told to be its"
            );
        }
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
    /// No unclaimed task appeared within the client's uncertain grace (or the
    /// list could not be read). This does not prove that nothing was made: a
    /// list that lags or pages may show the task later. Creating again may
    /// pay twice; see [`Client::reconcile`].
    NotFound,
}

impl Client {
    /// The tasks a fresh list of `resolution` shows that may have been made
    /// by this client's latest create attempt: neither created nor adopted
    /// by this client, and not seen by it before that attempt began. For a
    /// create that was abandoned mid-flight (a deadline, Ctrl-C), where no
    /// [`UncertainCreate`] was returned.
    ///
    /// `None` when this client had not listed `model` before that attempt
    /// began (the list failed): then no task can be told new, since an
    /// older one would look the same.
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client) -> freepik_wan::Result<()> {
    /// use std::time::Duration;
    /// use freepik_wan::Resolution;
    ///
    /// let create = client.image_to_video("cat.jpg").send();
    /// if tokio::time::timeout(Duration::from_secs(5), create).await.is_err() {
    ///     for task in client.unclaimed_tasks_at(Resolution::P580).await?.unwrap_or_default() {
    ///         println!("may be ours: {}", task.id);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn unclaimed_tasks_at(
        &self,
        model: impl Into<Model>,
    ) -> crate::Result<Option<Vec<Task>>> {
        use tracing::Instrument;
        let model = model.into();
        let span = tracing::info_span!("freepik_wan.reconcile", freepik_wan.model = %model);
        let listed = self.tasks_at(model).instrument(span).await?;
        let ledger = &self.shared.ledger;
        Ok(ledger.unclaimed_since(model, ledger.latest_ticket(), listed))
    }

    /// Settles an uncertain create by one rule: if **exactly one** of its
    /// candidates is still unclaimed (no other reconcile of this client took
    /// it), adopt that one; otherwise report.
    ///
    /// Where the rule can be wrong:
    /// - another program (or another `Client`) using the same key created a
    ///   task at the same moment: its task may be adopted as this one's, or
    ///   make the result ambiguous;
    /// - several uncertain creates of this client at once see each other's
    ///   tasks: each is then ambiguous (none is adopted twice). A task that
    ///   another uncertain create of this client, not settled by a reconcile,
    ///   could have made is never adopted alone;
    /// - a list that pages or lags may not show the task yet: the SDK lists
    ///   again for [`ClientBuilder::uncertain_grace`](crate::ClientBuilder::uncertain_grace)
    ///   (30 s) before it reports none, but `NotFound` still does not prove
    ///   that nothing was made, and creating again may pay twice. Look again
    ///   later (`client.tasks_at(resolution)`) when that matters.
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
        let span = tracing::info_span!(
            "freepik_wan.reconcile",
            freepik_wan.model = %uncertain.model,
            freepik_wan.reconcile.candidates = uncertain.candidates.len(),
            freepik_wan.reconcile.outcome = tracing::field::Empty,
            freepik_wan.task_id = tracing::field::Empty,
        );
        let _in = span.enter();
        let reconciled = self.reconcile_inner(uncertain);
        let outcome = match &reconciled {
            Reconciled::Adopted(task) => {
                span.record("freepik_wan.task_id", task.id.as_str());
                "adopted"
            }
            Reconciled::Ambiguous(_) => "ambiguous",
            Reconciled::NotFound => "not_found",
        };
        span.record("freepik_wan.reconcile.outcome", outcome);
        reconciled
    }

    fn reconcile_inner(&self, uncertain: &UncertainCreate) -> Reconciled {
        let ledger = &self.shared.ledger;
        let open: Vec<&Task> = uncertain
            .candidates
            .iter()
            .filter(|task| !ledger.is_claimed(task))
            .collect();
        match open.as_slice() {
            [] => Reconciled::NotFound,
            // Another uncertain create of this client, not settled, may have
            // made it just as well: giving it to this one could hand it the
            // other's video.
            [one] if ledger.contested(uncertain.ticket, one) => {
                Reconciled::Ambiguous(vec![(*one).clone()])
            }
            [one] if ledger.adopt(uncertain.ticket, one) => {
                tracing::info!(task_id = %one.id, "adopted the task of an uncertain create");
                Reconciled::Adopted((*one).clone())
            }
            // Claimed by another reconcile in between: look again.
            [_] => self.reconcile_inner(uncertain),
            many => Reconciled::Ambiguous(many.iter().map(|t| (*t).clone()).collect()),
        }
    }
}
