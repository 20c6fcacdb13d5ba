//! The HMAC-SHA256 tag and the `webhook-signature` header's version list.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::WebhookError;
use super::secret::LENIENT_BASE64;
use super::verifier::SIGNATURE_HEADER;

/// The only signature version this SDK knows; entries of other versions are
/// skipped so that a sender can add a new scheme alongside `v1`.
pub(super) const SIGNATURE_VERSION: &str = "v1";

/// HMAC-SHA256 output length.
pub(super) const TAG_LEN: usize = 32;

pub(super) type HmacSha256 = Hmac<Sha256>;

pub(super) fn no_match_message(v1_entries: usize) -> String {
    match v1_entries {
        0 => format!(
            "the {SIGNATURE_HEADER} header holds no {SIGNATURE_VERSION} signature, only versions this SDK does not know"
        ),
        n => format!(
            "none of the {n} {SIGNATURE_VERSION} signature(s) in {SIGNATURE_HEADER} matches: a different secret, \
             or the id, timestamp or body changed on the way (verify the raw body bytes, before any parsing)"
        ),
    }
}

pub(super) fn tag(key: &[u8], webhook_id: &str, timestamp: &str, body: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Accepts if any `v1` entry matches. A malformed entry does not stop the
/// search, so one bad entry next to a good one (a sender mid-rotation) still
/// verifies; it is only reported when nothing matched.
pub(super) fn check_signatures(header: &str, expected: &[u8; TAG_LEN]) -> Result<(), WebhookError> {
    let mut v1_entries = 0;
    let mut malformed = None;
    let mut any_entry = false;
    for (index, entry) in header.split_ascii_whitespace().enumerate() {
        any_entry = true;
        let Some((version, encoded)) = entry.split_once(',') else {
            malformed.get_or_insert_with(|| {
                format!(
                    "entry {} has no comma between version and signature",
                    index + 1
                )
            });
            continue;
        };
        if version != SIGNATURE_VERSION {
            continue;
        }
        v1_entries += 1;
        let Ok(candidate) = LENIENT_BASE64.decode(encoded) else {
            malformed.get_or_insert_with(|| format!("entry {} is not valid base64", index + 1));
            continue;
        };
        if candidate.len() != TAG_LEN {
            malformed.get_or_insert_with(|| {
                format!(
                    "entry {} decodes to {} bytes, not the {TAG_LEN} of an HMAC-SHA256",
                    index + 1,
                    candidate.len()
                )
            });
            continue;
        }
        if bool::from(candidate.ct_eq(expected)) {
            return Ok(());
        }
    }
    if !any_entry {
        return Err(WebhookError::MalformedSignature {
            detail: "it is empty".to_owned(),
        });
    }
    match malformed {
        Some(detail) => Err(WebhookError::MalformedSignature { detail }),
        None => Err(WebhookError::NoMatchingSignature { v1_entries }),
    }
}
