//! The public Standard Webhooks test vector (standardwebhooks.com reference libraries).

use megabot_webhook_verify::sign::standard_signature;
use megabot_webhook_verify::signature::verify_standard_signature;
use megabot_webhook_verify::{Error, StandardSecret, Verifier};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn secrets() -> [StandardSecret; 1] {
    [StandardSecret::parse(SECRET).unwrap()]
}

fn check(header: &str) -> Result<usize, Error> {
    verify_standard_signature(&secrets(), ID, TIMESTAMP, header, BODY)
}

#[test]
fn we_sign_the_reference_signature() {
    assert_eq!(
        standard_signature(&secrets()[0], ID, TIMESTAMP, BODY),
        SIGNATURE
    );
}

#[test]
fn the_reference_signature_verifies() {
    assert_eq!(check(SIGNATURE).unwrap(), 0);
    // Unpadded, surrounded by other entries, and with the secret's padding dropped too.
    assert_eq!(check(SIGNATURE.trim_end_matches('=')).unwrap(), 0);
    assert_eq!(
        check(&format!("v1,bm90IHRoaXM= {SIGNATURE} v2,abc")).unwrap(),
        0
    );
    let unpadded_secret = StandardSecret::parse(SECRET.trim_start_matches("whsec_")).unwrap();
    assert_eq!(
        verify_standard_signature(&[unpadded_secret], ID, TIMESTAMP, SIGNATURE, BODY).unwrap(),
        0
    );
}

#[test]
fn empty_truncated_and_changed_signatures_fail() {
    assert!(matches!(check("v1,"), Err(Error::MalformedSignature)));
    assert!(matches!(check(""), Err(Error::MalformedSignature)));
    assert!(matches!(
        check(&SIGNATURE[..SIGNATURE.len() - 4]),
        Err(Error::MalformedSignature)
    ));
    assert!(check(&SIGNATURE[..20]).is_err());
    // Every single-character change of the base64 part fails.
    let prefix = "v1,".len();
    for position in prefix..SIGNATURE.len() - 1 {
        let mut changed: Vec<u8> = SIGNATURE.as_bytes().to_vec();
        changed[position] = if changed[position] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let changed = String::from_utf8(changed).unwrap();
        assert!(check(&changed).is_err(), "accepted {changed}");
    }
    // The content is bound: other id, timestamp or body fail.
    let secrets = secrets();
    assert!(verify_standard_signature(&secrets, "msg_other", TIMESTAMP, SIGNATURE, BODY).is_err());
    assert!(verify_standard_signature(&secrets, ID, TIMESTAMP + 1, SIGNATURE, BODY).is_err());
    assert!(
        verify_standard_signature(
            &secrets,
            ID,
            TIMESTAMP,
            SIGNATURE,
            br#"{"test": 2432232315}"#
        )
        .is_err()
    );
    // And another version tag does not count.
    assert!(check(&SIGNATURE.replacen("v1,", "v2,", 1)).is_err());
}

#[test]
fn through_the_verifier_it_is_authentic_but_not_an_event() {
    let verifier = Verifier::builder()
        .standard_secret(secrets()[0].clone())
        .build()
        .unwrap();
    let timestamp = TIMESTAMP.to_string();
    let headers = [
        ("webhook-id", ID),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", SIGNATURE),
    ];
    let now = chrono::DateTime::from_timestamp(TIMESTAMP, 0).unwrap();
    // The signature passes, so the next step (the envelope) decides: 400, not 401.
    let error = verifier.verify_at(&headers, BODY, now).unwrap_err();
    assert_eq!(error.code(), "invalid_envelope");
    let forged = [
        ("webhook-id", ID),
        ("webhook-timestamp", timestamp.as_str()),
        ("webhook-signature", "v1,"),
    ];
    assert_eq!(
        verifier.verify_at(&forged, BODY, now).unwrap_err().status(),
        401
    );
}
