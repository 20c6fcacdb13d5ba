//! Getting the video: to a file (atomically, with progress) or as a stream.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWriteExt};

use crate::api_error::{error_body, from_bytes};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::retry::Idempotency;
use crate::task::{Task, TaskId};
use tracing::Instrument;

/// Where a video can be fetched from: a completed [`Task`] (its first
/// generated URL) or a URL string.
///
/// A [`Task`] is the better source: its id lets a download whose signed URL
/// has expired fetch the task again for a fresh URL.
pub trait VideoSource {
    /// The URL to fetch, or why there is none.
    fn video_url(&self) -> Result<&str>;

    /// The task the video belongs to, when known (`None` for a bare URL).
    fn task_id(&self) -> Option<&TaskId> {
        None
    }
}

impl VideoSource for Task {
    fn task_id(&self) -> Option<&TaskId> {
        Some(&self.id)
    }

    fn video_url(&self) -> Result<&str> {
        Task::video_url(self).ok_or_else(|| Error::Validation {
            field: "task",
            reason: format!(
                "task {} has no video yet (status {}); wait for it first",
                self.id, self.status
            ),
        })
    }
}

impl VideoSource for str {
    fn video_url(&self) -> Result<&str> {
        Ok(self)
    }
}

impl VideoSource for String {
    fn video_url(&self) -> Result<&str> {
        Ok(self)
    }
}

impl<T: VideoSource + ?Sized> VideoSource for &T {
    fn video_url(&self) -> Result<&str> {
        (**self).video_url()
    }

    fn task_id(&self) -> Option<&TaskId> {
        (**self).task_id()
    }
}

/// How far a download has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes of the video received so far (a resumed download goes on
    /// counting from what it kept; one that has to start over counts again
    /// from zero).
    pub bytes: u64,
    /// The size, when the server said it.
    pub total: Option<u64>,
}

/// A finished download.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// Where the video is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Client {
    /// Downloads the video to `path`.
    ///
    /// The bytes go to a hidden `.part` file beside `path`, renamed into
    /// place only when complete: an error leaves no partial file, and an
    /// existing file at `path` is replaced only by a whole video. Memory
    /// stays flat whatever the size. Retried on connection errors, 408, 429
    /// and 5xx; a download cut half-way resumes from the bytes already on
    /// disk with a `Range` request when the server answers it (a `206` whose
    /// `Content-Range` starts there and states the whole length), and starts
    /// over when it does not. The API key is never sent to the video URL,
    /// and no `Referer` goes to a host it redirects to.
    ///
    /// **Only a video is saved.** An answer whose `Content-Type` is a page
    /// or a document (`text/html`, JSON, XML, an image) is refused before
    /// its body is read; any other type (`video/*`, `application/octet-stream`,
    /// none) is judged by its bytes: the finished file must have the length
    /// the server stated, start with an MP4/MOV `ftyp` box or WebM's EBML
    /// header, and, for an MP4, hold every top-level box whole (a body cut
    /// short with no `Content-Length` fails here). A refusal is an
    /// [`Error::NotAVideo`], retried like a cut connection (a cut body
    /// resumes); nothing is renamed into place and the part file is removed.
    /// The check reads only the box headers: memory stays flat.
    ///
    /// **Expired URLs.** The video URLs are signed links that expire. When
    /// the video host refuses one (401, 403 or 410) and `source` is a
    /// [`Task`], the task is fetched again, once, for a fresh URL, and the
    /// download goes on from the bytes already on disk. If the fresh URL is
    /// refused too, the error is [`Error::VideoUrlExpired`], naming the
    /// task. A bare URL cannot be refreshed: its refusal is an
    /// [`Error::Api`].
    ///
    /// **Killed runs.** A process killed mid-download cannot remove its
    /// `.part` file. The next download to the same `path` resumes from it
    /// when it is the same video (the same task, or the same URL less its
    /// query), and removes it otherwise. Two downloads to one `path` at the
    /// same time are not supported.
    ///
    /// ```no_run
    /// # async fn run(client: freepik_wan::Client, task: freepik_wan::Task) -> freepik_wan::Result<()> {
    /// let saved = client.download(&task, "video.mp4").await?;
    /// println!("{} bytes in {}", saved.bytes, saved.path.display());
    /// # Ok(()) }
    /// ```
    pub async fn download(
        &self,
        source: impl VideoSource,
        path: impl AsRef<Path>,
    ) -> Result<Downloaded> {
        self.download_with_progress(source, path, |_| {}).await
    }

    /// [`download`](Self::download), calling `progress` after each chunk.
    pub async fn download_with_progress(
        &self,
        source: impl VideoSource,
        path: impl AsRef<Path>,
        progress: impl FnMut(Progress) + Send,
    ) -> Result<Downloaded> {
        let span = download_span(source.task_id());
        let model = source.task_id().map(TaskId::model);
        let result = self
            .download_inner(source, path.as_ref(), progress)
            .instrument(span.clone())
            .await;
        crate::observe::record_outcome(&span, &result);
        if let Ok(saved) = &result {
            span.record("freepik_wan.download.bytes", saved.bytes);
            crate::observe::metric::downloaded(model, saved.bytes);
        }
        result
    }

    async fn download_inner(
        &self,
        source: impl VideoSource,
        path: &Path,
        progress: impl FnMut(Progress) + Send,
    ) -> Result<Downloaded> {
        let mut url = source.video_url()?.to_owned();
        let task_id = source.task_id().cloned();
        let path = path.to_path_buf();
        let progress = Mutex::new(progress);
        // One part file for every attempt (and every run), so that a retry,
        // a fresh URL or a later run can resume it.
        let key = part_key(task_id.as_ref(), &url);
        let partial = tokio::sync::Mutex::new(Partial::open(&path, &key).await?);
        let mut refreshed = false;
        let total = loop {
            let attempt = self
                .shared
                .retry
                .run("download", Idempotency::Idempotent, || {
                    self.download_into(&url, &partial, &progress)
                })
                .await;
            match (attempt, &task_id) {
                (Ok(total), _) => break total,
                (Err(error), Some(id)) if url_refused(&error) => {
                    if refreshed {
                        return Err(expired(id, error));
                    }
                    refreshed = true;
                    url = self.fresh_url(id, error).await?;
                }
                (Err(error), _) => return Err(error),
            }
        };
        let saved = partial.into_inner().finish(total).await?;
        tracing::info!(path = %path.display(), bytes = saved.bytes, "video downloaded");
        Ok(saved)
    }

    /// Fetches the task again for a fresh video URL, after the video host
    /// refused the old one with `refusal`.
    async fn fresh_url(&self, id: &TaskId, refusal: Error) -> Result<String> {
        tracing::info!(task_id = %id, error = %refusal, "the video URL was refused; fetching the task for a fresh one");
        let task = self.task(id).await?;
        match task.video_url() {
            Some(url) => Ok(url.to_owned()),
            None => Err(expired(id, refusal)),
        }
    }

    /// One attempt: fetches what is missing from `partial` (all of it, or
    /// the rest when the server answers a range) and returns the video's
    /// length as the server stated it.
    async fn download_into(
        &self,
        url: &str,
        partial: &tokio::sync::Mutex<Partial>,
        progress: &Mutex<impl FnMut(Progress) + Send>,
    ) -> Result<Option<u64>> {
        let mut partial = partial.lock().await;
        // A page in place of the video is refused by `get_video`, before
        // the bytes kept so far are dropped for it.
        let (response, total) = loop {
            let from = partial.bytes;
            let response = self.get_video(url, from).await?;
            match answer(&response, from) {
                Answer::Rest(total) => break (response, Some(total)),
                Answer::Whole(total) => {
                    if from > 0 {
                        tracing::info!(kept = from, "the server did not resume: starting over");
                        partial.restart().await?;
                    }
                    break (response, total);
                }
                Answer::Unusable(reason) if from > 0 => {
                    // Whatever it sent, it is not the rest of these bytes:
                    // ask for the whole video instead.
                    tracing::info!(kept = from, reason, "unusable range answer: starting over");
                    partial.restart().await?;
                }
                Answer::Unusable(reason) => return Err(partial.invalid(reason)),
            }
        };
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|source| Error::Transport { source })?;
            partial.append(&chunk).await?;
            let bytes = partial.bytes;
            (progress.lock().expect("progress callback panicked"))(Progress { bytes, total });
        }
        partial.check(total).await?;
        Ok(total)
    }

    /// The video as a stream of byte chunks, for sending it elsewhere
    /// without touching the disk. The first request is retried (and, for a
    /// [`Task`] whose URL has expired, made again once with a fresh URL); a
    /// stream cut half-way ends with an error item (start over, or use
    /// [`download`](Self::download), which retries whole). An answer whose
    /// `Content-Type` is a page or a document (`text/html`, JSON, XML) is
    /// refused ([`Error::NotAVideo`], retried as the first request is), and
    /// so is one whose first bytes are neither an MP4/MOV `ftyp` box nor
    /// WebM's EBML header (an error item in place of the first chunk). The
    /// rest of the container is not checked: that needs the whole file.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn run(client: freepik_wan::Client, task: freepik_wan::Task) -> freepik_wan::Result<()> {
    /// let mut video = client.download_stream(&task).await?;
    /// println!("{:?} bytes to come", video.total());
    /// while let Some(chunk) = video.next().await {
    ///     let chunk = chunk?;
    ///     // send `chunk` on
    /// #   let _ = chunk;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn download_stream(&self, source: impl VideoSource) -> Result<VideoStream> {
        let span = download_span(source.task_id());
        let result = self
            .download_stream_inner(source)
            .instrument(span.clone())
            .await;
        crate::observe::record_outcome(&span, &result);
        result
    }

    async fn download_stream_inner(&self, source: impl VideoSource) -> Result<VideoStream> {
        let url = source.video_url()?.to_owned();
        let first = |url: String| async move {
            self.shared
                .retry
                .run("download", Idempotency::Idempotent, || {
                    self.get_video(&url, 0)
                })
                .await
        };
        let response = match (first(url).await, source.task_id()) {
            (Err(error), Some(id)) if url_refused(&error) => {
                let url = self.fresh_url(id, error).await?;
                first(url)
                    .await
                    .map_err(|error| match url_refused(&error) {
                        true => expired(id, error),
                        false => error,
                    })?
            }
            (response, _) => response?,
        };
        Ok(VideoStream {
            total: response.content_length(),
            inner: Box::pin(checked_start(
                response
                    .bytes_stream()
                    .map(|chunk| chunk.map_err(|source| Error::Transport { source })),
            )),
        })
    }

    /// GETs the video, from byte `from` on when it is not 0. A `416` to a
    /// range request is an answer too (the bytes on disk are not a prefix
    /// of this video).
    async fn get_video(&self, url: &str, from: u64) -> Result<reqwest::Response> {
        let parsed = crate::http_url::parse(url, "url")?;
        crate::observe::record_request("GET", &parsed);
        let mut request = self.shared.download_http.get(parsed);
        if from > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={from}-"));
        }
        let response = request
            .send()
            .await
            .map_err(|source| Error::Transport { source })?;
        let status = response.status();
        crate::observe::record_status(status.as_u16());
        if status.is_success() {
            if let Some(reason) = refused_content_type(response.headers()) {
                return Err(Error::NotAVideo { reason });
            }
            return Ok(response);
        }
        if from > 0 && status == StatusCode::RANGE_NOT_SATISFIABLE {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = error_body(response).await.unwrap_or_default();
        Err(from_bytes(status, headers, &body))
    }
}

/// The span of one download: the task's id and model when known, never
/// the URL (its query is a token).
fn download_span(task_id: Option<&TaskId>) -> tracing::Span {
    let span = tracing::info_span!(
        "freepik_wan.download",
        freepik_wan.model = tracing::field::Empty,
        freepik_wan.task_id = tracing::field::Empty,
        freepik_wan.download.bytes = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if let Some(id) = task_id {
        span.record("freepik_wan.model", tracing::field::display(id.model()));
        span.record("freepik_wan.task_id", id.as_str());
    }
    span
}

/// Whether the video host refused the URL itself: what an expired signed
/// link gets (cloud storage answers 403 `AccessDenied`, some CDNs 401 or
/// 410).
fn url_refused(error: &Error) -> bool {
    matches!(error, Error::Api { status, .. } if matches!(status.as_u16(), 401 | 403 | 410))
}

/// [`Error::VideoUrlExpired`] from the host's last refusal.
fn expired(id: &TaskId, refusal: Error) -> Error {
    match refusal {
        Error::Api {
            status, message, ..
        } => Error::VideoUrlExpired {
            task_id: id.clone(),
            status,
            message,
        },
        other => other,
    }
}

/// A video as byte chunks, from [`Client::download_stream`].
pub struct VideoStream {
    total: Option<u64>,
    inner: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>,
}

impl VideoStream {
    /// The size, when the server said it.
    pub fn total(&self) -> Option<u64> {
        self.total
    }
}

impl std::fmt::Debug for VideoStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoStream")
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl Stream for VideoStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// What a response to a video request holds.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// The whole video (a `200`), of the stated length if any.
    Whole(Option<u64>),
    /// The rest of it from the requested byte on (a `206` whose
    /// `Content-Range` starts there and runs to the end), and the whole
    /// video's length.
    Rest(u64),
    /// Neither: a `206` without a usable `Content-Range`, or a `416`.
    Unusable(&'static str),
}

/// Classifies `response` to a request for the bytes from `from` on (the
/// whole video when `from` is 0). A `206` is only ever taken for what its
/// `Content-Range` says: without one, its body could be any slice.
fn answer(response: &reqwest::Response, from: u64) -> Answer {
    match response.status() {
        StatusCode::PARTIAL_CONTENT => {
            let content_range = response
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok());
            partial_answer(content_range, response.content_length(), from)
        }
        status if status.is_success() => Answer::Whole(response.content_length()),
        _ => Answer::Unusable("the server cannot serve the bytes from there on"),
    }
}

/// A `206`'s `Content-Range` (`bytes <first>-<last>/<length>`) checked
/// against the request (from `from` to the end) and the body's length.
fn partial_answer(content_range: Option<&str>, body_len: Option<u64>, from: u64) -> Answer {
    let Some(range) = content_range else {
        return Answer::Unusable("a 206 without a Content-Range");
    };
    let parsed = (|| {
        let (span, length) = range.trim().strip_prefix("bytes ")?.split_once('/')?;
        let (first, last) = span.split_once('-')?;
        let first: u64 = first.trim().parse().ok()?;
        let last: u64 = last.trim().parse().ok()?;
        // `*` (length unknown) fails here: without the length, the
        // finished file cannot be checked.
        let length: u64 = length.trim().parse().ok()?;
        Some((first, last, length))
    })();
    let Some((first, last, length)) = parsed else {
        return Answer::Unusable("a 206 whose Content-Range is not `bytes first-last/length`");
    };
    if first != from {
        return Answer::Unusable("a 206 that does not start at the requested byte");
    }
    if last < first || last.checked_add(1) != Some(length) {
        return Answer::Unusable("a 206 that does not run to the end of the video");
    }
    if body_len.is_some_and(|len| len != last - first + 1) {
        return Answer::Unusable("a 206 whose body length disagrees with its Content-Range");
    }
    Answer::Rest(length)
}

/// Names a download's part file after what it holds: the task (whose URLs
/// change as they expire), or the URL without its query (a signature).
fn part_key(task_id: Option<&TaskId>, url: &str) -> String {
    let identity = match task_id {
        Some(id) => format!("task:{id}"),
        None => format!("url:{}", url.split(['?', '#']).next().unwrap_or(url)),
    };
    let digest = Sha256::digest(identity.as_bytes());
    format!("{:x}", digest)[..16].to_owned()
}

/// A download in progress: a hidden `.part` file beside the destination,
/// kept across attempts, and how much of the video it holds. Removed when
/// dropped unless finished: only a killed process leaves one behind, for
/// the next download to the same destination.
struct Partial {
    dest: PathBuf,
    part: PathBuf,
    file: Option<tokio::fs::File>,
    bytes: u64,
}

impl Partial {
    /// Opens the part file for `dest` and `key`, resuming what an earlier
    /// (killed) download of the same video left, and removing the parts
    /// other videos left for `dest`.
    async fn open(dest: &Path, key: &str) -> Result<Partial> {
        let dir = match dest.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "video".into());
        let prefix = format!(".{name}.");
        let part = dir.join(format!("{prefix}{key}.part"));
        remove_stale_parts(&dir, &prefix, &part).await;
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part)
            .await
            .map_err(io("creating a temporary file in", &dir))?;
        let mut partial = Partial {
            dest: dest.to_path_buf(),
            part,
            file: Some(file),
            bytes: 0,
        };
        let kept = partial
            .file()
            .seek(std::io::SeekFrom::End(0))
            .await
            .map_err(io("opening", &partial.part))?;
        if kept > 0 {
            tracing::info!(kept, part = %partial.part.display(), "resuming a download an earlier run left");
        }
        partial.bytes = kept;
        Ok(partial)
    }

    fn file(&mut self) -> &mut tokio::fs::File {
        self.file.as_mut().expect("open until finished")
    }

    async fn append(&mut self, chunk: &[u8]) -> Result<()> {
        let part = self.part.clone();
        self.file()
            .write_all(chunk)
            .await
            .map_err(io("writing", &part))?;
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    /// Drops what was kept, for a server that sends the whole video again.
    async fn restart(&mut self) -> Result<()> {
        let path = self.part.clone();
        let file = self.file();
        file.flush().await.map_err(io("writing", &path))?;
        file.set_len(0).await.map_err(io("truncating", &path))?;
        file.seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(io("rewinding", &path))?;
        self.bytes = 0;
        Ok(())
    }

    /// Checks what came is a whole video (see [`Client::download`]): the
    /// length the server stated, then the container. A body cut short keeps
    /// its bytes for the retry to resume; one that is not a video at all is
    /// dropped.
    async fn check(&mut self, total: Option<u64>) -> Result<()> {
        if let Some(total) = total
            && self.bytes < total
        {
            return Err(Error::NotAVideo {
                reason: format!(
                    "the body ended after {} of the {total} bytes the server stated",
                    self.bytes
                ),
            });
        }
        let part = self.part.clone();
        let len = self.bytes;
        let file = self.file();
        file.flush().await.map_err(io("writing", &part))?;
        let verdict = container(file, len).await;
        // Appends go on at the end, whatever the check read.
        file.seek(std::io::SeekFrom::End(0))
            .await
            .map_err(io("reading back", &part))?;
        match verdict.map_err(io("reading back", &part))? {
            Container::Whole => Ok(()),
            Container::Cut(reason) => Err(Error::NotAVideo { reason }),
            Container::Not(reason) => {
                self.restart().await?;
                Err(Error::NotAVideo { reason })
            }
        }
    }

    /// The error for a server answer that cannot be used.
    fn invalid(&self, reason: &str) -> Error {
        Error::Io {
            action: "checking the server's answer for",
            path: self.dest.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason.to_owned()),
        }
    }

    /// Checks the length, syncs, and moves the file into place.
    async fn finish(mut self, total: Option<u64>) -> Result<Downloaded> {
        let dest = self.dest.clone();
        if let Some(total) = total
            && total != self.bytes
        {
            return Err(Error::Io {
                action: "checking the length of",
                path: dest,
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the server stated {total} bytes, {} arrived", self.bytes),
                ),
            });
        }
        let part = self.part.clone();
        let mut file = self.file.take().expect("open until finished");
        file.flush().await.map_err(io("writing", &part))?;
        file.sync_all().await.map_err(io("writing", &part))?;
        drop(file);
        if let Err(source) = tokio::fs::rename(&part, &dest).await {
            // Dropping `self` removes the part file.
            return Err(Error::Io {
                action: "moving the finished download to",
                path: dest,
                source,
            });
        }
        // Renamed: nothing left for `drop` to remove.
        self.part = PathBuf::new();
        Ok(Downloaded {
            path: dest,
            bytes: self.bytes,
        })
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.part.as_os_str().is_empty() {
            // Drop the handle first (Windows cannot remove an open file).
            self.file.take();
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// Removes the part files other videos (or this crate's earlier, randomly
/// named temporary files) left for the same destination: a download to it
/// replaces whatever they would have become. `.{name}.<word>.part` only, so
/// that `name.x`'s parts (`.{name}.x.<word>.part`) are not touched.
async fn remove_stale_parts(dir: &Path, prefix: &str, keep: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let word = file_name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".part"));
        let stale =
            word.is_some_and(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric()));
        let path = entry.path();
        if stale && path != keep {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {
                    tracing::info!(part = %path.display(), "removed a download an earlier run left")
                }
                Err(error) => {
                    tracing::warn!(part = %path.display(), %error, "could not remove a download an earlier run left")
                }
            }
        }
    }
}

/// Why an answer is not taken for a video, judged by its `Content-Type`: a
/// page or a document (`text/*`, JSON, XML and their `+json`/`+xml`
/// kinds, JavaScript, an image) never is. Every other type, and none, is
/// left to the bytes to prove: hosts label videos `video/*`,
/// `application/octet-stream`, `binary/octet-stream`, or even
/// `application/x-download`.
fn refused_content_type(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let value = headers.get(reqwest::header::CONTENT_TYPE)?;
    let essence = String::from_utf8_lossy(value.as_bytes())
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    let document = matches!(kind, "text" | "image")
        || matches!(sub, "json" | "xml" | "javascript" | "ecmascript")
        || sub.ends_with("+json")
        || sub.ends_with("+xml");
    document.then(|| {
        let shown: String = essence.chars().take(60).collect();
        format!("the server answered a {shown} document, not a video")
    })
}

/// WebM's (and Matroska's) first four bytes: an EBML header element.
const EBML_MAGIC: [u8; 4] = [0x1a, 0x45, 0xdf, 0xa3];

/// What a video's first bytes say it is.
#[derive(Debug, PartialEq, Eq)]
enum Start {
    /// An MP4 or MOV: an `ftyp` box first.
    Mp4,
    /// A WebM (or Matroska): the EBML magic.
    WebM,
}

/// Judges a video's first 8 bytes (fewer only when no more came): the
/// container they start, or why they start none.
fn video_start(head: &[u8]) -> std::result::Result<Start, String> {
    if head.len() >= 4 && head[..4] == EBML_MAGIC {
        return Ok(Start::WebM);
    }
    match head.get(4..8) {
        Some(b"ftyp") => Ok(Start::Mp4),
        Some(_) => {
            Err("it does not start with an `ftyp` box: not an MP4/MOV or WebM video".to_owned())
        }
        None => Err(format!(
            "only {} bytes came: not an MP4/MOV or WebM video",
            head.len()
        )),
    }
}

/// `inner`, refused with an [`Error::NotAVideo`] item in place of its first
/// chunk when its first bytes start no video container (chunks are held
/// back only until 8 bytes have come).
fn checked_start(
    inner: impl Stream<Item = Result<Bytes>> + Send + 'static,
) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
    let state = (Box::pin(inner), Vec::new(), false);
    futures_util::stream::unfold(Some(state), |state| async move {
        let (mut inner, mut held, checked) = state?;
        if checked {
            let item = inner.next().await?;
            return Some((item, Some((inner, held, true))));
        }
        while held.len() < 8 {
            match inner.next().await {
                Some(Ok(chunk)) => held.extend_from_slice(&chunk),
                Some(Err(error)) => return Some((Err(error), None)),
                None => break,
            }
        }
        match video_start(&held[..held.len().min(8)]) {
            Ok(_) => Some((Ok(Bytes::from(held)), Some((inner, Vec::new(), true)))),
            Err(reason) => Some((Err(Error::NotAVideo { reason }), None)),
        }
    })
}

/// What the bytes of a download are.
#[derive(Debug, PartialEq, Eq)]
enum Container {
    /// An MP4/MOV whose top-level boxes are all there, or a WebM.
    Whole,
    /// An MP4/MOV cut short: a box runs past the bytes that came.
    Cut(String),
    /// Not a video container at all.
    Not(String),
}

/// Judges the first `len` bytes of `file`: a WebM by its magic, an MP4 or
/// MOV by an `ftyp` box first and a walk over its top-level boxes, each of
/// which must end within `len` (a box of size 0 runs to the end). Reads
/// only the box headers.
async fn container<R>(file: &mut R, len: u64) -> std::io::Result<Container>
where
    R: AsyncRead + AsyncSeek + Unpin,
{
    let not = |what: &str| Container::Not(format!("{what}: not an MP4/MOV or WebM video"));
    let mut head = [0u8; 16];
    file.seek(std::io::SeekFrom::Start(0)).await?;
    let first = usize::try_from(len.min(8)).unwrap_or(8);
    file.read_exact(&mut head[..first]).await?;
    match video_start(&head[..first]) {
        Err(reason) => return Ok(Container::Not(reason)),
        Ok(Start::WebM) => return Ok(Container::Whole),
        Ok(Start::Mp4) => {}
    }
    let mut at = 0u64;
    while at < len {
        if len - at < 8 {
            return Ok(Container::Cut(format!(
                "the file ends inside a box header at byte {at} of {len}: it was cut short"
            )));
        }
        file.seek(std::io::SeekFrom::Start(at)).await?;
        file.read_exact(&mut head[..8]).await?;
        let kind = String::from_utf8_lossy(&head[4..8]).into_owned();
        let size = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            // The last box, running to the end of the file.
            0 => return Ok(Container::Whole),
            // A 64-bit size follows the type.
            1 => {
                if len - at < 16 {
                    return Ok(Container::Cut(format!(
                        "the file ends inside the `{kind}` box's header at byte {at}: it was cut short"
                    )));
                }
                file.read_exact(&mut head[8..16]).await?;
                let large = u64::from_be_bytes(head[8..16].try_into().expect("8 bytes"));
                if large < 16 {
                    return Ok(not(&format!(
                        "a `{kind}` box of {large} bytes at byte {at}"
                    )));
                }
                large
            }
            small @ 2..8 => {
                return Ok(not(&format!(
                    "a `{kind}` box of {small} bytes at byte {at}"
                )));
            }
            size => u64::from(size),
        };
        match at.checked_add(size) {
            Some(end) if end <= len => at = end,
            _ => {
                return Ok(Container::Cut(format!(
                    "its `{kind}` box at byte {at} is {size} bytes long, but only {} came: it was cut short",
                    len - at
                )));
            }
        }
    }
    Ok(Container::Whole)
}

/// Maps an I/O error on `path` to [`Error::Io`] saying what was being done.
fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_206_is_taken_only_for_what_its_content_range_says() {
        // The rest of the video, from the requested byte to the end.
        assert_eq!(
            partial_answer(Some("bytes 500-999/1000"), Some(500), 500),
            Answer::Rest(1000)
        );
        assert_eq!(
            partial_answer(Some("bytes 500-999/1000"), None, 500),
            Answer::Rest(1000)
        );
        // A 206 to a whole-video request that is in fact the whole video.
        assert_eq!(
            partial_answer(Some("bytes 0-999/1000"), Some(1000), 0),
            Answer::Rest(1000)
        );
        for (range, body, from) in [
            (None, Some(500), 500),                       // no Content-Range
            (None, Some(1000), 0),                        // not even for the whole
            (Some("bytes 0-499/1000"), Some(500), 500),   // another offset
            (Some("bytes 500-799/1000"), Some(300), 500), // stops short
            (Some("bytes 500-999/*"), Some(500), 500),    // no total to check against
            (Some("bytes 500-999/900"), Some(500), 500),  // past its own total
            (Some("bytes 500-999/1000"), Some(400), 500), // body disagrees
            (Some("items 500-999/1000"), Some(500), 500), // not bytes
            (Some("bytes 0-499/1000"), Some(500), 0),     // only a slice of it
        ] {
            assert!(
                matches!(partial_answer(range, body, from), Answer::Unusable(_)),
                "{range:?} {body:?} {from}"
            );
        }
    }

    /// An MP4 of `ftyp`, then a box of `size` bytes of which `present` came.
    fn mp4(size: u32, present: usize) -> Vec<u8> {
        let mut bytes = b"\0\0\0\x10ftypisom\0\0\0\0".to_vec();
        let mut mdat = size.to_be_bytes().to_vec();
        mdat.extend_from_slice(b"mdat");
        mdat.resize(size as usize, 7);
        bytes.extend_from_slice(&mdat[..present]);
        bytes
    }

    async fn judge(bytes: &[u8]) -> Container {
        container(&mut std::io::Cursor::new(bytes), bytes.len() as u64)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn only_a_whole_mp4_or_a_webm_is_a_video() {
        assert_eq!(judge(&mp4(100, 100)).await, Container::Whole);
        assert_eq!(
            judge(&b"\0\0\0\x10ftypisom\0\0\0\0"[..]).await,
            Container::Whole
        );
        // A last box of size 0 runs to the end.
        let mut open_ended = mp4(100, 100);
        open_ended[16..20].copy_from_slice(&[0; 4]);
        assert_eq!(judge(&open_ended).await, Container::Whole);
        // A 64-bit size.
        let mut large = b"\0\0\0\x10ftypisom\0\0\0\0\0\0\0\x01mdat".to_vec();
        large.extend_from_slice(&40u64.to_be_bytes());
        large.resize(16 + 40, 0);
        assert_eq!(judge(&large).await, Container::Whole);
        assert_eq!(
            judge(&[0x1a, 0x45, 0xdf, 0xa3, 1, 2]).await,
            Container::Whole
        );
        for cut in [
            mp4(100, 50),         // the last box runs past the end
            mp4(100, 5),          // the file ends inside a box header
            large[..30].to_vec(), // inside a 64-bit box
        ] {
            assert!(matches!(judge(&cut).await, Container::Cut(_)), "{cut:?}");
        }
        for not in [
            &b"<!doctype html><html><body>Sign in</body></html>"[..],
            b"",
            b"\0\0\0",
            b"\0\0\0\x10moovisom\0\0\0\0",
            b"\0\0\0\x10ftypisom\0\0\0\0\0\0\0\x04free", // a box smaller than its header
        ] {
            assert!(matches!(judge(not).await, Container::Not(_)), "{not:?}");
        }
    }

    #[test]
    fn pages_and_documents_are_refused_by_their_type() {
        let refused = |value: Option<&str>| {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some(value) = value {
                headers.insert("content-type", value.parse().unwrap());
            }
            refused_content_type(&headers)
        };
        for page in [
            "text/html; charset=utf-8",
            "TEXT/HTML",
            "application/json",
            "application/problem+json",
            "application/xml",
            "application/xhtml+xml",
            "text/plain",
            "image/png",
        ] {
            assert!(refused(Some(page)).is_some(), "{page}");
        }
        for video in [
            None,
            Some("video/mp4"),
            Some("video/webm"),
            Some("application/octet-stream"),
            Some("binary/octet-stream"),
            Some("application/x-download"),
        ] {
            assert_eq!(refused(video), None, "{video:?}");
        }
    }

    #[test]
    fn a_part_file_is_named_after_the_video_not_its_signature() {
        let a = part_key(None, "https://cdn.example/v.mp4?token=exp=1~hmac=a");
        let b = part_key(None, "https://cdn.example/v.mp4?token=exp=2~hmac=b");
        assert_eq!(a, b);
        assert_ne!(a, part_key(None, "https://cdn.example/w.mp4"));
        let id = TaskId::from("t-1");
        assert_eq!(
            part_key(Some(&id), "https://x/1"),
            part_key(Some(&id), "https://y/2")
        );
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[tokio::test]
    async fn a_part_left_by_a_killed_run_is_resumed_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("v.mp4");
        let key = part_key(Some(&TaskId::from("t-1")), "https://x/v.mp4");
        let ours = dir.path().join(format!(".v.mp4.{key}.part"));
        let other = dir.path().join(".v.mp4.0123456789abcdef.part");
        let old_temp = dir.path().join(".v.mp4.Ab12Cd.part");
        let not_ours = dir.path().join(".v.mp4.x.0123456789abcdef.part");
        for (path, bytes) in [(&ours, 300), (&other, 10), (&old_temp, 20), (&not_ours, 5)] {
            std::fs::write(path, vec![7u8; bytes]).unwrap();
        }
        let partial = Partial::open(&dest, &key).await.unwrap();
        assert_eq!(partial.bytes, 300, "the same video's bytes are kept");
        assert!(!other.exists() && !old_temp.exists(), "other leftovers go");
        assert!(
            not_ours.exists(),
            "another destination's part is not touched"
        );
        drop(partial);
        assert!(
            !ours.exists(),
            "a part is removed when its download ends without a video"
        );
    }
}
