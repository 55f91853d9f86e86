//! The MegaBot scheme (design 4.1): `X-MegaBot-Signature: sha256=<64 hex>`, HMAC-SHA256
//! of the raw body with the shared secret; signing and checking.

use hmac::Mac;

use super::{TAG_LEN, finish, match_any};
use crate::{Error, Secret};

/// The prefix of a MegaBot signature entry.
pub(crate) const MEGABOT_PREFIX: &str = "sha256=";

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

fn push_megabot_entry(out: &mut String, secret: &Secret, body: &[u8]) {
    let tag = megabot_tag(secret, body);
    let mut hex = [0u8; 2 * TAG_LEN];
    // Cannot fail: the output is exactly twice the input's length.
    if hex::encode_to_slice(tag, &mut hex).is_ok() {
        out.push_str(MEGABOT_PREFIX);
        out.extend(hex.iter().map(|&b| char::from(b)));
    }
}

/// HMAC-SHA256 of the raw body with a MegaBot secret.
pub(crate) fn megabot_tag(secret: &Secret, body: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = secret.mac();
    mac.update(body);
    finish(mac)
}

/// Checks an `X-MegaBot-Signature` value against the raw body.
///
/// The value is trimmed and split on whitespace; each `sha256=` entry with exactly
/// 64 hex digits (either case) is a candidate, other entries are skipped. Returns the
/// index in `secrets` of the first secret that produced a matching candidate.
///
/// Errors: [`Error::MalformedSignature`] when no entry is a candidate,
/// [`Error::SignatureMismatch`] when no candidate matches (also when `secrets` is empty).
pub fn verify_megabot_signature(
    secrets: &[Secret],
    header: &str,
    body: &[u8],
) -> Result<usize, Error> {
    let tags = secrets.iter().map(|secret| megabot_tag(secret, body));
    match_any(tags, || megabot_candidates(header))
}

/// The well-formed `sha256=<64 hex>` entries of a MegaBot header, decoded.
fn megabot_candidates(header: &str) -> impl Iterator<Item = [u8; TAG_LEN]> + '_ {
    // What MegaBot sends outside key rotation, `sha256=<64 hex>` alone, decoded without
    // splitting: whitespace is not a hex digit, so a decoded tag is the one entry.
    let single = header
        .strip_prefix(MEGABOT_PREFIX)
        .and_then(|digits| decode_hex_tag(digits.as_bytes().try_into().ok()?));
    let entries = match single {
        Some(_) => "",
        None => header,
    };
    single
        .into_iter()
        .chain(entries.split_ascii_whitespace().filter_map(|entry| {
            let digits = entry.strip_prefix(MEGABOT_PREFIX)?;
            decode_hex_tag(digits.as_bytes().try_into().ok()?)
        }))
}

/// Each byte's value as a hex digit (either case), `0xff` for anything else.
const HEX_DIGITS: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut digit = 0;
    while digit < 16 {
        table[b"0123456789abcdef"[digit] as usize] = digit as u8;
        table[b"0123456789ABCDEF"[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};

/// Decodes 64 hex digits (either case) into a tag, `None` when any is not a digit.
///
/// Table lookups without a branch per digit: the signature's digits are random, and a
/// decoder that branches on "digit or letter" mispredicts about every other one (it was
/// a fifth of a 256-byte check's time).
fn decode_hex_tag(digits: &[u8; 2 * TAG_LEN]) -> Option<[u8; TAG_LEN]> {
    let mut tag = [0u8; TAG_LEN];
    let mut invalid = 0u8;
    for (byte, pair) in tag.iter_mut().zip(digits.chunks_exact(2)) {
        let high = HEX_DIGITS[usize::from(pair[0])];
        let low = HEX_DIGITS[usize::from(pair[1])];
        invalid |= high | low;
        *byte = (high << 4) | (low & 0x0f);
    }
    // Digits are below 16; `0xff` sets the high bits.
    (invalid & 0xf0 == 0).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn hex_tags_decode_as_the_hex_crate_does() {
        let mut digits = [b'0'; 64];
        for (index, byte) in digits.iter_mut().enumerate() {
            *byte = b"0123456789abcdefABCDEF"[(index * 7) % 22];
        }
        let mut expected = [0u8; TAG_LEN];
        hex::decode_to_slice(digits, &mut expected).unwrap();
        assert_eq!(decode_hex_tag(&digits), Some(expected));
        // Any one byte that is not a hex digit, anywhere, refuses the whole tag.
        for position in [0, 1, 31, 62, 63] {
            for bad in [b'g', b'G', b' ', b'/', b':', b'@', b'`', 0, 0x80, 0xff] {
                let mut broken = digits;
                broken[position] = bad;
                assert_eq!(decode_hex_tag(&broken), None, "{position} {bad}");
                assert!(hex::decode_to_slice(broken, &mut [0u8; TAG_LEN]).is_err());
            }
        }
    }

    fn secrets() -> Vec<Secret> {
        vec![Secret::new("old").unwrap(), Secret::new("new").unwrap()]
    }

    #[test]
    fn reports_which_secret_matched() {
        let secrets = secrets();
        let body = b"hello";
        let by_new = megabot_signature(&secrets[1], body);
        assert_eq!(
            verify_megabot_signature(&secrets, &by_new, body).unwrap(),
            1
        );
        let both = format!("{} {}", megabot_signature(&secrets[0], body), by_new);
        assert_eq!(verify_megabot_signature(&secrets, &both, body).unwrap(), 0);
    }

    #[test]
    fn malformed_versus_mismatch() {
        let secrets = secrets();
        assert!(matches!(
            verify_megabot_signature(&secrets, "", b"x"),
            Err(Error::MalformedSignature)
        ));
        assert!(matches!(
            verify_megabot_signature(&secrets, "sha1=abc md5=def", b"x"),
            Err(Error::MalformedSignature)
        ));
        let zeros = format!("sha256={}", "0".repeat(64));
        assert!(matches!(
            verify_megabot_signature(&secrets, &zeros, b"x"),
            Err(Error::SignatureMismatch)
        ));
        assert!(matches!(
            verify_megabot_signature(&[], &zeros, b"x"),
            Err(Error::SignatureMismatch)
        ));
    }

    #[test]
    fn non_ascii_and_odd_entries_are_skipped() {
        let secrets = secrets();
        let good = megabot_signature(&secrets[0], b"x");
        // 64 bytes but not 64 hex digits: skipped without panicking.
        let header = format!("sha256=é{} \t{good}\n", "0".repeat(62));
        assert_eq!(
            verify_megabot_signature(&secrets, &header, b"x").unwrap(),
            0
        );
        // Only ASCII whitespace separates entries.
        let header = format!("{good}\u{a0}");
        assert!(matches!(
            verify_megabot_signature(&secrets, &header, b"x"),
            Err(Error::MalformedSignature)
        ));
    }
}
