//! The heartbeat that keeps a claimed job's lease while its worker works.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::JobStore;
use super::store::Lease;

/// Extends a lease every `every` (a third of its length by default) until dropped. When an
/// extension is refused (another worker holds a newer claim) it stops and
/// says so in [`lost`](Self::lost); the worker's own writes are refused by
/// the fence either way.
pub(crate) struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
    lost: Arc<AtomicBool>,
}

impl Heartbeat {
    pub(crate) fn start(
        store: JobStore,
        lease: Lease,
        length: Duration,
        every: Duration,
    ) -> Heartbeat {
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.heartbeat(&lease, length).await {
                    Ok(()) => {}
                    Err(super::JobError::LeaseLost { .. }) => {
                        tracing::warn!(job = lease.job, "the job's lease was taken over");
                        flag.store(true, Ordering::Relaxed);
                        return;
                    }
                    // The database is away: the next beat tries again (the
                    // lease may lapse meanwhile; the fence guards the writes).
                    Err(error) => {
                        tracing::warn!(job = lease.job, %error, "could not extend the lease")
                    }
                }
            }
        });
        Heartbeat { task, lost }
    }

    /// Whether another worker has taken the job over.
    pub(crate) fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
