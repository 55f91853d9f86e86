//! The Standard Webhooks scheme (design 4.2): `webhook-signature` entries over
//! `{id}.{timestamp}.{body}` — `v1,` (HMAC-SHA256 with a `whsec_` secret) and, beside it,
//! `v1a,` (Ed25519 with a `whsk_` signing key, checked with `whpk_` public keys); signing
//! and checking.

use base64::Engine as _;
use hmac::Mac;

use super::{TAG_LEN, finish, match_any};
use crate::keys::SIGNATURE_LEN;
use crate::{Error, StandardPublicKey, StandardSecret, StandardSigningKey};

/// The prefix of a Standard Webhooks version 1 signature entry.
pub(crate) const STANDARD_PREFIX: &str = "v1,";

/// The prefix of a Standard Webhooks asymmetric (Ed25519) signature entry.
pub(crate) const STANDARD_V1A_PREFIX: &str = "v1a,";

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

/// Checks a `webhook-signature` value against `{id}.{timestamp}.{body}`.
///
/// The value is trimmed and split on whitespace; each `v1,` entry whose base64
/// (padded or not) decodes to 32 bytes is a candidate, other entries (such as `v1a,`)
/// are skipped. Returns the index in `secrets` of the first secret that produced a
/// matching candidate.
///
/// Errors: [`Error::MissingHeader`] when `id` is empty, [`Error::MalformedSignature`]
/// when no entry is a candidate, [`Error::SignatureMismatch`] when none matches.
pub fn verify_standard_signature(
    secrets: &[StandardSecret],
    id: &str,
    timestamp: i64,
    header: &str,
    body: &[u8],
) -> Result<usize, Error> {
    if id.is_empty() {
        return Err(Error::MissingHeader {
            name: megabot_webhook_types::headers::WEBHOOK_ID,
        });
    }
    let tags = secrets
        .iter()
        .map(|secret| standard_tag(secret, id, timestamp, body));
    match_any(tags, || standard_candidates(header))
}

/// The well-formed `v1,<base64 of 32 bytes>` entries of a Standard Webhooks header, decoded.
fn standard_candidates(header: &str) -> impl Iterator<Item = [u8; TAG_LEN]> + '_ {
    header
        .split_ascii_whitespace()
        .filter_map(|entry| decode_base64_tag(entry.strip_prefix(STANDARD_PREFIX)?.as_bytes()))
}

/// Each byte's value as a standard base64 symbol, `0xff` for anything else (`=` too).
const BASE64_SYMBOLS: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut table = [0xff; 256];
    let mut symbol = 0;
    while symbol < 64 {
        table[alphabet[symbol] as usize] = symbol as u8;
        symbol += 1;
    }
    table
};

/// Decodes a tag's standard base64, padded (`44` characters ending in one `=`) or not
/// (`43`), as the lenient engine the secrets use does: `None` for anything else, a
/// symbol outside the alphabet, or set trailing bits.
///
/// Table lookups without a branch per symbol, like the MegaBot scheme's hex digits: the
/// general decoder was about a tenth of a 256-byte check's time.
fn decode_base64_tag(encoded: &[u8]) -> Option<[u8; TAG_LEN]> {
    const SYMBOLS: usize = 43;
    let symbols: &[u8; SYMBOLS] = match encoded {
        [symbols @ .., b'='] => symbols.try_into().ok()?,
        symbols => symbols.try_into().ok()?,
    };
    let mut tag = [0u8; TAG_LEN];
    let mut invalid = 0u8;
    let mut value = |at: usize| {
        let symbol = BASE64_SYMBOLS[usize::from(symbols[at])];
        invalid |= symbol;
        u32::from(symbol & 0x3f)
    };
    for group in 0..10 {
        let at = group * 4;
        let bits = (value(at) << 18) | (value(at + 1) << 12) | (value(at + 2) << 6) | value(at + 3);
        tag[group * 3..group * 3 + 3].copy_from_slice(&bits.to_be_bytes()[1..]);
    }
    // 3 symbols, 18 bits: 2 bytes and 2 trailing bits that must be zero.
    let bits = (value(40) << 12) | (value(41) << 6) | value(42);
    tag[30..].copy_from_slice(&(bits >> 2).to_be_bytes()[2..]);
    // Symbols are below 64; `0xff` sets the high bits.
    (invalid & 0xc0 == 0 && bits & 0b11 == 0).then_some(tag)
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

/// Checks the `v1a,` (Ed25519) entries of a `webhook-signature` value against
/// `{id}.{timestamp}.{body}`, with strict verification.
///
/// The value is trimmed and split on whitespace; each `v1a,` entry whose base64 (padded
/// or not) decodes to 64 bytes is a candidate, other entries (such as `v1,`) are
/// skipped. Every candidate is checked against every key. Returns the index in
/// `public_keys` of the first key that verified a candidate.
///
/// Errors: [`Error::MissingHeader`] when `id` is empty, [`Error::MalformedSignature`]
/// when no entry is a candidate, [`Error::SignatureMismatch`] when none verifies (also
/// when `public_keys` is empty).
pub fn verify_standard_v1a_signature(
    public_keys: &[StandardPublicKey],
    id: &str,
    timestamp: i64,
    header: &str,
    body: &[u8],
) -> Result<usize, Error> {
    if id.is_empty() {
        return Err(Error::MissingHeader {
            name: megabot_webhook_types::headers::WEBHOOK_ID,
        });
    }
    if v1a_candidates(header).next().is_none() {
        return Err(Error::MalformedSignature);
    }
    if public_keys.is_empty() {
        return Err(Error::SignatureMismatch);
    }
    let content = signed_content(id, timestamp, body);
    let mut found = None;
    // Every entry against every key; the signatures and keys are public, so an early
    // exit would leak nothing, but checking all keeps the work independent of the match.
    for (index, key) in public_keys.iter().enumerate() {
        let mut matched = false;
        for candidate in v1a_candidates(header) {
            matched |= key.verify(&content, &candidate);
        }
        if matched && found.is_none() {
            found = Some(index);
        }
    }
    found.ok_or(Error::SignatureMismatch)
}

/// True when the header holds at least one entry that starts with `v1a,` (well-formed
/// or not): with public keys configured, such a header is decided by `v1a` alone.
pub fn has_v1a_entry(header: &str) -> bool {
    header
        .split_ascii_whitespace()
        .any(|entry| entry.starts_with(STANDARD_V1A_PREFIX))
}

/// The well-formed `v1a,<base64 of 64 bytes>` entries of a Standard Webhooks header,
/// decoded.
fn v1a_candidates(header: &str) -> impl Iterator<Item = [u8; SIGNATURE_LEN]> + '_ {
    use base64::Engine as _;
    header.split_ascii_whitespace().filter_map(|entry| {
        let encoded = entry.strip_prefix(STANDARD_V1A_PREFIX)?;
        // 64 bytes are 86 or 88 characters; reject anything longer before decoding.
        if encoded.len() > 88 {
            return None;
        }
        let mut buf = [0u8; 66];
        let len = crate::secret::BASE64_LENIENT
            .decode_slice(encoded, &mut buf)
            .ok()?;
        if len != SIGNATURE_LEN {
            return None;
        }
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(&buf[..SIGNATURE_LEN]);
        Some(signature)
    })
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
    fn base64_tags_decode_as_the_lenient_engine_does() {
        use base64::Engine as _;
        let lenient = |encoded: &[u8]| {
            let mut buf = [0u8; 48];
            if encoded.len() > 44 {
                return None;
            }
            let len = crate::secret::BASE64_LENIENT
                .decode_slice(encoded, &mut buf)
                .ok()?;
            (len == TAG_LEN).then(|| buf[..TAG_LEN].try_into().unwrap())
        };
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for seed in 0..64u8 {
            let tag: Vec<u8> = (0..32u8)
                .map(|i| i.wrapping_mul(37).wrapping_add(seed))
                .collect();
            let padded = base64::engine::general_purpose::STANDARD.encode(&tag);
            cases.push(padded.clone().into_bytes());
            cases.push(padded.trim_end_matches('=').as_bytes().to_vec());
            // Every symbol position changed to every interesting byte.
            for position in [0, 1, 20, 39, 40, 41, 42, 43] {
                for byte in [
                    b'A', b'/', b'+', b'=', b'-', b'_', b' ', 0, 0x80, 0xff, b'B', b'C', b'D',
                ] {
                    let mut changed = padded.clone().into_bytes();
                    if position < changed.len() {
                        changed[position] = byte;
                        cases.push(changed);
                    }
                }
            }
        }
        for length in [0, 1, 42, 44, 45, 46] {
            cases.push(vec![b'A'; length]);
        }
        cases.push(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==".to_vec());
        for case in &cases {
            assert_eq!(
                decode_base64_tag(case),
                lenient(case),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
        // Both outcomes were exercised.
        assert!(cases.iter().any(|case| decode_base64_tag(case).is_some()));
        assert!(cases.iter().any(|case| decode_base64_tag(case).is_none()));
    }

    #[test]
    fn standard_entries() {
        let secret = StandardSecret::from_bytes(&[1; 32]).unwrap();
        let good = standard_signature(&secret, "msg", 10, b"body");
        let unpadded = good.trim_end_matches('=');
        let secrets = [secret];
        assert_eq!(
            verify_standard_signature(&secrets, "msg", 10, &good, b"body").unwrap(),
            0
        );
        assert_eq!(
            verify_standard_signature(&secrets, "msg", 10, unpadded, b"body").unwrap(),
            0
        );
        let v1a = format!("v1a,{}", &good[3..]);
        assert!(matches!(
            verify_standard_signature(&secrets, "msg", 10, &v1a, b"body"),
            Err(Error::MalformedSignature)
        ));
        assert!(matches!(
            verify_standard_signature(&secrets, "", 10, &good, b"body"),
            Err(Error::MissingHeader { .. })
        ));
        assert!(matches!(
            verify_standard_signature(&secrets, "msg", 11, &good, b"body"),
            Err(Error::SignatureMismatch)
        ));
    }
}
