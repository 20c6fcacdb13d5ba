//! Webhook verification with fuzzed id, timestamp, signature header and body.
//!
//! Raw inputs must never panic (the verifier sits on a public endpoint).
//! Properly signed inputs must verify whatever junk entries sit beside the
//! good signature in the header (key rotation), failing at most on the body
//! (`Payload`); and the same request must never verify under another secret.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use freepik_wan::webhook::{Verifier, WebhookError, WebhookSecret};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_750_000_000;

#[derive(Arbitrary, Debug)]
struct Input {
    secret: String,
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    /// Sign the request properly (id, `NOW` and body), keeping `signature`
    /// as extra entries in front of the good one.
    sign: bool,
}

fuzz_target!(|input: Input| {
    let now = UNIX_EPOCH + Duration::from_secs(NOW as u64);
    let secret = WebhookSecret::new(input.secret.clone());
    let verifier = Verifier::new(secret.clone()).now(now);

    let raw = verifier.verify_parts(&input.id, &input.timestamp, &input.signature, &input.body);
    if let Ok(event) = &raw {
        assert!(!input.signature.is_empty());
        assert_eq!(event.webhook_id, input.id);
    }

    if !input.sign {
        return;
    }
    let Ok(good) = secret.sign(&input.id, NOW, &input.body) else {
        // Only a secret that cannot be a key refuses to sign.
        assert!(matches!(
            verifier.verify_parts(&input.id, "0", "v1,AAAA", b"{}"),
            Err(WebhookError::InvalidSecret { .. })
        ));
        return;
    };
    let header = format!("{} {good}", input.signature);
    match verifier.verify_parts(&input.id, &NOW.to_string(), &header, &input.body) {
        Ok(event) => assert_eq!(event.timestamp, NOW),
        Err(WebhookError::Payload(_)) => {}
        Err(other) => panic!("a correctly signed request was refused: {other:?}"),
    }
    let other = Verifier::new(WebhookSecret::utf8(format!("{}-other", input.secret))).now(now);
    let stranger = other.verify_parts(&input.id, &NOW.to_string(), &good, &input.body);
    assert!(
        matches!(stranger, Err(WebhookError::NoMatchingSignature { .. })),
        "verified under another secret: {stranger:?}"
    );
});
