//! Error responses at the boundary of generated and hand-written code: which
//! statuses the spec documents, how much of an error body is read, and how a
//! body that is not the service's JSON is shown. The raw client's hooks and
//! the `freepik-wan` crate both use these, so the rules live here once.

/// The error statuses the spec declares for its operations (their bodies
/// decode as [`crate::types::Error`]), derived from the spec at build time.
pub const DOCUMENTED_ERROR_STATUSES: &[u16] =
    include!(concat!(env!("OUT_DIR"), "/documented_error_statuses.rs"));

/// Set on an error response whose body was not the service's JSON (an HTML
/// page from a gateway, say) and was rewritten to `{"message": snippet}` by
/// the raw client's hooks: a body that proves the service itself answered
/// never carries it.
pub const RESCUED_BODY_HEADER: &str = "x-freepik-wan-rescued-body";

/// Error bodies larger than this are not the service's (its are a few
/// hundred bytes): reading stops there, so a proxy's huge page cannot fill
/// memory.
pub const MAX_ERROR_BODY: usize = 256 * 1024;

/// The most characters of an unexpected body kept in an error message.
pub const SNIPPET_CHARS: usize = 300;

/// Reads at most [`MAX_ERROR_BODY`] bytes of `response`'s body; the flag
/// says whether that was all of it.
pub async fn read_limited(mut response: reqwest::Response) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ERROR_BODY {
            body.truncate(MAX_ERROR_BODY);
            return Ok((body, false));
        }
    }
    Ok((body, true))
}

/// The start of a body as one line of text: whitespace folded, at most
/// [`SNIPPET_CHARS`] characters (then `…`), invalid UTF-8 replaced.
///
/// ```
/// use freepik_wan_api::error_body::snippet;
///
/// assert_eq!(snippet(b"<html>\n  <h1>502 Bad Gateway</h1>\n</html>"), "<html> <h1>502 Bad Gateway</h1> </html>");
/// assert_eq!(snippet(&[b'x'; 1000]).chars().count(), 301);
/// ```
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(SNIPPET_CHARS * 4)]);
    let mut out: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > SNIPPET_CHARS {
        out = out.chars().take(SNIPPET_CHARS).collect::<String>() + "…";
    }
    out
}
