//! Creating a task at any model: a [`VideoRequest`] checked, then sent
//! through the same create flow as every other (pacing, safe retries,
//! uncertain creates, webhooks).

use crate::client::Client;
use crate::create::send_create;
use crate::error::{Error, Result};
use crate::media::Media;
use crate::model::request::{inline as inline_wire, url_wire};
use crate::model::{CreateBody, VideoRequest};
use crate::task::{Task, TaskId, TaskStatus};
use crate::upload::UploadSource;

/// An upload's refusal of a file (`field: "file"`) names the request field
/// the file was given for.
fn name_the_field(error: Error, uploads: &[(usize, &'static str, UploadSource)]) -> Error {
    match error {
        Error::Validation {
            field: "file",
            reason,
        } => {
            let field = uploads
                .iter()
                .find(|(_, _, source)| reason.contains(&source.describe()))
                .map_or("file", |(_, field, _)| *field);
            Error::Validation { field, reason }
        }
        other => other,
    }
}

/// Runs a create in its `freepik_wan.create` span.
async fn observed(create: impl Future<Output = Result<Task>>) -> Result<Task> {
    use tracing::Instrument;
    async move {
        let result = create.await;
        crate::observe::record_outcome(&tracing::Span::current(), &result);
        result
    }
    .instrument(crate::observe::create_span())
    .await
}

impl Client {
    /// Checks `request` (every limit of its model's body, and the rules said
    /// only in prose; nothing is sent when one fails) and creates the task at
    /// its model's endpoint. The task's id remembers the model, so
    /// [`wait`](Client::wait), [`task`](Client::task) and
    /// [`download`](Client::download) reach it there.
    ///
    /// Retries, uncertain creates and webhooks work as for
    /// [`image_to_video`](Client::image_to_video).
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client) -> freepik_wan::Result<()> {
    /// use freepik_wan::Model;
    ///
    /// let model: Model = "text-to-video/wan-2-7".parse()?;
    /// let task = client
    ///     .create(model.request().prompt("a lighthouse at dawn, waves breaking").duration(5))
    ///     .await?;
    /// let done = client.wait(&task.id).await?;
    /// client.download(&done, "lighthouse.mp4").await?;
    /// # Ok(()) }
    /// ```
    pub async fn create(&self, request: VideoRequest) -> Result<Task> {
        // Boxed: the create's future (uploads, retries, the uncertain
        // search, their spans) is large, and a caller's stack holds it
        // inline otherwise (a debug build overflowed a test thread's 2 MiB).
        Box::pin(observed(async {
            let body = Box::pin(self.prepare(request)).await?;
            Box::pin(self.send_body(body)).await
        }))
        .await
    }

    /// Makes `request`'s body ready to send, as [`create`](Self::create)
    /// does before it sends: every check first (nothing is sent when one
    /// fails), then each local file uploaded where the model takes only
    /// URLs (one `request-url` call for all of them; a Wan 2.2 image up to
    /// the request's [`inline_limit`](VideoRequest::inline_limit) goes
    /// inline as base64), and last each task input fetched for its
    /// freshest video URL (it must be `COMPLETED`). A failed upload means
    /// no create.
    ///
    /// **Uploads are staging:** anyone holding an uploaded file's URL can
    /// read it for about a day; Magnific deletes it after about a week.
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client, clip: freepik_wan::TaskId) -> freepik_wan::Result<()> {
    /// use freepik_wan::Model;
    ///
    /// let edit: Model = "video-edit/wan-2-7".parse()?;
    /// // Edit the clip a finished task made: its freshest URL is sent.
    /// let body = client
    ///     .prepare(edit.request().video(&clip).prompt("make it night"))
    ///     .await?;
    /// let task = client.create_body(body).await?;
    /// # let _ = task;
    /// # Ok(()) }
    /// ```
    pub async fn prepare(&self, request: VideoRequest) -> Result<CreateBody> {
        Box::pin(self.prepare_reporting(request, None)).await
    }

    /// [`prepare`](Self::prepare), calling `progress` as the uploads' bytes
    /// go out (nothing is called when there is nothing to upload).
    pub async fn prepare_with_progress(
        &self,
        request: VideoRequest,
        progress: impl Fn(crate::Progress) + Send + Sync + 'static,
    ) -> Result<CreateBody> {
        Box::pin(self.prepare_reporting(request, Some(std::sync::Arc::new(progress)))).await
    }

    async fn prepare_reporting(
        &self,
        request: VideoRequest,
        progress: Option<crate::upload::ProgressFn>,
    ) -> Result<CreateBody> {
        request.check()?;
        let inputs = request.media_inputs();
        let mut wires: Vec<Option<String>> = vec![None; inputs.len()];
        let mut uploads: Vec<(usize, &'static str, UploadSource)> = Vec::new();
        for (i, (field, media, inline)) in inputs.iter().enumerate() {
            match media {
                Media::Url(url) => wires[i] = Some(url_wire(url, field)?),
                Media::Task(_) => {}
                _ if *inline => wires[i] = Some(inline_wire(media.clone(), field).await?),
                _ => {
                    let source = media.upload_source().expect("a file or bytes");
                    uploads.push((i, field, source));
                }
            }
        }
        if !uploads.is_empty() {
            let sources = uploads.iter().map(|(_, _, s)| s.clone()).collect();
            let staged = self
                .upload_all_reporting(sources, progress)
                .await
                .map_err(|e| name_the_field(e, &uploads))?;
            for ((i, _, _), uploaded) in uploads.iter().zip(staged) {
                wires[*i] = Some(uploaded.asset_url);
            }
        }
        // Last, so that the URL is as fresh as it can be when the create goes.
        for (i, (field, media, _)) in inputs.iter().enumerate() {
            if let Media::Task(id) = media {
                wires[i] = Some(self.finished_video_url(id, field).await?);
            }
        }
        let wires = wires
            .into_iter()
            .map(|w| w.expect("every input has its wire form"))
            .collect();
        request.finish(wires)
    }

    /// The video URL of a finished task, fetched now; a task that is not
    /// `COMPLETED` (or has no URL) is refused as `field`.
    async fn finished_video_url(&self, id: &TaskId, field: &'static str) -> Result<String> {
        let task = self.task(id.clone()).await?;
        match task.video_url() {
            Some(url) if task.status == TaskStatus::Completed => Ok(url.to_owned()),
            _ => Err(Error::Validation {
                field,
                reason: format!(
                    "task {id} at {} is {}, not COMPLETED with a video: wait for it first \
                     (`freepik-wan wait {id} --model {}`)",
                    id.model(),
                    task.status,
                    id.model()
                ),
            }),
        }
    }

    /// Creates the task for a body already checked by
    /// [`VideoRequest::build`].
    pub async fn create_body(&self, body: CreateBody) -> Result<Task> {
        Box::pin(observed(self.send_body(body))).await
    }

    async fn send_body(&self, body: CreateBody) -> Result<Task> {
        let model = body.model();
        // Moved, not copied, and shared by every attempt.
        let json = std::sync::Arc::new(body.into_json());
        let with_webhook = json.get("webhook_url").is_some_and(|url| url.is_string());
        send_create(self, model, with_webhook, || {
            let json = json.clone();
            async move { Ok(json) }
        })
        .await
    }
}
