//! Signature-only checks: parse a signature header and compare, in constant time,
//! every well-formed entry against every configured secret.
//!
//! [`Verifier`](crate::Verifier) uses these and then parses the body and checks
//! freshness; call them directly to check a signature over content that is not an
//! event envelope (test vectors, the CLI).

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::keys::SIGNATURE_LEN;
use crate::sign::{
    MEGABOT_PREFIX, STANDARD_PREFIX, STANDARD_V1A_PREFIX, TAG_LEN, megabot_tag, signed_content,
    standard_tag,
};
use crate::{Error, Secret, StandardPublicKey, StandardSecret};

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

/// Compares every candidate with every tag without data-dependent branches and
/// returns the index of the first tag that matched any candidate.
///
/// [`Error::MalformedSignature`] when there is no candidate at all (this depends on
/// the header only, never on a secret).
fn match_any<T, C, I>(tags: T, candidates: C) -> Result<usize, Error>
where
    T: Iterator<Item = [u8; TAG_LEN]>,
    C: Fn() -> I,
    I: Iterator<Item = [u8; TAG_LEN]>,
{
    let mut any_candidate = false;
    let mut any_tag = false;
    let mut found = Choice::from(0);
    let mut index = 0u64;
    for (position, tag) in tags.enumerate() {
        any_tag = true;
        let mut matched = Choice::from(0);
        for candidate in candidates() {
            any_candidate = true;
            matched |= tags_equal(&tag, &candidate);
        }
        let position = u64::try_from(position).unwrap_or(u64::MAX);
        index.conditional_assign(&position, matched & !found);
        found |= matched;
    }
    if !any_tag {
        any_candidate = candidates().next().is_some();
    }
    if !any_candidate {
        return Err(Error::MalformedSignature);
    }
    if bool::from(found) {
        usize::try_from(index).map_err(|_| Error::SignatureMismatch)
    } else {
        Err(Error::SignatureMismatch)
    }
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

/// Compares two tags in constant time: the bytes are folded into one difference word,
/// and only that word goes through [`ConstantTimeEq`] (comparing byte by byte puts each
/// byte through an optimisation barrier of its own).
fn tags_equal(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> Choice {
    let mut difference = 0u64;
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let word = |bytes: &[u8]| {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            u64::from_ne_bytes(word)
        };
        difference |= word(a) ^ word(b);
    }
    difference.ct_eq(&0)
}

/// The well-formed `v1,<base64 of 32 bytes>` entries of a Standard Webhooks header, decoded.
fn standard_candidates(header: &str) -> impl Iterator<Item = [u8; TAG_LEN]> + '_ {
    use base64::Engine as _;
    header.split_ascii_whitespace().filter_map(|entry| {
        let encoded = entry.strip_prefix(STANDARD_PREFIX)?;
        // 32 bytes are 43 or 44 characters; reject anything longer before decoding.
        if encoded.len() > 44 {
            return None;
        }
        let mut buf = [0u8; 48];
        let len = crate::secret::BASE64_LENIENT
            .decode_slice(encoded, &mut buf)
            .ok()?;
        if len != TAG_LEN {
            return None;
        }
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&buf[..TAG_LEN]);
        Some(tag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::{megabot_signature, standard_signature};

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

    #[test]
    fn tags_equal_sees_every_bit() {
        let tag = [0x5au8; TAG_LEN];
        assert!(bool::from(tags_equal(&tag, &tag)));
        for byte in 0..TAG_LEN {
            for bit in 0..8 {
                let mut other = tag;
                other[byte] ^= 1 << bit;
                assert!(!bool::from(tags_equal(&tag, &other)), "{byte} {bit}");
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
