//! Property tests: tampering always fails, signing always round-trips, and no input
//! makes verification panic.

mod common;

use chrono::{DateTime, Utc};
use common::at;
use megabot_webhook_verify::sign::{megabot_signature, standard_signature};
use megabot_webhook_verify::signature::{verify_megabot_signature, verify_standard_signature};
use megabot_webhook_verify::{Error, Scheme, Secret, StandardSecret, Verifier};
use proptest::prelude::*;

fn secret_string() -> impl Strategy<Value = String> {
    "\\PC{1,48}"
}

fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..80)
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..600)
}

/// A clock anywhere chrono can represent in whole seconds.
fn any_clock() -> impl Strategy<Value = DateTime<Utc>> {
    (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp()).prop_map(at)
}

fn envelope(id: &str, timestamp: i64) -> Vec<u8> {
    format!(
        r#"{{"event":"chat_message_received","id":{},"timestamp":{timestamp},"data":{{"content":"hi"}}}}"#,
        serde_json::to_string(id).unwrap()
    )
    .into_bytes()
}

/// Replaces the character at `position` by one that differs from it in a way that
/// matters: for hex digits, not merely in case; for the last character, not by a
/// space (a space replacing the trailing base64 `=` leaves the same signature without
/// its optional padding, which is valid: see `unpadded_standard_signature_is_the_same_signature`).
fn change_char(value: &str, position: usize, replacement_seed: u8) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefABCDEFGHxyz+/=,v ";
    let bytes = value.as_bytes();
    let position = position % bytes.len();
    let original = bytes[position];
    let last = position + 1 == bytes.len();
    let mut index = usize::from(replacement_seed) % ALPHABET.len();
    while ALPHABET[index].eq_ignore_ascii_case(&original) || (last && ALPHABET[index] == b' ') {
        index = (index + 1) % ALPHABET.len();
    }
    let mut changed = bytes.to_vec();
    changed[position] = ALPHABET[index];
    String::from_utf8(changed).unwrap()
}

proptest! {
    #[test]
    fn flipped_body_byte_fails_megabot(
        secret in secret_string(),
        body in proptest::collection::vec(any::<u8>(), 1..600),
        position in any::<usize>(),
        mask in 1u8..=255,
    ) {
        let secret = Secret::new(secret).unwrap();
        let header = megabot_signature(&secret, &body);
        let mut tampered = body.clone();
        let position = position % tampered.len();
        tampered[position] ^= mask;
        prop_assert!(matches!(
            verify_megabot_signature(std::slice::from_ref(&secret), &header, &tampered),
            Err(Error::SignatureMismatch)
        ));
        prop_assert_eq!(verify_megabot_signature(&[secret], &header, &body).ok(), Some(0));
    }

    #[test]
    fn flipped_body_byte_fails_standard(
        key in key_bytes(),
        id in "[a-zA-Z0-9_]{1,40}",
        timestamp in any::<i64>(),
        body in proptest::collection::vec(any::<u8>(), 1..600),
        position in any::<usize>(),
        mask in 1u8..=255,
    ) {
        let secrets = [StandardSecret::from_bytes(&key).unwrap()];
        let header = standard_signature(&secrets[0], &id, timestamp, &body);
        let mut tampered = body.clone();
        let position = position % tampered.len();
        tampered[position] ^= mask;
        prop_assert!(verify_standard_signature(&secrets, &id, timestamp, &header, &tampered).is_err());
        prop_assert_eq!(verify_standard_signature(&secrets, &id, timestamp, &header, &body).ok(), Some(0));
    }

    #[test]
    fn changed_signature_character_fails(
        secret in secret_string(),
        key in key_bytes(),
        body in body_bytes(),
        position in any::<usize>(),
        seed in any::<u8>(),
    ) {
        let secret = Secret::new(secret).unwrap();
        let header = megabot_signature(&secret, &body);
        let changed = change_char(&header, position, seed);
        prop_assert!(verify_megabot_signature(&[secret], &changed, &body).is_err(), "{}", changed);

        let standard = [StandardSecret::from_bytes(&key).unwrap()];
        let header = standard_signature(&standard[0], "msg_1", 1_614_265_330, &body);
        let changed = change_char(&header, position, seed);
        prop_assert!(
            verify_standard_signature(&standard, "msg_1", 1_614_265_330, &changed, &body).is_err(),
            "{}", changed
        );
    }

    #[test]
    fn sign_then_verify_round_trips_for_any_content(
        secret in secret_string(),
        key in key_bytes(),
        id in "\\PC{1,40}",
        timestamp in any::<i64>(),
        body in body_bytes(),
    ) {
        let secret = Secret::new(secret).unwrap();
        let header = megabot_signature(&secret, &body);
        prop_assert_eq!(header.len(), 71);
        prop_assert_eq!(verify_megabot_signature(&[secret], &header, &body).ok(), Some(0));

        let standard = StandardSecret::from_bytes(&key).unwrap();
        let reparsed = StandardSecret::parse(&standard.to_whsec_string()).unwrap();
        let header = standard_signature(&standard, &id, timestamp, &body);
        prop_assert_eq!(verify_standard_signature(&[reparsed], &id, timestamp, &header, &body).ok(), Some(0));
    }

    #[test]
    fn sign_then_verify_round_trips_through_the_verifier(
        secret in secret_string(),
        key in key_bytes(),
        id in "\\PC{1,40}",
        timestamp in 0i64..4_102_444_800,
        skew in -300i64..=300,
        standard in any::<bool>(),
    ) {
        let megabot_secret = Secret::new(secret).unwrap();
        let standard_secret = StandardSecret::from_bytes(&key).unwrap();
        let verifier = Verifier::builder()
            .megabot_secret(megabot_secret.clone())
            .standard_secret(standard_secret.clone())
            .build()
            .unwrap();
        let body = envelope(&id, timestamp);
        let ts = timestamp.to_string();
        let headers: Vec<(String, String)> = if standard {
            vec![
                ("webhook-id".into(), id.clone()),
                ("webhook-timestamp".into(), ts),
                ("webhook-signature".into(), standard_signature(&standard_secret, &id, timestamp, &body)),
            ]
        } else {
            vec![("X-MegaBot-Signature".into(), megabot_signature(&megabot_secret, &body))]
        };
        let verified = verifier.verify_at(&headers, &body, at(timestamp + skew)).unwrap();
        prop_assert_eq!(verified.delivery.delivery_id, id);
        prop_assert_eq!(verified.delivery.signed_at, at(timestamp));
        prop_assert_eq!(
            verified.delivery.scheme,
            if standard { Scheme::StandardWebhooks } else { Scheme::MegaBot }
        );
    }

    #[test]
    fn no_input_panics(
        headers in proptest::collection::vec(
            (
                prop_oneof![
                    Just("X-MegaBot-Signature".to_owned()),
                    Just("webhook-id".to_owned()),
                    Just("webhook-timestamp".to_owned()),
                    Just("webhook-signature".to_owned()),
                    Just("X-MegaBot-Event".to_owned()),
                    Just("X-MegaBot-Delivery".to_owned()),
                    Just("X-MegaBot-Timestamp".to_owned()),
                    "\\PC{0,20}",
                ],
                prop_oneof![
                    "\\PC{0,120}",
                    "(sha256=[0-9a-fA-F]{60,68} ?){1,3}",
                    "(v1a?,[A-Za-z0-9+/=]{0,50} ?){1,3}",
                    "-?[0-9]{1,25}",
                ],
            ),
            0..8,
        ),
        body in body_bytes(),
        now in any_clock(),
        ignore_timestamp in any::<bool>(),
    ) {
        let builder = Verifier::builder()
            .megabot_secret(Secret::new("s").unwrap())
            .standard_secret(StandardSecret::from_bytes(b"k").unwrap())
            .max_body_size(400);
        let builder = if ignore_timestamp {
            megabot_webhook_verify::dangerous::ignore_timestamp(builder)
        } else {
            builder
        };
        let verifier = builder.build().unwrap();
        if let Err(error) = verifier.verify_at(&headers, &body, now) {
            prop_assert!(matches!(error.status(), 400 | 401 | 413), "{:?}", error);
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn authentic_arbitrary_bodies_and_timestamps_never_panic(
        body in body_bytes(),
        id in "\\PC{0,20}",
        timestamp in any::<i64>(),
        body_timestamp in prop_oneof![any::<i64>().prop_map(|t| t.to_string()), "\\PC{0,25}"],
        now in any_clock(),
    ) {
        let megabot = Secret::new("s").unwrap();
        let standard = StandardSecret::from_bytes(b"k").unwrap();
        let verifier = Verifier::builder()
            .megabot_secret(megabot.clone())
            .standard_secret(standard.clone())
            .build()
            .unwrap();
        // Arbitrary bytes, signed.
        let headers = vec![("X-MegaBot-Signature".to_owned(), megabot_signature(&megabot, &body))];
        if let Err(error) = verifier.verify_at(&headers, &body, now) {
            prop_assert_eq!(error.code(), "invalid_envelope");
        }
        // An envelope with an arbitrary timestamp text, signed.
        let odd = format!(
            r#"{{"event":"x","id":"evt","timestamp":{body_timestamp},"data":{{}}}}"#
        ).into_bytes();
        let headers = vec![("X-MegaBot-Signature".to_owned(), megabot_signature(&megabot, &odd))];
        if let Err(error) = verifier.verify_at(&headers, &odd, now) {
            prop_assert!(
                matches!(error.code(), "invalid_envelope" | "timestamp_too_old" | "timestamp_too_new"),
                "{:?}", error
            );
        }
        // Any signed webhook-timestamp.
        let headers = vec![
            ("webhook-id".to_owned(), id.clone()),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            ("webhook-signature".to_owned(), standard_signature(&standard, &id, timestamp, &body)),
        ];
        if let Err(error) = verifier.verify_at(&headers, &body, now) {
            prop_assert!(
                matches!(
                    error.code(),
                    "invalid_envelope" | "timestamp_too_old" | "timestamp_too_new"
                        | "invalid_timestamp" | "missing_header"
                ),
                "{:?}", error
            );
        }
    }
}

/// The decision the property above relies on: base64 padding is optional in a `v1,`
/// entry, and trailing white space is not part of it, so a space in place of the `=`
/// is the same signature.
#[test]
fn unpadded_standard_signature_is_the_same_signature() {
    let key = StandardSecret::from_bytes(&[7; 24]).unwrap();
    let body = br#"{"event":"x"}"#;
    let header = standard_signature(&key, "msg_1", 1_614_265_330, body);
    assert!(header.ends_with('='), "{header}");
    let spaced = format!("{} ", &header[..header.len() - 1]);
    let unpadded = &header[..header.len() - 1];
    for variant in [spaced.as_str(), unpadded] {
        assert_eq!(
            verify_standard_signature(
                std::slice::from_ref(&key),
                "msg_1",
                1_614_265_330,
                variant,
                body
            )
            .ok(),
            Some(0),
            "{variant:?}"
        );
    }
}
