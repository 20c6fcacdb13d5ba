//! Exit codes, and the one error type every command returns. Scripts branch
//! on the codes (see `--help`), so the mapping from SDK errors lives here only.

use std::process::ExitCode;

use freepik_wan::{Error, Model, Task, UncertainCreate};

use crate::generate::{model_flags, wait_command};
use serde_json::{Map, Value, json};

/// What the process exits with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The task FAILED, or a webhook did not verify.
    Failed = 1,
    /// A usage or validation error: nothing was sent.
    Usage = 2,
    /// The service refused, or the request did not get through.
    Service = 3,
    /// The deadline passed before the task finished.
    TimedOut = 4,
    /// Ctrl-C while waiting (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code as u8)
    }
}

/// A command that did not succeed: the exit code, a message for stderr, and
/// the fields of the one JSON object `--json` prints on stdout.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: Code,
    /// What went wrong, in words; never contains the API key.
    pub message: String,
    /// The `--json` object (an `error` and `exit_code` field are added).
    pub json: Map<String, Value>,
}

impl Failure {
    /// A failure with only a message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            json: Map::new(),
        }
    }

    /// Adds a field to the `--json` object.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.json.insert(key.to_owned(), value);
        self
    }

    /// The `--json` object: the extra fields, then the message and the code.
    pub fn to_json(&self) -> Value {
        let mut object = self.json.clone();
        object.insert("error".into(), Value::String(self.message.clone()));
        object.insert("exit_code".into(), json!(self.code as u8));
        Value::Object(object)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match &error {
            Error::Validation { field, .. } | Error::UrlRequired { field, .. } => {
                Failure::new(Code::Usage, message).with("field", json!(field))
            }
            Error::Config(_) => Failure::new(Code::Usage, message),
            Error::TaskFailed { task } => Failure::new(Code::Failed, message)
                .with("task_id", json!(task.id))
                .with("status", json!(task.status)),
            Error::Webhook(_) => Failure::new(Code::Failed, message).with("valid", json!(false)),
            Error::Timeout {
                task_id,
                last_status,
                waited,
            } => Failure::new(
                Code::TimedOut,
                format!(
                    "{message}: Magnific has no cancel, so task {task_id} goes on and \
                     `{}` picks it up (rather than paying for a new one)",
                    wait_command(task_id)
                ),
            )
            .with("task_id", json!(task_id))
            .with("status", json!(last_status))
            .with("waited_ms", json!(waited.as_millis() as u64)),
            Error::Api { status, .. } => {
                let mut failure = Failure::new(Code::Service, message)
                    .with("http_status", json!(status.as_u16()));
                if let Some(id) = error.request_id() {
                    failure = failure.with("request_id", json!(id));
                }
                failure
            }
            Error::CreateUncertain(uncertain) => uncertain_create(uncertain),
            // Exit 3 like any refusal; `quota` tells scripts that retrying
            // soon will not help.
            Error::QuotaExceeded {
                status,
                message: said,
                ..
            } => Failure::new(Code::Service, message)
                .with("http_status", json!(status.as_u16()))
                .with("quota", json!(true))
                .with("service_message", json!(said)),
            Error::NoVideoUrl { task_id, .. } => Failure::new(
                Code::Service,
                format!("{message}: `{} --out <file>`", wait_command(task_id)),
            )
            .with("task_id", json!(task_id))
            .with("status", json!("COMPLETED")),
            Error::VideoUrlExpired {
                task_id, status, ..
            } => Failure::new(
                Code::Service,
                format!("{message}: `{} --out <file>`", wait_command(task_id)),
            )
            .with("task_id", json!(task_id))
            .with("http_status", json!(status.as_u16())),
            // Transport, Decode, Io, and whatever later SDK versions add: the
            // request (or the file it fed) did not work out.
            _ => Failure::new(Code::Service, message),
        }
    }
}

/// A create whose answer was lost: say which tasks may be it and how to pick
/// one up, so the user waits for a task instead of paying for another.
fn uncertain_create(uncertain: &UncertainCreate) -> Failure {
    may_have_made(
        Code::Service,
        uncertain.to_string(),
        uncertain.model,
        &uncertain.candidates,
        uncertain.listed,
    )
}

/// The report of a create that may have made a task without saying which:
/// `what` happened, then the tasks that may be it, each with the command
/// that waits for it, or, with none, where to look before creating again
/// (`listed`: whether the list could be read at all).
pub fn may_have_made(
    code: Code,
    what: String,
    model: Model,
    candidates: &[Task],
    listed: bool,
) -> Failure {
    let list = format!("`freepik-wan list{}`", model_flags(model));
    let next = match candidates {
        [] if listed => format!(
            "no new task is in the list yet, which does not prove that none was made (a list \
             can lag): check {list} before generating again"
        ),
        [] => format!("the task list could not be read: check {list} before generating again"),
        [one] => format!("it is most likely {}: `{}`", one.id, wait_command(&one.id)),
        many => format!(
            "one of these may be it: {}",
            many.iter()
                .map(|task| format!("`{}`", wait_command(&task.id)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let candidates: Vec<Value> = candidates
        .iter()
        .map(|task| json!({"task_id": task.id, "status": task.status}))
        .collect();
    Failure::new(code, format!("{what}; {next}"))
        .with("may_exist", json!(true))
        .with("candidates", Value::Array(candidates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use freepik_wan::{Task, TaskStatus};
    use std::time::Duration;

    #[test]
    fn sdk_errors_map_to_the_documented_codes() {
        let validation = Error::Validation {
            field: "prompt",
            reason: "too long".into(),
        };
        assert_eq!(Failure::from(validation).code, Code::Usage);
        assert_eq!(
            Failure::from(Error::Config("no API key".into())).code,
            Code::Usage
        );
        let failed = Error::TaskFailed {
            task: Box::new(Task::new("t-1", TaskStatus::Failed, vec![])),
        };
        let failure = Failure::from(failed);
        assert_eq!(failure.code, Code::Failed);
        assert_eq!(failure.to_json()["task_id"], "t-1");
        assert_eq!(failure.to_json()["exit_code"], 1);
        let timeout = Error::Timeout {
            task_id: "t-2".into(),
            last_status: Some(TaskStatus::InProgress),
            waited: Duration::from_secs(1),
        };
        let failure = Failure::from(timeout);
        assert_eq!(failure.code, Code::TimedOut);
        assert_eq!(failure.to_json()["status"], "IN_PROGRESS");
        // A deadline never cancels: the message says so and names the task.
        assert!(
            failure.message.contains("not cancelled")
                && failure.message.contains("charged")
                && failure.message.contains("freepik-wan wait t-2"),
            "{}",
            failure.message
        );
        let quota = Error::QuotaExceeded {
            status: freepik_wan::reqwest::StatusCode::TOO_MANY_REQUESTS,
            message: "Limit for free users reached.".into(),
            headers: Box::default(),
        };
        let failure = Failure::from(quota);
        assert_eq!(failure.code, Code::Service);
        assert!(failure.message.contains("Limit for free users reached."));
        assert_eq!(failure.to_json()["quota"], true);
        let expired = Error::VideoUrlExpired {
            task_id: "t-3".into(),
            status: freepik_wan::reqwest::StatusCode::FORBIDDEN,
            message: "<Error><Code>AccessDenied</Code></Error>".into(),
        };
        let failure = Failure::from(expired);
        assert_eq!(failure.code, Code::Service);
        assert_eq!(failure.to_json()["task_id"], "t-3");
        assert!(failure.message.contains("freepik-wan wait t-3"));
    }

    #[test]
    fn a_local_file_for_a_url_only_model_is_a_usage_error_naming_the_field() {
        let failure = Failure::from(Error::UrlRequired {
            field: "video_url",
            model: "video-edit/wan-2-7".parse().unwrap(),
        });
        assert_eq!(failure.code, Code::Usage);
        assert_eq!(failure.to_json()["field"], "video_url");
    }

    #[test]
    fn a_create_that_may_have_made_a_task_names_where_to_look_for_its_model() {
        let model: Model = "text-to-video/wan-2-7".parse().unwrap();
        let failure = may_have_made(
            Code::Service,
            "the create's answer was lost".into(),
            model,
            &[],
            true,
        );
        assert!(
            failure
                .message
                .contains("`freepik-wan list --model text-to-video/wan-2-7`"),
            "{}",
            failure.message
        );
        assert_eq!(failure.to_json()["may_exist"], true);
    }
}
