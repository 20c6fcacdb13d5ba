//! `webhook verify` and `webhook listen`: both hand the raw bytes and the
//! three headers to the SDK's [`Verifier`], so the CLI checks exactly what a
//! user's own receiver would.

use std::io::{IsTerminal as _, Read as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use freepik_wan::webhook::{RecentIds, Verifier, WebhookError, WebhookEvent, WebhookSecret};
use serde_json::{Value, json};

use crate::args::{SecretKeying, Verify};
use crate::exit::{Code, Failure};
use crate::output::Output;
use crate::signal::interrupted;

/// `webhook verify`: exit 0 and print the event when the request verifies,
/// exit 1 and say which check failed when it does not.
pub fn verify(args: Verify, out: Output) -> Result<(), Failure> {
    let body = match &args.body {
        Some(path) => std::fs::read(path).map_err(|e| {
            Failure::new(Code::Usage, format!("cannot read {}: {e}", path.display()))
        })?,
        None => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                out.note("reading the webhook body from stdin (end it with Ctrl-D)");
            }
            let mut body = Vec::new();
            stdin
                .read_to_end(&mut body)
                .map_err(|e| Failure::new(Code::Usage, format!("cannot read stdin: {e}")))?;
            body
        }
    };
    let verifiers = Verifiers::new(&args.secret, args.secret_keying, args.tolerance);
    let event = verifiers
        .verify(|verifier| {
            verifier.verify_parts(
                &args.webhook_id,
                &args.webhook_timestamp,
                &args.webhook_signature,
                &body,
            )
        })
        .map_err(|e| {
            Failure::new(Code::Failed, format!("invalid webhook: {e}")).with("valid", json!(false))
        })?;
    out.note(format!(
        "valid webhook {} sent at {}",
        event.webhook_id, event.timestamp
    ));
    out.result(plain(&event), event_json(&event));
    Ok(())
}

/// `webhook listen`: serve `127.0.0.1:port` until Ctrl-C, printing each
/// verified event once (a redelivery of a `webhook-id` already shown is
/// acknowledged and noted on stderr as a repeat) and answering 401 to
/// anything that does not verify.
pub async fn listen(
    port: u16,
    secret: String,
    keying: SecretKeying,
    out: Output,
) -> Result<(), Failure> {
    let verifiers = Verifiers::new(&secret, keying, DEFAULT_TOLERANCE_SECS);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| Failure::new(Code::Service, format!("cannot listen on port {port}: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| Failure::new(Code::Service, format!("cannot listen on port {port}: {e}")))?;
    out.note(format!(
        "listening on http://{address}/ (POST, any path); Ctrl-C to stop"
    ));
    let app = Router::new()
        .fallback(receive)
        .with_state(Arc::new(Listener {
            verifiers,
            out,
            seen: RecentIds::default(),
        }));
    axum::serve(listener, app)
        .with_graceful_shutdown(interrupted())
        .await
        .map_err(|e| Failure::new(Code::Service, format!("the webhook listener stopped: {e}")))?;
    out.note("stopped");
    Ok(())
}

struct Listener {
    verifiers: Verifiers,
    out: Output,
    /// Senders redeliver with the same id: an event is printed once.
    seen: RecentIds,
}

/// Every request lands here: verified POSTs are printed and acknowledged.
async fn receive(
    State(listener): State<Arc<Listener>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    if method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "webhooks are POSTed\n");
    }
    match listener
        .verifiers
        .verify(|verifier| verifier.verify(&headers, &body))
    {
        Ok(event) if !listener.seen.first_time(&event.webhook_id) => {
            // Acknowledged, so the sender stops; noted, never printed as an event.
            listener.out.note(format!(
                "repeat of webhook {} (task {} {}): already shown",
                event.webhook_id, event.task_id, event.status
            ));
            (StatusCode::OK, "ok (repeat)\n")
        }
        Ok(event) => {
            listener.out.event(plain(&event), event_json(&event));
            (StatusCode::OK, "ok\n")
        }
        Err(error) => {
            // A refusal is an error for whoever runs the listener: always shown.
            listener.out.warn(format!("rejected a webhook: {error}"));
            (StatusCode::UNAUTHORIZED, "invalid webhook signature\n")
        }
    }
}

/// The Standard Webhooks tolerance for a timestamp's distance from now.
const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The verifiers a secret stands for, by `--secret-keying`: one key, or
/// with `auto` every keying Magnific's samples use, tried in turn. A forged
/// signature still fails each: trying a second key of the same secret adds
/// no key an attacker knows.
struct Verifiers(Vec<Verifier>);

impl Verifiers {
    fn new(secret: &str, keying: SecretKeying, tolerance_secs: u64) -> Self {
        let secret = secret.trim();
        let mut keys = Vec::new();
        match keying {
            SecretKeying::Text => keys.push(WebhookSecret::utf8(secret)),
            SecretKeying::Base64 => keys
                .push(WebhookSecret::base64(secret).unwrap_or_else(|_| WebhookSecret::new(secret))),
            SecretKeying::Auto => {
                if secret.starts_with("whsec_") {
                    keys.push(WebhookSecret::new(secret));
                }
                keys.push(WebhookSecret::utf8(secret));
                if !secret.starts_with("whsec_")
                    && let Ok(decoded) = WebhookSecret::base64(secret)
                {
                    keys.push(decoded);
                }
            }
        }
        let tolerance = Duration::from_secs(tolerance_secs);
        Verifiers(
            keys.into_iter()
                .map(|key| Verifier::new(key).tolerance(tolerance))
                .collect(),
        )
    }

    /// The first verifier's event that verifies, or the first one's error.
    fn verify(
        &self,
        check: impl Fn(&Verifier) -> Result<WebhookEvent, WebhookError>,
    ) -> Result<WebhookEvent, WebhookError> {
        let mut first_error = None;
        for verifier in &self.0 {
            match check(verifier) {
                Ok(event) => return Ok(event),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.expect("a secret stands for at least one key"))
    }
}

/// `task_id<TAB>status[<TAB>url...]`, the same layout as `status`.
fn plain(event: &WebhookEvent) -> String {
    let mut line = format!("{}\t{}", event.task_id, event.status);
    for url in &event.generated {
        line.push('\t');
        line.push_str(url);
    }
    line
}

fn event_json(event: &WebhookEvent) -> Value {
    json!({
        "valid": true,
        "webhook_id": event.webhook_id,
        "timestamp": event.timestamp,
        "task_id": event.task_id,
        "status": event.status,
        "urls": event.generated,
    })
}
