//! `upload FILE...`: stage files on Magnific's storage and print their URLs.

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use serde_json::json;

use crate::connect::Connection;
use crate::exit::Failure;
use crate::output::Output;

/// Uploads `files` with one `request-url` call and prints each asset URL
/// (one per line), or with `--json` the file ids, URLs and expiry.
pub async fn upload(
    connection: &Connection,
    files: Vec<PathBuf>,
    out: Output,
) -> Result<(), Failure> {
    let client = connection.client(None)?;
    let sources = files.iter().cloned().map(Into::into).collect();
    let (bar, report) = crate::progress::upload_bar(out);
    let staged = client.upload_all_with_progress(sources, report).await;
    bar.finish_and_clear();
    let staged = staged?;
    out.note(
        "staged on Magnific's storage: anyone holding these URLs can read the files for about \
         a day; they are deleted after about a week",
    );
    let plain = staged
        .iter()
        .map(|u| u.asset_url.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let listed: Vec<_> = files
        .iter()
        .zip(&staged)
        .map(|(file, u)| {
            json!({
                "file": file.display().to_string(),
                "file_id": u.file_id,
                "asset_url": u.asset_url,
                "content_type": u.content_type,
                "bytes": u.bytes,
                "readable_until": u
                    .readable_until
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default(),
            })
        })
        .collect();
    out.result(plain, json!({ "files": listed }));
    Ok(())
}
