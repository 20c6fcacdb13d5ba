//! The signing secret, and how it becomes the HMAC key.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretSlice};

use super::WebhookError;
use super::signature::{SIGNATURE_VERSION, tag};

/// Standard alphabet, padding optional when decoding: senders and secret
/// stores differ on whether they keep the trailing `=`, and padding carries
/// no information.
pub(super) const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The signing secret from the Freepik developer dashboard.
///
/// Freepik's own examples disagree on how the secret becomes the HMAC key:
/// three languages use its UTF-8 bytes, one base64-decodes it. [`new`](Self::new)
/// follows the [Standard Webhooks] convention (a `whsec_` prefix means
/// base64, anything else is used as text); [`utf8`](Self::utf8) and
/// [`base64`](Self::base64) say it explicitly.
///
/// The key is zeroized on drop and never printed: `Debug` shows
/// `WebhookSecret([REDACTED])`.
///
/// ```
/// use freepik_wan::webhook::WebhookSecret;
///
/// let plain = WebhookSecret::new("s3cr3t");                // key = b"s3cr3t"
/// let standard = WebhookSecret::new("whsec_czNjcjN0");     // key = base64-decoded "czNjcjN0" = b"s3cr3t"
/// let explicit = WebhookSecret::base64("czNjcjN0")?;       // same key, said explicitly
/// assert_eq!(format!("{plain:?}"), "WebhookSecret([REDACTED])");
/// # let _ = (standard, explicit);
/// # Ok::<(), freepik_wan::webhook::WebhookError>(())
/// ```
///
/// [Standard Webhooks]: https://www.standardwebhooks.com/
#[derive(Clone)]
pub struct WebhookSecret {
    key: Key,
}

#[derive(Clone)]
enum Key {
    Ready(SecretSlice<u8>),
    /// `new` cannot fail, so a secret it cannot turn into a key is kept as
    /// this and reported by the first `verify`.
    Unusable(&'static str),
}

const EMPTY_SECRET: &str = "the webhook secret is empty";
const BAD_BASE64_SECRET: &str = "the webhook secret is not valid base64 (if it is meant as plain text, \
     use WebhookSecret::utf8)";

impl WebhookSecret {
    /// The secret as the dashboard shows it, with surrounding whitespace (a
    /// trailing newline from a file or `.env`) trimmed.
    ///
    /// A `whsec_`-prefixed secret is a Standard Webhooks secret: the rest is
    /// base64-decoded into the key. Any other secret is keyed by its UTF-8
    /// bytes. If the `whsec_` part is not valid base64, verification fails
    /// with [`WebhookError::InvalidSecret`].
    pub fn new(secret: impl Into<String>) -> Self {
        let secret = Zeroizing::new(secret.into());
        let secret = secret.trim();
        match secret.strip_prefix("whsec_") {
            Some(encoded) => Self::base64(encoded).unwrap_or_else(|err| WebhookSecret {
                key: Key::Unusable(match err {
                    WebhookError::InvalidSecret { reason } => reason,
                    _ => BAD_BASE64_SECRET,
                }),
            }),
            None => Self::utf8(secret),
        }
    }

    /// Keys the HMAC with the secret's UTF-8 bytes, exactly as given (no
    /// prefix handling, no trimming).
    pub fn utf8(secret: impl Into<String>) -> Self {
        let secret = Zeroizing::new(secret.into());
        Self::from_key(secret.as_bytes())
    }

    /// Keys the HMAC with the base64-decoded secret (standard alphabet,
    /// padding optional; a leading `whsec_` is dropped first).
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidSecret`] if it is not base64 or decodes to
    /// nothing. The message never includes the secret.
    pub fn base64(secret: impl Into<String>) -> Result<Self, WebhookError> {
        let secret = Zeroizing::new(secret.into());
        let encoded = secret.strip_prefix("whsec_").unwrap_or(&secret);
        // The decode error names the offending character and its offset:
        // part of the secret, so it is not passed on.
        let key = LENIENT_BASE64
            .decode(encoded)
            .map_err(|_| WebhookError::InvalidSecret {
                reason: BAD_BASE64_SECRET,
            })?;
        let secret = Self::from_key(&Zeroizing::new(key));
        match secret.key {
            Key::Unusable(reason) => Err(WebhookError::InvalidSecret { reason }),
            Key::Ready(_) => Ok(secret),
        }
    }

    fn from_key(key: &[u8]) -> Self {
        // An empty key would make every signature forgeable by anyone.
        let key = if key.is_empty() {
            Key::Unusable(EMPTY_SECRET)
        } else {
            // `to_vec` allocates exactly `len`, so turning it into a boxed
            // slice does not reallocate and leave an unzeroized copy behind.
            Key::Ready(SecretSlice::from(key.to_vec()))
        };
        WebhookSecret { key }
    }

    pub(super) fn key(&self) -> Result<&[u8], WebhookError> {
        match &self.key {
            Key::Ready(key) => Ok(key.expose_secret()),
            Key::Unusable(reason) => Err(WebhookError::InvalidSecret { reason }),
        }
    }

    /// Signs a request the way the service does, returning the
    /// `webhook-signature` header value (`"v1,<base64>"`).
    ///
    /// For tests of your own webhook handler and for mock servers; a
    /// receiver never needs it.
    ///
    /// ```
    /// use freepik_wan::webhook::WebhookSecret;
    ///
    /// let signature = WebhookSecret::new("s3cr3t").sign("msg_1", 1_700_000_000, b"{}")?;
    /// assert!(signature.starts_with("v1,"));
    /// # Ok::<(), freepik_wan::webhook::WebhookError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidSecret`] for a secret that cannot be a key.
    pub fn sign(
        &self,
        webhook_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<String, WebhookError> {
        let tag = tag(self.key()?, webhook_id, &timestamp.to_string(), body);
        Ok(format!("{SIGNATURE_VERSION},{}", STANDARD.encode(tag)))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([REDACTED])")
    }
}

impl From<&str> for WebhookSecret {
    fn from(secret: &str) -> Self {
        WebhookSecret::new(secret)
    }
}

impl From<String> for WebhookSecret {
    fn from(secret: String) -> Self {
        WebhookSecret::new(secret)
    }
}
