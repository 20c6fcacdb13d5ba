//! The http(s) URLs the SDK is handed (an image, a webhook, a video): one
//! check for all of them, and one way to show them without what may be secret.

use url::Url;

use crate::error::Error;

/// Parses `raw` (trimmed) as an absolute http(s) URL with a host, or refuses
/// it as `field`. The refusal never repeats a query string: it may hold a token.
pub(crate) fn parse(raw: &str, field: &'static str) -> Result<Url, Error> {
    let url = Url::parse(raw.trim()).map_err(|err| Error::Validation {
        field,
        reason: format!(
            "{:?} is not an absolute http(s) URL ({err})",
            strip_query(raw.trim())
        ),
    })?;
    check(&url, field)?;
    Ok(url)
}

/// Refuses, as `field`, a URL that is not http(s) or has no host.
pub(crate) fn check(url: &Url, field: &'static str) -> Result<(), Error> {
    let refuse = |reason| Err(Error::Validation { field, reason });
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return refuse(format!(
                "the URL scheme must be http or https, not {other:?}"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return refuse(format!("{} has no host", shown(url)));
    }
    Ok(())
}

/// Scheme, host, port and path: no credentials, query or fragment, which may
/// hold secrets.
pub(crate) fn shown(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    if url.query().is_some() {
        shown.push_str("?…");
    }
    shown
}

/// The text before any query or fragment.
pub(crate) fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}
