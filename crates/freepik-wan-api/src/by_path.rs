//! The three operations every model shares, addressed by the model's path
//! (`{kind}/{segment}` under `/v1/ai/`) instead of one generated method per
//! path: every Wan endpoint has the same create, status and list, with the
//! same answers, so code that takes a model as data calls these. The
//! generated hooks run as for any generated call (the key headers, the
//! User-Agent, logging, error bodies rescued), and errors are the generated
//! client's own.

use progenitor_client::{ClientHooks, Error, OperationInfo, ResponseValue, encode_path};
use serde::de::DeserializeOwned;

use crate::error_body::DOCUMENTED_ERROR_STATUSES;
use crate::{Client, types};

impl Client {
    /// `POST /v1/ai/{model_path}` with `body` (already checked by the caller:
    /// this sends it as it is).
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan_api::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let body = serde_json::json!({"prompt": "a fox in the snow", "duration": 5});
    /// let created = client.create_at("text-to-video/wan-2-7", &body).await?;
    /// println!("{}", created.data.task_id);
    /// # Ok(()) }
    /// ```
    pub async fn create_at(
        &self,
        model_path: &str,
        body: &serde_json::Value,
    ) -> Result<ResponseValue<types::CreateTaskResponse>, Error<types::Error>> {
        let url = format!("{}/v1/ai/{}", self.baseurl, model_path.trim_matches('/'));
        let request = self
            .client
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body)
            .build()?;
        self.run("create_at", request).await
    }

    /// `GET /v1/ai/{model_path}/{task_id}`: one task, with its video URLs
    /// once it is `COMPLETED`.
    pub async fn task_at(
        &self,
        model_path: &str,
        task_id: &str,
    ) -> Result<ResponseValue<types::GetTaskResponse>, Error<types::Error>> {
        let url = format!(
            "{}/v1/ai/{}/{}",
            self.baseurl,
            model_path.trim_matches('/'),
            encode_path(task_id)
        );
        let request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .build()?;
        self.run("task_at", request).await
    }

    /// `GET /v1/ai/{model_path}`: the key's tasks there (without URLs).
    pub async fn tasks_at(
        &self,
        model_path: &str,
    ) -> Result<ResponseValue<types::ListTasksResponse>, Error<types::Error>> {
        let url = format!("{}/v1/ai/{}", self.baseurl, model_path.trim_matches('/'));
        let request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .build()?;
        self.run("tasks_at", request).await
    }

    /// Runs the hooks and the request, and sorts the answer as generated
    /// code does: a success decodes as `T`, a documented error status as the
    /// error body, anything else is unexpected.
    async fn run<T: DeserializeOwned>(
        &self,
        operation_id: &'static str,
        mut request: reqwest::Request,
    ) -> Result<ResponseValue<T>, Error<types::Error>> {
        let info = OperationInfo { operation_id };
        self.pre(&mut request, &info).await?;
        let result = self.exec(request, &info).await;
        self.post(&result, &info).await?;
        let response = result?;
        let status = response.status().as_u16();
        if status == 200 {
            ResponseValue::from_response(response).await
        } else if DOCUMENTED_ERROR_STATUSES.contains(&status) {
            Err(Error::ErrorResponse(
                ResponseValue::from_response(response).await?,
            ))
        } else {
            Err(Error::UnexpectedResponse(response))
        }
    }
}
