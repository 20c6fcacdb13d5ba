//! The verifier against signatures computed independently of it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

use super::verifier::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::*;
use crate::{TaskId, TaskStatus};

const SECRET: &str = "test-secret-do-not-print";
const ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
const NOW: i64 = 1_700_000_000;
const TASK: &str = "046b6c7f-0b8a-43b9-b35d-6489e6daee91";
const BODY: &[u8] =
    br#"{"task_id":"046b6c7f-0b8a-43b9-b35d-6489e6daee91","status":"COMPLETED","generated":["https://cdn.example/v.mp4"]}"#;

/// Computed independently of the code under test.
fn sig(key: &[u8], id: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

fn verifier() -> Verifier {
    Verifier::new(SECRET).now(at(NOW))
}

fn headers(id: &str, ts: &str, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ID_HEADER, id.parse().unwrap());
    h.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
    h.insert(SIGNATURE_HEADER, signature.parse().unwrap());
    h
}

fn good_headers() -> HeaderMap {
    let s = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
    headers(ID, &NOW.to_string(), &format!("v1,{s}"))
}

#[test]
fn valid_signature_verifies_and_parses() {
    let event = verifier().verify(&good_headers(), BODY).unwrap();
    assert_eq!(event.webhook_id, ID);
    assert_eq!(event.timestamp, NOW);
    assert_eq!(event.task_id, TaskId::from(TASK));
    assert_eq!(event.status, TaskStatus::Completed);
    assert_eq!(
        event.generated,
        vec!["https://cdn.example/v.mp4".to_owned()]
    );
    let task = event.into_task();
    assert_eq!(task.video_url(), Some("https://cdn.example/v.mp4"));
}

#[test]
fn free_function_uses_system_clock() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let s = sig(SECRET.as_bytes(), ID, &now, BODY);
    let event = verify(SECRET, &headers(ID, &now, &format!("v1,{s}")), BODY).unwrap();
    assert_eq!(event.status, TaskStatus::Completed);
    // And the same request a day later is refused.
    let old = (NOW - 86_400).to_string();
    let s = sig(SECRET.as_bytes(), ID, &old, BODY);
    let err = verify(SECRET, &headers(ID, &old, &format!("v1,{s}")), BODY).unwrap_err();
    assert!(matches!(err, WebhookError::Stale { .. }), "{err:?}");
}

#[test]
fn sign_matches_independent_computation() {
    let expected = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
    let signed = WebhookSecret::new(SECRET).sign(ID, NOW, BODY).unwrap();
    assert_eq!(signed, format!("v1,{expected}"));
}

#[test]
fn rotated_list_second_entry_matches() {
    let old = sig(b"old-secret", ID, &NOW.to_string(), BODY);
    let new = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
    let h = headers(ID, &NOW.to_string(), &format!("v1,{old} v1,{new}"));
    verifier().verify(&h, BODY).unwrap();
    // Only the old one: refused, and the count says both were tried.
    let h = headers(ID, &NOW.to_string(), &format!("v1,{old} v1,{old}"));
    let err = verifier().verify(&h, BODY).unwrap_err();
    assert!(
        matches!(err, WebhookError::NoMatchingSignature { v1_entries: 2 }),
        "{err:?}"
    );
}

#[test]
fn unknown_version_entries_are_ignored() {
    let good = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
    let h = headers(
        ID,
        &NOW.to_string(),
        &format!("v1a,Zm9v v2,{good}x v1,{good}"),
    );
    verifier().verify(&h, BODY).unwrap();
    // A correct HMAC under another version label must not count as v1.
    let h = headers(ID, &NOW.to_string(), &format!("v2,{good}"));
    let err = verifier().verify(&h, BODY).unwrap_err();
    assert!(
        matches!(err, WebhookError::NoMatchingSignature { v1_entries: 0 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no v1 signature"), "{err}");
}

#[test]
fn signature_list_split_over_several_header_lines() {
    let old = sig(b"old-secret", ID, &NOW.to_string(), BODY);
    let new = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
    let mut h = headers(ID, &NOW.to_string(), &format!("v1,{old}"));
    h.append(SIGNATURE_HEADER, format!("v1,{new}").parse().unwrap());
    verifier().verify(&h, BODY).unwrap();
}

#[test]
fn malformed_entry_next_to_valid_one_still_verifies() {
    let good = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
    let h = headers(ID, &NOW.to_string(), &format!("garbage v1,{good}"));
    verifier().verify(&h, BODY).unwrap();
}

#[test]
fn tampered_body_is_refused() {
    let tampered = String::from_utf8(BODY.to_vec())
        .unwrap()
        .replace("COMPLETED", "FAILED");
    let err = verifier()
        .verify(&good_headers(), tampered.as_bytes())
        .unwrap_err();
    assert!(
        matches!(err, WebhookError::NoMatchingSignature { v1_entries: 1 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("raw body"), "{err}");
}

#[test]
fn tampered_id_is_refused() {
    let mut h = good_headers();
    h.insert(ID_HEADER, "msg_other".parse().unwrap());
    let err = verifier().verify(&h, BODY).unwrap_err();
    assert!(
        matches!(err, WebhookError::NoMatchingSignature { .. }),
        "{err:?}"
    );
}

#[test]
fn tampered_timestamp_within_tolerance_is_refused() {
    let mut h = good_headers();
    h.insert(TIMESTAMP_HEADER, (NOW + 1).to_string().parse().unwrap());
    let err = verifier().verify(&h, BODY).unwrap_err();
    assert!(
        matches!(err, WebhookError::NoMatchingSignature { .. }),
        "{err:?}"
    );
}

#[test]
fn wrong_secret_is_refused() {
    let err = Verifier::new("another-secret")
        .now(at(NOW))
        .verify(&good_headers(), BODY)
        .unwrap_err();
    assert!(
        matches!(err, WebhookError::NoMatchingSignature { v1_entries: 1 }),
        "{err:?}"
    );
}

fn signed_at(ts: i64) -> HeaderMap {
    let s = sig(SECRET.as_bytes(), ID, &ts.to_string(), BODY);
    headers(ID, &ts.to_string(), &format!("v1,{s}"))
}

#[test]
fn stale_timestamp_is_refused() {
    let err = verifier().verify(&signed_at(NOW - 360), BODY).unwrap_err();
    match &err {
        WebhookError::Stale { age, tolerance } => {
            assert_eq!(*age, Duration::from_secs(360));
            assert_eq!(*tolerance, DEFAULT_TOLERANCE);
        }
        other => panic!("expected Stale, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("360s ago") && msg.contains("300s"), "{msg}");
}

#[test]
fn future_timestamp_is_refused() {
    let err = verifier().verify(&signed_at(NOW + 360), BODY).unwrap_err();
    match &err {
        WebhookError::Future { ahead, .. } => assert_eq!(*ahead, Duration::from_secs(360)),
        other => panic!("expected Future, got {other:?}"),
    }
    assert!(err.to_string().contains("360s in the future"), "{err}");
}

#[test]
fn tolerance_edges_and_configuration() {
    // Exactly at the tolerance is accepted both ways; one second more is not.
    verifier().verify(&signed_at(NOW - 300), BODY).unwrap();
    verifier().verify(&signed_at(NOW + 300), BODY).unwrap();
    assert!(verifier().verify(&signed_at(NOW - 301), BODY).is_err());
    assert!(verifier().verify(&signed_at(NOW + 301), BODY).is_err());

    let wide = verifier().tolerance(Duration::from_secs(600));
    wide.verify(&signed_at(NOW - 360), BODY).unwrap();
    wide.verify(&signed_at(NOW + 360), BODY).unwrap();
    let narrow = verifier().tolerance(Duration::from_secs(10));
    let err = narrow.verify(&signed_at(NOW - 11), BODY).unwrap_err();
    assert!(matches!(err, WebhookError::Stale { .. }), "{err:?}");
}

#[test]
fn clock_is_checked_before_the_signature() {
    let h = headers(ID, &(NOW - 3600).to_string(), "v1,not-even-base64!");
    let err = verifier().verify(&h, BODY).unwrap_err();
    assert!(matches!(err, WebhookError::Stale { .. }), "{err:?}");
}

#[test]
fn body_is_parsed_only_after_the_signature() {
    let h = headers(
        ID,
        &NOW.to_string(),
        "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let err = verifier().verify(&h, b"not json").unwrap_err();
    assert!(
        matches!(err, WebhookError::NoMatchingSignature { .. }),
        "{err:?}"
    );
    // Signed garbage gets past the signature and fails as a payload.
    let s = sig(SECRET.as_bytes(), ID, &NOW.to_string(), b"not json");
    let h = headers(ID, &NOW.to_string(), &format!("v1,{s}"));
    let err = verifier().verify(&h, b"not json").unwrap_err();
    assert!(matches!(err, WebhookError::Payload(_)), "{err:?}");
    assert!(err.to_string().contains("signature is valid"), "{err}");
}

#[test]
fn each_missing_header_is_named() {
    for name in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
        let mut h = good_headers();
        h.remove(name);
        let err = verifier().verify(&h, BODY).unwrap_err();
        assert!(
            matches!(err, WebhookError::MissingHeader(n) if n == name),
            "{err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn non_ascii_header_is_reported() {
    let mut h = good_headers();
    h.insert(
        ID_HEADER,
        reqwest::header::HeaderValue::from_bytes(b"msg_\xff").unwrap(),
    );
    let err = verifier().verify(&h, BODY).unwrap_err();
    assert!(
        matches!(err, WebhookError::InvalidHeader(ID_HEADER)),
        "{err:?}"
    );
}

#[test]
fn malformed_timestamps_are_refused() {
    for ts in [
        "",
        "abc",
        "1700000000.5",
        "+1700000000",
        "-5",
        " 1700000000",
        "99999999999999999999",
    ] {
        let err = verifier()
            .verify_parts(ID, ts, "v1,AAAA", BODY)
            .unwrap_err();
        assert!(
            matches!(err, WebhookError::MalformedTimestamp { .. }),
            "{ts:?}: {err:?}"
        );
    }
    let err = verifier()
        .verify_parts(ID, "soon", "v1,AAAA", BODY)
        .unwrap_err();
    assert!(err.to_string().contains("\"soon\""), "{err}");
}

#[test]
fn malformed_signature_entries_are_refused() {
    let good = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
    let cases = [
        (good.clone(), "no comma"),
        ("v1,@@@not base64@@@".to_owned(), "not valid base64"),
        ("v1,Zm9v".to_owned(), "3 bytes"),
        ("   ".to_owned(), "empty"),
    ];
    for (header, why) in cases {
        let err = verifier()
            .verify_parts(ID, &NOW.to_string(), &header, BODY)
            .unwrap_err();
        assert!(
            matches!(err, WebhookError::MalformedSignature { .. }),
            "{header:?}: {err:?}"
        );
        assert!(err.to_string().contains(why), "{err}");
    }
}

#[test]
fn unpadded_signature_is_accepted() {
    let good = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
    let unpadded = good.trim_end_matches('=');
    assert_ne!(unpadded, good);
    verifier()
        .verify_parts(ID, &NOW.to_string(), &format!("v1,{unpadded}"), BODY)
        .unwrap();
}

#[test]
fn whsec_secret_is_base64_decoded() {
    let key = b"\x00\x01raw key bytes\xfe\xff";
    let secret = format!("whsec_{}", STANDARD.encode(key));
    let s = sig(key, ID, &NOW.to_string(), BODY);
    let h = headers(ID, &NOW.to_string(), &format!("v1,{s}"));

    Verifier::new(secret.as_str())
        .now(at(NOW))
        .verify(&h, BODY)
        .unwrap();
    Verifier::new(WebhookSecret::base64(secret.as_str()).unwrap())
        .now(at(NOW))
        .verify(&h, BODY)
        .unwrap();
    // Keyed with the literal text it does not match.
    let err = Verifier::new(WebhookSecret::utf8(secret.as_str()))
        .now(at(NOW))
        .verify(&h, BODY)
        .unwrap_err();
    assert!(
        matches!(err, WebhookError::NoMatchingSignature { .. }),
        "{err:?}"
    );
}

#[test]
fn plain_secret_is_utf8_and_explicit_choice_wins() {
    // "czNjcjN0" is valid base64 (of "s3cr3t"), yet `new` keys with its text.
    let s_text = sig(b"czNjcjN0", ID, &NOW.to_string(), BODY);
    let s_decoded = sig(b"s3cr3t", ID, &NOW.to_string(), BODY);
    let by_text = headers(ID, &NOW.to_string(), &format!("v1,{s_text}"));
    let by_decoded = headers(ID, &NOW.to_string(), &format!("v1,{s_decoded}"));

    Verifier::new("czNjcjN0")
        .now(at(NOW))
        .verify(&by_text, BODY)
        .unwrap();
    assert!(
        Verifier::new("czNjcjN0")
            .now(at(NOW))
            .verify(&by_decoded, BODY)
            .is_err()
    );
    Verifier::new(WebhookSecret::base64("czNjcjN0").unwrap())
        .now(at(NOW))
        .verify(&by_decoded, BODY)
        .unwrap();
    // `new` trims a trailing newline from a secret file; `utf8` keeps it.
    Verifier::new("czNjcjN0\n")
        .now(at(NOW))
        .verify(&by_text, BODY)
        .unwrap();
    assert!(
        Verifier::new(WebhookSecret::utf8("czNjcjN0\n"))
            .now(at(NOW))
            .verify(&by_text, BODY)
            .is_err()
    );
}

#[test]
fn unusable_secrets_are_reported_without_the_secret() {
    let err = WebhookSecret::base64("not*base64*secret").unwrap_err();
    assert!(matches!(err, WebhookError::InvalidSecret { .. }), "{err:?}");
    assert!(!err.to_string().contains("secret*"), "{err}");

    let err = verifier_with("whsec_not*base64*secret");
    assert!(matches!(err, WebhookError::InvalidSecret { .. }), "{err:?}");
    assert!(!err.to_string().contains("not*base64"), "{err}");
    // The decode error would name the bad character and its offset.
    assert!(!err.to_string().contains("offset"), "{err}");

    let err = verifier_with("");
    assert!(err.to_string().contains("empty"), "{err}");
    assert!(matches!(
        WebhookSecret::base64("whsec_"),
        Err(WebhookError::InvalidSecret { .. })
    ));
}

fn verifier_with(secret: &str) -> WebhookError {
    Verifier::new(secret)
        .now(at(NOW))
        .verify(&good_headers(), BODY)
        .unwrap_err()
}

#[test]
fn unknown_status_and_missing_generated() {
    let body = format!(r#"{{"task_id":"{TASK}","status":"QUEUED","extra":{{"x":1}}}}"#);
    let s = sig(SECRET.as_bytes(), ID, &NOW.to_string(), body.as_bytes());
    let h = headers(ID, &NOW.to_string(), &format!("v1,{s}"));
    let event = verifier().verify(&h, body.as_bytes()).unwrap();
    assert_eq!(event.status, TaskStatus::Other("QUEUED".to_owned()));
    assert!(event.generated.is_empty());

    let body = format!(r#"{{"task_id":"{TASK}","status":"IN_PROGRESS","generated":null}}"#);
    let s = sig(SECRET.as_bytes(), ID, &NOW.to_string(), body.as_bytes());
    let h = headers(ID, &NOW.to_string(), &format!("v1,{s}"));
    let event = verifier().verify(&h, body.as_bytes()).unwrap();
    assert_eq!(event.status, TaskStatus::InProgress);
    assert!(event.generated.is_empty());
}

#[test]
fn no_message_or_debug_contains_the_secret_or_expected_signature() {
    let expected = sig(SECRET.as_bytes(), ID, &NOW.to_string(), BODY);
    let wrong = sig(b"x", ID, &NOW.to_string(), BODY);
    let mut errors = vec![
        verifier()
            .verify(&headers(ID, "1", "v1,AAAA"), BODY)
            .unwrap_err(),
        verifier()
            .verify(&headers(ID, &(NOW + 999).to_string(), "v1,AAAA"), BODY)
            .unwrap_err(),
        verifier()
            .verify(&headers(ID, &NOW.to_string(), &format!("v1,{wrong}")), BODY)
            .unwrap_err(),
        verifier()
            .verify(&headers(ID, &NOW.to_string(), "v1,!!"), BODY)
            .unwrap_err(),
        verifier()
            .verify_parts(ID, "x", "v1,AAAA", BODY)
            .unwrap_err(),
    ];
    let mut h = good_headers();
    h.remove(SIGNATURE_HEADER);
    errors.push(verifier().verify(&h, BODY).unwrap_err());
    for err in errors {
        for text in [
            err.to_string(),
            format!("{err:?}"),
            crate::Error::from(err).to_string(),
        ] {
            assert!(!text.contains(SECRET), "{text}");
            assert!(!text.contains(&expected), "{text}");
            assert!(!text.contains(&expected[..12]), "{text}");
        }
    }
    let debug = format!("{:?}", verifier());
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
}
