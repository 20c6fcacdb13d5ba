//! Creating a task: the request builder, and every check made before sending.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::str::FromStr;

use freepik_wan_api::types;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::image_input::ImageInput;
use crate::model::Model;
use crate::observe::metric;
use crate::resolution::Resolution;
use crate::retry::{CreateFailure, Idempotency};
use crate::task::{Task, TaskId};
use crate::uncertain::UncertainCreate;
use tracing::Instrument;

/// The most characters a prompt may have.
pub const MAX_PROMPT_CHARS: usize = 2000;

/// How long the video is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VideoDuration {
    /// Five seconds (the service's default).
    #[default]
    Five,
    /// Ten seconds.
    Ten,
}

impl VideoDuration {
    /// The wire form: `"5"` or `"10"` (strings, not numbers).
    pub fn as_str(self) -> &'static str {
        match self {
            VideoDuration::Five => "5",
            VideoDuration::Ten => "10",
        }
    }
}

impl FromStr for VideoDuration {
    type Err = Error;

    /// `"5"` or `"10"` (an `s` suffix is accepted).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().trim_end_matches('s') {
            "5" => Ok(VideoDuration::Five),
            "10" => Ok(VideoDuration::Ten),
            other => Err(Error::Validation {
                field: "duration",
                reason: format!("{other:?} is not a duration; use 5 or 10 (seconds)"),
            }),
        }
    }
}

impl fmt::Display for VideoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The video's shape. The 580p tier makes about 960x512 for 16:9.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AspectRatio {
    /// Follow the image (the service's default).
    #[default]
    Auto,
    /// 16:9 landscape.
    Widescreen16x9,
    /// 9:16 portrait.
    SocialStory9x16,
    /// 1:1.
    Square1x1,
    /// 4:3.
    Classic4x3,
}

impl AspectRatio {
    /// Every value, in the order the API lists them.
    pub const ALL: [AspectRatio; 5] = [
        AspectRatio::Auto,
        AspectRatio::Widescreen16x9,
        AspectRatio::SocialStory9x16,
        AspectRatio::Square1x1,
        AspectRatio::Classic4x3,
    ];

    /// The wire form, e.g. `"widescreen_16_9"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AspectRatio::Auto => "auto",
            AspectRatio::Widescreen16x9 => "widescreen_16_9",
            AspectRatio::SocialStory9x16 => "social_story_9_16",
            AspectRatio::Square1x1 => "square_1_1",
            AspectRatio::Classic4x3 => "classic_4_3",
        }
    }

    fn to_api(self) -> types::AspectRatio {
        match self {
            AspectRatio::Auto => types::AspectRatio::Auto,
            AspectRatio::Widescreen16x9 => types::AspectRatio::Widescreen169,
            AspectRatio::SocialStory9x16 => types::AspectRatio::SocialStory916,
            AspectRatio::Square1x1 => types::AspectRatio::Square11,
            AspectRatio::Classic4x3 => types::AspectRatio::Classic43,
        }
    }
}

impl FromStr for AspectRatio {
    type Err = Error;

    /// The wire form, e.g. `"square_1_1"`.
    fn from_str(s: &str) -> Result<Self> {
        AspectRatio::ALL
            .into_iter()
            .find(|a| a.as_str() == s.trim())
            .ok_or_else(|| Error::Validation {
                field: "aspect_ratio",
                reason: format!(
                    "{s:?} is not one of {}",
                    AspectRatio::ALL.map(AspectRatio::as_str).join(", ")
                ),
            })
    }
}

impl fmt::Display for AspectRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A create request being built; send it with [`send`](Self::send) or `.await`.
///
/// Everything is checked before anything is sent: the image (exists; JPEG,
/// PNG or WebP by content; each side 240–8000 px; at most 10 MiB), the prompt
/// (at most 2000 characters) and the webhook URL (absolute http(s)). A refusal
/// is an [`Error::Validation`] naming the field and the rule.
///
/// ```no_run
/// use freepik_wan::{AspectRatio, Client, VideoDuration};
///
/// # async fn run(client: Client) -> freepik_wan::Result<()> {
/// let task = client
///     .image_to_video("portrait.png")
///     .prompt("she turns toward the window, soft light")
///     .duration(VideoDuration::Ten)
///     .aspect_ratio(AspectRatio::SocialStory9x16)
///     .seed(70)
///     .webhook_url("https://example.com/hooks/freepik")
///     .send()
///     .await?;
/// println!("created {}", task.id);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a create request does nothing until sent"]
pub struct ImageToVideo {
    client: Client,
    image: ImageInput,
    prompt: Option<String>,
    duration: Option<VideoDuration>,
    aspect_ratio: Option<AspectRatio>,
    seed: Option<i64>,
    webhook_url: Option<String>,
    resolution: Resolution,
    check_image: bool,
}

impl Client {
    /// Starts a create request for a video from `image`: a path, bytes, or an
    /// http(s) URL (a string starting with `http://`/`https://` is a URL).
    pub fn image_to_video(&self, image: impl Into<ImageInput>) -> ImageToVideo {
        ImageToVideo {
            client: self.clone(),
            image: image.into(),
            prompt: None,
            duration: None,
            aspect_ratio: None,
            seed: None,
            webhook_url: None,
            resolution: Resolution::default(),
            check_image: true,
        }
    }
}

impl ImageToVideo {
    /// What should happen in the video (at most 2000 characters).
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// Five or ten seconds (default five).
    pub fn duration(mut self, duration: VideoDuration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// The video's shape (default: follow the image).
    pub fn aspect_ratio(mut self, aspect_ratio: AspectRatio) -> Self {
        self.aspect_ratio = Some(aspect_ratio);
        self
    }

    /// A seed, for repeatable results.
    pub fn seed(mut self, seed: i64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// A URL the service calls on every status change of the task; verify
    /// those calls with [`webhook::verify`](crate::webhook::verify).
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// Which Wan v2.2 tier makes the video (default [`Resolution::P580`]).
    /// The task's id remembers it, so waiting and status need nothing more.
    pub fn resolution(mut self, resolution: Resolution) -> Self {
        self.resolution = resolution;
        self
    }

    /// Sets or clears the prompt, for callers holding an `Option`.
    ///
    /// ```
    /// # fn build(client: &freepik_wan::Client, prompt: Option<String>, seed: Option<i64>) {
    /// let request = client
    ///     .image_to_video("photo.jpg")
    ///     .set_prompt(prompt)
    ///     .set_seed(seed);
    /// # let _ = request;
    /// # }
    /// ```
    pub fn set_prompt(mut self, prompt: Option<String>) -> Self {
        self.prompt = prompt;
        self
    }

    /// Sets or clears the duration (cleared: the service's default).
    pub fn set_duration(mut self, duration: Option<VideoDuration>) -> Self {
        self.duration = duration;
        self
    }

    /// Sets or clears the aspect ratio (cleared: follow the image).
    pub fn set_aspect_ratio(mut self, aspect_ratio: Option<AspectRatio>) -> Self {
        self.aspect_ratio = aspect_ratio;
        self
    }

    /// Sets or clears the seed.
    pub fn set_seed(mut self, seed: Option<i64>) -> Self {
        self.seed = seed;
        self
    }

    /// Sets or clears the webhook URL.
    pub fn set_webhook_url(mut self, url: Option<String>) -> Self {
        self.webhook_url = url;
        self
    }

    /// Sets the resolution, or the default (580p) for `None`.
    pub fn set_resolution(mut self, resolution: Option<Resolution>) -> Self {
        self.resolution = resolution.unwrap_or_default();
        self
    }

    /// Skips the SDK's checks of the image's format, dimensions and size, for
    /// callers who know better than the documented limits. The file must still
    /// exist; the service may still refuse the image.
    pub fn skip_image_checks(mut self) -> Self {
        self.check_image = false;
        self
    }

    /// Runs every check [`send`](Self::send) makes before sending (prompt,
    /// webhook URL, the image's format, size and dimensions), and sends
    /// nothing: to validate many requests, say a batch's rows, before the
    /// first is sent.
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client) -> freepik_wan::Result<()> {
    /// client.image_to_video("cat.jpg").prompt("the cat yawns").check().await?;
    /// # Ok(()) }
    /// ```
    pub async fn check(&self) -> Result<()> {
        if let Some(prompt) = &self.prompt {
            check_prompt(prompt.clone())?;
        }
        if let Some(url) = &self.webhook_url {
            check_webhook_url(url.clone())?;
        }
        self.image.check(self.check_image).await
    }

    /// Checks the input and creates the task.
    ///
    /// Retried only when the service cannot have acted (429, 503, or a
    /// connection that failed before the request was written), so a retry
    /// never starts a second, paid task. When the request reached the service
    /// but its answer was lost (a gateway's 502/504, a cut connection, a
    /// timeout), the task may exist: the error is
    /// [`Error::CreateUncertain`](crate::Error::CreateUncertain), with the
    /// tasks that could be it (see [`Client::reconcile`]).
    ///
    /// The first create of a client at a resolution lists that resolution
    /// first (one more request), so that tasks already there are never taken
    /// for this one.
    pub async fn send(self) -> Result<Task> {
        self.send_observed().await
    }

    async fn send_inner(self) -> Result<Task> {
        let ImageToVideo {
            client,
            image,
            prompt,
            duration,
            aspect_ratio,
            seed,
            webhook_url,
            resolution,
            check_image,
        } = self;
        let prompt = prompt.map(check_prompt).transpose()?;
        let webhook_url = webhook_url.map(check_webhook_url).transpose()?;
        let with_webhook = webhook_url.is_some();
        // The spec gives duration a default, so the generated body always
        // carries it: the service's own default is sent when none was chosen.
        let duration = match duration.unwrap_or_default() {
            VideoDuration::Five => types::CreateTaskRequestDuration::X5,
            VideoDuration::Ten => types::CreateTaskRequestDuration::X10,
        };
        let aspect_ratio = aspect_ratio.map(AspectRatio::to_api);
        // Validate (and read) the image before the first attempt, so a bad
        // image never reaches the retry loop or the network.
        let mut first = Some(image.clone().into_wire(check_image).await?);
        let body = || {
            // The encoded image is not kept between attempts (it can be
            // 13 MiB); a retry encodes it again.
            let ready = first.take();
            let image = image.clone();
            let prompt = prompt.clone();
            let webhook_url = webhook_url.clone();
            async move {
                let wire = match ready {
                    Some(wire) => wire,
                    None => image.into_wire(check_image).await?,
                };
                let body = types::CreateTaskRequest {
                    image: String::new(),
                    prompt,
                    duration,
                    aspect_ratio,
                    seed,
                    webhook_url,
                };
                let mut body = serde_json::to_value(body)
                    .map_err(|e| Error::Config(format!("the body: {e}")))?;
                // The image goes in by move: serializing the typed body with
                // it would copy the base64 (up to 13 MiB) once more.
                body["image"] = serde_json::Value::String(wire);
                Ok(body)
            }
        };
        send_create(&client, Model::from(resolution), with_webhook, body).await
    }

    /// `send_inner`'s work in a `freepik_wan.create` span.
    async fn send_observed(self) -> Result<Task> {
        let span = crate::observe::create_span();
        async move {
            let result = self.send_inner().await;
            crate::observe::record_outcome(&tracing::Span::current(), &result);
            result
        }
        .instrument(span)
        .await
    }
}

/// Sends a create to `model` and hands out its task: the one flow every
/// model's create goes through. The first create of a client at a model
/// lists that model first (one request), so tasks already there are never
/// taken for this one; retries only where the service cannot have acted;
/// an answer lost after the service may have acted is
/// [`Error::CreateUncertain`].
pub(crate) async fn send_create<F, Fut, B>(
    client: &Client,
    model: Model,
    with_webhook: bool,
    mut body: F,
) -> Result<Task>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<B>>,
    // A shared body (`Arc<Value>`) is not copied for each attempt: a body
    // with a base64 image can be 13 MiB.
    B: std::borrow::Borrow<serde_json::Value>,
{
    let span = tracing::Span::current();
    span.record("freepik_wan.model", tracing::field::display(model));
    let ledger = &client.shared.ledger;
    if !ledger.has_baseline(model) {
        // Concurrent first creates share one list, not one each.
        let _one = ledger.baselining.lock().await;
        if !ledger.has_baseline(model)
            && let Err(error) = client.tasks_at(model).await
        {
            // Without it an uncertain create can name no candidate at all
            // (see `uncertain`); the create itself need not wait for the
            // list to work.
            tracing::warn!(%error, "could not list the tasks already there");
        }
    }
    let api = &client.shared.api;
    // The ticket number of the attempt on the wire last.
    let last_attempt = &std::sync::atomic::AtomicU64::new(0);
    let created = client
        .api_call("create_task", Idempotency::Create, || {
            let body = body();
            async move {
                let body = body.await?;
                let ticket = ledger.start_create();
                last_attempt.store(ticket.number, std::sync::atomic::Ordering::Relaxed);
                let created =
                    crate::endpoint::create(api, model, std::borrow::Borrow::borrow(&body)).await;
                if let Ok(created) = &created {
                    tracing::Span::current()
                        .record("freepik_wan.task_id", created.data.task_id.as_str());
                    // Before the ticket ends: a sibling's uncertain
                    // create waits for it, then must see this as ours.
                    ledger.created(&TaskId::from(created.data.task_id.as_str()));
                }
                drop(ticket);
                created
            }
        })
        .await;
    let created = match created {
        Ok(created) => created,
        Err(error) if CreateFailure::of(&error) == CreateFailure::MayHaveActed => {
            span.record("freepik_wan.create.uncertain", true);
            span.record("freepik_wan.create.outcome", "uncertain");
            metric::create(model, "uncertain");
            let ticket = last_attempt.load(std::sync::atomic::Ordering::Relaxed);
            return Err(uncertain(client, model, ticket, error).await);
        }
        Err(error) => {
            let outcome = if error.is_quota() {
                "quota"
            } else if error.status().is_some() {
                "refused"
            } else {
                "failed"
            };
            span.record("freepik_wan.create.outcome", outcome);
            metric::create(model, outcome);
            return Err(error);
        }
    };
    span.record("freepik_wan.create.uncertain", false);
    span.record("freepik_wan.create.outcome", "accepted");
    span.record("freepik_wan.task_id", created.data.task_id.as_str());
    metric::create(model, "accepted");
    tracing::info!(task_id = %created.data.task_id, status = %created.data.status, %model, "task created");
    let id = TaskId::from(created.data.task_id).with_model(model);
    if with_webhook {
        // Its webhooks will say when it changes: waits on it poll only
        // as a fallback.
        client.shared.waiters.expect_webhooks(&id);
    }
    Ok(Task::new(id, created.data.status, Vec::new()))
}

impl IntoFuture for ImageToVideo {
    type Output = Result<Task>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Task>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send_observed())
    }
}

fn check_prompt(prompt: String) -> Result<types::CreateTaskRequestPrompt> {
    let chars = prompt.chars().count();
    if chars > MAX_PROMPT_CHARS {
        return Err(Error::Validation {
            field: "prompt",
            reason: format!("is {chars} characters; the limit is {MAX_PROMPT_CHARS}"),
        });
    }
    types::CreateTaskRequestPrompt::try_from(prompt).map_err(|e| Error::Validation {
        field: "prompt",
        reason: e.to_string(),
    })
}

/// The webhook URL as a valid URI, as `VideoRequest` sends it (one
/// conversion for every URL the SDK sends).
fn check_webhook_url(raw: String) -> Result<String> {
    crate::model::request::url_wire(&raw, "webhook_url")
}

/// The error for a create that may have made a task: the candidates are the
/// tasks a fresh list shows that are nobody's here and were not seen before
/// the attempt began, once every sibling attempt that could have made one of
/// them has ended. While none shows, the list is read again for the client's
/// uncertain grace: after a timeout or a cut the service may still be making
/// the task, and a list may lag behind creates.
async fn uncertain(client: &Client, model: Model, ticket: u64, cause: Error) -> Error {
    tracing::warn!(error = %cause, "the create may have made a task; looking for it");
    let ledger = &client.shared.ledger;
    if !ledger.baselined_before(model, ticket) {
        // The tasks already there were never listed (the baseline list
        // failed): any task, however old, would look new. Naming one could
        // hand the caller yesterday's video as today's.
        tracing::warn!(%model, "no list of the tasks already there: no task can be told to be the create's");
        ledger.uncertain(ticket);
        return Error::CreateUncertain(Box::new(UncertainCreate {
            resolution: model.resolution().unwrap_or_default(),
            model,
            candidates: Vec::new(),
            listed: false,
            baselined: false,
            cause: Box::new(cause),
            ticket,
        }));
    }
    let until = tokio::time::Instant::now() + client.shared.uncertain_grace;
    let mut settled = false;
    let (listed, candidates) = loop {
        let listed = client.tasks_at(model).await;
        if !settled {
            // A sibling create answered after this list may own one of its tasks.
            ledger.settle(client.shared.request_timeout).await;
            settled = true;
        }
        match listed {
            Ok(tasks) => {
                let candidates = ledger
                    .unclaimed_since(model, ticket, tasks)
                    .unwrap_or_default();
                let now = tokio::time::Instant::now();
                if !candidates.is_empty() || now >= until {
                    break (true, candidates);
                }
                tokio::time::sleep_until(until.min(now + UNCERTAIN_RELIST)).await;
            }
            Err(error) => {
                tracing::warn!(%error, "could not list the tasks to look for it");
                break (false, Vec::new());
            }
        }
    };
    ledger.uncertain(ticket);
    Error::CreateUncertain(Box::new(UncertainCreate {
        resolution: model.resolution().unwrap_or_default(),
        model,
        candidates,
        listed,
        baselined: true,
        cause: Box::new(cause),
        ticket,
    }))
}

/// How often an uncertain create lists again while it looks for its task.
const UNCERTAIN_RELIST: std::time::Duration = std::time::Duration::from_secs(2);

#[cfg(test)]
mod tests {
    #[test]
    fn the_webhook_url_is_sent_as_a_valid_uri_as_every_other_url_is() {
        let wire = super::check_webhook_url(" https://hooks.example/ä b?x=1 ".into()).unwrap();
        assert_eq!(wire, "https://hooks.example/%C3%A4%20b?x=1");
        assert!(super::check_webhook_url("hooks.example/x".into()).is_err());
    }
}
