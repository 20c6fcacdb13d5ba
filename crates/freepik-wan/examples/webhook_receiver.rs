//! An axum endpoint that verifies Freepik's webhooks before trusting them.
//!
//! ```sh
//! FREEPIK_WEBHOOK_SECRET=... cargo run -p freepik-wan --example webhook_receiver
//! ```
//!
//! Then create tasks with `.webhook_url("https://<your tunnel>/freepik")`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use freepik_wan::webhook::Verifier;

async fn freepik(State(verifier): State<Verifier>, headers: HeaderMap, body: Bytes) -> StatusCode {
    // Verify against the raw bytes: re-serialized JSON would not match the signature.
    match verifier.verify(&headers, &body) {
        Ok(event) => {
            println!(
                "task {} is {} {:?}",
                event.task_id, event.status, event.generated
            );
            StatusCode::NO_CONTENT
        }
        Err(err) => {
            eprintln!("rejected a webhook: {err}");
            StatusCode::UNAUTHORIZED
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("FREEPIK_WEBHOOK_SECRET")
        .map_err(|_| "set FREEPIK_WEBHOOK_SECRET to the secret from the developer dashboard")?;
    let app = Router::new()
        .route("/freepik", post(freepik))
        .with_state(Verifier::new(secret));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}/freepik", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
