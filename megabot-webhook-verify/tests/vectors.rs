//! Every case of the shared signature vectors (`tests/data/signatures.json`, a copy of
//! `shared/vectors/signatures.json`), each failure naming its case.

use chrono::{DateTime, Utc};
use megabot_webhook_verify::{Scheme, Secret, StandardSecret, Verifier};
use serde_json::Value;

const VECTORS: &str = include_str!("data/signatures.json");

/// The error code each invalid case must produce.
fn expected_code(name: &str) -> Option<&'static str> {
    Some(match name {
        "megabot/tampered_body" => "signature_mismatch",
        "megabot/wrong_secret" => "signature_mismatch",
        "megabot/missing_header" => "missing_signature",
        "megabot/empty_header" => "malformed_signature",
        "megabot/no_prefix" => "malformed_signature",
        "megabot/sha1_prefix" => "malformed_signature",
        "megabot/truncated" => "malformed_signature",
        "megabot/too_long" => "malformed_signature",
        "megabot/not_hex" => "malformed_signature",
        "megabot/body_reserialized_with_spaces" => "signature_mismatch",
        "standard/tampered_id" => "signature_mismatch",
        "standard/tampered_timestamp" => "signature_mismatch",
        "standard/too_old" => "timestamp_too_old",
        "standard/too_new" => "timestamp_too_new",
        "standard/wrong_key" => "signature_mismatch",
        "standard/missing_id" => "missing_header",
        _ => return None,
    })
}

struct Case {
    name: String,
    scheme: Scheme,
    secret: String,
    body: String,
    now: Option<i64>,
    headers: Vec<(String, String)>,
    valid: bool,
}

fn cases() -> Vec<Case> {
    let root: Value = serde_json::from_str(VECTORS).expect("signatures.json parses");
    let cases = root["cases"].as_array().expect("cases array");
    cases
        .iter()
        .map(|case| {
            let name = case["name"].as_str().expect("name").to_owned();
            let text = |key: &str| {
                case[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: {key} is a string"))
                    .to_owned()
            };
            let scheme = match text("scheme").as_str() {
                "megabot" => Scheme::MegaBot,
                "standard-webhooks" => Scheme::StandardWebhooks,
                other => panic!("{name}: unknown scheme {other}"),
            };
            let headers = case["headers"]
                .as_object()
                .unwrap_or_else(|| panic!("{name}: headers object"))
                .iter()
                .map(|(key, value)| {
                    (
                        key.clone(),
                        value.as_str().expect("header value").to_owned(),
                    )
                })
                .collect();
            let valid = match text("expect").as_str() {
                "valid" => true,
                "invalid" => false,
                other => panic!("{name}: unknown expectation {other}"),
            };
            Case {
                scheme,
                secret: text("secret"),
                body: text("body"),
                now: case["now"].as_i64(),
                headers,
                valid,
                name,
            }
        })
        .collect()
}

fn verifier(case: &Case) -> Verifier {
    let builder = Verifier::builder();
    let builder = match case.scheme {
        Scheme::MegaBot => {
            builder.megabot_secret(Secret::new(case.secret.as_str()).expect("secret"))
        }
        Scheme::StandardWebhooks => {
            builder.standard_secret(StandardSecret::parse(&case.secret).expect("whsec secret"))
        }
        other => panic!("no vectors for {other:?}"),
    };
    builder.build().expect("verifier builds")
}

/// MegaBot cases carry their timestamp in the body: check them with the clock there.
fn clock(case: &Case) -> DateTime<Utc> {
    let secs = case.now.unwrap_or_else(|| {
        let body: Value = serde_json::from_str(&case.body)
            .unwrap_or_else(|e| panic!("{}: body is JSON: {e}", case.name));
        body["timestamp"]
            .as_i64()
            .unwrap_or_else(|| panic!("{}: body timestamp", case.name))
    });
    DateTime::from_timestamp(secs, 0).expect("clock in range")
}

#[test]
fn every_vector_case() {
    let cases = cases();
    assert_eq!(
        cases.len(),
        36,
        "the vector file changed: review the expectations"
    );
    let mut failures = Vec::new();
    for case in &cases {
        let verifier = verifier(case);
        let result = verifier.verify_at(&case.headers, case.body.as_bytes(), clock(case));
        match (case.valid, result) {
            (true, Ok(verified)) => {
                if verified.delivery.scheme != case.scheme {
                    failures.push(format!(
                        "{}: verified as {}",
                        case.name, verified.delivery.scheme
                    ));
                }
                if verified.delivery.secret_index != 0 {
                    failures.push(format!(
                        "{}: secret index {}",
                        case.name, verified.delivery.secret_index
                    ));
                }
                let expected_id = match case.scheme {
                    Scheme::MegaBot => verified.event.id.clone(),
                    Scheme::StandardWebhooks => case
                        .headers
                        .iter()
                        .find(|(key, _)| key == "webhook-id")
                        .map(|(_, value)| value.clone())
                        .unwrap_or_default(),
                    other => panic!("no vectors for {other:?}"),
                };
                if verified.delivery.delivery_id != expected_id
                    || verified.delivery.delivery_id.is_empty()
                {
                    failures.push(format!(
                        "{}: delivery id {:?}",
                        case.name, verified.delivery.delivery_id
                    ));
                }
            }
            (true, Err(error)) => {
                failures.push(format!(
                    "{}: expected valid, got {} ({error})",
                    case.name,
                    error.code()
                ));
            }
            (false, Ok(_)) => {
                failures.push(format!("{}: expected invalid, was accepted", case.name));
            }
            (false, Err(error)) => match expected_code(&case.name) {
                Some(code) if code == error.code() => {
                    if error.status() != 401 {
                        failures.push(format!("{}: status {}", case.name, error.status()));
                    }
                }
                Some(code) => failures.push(format!(
                    "{}: expected {code}, got {} ({error})",
                    case.name,
                    error.code()
                )),
                None => failures.push(format!(
                    "{}: no expected code listed for this invalid case (got {})",
                    case.name,
                    error.code()
                )),
            },
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
}

/// The valid MegaBot cases reproduce with our signer (lowercase hex), so the
/// sender's header values match the guide's.
#[test]
fn megabot_signer_reproduces_the_vectors() {
    for case in cases() {
        if case.scheme != Scheme::MegaBot || !case.valid {
            continue;
        }
        let header = &case
            .headers
            .iter()
            .find(|(key, _)| key == "X-MegaBot-Signature")
            .unwrap_or_else(|| panic!("{}: signature header", case.name))
            .1;
        let secret = Secret::new(case.secret.as_str()).expect("secret");
        let ours = megabot_webhook_verify::sign::megabot_signature(&secret, case.body.as_bytes());
        assert_eq!(ours, ours.to_lowercase(), "{}: lowercase hex", case.name);
        assert!(
            header
                .split_ascii_whitespace()
                .any(|entry| entry.eq_ignore_ascii_case(&ours)),
            "{}: {ours} not in {header:?}",
            case.name
        );
    }
}

/// The valid Standard Webhooks cases reproduce with our signer.
#[test]
fn standard_signer_reproduces_the_vectors() {
    for case in cases() {
        if case.scheme != Scheme::StandardWebhooks || !case.valid {
            continue;
        }
        let header = |name: &str| {
            case.headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| panic!("{}: {name}", case.name))
        };
        let secret = StandardSecret::parse(&case.secret).expect("secret");
        let timestamp: i64 = header("webhook-timestamp").parse().expect("timestamp");
        let ours = megabot_webhook_verify::sign::standard_signature(
            &secret,
            &header("webhook-id"),
            timestamp,
            case.body.as_bytes(),
        );
        assert!(
            header("webhook-signature")
                .split(' ')
                .any(|entry| entry == ours),
            "{}: {ours} not in the header",
            case.name
        );
    }
}
