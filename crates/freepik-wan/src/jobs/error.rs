use std::fmt;

use crate::postgres::StoreError;

/// A failure of the job store or of a job's step.
#[derive(Debug)]
#[non_exhaustive]
pub enum JobError {
    /// The database failed or could not be reached
    /// ([`StoreError::is_connection_lost`] says whether reconnecting may help:
    /// the store reconnects on its next call).
    Store(StoreError),
    /// This worker's lease on the job was taken over (it lapsed, and another
    /// worker claimed the job with a newer fencing token): the write was
    /// refused, and the job is the other worker's now.
    LeaseLost {
        /// The job.
        job: i64,
    },
    /// No job has this id.
    NoSuchJob(i64),
    /// The SDK refused or failed (bad input at enqueue, a webhook that does
    /// not verify, an upload, a create the service refused).
    Sdk(crate::Error),
}

impl JobError {
    /// Whether the database connection is gone: the store reconnects on its
    /// next call, so the step can be tried again.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, JobError::Store(e) if e.is_connection_lost())
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Store(e) => e.fmt(f),
            JobError::LeaseLost { job } => write!(
                f,
                "job {job}: this worker's lease was taken over by another; its write was refused"
            ),
            JobError::NoSuchJob(job) => write!(f, "no job {job} in the store"),
            JobError::Sdk(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for JobError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JobError::Store(e) => Some(e),
            JobError::Sdk(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        JobError::Store(e)
    }
}

impl From<crate::Error> for JobError {
    fn from(e: crate::Error) -> Self {
        JobError::Sdk(e)
    }
}
