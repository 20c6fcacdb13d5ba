//! The whole job in a few lines: create from a file, wait, download.
//!
//! ```sh
//! FREEPIK_API_KEY=... cargo run -p freepik-wan --example quickstart -- photo.jpg
//! ```
//!
//! Set `FREEPIK_BASE_URL` to a simulator's URL (`freepik-wan simulate`) to
//! try it without a key.

#[tokio::main]
async fn main() -> freepik_wan::Result<()> {
    let image = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "assets/sample.jpg".into());
    let client = freepik_wan::Client::from_env()?;
    let task = client
        .image_to_video(image)
        .prompt("gentle waves, golden hour")
        .await?;
    let done = client.wait(&task.id).await?;
    let saved = client.download(&done, format!("{}.mp4", done.id)).await?;
    println!("saved {}", saved.path.display());
    Ok(())
}
