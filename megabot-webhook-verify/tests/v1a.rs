//! Standard Webhooks asymmetric signatures (`v1a`, Ed25519; design 9.11): keys, signing,
//! the decision rule against `v1`, and property tests.

mod common;

use common::{at, body};
use megabot_webhook_verify::sign::{
    standard_signature, standard_v1a_signature, standard_v1a_signatures,
};
use megabot_webhook_verify::signature::verify_standard_v1a_signature;
use megabot_webhook_verify::{
    Error, Scheme, StandardPublicKey, StandardSecret, StandardSigningKey, Verifier,
};
use proptest::prelude::*;

const NOW: i64 = 1_700_000_000;
const ID: &str = "msg_2Lp5NR0YYkvbkRTNvUmmJD";

fn signing_key(seed: u8) -> StandardSigningKey {
    StandardSigningKey::from_seed(&[seed; 32])
}

fn headers(id: &str, timestamp: i64, signature: &str) -> Vec<(String, String)> {
    common::headers(&[
        ("webhook-id", id),
        ("webhook-timestamp", &timestamp.to_string()),
        ("webhook-signature", signature),
    ])
}

fn public_verifier(keys: &[StandardPublicKey]) -> Verifier {
    keys.iter()
        .cloned()
        .fold(Verifier::builder(), |builder, key| {
            builder.standard_public_key(key)
        })
        .build()
        .unwrap()
}

fn check(
    verifier: &Verifier,
    signature: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<(bool, usize), Error> {
    verifier
        .verify_at(&headers(id, timestamp, signature), body, at(NOW))
        .map(|verified| {
            assert_eq!(verified.delivery.scheme, Scheme::StandardWebhooks);
            (verified.delivery.asymmetric, verified.delivery.secret_index)
        })
}

#[test]
fn a_v1a_delivery_verifies_with_the_public_key_alone() {
    let key = signing_key(1);
    let body = body("evt_1", &NOW.to_string());
    let signature = standard_v1a_signature(&key, ID, NOW, &body);
    assert!(signature.starts_with("v1a,"));
    assert_eq!(signature.len(), 4 + 88);
    let verifier = public_verifier(&[key.public_key()]);
    assert!(verifier.accepts(Scheme::StandardWebhooks));
    assert!(!verifier.accepts(Scheme::MegaBot));
    assert_eq!(
        check(&verifier, &signature, ID, NOW, &body).unwrap(),
        (true, 0)
    );
    let authenticated = verifier
        .authenticate_at(&headers(ID, NOW, &signature), &body, at(NOW))
        .unwrap();
    assert!(authenticated.asymmetric);
    assert_eq!(authenticated.delivery_id, ID);
    // Padding is optional.
    let unpadded = signature.trim_end_matches('=');
    assert_ne!(unpadded, signature);
    assert_eq!(
        check(&verifier, unpadded, ID, NOW, &body).unwrap(),
        (true, 0)
    );
    // The verifier's Debug shows counts only.
    assert!(format!("{verifier:?}").contains("standard_public_keys: 1"));
}

#[test]
fn tampered_body_id_or_timestamp_fails() {
    let key = signing_key(2);
    let body = body("evt_2", &NOW.to_string());
    let signature = standard_v1a_signature(&key, ID, NOW, &body);
    let verifier = public_verifier(&[key.public_key()]);
    let mut tampered = body.clone();
    tampered[12] ^= 1;
    for (id, timestamp, body) in [
        (ID, NOW, tampered.as_slice()),
        ("msg_other", NOW, body.as_slice()),
        (ID, NOW + 1, body.as_slice()),
    ] {
        let error = check(&verifier, &signature, id, timestamp, body).unwrap_err();
        assert!(matches!(error, Error::SignatureMismatch), "{error}");
        assert_eq!(error.to_string(), "signature mismatch");
    }
}

#[test]
fn wrong_key_fails_and_rotation_checks_every_key() {
    let old = signing_key(3);
    let new = signing_key(4);
    let stranger = signing_key(5);
    let body = body("evt_3", &NOW.to_string());
    let verifier = public_verifier(&[old.public_key(), new.public_key()]);
    let by_stranger = standard_v1a_signature(&stranger, ID, NOW, &body);
    assert!(matches!(
        check(&verifier, &by_stranger, ID, NOW, &body),
        Err(Error::SignatureMismatch)
    ));
    let by_new = standard_v1a_signature(&new, ID, NOW, &body);
    assert_eq!(
        check(&verifier, &by_new, ID, NOW, &body).unwrap(),
        (true, 1)
    );
    // An unknown entry first, then a good one: every entry is checked.
    let both = format!("{by_stranger} {by_new}");
    assert_eq!(check(&verifier, &both, ID, NOW, &body).unwrap(), (true, 1));
    let rotation = standard_v1a_signatures(&[stranger, old], ID, NOW, &body);
    assert_eq!(
        check(&verifier, &rotation, ID, NOW, &body).unwrap(),
        (true, 0)
    );
}

#[test]
fn v1a_decides_over_v1_when_public_keys_are_held() {
    let key = signing_key(6);
    let secret = StandardSecret::from_bytes(&[6; 32]).unwrap();
    let body = body("evt_4", &NOW.to_string());
    let v1 = standard_signature(&secret, ID, NOW, &body);
    let v1a = standard_v1a_signature(&key, ID, NOW, &body);
    let bad_v1a = standard_v1a_signature(&signing_key(7), ID, NOW, &body);
    let both = Verifier::builder()
        .standard_secret(secret.clone())
        .standard_public_key(key.public_key())
        .build()
        .unwrap();
    // Both valid: v1a decides.
    let value = format!("{v1} {v1a}");
    assert_eq!(check(&both, &value, ID, NOW, &body).unwrap(), (true, 0));
    // A valid v1 beside an invalid v1a is refused: no fallback.
    let value = format!("{v1} {bad_v1a}");
    assert!(matches!(
        check(&both, &value, ID, NOW, &body),
        Err(Error::SignatureMismatch)
    ));
    // A malformed v1a entry still takes the decision.
    let value = format!("{v1} v1a,AAAA");
    assert!(matches!(
        check(&both, &value, ID, NOW, &body),
        Err(Error::MalformedSignature)
    ));
    // No v1a entry: v1 decides.
    assert_eq!(check(&both, &v1, ID, NOW, &body).unwrap(), (false, 0));
    // Without public keys, v1 decides and v1a entries are skipped.
    let hmac_only = Verifier::builder().standard_secret(secret).build().unwrap();
    let value = format!("{bad_v1a} {v1}");
    assert_eq!(
        check(&hmac_only, &value, ID, NOW, &body).unwrap(),
        (false, 0)
    );
    assert!(matches!(
        check(&hmac_only, &v1a, ID, NOW, &body),
        Err(Error::MalformedSignature)
    ));
    // Public keys only and a v1-only header: nothing to check it with.
    let public_only = public_verifier(&[key.public_key()]);
    assert!(check(&public_only, &v1, ID, NOW, &body).is_err());
}

#[test]
fn refused_schemes_drop_public_keys() {
    let result = Verifier::builder()
        .standard_public_key(signing_key(8).public_key())
        .accept(Scheme::StandardWebhooks, false)
        .build();
    assert!(matches!(result, Err(Error::NoSecret)));
}

#[test]
fn freshness_applies_to_v1a() {
    let key = signing_key(9);
    let old = NOW - 301;
    let body = body("evt_5", &old.to_string());
    let signature = standard_v1a_signature(&key, ID, old, &body);
    let verifier = public_verifier(&[key.public_key()]);
    assert!(matches!(
        check(&verifier, &signature, ID, old, &body),
        Err(Error::TimestampTooOld { .. })
    ));
}

#[test]
fn signature_only_check() {
    let key = signing_key(10);
    let keys = [key.public_key()];
    let signature = standard_v1a_signature(&key, "id", 5, b"not json");
    assert_eq!(
        verify_standard_v1a_signature(&keys, "id", 5, &signature, b"not json").unwrap(),
        0
    );
    assert!(matches!(
        verify_standard_v1a_signature(&keys, "", 5, &signature, b"not json"),
        Err(Error::MissingHeader { .. })
    ));
    assert!(matches!(
        verify_standard_v1a_signature(&[], "id", 5, &signature, b"not json"),
        Err(Error::SignatureMismatch)
    ));
    for malformed in ["", "v1a,", "v1a,AAAA", "v1,AAAA", "v1a,***"] {
        assert!(matches!(
            verify_standard_v1a_signature(&keys, "id", 5, malformed, b"x"),
            Err(Error::MalformedSignature)
        ));
    }
}

#[test]
fn a_whsk_round_trips_and_a_mismatched_one_is_refused() {
    use base64::Engine as _;
    let key = signing_key(11);
    let whsk = key.to_whsk_string();
    let parsed: StandardSigningKey = whsk.parse().unwrap();
    assert_eq!(parsed.public_key(), key.public_key());
    let public: StandardPublicKey = key.public_key().to_whpk_string().parse().unwrap();
    assert_eq!(public, key.public_key());
    let mut pair = [11u8; 32].to_vec();
    pair.extend_from_slice(signing_key(12).public_key().as_bytes());
    let forged = format!(
        "whsk_{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&pair)
    );
    assert!(matches!(
        StandardSigningKey::parse(&forged),
        Err(Error::InvalidSecret { .. })
    ));
}

proptest! {
    // Ed25519 in a debug build is slow: fewer cases than the HMAC properties.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn v1a_round_trips_and_tampering_fails(
        seed in any::<[u8; 32]>(),
        id in "[a-zA-Z0-9_]{1,32}",
        timestamp in 0i64..4_000_000_000,
        body in proptest::collection::vec(any::<u8>(), 0..400),
        flip in any::<usize>(),
        bit in 0u8..8,
    ) {
        let key = StandardSigningKey::from_seed(&seed);
        let keys = [key.public_key()];
        let signature = standard_v1a_signature(&key, &id, timestamp, &body);
        prop_assert_eq!(
            verify_standard_v1a_signature(&keys, &id, timestamp, &signature, &body).unwrap(),
            0
        );
        prop_assert!(verify_standard_v1a_signature(&keys, &id, timestamp + 1, &signature, &body).is_err());
        if !body.is_empty() {
            let mut tampered = body.clone();
            let position = flip % tampered.len();
            tampered[position] ^= 1 << bit;
            prop_assert!(matches!(
                verify_standard_v1a_signature(&keys, &id, timestamp, &signature, &tampered),
                Err(Error::SignatureMismatch)
            ));
        }
    }

    #[test]
    fn arbitrary_v1a_headers_and_keys_never_panic(
        header in "\\PC{0,200}",
        encoded in "[A-Za-z0-9+/=]{0,100}",
        id in "\\PC{0,20}",
    ) {
        let key = StandardSigningKey::from_seed(&[1; 32]);
        let keys = [key.public_key()];
        let _ = verify_standard_v1a_signature(&keys, &id, 1, &header, b"body");
        let entry = format!("v1a,{encoded}");
        let _ = verify_standard_v1a_signature(&keys, &id, 1, &entry, b"body");
        let _ = StandardPublicKey::parse(&format!("whpk_{encoded}"));
        let _ = StandardSigningKey::parse(&format!("whsk_{encoded}"));
    }
}
