//! The HTTP surface: Freepik's paths and shapes, plus the `/files` "CDN".

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use freepik_wan_api::models::{MODELS, ModelInfo};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use crate::body::{BodyPlan, RangeAsk, parse_range};
use crate::credits::Credits;
use crate::faults::{AfterCreate, Dice, Gate, Operation, VideoFault};
use crate::lifecycle;
use crate::rate_limit::Limiter;
use crate::stats::{RequestRecord, StatsCollector};
use crate::tasks::{Owner, Quirk, Status, TaskDetail, TaskStore, TaskSummary, VideoAccess};
use crate::validate::{self, Rejection};
use crate::video::Video;
use crate::webhook;

/// Where the models live: each model's create and list path is this plus
/// `{kind}/{segment}`, and get is that plus `/{task-id}`.
const API_PREFIX: &str = "/v1/ai/";
/// Magnific's Upload Files API: signed upload URLs for files to stage.
const UPLOAD_PATH: &str = "/v1/ai/uploads/request-url";
/// The simulator's own counters as JSON, outside the API paths and without a
/// key, for tools in any language. Not counted in the stats themselves.
const STATS_PATH: &str = "/_sim/stats";
/// Large enough for a 10 MiB image in base64 (about 13.4 MiB) plus the other fields.
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Where the key may come: Magnific's header, or Freepik's from before the
/// rename. Either one carrying a known key is enough.
const API_KEY_HEADERS: [&str; 2] = ["x-magnific-api-key", "x-freepik-api-key"];

/// Everything the handlers share.
pub(crate) struct AppState {
    /// Accepted API keys; a task belongs to the index of the key that created it.
    pub(crate) keys: Vec<String>,
    pub(crate) processing_time: Duration,
    pub(crate) dice: Arc<Dice>,
    pub(crate) limiter: Limiter,
    pub(crate) video: Video,
    pub(crate) tasks: Arc<TaskStore>,
    pub(crate) credits: Arc<Credits>,
    pub(crate) stats: Arc<StatsCollector>,
    pub(crate) webhooks: webhook::Sender,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Staged files and the storage host.
    pub(crate) uploads: Arc<crate::uploads::Uploads>,
    /// The second origin video redirects point at
    /// ([`Faults::rate_video_redirect`](crate::Faults::rate_video_redirect)), e.g.
    /// `http://127.0.0.1:41235`; `None` when that fault is off.
    pub(crate) mirror_url: Option<String>,
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new().route("/", get(banner).fallback(method_not_allowed));
    // Every model of the spec, from the table the raw client's build writes: a
    // model a regenerated spec gains is served with no change here.
    for model in MODELS {
        let collection = format!("{API_PREFIX}{}", model.path());
        router = router
            .route(
                &collection,
                get(list_tasks)
                    .post(create_task)
                    .fallback(method_not_allowed)
                    .layer(Extension(Model(model))),
            )
            .route(
                &format!("{collection}/{{task_id}}"),
                get(get_task)
                    .fallback(method_not_allowed)
                    .layer(Extension(Model(model))),
            );
    }
    router
        .route(
            UPLOAD_PATH,
            axum::routing::post(request_upload_urls).fallback(method_not_allowed),
        )
        .route("/files/{file}", get(download).fallback(method_not_allowed))
        .route("/mirror/{file}", get(mirror).fallback(method_not_allowed))
        .route(STATS_PATH, get(stats).fallback(method_not_allowed))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// The model an API route serves, attached to each route.
#[derive(Clone, Copy)]
struct Model(&'static ModelInfo);

#[derive(Serialize)]
struct Data<T> {
    data: T,
}

/// A JSON `{"message": ...}` error, the shape of every Freepik error but the problem 400.
fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}

fn json_bytes<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("response types always serialize"))
}

/// Logs every request for [`crate::Stats`]: method, path and status, never headers (the
/// API key is a header).
async fn record(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if path == STATS_PATH {
        return response;
    }
    state.stats.record(RequestRecord {
        method,
        path,
        status: response.status().as_u16(),
    });
    response
}

/// The start of every API request: the configured latency, then authentication, which
/// comes before anything that could reveal whether a task exists. Returns the
/// index of the caller's key.
async fn admit(state: &AppState, headers: &HeaderMap) -> Result<usize, Response> {
    let latency = state.dice.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut sent = API_KEY_HEADERS
        .iter()
        .filter_map(|name| headers.get(*name))
        .filter(|value| !value.is_empty())
        .peekable();
    if sent.peek().is_none() {
        return Err(message(StatusCode::UNAUTHORIZED, "Missing API key"));
    }
    sent.find_map(|key| {
        state
            .keys
            .iter()
            .position(|known| known.as_bytes() == key.as_bytes())
    })
    .ok_or_else(|| message(StatusCode::UNAUTHORIZED, "Invalid API key"))
}

/// What every API operation does first: authenticate, apply the rate limit
/// of that key, then roll the fault dice (after the key check, so an injected
/// fault never hides a 401).
async fn admit_operation(
    state: &AppState,
    headers: &HeaderMap,
    op: Operation,
) -> Result<usize, Response> {
    let owner = admit(state, headers).await?;
    if op == Operation::Create {
        state.stats.create_attempted();
    }
    if let Err(wait) = state.limiter.admit(owner) {
        let mut response = message(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded. Please slow down.",
        );
        // Whole seconds, rounded up: a client that waits this long fits.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Err(response);
    }
    match injected_fault(state, op) {
        Some(response) => Err(response),
        None => Ok(owner),
    }
}

/// The injected answer for an authenticated API request of kind `op`, if the
/// dice say so (counted in the stats' `faults_drawn`).
fn injected_fault(state: &AppState, op: Operation) -> Option<Response> {
    let gate = state.dice.gate(op);
    let rate_limited = |retry_after: Option<u64>| {
        let mut response = message(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    };
    let (name, response) = match gate {
        Gate::Pass => return None,
        Gate::Unavailable => (
            "503",
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable. Please try again later.",
            ),
        ),
        Gate::RateLimited => (
            "429",
            rate_limited(Some(state.dice.faults().retry_after_secs)),
        ),
        Gate::RateLimitedNoRetryAfter => ("429_no_retry_after", rate_limited(None)),
        Gate::Html502 => ("html_502", gateway_error(502, "")),
        Gate::HtmlOk => ("html_ok", html_page()),
        Gate::LongRateLimit => ("status_long_429", rate_limited(Some(3600))),
        Gate::Quota => (
            "status_quota_429",
            message(
                StatusCode::TOO_MANY_REQUESTS,
                "Limit for free users reached.",
            ),
        ),
        Gate::Unauthorized => (
            "status_401",
            message(StatusCode::UNAUTHORIZED, "Invalid API key"),
        ),
    };
    state.stats.fault(name);
    Some(response)
}

/// A `200 text/html` page where JSON or a video was expected: what a captive
/// portal, a proxy's login page or a CDN's error page serves.
fn html_page() -> Response {
    let page = "<!DOCTYPE html>\n<html><head><title>Sign in to continue</title></head>\n\
                <body><h1>Sign in to the network</h1><p>Your session has expired.</p></body></html>\n";
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

async fn create_task(
    State(state): State<Arc<AppState>>,
    Extension(Model(model)): Extension<Model>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Decided before the task exists: a faulted create must leave nothing behind, since
    // clients retry creates only on answers that guarantee that.
    let owner = match admit_operation(&state, &headers, Operation::Create).await {
        Ok(owner) => owner,
        Err(response) => return response,
    };
    if state.dice.over_quota() {
        // A plan's limit: no Retry-After, since waiting does not help.
        return message(
            StatusCode::TOO_MANY_REQUESTS,
            "Limit for free users reached.",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is larger than 16 MiB.",
            );
        }
        Err(rejection) => return message(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    let request = match validate::validate_create(model, &body) {
        Ok(request) => request,
        Err(Rejection::Malformed(text)) => return message(StatusCode::BAD_REQUEST, &text),
        Err(Rejection::Invalid(params)) => {
            let body = json_bytes(&json!({
                "message": "Your request parameters didn't validate.",
                "invalid_params": params,
            }));
            return (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/problem+json")],
                body,
            )
                .into_response();
        }
    };
    // A staged file the create names must be uploaded, readable and of the
    // kind its field takes: the service could not fetch it otherwise.
    let unreadable = state.uploads.check_create(model, &body);
    if !unreadable.is_empty() {
        let params: Vec<_> = unreadable
            .into_iter()
            .map(|(name, reason)| json!({"name": name, "reason": reason}))
            .collect();
        let body = json_bytes(&json!({
            "message": "Your request parameters didn't validate.",
            "invalid_params": params,
        }));
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
    }
    if let Some(secs) = state.dice.faults().create_retry_after {
        let mut response = message(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return response;
    }
    if state.dice.hold_create() {
        // Never answered, never made: until the client gives up.
        let mut shutdown = state.shutdown.clone();
        let _ = shutdown.wait_for(|stop| *stop).await;
        return message(StatusCode::SERVICE_UNAVAILABLE, "Shutting down");
    }
    if !state.credits.spend() {
        return message(StatusCode::PAYMENT_REQUIRED, "Not enough credits");
    }
    let fails = state.dice.task_fails();
    let after = state.dice.after_create();
    let quirks = state.dice.task_quirks();
    let webhook = request
        .webhook_url
        .map(|url| state.webhooks.spawn_worker(url));
    let owner = Owner { key: owner, model };
    let task_id = state.tasks.create(owner, webhook, quirks);
    state.stats.create_accepted(model, &task_id);
    let stats = &state.stats;
    if fails {
        stats.fault("task_failure");
    }
    if quirks.completed_without_url > 0 {
        stats.fault("completed_no_url");
    }
    match quirks.generated_before {
        crate::faults::GeneratedShape::Empty => {}
        crate::faults::GeneratedShape::Null => stats.fault("generated_null"),
        crate::faults::GeneratedShape::Missing => stats.fault("generated_missing"),
    }
    match after {
        AfterCreate::Answer => {}
        AfterCreate::GatewayError(status) => stats.fault(&format!("create_gateway_{status}")),
        AfterCreate::Cut => stats.fault("create_cut"),
        AfterCreate::Late(_) => stats.fault("create_late"),
    }
    lifecycle::spawn(
        state.tasks.clone(),
        task_id.clone(),
        state.processing_time,
        fails,
        state.shutdown.clone(),
    );
    let answered_id = task_id.clone();
    let status = Status::Created.as_str();
    // Wan 2.7's create answers with the detail envelope, `generated: []`, as
    // its spec types it; the others with the bare task.
    let answer = if model.create_detail {
        axum::Json(Data {
            data: TaskDetail {
                task_id,
                status,
                generated: Vec::new(),
            },
        })
        .into_response()
    } else {
        axum::Json(Data {
            data: TaskSummary { task_id, status },
        })
        .into_response()
    };
    // The task exists from here on, whatever the client hears.
    match after {
        AfterCreate::Answer => {
            state.stats.create_answered(&answered_id);
            answer
        }
        AfterCreate::Late(delay) => {
            // A client that hung up drops this future here: not answered.
            tokio::time::sleep(delay).await;
            state.stats.create_answered(&answered_id);
            answer
        }
        AfterCreate::GatewayError(status) => {
            gateway_error(status, &state.dice.faults().redirect_to)
        }
        AfterCreate::Cut => crate::body::dropped_connection(),
    }
}

/// `POST /v1/ai/uploads/request-url`: an API operation like any other (the
/// key, the rate limit, the dice), answering one signed upload target per
/// file, in order.
async fn request_upload_urls(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Faulted like a list: it makes nothing a retry could make twice.
    if let Err(response) = admit_operation(&state, &headers, Operation::List).await {
        return response;
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return message(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    match state.uploads.request_urls(&body) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(reason) => message(StatusCode::BAD_REQUEST, &reason),
    }
}

/// The HTML page a gateway (nginx, a CDN, Cloudflare) sends when it lost the backend's
/// answer; a `3xx` also points elsewhere, as a misrouted proxy does.
fn gateway_error(status: u16, redirect_to: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let reason = status.canonical_reason().unwrap_or(match status.as_u16() {
        520 => "Web Server Returned an Unknown Error",
        524 => "A Timeout Occurred",
        _ => "Error",
    });
    let page = format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n\
         <center><h1>{code} {reason}</h1></center>\r\n</body>\r\n</html>\r\n",
        code = status.as_u16()
    );
    let mut response = (status, [(header::CONTENT_TYPE, "text/html")], page).into_response();
    if status.is_redirection()
        && let Ok(location) = HeaderValue::from_str(redirect_to)
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn get_task(
    State(state): State<Arc<AppState>>,
    Extension(Model(model)): Extension<Model>,
    headers: HeaderMap,
    task_id: Result<Path<String>, PathRejection>,
) -> Response {
    let owner = match admit_operation(&state, &headers, Operation::Status).await {
        Ok(owner) => owner,
        Err(response) => return response,
    };
    let owner = Owner { key: owner, model };
    let cut = state.dice.reset();
    if cut {
        state.stats.fault("reset");
    }
    // A path that does not even decode cannot name a task.
    let detail = task_id
        .ok()
        .and_then(|Path(id)| state.tasks.detail(owner, &id, state.dice.is_calm()));
    match detail {
        Some((detail, quirk)) => {
            match quirk {
                Quirk::None => {}
                Quirk::CompletedNoUrl => state.stats.fault("completed_no_url_answer"),
                Quirk::GeneratedNull => state.stats.fault("generated_null_answer"),
                Quirk::GeneratedMissing => state.stats.fault("generated_missing_answer"),
            }
            BodyPlan::bytes(json_bytes(&Data { data: detail }), cut)
                .into_response("application/json")
        }
        None => message(StatusCode::NOT_FOUND, "Task not found"),
    }
}

async fn list_tasks(
    State(state): State<Arc<AppState>>,
    Extension(Model(model)): Extension<Model>,
    headers: HeaderMap,
) -> Response {
    let owner = match admit_operation(&state, &headers, Operation::List).await {
        Ok(key) => Owner { key, model },
        Err(response) => return response,
    };
    let cut = state.dice.reset();
    if cut {
        state.stats.fault("reset");
    }
    let data = state.tasks.list(owner);
    BodyPlan::bytes(json_bytes(&Data { data }), cut).into_response("application/json")
}

/// The generated video, like a CDN URL: no API key, no API faults, but resets and
/// throttling, and single byte ranges so a client can resume a cut download.
async fn download(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    file: Result<Path<String>, PathRejection>,
) -> Response {
    let fault = state.dice.video();
    let file = file.ok().map(|Path(file)| file);
    let id = file.as_deref().and_then(|file| file.strip_suffix(".mp4"));
    let access = id.map_or(VideoAccess::NotFound, |id| {
        state.tasks.video_access(id, query.as_deref())
    });
    match access {
        VideoAccess::Granted => {}
        VideoAccess::NotFound => return message(StatusCode::NOT_FOUND, "File not found"),
        VideoAccess::Expired => {
            state.stats.fault("url_expired");
            return access_denied();
        }
    }
    let id = id.unwrap_or_default();
    let name = match fault {
        VideoFault::None => None,
        VideoFault::Reset => Some("video_reset"),
        VideoFault::Html => Some("video_html"),
        VideoFault::CutNoLength => Some("video_cut_no_length"),
        VideoFault::Redirect => Some("video_redirect").filter(|_| state.mirror_url.is_some()),
    };
    if let Some(name) = name {
        state.stats.fault(name);
    }
    match (fault, &state.mirror_url) {
        (VideoFault::Html, _) => return html_page(),
        (VideoFault::CutNoLength, _) => {
            return video_plan(&state, false, id).into_half_without_length("video/mp4");
        }
        (VideoFault::Redirect, Some(mirror)) => {
            let mut response = StatusCode::FOUND.into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("{mirror}/mirror/{id}.mp4")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return response;
        }
        _ => {}
    }
    serve_video(video_plan(&state, fault == VideoFault::Reset, id), &headers)
}

/// The video of task `id` as configured (throttled, tagged), cut half-way
/// when `cut`.
fn video_plan(state: &AppState, cut: bool, id: &str) -> BodyPlan {
    let faults = state.dice.faults();
    let tag = faults.tag_videos.then_some(id);
    state.video.plan(cut, faults.download_bytes_per_sec, tag)
}

/// The second origin a video redirect points at: serves the task's video
/// with no faults, and counts a `Referer` that carries a URL's token (the
/// secret of the signed link it came from).
async fn mirror(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    file: Result<Path<String>, PathRejection>,
) -> Response {
    let leaked = headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|referer| referer.contains("token="));
    if leaked {
        state.stats.referer_token_leak();
    }
    let file = file.ok().map(|Path(file)| file);
    let Some(id) = file.as_deref().and_then(|file| file.strip_suffix(".mp4")) else {
        return message(StatusCode::NOT_FOUND, "File not found");
    };
    if !state.tasks.is_completed(id) {
        return message(StatusCode::NOT_FOUND, "File not found");
    }
    serve_video(video_plan(&state, false, id), &headers)
}

/// A video answer: the whole body, or the byte range asked for.
fn serve_video(plan: BodyPlan, headers: &HeaderMap) -> Response {
    let len = plan.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    let mut response = match parse_range(range, len) {
        RangeAsk::Full => plan.into_response("video/mp4"),
        RangeAsk::Part { start, end } => {
            let mut response = plan
                .slice(start, end)
                .into_response_with(StatusCode::PARTIAL_CONTENT, "video/mp4");
            let content_range = format!("bytes {start}-{}/{len}", end - 1);
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range).expect("digits are a valid header"),
            );
            response
        }
        RangeAsk::Unsatisfiable => {
            let mut response = message(StatusCode::RANGE_NOT_SATISFIABLE, "Range not satisfiable");
            let content_range = format!("bytes */{len}");
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range).expect("digits are a valid header"),
            );
            response
        }
    };
    response
        .headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

/// What cloud storage answers a signed link past its expiry.
fn access_denied() -> Response {
    let page = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
                <Message>Request has expired</Message><X-Amz-Expires>3600</X-Amz-Expires></Error>";
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/xml")],
        page,
    )
        .into_response()
}

async fn stats(State(state): State<Arc<AppState>>) -> Response {
    let mut stats = state.stats.snapshot(state.tasks.len());
    stats.uploads = state.uploads.stats();
    axum::Json(stats.to_json()).into_response()
}

async fn banner() -> String {
    let mut text = format!(
        "freepik-wan-sim {}: an offline simulator of Magnific's (formerly Freepik's) Wan video API, {} models.\n\
         POST/GET /v1/ai/{{kind}}/{{segment}}, GET /v1/ai/{{kind}}/{{segment}}/{{task-id}} for each of:\n",
        env!("CARGO_PKG_VERSION"),
        MODELS.len()
    );
    for model in MODELS {
        text.push_str(&format!(
            "  {API_PREFIX}{}  (Wan {})\n",
            model.path(),
            model.family
        ));
    }
    text
}

/// 405 with an `Allow` header. API paths authenticate first, like every other API answer.
async fn method_not_allowed(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let path = request.uri().path();
    if path.starts_with("/v1/")
        && let Err(response) = admit(&state, request.headers()).await
    {
        return response;
    }
    let collection = path
        .strip_prefix(API_PREFIX)
        .is_some_and(|rest| MODELS.iter().any(|m| m.path() == rest));
    let allow = if collection {
        "GET, HEAD, POST"
    } else if path == UPLOAD_PATH {
        "POST"
    } else {
        "GET, HEAD"
    };
    let mut response = message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

async fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not found")
}
