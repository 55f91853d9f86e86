//! Producing signature header values for both schemes.
//!
//! These are the values a sender puts in `X-MegaBot-Signature` and
//! `webhook-signature`; the verifier checks them with the same keyed state.

use base64::Engine as _;
use hmac::Mac;

use crate::keys::SIGNATURE_LEN;
use crate::secret::HmacSha256;
use crate::{Secret, StandardSecret, StandardSigningKey};

/// Length of an HMAC-SHA256 tag in bytes.
pub(crate) const TAG_LEN: usize = 32;

/// The prefix of a MegaBot signature entry.
pub(crate) const MEGABOT_PREFIX: &str = "sha256=";

/// The prefix of a Standard Webhooks version 1 signature entry.
pub(crate) const STANDARD_PREFIX: &str = "v1,";

/// The prefix of a Standard Webhooks asymmetric (Ed25519) signature entry.
pub(crate) const STANDARD_V1A_PREFIX: &str = "v1a,";

/// The `X-MegaBot-Signature` value for `body`: `sha256=<64 lowercase hex>`.
///
/// Exactly what the guide's Python `WebhookSigner` produces when `body` holds the
/// bytes it signs.
pub fn megabot_signature(secret: &Secret, body: &[u8]) -> String {
    let mut out = String::with_capacity(MEGABOT_PREFIX.len() + 2 * TAG_LEN);
    push_megabot_entry(&mut out, secret, body);
    out
}

/// The `X-MegaBot-Signature` value during key rotation: one `sha256=` entry per secret,
/// separated by single spaces, in the order given.
pub fn megabot_signatures(secrets: &[Secret], body: &[u8]) -> String {
    let mut out = String::with_capacity(secrets.len() * (MEGABOT_PREFIX.len() + 2 * TAG_LEN + 1));
    for (index, secret) in secrets.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        push_megabot_entry(&mut out, secret, body);
    }
    out
}

/// The `webhook-signature` value for a Standard Webhooks delivery: `v1,<base64>` of
/// HMAC-SHA256 over `{id}.{timestamp}.{body}`.
pub fn standard_signature(
    secret: &StandardSecret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut out = String::with_capacity(STANDARD_PREFIX.len() + 44);
    push_standard_entry(&mut out, secret, id, timestamp, body);
    out
}

/// The `webhook-signature` value during key rotation: one `v1,` entry per secret,
/// separated by single spaces, in the order given.
pub fn standard_signatures(
    secrets: &[StandardSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut out = String::with_capacity(secrets.len() * (STANDARD_PREFIX.len() + 45));
    for (index, secret) in secrets.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        push_standard_entry(&mut out, secret, id, timestamp, body);
    }
    out
}

/// The `webhook-signature` entry for an asymmetric Standard Webhooks delivery:
/// `v1a,<base64>` of the Ed25519 signature over `{id}.{timestamp}.{body}`.
///
/// Join it with a space to [`standard_signature`]'s value to send both schemes.
pub fn standard_v1a_signature(
    key: &StandardSigningKey,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut out = String::with_capacity(STANDARD_V1A_PREFIX.len() + 88);
    push_standard_v1a_entry(&mut out, key, id, timestamp, body);
    out
}

/// The `v1a,` entries of several keys (key rotation on the sender's side), separated by
/// single spaces, in the order given.
pub fn standard_v1a_signatures(
    keys: &[StandardSigningKey],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut out = String::with_capacity(keys.len() * (STANDARD_V1A_PREFIX.len() + 89));
    for (index, key) in keys.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        push_standard_v1a_entry(&mut out, key, id, timestamp, body);
    }
    out
}

fn push_standard_v1a_entry(
    out: &mut String,
    key: &StandardSigningKey,
    id: &str,
    timestamp: i64,
    body: &[u8],
) {
    let signature: [u8; SIGNATURE_LEN] = key.sign(&signed_content(id, timestamp, body));
    out.push_str(STANDARD_V1A_PREFIX);
    base64::engine::general_purpose::STANDARD.encode_string(signature, out);
}

/// The Standard Webhooks signed content `{id}.{timestamp}.{body}` in one buffer (Ed25519
/// needs the whole message).
pub(crate) fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut digits = [0u8; 20];
    let timestamp = format_i64(timestamp, &mut digits);
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp);
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

fn push_megabot_entry(out: &mut String, secret: &Secret, body: &[u8]) {
    let tag = megabot_tag(secret, body);
    let mut hex = [0u8; 2 * TAG_LEN];
    // Cannot fail: the output is exactly twice the input's length.
    if hex::encode_to_slice(tag, &mut hex).is_ok() {
        out.push_str(MEGABOT_PREFIX);
        out.extend(hex.iter().map(|&b| char::from(b)));
    }
}

fn push_standard_entry(
    out: &mut String,
    secret: &StandardSecret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) {
    let tag = standard_tag(secret, id, timestamp, body);
    out.push_str(STANDARD_PREFIX);
    base64::engine::general_purpose::STANDARD.encode_string(tag, out);
}

/// HMAC-SHA256 of the raw body with a MegaBot secret.
pub(crate) fn megabot_tag(secret: &Secret, body: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = secret.mac();
    mac.update(body);
    finish(mac)
}

/// HMAC-SHA256 of `{id}.{timestamp}.{body}` with a Standard Webhooks secret.
pub(crate) fn standard_tag(
    secret: &StandardSecret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> [u8; TAG_LEN] {
    let mut mac = secret.mac();
    let mut digits = [0u8; 20];
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(format_i64(timestamp, &mut digits));
    mac.update(b".");
    mac.update(body);
    finish(mac)
}

fn finish(mac: HmacSha256) -> [u8; TAG_LEN] {
    mac.finalize().into_bytes().into()
}

/// Writes `value` in decimal into `buf` (20 bytes hold any `i64`) without allocating.
fn format_i64(value: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut magnitude = value.unsigned_abs();
    let mut start = buf.len();
    loop {
        start -= 1;
        // `magnitude % 10` is below 10, so the cast cannot truncate.
        buf[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    &buf[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_any_i64() {
        for value in [0, 1, -1, 9, 10, 1_614_265_330, i64::MAX, i64::MIN, -42] {
            let mut buf = [0u8; 20];
            assert_eq!(format_i64(value, &mut buf), value.to_string().as_bytes());
        }
    }

    #[test]
    fn megabot_signature_matches_the_guide_example() {
        let secret = Secret::new("your_webhook_secret").unwrap();
        let body = br#"{"event":"chat_message_received","id":"evt_123456","timestamp":1640995200,"data":{"message_id":"msg_789","platform":"telegram","user_id":"user_123","username":"john_doe","content":"Hello MegaBot!","attachments":[],"metadata":{"chat_id":"chat_456","platform_specific":{"message_thread_id":"thread_789"}}}}"#;
        assert_eq!(
            megabot_signature(&secret, body),
            "sha256=8611d14240261606fe0447f38dbef83e210e479162b7805709c743116be8d9ed"
        );
    }

    #[test]
    fn standard_signature_matches_the_public_vector() {
        let secret = StandardSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            standard_signature(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn rotation_values_hold_one_entry_per_secret() {
        let secrets = [Secret::new("a").unwrap(), Secret::new("b").unwrap()];
        let value = megabot_signatures(&secrets, b"x");
        let entries: Vec<&str> = value.split(' ').collect();
        assert_eq!(
            entries,
            [
                megabot_signature(&secrets[0], b"x"),
                megabot_signature(&secrets[1], b"x")
            ]
        );
        let standard = [
            StandardSecret::from_bytes(b"k1").unwrap(),
            StandardSecret::from_bytes(b"k2").unwrap(),
        ];
        let value = standard_signatures(&standard, "id", 5, b"x");
        assert_eq!(value.split(' ').count(), 2);
        assert!(value.starts_with(&standard_signature(&standard[0], "id", 5, b"x")));
    }
}
