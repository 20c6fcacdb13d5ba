//! `generate` and `wait`: the long-running commands, which create (or pick
//! up) a task, wait for it and download the video.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use freepik_wan::{Client, Media, Model, Resolution, TaskId, VideoRequest};
use serde_json::{Value, json};

use crate::args::{Generate, Inputs};
use crate::connect::Connection;
use crate::exit::{Code, Failure};
use crate::output::Output;
use crate::progress;
use crate::signal::interrupted;

/// `generate`: create the task (every check the SDK makes happens before
/// anything is sent), then, unless `--no-wait`, wait and download.
pub async fn generate(connection: &Connection, args: Generate, out: Output) -> Result<(), Failure> {
    let started = Instant::now();
    // `--timeout` bounds the create as well as the wait: a service that
    // never answers must not hold the command past it.
    let deadline = args
        .timeout
        .map(|secs| tokio::time::Instant::now() + Duration::from_secs(secs));
    let service = connection.service(args.simulate, args.timeout).await?;
    if let Some(simulator) = &service.simulator {
        out.note(format!(
            "simulating the API at {} (no key, no network, no credits)",
            simulator.base_url()
        ));
    }
    let client = &service.client;

    let (model, body_resolution) = args.tier.target()?;
    if !args.no_wait {
        check_out_path(args.out.as_deref())?;
    }
    let request = args.inputs.request(model, body_resolution.as_deref())?;
    // `prepare` makes every check of the model's body first (nothing is sent
    // when one fails), then the uploads (local files for URL-only fields)
    // and task inputs: a failure there sends no create.
    let (bar, report) = progress::upload_bar(out);
    let body = tokio::select! {
        body = client.prepare_with_progress(request, report) => {
            bar.finish_and_clear();
            body?
        }
        () = interrupted() => {
            return Err(Failure::new(
                Code::Interrupted,
                "interrupted before the create was sent; nothing was made",
            ));
        }
        () = until(deadline) => {
            return Err(Failure::new(
                Code::TimedOut,
                "--timeout passed while uploading the inputs; no create was sent",
            ));
        }
    };
    let created = create(client, client.create_body(body), model, deadline, &out)
        .await
        .map_err(|abandoned| abandoned.report(model, started.elapsed()))?;
    let task = match created {
        Created::Done(task) => task?,
        // Ctrl-C came during the create, which has now answered: name the
        // task and stop, as Ctrl-C during the wait does.
        Created::ThenInterrupted(task) => {
            let task = task?;
            return Err(Failure::new(
                Code::Interrupted,
                format!(
                    "interrupted; task {} was created and goes on: `{}` picks it up",
                    task.id,
                    wait_command(&task.id)
                ),
            )
            .with("task_id", json!(task.id)));
        }
    };
    let create_ms = millis(started.elapsed());
    out.note(format!("created task {} ({})", task.id, task.status));

    if args.no_wait {
        out.note(format!("`{}` waits for it", wait_command(&task.id)));
        out.result(
            task.id.as_str(),
            json!({
                "task_id": task.id,
                "status": task.status,
                "urls": task.generated,
                "wait_command": wait_command(&task.id),
                "file": null,
                "bytes": null,
                "timings": { "create_ms": create_ms, "total_ms": millis(started.elapsed()) },
            }),
        );
        return Ok(());
    }
    let path = args.out.unwrap_or_else(|| default_file(&task.id));
    let resumable = service.simulator.is_none();
    let run = Run {
        started,
        create_ms: Some(create_ms),
        resumable,
        deadline,
        download_by: deadline,
    };
    finish(client, &task.id, Some(path), out, run).await
}

/// `wait`: wait for a task someone created earlier and, with `--out`,
/// download its video.
pub async fn wait(
    connection: &Connection,
    task_id: TaskId,
    path: Option<PathBuf>,
    timeout: Option<u64>,
    out: Output,
) -> Result<(), Failure> {
    let started = Instant::now();
    if path.is_some() {
        check_out_path(path.as_deref())?;
    }
    let client = connection.client(timeout)?;
    let run = Run {
        started,
        create_ms: None,
        resumable: true,
        // The client's wait options carry `--timeout`.
        deadline: None,
        download_by: timeout.map(|secs| tokio::time::Instant::now() + Duration::from_secs(secs)),
    };
    finish(&client, &task_id, path, out, run)
        .await
        .map_err(|failure| not_found_hint(failure, &task_id))
}

/// What `finish` needs to know about the command so far.
struct Run {
    /// When the command started, for `total_ms`.
    started: Instant,
    /// How long the create took, for `generate`.
    create_ms: Option<u64>,
    /// Whether the task outlives this process (not so with `--simulate`).
    resumable: bool,
    /// When waiting must have ended, if earlier than the wait's own timeout.
    deadline: Option<tokio::time::Instant>,
    /// When the whole command must have ended (`--timeout`): the download
    /// too, whose retries could otherwise run past it.
    download_by: Option<tokio::time::Instant>,
}

/// Waits, downloads when there is somewhere to put the video, and reports.
async fn finish(
    client: &Client,
    id: &TaskId,
    path: Option<PathBuf>,
    out: Output,
    run: Run,
) -> Result<(), Failure> {
    let Run {
        started,
        create_ms,
        resumable,
        deadline,
        download_by,
    } = run;
    // Whatever goes wrong from here, the task exists: say which one, so the
    // user can `wait` for it again instead of paying for a new one.
    let created = create_ms.is_some();
    let about_task = |failure: Failure| naming_task(failure, id, path.as_deref(), created);
    // Ctrl-C drops the wait or the download (whose temporary file goes with
    // it) and says how to pick the task up again: it runs on regardless.
    let on_interrupt = || async {
        interrupted().await;
        if !resumable {
            return Failure::new(Code::Interrupted, "interrupted");
        }
        let resume = resume_command(id, path.as_deref());
        Failure::new(
            Code::Interrupted,
            format!("interrupted; task {id} goes on: `{resume}` picks it up again"),
        )
    };
    let waiting = Instant::now();
    let task = tokio::select! {
        task = progress::wait(client, id, deadline, out) => task,
        stop = on_interrupt() => Err(stop),
    }
    .map_err(about_task)?;
    let wait_ms = millis(waiting.elapsed());

    let (saved, download_ms) = match &path {
        Some(path) => {
            let downloading = Instant::now();
            let download = async {
                let download = progress::download(client, &task, path, out);
                match download_by {
                    Some(by) => match tokio::time::timeout_at(by, download).await {
                        Ok(saved) => saved.map_err(Failure::from),
                        Err(_) => Err(Failure::new(
                            Code::TimedOut,
                            "--timeout passed while downloading the video (the task is COMPLETED)",
                        )),
                    },
                    None => download.await.map_err(Failure::from),
                }
            };
            let saved = tokio::select! {
                saved = download => saved,
                stop = on_interrupt() => Err(stop),
            }
            .map_err(about_task)?;
            (Some(saved), Some(millis(downloading.elapsed())))
        }
        None => (None, None),
    };

    let mut timings = serde_json::Map::new();
    if let Some(create_ms) = create_ms {
        timings.insert("create_ms".into(), json!(create_ms));
    }
    timings.insert("wait_ms".into(), json!(wait_ms));
    timings.insert("download_ms".into(), json!(download_ms));
    timings.insert("total_ms".into(), json!(millis(started.elapsed())));

    let plain = match &saved {
        Some(saved) => saved.path.display().to_string(),
        None => task.generated.join("\n"),
    };
    out.result(
        plain,
        json!({
            "task_id": task.id,
            "status": task.status,
            "urls": task.generated,
            "file": saved.as_ref().map(|s| s.path.display().to_string()),
            "bytes": saved.as_ref().map(|s| s.bytes),
            "timings": Value::Object(timings),
        }),
    );
    Ok(())
}

/// The create got no answer before `--timeout`. It may still have reached
/// the service and made a (paid) task, so say where to look before trying
/// again.
/// How a create that ran to its answer ended.
enum Created {
    /// As usual.
    Done(freepik_wan::Result<freepik_wan::Task>),
    /// With a Ctrl-C on the way, which waited for the answer.
    ThenInterrupted(freepik_wan::Result<freepik_wan::Task>),
}

/// Why a create was left before it answered, with the tasks that appeared
/// in the list since it began.
enum Abandoned {
    /// `--timeout` passed.
    Deadline(Listed),
    /// Ctrl-C (or SIGTERM), twice.
    Interrupted(Listed),
}

/// The tasks that appeared in the list since the create began, or `None`
/// when the list could not be read in time.
type Listed = Option<Vec<freepik_wan::Task>>;

impl Abandoned {
    /// The uncertain report: the create may have reached the service, so the
    /// tasks that appeared since it began are named, with how to wait.
    fn report(self, model: Model, waited: Duration) -> Failure {
        let (code, what, listed) = match self {
            Abandoned::Deadline(tasks) => (
                Code::TimedOut,
                format!(
                    "no answer to the create after {:.1}s (--timeout)",
                    waited.as_secs_f64()
                ),
                tasks,
            ),
            Abandoned::Interrupted(tasks) => (
                Code::Interrupted,
                "interrupted during the create".to_owned(),
                tasks,
            ),
        };
        let read = listed.is_some();
        crate::exit::may_have_made(
            code,
            format!("{what}; it may still have made a task"),
            model,
            &listed.unwrap_or_default(),
            read,
        )
    }
}

/// How long an abandoned create's report may spend listing candidates: kept
/// out of `--timeout`'s share for the create, so the deadline still holds.
const ABANDONED_LIST_LIMIT: Duration = Duration::from_secs(1);

/// Runs the create to its answer, unless `--timeout` passes or the user
/// interrupts twice. The first Ctrl-C lets the create finish, since its
/// answer is the only thing that names the task it made.
async fn create<F>(
    client: &Client,
    send: F,
    model: Model,
    deadline: Option<tokio::time::Instant>,
    out: &Output,
) -> Result<Created, Abandoned>
where
    F: std::future::Future<Output = freepik_wan::Result<freepik_wan::Task>>,
{
    let mut send = std::pin::pin!(send);
    // The create ends early enough to leave time for the report's list.
    let started = tokio::time::Instant::now();
    let report_by = deadline;
    let deadline = deadline.map(|d| {
        d.checked_sub(ABANDONED_LIST_LIMIT)
            .filter(|d| *d > started)
            .unwrap_or(d)
    });
    let expired = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    let mut expired = std::pin::pin!(expired);
    let mut interrupts = 0;
    let abandoned = loop {
        tokio::select! {
            result = &mut send => {
                return Ok(if interrupts > 0 {
                    Created::ThenInterrupted(result)
                } else {
                    Created::Done(result)
                });
            }
            () = &mut expired => break false,
            () = interrupted() => {
                interrupts += 1;
                if interrupts >= 2 {
                    break true;
                }
                out.note("interrupted: finishing the create first, so that its task is known \
                          (Ctrl-C again to stop now)");
            }
        }
    };
    // The create may be on the service's side already: look for its task,
    // within what is left of `--timeout` (or a second after Ctrl-C).
    let now = tokio::time::Instant::now();
    let until = report_by
        .filter(|_| !abandoned)
        .unwrap_or(now + ABANDONED_LIST_LIMIT)
        .max(now);
    // `None` too when the tasks already there were never listed: then no
    // task can be told new, and none is named.
    let listed = tokio::time::timeout_at(until, client.unclaimed_tasks_at(model))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    Err(if abandoned {
        Abandoned::Interrupted(listed)
    } else {
        Abandoned::Deadline(listed)
    })
}

/// `failure`, after the task exists: its message (stderr, even with `-q`)
/// and its `--json` object name the task and the command that finishes
/// it, so that nobody pays for a second one to get the first's video.
/// (`created`: this run's create made it; else it is a task asked for by
/// id, which a 404 says is not there.)
pub fn naming_task(failure: Failure, id: &TaskId, path: Option<&Path>, created: bool) -> Failure {
    let resume = resume_command(id, path);
    let mut failure = failure;
    let not_found = failure.json.get("http_status") == Some(&json!(404));
    if !failure.message.contains(id.as_str()) && (created || !not_found) {
        let state = if created {
            "was created and goes on (it is paid for)"
        } else {
            "goes on"
        };
        failure.message = format!(
            "{}; task {id} {state}: `{resume}` picks it up",
            failure.message
        );
    }
    if !failure.json.contains_key("task_id") {
        failure = failure.with("task_id", json!(id));
    }
    failure.with("resume", json!(resume))
}

/// `freepik-wan wait <id> [--model …] [--out <path>]`.
fn resume_command(id: &TaskId, path: Option<&Path>) -> String {
    match path {
        Some(path) => format!("{} --out {}", wait_command(id), path.display()),
        None => wait_command(id),
    }
}

/// Checks, before anything is sent, that the video can be saved at `path`
/// (or, for `None`, in the current directory): not a directory, in a
/// directory that exists and takes a new file. A create must never be paid
/// for only to find that its video has nowhere to go.
pub fn check_out_path(path: Option<&Path>) -> Result<(), Failure> {
    let refuse = |why: String| Failure::new(Code::Usage, why).with("field", json!("out"));
    if let Some(path) = path
        && path.is_dir()
    {
        return Err(refuse(format!(
            "--out {} is a directory: name the file to write (nothing was sent)",
            path.display()
        )));
    }
    let dir = match path.and_then(Path::parent) {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(refuse(format!(
            "--out: directory {} does not exist (nothing was sent)",
            dir.display()
        )));
    }
    // Only writing tells whether writing works (permissions, read-only or
    // virtual file systems): a new file that is removed at once.
    let probe = dir.join(format!(".freepik-wan-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(refuse(format!(
            "--out: cannot write a file in {}: {e} (nothing was sent)",
            dir.display()
        ))),
    }
}

/// A 404 for a task: a task is found only at the model that made it, so
/// say which model was asked and how to name another.
pub fn not_found_hint(failure: Failure, id: &TaskId) -> Failure {
    if failure.json.get("http_status") != Some(&json!(404)) {
        return failure;
    }
    let mut failure = failure;
    failure.message = format!(
        "{}: no task {id} at {} (a task is found only at the model that made it; name that one, \
         e.g. `freepik-wan wait {id} --model text-to-video/wan-2-7`; `freepik-wan models` lists them)",
        failure.message,
        id.model()
    );
    failure.with("model", json!(id.model().to_string()))
}

/// Sleeps until `deadline`, or forever without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The command that picks `id` up again: `freepik-wan wait <id>`, naming the
/// model when it is not the default (the task is only found there).
pub fn wait_command(id: &TaskId) -> String {
    format!("freepik-wan wait {id}{}", model_flags(id.model()))
}

/// The flags that name `model` to `wait`, `status` and `list`: none for the
/// default, `--resolution` for another Wan 2.2 tier, else `--model`.
pub fn model_flags(model: Model) -> String {
    match model.resolution() {
        Some(resolution) if resolution == Resolution::default() => String::new(),
        Some(resolution) => format!(" --resolution {resolution}"),
        None => format!(" --model {model}"),
    }
}

impl Inputs {
    /// The request for `model` with these inputs, the body's `resolution`
    /// (Wan 2.7) included: the one mapping `generate` and a manifest's rows
    /// share, so a column and its flag always mean the same. Each media
    /// input is a file, a URL or `task:KIND/SEGMENT/ID`;
    /// [`VideoRequest::check`] checks them all against the model before
    /// anything is sent.
    ///
    /// # Errors
    ///
    /// A `task:` input that names no model or id.
    pub fn request(
        &self,
        model: Model,
        body_resolution: Option<&str>,
    ) -> Result<VideoRequest, freepik_wan::Error> {
        let mut request = model.request();
        if let Some(text) = &self.prompt {
            request = request.prompt(text.as_str());
        }
        if let Some(text) = &self.negative_prompt {
            request = request.negative_prompt(text.as_str());
        }
        if let Some(image) = &self.image {
            request = request.image(Media::parse(image)?);
        }
        if let Some(image) = &self.end_image {
            request = request.end_image(Media::parse(image)?);
        }
        if let Some(video) = &self.video {
            request = request.video(Media::parse(video)?);
        }
        for reference in &self.references {
            request = with_reference(request, reference)?;
        }
        if let Some(audio) = &self.audio {
            request = request.audio(Media::parse(audio)?);
        }
        if let Some(seconds) = self.duration {
            request = request.duration(seconds);
        }
        if let Some(ratio) = &self.aspect_ratio {
            request = request.aspect_ratio(ratio);
        }
        if let Some(size) = &self.size {
            request = request.size(size);
        }
        if let Some(shot) = &self.shot_type {
            request = request.shot_type(shot);
        }
        if let Some(on) = self.prompt_expansion {
            request = request.prompt_expansion(on);
        }
        if let Some(resolution) = body_resolution {
            request = request.resolution(resolution);
        }
        if let Some(seed) = self.seed {
            request = request.seed(seed);
        }
        if let Some(url) = &self.webhook_url {
            request = request.webhook_url(url);
        }
        for field in &self.set {
            let (name, value) = set_field(field)?;
            request = request.set(name, value);
        }
        Ok(request)
    }
}

/// `FIELD=JSON` (`--set`): the field's name and its value.
fn set_field(text: &str) -> Result<(&str, Value), freepik_wan::Error> {
    let refuse = |reason: String| freepik_wan::Error::Validation {
        field: "set",
        reason,
    };
    let (name, json) = text
        .split_once('=')
        .filter(|(name, _)| !name.trim().is_empty())
        .ok_or_else(|| refuse(format!("{text:?} is not FIELD=JSON")))?;
    let value = serde_json::from_str(json).map_err(|e| {
        refuse(format!(
            "{}: {json:?} is not JSON ({e}); a string needs its quotes: {}='\"text\"'",
            name.trim(),
            name.trim()
        ))
    })?;
    Ok((name.trim(), value))
}

/// Adds one `MEDIA[,voice=MEDIA]` reference (`--reference`, or a manifest's
/// `reference` column), each a file, a URL or `task:…`: a video (a task's,
/// or by the name's extension) or an image.
pub fn with_reference(
    request: VideoRequest,
    reference: &str,
) -> Result<VideoRequest, freepik_wan::Error> {
    let (media, voice) = match reference.split_once(",voice=") {
        Some((media, voice)) => (media, Some(Media::parse(voice)?)),
        None => (reference, None),
    };
    let video = is_video_url(media) || media.trim().starts_with("task:");
    let media = Media::parse(media)?;
    Ok(if video {
        request.reference_video(media, voice)
    } else {
        request.reference_image(media, voice)
    })
}

/// Whether a reference names a video (by its path's extension).
fn is_video_url(url: &str) -> bool {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    [".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// `<task_id>.mp4` in the current directory, keeping only characters a task
/// id (a UUID) has: a surprising id must not become a path elsewhere.
fn default_file(id: &TaskId) -> PathBuf {
    let safe: String = id
        .as_str()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    let stem = if safe.is_empty() { "video" } else { &safe };
    PathBuf::from(format!("{stem}.mp4"))
}

/// Milliseconds, for the `--json` timings.
pub fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use freepik_wan::Error;
    use freepik_wan::reqwest::StatusCode;
    use freepik_wan::reqwest::header::{HeaderMap, HeaderValue};

    fn api(status: u16, message: &str, retry_after: Option<&str>) -> Error {
        let mut headers = HeaderMap::new();
        if let Some(secs) = retry_after {
            headers.insert("retry-after", HeaderValue::from_str(secs).unwrap());
        }
        Error::Api {
            status: StatusCode::from_u16(status).unwrap(),
            message: message.into(),
            invalid_params: Vec::new(),
            headers: Box::new(headers),
        }
    }

    /// After an accepted create, every failure of the wait or download
    /// names the task and the command that finishes it, in the message
    /// (stderr, shown even with `-q`) and in the `--json` object: a 401, a
    /// 429 for an hour and a quota used to say only `error: ...`.
    #[test]
    fn failures_after_the_create_name_the_task_and_how_to_finish_it() {
        let id = TaskId::from("046b6c7f-0b8a-43b9-b35d-6489e6daee91");
        let path = Path::new("out/v.mp4");
        let quota = Error::QuotaExceeded {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: "Limit for free users reached.".into(),
            headers: Box::default(),
        };
        for error in [
            api(401, "Invalid API key", None),
            api(429, "Too many requests", Some("3600")),
            quota,
        ] {
            let failure = naming_task(Failure::from(error), &id, Some(path), true);
            let want = format!("freepik-wan wait {id} --out out/v.mp4");
            assert!(failure.message.contains(&want), "{}", failure.message);
            assert!(failure.message.contains("paid for"), "{}", failure.message);
            let json = failure.to_json();
            assert_eq!(json["task_id"], id.as_str());
            assert_eq!(json["resume"], want);
        }
        // A task asked for by id that the service does not know is not
        // said to exist.
        let failure = naming_task(Failure::from(api(404, "Not found", None)), &id, None, false);
        assert!(!failure.message.contains("goes on"), "{}", failure.message);
    }

    #[test]
    fn a_completed_task_without_a_url_exits_3_naming_it() {
        let id = TaskId::from("t-9");
        let failure = Failure::from(Error::NoVideoUrl {
            task_id: id.clone(),
            waited: Duration::from_secs(60),
        });
        assert_eq!(failure.code, Code::Service);
        assert_eq!(failure.to_json()["task_id"], "t-9");
        assert!(
            failure.message.contains("freepik-wan wait t-9"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn default_file_is_the_task_id_and_stays_in_the_current_directory() {
        let id = TaskId::from("046b6c7f-0b8a-43b9-b35d-6489e6daee91");
        assert_eq!(
            default_file(&id),
            PathBuf::from("046b6c7f-0b8a-43b9-b35d-6489e6daee91.mp4")
        );
        assert_eq!(
            default_file(&TaskId::from("../../etc/x")),
            PathBuf::from("etcx.mp4")
        );
        assert_eq!(default_file(&TaskId::from("/")), PathBuf::from("video.mp4"));
    }
}
