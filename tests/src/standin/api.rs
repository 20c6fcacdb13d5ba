//! The stand-in's API origin: the published Wan operations (create, status,
//! list) for every path the excerpt has, `request-url`, and the videos.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::spec::{Model, Schema, spec};
use super::{API_KEY_HEADERS, State, Task, seen, storage};

/// The Upload Files API's one operation.
pub(super) const REQUEST_URL: &str = "/v1/ai/uploads/request-url";

pub(super) async fn serve(listener: tokio::net::TcpListener, state: Arc<State>) {
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move { answer(&state, method, &uri, headers, body) }
        },
    );
    axum::serve(listener, app).await.unwrap();
}

fn answer(state: &State, method: Method, uri: &Uri, headers: HeaderMap, body: Bytes) -> Response {
    let request = seen(method.clone(), uri, headers, body);
    state.api_seen.lock().unwrap().push(request.clone());
    let path = uri.path();
    // A generated video: a CDN link, read without a key.
    if let Some(id) = path
        .strip_prefix("/videos/")
        .and_then(|p| p.strip_suffix(".mp4"))
    {
        if !state.tasks.lock().unwrap().contains_key(id) {
            return message(StatusCode::NOT_FOUND, "Not found");
        }
        return ([(header::CONTENT_TYPE, "video/mp4")], crate::SIM_VIDEO).into_response();
    }
    if let Some(refused) = unauthorized(state, &request.headers) {
        return refused;
    }
    if method == Method::POST && path == REQUEST_URL {
        return request_url(state, &request.body);
    }
    let models = &spec().models;
    if let Some(model) = models.iter().find(|m| m.path == path) {
        return match method {
            Method::POST => create(state, model, &request.body),
            Method::GET => list(state, model),
            _ => message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
        };
    }
    let task = models.iter().find_map(|m| {
        let id = path.strip_prefix(m.path.as_str())?.strip_prefix('/')?;
        Some((m, id))
    });
    match task {
        Some((model, id)) if method == Method::GET => status(state, model, id),
        _ => message(StatusCode::NOT_FOUND, "Not found"),
    }
}

/// The published 401s: `Missing API key`, `Invalid API key`.
fn unauthorized(state: &State, headers: &HeaderMap) -> Option<Response> {
    let keys: Vec<_> = API_KEY_HEADERS
        .iter()
        .filter_map(|h| headers.get(*h))
        .collect();
    if keys.is_empty() {
        return Some(message(StatusCode::UNAUTHORIZED, "Missing API key"));
    }
    let good = keys.iter().any(|k| *k == state.key.as_str());
    (!good).then(|| message(StatusCode::UNAUTHORIZED, "Invalid API key"))
}

fn create(state: &State, model: &Model, body: &Bytes) -> Response {
    let body = match parse(body, &model.body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let id = add_task(state, &model.path, false);
    state
        .creates
        .lock()
        .unwrap()
        .push((model.path.clone(), body));
    published(&model.created, task(&model.created, &id, "CREATED", &[]))
}

fn status(state: &State, model: &Model, id: &str) -> Response {
    let mut tasks = state.tasks.lock().unwrap();
    let Some(found) = tasks.get_mut(id).filter(|t| t.path == model.path) else {
        return message(StatusCode::NOT_FOUND, "Not found");
    };
    let answer = if found.running {
        task(&model.status, id, "IN_PROGRESS", &[])
    } else {
        // A fresh link on every answer, as a signed CDN URL would be.
        let url = format!("{}/videos/{id}.mp4?v={}", state.api, found.urls.len() + 1);
        found.urls.push(url.clone());
        task(&model.status, id, "COMPLETED", &[url])
    };
    published(&model.status, answer)
}

fn list(state: &State, model: &Model) -> Response {
    let tasks = state.tasks.lock().unwrap();
    let items: Vec<Value> = tasks
        .iter()
        .filter(|(_, t)| t.path == model.path)
        .map(|(id, t)| {
            let status = if t.running {
                "IN_PROGRESS"
            } else {
                "COMPLETED"
            };
            json!({"task_id": id, "status": status})
        })
        .collect();
    published(&model.list, json!({ "data": items }))
}

fn request_url(state: &State, body: &Bytes) -> Response {
    let upload = &spec().upload_answer;
    let body = match parse(body, &spec().upload_request) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let files: Vec<Value> = body["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|file| storage::stage(state, file["content_type"].as_str().unwrap_or_default()))
        .collect();
    published(upload, json!({ "files": files }))
}

/// A task of the model at `path`; its id (a UUID, as published).
pub(super) fn add_task(state: &State, path: &str, running: bool) -> String {
    let id = format!("5a4d0c3e-0000-4000-8000-{:012x}", state.id());
    let task = Task {
        path: path.to_owned(),
        running,
        urls: Vec::new(),
    };
    state.tasks.lock().unwrap().insert(id.clone(), task);
    id
}

/// `{"data": task}` with the fields `answer` requires of `data`.
fn task(answer: &Schema, id: &str, status: &str, generated: &[String]) -> Value {
    let mut data = serde_json::Map::new();
    for field in &answer.data_required {
        let value = match field.as_str() {
            "task_id" => json!(id),
            "status" => json!(status),
            "generated" => json!(generated),
            other => panic!("the stand-in knows no value for a required {other:?}"),
        };
        data.insert(field.clone(), value);
    }
    json!({ "data": data })
}

/// A JSON body valid against `schema`, or the 400 the service answers.
fn parse(body: &Bytes, schema: &Schema) -> Result<Value, Box<Response>> {
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(message(
            StatusCode::BAD_REQUEST,
            &format!("Invalid JSON body: {e}"),
        ))
    })?;
    let violations = schema.violations(&body);
    if violations.is_empty() {
        return Ok(body);
    }
    let params: Vec<Value> = violations
        .into_iter()
        .map(|(name, reason)| json!({"name": name, "reason": reason}))
        .collect();
    let problem = json!({
        "message": "Your request parameters didn't validate.",
        "invalid_params": params,
    });
    Err(Box::new(
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/problem+json")],
            problem.to_string(),
        )
            .into_response(),
    ))
}

/// `answer` as a 200, once checked against the published schema (a 500
/// saying so if the stand-in itself broke it).
fn published(schema: &Schema, answer: Value) -> Response {
    let broken = schema.violations(&answer);
    if !broken.is_empty() {
        let text = format!("the stand-in's answer breaks the published schema: {broken:?}");
        return message(StatusCode::INTERNAL_SERVER_ERROR, &text);
    }
    axum::Json(answer).into_response()
}

/// The published error body, `{"message": ...}`.
fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}
