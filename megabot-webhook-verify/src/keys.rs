//! Ed25519 keys of the Standard Webhooks asymmetric scheme (`v1a`, design 9.11).
//!
//! A sender signs with a [`StandardSigningKey`] (`whsk_...`); a receiver holds only
//! [`StandardPublicKey`]s (`whpk_...`), which have no way to sign.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use ed25519_dalek::{SECRET_KEY_LENGTH, Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::Error;
use crate::secret::BASE64_LENIENT;

/// The prefix of Standard Webhooks Ed25519 secret keys.
pub(crate) const WHSK_PREFIX: &str = "whsk_";

/// The prefix of Standard Webhooks Ed25519 public keys.
pub(crate) const WHPK_PREFIX: &str = "whpk_";

/// Length of an Ed25519 signature in bytes.
pub(crate) const SIGNATURE_LEN: usize = 64;

/// Length of an Ed25519 public key in bytes.
const PUBLIC_KEY_LEN: usize = 32;

/// Length of a `whsk_` key as Svix writes it: the seed, then the public key.
const KEYPAIR_LEN: usize = SECRET_KEY_LENGTH + PUBLIC_KEY_LEN;

/// A Standard Webhooks Ed25519 secret key (`whsk_<base64>`): signs `v1a` entries.
///
/// `Debug` never shows the key; the key material is zeroized on drop.
#[derive(Clone)]
pub struct StandardSigningKey {
    key: SigningKey,
}

impl StandardSigningKey {
    /// Parses `whsk_<base64>` (standard alphabet, with or without padding) of either
    /// 64 bytes (the Ed25519 seed then its public key, as Svix writes it) or a 32-byte
    /// seed alone.
    ///
    /// Surrounding whitespace is ignored; the prefix is required. A 64-byte key whose
    /// public half does not belong to its seed is refused. Errors never repeat the input.
    pub fn parse(key: &str) -> Result<StandardSigningKey, Error> {
        let encoded = key
            .trim()
            .strip_prefix(WHSK_PREFIX)
            .ok_or(Error::InvalidSecret {
                reason: "standard webhooks signing key must start with whsk_",
            })?;
        // 64 bytes are at most 88 characters; refuse longer input before decoding.
        if encoded.len() > 88 {
            return Err(Error::InvalidSecret {
                reason: "standard webhooks signing key must hold 32 or 64 bytes",
            });
        }
        let mut buf = Zeroizing::new([0u8; 66]);
        let len = BASE64_LENIENT
            .decode_slice(encoded, buf.as_mut_slice())
            .map_err(|_| Error::InvalidSecret {
                reason: "standard webhooks signing key is not valid base64",
            })?;
        match len {
            SECRET_KEY_LENGTH => {
                let mut seed = Zeroizing::new([0u8; SECRET_KEY_LENGTH]);
                seed.copy_from_slice(&buf[..SECRET_KEY_LENGTH]);
                Ok(StandardSigningKey::from_seed(&seed))
            }
            KEYPAIR_LEN => {
                let mut pair = Zeroizing::new([0u8; KEYPAIR_LEN]);
                pair.copy_from_slice(&buf[..KEYPAIR_LEN]);
                SigningKey::from_keypair_bytes(&pair)
                    .map(|key| StandardSigningKey { key })
                    .map_err(|_| Error::InvalidSecret {
                        reason: "standard webhooks signing key: public half does not match the seed",
                    })
            }
            _ => Err(Error::InvalidSecret {
                reason: "standard webhooks signing key must hold 32 or 64 bytes",
            }),
        }
    }

    /// Makes a key from a 32-byte Ed25519 seed (for instance 32 fresh random bytes).
    pub fn from_seed(seed: &[u8; SECRET_KEY_LENGTH]) -> StandardSigningKey {
        StandardSigningKey {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The matching public key, to hand to receivers.
    pub fn public_key(&self) -> StandardPublicKey {
        StandardPublicKey {
            key: self.key.verifying_key(),
        }
    }

    /// The key in its `whsk_<base64>` form (64 bytes, seed then public key, padded),
    /// as Svix writes it.
    ///
    /// The returned string holds the secret key (zeroized on drop): do not log it.
    pub fn to_whsk_string(&self) -> Zeroizing<String> {
        let pair = Zeroizing::new(self.key.to_keypair_bytes());
        let mut out = Zeroizing::new(String::with_capacity(WHSK_PREFIX.len() + 88));
        out.push_str(WHSK_PREFIX);
        base64::engine::general_purpose::STANDARD.encode_string(pair.as_slice(), &mut out);
        out
    }

    /// The Ed25519 signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        use ed25519_dalek::Signer as _;
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for StandardSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StandardSigningKey([redacted])")
    }
}

impl FromStr for StandardSigningKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StandardSigningKey::parse(s)
    }
}

/// A Standard Webhooks Ed25519 public key (`whpk_<base64 of 32 bytes>`): checks `v1a`
/// entries and cannot sign.
///
/// Public keys are not secret: `Debug` and `Display` show the `whpk_` form.
#[derive(Clone, PartialEq, Eq)]
pub struct StandardPublicKey {
    key: VerifyingKey,
}

impl StandardPublicKey {
    /// Parses `whpk_<base64>` (standard alphabet, with or without padding) of 32 bytes.
    ///
    /// Surrounding whitespace is ignored; the prefix is required. Bytes that are not a
    /// valid curve point, or a point of small order (a weak key), are refused.
    pub fn parse(key: &str) -> Result<StandardPublicKey, Error> {
        let encoded = key
            .trim()
            .strip_prefix(WHPK_PREFIX)
            .ok_or(Error::InvalidPublicKey {
                reason: "standard webhooks public key must start with whpk_",
            })?;
        // 32 bytes are at most 44 characters; refuse longer input before decoding.
        if encoded.len() > 44 {
            return Err(Error::InvalidPublicKey {
                reason: "standard webhooks public key must hold 32 bytes",
            });
        }
        let mut buf = [0u8; 34];
        let len = BASE64_LENIENT
            .decode_slice(encoded, &mut buf)
            .map_err(|_| Error::InvalidPublicKey {
                reason: "standard webhooks public key is not valid base64",
            })?;
        let bytes: [u8; PUBLIC_KEY_LEN] =
            buf[..len].try_into().map_err(|_| Error::InvalidPublicKey {
                reason: "standard webhooks public key must hold 32 bytes",
            })?;
        StandardPublicKey::from_bytes(&bytes)
    }

    /// Makes a key from its 32 bytes. Bytes that are not a valid curve point, or a point
    /// of small order, are refused.
    pub fn from_bytes(bytes: &[u8; PUBLIC_KEY_LEN]) -> Result<StandardPublicKey, Error> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::InvalidPublicKey {
            reason: "standard webhooks public key is not a valid ed25519 point",
        })?;
        if key.is_weak() {
            return Err(Error::InvalidPublicKey {
                reason: "standard webhooks public key is a weak (small order) point",
            });
        }
        Ok(StandardPublicKey { key })
    }

    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        self.key.as_bytes()
    }

    /// The key in its `whpk_<base64>` form (padded).
    pub fn to_whpk_string(&self) -> String {
        let mut out = String::with_capacity(WHPK_PREFIX.len() + 44);
        out.push_str(WHPK_PREFIX);
        base64::engine::general_purpose::STANDARD.encode_string(self.key.as_bytes(), &mut out);
        out
    }

    /// Strict Ed25519 verification (`verify_strict`: no small-order `R`, canonical `S`).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        let signature = Signature::from_bytes(signature);
        self.key.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Debug for StandardPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StandardPublicKey({})", self.to_whpk_string())
    }
}

impl fmt::Display for StandardPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_whpk_string())
    }
}

impl FromStr for StandardPublicKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StandardPublicKey::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> [u8; 32] {
        core::array::from_fn(|i| u8::try_from(i).unwrap_or(0))
    }

    #[test]
    fn whsk_round_trip_and_seed_only() {
        let key = StandardSigningKey::from_seed(&seed());
        let text = key.to_whsk_string();
        assert!(text.starts_with("whsk_"));
        let again = StandardSigningKey::parse(&text).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        // Padding optional.
        let unpadded = text.trim_end_matches('=');
        assert_ne!(unpadded.len(), text.len());
        assert_eq!(
            StandardSigningKey::parse(unpadded).unwrap().public_key(),
            key.public_key()
        );
        // A 32-byte seed alone.
        let mut seed_only = String::from("whsk_");
        base64::engine::general_purpose::STANDARD.encode_string(seed(), &mut seed_only);
        assert_eq!(
            StandardSigningKey::parse(&seed_only).unwrap().public_key(),
            key.public_key()
        );
    }

    #[test]
    fn mismatched_keypair_is_refused() {
        let key = StandardSigningKey::from_seed(&seed());
        let other = StandardSigningKey::from_seed(&[9; 32]);
        let mut pair = seed().to_vec();
        pair.extend_from_slice(other.public_key().as_bytes());
        let mut text = String::from("whsk_");
        base64::engine::general_purpose::STANDARD.encode_string(&pair, &mut text);
        let error = StandardSigningKey::parse(&text).unwrap_err();
        assert_eq!(error.code(), "invalid_secret");
        assert!(error.to_string().contains("does not match"));
        drop(key);
    }

    #[test]
    fn bad_lengths_prefixes_and_base64_are_refused_without_echo() {
        for input in [
            "whsk_",
            "whsk_AAAA",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "whpk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "whsk_not*base64!",
        ] {
            let error = StandardSigningKey::parse(input).unwrap_err();
            assert_eq!(error.code(), "invalid_secret", "{input}");
            assert!(!error.to_string().contains("AAEC"));
            assert!(!error.to_string().contains("not*"));
        }
        let long = format!("whsk_{}", "A".repeat(200));
        assert!(StandardSigningKey::parse(&long).is_err());
        for input in [
            "whpk_",
            "whpk_AAAA",
            "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "whpk_***",
            // The identity point: small order.
            "whpk_AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            let error = StandardPublicKey::parse(input).unwrap_err();
            assert_eq!(error.code(), "invalid_public_key", "{input}");
        }
    }

    #[test]
    fn whpk_round_trip_padding_optional() {
        let public = StandardSigningKey::from_seed(&seed()).public_key();
        let text = public.to_whpk_string();
        assert_eq!(StandardPublicKey::parse(&text).unwrap(), public);
        assert_eq!(
            StandardPublicKey::parse(text.trim_end_matches('=')).unwrap(),
            public
        );
        assert_eq!(format!("{public}"), text);
        assert!(format!("{public:?}").contains(&text));
    }

    #[test]
    fn debug_is_redacted() {
        let key = StandardSigningKey::from_seed(&seed());
        let whsk = key.to_whsk_string();
        let encoded = &whsk[5..20];
        let text = format!("{key:?} {key:#?}");
        assert!(text.contains("redacted"));
        assert!(!text.contains(encoded));
    }

    #[test]
    fn sign_then_verify() {
        let key = StandardSigningKey::from_seed(&seed());
        let signature = key.sign(b"msg");
        assert!(key.public_key().verify(b"msg", &signature));
        assert!(!key.public_key().verify(b"msh", &signature));
    }
}
