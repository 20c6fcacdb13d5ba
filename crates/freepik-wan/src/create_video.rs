//! Creating a task at any model: a [`VideoRequest`] checked, then sent
//! through the same create flow as every other (pacing, safe retries,
//! uncertain creates, webhooks).

use crate::client::Client;
use crate::create::send_create;
use crate::error::Result;
use crate::model::{CreateBody, VideoRequest};
use crate::task::Task;

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
        self.create_body(request.build().await?).await
    }

    /// Creates the task for a body already checked by
    /// [`VideoRequest::build`].
    pub async fn create_body(&self, body: CreateBody) -> Result<Task> {
        let model = body.model();
        let json = body.json();
        let with_webhook = json.get("webhook_url").is_some_and(|url| url.is_string());
        send_create(self, model, with_webhook, || {
            let json = json.clone();
            async move { Ok(json) }
        })
        .await
    }
}
