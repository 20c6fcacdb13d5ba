//! The whole webhook loop: an axum endpoint verifies each webhook and hands
//! it to the client, whose waits then end the moment the task does, with
//! polling slowed to a 30 s fallback in case a webhook is lost.
//!
//! ```sh
//! MAGNIFIC_API_KEY=... FREEPIK_WEBHOOK_SECRET=... \
//! PUBLIC_URL=https://<your tunnel> \
//!     cargo run -p freepik-wan --example webhook_receiver -- photo.jpg
//! ```
//!
//! Against the simulator (`freepik-wan simulate` prints its URL, key and
//! webhook secret) set `MAGNIFIC_BASE_URL` to it and `PUBLIC_URL` to
//! `http://127.0.0.1:3000`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use freepik_wan::Client;
use freepik_wan::webhook::Verifier;

#[derive(Clone)]
struct Receiver {
    client: Client,
    verifier: Verifier,
}

async fn freepik(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    // Verify against the raw bytes: re-serialized JSON would not match the signature.
    match receiver.verifier.verify(&headers, &body) {
        Ok(event) => {
            println!("webhook: task {} is {}", event.task_id, event.status);
            // Wakes any wait on this task at once.
            receiver.client.deliver(&event);
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
    let image = std::env::args()
        .nth(1)
        .ok_or("usage: webhook_receiver IMAGE")?;
    let secret = std::env::var("FREEPIK_WEBHOOK_SECRET")
        .map_err(|_| "set FREEPIK_WEBHOOK_SECRET to the secret from the developer dashboard")?;
    let public = std::env::var("PUBLIC_URL")
        .map_err(|_| "set PUBLIC_URL to where the service can reach this machine's port 3000")?;

    // One client for the receiver and the waits: `deliver` reaches the
    // waits of the client (and clones) it is called on.
    let client = Client::from_env()?;
    let receiver = Receiver {
        client: client.clone(),
        verifier: Verifier::new(secret),
    };
    let app = Router::new()
        .route("/freepik", post(freepik))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let task = client
        .image_to_video(image)
        .prompt("gentle waves, golden hour")
        .webhook_url(format!("{}/freepik", public.trim_end_matches('/')))
        .await?;
    let done = client.wait(&task.id).await?;
    let saved = client.download(&done, format!("{}.mp4", done.id)).await?;
    println!("saved {}", saved.path.display());
    Ok(())
}
