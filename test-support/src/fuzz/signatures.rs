//! The signature and key targets: `X-MegaBot-Signature`, the Standard Webhooks headers,
//! whole requests through the verifier, and `v1a` keys and headers.

use super::{
    MEGABOT_SECRETS, NOW, STANDARD_SECRET, has_entry, megabot_secrets, now, standard_secret,
};
use megabot_webhook_types::Event;
use megabot_webhook_verify::sign::{megabot_signature, standard_signature, standard_v1a_signature};
use megabot_webhook_verify::signature::{
    has_v1a_entry, verify_megabot_signature, verify_standard_signature,
    verify_standard_v1a_signature,
};
use megabot_webhook_verify::{
    Error, StandardPublicKey, StandardSecret, StandardSigningKey, Verifier,
};

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
