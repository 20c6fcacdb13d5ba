//! Which service a command talks to: the API (or `--base-url`) with the
//! user's key, or an in-process simulator for `generate --simulate`.

use std::path::Path;
use std::time::Duration;

use freepik_wan::{API_KEY_ENV, Client, MAGNIFIC_API_KEY_ENV, WaitOptions};
use freepik_wan_sim::{SimHandle, Simulator};

use crate::exit::{Code, Failure};

/// How long `generate --simulate` pretends the model runs: long enough to
/// see the progress display, short enough for a demo.
const SIMULATED_PROCESSING: Duration = Duration::from_secs(3);

/// The connection flags. Where one is missing, the SDK's
/// [`ClientBuilder::from_env`](freepik_wan::ClientBuilder::from_env) reads
/// the environment, so the CLI and the library follow one rule.
#[derive(Debug)]
pub struct Connection {
    /// `--api-key`.
    pub api_key: Option<String>,
    /// `--base-url`.
    pub base_url: Option<String>,
    /// `--min-upload-rate`, in bytes per second.
    pub min_upload_rate: u64,
}

/// A client, and the simulator behind it when there is one (kept alive
/// for as long as the client is used).
pub struct Service {
    /// The client to use.
    pub client: Client,
    /// The in-process simulator, for `--simulate`.
    pub simulator: Option<SimHandle>,
}

impl Connection {
    /// A client for the configured service, waiting at most `timeout`.
    pub fn client(&self, timeout: Option<u64>) -> Result<Client, Failure> {
        Ok(self.builder(timeout)?.build()?)
    }

    /// The builder behind [`client`](Self::client), for commands that set more.
    pub fn builder(&self, timeout: Option<u64>) -> Result<freepik_wan::ClientBuilder, Failure> {
        // An empty flag or variable (`MAGNIFIC_API_KEY=`) counts as unset.
        let set = |v: Option<String>| v.is_some_and(|v| !v.trim().is_empty());
        let flag = self.api_key.clone().filter(|k| !k.trim().is_empty());
        if flag.is_none()
            && !set(std::env::var(MAGNIFIC_API_KEY_ENV).ok())
            && !set(std::env::var(API_KEY_ENV).ok())
        {
            return Err(Failure::new(
                Code::Usage,
                format!(
                    "no API key: set {MAGNIFIC_API_KEY_ENV} (or {API_KEY_ENV}) or pass --api-key \
                     (or try `freepik-wan generate --simulate`, which needs none)"
                ),
            ));
        }
        let mut builder = base_builder(wait_options(timeout)).min_upload_rate(self.min_upload_rate);
        if let Some(key) = flag {
            builder = builder.api_key(key);
        }
        if let Some(url) = self.base_url.as_deref().filter(|u| !u.trim().is_empty()) {
            builder = builder.base_url(url);
        }
        Ok(builder.from_env())
    }

    /// The configured service, or a fresh simulator when `simulate` is set:
    /// then neither the user's key nor their base URL is used, so the key
    /// never reaches the simulator.
    pub async fn service(&self, simulate: bool, timeout: Option<u64>) -> Result<Service, Failure> {
        if !simulate {
            return Ok(Service {
                client: self.client(timeout)?,
                simulator: None,
            });
        }
        let simulator = Simulator::builder()
            .processing_time(SIMULATED_PROCESSING)
            .start()
            .await
            .map_err(|e| Failure::new(Code::Service, format!("cannot start the simulator: {e}")))?;
        // Poll a local simulator more often than the real service: a poll
        // costs nothing here, and the demo finishes sooner.
        let wait = wait_options(timeout)
            .initial_interval(Duration::from_millis(250))
            .max_interval(Duration::from_millis(500));
        let client = base_builder(wait)
            .api_key(simulator.api_key())
            .base_url(simulator.base_url())
            .build()?;
        Ok(Service {
            client,
            simulator: Some(simulator),
        })
    }
}

/// The key from `--api-key-file`: the file's first line (or stdin's, for
/// `-`), trimmed. Errors name the file, never its content.
pub fn read_key_file(path: &Path) -> Result<String, Failure> {
    let text = if path.as_os_str() == "-" {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| {
            Failure::new(
                Code::Usage,
                format!("cannot read the API key from stdin: {e}"),
            )
        })?;
        line
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            Failure::new(
                Code::Usage,
                format!("cannot read the API key file {}: {e}", path.display()),
            )
        })?
    };
    let key = text.lines().next().unwrap_or_default().trim().to_owned();
    if key.is_empty() {
        let from = if path.as_os_str() == "-" {
            "stdin".to_owned()
        } else {
            path.display().to_string()
        };
        return Err(Failure::new(
            Code::Usage,
            format!("the API key file {from} is empty"),
        ));
    }
    Ok(key)
}

fn wait_options(timeout: Option<u64>) -> WaitOptions {
    let options = WaitOptions::default();
    match timeout {
        Some(secs) => options.timeout(Duration::from_secs(secs)),
        None => options,
    }
}

fn base_builder(wait: WaitOptions) -> freepik_wan::ClientBuilder {
    Client::builder()
        .user_agent_suffix(concat!("freepik-wan-cli/", env!("CARGO_PKG_VERSION")))
        .wait_options(wait)
}
