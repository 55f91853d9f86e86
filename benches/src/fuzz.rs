//! The checks the fuzz targets in `../fuzz` run, one function per target.
//!
//! Each function takes the fuzzer's raw bytes, drives one input path of the SDK, and
//! panics when a property does not hold (a panic is what the fuzzer reports). The
//! corpus replay tests (`tests/fuzz_corpus.rs`) call the same functions on every file of
//! `fuzz/corpus/<target>/`, so the corpus is checked on stable in CI.
//!
//! | target | function |
//! |---|---|
//! | `megabot_signature_header` | [`megabot_signature_header`] |
//! | `standard_headers` | [`standard_headers`] |
//! | `verify_request` | [`verify_request`] |
//! | `event_parse` | [`event_parse`] |
//! | `guide_json` | [`guide_json`] |
//! | `config_load` | [`config_load`] |
//! | `dead_letter_record` | [`dead_letter_record`] |
//! | `standard_v1a_keys` | [`standard_v1a_keys`] |
//! | `standard_v1a_header` | [`standard_v1a_header`] |

use chrono::{DateTime, Utc};
use megabot_webhook_types::{Event, EventPayload, guide_json as writer};
use megabot_webhook_verify::sign::{megabot_signature, standard_signature, standard_v1a_signature};
use megabot_webhook_verify::signature::{
    has_v1a_entry, verify_megabot_signature, verify_standard_signature,
    verify_standard_v1a_signature,
};
use megabot_webhook_verify::{
    Error, Secret, StandardPublicKey, StandardSecret, StandardSigningKey, Verifier,
};
use serde_json::Value;

/// A fuzz target's check: panics when a property does not hold for the input.
pub type Check = fn(&[u8]);

/// Every fuzz target, by name, with the function it runs.
pub const TARGETS: &[(&str, Check)] = &[
    ("megabot_signature_header", megabot_signature_header),
    ("standard_headers", standard_headers),
    ("verify_request", verify_request),
    ("event_parse", event_parse),
    ("guide_json", guide_json),
    ("config_load", config_load),
    ("dead_letter_record", dead_letter_record),
    ("standard_v1a_keys", standard_v1a_keys),
    ("standard_v1a_header", standard_v1a_header),
];

/// The MegaBot secrets the targets use (two: key rotation).
pub const MEGABOT_SECRETS: [&str; 2] = ["your_webhook_secret", "next_webhook_secret"];

/// The Standard Webhooks secret the targets use (the specification's example).
pub const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The clock of the targets that check freshness (unix seconds).
pub const NOW: i64 = 1_640_995_300;

fn megabot_secrets() -> [Secret; 2] {
    MEGABOT_SECRETS.map(|secret| Secret::new(secret).expect("valid secret"))
}

fn standard_secret() -> StandardSecret {
    StandardSecret::parse(STANDARD_SECRET).expect("valid secret")
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).expect("in range")
}

/// True when `token` is one of `header`'s entries as the verifier splits them.
fn has_entry(header: &str, token: &str) -> bool {
    header.split_ascii_whitespace().any(|entry| entry == token)
}

/// `X-MegaBot-Signature`: the input is the header value, the body is fixed.
///
/// Checks that parsing never panics, that a header holding a correct entry verifies,
/// that a verified header holds a correct entry (either hex case), and that appending
/// a correct entry always verifies.
pub fn megabot_signature_header(data: &[u8]) {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let body = b"{\"event\":\"x\"}";
    let secrets = megabot_secrets();
    let result = verify_megabot_signature(&secrets, header, body);
    let good: Vec<String> = secrets
        .iter()
        .map(|secret| megabot_signature(secret, body))
        .collect();
    let holds_good = header.split_ascii_whitespace().any(|entry| {
        good.iter()
            .any(|g| g.eq_ignore_ascii_case(entry) && entry.starts_with("sha256="))
    });
    match &result {
        Ok(index) => {
            assert!(*index < secrets.len());
            assert!(holds_good, "verified without a correct entry: {header:?}");
        }
        Err(error) => {
            assert!(!holds_good, "refused a correct entry: {header:?}: {error}");
            assert!(matches!(
                error,
                Error::MalformedSignature | Error::SignatureMismatch
            ));
        }
    }
    let rotated = format!("{header} {}", good[0]);
    assert_eq!(
        verify_megabot_signature(&secrets, &rotated, body).ok(),
        Some(0),
        "{rotated:?}"
    );
}

/// Standard Webhooks headers: the input is `webhook-id`, `webhook-timestamp`,
/// `webhook-signature` and a `whsec_` secret on four lines, then the body.
///
/// Checks that header and secret parsing never panic, that a parsed secret survives
/// `to_whsec_string`, that the verifier agrees with the signature-only check, and that
/// appending a correct entry always verifies.
pub fn standard_headers(data: &[u8]) {
    let mut parts = data.splitn(5, |&b| b == b'\n');
    let (Some(id), Some(ts), Some(signature), Some(secret_text)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let body = parts.next().unwrap_or_default();
    let (Ok(id), Ok(ts), Ok(signature), Ok(secret_text)) = (
        std::str::from_utf8(id),
        std::str::from_utf8(ts),
        std::str::from_utf8(signature),
        std::str::from_utf8(secret_text),
    ) else {
        return;
    };
    if let Ok(parsed) = StandardSecret::parse(secret_text) {
        let text = parsed.to_whsec_string();
        let again = StandardSecret::parse(&text).expect("to_whsec_string parses");
        assert_eq!(again.to_whsec_string(), text);
    }
    let secret = standard_secret();
    let verifier = Verifier::builder()
        .standard_secret(secret.clone())
        .build()
        .expect("verifier");
    let headers = [
        ("webhook-id", id),
        ("webhook-timestamp", ts),
        ("webhook-signature", signature),
    ];
    let full = verifier.verify_at(&headers, body, now());
    if let Ok(verified) = &full {
        assert_eq!(verified.delivery.delivery_id, id);
        let age = (NOW - verified.delivery.signed_at.timestamp()).abs();
        assert!(age <= 300, "accepted a timestamp {age} s away");
    }
    // Timestamps are at most 19 plain ASCII digits, optionally surrounded by whitespace.
    let trimmed = ts.trim_matches(|c: char| c.is_ascii_whitespace());
    let seconds =
        (!trimmed.is_empty() && trimmed.len() <= 19 && trimmed.bytes().all(|b| b.is_ascii_digit()))
            .then(|| trimmed.parse::<i64>().ok())
            .flatten();
    let Some(seconds) = seconds else {
        assert!(full.is_err(), "accepted timestamp {ts:?}");
        return;
    };
    let secrets = [secret];
    let only_signature = verify_standard_signature(&secrets, id, seconds, signature, body);
    if !id.is_empty() {
        match (&only_signature, &full) {
            (Err(expected), Err(got)) => assert_eq!(expected.code(), got.code()),
            (Err(expected), Ok(_)) => {
                panic!("verifier accepted what the signature check refused: {expected}")
            }
            (Ok(_), _) => {}
        }
    }
    let good = standard_signature(&secrets[0], id, seconds, body);
    let holds_good = has_entry(signature, &good);
    if holds_good && !id.is_empty() {
        assert!(only_signature.is_ok(), "refused a correct entry");
    }
    let rotated = format!("{signature} {good}");
    let rotated_result = verify_standard_signature(&secrets, id, seconds, &rotated, body);
    if id.is_empty() {
        assert!(matches!(rotated_result, Err(Error::MissingHeader { .. })));
    } else {
        assert_eq!(rotated_result.ok(), Some(0), "{rotated:?}");
    }
}

/// The whole verification path: the input is a flags byte, `Name: value` header lines,
/// an empty line, then the body.
///
/// Flags: bit 0 appends a correct `X-MegaBot-Signature`, bit 1 correct Standard
/// Webhooks headers (timestamp [`NOW`]), bit 2 accepts the MegaBot scheme only, bit 3
/// the Standard Webhooks scheme only. Checks that nothing panics, that errors carry a
/// 4xx status and never a secret, that an accepted delivery is authentic, fresh and
/// parses to the same event as [`Event::from_slice`], and that
/// [`Verifier::authenticate_at`] agrees with [`Verifier::verify_at`] (same id, times and
/// scheme; where they differ, only because `verify_at` parsed what `authenticate_at`
/// does not read).
pub fn verify_request(data: &[u8]) {
    verify_request_accepts(data);
}

/// [`verify_request`], telling whether [`Verifier::verify_at`] accepted the delivery (so
/// that tests can check that the corpus reaches the accepting path).
pub fn verify_request_accepts(data: &[u8]) -> bool {
    let Some((&flags, rest)) = data.split_first() else {
        return false;
    };
    let (head, body) = match find(rest, b"\n\n") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, &[][..]),
    };
    let Ok(head) = std::str::from_utf8(head) else {
        return false;
    };
    let mut headers: Vec<(String, String)> = head
        .split('\n')
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let secrets = megabot_secrets();
    let standard = standard_secret();
    if flags & 1 != 0 {
        headers.push((
            "X-MegaBot-Signature".into(),
            megabot_signature(&secrets[1], body),
        ));
    }
    if flags & 2 != 0 {
        headers.push(("webhook-id".into(), "msg_fuzz".into()));
        headers.push(("webhook-timestamp".into(), NOW.to_string()));
        headers.push((
            "webhook-signature".into(),
            standard_signature(&standard, "msg_fuzz", NOW, body),
        ));
    }
    let mut builder = Verifier::builder()
        .megabot_secret(secrets[0].clone())
        .megabot_secret(secrets[1].clone())
        .standard_secret(standard)
        .max_body_size(4096);
    if flags & 4 != 0 {
        builder = builder.accept(megabot_webhook_verify::Scheme::StandardWebhooks, false);
    }
    if flags & 8 != 0 {
        builder = builder.accept(megabot_webhook_verify::Scheme::MegaBot, false);
    }
    let Ok(verifier) = builder.build() else {
        return false;
    };
    let authenticated = verifier.authenticate_at(&headers, body, now());
    let verified = verifier.verify_at(&headers, body, now());
    match (&authenticated, &verified) {
        (Ok(authenticated), Ok(verified)) => {
            assert_eq!(authenticated.scheme, verified.delivery.scheme);
            assert_eq!(authenticated.secret_index, verified.delivery.secret_index);
            assert_eq!(authenticated.delivery_id, verified.delivery.delivery_id);
            assert_eq!(authenticated.signed_at, verified.delivery.signed_at);
            assert_eq!(authenticated.expires_at, verified.delivery.expires_at);
        }
        (Err(authenticated), Ok(_)) => {
            panic!("verify_at accepted, authenticate_at refused: {authenticated}")
        }
        // verify_at parses the whole body before checking freshness; authenticate_at
        // reads only the envelope head, then checks freshness.
        (Ok(_), Err(error)) => assert_eq!(error.code(), "invalid_envelope", "{error}"),
        (Err(a), Err(v)) => {
            if a.code() != v.code() {
                assert_eq!(v.code(), "invalid_envelope", "{a} / {v}");
                assert!(matches!(a.status(), 400 | 401), "{a}");
            }
        }
    }
    if let (Ok(authenticated), Ok(event)) = (&authenticated, Event::from_slice(body))
        && authenticated.scheme == megabot_webhook_verify::Scheme::MegaBot
    {
        assert_eq!(authenticated.delivery_id, event.id);
        assert_eq!(authenticated.signed_at, event.timestamp);
    }
    match verified {
        Ok(verified) => {
            let age = (NOW - verified.delivery.signed_at.timestamp()).abs();
            assert!(age <= 300, "accepted a timestamp {age} s away");
            let parsed = Event::from_slice(body).expect("an accepted body parses");
            assert_eq!(parsed, verified.event);
            if verified.delivery.scheme == megabot_webhook_verify::Scheme::MegaBot {
                assert_eq!(verified.delivery.delivery_id, verified.event.id);
                assert_eq!(verified.delivery.signed_at, verified.event.timestamp);
            }
            true
        }
        Err(error) => {
            let status = error.status();
            assert!((400..500).contains(&status), "{error}: {status}");
            // Messages may quote the (authenticated) body, never a configured secret
            // that the request itself did not carry.
            let message = error.to_string();
            let request = String::from_utf8_lossy(data);
            for secret in MEGABOT_SECRETS.iter().chain([&&STANDARD_SECRET[6..]]) {
                if !request.contains(secret) {
                    assert!(!message.contains(secret), "{message}");
                }
            }
            false
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Event parsing: the input is a body.
///
/// Checks that parsing never panics and that a parsed event round-trips: its guide
/// JSON is ASCII, parses back to the same event, equals [`Event::to_value`] as a JSON
/// value, and is a fixed point of parse-then-write.
pub fn event_parse(data: &[u8]) {
    let Ok(event) = Event::from_slice(data) else {
        return;
    };
    let written = event.to_guide_json();
    assert!(written.is_ascii());
    let again = Event::from_slice(&written).expect("written events parse");
    match (&event.payload, &again.payload) {
        // Data that did not fit may fit once rewritten (a duplicate key collapsed):
        // the raw data must survive all the same.
        (EventPayload::Malformed { data, .. }, payload) => {
            assert_eq!(&payload.data_value(), data);
            assert_eq!((&again.id, again.timestamp), (&event.id, event.timestamp));
        }
        _ => assert_eq!(again, event),
    }
    let value: Value = serde_json::from_slice(&written).expect("valid JSON");
    assert_eq!(value, event.to_value());
    // From the first rewrite on, parse-then-write changes nothing (the first may
    // reorder data fields into the guide's order, or collapse duplicate keys).
    let rewritten = again.to_guide_json();
    let third = Event::from_slice(&rewritten).expect("rewritten events parse");
    assert_eq!(third, again);
    assert_eq!(third.to_guide_json(), rewritten, "not a fixed point");
}

/// The guide-compatible JSON writer: the input is any JSON document.
///
/// Checks that the writer's output is ASCII, parses back to the same value, and is a
/// fixed point (writing the parsed output again gives the same bytes).
pub fn guide_json(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let written = writer::to_vec(&value).expect("a JSON value always serialises");
    assert!(written.is_ascii());
    let parsed: Value = serde_json::from_slice(&written).unwrap_or_else(|error| {
        panic!(
            "writer output does not parse: {error}: {}",
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(parsed, value, "{}", String::from_utf8_lossy(&written));
    let rewritten = writer::to_vec(&parsed).expect("serialises");
    assert_eq!(rewritten, written, "not a fixed point");
}

/// The variables [`config_load`] expands, with their values.
pub const CONFIG_ENV: [(&str, &str); 6] = [
    ("WEBHOOK_SECRET_KEY", "fuzz-secret-value-1"),
    ("WEBHOOK_OLD_SECRET_KEY", "fuzz-secret-value-0"),
    // A `whsk_` test key (seed 0x5a × 32, as `V1A_SEED`) for `standard_webhooks.signing_key`.
    (
        "WEBHOOK_SIGNING_KEY",
        "whsk_WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=",
    ),
    ("GITHUB_TOKEN", "ghp_fuzz"),
    ("MAX_ATTEMPTS", "3"),
    ("MONITORING_URL", "https://monitoring.example.com/webhook"),
];

/// The sender's config loader (`mega-config.yaml`): the input is the file's text.
///
/// Checks that loading never panics, that it is deterministic, that every error names
/// the file, and that a loaded config's `Debug` never shows a secret that came from
/// the environment.
pub fn config_load(data: &[u8]) {
    use megabot_webhook_sender::ConfigLoader;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loader = ConfigLoader::with_env(|name| {
        CONFIG_ENV
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    });
    let first = loader.load_str(text, "fuzz.yaml");
    let second = loader.load_str(text, "fuzz.yaml");
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            let shown = format!("{:?}", a.config);
            assert_eq!(shown, format!("{:?}", b.config));
            for (_, secret) in &CONFIG_ENV[..3] {
                if !text.contains(secret) {
                    assert!(!shown.contains(secret), "Debug shows a secret: {shown}");
                }
            }
            for warning in &a.warnings {
                assert!(warning.to_string().starts_with("fuzz.yaml"), "{warning}");
            }
        }
        (Err(a), Err(b)) => {
            let message = a.to_string();
            assert_eq!(message, b.to_string());
            assert!(message.contains("fuzz.yaml"), "{message}");
        }
        _ => panic!("loading twice gave different outcomes"),
    }
}

/// The dead-letter keys of [`MEGABOT_SECRETS`].
fn dead_letter_keys() -> [megabot_webhook_sender::DeadLetterKey; 2] {
    MEGABOT_SECRETS.map(megabot_webhook_sender::DeadLetterKey::derive)
}

/// `dead_letter_record`: one JSON Lines dead-letter record (design 9.14).
/// Parsing never panics; a parsed record's MAC verification against
/// [`MEGABOT_SECRETS`] is deterministic and survives re-serialisation,
/// which round-trips to an equal record; sealing a record with a key makes
/// it authentic for that key (unless its body cannot be decoded).
pub fn dead_letter_record(data: &[u8]) {
    use megabot_webhook_sender::{Authenticity, DeadLetter};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(letter) = DeadLetter::from_json_line(text) else {
        return;
    };
    let keys = dead_letter_keys();
    let verdict = letter.authenticity(&keys);
    assert_eq!(verdict, letter.authenticity(&keys), "not deterministic");
    if letter.version < 2 {
        assert_eq!(verdict, Authenticity::Unauthenticated);
    }
    let _ = letter.delivery();
    if let Ok(line) = letter.to_json_line() {
        let again = DeadLetter::from_json_line(&line).expect("a written record parses");
        assert_eq!(again, letter, "re-serialising does not round-trip");
        assert_eq!(again.to_json_line().ok().as_deref(), Some(line.as_str()));
        assert_eq!(again.authenticity(&keys), verdict);
    }
    let mut sealed = letter.clone();
    sealed.seal(&keys[1]);
    let expected = if sealed.mac_input().is_some() {
        Authenticity::Authentic
    } else {
        Authenticity::Tampered
    };
    assert_eq!(sealed.authenticity(&keys[1..]), expected);
    let _ = format!("{letter:?}");
}

/// Whether `data` is a dead-letter record authentic for [`MEGABOT_SECRETS`]
/// (the corpus replay checks the seeds reach that path).
pub fn dead_letter_record_authentic(data: &[u8]) -> bool {
    std::str::from_utf8(data)
        .ok()
        .and_then(|text| megabot_webhook_sender::DeadLetter::from_json_line(text).ok())
        .is_some_and(|letter| {
            letter.authenticity(&dead_letter_keys())
                == megabot_webhook_sender::Authenticity::Authentic
        })
}

/// The Ed25519 seed of the `v1a` targets' signing key (a test key: never use it).
pub const V1A_SEED: [u8; 32] = [0x5a; 32];

/// `whsk_` and `whpk_` key parsing: the input is one line of text, tried as both.
///
/// Checks that parsing never panics; that a parsed secret key's `to_whsk_string`
/// parses back to the same key, and signs what its public key verifies; that a parsed
/// public key's `to_whpk_string` round-trips; that errors are `invalid_secret` /
/// `invalid_public_key` and never repeat the input; and that `Debug` of a secret key
/// never shows it.
pub fn standard_v1a_keys(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match StandardSigningKey::parse(text) {
        Ok(key) => {
            let whsk = key.to_whsk_string();
            let again = StandardSigningKey::parse(&whsk).expect("to_whsk_string parses");
            assert_eq!(again.public_key(), key.public_key());
            assert_eq!(*again.to_whsk_string(), *whsk);
            assert!(!format!("{key:?}").contains(&whsk[5..]));
            let signature = standard_v1a_signature(&key, "msg_fuzz", NOW, data);
            let public = [key.public_key()];
            assert_eq!(
                verify_standard_v1a_signature(&public, "msg_fuzz", NOW, &signature, data).ok(),
                Some(0)
            );
        }
        Err(error) => {
            assert_eq!(error.code(), "invalid_secret", "{error}");
            assert_no_echo(&error, text);
        }
    }
    match StandardPublicKey::parse(text) {
        Ok(key) => {
            let whpk = key.to_whpk_string();
            assert_eq!(StandardPublicKey::parse(&whpk).ok(), Some(key));
        }
        Err(error) => {
            assert_eq!(error.code(), "invalid_public_key", "{error}");
            assert_no_echo(&error, text);
        }
    }
}

/// Error messages are fixed strings: none repeats the input's key text. Only key texts
/// of 16 or more characters without whitespace are checked: no message holds such a run
/// (its longest word is shorter), so a match can only be an echo.
fn assert_no_echo(error: &Error, input: &str) {
    let message = error.to_string();
    let encoded = input.trim();
    let encoded = encoded
        .strip_prefix("whsk_")
        .or_else(|| encoded.strip_prefix("whpk_"))
        .unwrap_or(encoded);
    if encoded.len() >= 16 && !encoded.contains(char::is_whitespace) {
        assert!(!message.contains(encoded), "{message}");
    }
}

/// `v1a` entries of `webhook-signature`: the input is `webhook-id`, `webhook-timestamp`
/// and `webhook-signature` on three lines, then the body.
///
/// Checks that nothing panics; that the signature-only check verifies exactly when the
/// header holds the correct `v1a,` entry (padded or not); that appending a correct entry
/// always verifies (key rotation); and the decision rule: a verifier holding a `whsec_`
/// and a public key decides by `v1a` when the header has a `v1a,` entry (an accepted
/// delivery is then `asymmetric`), by `v1` otherwise.
pub fn standard_v1a_header(data: &[u8]) {
    standard_v1a_header_accepts(data);
}

/// [`standard_v1a_header`], telling whether the verifier accepted the delivery through a
/// `v1a` entry (so that tests can check that the corpus reaches that path).
pub fn standard_v1a_header_accepts(data: &[u8]) -> bool {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let (Some(id), Some(ts), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let body = parts.next().unwrap_or_default();
    let (Ok(id), Ok(ts), Ok(signature)) = (
        std::str::from_utf8(id),
        std::str::from_utf8(ts),
        std::str::from_utf8(signature),
    ) else {
        return false;
    };
    let key = StandardSigningKey::from_seed(&V1A_SEED);
    let public = [key.public_key()];
    let secret = standard_secret();
    let verifier = Verifier::builder()
        .standard_secret(secret.clone())
        .standard_public_key(key.public_key())
        .build()
        .expect("verifier");
    let headers = [
        ("webhook-id", id),
        ("webhook-timestamp", ts),
        ("webhook-signature", signature),
    ];
    let full = verifier.verify_at(&headers, body, now());
    let seconds = ts.trim().parse::<i64>().ok();
    if let Ok(verified) = &full {
        assert_eq!(
            verified.delivery.asymmetric,
            has_v1a_entry(signature),
            "{signature:?}"
        );
        let seconds = seconds.expect("an accepted timestamp parses");
        if verified.delivery.asymmetric {
            assert!(verify_standard_v1a_signature(&public, id, seconds, signature, body).is_ok());
        } else {
            assert!(
                verify_standard_signature(
                    std::slice::from_ref(&secret),
                    id,
                    seconds,
                    signature,
                    body
                )
                .is_ok()
            );
        }
    }
    let accepted_v1a = full
        .as_ref()
        .is_ok_and(|verified| verified.delivery.asymmetric);
    let Some(seconds) = seconds else {
        return accepted_v1a;
    };
    let only = verify_standard_v1a_signature(&public, id, seconds, signature, body);
    if id.is_empty() {
        assert!(matches!(only, Err(Error::MissingHeader { .. })));
        return accepted_v1a;
    }
    let good = standard_v1a_signature(&key, id, seconds, body);
    // The correct entry as written, padded or not, must verify; an entry that verifies
    // must be the correct one up to its padding (the decoder accepts padding loosely,
    // and the signature's bytes are the same).
    let holds_good = signature
        .split_ascii_whitespace()
        .any(|entry| entry == good || entry == good.trim_end_matches('='));
    let holds_good_up_to_padding = signature
        .split_ascii_whitespace()
        .any(|entry| entry.trim_end_matches('=') == good.trim_end_matches('='));
    match &only {
        Ok(index) => {
            assert_eq!(*index, 0);
            assert!(
                holds_good_up_to_padding,
                "verified without the correct entry: {signature:?}"
            );
        }
        Err(error) => {
            assert!(
                !holds_good,
                "refused the correct entry: {signature:?}: {error}"
            );
            assert!(matches!(
                error,
                Error::MalformedSignature | Error::SignatureMismatch
            ));
        }
    }
    // When v1a decides, the verifier's signature outcome is the v1a check's.
    if has_v1a_entry(signature)
        && let (Err(expected), Err(got)) = (&only, &full)
        && got.is_signature_error()
    {
        assert_eq!(expected.code(), got.code(), "{signature:?}");
    }
    if has_v1a_entry(signature) && only.is_err() {
        assert!(
            full.is_err(),
            "accepted a failing v1a header: {signature:?}"
        );
    }
    let rotated = format!("{signature} {good}");
    assert_eq!(
        verify_standard_v1a_signature(&public, id, seconds, &rotated, body).ok(),
        Some(0),
        "{rotated:?}"
    );
    accepted_v1a
}
