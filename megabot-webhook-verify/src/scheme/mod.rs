//! The two signature schemes a delivery can carry, each signed and checked in its own
//! module: [`megabot`] (design 4.1) and [`standard`] (design 4.2, `v1` and `v1a`). What both
//! share is here: the tag length, the HMAC's last step and the constant-time matching of
//! candidates against tags. The public paths are [`crate::sign`] and [`crate::signature`].

pub(crate) mod megabot;
pub(crate) mod standard;

use std::fmt;

use hmac::Mac;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::Error;
use crate::secret::HmacSha256;

/// A signature scheme (design 4.1 and 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// The guide's scheme: `X-MegaBot-Signature: sha256=<hex>` over the raw body.
    MegaBot,
    /// Standard Webhooks: `webhook-signature: v1,<base64>` over `{id}.{timestamp}.{body}`.
    StandardWebhooks,
}

impl Scheme {
    /// Both schemes, strongest first.
    pub const ALL: [Scheme; 2] = [Scheme::StandardWebhooks, Scheme::MegaBot];

    /// The scheme's stable name: `"megabot"` or `"standard-webhooks"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::MegaBot => "megabot",
            Scheme::StandardWebhooks => "standard-webhooks",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Length of an HMAC-SHA256 tag in bytes.
pub(crate) const TAG_LEN: usize = 32;

fn finish(mac: HmacSha256) -> [u8; TAG_LEN] {
    mac.finalize().into_bytes().into()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::{
        megabot_signature, megabot_signatures, standard_signature, standard_signatures,
    };
    use crate::{Secret, StandardSecret};

    #[test]
    fn names() {
        assert_eq!(Scheme::MegaBot.as_str(), "megabot");
        assert_eq!(Scheme::StandardWebhooks.to_string(), "standard-webhooks");
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
