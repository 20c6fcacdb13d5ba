//! The client: configuration, and the three API calls with retries and
//! typed errors.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::model::Model;
use crate::pace::{Pacer, Priority, RateLimit};
use crate::poller::Waiters;
#[allow(unused_imports)] // named in docs
use crate::resolution::Resolution;
use crate::retry::{Idempotency, RetryPolicy};
use crate::task::{Task, TaskId};
use crate::wait_options::WaitOptions;

/// Where the API is served: `https://api.magnific.com`, the host Magnific's
/// (formerly Freepik's) current published document names.
pub const DEFAULT_BASE_URL: &str = freepik_wan_api::DEFAULT_BASE_URL;

/// `https://api.freepik.com`: the same service under its former name, for
/// [`ClientBuilder::base_url`] where the old host must be kept.
pub const LEGACY_FREEPIK_BASE_URL: &str = freepik_wan_api::LEGACY_FREEPIK_BASE_URL;

/// The environment variable [`Client::from_env`] reads the API key from,
/// under the service's former name (see [`MAGNIFIC_API_KEY_ENV`]).
pub const API_KEY_ENV: &str = "FREEPIK_API_KEY";
/// The environment variable [`Client::from_env`] reads a base URL from
/// (optional; see [`MAGNIFIC_BASE_URL_ENV`]).
pub const BASE_URL_ENV: &str = "FREEPIK_BASE_URL";
/// The API key under the service's current name; wins over [`API_KEY_ENV`]
/// when both are set.
pub const MAGNIFIC_API_KEY_ENV: &str = "MAGNIFIC_API_KEY";
/// A base URL under the service's current name; wins over [`BASE_URL_ENV`]
/// when both are set.
pub const MAGNIFIC_BASE_URL_ENV: &str = "MAGNIFIC_BASE_URL";

/// The first of `names` that is set (and not empty), with its name. When
/// another one is set to something else, a warning names the winner, never
/// the values (one of them is a key).
fn first_var(names: [&'static str; 2]) -> Option<(&'static str, String)> {
    let var = |name: &'static str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| (name, v))
    };
    let [first, second] = names.map(var);
    if let (Some((winner, a)), Some((loser, b))) = (&first, &second)
        && a != b
    {
        tracing::warn!("{winner} and {loser} are both set and differ; using {winner}");
    }
    first.or(second)
}

/// A client for Magnific's Wan video API: every model, Wan 2.2 to 2.7
/// ([`Model`]), created, waited for and downloaded the same way.
///
/// Cheap to clone (one shared connection pool); make one and reuse it.
///
/// ```no_run
/// # async fn run() -> freepik_wan::Result<()> {
/// let client = freepik_wan::Client::from_env()?;
/// let task = client
///     .image_to_video("photo.jpg")
///     .prompt("the camera slowly pushes in")
///     .send()
///     .await?;
/// let done = client.wait(&task.id).await?;
/// client.download(&done, "out.mp4").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) api: freepik_wan_api::Client,
    /// Every API call of this client and its clones goes through it.
    pub(crate) pacer: Pacer,
    /// The waits in progress, served by one poller.
    pub(crate) waiters: Waiters,
    /// The tasks this client has seen and owns, for uncertain creates.
    pub(crate) ledger: Ledger,
    /// The per-request timeout of API calls (30 s unless configured).
    pub(crate) request_timeout: Duration,
    /// How long an uncertain create looks for its task.
    pub(crate) uncertain_grace: Duration,
    /// For downloads: no overall timeout (videos can be large), and never the
    /// API key (the video URLs may point at a third-party CDN).
    pub(crate) download_http: reqwest::Client,
    /// For upload PUTs to signed storage URLs: never the key, and never a
    /// redirect followed (the signature is for that one URL).
    pub(crate) storage_http: reqwest::Client,
    /// What this client uploaded, by content hash.
    pub(crate) uploads: crate::upload::Uploads,
    pub(crate) retry: RetryPolicy,
    pub(crate) wait: WaitOptions,
    pub(crate) base_url: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.shared.base_url)
            .field("api_key", &"[redacted]")
            .field("retry", &self.shared.retry)
            .field("wait", &self.shared.wait)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the real service with `api_key` and default settings.
    pub fn new(api_key: impl Into<String>) -> Result<Client> {
        Client::builder().api_key(api_key).build()
    }

    /// A client configured from the environment: the key from
    /// `MAGNIFIC_API_KEY` or `FREEPIK_API_KEY`, and the base URL from
    /// `MAGNIFIC_BASE_URL` or `FREEPIK_BASE_URL` when set (e.g. a simulator).
    /// Where both names are set, the `MAGNIFIC_` one wins.
    pub fn from_env() -> Result<Client> {
        Client::builder().from_env().build()
    }

    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL requests go to (without a trailing slash).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The generated raw client underneath, for anything this crate does not
    /// cover: it shares this client's connection pool, base URL and key (but
    /// not its checks, pacing or retries). Its types are in
    /// [`freepik_wan::raw`](crate::raw), no second dependency needed.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use freepik_wan::raw::types;
    ///
    /// let client = freepik_wan::Client::from_env()?;
    /// // A generated operation, called directly: list the 720p tasks.
    /// let listed = client.raw().list_wan_v22_720p_tasks().send().await?;
    /// for task in listed.into_inner().data {
    ///     println!("{} {}", task.task_id, task.status);
    /// }
    /// let body = types::CreateTaskRequest::builder().image("https://example.com/cat.jpg");
    /// let created = client.raw().create_video_wan_v22_480p().body(body).send().await?;
    /// println!("created {}", created.data.task_id);
    /// # Ok(()) }
    /// ```
    pub fn raw(&self) -> &freepik_wan_api::Client {
        &self.shared.api
    }

    /// Fetches one task: its status and, once complete, its video URLs.
    ///
    /// Retried on connection errors, 408, 429 and 5xx by the retry policy.
    pub async fn task(&self, id: impl Into<TaskId>) -> Result<Task> {
        let id = id.into();
        if id.as_str().trim().is_empty() {
            return Err(Error::Validation {
                field: "task_id",
                reason: "is empty".into(),
            });
        }
        let api = &self.shared.api;
        let detail = self
            .api_call("get_task", Idempotency::Idempotent, || {
                crate::endpoint::get(api, id.model(), id.as_str())
            })
            .await?
            .data;
        // The id asked for, not the one answered: they are one task (ids are
        // compared canonically), and waits are registered under the former.
        self.shared.ledger.saw(&id);
        Ok(Task::new(
            id,
            detail.status,
            detail.generated.unwrap_or_default(),
        ))
    }

    /// Lists this key's Wan 2.2 580p tasks (without video URLs: fetch a
    /// task for those); [`tasks_at`](Self::tasks_at) lists another model's.
    pub async fn tasks(&self) -> Result<Vec<Task>> {
        self.tasks_at(Model::default()).await
    }

    /// Lists this key's tasks at one model's endpoint (a [`Model`], or a
    /// Wan 2.2 [`Resolution`]); each id remembers that model.
    pub async fn tasks_at(&self, model: impl Into<Model>) -> Result<Vec<Task>> {
        let model = model.into();
        let api = &self.shared.api;
        let list = self
            .api_call("list_tasks", Idempotency::Idempotent, || {
                crate::endpoint::list(api, model)
            })
            .await?;
        let tasks: Vec<Task> = list
            .data
            .into_iter()
            .map(|t| {
                let id = TaskId::from(t.task_id).with_model(model);
                Task::new(id, t.status, Vec::new())
            })
            .collect();
        self.shared.ledger.listed(model, &tasks);
        Ok(tasks)
    }
}

impl Client {
    /// One API call: paced, retried as the policy says, and a `429` pauses
    /// every call of this client for its `Retry-After` (1 s without one); a
    /// call that would wait out a pause past its retry budget fails at once
    /// with a 429 of its own ([`Error::rate_limited`]); a quota `429`
    /// ([`Error::QuotaExceeded`]) neither retries nor pauses.
    /// Downloads from video URLs are not API calls and do not come here.
    pub(crate) async fn api_call<T, F, Fut>(
        &self,
        operation: &'static str,
        kind: Idempotency,
        mut call: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let pacer = &self.shared.pacer;
        let priority = match kind {
            Idempotency::Create => Priority::Create,
            Idempotency::Idempotent => Priority::of_read(),
        };
        // A 429's pause longer than the call may wait in all fails it at
        // once, rather than freezing it (and the caller) for the pause.
        let deadline = tokio::time::Instant::now() + self.shared.retry.budget;
        self.shared
            .retry
            .run(operation, kind, || {
                let attempt = call();
                async move {
                    // Counted as in flight until the answer is in.
                    let asked = std::time::Instant::now();
                    let _sent = pacer.ready(priority, deadline).await?;
                    let paced = asked.elapsed();
                    tracing::Span::current()
                        .record("freepik_wan.paced_ms", paced.as_millis() as u64);
                    crate::observe::metric::paced(operation, paced);
                    let result = attempt.await;
                    // A quota answer is no reason to slow the others down.
                    if let Err(error) = &result
                        && error.status().is_some_and(|s| s.as_u16() == 429)
                        && !error.is_quota()
                    {
                        pacer.pause(error.retry_after().unwrap_or(Duration::from_secs(1)));
                    }
                    result
                }
            })
            .await
    }
}

/// Configures a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use freepik_wan::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .api_key("fpk-...")
///     .base_url("http://127.0.0.1:8080/")
///     .timeout(Duration::from_secs(20))
///     .retry(RetryPolicy::default().max_retries(5))
///     .user_agent_suffix("my-app/1.2")
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "http://127.0.0.1:8080");
/// ```
#[derive(Default)]
#[must_use = "a builder does nothing until built"]
pub struct ClientBuilder {
    api_key: Option<SecretString>,
    base_url: Option<String>,
    http: Option<reqwest::Client>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    wait: Option<WaitOptions>,
    rate_limit: Option<RateLimit>,
    user_agent_suffix: Option<String>,
    min_upload_rate: Option<u64>,
    uncertain_grace: Option<Duration>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The API key from the Magnific (formerly Freepik) dashboard, sent as
    /// `x-magnific-api-key` and `x-freepik-api-key`; never printed.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Another base URL, e.g. the simulator's, or [`LEGACY_FREEPIK_BASE_URL`]
    /// (default [`DEFAULT_BASE_URL`], `https://api.magnific.com`); a
    /// trailing slash is fine.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Reads the key from `MAGNIFIC_API_KEY` or `FREEPIK_API_KEY` and the
    /// base URL from `MAGNIFIC_BASE_URL` or `FREEPIK_BASE_URL`, where set
    /// (the `MAGNIFIC_` name wins when both are set; a warning says so when
    /// they differ). Values given to the builder, before or after, win over
    /// the environment.
    pub fn from_env(mut self) -> Self {
        if self.api_key.is_none()
            && let Some((_, key)) = first_var([MAGNIFIC_API_KEY_ENV, API_KEY_ENV])
        {
            self = self.api_key(key);
        }
        if self.base_url.is_none() {
            self.base_url = first_var([MAGNIFIC_BASE_URL_ENV, BASE_URL_ENV]).map(|(_, url)| url);
        }
        self
    }

    /// Your own `reqwest::Client` (proxies, TLS roots, pools). Its timeouts
    /// are used as they are: [`timeout`](Self::timeout) does not apply to it.
    /// Build it with `redirect(reqwest::redirect::Policy::none())`: the
    /// client's own never follows redirects on API calls, since the key
    /// headers would follow them to another host. Build it with
    /// `referer(false)` too: downloads follow redirects, and a `Referer`
    /// would carry the signed video URL's token to the next host.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The limit for one API request, connection included (default 30 s).
    /// Downloads have no overall limit, only this one between reads.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The slowest upload a create allows for, in bytes per second (default
    /// 64 KiB/s): a create's timeout is [`timeout`](Self::timeout) plus its
    /// body's size at this rate, so a 13 MiB base64 image gets about 3.5
    /// more minutes instead of being cut off, and its task left uncertain.
    pub fn min_upload_rate(mut self, bytes_per_sec: u64) -> Self {
        self.min_upload_rate = Some(bytes_per_sec.max(1));
        self
    }

    /// How long an uncertain create keeps looking for its task in the list
    /// before reporting that none appeared (default 30 s): after a timeout
    /// or a cut connection the service may still be making it, and a list
    /// may lag behind creates.
    pub fn uncertain_grace(mut self, grace: Duration) -> Self {
        self.uncertain_grace = Some(grace);
        self
    }

    /// The limit for opening a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How failed calls are retried (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// How fast the client may call the API (default [`RateLimit::freepik`],
    /// inside the service's published limits); clones share it.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// How [`Client::wait`] polls by default.
    pub fn wait_options(mut self, options: WaitOptions) -> Self {
        self.wait = Some(options);
        self
    }

    /// Appended to the `User-Agent` (`freepik-wan/<version> <suffix>`).
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// Builds the client; fails when the key is missing or the base URL is not
    /// an absolute http(s) URL.
    pub fn build(self) -> Result<Client> {
        let key = self.api_key.ok_or_else(|| {
            Error::Config(format!(
                "no API key: set {MAGNIFIC_API_KEY_ENV} (or {API_KEY_ENV}) or call ClientBuilder::api_key"
            ))
        })?;
        if key.expose_secret().trim().is_empty() {
            return Err(Error::Config("the API key is empty".into()));
        }
        let base_url = self
            .base_url
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let parsed = url::Url::parse(&base_url)
            .map_err(|e| Error::Config(format!("base URL {base_url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(Error::Config(format!(
                "base URL {base_url:?} must be an absolute http(s) URL"
            )));
        }
        let base_url = base_url.trim_end_matches('/').to_string();

        let mut agent = format!("freepik-wan/{}", env!("CARGO_PKG_VERSION"));
        if let Some(suffix) = &self.user_agent_suffix {
            agent.push(' ');
            agent.push_str(suffix);
        }
        let inner = freepik_wan_api::DefaultHeaders::with_api_key(key.expose_secret())
            .map_err(|e| Error::Config(e.to_string()))?
            .with_user_agent(&agent);

        let connect_timeout = self.connect_timeout.unwrap_or(Duration::from_secs(10));
        let timeout = self.timeout.unwrap_or(Duration::from_secs(30));
        let inner = inner.with_upload_timeout(freepik_wan_api::UploadTimeout {
            base: timeout,
            min_bytes_per_sec: self.min_upload_rate.unwrap_or(64 * 1024),
        });
        let storage_http = match &self.http {
            Some(http) => http.clone(),
            None => reqwest::Client::builder()
                .user_agent(agent.clone())
                .connect_timeout(connect_timeout)
                .read_timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .referer(false)
                .build()
                .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?,
        };
        let (api_http, download_http) = match self.http {
            Some(http) => (http.clone(), http),
            None => {
                // No `Referer` on a redirect: a signed video URL's token
                // would go with it to the host redirected to.
                let base = || {
                    reqwest::Client::builder()
                        .user_agent(agent.clone())
                        .connect_timeout(connect_timeout)
                        .referer(false)
                };
                // Never follow a redirect with the key: reqwest drops
                // `Authorization` on a cross-host redirect, but not the
                // service's own key headers.
                let api = base()
                    .timeout(timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build();
                let download = base().read_timeout(timeout).build();
                match (api, download) {
                    (Ok(a), Ok(d)) => (a, d),
                    (Err(e), _) | (_, Err(e)) => {
                        return Err(Error::Config(format!(
                            "could not build the HTTP client: {e}"
                        )));
                    }
                }
            }
        };
        Ok(Client {
            shared: Arc::new(Shared {
                api: freepik_wan_api::Client::new_with_client(&base_url, api_http, inner),
                pacer: Pacer::new(&self.rate_limit.unwrap_or_default()),
                waiters: Waiters::default(),
                ledger: Ledger::default(),
                request_timeout: timeout,
                uncertain_grace: self.uncertain_grace.unwrap_or(Duration::from_secs(30)),
                download_http,
                storage_http,
                uploads: crate::upload::Uploads::default(),
                retry: self.retry.unwrap_or_default(),
                wait: self.wait.unwrap_or_default(),
                base_url,
            }),
        })
    }
}
