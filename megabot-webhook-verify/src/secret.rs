//! Signing secrets for both schemes, with their keyed HMAC state computed once.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use hmac::Hmac;
use hmac::digest::KeyInit;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// HMAC-SHA256, the MAC of both schemes.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The prefix of Standard Webhooks secrets.
const WHSEC_PREFIX: &str = "whsec_";

/// Base64 with the standard alphabet that accepts input with or without padding.
pub(crate) const BASE64_LENIENT: base64::engine::GeneralPurpose =
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );

/// An HMAC-SHA256 state after key setup, zeroized when dropped (the `zeroize`
/// features of `hmac` and `sha2` clear the keyed inner and outer states).
#[derive(Clone)]
struct KeyedMac(HmacSha256);

impl KeyedMac {
    fn new(key: &[u8]) -> Result<Self, Error> {
        <HmacSha256 as KeyInit>::new_from_slice(key)
            .map(KeyedMac)
            .map_err(|_| Error::InvalidSecret {
                reason: "key length not accepted by hmac",
            })
    }
}

/// A MegaBot-scheme secret: the HMAC key is the string's UTF-8 bytes
/// (the guide's `secret_key.encode()`).
///
/// `Debug` never shows the secret; the keyed HMAC state is computed once by
/// [`Secret::new`] and cleared on drop.
#[derive(Clone)]
pub struct Secret {
    mac: KeyedMac,
}

impl Secret {
    /// Makes a secret from its configured string. An empty string is refused.
    ///
    /// The given string is zeroized once the key is set up.
    pub fn new(secret: impl Into<String>) -> Result<Secret, Error> {
        let mut secret: String = secret.into();
        let result = if secret.is_empty() {
            Err(Error::InvalidSecret {
                reason: "secret is empty",
            })
        } else {
            KeyedMac::new(secret.as_bytes()).map(|mac| Secret { mac })
        };
        secret.zeroize();
        result
    }

    /// A fresh HMAC state keyed with this secret.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.0.clone()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl FromStr for Secret {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Secret::new(s)
    }
}

/// A Standard Webhooks secret: `whsec_` followed by the base64 of the key bytes.
///
/// `Debug` never shows the secret; the key bytes are zeroized on drop and the keyed
/// HMAC state is computed once.
#[derive(Clone)]
pub struct StandardSecret {
    key: Zeroizing<Vec<u8>>,
    mac: KeyedMac,
}

impl StandardSecret {
    /// Parses `whsec_<base64>` (standard alphabet, with or without padding).
    ///
    /// As the reference libraries do, the `whsec_` prefix may be left out; surrounding
    /// whitespace is ignored. An empty key or invalid base64 is refused, and the error
    /// never repeats the input.
    pub fn parse(secret: &str) -> Result<StandardSecret, Error> {
        let secret = secret.trim();
        let encoded = secret.strip_prefix(WHSEC_PREFIX).unwrap_or(secret);
        let key = BASE64_LENIENT
            .decode(encoded)
            .map(Zeroizing::new)
            .map_err(|_| Error::InvalidSecret {
                reason: "standard webhooks secret is not valid base64",
            })?;
        StandardSecret::from_key(key)
    }

    /// Makes a secret from raw key bytes (for instance freshly generated random bytes).
    /// An empty key is refused.
    pub fn from_bytes(key: &[u8]) -> Result<StandardSecret, Error> {
        StandardSecret::from_key(Zeroizing::new(key.to_vec()))
    }

    fn from_key(key: Zeroizing<Vec<u8>>) -> Result<StandardSecret, Error> {
        if key.is_empty() {
            return Err(Error::InvalidSecret {
                reason: "secret is empty",
            });
        }
        let mac = KeyedMac::new(&key)?;
        Ok(StandardSecret { key, mac })
    }

    /// The secret in its `whsec_<base64>` form (padded), to hand to a sender.
    ///
    /// The returned string holds the secret: do not log it.
    pub fn to_whsec_string(&self) -> String {
        let mut out = String::with_capacity(WHSEC_PREFIX.len() + self.key.len().div_ceil(3) * 4);
        out.push_str(WHSEC_PREFIX);
        base64::engine::general_purpose::STANDARD.encode_string(self.key.as_slice(), &mut out);
        out
    }

    /// A fresh HMAC state keyed with this secret.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.0.clone()
    }
}

impl fmt::Debug for StandardSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StandardSecret([redacted])")
    }
}

impl FromStr for StandardSecret {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StandardSecret::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    /// Checks that the precomputed state equals a fresh keyed MAC.
    fn same_tag(mut precomputed: HmacSha256, key: &[u8], data: &[u8]) -> bool {
        let mut fresh = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap();
        fresh.update(data);
        precomputed.update(data);
        precomputed.finalize().into_bytes() == fresh.finalize().into_bytes()
    }

    #[test]
    fn empty_secrets_are_refused() {
        assert!(matches!(Secret::new(""), Err(Error::InvalidSecret { .. })));
        assert!(StandardSecret::parse("whsec_").is_err());
        assert!(StandardSecret::from_bytes(&[]).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::new("hunter2-very-secret").unwrap();
        let standard = StandardSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let text = format!("{secret:?} {standard:?} {secret:#?}");
        assert!(!text.contains("hunter2"));
        assert!(!text.contains("MfKQ9r8"));
        assert!(text.contains("redacted"));
    }

    #[test]
    fn precomputed_state_matches_fresh_hmac() {
        let secret = Secret::new("your_webhook_secret").unwrap();
        assert!(same_tag(secret.mac(), b"your_webhook_secret", b"body"));
        let standard = StandardSecret::from_bytes(&[7; 100]).unwrap();
        assert!(same_tag(standard.mac(), &[7; 100], b"body"));
    }

    #[test]
    fn whsec_with_and_without_padding() {
        let padded =
            StandardSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let unpadded =
            StandardSecret::parse("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
        let expected: Vec<u8> = (0u8..32).collect();
        assert_eq!(padded.key.as_slice(), expected.as_slice());
        assert_eq!(unpadded.key.as_slice(), expected.as_slice());
        assert_eq!(
            padded.to_whsec_string(),
            "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        );
        let round = StandardSecret::parse(&padded.to_whsec_string()).unwrap();
        assert_eq!(round.key.as_slice(), expected.as_slice());
    }

    #[test]
    fn invalid_base64_is_refused_without_echoing_it() {
        let error = StandardSecret::parse("whsec_not*base64!").unwrap_err();
        assert_eq!(error.code(), "invalid_secret");
        assert!(!error.to_string().contains("not*base64"));
    }
}
