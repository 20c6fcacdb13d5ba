//! The README quickstart, as a user's own code: create, wait, download.

use std::path::Path;

/// Makes a video from `image` with `client` and saves it to `out`.
pub async fn make_video(
    client: &freepik_wan::Client,
    image: &Path,
    out: &Path,
) -> freepik_wan::Result<u64> {
    let task = client
        .image_to_video(image)
        .prompt("the camera slowly pushes in")
        .await?;
    let done = client.wait(&task.id).await?;
    let saved = client.download(&done, out).await?;
    Ok(saved.bytes)
}
