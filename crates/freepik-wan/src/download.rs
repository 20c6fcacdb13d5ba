//! Getting the video: to a file (atomically, with progress) or as a stream.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::api_error::{error_body, from_bytes};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::retry::Idempotency;
use crate::task::Task;

/// Where a video can be fetched from: a completed [`Task`] (its first
/// generated URL) or a URL string.
pub trait VideoSource {
    /// The URL to fetch, or why there is none.
    fn video_url(&self) -> Result<&str>;
}

impl VideoSource for Task {
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
    /// The bytes go to a temporary file beside `path`, renamed into place
    /// only when complete: an error leaves no partial file, and an existing
    /// file at `path` is replaced only by a whole video. Memory stays flat
    /// whatever the size. Retried on connection errors, 408, 429 and 5xx; a
    /// download cut half-way resumes from the bytes already on disk with a
    /// `Range` request when the server answers it (`206`), and starts over
    /// when it does not. The finished file must have the length the server
    /// stated. The API key is never sent to the video URL.
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
        let url = source.video_url()?.to_owned();
        let path = path.as_ref().to_path_buf();
        let progress = Mutex::new(progress);
        // One temporary file for every attempt, so a retry can resume it.
        let partial = tokio::sync::Mutex::new(Partial::beside(&path)?);
        let total = self
            .shared
            .retry
            .run("download", Idempotency::Idempotent, || {
                self.download_into(&url, &partial, &progress)
            })
            .await?;
        let saved = partial.into_inner().finish(&path, total).await?;
        tracing::info!(path = %path.display(), bytes = saved.bytes, "video downloaded");
        Ok(saved)
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
        let from = partial.bytes;
        let response = self.get_video(url, from).await?;
        let total = match resumed_total(&response, from) {
            Some(total) => total,
            None => {
                if from > 0 {
                    tracing::info!(kept = from, "the server did not resume: starting over");
                    partial.restart().await?;
                }
                response.content_length()
            }
        };
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|source| Error::Transport { source })?;
            partial.append(&chunk).await?;
            let bytes = partial.bytes;
            (progress.lock().expect("progress callback panicked"))(Progress { bytes, total });
        }
        Ok(total)
    }

    /// The video as a stream of byte chunks, for sending it elsewhere
    /// without touching the disk. The first request is retried; a stream cut
    /// half-way ends with an error item (start over, or use
    /// [`download`](Self::download), which retries whole).
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
        let url = source.video_url()?.to_owned();
        let response = self
            .shared
            .retry
            .run("download", Idempotency::Idempotent, || {
                self.get_video(&url, 0)
            })
            .await?;
        Ok(VideoStream {
            total: response.content_length(),
            inner: Box::pin(
                response
                    .bytes_stream()
                    .map(|chunk| chunk.map_err(|source| Error::Transport { source })),
            ),
        })
    }

    /// GETs the video, from byte `from` on when it is not 0.
    async fn get_video(&self, url: &str, from: u64) -> Result<reqwest::Response> {
        let parsed = crate::http_url::parse(url, "url")?;
        let mut request = self.shared.download_http.get(parsed);
        if from > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={from}-"));
        }
        let response = request
            .send()
            .await
            .map_err(|source| Error::Transport { source })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = error_body(response).await.unwrap_or_default();
        Err(from_bytes(status, headers, &body))
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

/// The video's whole length if `response` resumes at byte `from`: a `206`
/// whose `Content-Range` starts there. `None` for anything else, which then
/// counts as the whole video from the start.
fn resumed_total(response: &reqwest::Response, from: u64) -> Option<Option<u64>> {
    if from == 0 || response.status() != reqwest::StatusCode::PARTIAL_CONTENT {
        return None;
    }
    // `bytes <first>-<last>/<length or *>`
    let range = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?
        .strip_prefix("bytes ")?;
    let (span, length) = range.split_once('/')?;
    let first: u64 = span.split_once('-')?.0.trim().parse().ok()?;
    (first == from).then(|| length.trim().parse().ok())
}

/// A download in progress: a temporary file beside the destination, kept
/// across attempts, and how much of the video it holds.
struct Partial {
    /// Deleted when dropped: an error leaves nothing behind.
    temp: tempfile::NamedTempFile,
    file: tokio::fs::File,
    bytes: u64,
}

impl Partial {
    fn beside(path: &Path) -> Result<Partial> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "video".into());
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".part");
        // Temporary files are private (0600); the video should get the mode
        // any new file gets (0666 less the umask), as `File::create` would.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temp = builder
            .tempfile_in(&dir)
            .map_err(io("creating a temporary file in", &dir))?;
        let file = tokio::fs::File::from_std(
            temp.as_file()
                .try_clone()
                .map_err(io("opening", temp.path()))?,
        );
        Ok(Partial {
            temp,
            file,
            bytes: 0,
        })
    }

    async fn append(&mut self, chunk: &[u8]) -> Result<()> {
        self.file
            .write_all(chunk)
            .await
            .map_err(io("writing", self.temp.path()))?;
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    /// Drops what was kept, for a server that sends the whole video again.
    async fn restart(&mut self) -> Result<()> {
        let path = self.temp.path().to_path_buf();
        self.file.flush().await.map_err(io("writing", &path))?;
        self.file
            .set_len(0)
            .await
            .map_err(io("truncating", &path))?;
        self.file
            .seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(io("rewinding", &path))?;
        self.bytes = 0;
        Ok(())
    }

    /// Checks the length, syncs, and moves the file into place.
    async fn finish(mut self, path: &Path, total: Option<u64>) -> Result<Downloaded> {
        let temp_path = self.temp.path().to_path_buf();
        if let Some(total) = total
            && total != self.bytes
        {
            return Err(Error::Io {
                action: "checking the length of",
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the server stated {total} bytes, {} arrived", self.bytes),
                ),
            });
        }
        self.file.flush().await.map_err(io("writing", &temp_path))?;
        self.file
            .sync_all()
            .await
            .map_err(io("writing", &temp_path))?;
        drop(self.file);
        self.temp.persist(path).map_err(|e| Error::Io {
            action: "moving the finished download to",
            path: path.to_path_buf(),
            source: e.error,
        })?;
        Ok(Downloaded {
            path: path.to_path_buf(),
            bytes: self.bytes,
        })
    }
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
