//! Behaviour of `Verifier::verify_at`: design 4.3's order, scheme choice, rotation,
//! freshness edges, and clean errors for hostile timestamps.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{at, body, headers};
use megabot_webhook_verify::sign::{megabot_signature, standard_signature};
use megabot_webhook_verify::{
    Error, Scheme, Secret, StandardSecret, Verifier, dangerous, signature,
};

const T: i64 = 1_640_995_200;

fn megabot_secret() -> Secret {
    Secret::new("your_webhook_secret").unwrap()
}

fn standard_secret() -> StandardSecret {
    StandardSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap()
}

fn both() -> Verifier {
    Verifier::builder()
        .megabot_secret(megabot_secret())
        .standard_secret(standard_secret())
        .build()
        .unwrap()
}

fn megabot_headers(body: &[u8]) -> Vec<(String, String)> {
    headers(&[(
        "X-MegaBot-Signature",
        &megabot_signature(&megabot_secret(), body),
    )])
}

fn standard_headers(id: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    headers(&[
        ("webhook-id", id),
        ("webhook-timestamp", &timestamp.to_string()),
        (
            "webhook-signature",
            &standard_signature(&standard_secret(), id, timestamp, body),
        ),
    ])
}

fn code(result: Result<megabot_webhook_verify::Verified, Error>) -> &'static str {
    match result {
        Ok(verified) => panic!(
            "expected an error, verified {}",
            verified.delivery.delivery_id
        ),
        Err(error) => error.code(),
    }
}

#[test]
fn verifier_is_send_sync_clone_and_redacted() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<Verifier>();
    let verifier = Verifier::builder()
        .megabot_secret(Secret::new("hunter2-megabot").unwrap())
        .standard_secret(StandardSecret::from_bytes(b"hunter2-standard").unwrap())
        .build()
        .unwrap();
    let text = format!("{verifier:?} {:?}", verifier.clone());
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("aHVudGVyMi"), "{text}");
    assert!(text.contains("megabot_secrets: 1"), "{text}");
}

#[test]
fn defaults() {
    let verifier = both();
    assert_eq!(verifier.max_body_size(), 1_048_576);
    assert_eq!(verifier.tolerance_past(), Duration::from_secs(300));
    assert_eq!(verifier.tolerance_future(), Duration::from_secs(300));
    assert!(verifier.accepts(Scheme::MegaBot) && verifier.accepts(Scheme::StandardWebhooks));
    assert!(verifier.checks_timestamp());
    assert!(format!("{:?}", verifier.replay_guard()).contains("capacity: 100000"));
}

#[test]
fn building_without_a_usable_secret_fails() {
    assert!(matches!(Verifier::builder().build(), Err(Error::NoSecret)));
    let only_megabot = Verifier::builder().megabot_secret(megabot_secret());
    assert!(matches!(
        only_megabot
            .clone()
            .schemes(&[Scheme::StandardWebhooks])
            .build(),
        Err(Error::NoSecret)
    ));
    assert!(matches!(
        only_megabot.clone().schemes(&[]).build(),
        Err(Error::NoSecret)
    ));
    assert!(matches!(
        only_megabot.clone().accept(Scheme::MegaBot, false).build(),
        Err(Error::NoSecret)
    ));
    let error = Verifier::builder().build().unwrap_err();
    assert_eq!((error.code(), error.status()), ("no_secret", 500));
    assert!(only_megabot.build().is_ok());
}

#[test]
fn megabot_delivery_fields_come_from_the_body() {
    let body = body("evt_1", &T.to_string());
    let verified = both()
        .verify_at(&megabot_headers(&body), &body, at(T + 10))
        .unwrap();
    assert_eq!(verified.delivery.scheme, Scheme::MegaBot);
    assert_eq!(verified.delivery.secret_index, 0);
    assert_eq!(verified.delivery.delivery_id, "evt_1");
    assert_eq!(verified.event_name(), "error_occurred");
    assert_eq!(verified.delivery.signed_at, at(T));
    assert_eq!(verified.delivery.expires_at, at(T + 300));
}

#[test]
fn standard_delivery_uses_the_webhook_headers() {
    // The body's own timestamp is old: a retry re-signed later is still fresh.
    let body = body("evt_1", &(T - 3600).to_string());
    let headers = standard_headers("msg_abc", T, &body);
    let verified = both().verify_at(&headers, &body, at(T + 299)).unwrap();
    assert_eq!(verified.delivery.scheme, Scheme::StandardWebhooks);
    assert_eq!(verified.delivery.delivery_id, "msg_abc");
    assert_eq!(verified.delivery.signed_at, at(T));
    assert_eq!(verified.delivery.expires_at, at(T + 300));
    assert_eq!(verified.event.id, "evt_1");
}

#[test]
fn standard_is_preferred_and_there_is_no_fallback() {
    let body = body("evt_1", &T.to_string());
    let mut all = megabot_headers(&body);
    all.extend(standard_headers("msg_1", T, &body));
    assert_eq!(
        both()
            .verify_at(&all, &body, at(T))
            .unwrap()
            .delivery
            .scheme,
        Scheme::StandardWebhooks
    );

    // A broken Standard Webhooks signature is not rescued by a valid MegaBot one.
    let mut broken = megabot_headers(&body);
    broken.extend(
        standard_headers("msg_1", T + 1, &body)
            .into_iter()
            .map(|(k, v)| {
                if k == "webhook-timestamp" {
                    (k, T.to_string())
                } else {
                    (k, v)
                }
            }),
    );
    assert_eq!(
        code(both().verify_at(&broken, &body, at(T))),
        "signature_mismatch"
    );

    // Without a standard secret, or with the scheme refused, MegaBot decides.
    let megabot_only = Verifier::builder()
        .megabot_secret(megabot_secret())
        .build()
        .unwrap();
    assert_eq!(
        megabot_only
            .verify_at(&broken, &body, at(T))
            .unwrap()
            .delivery
            .scheme,
        Scheme::MegaBot
    );
    let refused = Verifier::builder()
        .megabot_secret(megabot_secret())
        .standard_secret(standard_secret())
        .accept(Scheme::StandardWebhooks, false)
        .build()
        .unwrap();
    assert!(!refused.accepts(Scheme::StandardWebhooks));
    assert_eq!(
        refused
            .verify_at(&broken, &body, at(T))
            .unwrap()
            .delivery
            .scheme,
        Scheme::MegaBot
    );

    // Only a refused scheme's header: missing signature.
    let standard_only = Verifier::builder()
        .megabot_secret(megabot_secret())
        .standard_secret(standard_secret())
        .schemes(&[Scheme::StandardWebhooks])
        .build()
        .unwrap();
    assert_eq!(
        code(standard_only.verify_at(&megabot_headers(&body), &body, at(T))),
        "missing_signature"
    );
}

#[test]
fn rotation_reports_the_matching_secret() {
    let old = Secret::new("old-secret").unwrap();
    let new = Secret::new("new-secret").unwrap();
    let verifier = Verifier::builder()
        .megabot_secret(old.clone())
        .megabot_secret(new.clone())
        .build()
        .unwrap();
    let body = body("evt_1", &T.to_string());
    let by_new = headers(&[("X-MegaBot-Signature", &megabot_signature(&new, &body))]);
    assert_eq!(
        verifier
            .verify_at(&by_new, &body, at(T))
            .unwrap()
            .delivery
            .secret_index,
        1
    );
    let both_entries = format!(
        "sha256={} {} {}",
        "f".repeat(64),
        megabot_signature(&new, &body),
        megabot_signature(&old, &body)
    );
    let both_entries = headers(&[("X-MegaBot-Signature", &both_entries)]);
    assert_eq!(
        verifier
            .verify_at(&both_entries, &body, at(T))
            .unwrap()
            .delivery
            .secret_index,
        0
    );

    let first = StandardSecret::from_bytes(b"first key").unwrap();
    let second = StandardSecret::from_bytes(b"second key").unwrap();
    let verifier = Verifier::builder()
        .standard_secret(first)
        .standard_secret(second.clone())
        .build()
        .unwrap();
    let signed = headers(&[
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", &T.to_string()),
        (
            "webhook-signature",
            &standard_signature(&second, "msg_1", T, &body),
        ),
    ]);
    assert_eq!(
        verifier
            .verify_at(&signed, &body, at(T))
            .unwrap()
            .delivery
            .secret_index,
        1
    );
}

#[test]
fn body_size_is_checked_first() {
    let body = body("evt_1", &T.to_string());
    let verifier = Verifier::builder()
        .megabot_secret(megabot_secret())
        .max_body_size(body.len())
        .build()
        .unwrap();
    assert!(
        verifier
            .verify_at(&megabot_headers(&body), &body, at(T))
            .is_ok()
    );
    let mut bigger = body.clone();
    bigger.push(b' ');
    let error = verifier
        .verify_at(&headers(&[]), &bigger, at(T))
        .unwrap_err();
    assert!(matches!(error, Error::BodyTooLarge { limit } if limit == body.len()));
    assert_eq!(error.status(), 413);
}

#[test]
fn authentic_non_envelope_is_400_and_unauthentic_is_401() {
    let junk = b"\xff\xfe not json at all";
    let signed = megabot_headers(junk);
    let error = both().verify_at(&signed, junk, at(T)).unwrap_err();
    assert_eq!((error.code(), error.status()), ("invalid_envelope", 400));
    assert!(
        !error
            .to_string()
            .contains("invalid event envelope: invalid event envelope"),
        "{error}"
    );
    let forged = headers(&[("X-MegaBot-Signature", &format!("sha256={}", "0".repeat(64)))]);
    assert_eq!(
        code(both().verify_at(&forged, junk, at(T))),
        "signature_mismatch"
    );
}

#[test]
fn time_errors_only_for_authentic_requests() {
    let stale = body("evt_1", &(T - 10_000).to_string());
    let forged = headers(&[("X-MegaBot-Signature", &format!("sha256={}", "a".repeat(64)))]);
    assert_eq!(
        code(both().verify_at(&forged, &stale, at(T))),
        "signature_mismatch"
    );
    assert_eq!(
        code(both().verify_at(&megabot_headers(&stale), &stale, at(T))),
        "timestamp_too_old"
    );
}

#[test]
fn tolerances_apart_and_inclusive() {
    let verifier = Verifier::builder()
        .megabot_secret(megabot_secret())
        .tolerance_past(Duration::from_secs(10))
        .tolerance_future(Duration::from_secs(60))
        .build()
        .unwrap();
    let body = body("evt_1", &T.to_string());
    let headers = megabot_headers(&body);
    assert!(verifier.verify_at(&headers, &body, at(T + 10)).is_ok());
    assert_eq!(
        code(verifier.verify_at(&headers, &body, at(T + 11))),
        "timestamp_too_old"
    );
    assert!(verifier.verify_at(&headers, &body, at(T - 60)).is_ok());
    assert_eq!(
        code(verifier.verify_at(&headers, &body, at(T - 61))),
        "timestamp_too_new"
    );
    let verified = verifier.verify_at(&headers, &body, at(T)).unwrap();
    assert_eq!(verified.delivery.expires_at, at(T + 10));

    let same = Verifier::builder()
        .megabot_secret(megabot_secret())
        .tolerance(Duration::from_secs(5))
        .build()
        .unwrap();
    assert_eq!(
        (same.tolerance_past(), same.tolerance_future()),
        (Duration::from_secs(5), Duration::from_secs(5))
    );
}

#[test]
fn hostile_webhook_timestamps_are_clean_errors() {
    let body = body("evt_1", &T.to_string());
    let signature = standard_signature(&standard_secret(), "msg_1", T, &body);
    for (value, expected) in [
        ("-1", "invalid_timestamp"),
        ("-9223372036854775808", "invalid_timestamp"),
        ("abc", "invalid_timestamp"),
        ("", "invalid_timestamp"),
        ("1640995200.5", "invalid_timestamp"),
        ("+1640995200", "invalid_timestamp"),
        ("9223372036854775808", "invalid_timestamp"),
        ("99999999999999999999999999999999", "invalid_timestamp"),
        ("9223372036854775807", "signature_mismatch"),
        ("0", "signature_mismatch"),
    ] {
        let hostile = headers(&[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", value),
            ("webhook-signature", &signature),
        ]);
        let error = both().verify_at(&hostile, &body, at(T)).unwrap_err();
        assert_eq!(error.code(), expected, "webhook-timestamp {value:?}");
        assert_eq!(error.status(), 401, "webhook-timestamp {value:?}");
    }
    let missing = headers(&[("webhook-id", "msg_1"), ("webhook-signature", &signature)]);
    let error = both().verify_at(&missing, &body, at(T)).unwrap_err();
    assert!(
        matches!(
            error,
            Error::MissingHeader {
                name: "webhook-timestamp"
            }
        ),
        "{error:?}"
    );
    let no_id = headers(&[
        ("webhook-timestamp", "1640995200"),
        ("webhook-signature", &signature),
    ]);
    let error = both().verify_at(&no_id, &body, at(T)).unwrap_err();
    assert!(
        matches!(error, Error::MissingHeader { name: "webhook-id" }),
        "{error:?}"
    );
}

#[test]
fn authentic_extreme_timestamps_are_clean_errors() {
    let envelope = body("evt_1", &T.to_string());
    // Standard Webhooks, signed at i64::MAX and 0.
    for (timestamp, expected) in [(i64::MAX, "timestamp_too_new"), (0, "timestamp_too_old")] {
        let signed = standard_headers("msg_1", timestamp, &envelope);
        assert_eq!(
            code(both().verify_at(&signed, &envelope, at(T))),
            expected,
            "{timestamp}"
        );
    }
    // Even with the largest tolerances nothing overflows.
    let lax = Verifier::builder()
        .standard_secret(standard_secret())
        .tolerance(Duration::MAX)
        .build()
        .unwrap();
    let signed = standard_headers("msg_1", i64::MAX, &envelope);
    assert_eq!(
        code(lax.verify_at(&signed, &envelope, at(T))),
        "invalid_timestamp"
    );
    let signed = standard_headers("msg_1", 0, &envelope);
    let verified = lax.verify_at(&signed, &envelope, at(T)).unwrap();
    assert_eq!(
        verified.delivery.expires_at,
        chrono::DateTime::<chrono::Utc>::MAX_UTC
    );

    // MegaBot body timestamps: far future, negative, beyond i64, not a number.
    for timestamp in [
        "4102444800",
        "253402300799",
        "-1",
        "-62135596800",
        "9223372036854775807",
    ] {
        let body = body("evt_1", timestamp);
        let error = both()
            .verify_at(&megabot_headers(&body), &body, at(T))
            .unwrap_err();
        assert!(
            matches!(
                error.code(),
                "timestamp_too_new" | "timestamp_too_old" | "invalid_envelope"
            ),
            "{timestamp}: {error:?}"
        );
    }
    let far = body("evt_1", "4102444800");
    assert_eq!(
        code(both().verify_at(&megabot_headers(&far), &far, at(T))),
        "timestamp_too_new"
    );
    for timestamp in [
        "18446744073709551616",
        "1e400",
        "\"1640995200x\"",
        "null",
        "1.5e300",
    ] {
        let body = body("evt_1", timestamp);
        let error = both()
            .verify_at(&megabot_headers(&body), &body, at(T))
            .unwrap_err();
        assert_eq!(error.status() / 100, 4, "{timestamp}: {error:?}");
    }
}

#[test]
fn ignoring_the_timestamp_needs_the_dangerous_module() {
    let old = body("evt_1", &(T - 86_400).to_string());
    let builder = Verifier::builder().megabot_secret(megabot_secret());
    assert_eq!(
        code(
            builder
                .clone()
                .build()
                .unwrap()
                .verify_at(&megabot_headers(&old), &old, at(T))
        ),
        "timestamp_too_old"
    );
    let lax = dangerous::ignore_timestamp(builder).build().unwrap();
    assert!(!lax.checks_timestamp());
    let verified = lax.verify_at(&megabot_headers(&old), &old, at(T)).unwrap();
    assert_eq!(verified.delivery.signed_at, at(T - 86_400));
    // Remembered from now on, so a replay within the window is still caught.
    assert_eq!(verified.delivery.expires_at, at(T + 300));
}

#[test]
fn any_headers_implementation_works() {
    let body = body("evt_1", &T.to_string());
    let signature = megabot_signature(&megabot_secret(), &body);
    let array = [("x-megabot-signature", signature.as_str())];
    assert!(both().verify_at(&array, &body, at(T)).is_ok());
    assert!(both().verify_at(&array[..], &body, at(T)).is_ok());
    let map: HashMap<String, String> = [("X-MEGABOT-SIGNATURE".to_owned(), signature.clone())]
        .into_iter()
        .collect();
    assert!(both().verify_at(&map, &body, at(T)).is_ok());
}

#[test]
fn verify_uses_the_system_clock() {
    let now = chrono::Utc::now().timestamp();
    let fresh = body("evt_now", &now.to_string());
    assert!(both().verify(&megabot_headers(&fresh), &fresh).is_ok());
    let old = body("evt_old", &(now - 3600).to_string());
    assert_eq!(
        code(both().verify(&megabot_headers(&old), &old)),
        "timestamp_too_old"
    );
}

#[test]
fn standard_signature_layer_matches_verifier() {
    let body = body("evt_1", &T.to_string());
    let value = standard_signature(&standard_secret(), "msg_1", T, &body);
    assert_eq!(
        signature::verify_standard_signature(&[standard_secret()], "msg_1", T, &value, &body)
            .unwrap(),
        0
    );
    assert!(
        signature::verify_standard_signature(&[standard_secret()], "msg_1", T, "v1,", &body)
            .is_err()
    );
}
