//! The task table: who owns which task, its status, and the JSON shapes that describe it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use freepik_wan_api::models::ModelInfo;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::faults::{Faults, GeneratedShape, ListCap, TaskQuirks};

/// A task's status, spelled on the wire as in Freepik's `task.status` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Created,
    InProgress,
    Completed,
    Failed,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Created => "CREATED",
            Status::InProgress => "IN_PROGRESS",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
        }
    }

    fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }
}

/// `task`: what create and list return.
#[derive(Serialize)]
pub(crate) struct TaskSummary {
    pub(crate) task_id: String,
    pub(crate) status: &'static str,
}

/// `task-detail`: what get returns inside `data`, and the whole body of a webhook.
#[derive(Serialize)]
pub(crate) struct TaskDetail {
    pub(crate) task_id: String,
    pub(crate) status: &'static str,
    pub(crate) generated: Vec<String>,
}

/// Who may see a task: the API key that created it (by index), at the model
/// endpoint it was created at. Other keys, and every other model's path (the
/// sibling resolutions, and the other kinds that share a segment such as
/// `wan-2-7`), do not find it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Owner {
    pub(crate) key: usize,
    /// The model, an entry of `freepik_wan_api::models::MODELS`: its kind and
    /// segment together name the path.
    pub(crate) model: &'static ModelInfo,
}

impl PartialEq for Owner {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && self.model.kind == other.model.kind
            && self.model.segment == other.model.segment
    }
}

impl Eq for Owner {}

struct Task {
    owner: Owner,
    created_at: Instant,
    status: Status,
    completed_at: Option<Instant>,
    /// Queue of serialized webhook bodies for this task's delivery worker. Dropped once the
    /// terminal event is queued, which lets the worker finish.
    webhook: Option<UnboundedSender<Bytes>>,
    /// Which of its video URLs is current, when URLs expire: 0 is the first.
    url_generation: u32,
    /// How its status answers misbehave.
    quirks: TaskQuirks,
    /// COMPLETED answers still to come without a URL.
    no_url_left: u32,
}

#[derive(Default)]
struct Table {
    tasks: HashMap<String, Task>,
    /// Creation order, for listing.
    order: Vec<String>,
}

/// All tasks of one simulator.
pub(crate) struct TaskStore {
    base_url: String,
    /// [`Faults::expire_first_url`](crate::Faults::expire_first_url).
    expiring_urls: bool,
    /// URLs carry a token query ([`Faults::signed_urls`](crate::Faults::signed_urls), or expiring ones).
    signed_urls: bool,
    table: Mutex<Table>,
    /// How the list operation misbehaves, when a fault says so.
    list_lag: Duration,
    list_cap: Option<ListCap>,
    case_insensitive_ids: bool,
}

/// What a request for a task's video may get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VideoAccess {
    /// The video.
    Granted,
    /// `403`: the URL has expired (a fresh one is handed out from now on).
    Expired,
    /// No such video.
    NotFound,
}

impl TaskStore {
    pub(crate) fn new(base_url: String, faults: &Faults) -> Self {
        Self {
            base_url,
            expiring_urls: faults.expire_first_url,
            signed_urls: faults.expire_first_url || faults.signed_urls,
            table: Mutex::default(),
            list_lag: faults.list_lag,
            list_cap: faults.list_cap,
            case_insensitive_ids: faults.case_insensitive_ids,
        }
    }

    /// The id the task table knows `id` by: itself, or (ids matched without regard to
    /// case) its lowercase form, which is how ids are issued.
    fn canonical<'a>(&self, id: &'a str) -> std::borrow::Cow<'a, str> {
        if self.case_insensitive_ids {
            std::borrow::Cow::Owned(id.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(id)
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes a task in status CREATED and queues its CREATED webhook, if it has one.
    pub(crate) fn create(
        &self,
        owner: Owner,
        webhook: Option<UnboundedSender<Bytes>>,
        quirks: TaskQuirks,
    ) -> String {
        let id = uuid_v4();
        let task = Task {
            owner,
            created_at: Instant::now(),
            status: Status::Created,
            completed_at: None,
            webhook,
            url_generation: 0,
            quirks,
            no_url_left: quirks.completed_without_url,
        };
        let body = task
            .webhook
            .as_ref()
            .map(|_| self.webhook_body(&id, Status::Created, 0));
        let mut table = self.table();
        // Queued under the table lock, held until the task is inserted: a receiver that
        // fetches the task as soon as its CREATED webhook arrives always finds it.
        if let (Some(queue), Some(body)) = (&task.webhook, body) {
            // A closed queue only means the simulator is shutting down.
            let _ = queue.send(body);
        }
        table.order.push(id.clone());
        table.tasks.insert(id.clone(), task);
        id
    }

    /// Moves a task to `status`, stamping the completion time and queueing the webhook.
    ///
    /// The webhook is queued under the lock so that events reach the queue in the order
    /// the statuses changed.
    pub(crate) fn set_status(&self, id: &str, status: Status) {
        let mut table = self.table();
        let Some(task) = table.tasks.get_mut(id) else {
            return;
        };
        let body = self.webhook_body(id, status, task.url_generation);
        task.status = status;
        if status.is_terminal() {
            task.completed_at = Some(Instant::now());
        }
        if let Some(queue) = &task.webhook {
            let _ = queue.send(body);
        }
        if status.is_terminal() {
            task.webhook = None;
        }
    }

    /// A task made `age` ago that is already COMPLETED, with no life cycle
    /// or webhook: what an account holds from earlier runs.
    pub(crate) fn add_completed(&self, owner: Owner, age: Duration) -> String {
        let id = uuid_v4();
        let now = Instant::now();
        let created_at = now.checked_sub(age).unwrap_or(now);
        let task = Task {
            owner,
            created_at,
            status: Status::Completed,
            completed_at: Some(now),
            webhook: None,
            url_generation: 0,
            quirks: TaskQuirks::default(),
            no_url_left: 0,
        };
        let mut table = self.table();
        // Older than every task made so far: first in creation order.
        table.order.insert(0, id.clone());
        table.tasks.insert(id.clone(), task);
        id
    }

    /// The task as `owner` may see it in a status answer, as JSON: `None` if
    /// it does not exist or is someone else's. Its quirks apply (and a
    /// COMPLETED answer without a URL is used up), which is why this is
    /// also what tells the caller which quirk showed, if any. `calm`: no
    /// quirk shows (the simulator was calmed).
    pub(crate) fn detail(
        &self,
        owner: Owner,
        id: &str,
        calm: bool,
    ) -> Option<(serde_json::Value, Quirk)> {
        let id = self.canonical(id);
        let mut table = self.table();
        let task = table
            .tasks
            .get_mut(id.as_ref())
            .filter(|task| task.owner == owner)?;
        let (status, generation) = (task.status, task.url_generation);
        let mut quirk = Quirk::None;
        if !calm && status == Status::Completed && task.no_url_left > 0 {
            task.no_url_left -= 1;
            quirk = Quirk::CompletedNoUrl;
        } else if !calm && !status.is_terminal() {
            quirk = match task.quirks.generated_before {
                GeneratedShape::Empty => Quirk::None,
                GeneratedShape::Null => Quirk::GeneratedNull,
                GeneratedShape::Missing => Quirk::GeneratedMissing,
            };
        }
        drop(table);
        let mut detail = self.detail_of(&id, status, generation);
        if quirk == Quirk::CompletedNoUrl {
            detail.generated.clear();
        }
        let mut json = serde_json::to_value(detail).expect("a TaskDetail always serializes");
        match quirk {
            Quirk::GeneratedNull => json["generated"] = serde_json::Value::Null,
            Quirk::GeneratedMissing => {
                if let Some(object) = json.as_object_mut() {
                    object.remove("generated");
                }
            }
            _ => {}
        }
        Some((json, quirk))
    }

    /// `owner`'s tasks, newest first: those made at least the list lag ago, and of
    /// those only a capped list's share.
    pub(crate) fn list(&self, owner: Owner) -> Vec<TaskSummary> {
        let table = self.table();
        let now = Instant::now();
        let mut listed: Vec<TaskSummary> = table
            .order
            .iter()
            .rev()
            .filter_map(|id| {
                let task = table.tasks.get(id)?;
                let visible = now.duration_since(task.created_at) >= self.list_lag;
                (task.owner == owner && visible).then(|| TaskSummary {
                    task_id: id.clone(),
                    status: task.status.as_str(),
                })
            })
            .collect();
        if let Some(cap) = self.list_cap
            && listed.len() > cap.max
        {
            if cap.newest {
                listed.truncate(cap.max);
            } else {
                listed.drain(..listed.len() - cap.max);
            }
        }
        listed
    }

    /// How many tasks exist.
    pub(crate) fn len(&self) -> usize {
        self.table().tasks.len()
    }

    /// Whether the task exists and is COMPLETED (its video can be served),
    /// whatever URL asks for it: the mirror origin's check.
    pub(crate) fn is_completed(&self, id: &str) -> bool {
        self.table()
            .tasks
            .get(self.canonical(id).as_ref())
            .is_some_and(|task| task.status == Status::Completed)
    }

    pub(crate) fn completed_at(&self, id: &str) -> Option<Instant> {
        self.table().tasks.get(id)?.completed_at
    }

    /// Whether the task's video may be downloaded with the URL whose query is
    /// `query`. With expiring URLs, a task's first URL is refused once and
    /// a fresh one handed out; an older URL than the current one stays
    /// refused.
    pub(crate) fn video_access(&self, id: &str, query: Option<&str>) -> VideoAccess {
        let mut table = self.table();
        let Some(task) = table.tasks.get_mut(self.canonical(id).as_ref()) else {
            return VideoAccess::NotFound;
        };
        if task.status != Status::Completed {
            return VideoAccess::NotFound;
        }
        if !self.expiring_urls {
            return VideoAccess::Granted;
        }
        let asked = query.and_then(url_generation);
        match asked {
            Some(0) if task.url_generation == 0 => {
                task.url_generation = 1;
                VideoAccess::Expired
            }
            Some(generation) if generation == task.url_generation => VideoAccess::Granted,
            _ => VideoAccess::Expired,
        }
    }

    fn detail_of(&self, id: &str, status: Status, generation: u32) -> TaskDetail {
        let generated = if status != Status::Completed {
            Vec::new()
        } else if self.signed_urls {
            vec![format!(
                "{}/files/{id}.mp4?token=exp={generation}~hmac=sim",
                self.base_url
            )]
        } else {
            vec![format!("{}/files/{id}.mp4", self.base_url)]
        };
        TaskDetail {
            task_id: id.to_owned(),
            status: status.as_str(),
            generated,
        }
    }

    fn webhook_body(&self, id: &str, status: Status, generation: u32) -> Bytes {
        let detail = self.detail_of(id, status, generation);
        Bytes::from(serde_json::to_vec(&detail).expect("a TaskDetail always serializes"))
    }
}

/// Which quirk a status answer showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quirk {
    None,
    CompletedNoUrl,
    GeneratedNull,
    GeneratedMissing,
}

/// The URL generation a video URL's query (`token=exp=<n>~hmac=sim`) names.
fn url_generation(query: &str) -> Option<u32> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token=exp="))
        .and_then(|token| token.split('~').next())
        .and_then(|n| n.parse().ok())
}

/// A random (version 4) UUID in its lowercase hyphenated form.
///
/// Drawn from fastrand's unseeded thread-local generator, not the fault dice: ids must stay
/// unique across simulators started with the same seed, and drawing them must not shift
/// the fault sequence.
pub(crate) fn uuid_v4() -> String {
    let mut bits = fastrand::u128(..);
    bits = (bits & !(0xf << 76)) | (0x4 << 76); // version 4
    bits = (bits & !(0x3 << 62)) | (0x2 << 62); // RFC 4122 variant
    let hex = format!("{bits:032x}");
    let mut out = String::with_capacity(36);
    for (i, range) in [0..8, 8..12, 12..16, 16..20, 20..32]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&hex[range]);
    }
    out
}
