//! Staging local files on Magnific's storage (its Upload Files API), for the
//! models that take media only as public URLs.
//!
//! Two steps per file: `POST /v1/ai/uploads/request-url` (an API call, with
//! the key, paced like any other; one call covers every file of a create)
//! hands back a signed `upload_url` and an `asset_url`; then the bytes are
//! `PUT` to the `upload_url` with exactly the returned headers and **no API
//! key** (the signature is the authorization). The `asset_url` is what a
//! model is sent.
//!
//! **Uploads are staging, not storage:** anyone holding an `asset_url` can
//! read the file for about a day, and Magnific deletes it after about a
//! week.
//!
//! A PUT is idempotent, so a transient storage failure is tried again; an
//! upload URL that expired or whose signature was refused is requested
//! anew (a bounded number of times). The client remembers what it uploaded,
//! by content hash, until shortly before the asset expires: the same image
//! in 500 rows of a batch is uploaded once. A file is hashed as it is sent
//! (one read); it is read for its hash beforehand only when a remembered
//! upload has its size, since only then can it be one already sent.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use freepik_wan_api::types;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt as _;

use crate::client::Client;
use crate::download::Progress;
use crate::error::{Error, Result};
use crate::retry::Idempotency;

/// A progress callback, shared with the request bodies that report to it.
pub(crate) type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Counts the bytes of one `upload_all` sent so far, for its callback.
struct Sent {
    report: ProgressFn,
    /// Bytes of the files whose PUT succeeded.
    done: AtomicU64,
    /// Of all the files to send.
    total: u64,
}

impl Sent {
    /// `attempt` bytes of the file in flight are out (a retried PUT counts
    /// again from its start).
    fn report(&self, attempt: u64) {
        (self.report)(Progress {
            bytes: self.done.load(Ordering::Relaxed) + attempt,
            total: Some(self.total),
        });
    }
}

/// The largest file the upload takes (its signed length range).
pub const MAX_UPLOAD_BYTES: u64 = 1 << 30;

/// How long an `asset_url` stays readable when the answer does not say.
const DEFAULT_ASSET_LIFETIME: Duration = Duration::from_secs(86_400);

/// An upload is reused only while its asset stays readable this much longer:
/// a task made from it must still be able to fetch it.
const REUSE_MARGIN: Duration = Duration::from_secs(3 * 3600);

/// How many times an expired or refused upload URL is requested again.
const FRESH_URL_ATTEMPTS: usize = 2;

/// The most uploads a client remembers.
const REMEMBERED: usize = 10_000;

/// A file, or bytes, to upload.
#[derive(Clone, Debug)]
pub enum UploadSource {
    /// A local file, streamed from disk (memory does not grow with it).
    Path(PathBuf),
    /// Bytes in memory.
    Bytes(Bytes),
}

impl From<&Path> for UploadSource {
    fn from(path: &Path) -> Self {
        UploadSource::Path(path.to_owned())
    }
}

impl From<PathBuf> for UploadSource {
    fn from(path: PathBuf) -> Self {
        UploadSource::Path(path)
    }
}

impl From<&str> for UploadSource {
    /// A path.
    fn from(path: &str) -> Self {
        UploadSource::Path(PathBuf::from(path))
    }
}

impl From<Vec<u8>> for UploadSource {
    fn from(bytes: Vec<u8>) -> Self {
        UploadSource::Bytes(Bytes::from(bytes))
    }
}

impl From<Bytes> for UploadSource {
    fn from(bytes: Bytes) -> Self {
        UploadSource::Bytes(bytes)
    }
}

impl UploadSource {
    /// The file's name (or "bytes"), for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            UploadSource::Path(path) => path.display().to_string(),
            UploadSource::Bytes(bytes) => format!("{} bytes in memory", bytes.len()),
        }
    }
}

/// A staged file: send [`asset_url`](Self::asset_url) to a model.
#[derive(Clone)]
#[non_exhaustive]
pub struct Uploaded {
    /// Magnific's id of the file, e.g. `upl_img_…`.
    pub file_id: String,
    /// The URL a model fetches the file from. It carries a signed token:
    /// anyone holding it can read the file until it expires.
    pub asset_url: String,
    /// The media type it was uploaded as, e.g. `image/png`.
    pub content_type: String,
    /// Its size.
    pub bytes: u64,
    /// Until when the asset URL can be read.
    pub readable_until: SystemTime,
    /// The SHA-256 of the content: what [`Client::remember_uploads`] keys it by.
    pub sha256: [u8; 32],
}

impl Uploaded {
    /// An upload recorded earlier (say, in a batch's journal), to hand back
    /// to [`Client::remember_uploads`]; `None` for a content type the
    /// upload does not take.
    pub fn restore(
        file_id: String,
        asset_url: String,
        content_type: &str,
        bytes: u64,
        readable_until: SystemTime,
        sha256: [u8; 32],
    ) -> Option<Uploaded> {
        let content_type = upload_type(content_type)?.to_string();
        Some(Uploaded {
            file_id,
            asset_url,
            content_type,
            bytes,
            readable_until,
            sha256,
        })
    }
}

impl fmt::Debug for Uploaded {
    /// The asset URL without its query: the token is a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uploaded")
            .field("file_id", &self.file_id)
            .field("asset_url", &without_query(&self.asset_url))
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

/// `url` without its query and fragment.
pub(crate) fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

/// What the client has uploaded, by content hash.
#[derive(Default)]
pub(crate) struct Uploads {
    done: Mutex<HashMap<[u8; 32], Uploaded>>,
}

impl Uploads {
    fn get(&self, hash: &[u8; 32]) -> Option<Uploaded> {
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let found = done.get(hash)?;
        let left = found
            .readable_until
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        (left > REUSE_MARGIN).then(|| found.clone())
    }

    /// Whether a remembered upload still good for reuse has `bytes` bytes:
    /// only then can a file of that size be one already sent, and is it
    /// worth hashing before sending.
    fn has_size(&self, bytes: u64) -> bool {
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let reusable = SystemTime::now() + REUSE_MARGIN;
        done.values()
            .any(|u| u.bytes == bytes && u.readable_until > reusable)
    }

    fn all(&self) -> Vec<Uploaded> {
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        done.values().cloned().collect()
    }

    fn put(&self, hash: [u8; 32], uploaded: Uploaded) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        if done.len() >= REMEMBERED {
            let now = SystemTime::now();
            done.retain(|_, u| u.readable_until > now + REUSE_MARGIN);
            if done.len() >= REMEMBERED {
                done.clear();
            }
        }
        done.insert(hash, uploaded);
    }
}

/// A file checked for upload: its type by content, its size, and its
/// content hash where it is known before the PUT (bytes in memory, or a file
/// the size of a remembered upload); else the PUT hashes what it sends.
struct Inspected {
    source: UploadSource,
    content_type: types::UploadContentType,
    bytes: u64,
    hash: Option<[u8; 32]>,
}

/// The media types the upload takes, by what their bytes say.
fn upload_type(kind: &str) -> Option<types::UploadContentType> {
    // The spec's list of types (the generated enum) under the names the
    // sniffer gives some of them.
    let kind = match kind {
        "audio/x-wav" => "audio/wav",
        "audio/m4a" | "audio/x-m4a" => "audio/mp4",
        "audio/opus" => "audio/ogg",
        kind => kind,
    };
    kind.parse().ok()
}

/// The media type of `head` (a file's first bytes), by its magic bytes.
pub(crate) fn sniff(head: &[u8]) -> Option<&'static str> {
    infer::get(head).map(|kind| kind.mime_type())
}

/// How many leading bytes sniffing needs.
const HEAD: usize = 8192;

/// Checks one source by its head and size (bytes in memory are hashed
/// too: that costs no read).
async fn inspect(source: UploadSource) -> Result<Inspected> {
    let refuse = |reason: String| Error::Validation {
        field: "file",
        reason,
    };
    let (head, bytes, hash) = match &source {
        UploadSource::Bytes(data) => {
            let head = data[..data.len().min(HEAD)].to_vec();
            (head, data.len() as u64, Some(content_hash(&source).await?))
        }
        UploadSource::Path(path) => {
            let io = |source| Error::Io {
                action: "reading",
                path: path.clone(),
                source,
            };
            let mut file = tokio::fs::File::open(path).await.map_err(io)?;
            let length = file.metadata().await.map_err(io)?.len();
            let mut head = Vec::with_capacity(HEAD);
            (&mut file)
                .take(HEAD as u64)
                .read_to_end(&mut head)
                .await
                .map_err(io)?;
            (head, length, None)
        }
    };
    if bytes == 0 {
        return Err(refuse(format!("{} is empty", source.describe())));
    }
    if bytes > MAX_UPLOAD_BYTES {
        return Err(refuse(format!(
            "{} is {bytes} bytes; an upload takes at most {MAX_UPLOAD_BYTES} (1 GiB)",
            source.describe()
        )));
    }
    let found = sniff(&head);
    let content_type = found.and_then(upload_type).ok_or_else(|| {
        refuse(format!(
            "{} is {} by its bytes; an upload takes PNG, JPEG, WebP, MP4, WebM, MOV, MP3, WAV, \
             M4A or OGG",
            source.describe(),
            found.unwrap_or("no known media type")
        ))
    })?;
    Ok(Inspected {
        source,
        content_type,
        bytes,
        hash,
    })
}

/// The SHA-256 of a source; a file is read in chunks (memory does not grow
/// with the file).
async fn content_hash(source: &UploadSource) -> Result<[u8; 32]> {
    let path = match source {
        UploadSource::Bytes(bytes) => return Ok(Sha256::digest(bytes).into()),
        UploadSource::Path(path) => path,
    };
    let io = |source| Error::Io {
        action: "reading",
        path: path.to_owned(),
        source,
    };
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).await.map_err(io)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buffer[..n]);
    }
}

impl Client {
    /// Uploads one file (or bytes) to Magnific's storage and returns its
    /// [`Uploaded::asset_url`], for a model that takes media only as a URL.
    ///
    /// The type is taken from the bytes, not the name; a type the upload
    /// does not take, an empty file or one over 1 GiB is an
    /// [`Error::Validation`] and nothing is sent. The same content uploaded
    /// again by this client, while its asset stays readable for a few more
    /// hours, is not sent again.
    ///
    /// **Staging, not storage:** anyone holding the URL can read the file
    /// for about a day; Magnific deletes it after about a week.
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client) -> freepik_wan::Result<()> {
    /// let uploaded = client.upload("portrait.png").await?;
    /// println!("{}", uploaded.file_id);
    /// # Ok(()) }
    /// ```
    pub async fn upload(&self, source: impl Into<UploadSource>) -> Result<Uploaded> {
        let mut all = self.upload_all(vec![source.into()]).await?;
        Ok(all.remove(0))
    }

    /// Uploads several files with one `request-url` call (plus one PUT
    /// each), in order; see [`upload`](Self::upload). Every file is checked
    /// before anything is sent.
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client) -> freepik_wan::Result<()> {
    /// let staged = client
    ///     .upload_all(vec!["face.png".into(), "voice.wav".into()])
    ///     .await?;
    /// assert_eq!(staged.len(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn upload_all(&self, sources: Vec<UploadSource>) -> Result<Vec<Uploaded>> {
        self.upload_all_reporting(sources, None).await
    }

    /// [`upload_all`](Self::upload_all), calling `progress` as bytes go
    /// out: of all the files still to upload (remembered ones send
    /// nothing), counted from a PUT's start again when it is retried.
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client) -> freepik_wan::Result<()> {
    /// client
    ///     .upload_all_with_progress(vec!["clip.mp4".into()], |p| {
    ///         eprintln!("{} of {:?} bytes", p.bytes, p.total);
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn upload_all_with_progress(
        &self,
        sources: Vec<UploadSource>,
        progress: impl Fn(Progress) + Send + Sync + 'static,
    ) -> Result<Vec<Uploaded>> {
        self.upload_all_reporting(sources, Some(Arc::new(progress)))
            .await
    }

    /// Every upload, in a `freepik_wan.upload` span.
    pub(crate) async fn upload_all_reporting(
        &self,
        sources: Vec<UploadSource>,
        progress: Option<ProgressFn>,
    ) -> Result<Vec<Uploaded>> {
        use tracing::Instrument;
        let span = tracing::info_span!(
            "freepik_wan.upload",
            freepik_wan.upload.files = sources.len(),
            freepik_wan.upload.bytes = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        async move {
            let result = self.upload_all_inner(sources, progress).await;
            crate::observe::record_outcome(&tracing::Span::current(), &result);
            result
        }
        .instrument(span)
        .await
    }

    async fn upload_all_inner(
        &self,
        sources: Vec<UploadSource>,
        progress: Option<ProgressFn>,
    ) -> Result<Vec<Uploaded>> {
        let mut inspected = Vec::with_capacity(sources.len());
        for source in sources {
            inspected.push(inspect(source).await?);
        }
        // A file can have been sent already only if a remembered upload has
        // its size: only such a file is read for its hash before the PUT
        // (the others are hashed as they are sent, one read each).
        for file in &mut inspected {
            if file.hash.is_none() && self.shared.uploads.has_size(file.bytes) {
                file.hash = Some(content_hash(&file.source).await?);
            }
        }
        let mut results: Vec<Option<Uploaded>> = inspected
            .iter()
            .map(|file| self.shared.uploads.get(&file.hash?))
            .collect();
        let mut missing: Vec<usize> = (0..inspected.len())
            .filter(|i| results[*i].is_none())
            .collect();
        let sent = progress.map(|report| {
            Arc::new(Sent {
                report,
                done: AtomicU64::new(0),
                total: missing.iter().map(|i| inspected[*i].bytes).sum(),
            })
        });
        let mut fresh_urls = 0;
        let mut uploaded_bytes = 0;
        while !missing.is_empty() {
            let targets = self.request_urls(&inspected, &missing).await?;
            let mut refused = Vec::new();
            for (index, target) in missing.iter().copied().zip(targets) {
                let file = &inspected[index];
                match self.put(file, &target, sent.clone()).await {
                    Ok(hash) => {
                        uploaded_bytes += file.bytes;
                        crate::observe::metric::uploaded(file.bytes);
                        if let Some(sent) = &sent {
                            sent.done.fetch_add(file.bytes, Ordering::Relaxed);
                            sent.report(0);
                        }
                        let uploaded = uploaded(file, target, hash);
                        self.shared.uploads.put(hash, uploaded.clone());
                        results[index] = Some(uploaded);
                    }
                    Err(error) if needs_fresh_url(&error) && fresh_urls < FRESH_URL_ATTEMPTS => {
                        tracing::warn!(%error, "the upload URL was refused; asking for a new one");
                        refused.push(index);
                    }
                    Err(error) => return Err(error),
                }
            }
            if !refused.is_empty() {
                fresh_urls += 1;
            }
            missing = refused;
        }
        tracing::Span::current().record("freepik_wan.upload.bytes", uploaded_bytes);
        Ok(results
            .into_iter()
            .map(|r| r.expect("every file uploaded or failed"))
            .collect())
    }

    /// What this client uploaded and remembers (assets still readable for a
    /// few hours more), to keep across processes: a resumed batch hands
    /// them back with [`remember_uploads`](Self::remember_uploads) and
    /// uploads only what expired.
    pub fn uploads(&self) -> Vec<Uploaded> {
        self.shared.uploads.all()
    }

    /// Makes this client reuse uploads made earlier (see
    /// [`uploads`](Self::uploads)) for the same content, while they stay
    /// readable for a few more hours; older ones are ignored.
    ///
    /// ```no_run
    /// # async fn run(first: freepik_wan::Client, next: freepik_wan::Client) -> freepik_wan::Result<()> {
    /// first.upload("face.png").await?;
    /// next.remember_uploads(first.uploads());
    /// next.upload("face.png").await?; // nothing sent: remembered
    /// # Ok(()) }
    /// ```
    pub fn remember_uploads(&self, uploads: impl IntoIterator<Item = Uploaded>) {
        for uploaded in uploads {
            self.shared.uploads.put(uploaded.sha256, uploaded);
        }
    }

    /// One `request-url` call for the files at `indexes`: their targets, in
    /// order. It costs nothing, so it is retried like a read.
    async fn request_urls(
        &self,
        files: &[Inspected],
        indexes: &[usize],
    ) -> Result<Vec<types::UploadTarget>> {
        let body = types::UploadRequest {
            files: indexes
                .iter()
                .map(|i| types::UploadFileRequest {
                    content_type: files[*i].content_type,
                })
                .collect(),
        };
        let api = &self.shared.api;
        let answer = self
            .api_call("request_upload_urls", Idempotency::Idempotent, || {
                let call =
                    crate::api_error::call(api.request_upload_urls().body(body.clone()).send());
                async {
                    let result = call.await;
                    crate::observe::metric::api_request("request_upload_urls", None, &result);
                    result
                }
            })
            .await?;
        if answer.files.len() != indexes.len() {
            return Err(Error::Config(format!(
                "the upload service answered {} upload URLs for {} files",
                answer.files.len(),
                indexes.len()
            )));
        }
        Ok(answer.files)
    }

    /// PUTs one file to its signed URL with exactly the returned headers,
    /// no key, no redirect followed; transient failures are tried again.
    /// Returns the content's SHA-256: the one known before, else that of
    /// the bytes the successful attempt read as it sent them.
    async fn put(
        &self,
        file: &Inspected,
        target: &types::UploadTarget,
        sent: Option<Arc<Sent>>,
    ) -> Result<[u8; 32]> {
        let http = &self.shared.storage_http;
        let hashed = self
            .shared
            .retry
            .run("upload_put", Idempotency::Idempotent, || async {
                if let Ok(url) = url::Url::parse(&target.upload_url) {
                    crate::observe::record_request("PUT", &url);
                }
                let mut request = http
                    .put(&target.upload_url)
                    .header(reqwest::header::CONTENT_LENGTH, file.bytes);
                for (name, value) in &target.headers {
                    request = request.header(name.as_str(), value.as_str());
                }
                // Each attempt hashes what it reads afresh.
                let hashing = file.hash.is_none().then(Arc::default);
                let body = match &file.source {
                    UploadSource::Bytes(bytes) => reqwest::Body::from(bytes.clone()),
                    UploadSource::Path(path) => {
                        file_body(path, sent.clone(), hashing.clone()).await?
                    }
                };
                let response = request
                    .body(body)
                    .send()
                    .await
                    // The URL's query is its signature: never in a message.
                    .map_err(|source| Error::Transport {
                        source: source.without_url(),
                    })?;
                let status = response.status();
                crate::observe::record_status(status.as_u16());
                if status.is_success() {
                    return Ok(hashing);
                }
                let headers = response.headers().clone();
                let body = crate::api_error::error_body(response)
                    .await
                    .unwrap_or_default();
                Err(Error::Api {
                    status,
                    message: crate::api_error::snippet(&body),
                    invalid_params: Vec::new(),
                    headers: Box::new(headers),
                })
            })
            .await?;
        let read =
            hashed.map(|h| std::mem::take(&mut *h.lock().unwrap_or_else(|e| e.into_inner())));
        match (file.hash, read) {
            (Some(hash), _) => Ok(hash),
            (None, Some(read)) if read.bytes == file.bytes => Ok(read.hasher.finalize().into()),
            // Answered before the whole body was read (a server may): the
            // content's own hash, not a part's.
            (None, _) => content_hash(&file.source).await,
        }
    }
}

/// The SHA-256 of a body as it is read, and how many bytes it covers.
#[derive(Default)]
struct Hashing {
    hasher: Sha256,
    bytes: u64,
}

/// A file as a request body, read as it is sent (reporting to `sent`, and
/// hashed into `hashing`).
async fn file_body(
    path: &Path,
    sent: Option<Arc<Sent>>,
    hashing: Option<Arc<Mutex<Hashing>>>,
) -> Result<reqwest::Body> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|source| Error::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        })?;
    let chunks = futures_util::stream::unfold((file, 0u64), move |(mut file, read)| {
        let sent = sent.clone();
        let hashing = hashing.clone();
        async move {
            let mut buffer = vec![0u8; 64 * 1024];
            match file.read(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    let read = read + n as u64;
                    if let Some(sent) = &sent {
                        sent.report(read);
                    }
                    if let Some(hashing) = &hashing {
                        let mut hashing = hashing.lock().unwrap_or_else(|e| e.into_inner());
                        hashing.hasher.update(&buffer);
                        hashing.bytes += n as u64;
                    }
                    Some((Ok::<_, std::io::Error>(Bytes::from(buffer)), (file, read)))
                }
                Err(error) => Some((Err(error), (file, read))),
            }
        }
    });
    Ok(reqwest::Body::wrap_stream(chunks))
}

/// Storage's answers to a URL that is no longer good: its signature expired
/// (400 `ExpiredToken`) or was refused (403 `SignatureDoesNotMatch`,
/// `AccessDenied`). A new URL, not the same one again, can help.
fn needs_fresh_url(error: &Error) -> bool {
    match error {
        Error::Api {
            status, message, ..
        } => {
            matches!(*status, StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN)
                || (*status == StatusCode::UNAUTHORIZED && message.contains("Expired"))
        }
        _ => false,
    }
}

fn uploaded(file: &Inspected, target: types::UploadTarget, sha256: [u8; 32]) -> Uploaded {
    let lifetime = target
        .asset_url_expires_in
        .and_then(|secs| u64::try_from(secs).ok())
        .map_or(DEFAULT_ASSET_LIFETIME, Duration::from_secs);
    Uploaded {
        file_id: target.file_id,
        asset_url: target.asset_url,
        content_type: file.content_type.to_string(),
        bytes: file.bytes,
        readable_until: SystemTime::now() + lifetime,
        sha256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes_not_the_name() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
        assert_eq!(
            sniff(&png).and_then(upload_type),
            Some(types::UploadContentType::ImagePng)
        );
        let wav = b"RIFF\x24\x00\x00\x00WAVEfmt ";
        assert_eq!(
            sniff(wav).and_then(upload_type),
            Some(types::UploadContentType::AudioWav)
        );
        assert_eq!(sniff(b"just some text, named photo.png"), None);
        let html = b"<!DOCTYPE html><html></html>";
        assert!(sniff(html).and_then(upload_type).is_none());
    }

    #[test]
    fn the_debug_form_hides_the_asset_token() {
        let uploaded = Uploaded {
            file_id: "upl_img_1".into(),
            asset_url: "https://cdn.example/a.png?token=secret".into(),
            content_type: "image/png".into(),
            bytes: 10,
            readable_until: SystemTime::now(),
            sha256: [0; 32],
        };
        let shown = format!("{uploaded:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("https://cdn.example/a.png"), "{shown}");
    }
}
