//! The command line as clap sees it. Flag names are an interface: scripts rely
//! on them, so rename nothing here without a deprecation path.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use freepik_wan::{Model, Resolution};
use freepik_wan_sim::RateLimit;

/// Shown after `--help`: scripts branch on these, so they are part of the interface.
const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the task FAILED, or the webhook did not verify
  2  usage or validation error (nothing was sent), or no API key
  3  API or transport error (the service's own message is shown); also a create whose
     answer was lost: the task may exist, and the candidates are named with how to wait
  4  timed out waiting (the task may still finish: `freepik-wan wait <TASK_ID>`)
  130  interrupted by Ctrl-C while waiting (the task goes on, as for 4)

Environment: MAGNIFIC_API_KEY or FREEPIK_API_KEY, MAGNIFIC_BASE_URL or FREEPIK_BASE_URL
(the MAGNIFIC_ name wins when both are set), FREEPIK_WEBHOOK_SECRET; flags win.";

/// Every Wan video model of Magnific's API (formerly Freepik's API): Wan 2.2, 2.5, 2.6 and
/// 2.7; text-to-video, image-to-video, reference-to-video and video edit. Create, wait,
/// download, batches, webhooks, and an offline simulator.
#[derive(Debug, Parser)]
#[command(name = "freepik-wan", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// API key [env: MAGNIFIC_API_KEY, or FREEPIK_API_KEY] (never printed). A flag's
    /// value shows in `ps` to other users of the machine: prefer the variable, or
    /// --api-key-file.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,

    /// Read the API key from this file (its first line), or from stdin with `-`.
    #[arg(long, value_name = "FILE", conflicts_with = "api_key")]
    pub api_key_file: Option<PathBuf>,

    /// Another API base URL, e.g. a simulator's or https://api.freepik.com
    /// [env: MAGNIFIC_BASE_URL, or FREEPIK_BASE_URL] [default: https://api.magnific.com].
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// The slowest upload a create allows for, in KiB/s: a create's timeout grows
    /// with its body at this rate (a large image on a slow link is not cut off).
    #[arg(long, value_name = "KIB_PER_SEC", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub min_upload_rate: u64,

    /// Print exactly one JSON object on stdout (and nothing else there).
    #[arg(long, global = true, display_order = 100)]
    pub json: bool,

    /// No progress or notes on stderr: only errors. Results still go to stdout.
    #[arg(long, short, global = true, display_order = 100)]
    pub quiet: bool,

    /// How the library's log events are written on stderr: `human` (only with
    /// RUST_LOG or --verbose; otherwise nothing, as before) or `json` (one JSON
    /// object per event, with its spans' fields: task id, model, HTTP status...).
    /// The level comes from RUST_LOG, else --verbose (debug), else info.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human,
          value_name = "FORMAT", display_order = 100)]
    pub log_format: LogFormat,

    /// Log the library's debug events on stderr (RUST_LOG, when set, wins).
    #[arg(long, short, global = true, display_order = 100)]
    pub verbose: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log events are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Plain lines, for a person; written only with RUST_LOG or --verbose.
    Human,
    /// One JSON object per event, with the fields of the spans it is in.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a video with any Wan model (from a prompt, an image, references or
    /// a video to edit): create the task, wait, download the MP4.
    Generate(Generate),
    /// Show a task's status (and its video URLs once COMPLETED).
    Status {
        /// The task id, as `generate --no-wait` printed it.
        task_id: String,
        #[command(flatten)]
        tier: Tier,
    },
    /// List this key's tasks at one model's endpoint (--model, or Wan 2.2's
    /// --resolution; default Wan 2.2 580p).
    List {
        #[command(flatten)]
        tier: Tier,
    },
    /// Wait for a task to finish and, with --out, download its video.
    Wait {
        /// The task id.
        task_id: String,
        /// Where to save the video; without it the video URL is printed.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Give up after this many seconds, the wait and the download
        /// together [default: 900 for the wait].
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        #[command(flatten)]
        tier: Tier,
    },
    /// Check or receive the webhooks Freepik sends on each status change.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Run the offline simulator of the API until Ctrl-C (no key, no network).
    Simulate(Simulate),
    /// List every model (from the spec): kind, inputs, durations, resolutions.
    Models,
    /// Upload files to Magnific's storage (its Upload Files API) and print
    /// the URLs models can fetch them from. Staging, not storage: anyone
    /// holding a URL can read the file for about a day; it is deleted after
    /// about a week. `generate` uploads files by itself where needed.
    Upload {
        /// The files (PNG, JPEG, WebP, MP4, WebM, MOV, MP3, WAV, M4A or OGG,
        /// by their bytes; at most 1 GiB each).
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Many videos from a manifest, resumable after a crash or a kill without
    /// paying twice: `batch MANIFEST --out-dir DIR`; `batch status DIR`
    /// prints its journal.
    Batch(Batch),
}

/// `batch`'s options.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Batch {
    /// `status DIR`: the journal's rows and their states.
    #[command(subcommand)]
    pub command: Option<BatchCommand>,
    /// CSV with a header, or JSON Lines with the same fields: `model` (any
    /// model, default Wan 2.2 at `resolution`), `out`, and generate's inputs
    /// under their flags' names (`image`, `prompt`, `duration`,
    /// `aspect_ratio`, `seed`, `resolution`, `negative_prompt`, `end_image`,
    /// `video`, `reference`, `audio`, `size`, `shot_type`,
    /// `prompt_expansion`, `webhook_url`), each required where the row's
    /// model requires it. Relative image paths are from its directory.
    #[arg(value_name = "MANIFEST", required = true)]
    pub manifest: Option<PathBuf>,
    /// Where the videos (and the journal, freepik-wan-batch.db) go.
    #[arg(long, value_name = "DIR", required = true)]
    pub out_dir: Option<PathBuf>,
    /// Tasks in flight at once (creates still go one at a time).
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Run the valid rows when some are invalid (which are reported, and
    /// make the exit code non-zero).
    #[arg(long)]
    pub skip_invalid: bool,
    /// The journal [default: DIR/freepik-wan-batch.db]: a SQLite file, or a
    /// PostgreSQL database (`postgres://user@host/db`, in a build with the
    /// `postgres` feature) that workers on several machines share, each with
    /// its own --out-dir. Its password comes from the URL, the PG* variables,
    /// ~/.pgpass or --journal-password-file, and is never shown.
    #[arg(long, value_name = "FILE|URL")]
    pub journal: Option<PathBuf>,
    /// A file holding the PostgreSQL journal's password.
    #[arg(long, value_name = "FILE")]
    pub journal_password_file: Option<PathBuf>,
    /// A PostgreSQL journal's fleet: N seats; at most N workers work at once,
    /// each pacing itself at 1/N of the rate limits, so that together they
    /// stay inside them. Recorded when the journal is created [default: 1];
    /// a later worker may leave it out.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub fleet: Option<u32>,
    /// A PostgreSQL journal's worker lease: a worker silent this long loses
    /// its seat and its rows to the others (it stops sending well before).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub worker_lease: f64,
    /// Give up waiting for one row's task after this many seconds (it is
    /// waited for again on the next run) [default: 900].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Send again the rows that failed without a task (refused by the
    /// service, say); rows whose task FAILED are not sent again.
    #[arg(long)]
    pub retry_failed: bool,
    /// Send again the rows left `uncertain`: their create may have made a
    /// task that could not be told apart from others. Use it only once
    /// `freepik-wan list` shows no task of theirs: each costs a create.
    #[arg(long)]
    pub resend_uncertain: bool,
    /// How long a create's task may take to show in the task list: a row a
    /// killed run left `sending` is sent again only when the list has not
    /// shown its task this long after the create.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub list_grace: u64,
}

/// `batch`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Print the batch journal's table: each row's state, task and file.
    Status {
        /// The batch's output directory (not needed with --journal).
        dir: Option<PathBuf>,
        /// The journal, if not DIR/freepik-wan-batch.db: a file, or a
        /// PostgreSQL URL (the fleet's seats and live workers are shown too).
        #[arg(long, value_name = "FILE|URL")]
        journal: Option<PathBuf>,
        /// A file holding the PostgreSQL journal's password.
        #[arg(long, value_name = "FILE")]
        journal_password_file: Option<PathBuf>,
    },
}

/// A batch run, as `batch MANIFEST --out-dir DIR` asks for it.
#[derive(Debug)]
pub struct BatchRun {
    pub manifest: PathBuf,
    pub out_dir: PathBuf,
    pub concurrency: usize,
    pub skip_invalid: bool,
    pub journal: Option<PathBuf>,
    pub journal_password_file: Option<PathBuf>,
    pub fleet: Option<u32>,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub worker_lease: std::time::Duration,
    pub timeout: Option<u64>,
    pub retry_failed: bool,
    pub resend_uncertain: bool,
    pub list_grace: std::time::Duration,
}

/// `generate`'s options.
#[derive(Debug, Args)]
pub struct Generate {
    #[command(flatten)]
    pub inputs: Inputs,
    #[command(flatten)]
    pub tier: Tier,
    /// Where to save the video [default: <task_id>.mp4].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the task id and stop: do not wait or download.
    #[arg(long, conflicts_with_all = ["out", "timeout", "simulate"])]
    pub no_wait: bool,
    /// Give up after this many seconds: the create, the wait and the
    /// download together [default: 900 for the wait].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Run against an in-process simulator: no key, no network, a real MP4
    /// (it stops when the command ends, so it cannot go with --no-wait).
    #[arg(long)]
    pub simulate: bool,
}

/// What a video is made from: `generate`'s inputs, and a batch manifest's
/// columns of the same names. [`Inputs::request`] turns them into the
/// SDK's request for a model, which checks them against it.
///
/// Every media input is a local file, an http(s) URL, or
/// `task:KIND/SEGMENT/TASK_ID` (a finished task's video). A file for a model
/// that takes only URLs is uploaded first to Magnific's storage: staging,
/// readable by anyone holding its URL for about a day, deleted after a week.
#[derive(Clone, Debug, Default, Args)]
pub struct Inputs {
    /// The image (the start image for Wan 2.7 image-to-video): a file, URL or
    /// task:…; checked by its bytes against the model. Wan 2.2 sends a small
    /// file inline; other models' files are uploaded (staging on Magnific's
    /// storage, readable by URL for a day).
    #[arg(long, value_name = "PATH|URL|task:…")]
    pub image: Option<String>,
    /// What should happen in the video (each model has its own limit).
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// What the video should not show (Wan 2.5, 2.6, 2.7).
    #[arg(long, value_name = "TEXT")]
    pub negative_prompt: Option<String>,
    /// The end image (Wan 2.7 image-to-video: start and end frames): a file,
    /// URL or task:….
    #[arg(long, value_name = "PATH|URL")]
    pub end_image: Option<String>,
    /// A video: the one to edit (video edit), or to continue (Wan 2.7
    /// image-to-video); a file, a URL, or `task:KIND/SEGMENT/ID` to edit or
    /// continue a finished task's video (it must be COMPLETED).
    #[arg(long, value_name = "PATH|URL|task:…")]
    pub video: Option<String>,
    /// A reference image or video (a task's, or by its extension) for
    /// reference-to-video, optionally with a voice: `MEDIA[,voice=MEDIA]`,
    /// each a file, URL or task:…. Repeat for 1 to 5.
    #[arg(long = "reference", value_name = "MEDIA[,voice=MEDIA]")]
    pub references: Vec<String>,
    /// An audio track (a WAV or MP3 file, or a URL), where the model takes one.
    #[arg(long, value_name = "PATH|URL")]
    pub audio: Option<String>,
    /// Video length in seconds, checked against the model (Wan 2.2: 5 or 10).
    #[arg(long, value_name = "N")]
    pub duration: Option<u32>,
    /// The video's shape: Wan 2.2's names (`widescreen_16_9`, ...) or a ratio
    /// (`16:9`) where the model takes one.
    #[arg(long, value_name = "RATIO")]
    pub aspect_ratio: Option<String>,
    /// The output size `W*H` (Wan 2.6; each tier has its own list).
    #[arg(long, value_name = "W*H")]
    pub size: Option<String>,
    /// `single` or `multi` (Wan 2.6; multi needs prompt expansion).
    #[arg(long, value_name = "single|multi")]
    pub shot_type: Option<String>,
    /// Let the service expand the prompt (where the model offers it).
    #[arg(long, value_name = "on|off", value_parser = on_off)]
    pub prompt_expansion: Option<bool>,
    /// A seed, for repeatable results.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub seed: Option<i64>,
    /// A URL the service calls on every status change of the task.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Any body field the flags do not reach, as JSON: `--set
    /// 'additional_settings={"audio_setting":"origin"}'`. Repeatable; a field
    /// the model's spec describes is checked like any other.
    #[arg(long = "set", value_name = "FIELD=JSON")]
    pub set: Vec<String>,
}

/// Which model endpoint, for every command that makes or names a task: a
/// task lives at the endpoint of the model that made it.
#[derive(Clone, Debug, Args)]
pub struct Tier {
    /// The model, as its path under /v1/ai/: `image-to-video/wan-v2-6-1080p`,
    /// `text-to-video/wan-2-7`, or a bare segment one kind serves
    /// (`freepik-wan models` lists them) [default: Wan 2.2 at --resolution].
    #[arg(long, value_name = "KIND/SEGMENT", value_parser = model_parser)]
    pub model: Option<Model>,
    /// Wan 2.2's tier (480p, 580p, 720p; the default 580p); with --model, the
    /// model's tier where its family has several (`720p`, `1080p`), or the
    /// body's `resolution` where it has one (Wan 2.7: 720P, 1080P).
    #[arg(long, value_name = "RES")]
    pub resolution: Option<String>,
}

impl Tier {
    /// The model this names, and the body's `resolution` where the model
    /// takes the resolution in its body.
    pub fn target(&self) -> Result<(Model, Option<String>), freepik_wan::Error> {
        let Some(model) = self.model else {
            let resolution: Resolution = match &self.resolution {
                Some(text) => text.parse()?,
                None => Resolution::default(),
            };
            return Ok((Model::from(resolution), None));
        };
        let Some(wanted) = &self.resolution else {
            return Ok((model, None));
        };
        if model.field("resolution").is_some() {
            return Ok((model, Some(wanted.clone())));
        }
        // Another tier of the same family and kind.
        Model::all()
            .find(|m| {
                m.family() == model.family()
                    && m.kind() == model.kind()
                    && m.tier().eq_ignore_ascii_case(wanted)
            })
            .map(|m| (m, None))
            .ok_or_else(|| freepik_wan::Error::Validation {
                field: "resolution",
                reason: format!(
                    "{model} comes at {}; not {wanted}",
                    Model::all()
                        .filter(|m| m.family() == model.family() && m.kind() == model.kind())
                        .map(|m| m.tier())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }
}

fn model_parser(text: &str) -> Result<Model, String> {
    text.parse::<Model>().map_err(|e| e.to_string())
}

pub fn on_off(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(format!("{other:?}: use on or off")),
    }
}

/// `webhook`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Verify one webhook request: exit 0 and print the event, or 1 and say why.
    Verify(Verify),
    /// Serve a local endpoint (POST, any path) that verifies and prints each webhook.
    Listen {
        /// The port to listen on, on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// The signing secret from the developer dashboard.
        #[arg(long, env = "FREEPIK_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// How the secret becomes the signing key.
        #[arg(long, value_enum, default_value_t = SecretKeying::Auto)]
        secret_keying: SecretKeying,
    },
}

/// How a webhook secret becomes the HMAC key. Magnific's own samples
/// disagree: most key it with the secret's text, one base64-decodes it (as
/// Standard Webhooks does with a `whsec_` prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SecretKeying {
    /// Try each: a `whsec_` secret base64-decoded, then the secret's text,
    /// then (for one that is base64) its decoded bytes.
    Auto,
    /// The secret's UTF-8 bytes, exactly as given (prefix included).
    Text,
    /// The base64-decoded secret (a `whsec_` prefix is dropped first).
    Base64,
}

/// `webhook verify`'s options: the three headers and the raw body.
#[derive(Debug, Args)]
pub struct Verify {
    /// The signing secret from the developer dashboard.
    #[arg(long, env = "FREEPIK_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// The webhook-id header.
    #[arg(long, value_name = "ID")]
    pub webhook_id: String,
    /// The webhook-timestamp header (Unix seconds).
    #[arg(long, value_name = "TS", allow_hyphen_values = true)]
    pub webhook_timestamp: String,
    /// The webhook-signature header (`v1,<base64>`, space-separated for several).
    #[arg(long, value_name = "SIG")]
    pub webhook_signature: String,
    /// The raw request body, byte for byte [default: read stdin].
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// How far the timestamp may be from now, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub tolerance: u64,
    /// How the secret becomes the signing key.
    #[arg(long, value_enum, default_value_t = SecretKeying::Auto)]
    pub secret_keying: SecretKeying,
}

/// `simulate`'s options, mapped onto `freepik_wan_sim`'s builder and `Faults`.
#[derive(Debug, Args)]
pub struct Simulate {
    /// The port to listen on, on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The API key the simulator accepts (its own, not yours).
    #[arg(long, default_value = "sim-key")]
    pub api_key: String,
    /// The secret the simulator signs webhooks with (as UTF-8 bytes).
    #[arg(long, default_value = "sim-webhook-secret")]
    pub webhook_secret: String,
    /// Time from create to COMPLETED (or FAILED), in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 3000)]
    pub processing_ms: u64,
    /// Seed of the generator behind every fault decision (same seed, same faults).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fault_seed: u64,
    /// Share of API requests answered 503.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub fault_503: f64,
    /// Share of API requests answered 429 with Retry-After.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub fault_429: f64,
    /// The Retry-After sent with injected 429s, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub fault_retry_after: u64,
    /// Share of status, list and download responses cut half-way.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub fault_reset: f64,
    /// Delay added before every API response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// Throttle video downloads to this many bytes per second.
    #[arg(long, value_name = "BPS")]
    pub fault_download_bps: Option<u64>,
    /// Share of tasks that end FAILED.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub fault_task_failure: f64,
    /// Share of creates that make the task, then answer with one of
    /// --fault-gateway-statuses and an HTML page.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub fault_create_gateway_error: f64,
    /// The statuses those gateway answers use, e.g. `520,524,408,503,302` (a 3xx points
    /// at --fault-redirect-to).
    #[arg(long, value_name = "CODES", value_delimiter = ',', default_values_t = [502u16, 504])]
    pub fault_gateway_statuses: Vec<u16>,
    /// Where a 3xx gateway answer points.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9/moved")]
    pub fault_redirect_to: String,
    /// A task shows in the list only this many milliseconds after its create.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub fault_list_lag_ms: u64,
    /// The list shows at most this many tasks (newest first; see --fault-list-oldest).
    #[arg(long, value_name = "N")]
    pub fault_list_cap: Option<usize>,
    /// A capped list shows the oldest tasks instead of the newest.
    #[arg(long)]
    pub fault_list_oldest: bool,
    /// Task ids match without regard to case.
    #[arg(long)]
    pub fault_case_insensitive_ids: bool,
    /// Every webhook event is delivered twice (same webhook-id).
    #[arg(long)]
    pub fault_webhook_duplicates: bool,
    /// Webhook events are held until the task ends, then sent newest first.
    #[arg(long)]
    pub fault_webhook_reorder: bool,
    /// The account pays for this many creates; later ones answer 402.
    #[arg(long, value_name = "N")]
    pub credits: Option<u64>,
    /// Share of creates that make the task, then drop the connection unanswered.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub fault_create_cut: f64,
    /// Share of creates that make the task, then answer only after
    /// --fault-create-late-secs (past a client's timeout).
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub fault_create_late: f64,
    /// How late a late create answers, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 35)]
    pub fault_create_late_secs: u64,
    /// Video URLs expire: each task's first URL answers 403 (an XML
    /// AccessDenied page), and the next status answer hands out a fresh one.
    #[arg(long)]
    pub fault_expire_urls: bool,
    /// A quota: after N creates, every create is answered 429 "Limit for
    /// free users reached." (0: every create).
    #[arg(long, value_name = "N")]
    pub fault_quota_after: Option<u64>,
    /// Share of upload PUTs the storage host answers 503 (an XML
    /// ServiceUnavailable); nothing is stored, and a client tries again.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = rate)]
    pub fault_upload_503: f64,
    /// The first upload PUT is answered 400 ExpiredToken, as when the upload
    /// URL's `expires_in` passed before the bytes arrived: a client asks for
    /// a new upload URL.
    #[arg(long)]
    pub fault_expire_first_upload_url: bool,
    /// How long an upload URL stays valid (its `expires_in`), in seconds
    /// (the docs say 120).
    #[arg(long, value_name = "SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_url_ttl_secs: u64,
    /// How long an uploaded file's `asset_url` stays readable (its
    /// `asset_url_expires_in`), in seconds (the docs say a day); a create
    /// naming an expired asset is refused.
    #[arg(long, value_name = "SECS", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub asset_ttl_secs: u64,
    /// Rate limits per key: `freepik` (the published 50/s over 5 s and 10/s
    /// over 2 min), `off`, or `N/s`.
    #[arg(long, value_name = "LIMIT", default_value = "freepik", value_parser = rate_limit)]
    pub rate_limit: RateLimit,
}

/// `freepik`, `off` or `N/s`.
fn rate_limit(s: &str) -> Result<RateLimit, String> {
    match s.trim() {
        "freepik" | "magnific" => Ok(RateLimit::freepik()),
        "off" | "none" => Ok(RateLimit::off()),
        other => other
            .strip_suffix("/s")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .filter(|n| *n > 0)
            .map(RateLimit::per_second)
            .ok_or_else(|| {
                format!("{other:?} is not a rate limit; use freepik, off or N/s (e.g. 20/s)")
            }),
    }
}

/// A probability, so that a typo like `--fault-503 50` is refused rather than
/// silently meaning "always".
fn rate(s: &str) -> Result<f64, String> {
    let value: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
