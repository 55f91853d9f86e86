//! Registered endpoints sealed at rest with `MEGABOT_STORE_KEY` (design
//! 9.7): each stored endpoint document (its secrets, its header values)
//! is encrypted with XChaCha20-Poly1305 under the store key, bound to the
//! endpoint's id, with a random nonce per write.
//!
//! - Written: `sealed:v1:` then base64 of the 24-byte nonce and the
//!   ciphertext with its tag.
//! - Read: a sealed document is opened; a document written before the key
//!   was set is read as it is (and sealed at its next write).
//! - A document that does not open (another key, or no key) is handed on
//!   unread, so the endpoint is left out with a warning and nothing is
//!   deleted; the log names the endpoint, never the key or the document.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::Error;
use crate::diagnostic::ConfigError;

/// The prefix of a sealed document.
const SEALED: &str = "sealed:v1:";
/// XChaCha20's nonce: long enough to be drawn at random for every write.
const NONCE_LEN: usize = 24;

/// The key that seals registered endpoints in the store: 32 bytes.
///
/// Its `Debug` never shows it.
///
/// ```
/// use megabot_webhook_sender::dispatcher::StoreKey;
///
/// // As `openssl rand -base64 32` prints one.
/// let key = StoreKey::from_base64("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=")?;
/// assert_eq!(format!("{key:?}"), "StoreKey(<redacted>)");
/// assert!(StoreKey::from_base64("too short").is_err());
/// # Ok::<(), megabot_webhook_sender::Error>(())
/// ```
#[derive(Clone)]
pub struct StoreKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

impl StoreKey {
    /// A key from its base64 form (standard alphabet, padding optional), as
    /// `MEGABOT_STORE_KEY` holds it.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the text is not base64 of exactly 32 bytes;
    /// the message never holds the text.
    pub fn from_base64(text: &str) -> Result<StoreKey, Error> {
        let text = text.trim();
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text)
                .or_else(|_| STANDARD_NO_PAD.decode(text))
                .unwrap_or_default(),
        );
        StoreKey::from_bytes(&decoded).ok_or_else(|| {
            Error::from(ConfigError::new(
                "MEGABOT_STORE_KEY",
                "the store key must be 32 bytes in base64 (for example `openssl rand -base64 32`)",
            ))
        })
    }

    /// A key from its 32 bytes; `None` for another length.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<StoreKey> {
        (bytes.len() == 32).then(|| StoreKey {
            cipher: XChaCha20Poly1305::new(bytes.into()),
        })
    }

    /// `document` sealed for endpoint `id` (written by the registration API).
    #[cfg(any(feature = "api", test))]
    pub(crate) fn seal(&self, id: &str, document: &str) -> Result<String, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|_| super::store::store_error("no random nonce for sealing an endpoint"))?;
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: document.as_bytes(),
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| super::store::store_error("an endpoint could not be sealed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED}{}", STANDARD.encode(out)))
    }

    /// The document stored for endpoint `id`, opened; `None` when it is
    /// sealed but does not open with this key (or is not for this id).
    pub(crate) fn open(&self, id: &str, stored: &str) -> Option<String> {
        let Some(sealed) = stored.strip_prefix(SEALED) else {
            return Some(stored.to_owned());
        };
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let opened = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: id.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(opened).ok()
    }
}

/// Whether a stored document is sealed.
pub(crate) fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = r#"{"config":{"url":"https://example.com/hook","secret":"s3cret-value","headers":{"Authorization":"Bearer t0ken"}}}"#;

    fn key(byte: u8) -> StoreKey {
        StoreKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn sealed_documents_open_with_their_key_and_id_only() {
        let sealed = key(1).seal("ep_a", DOCUMENT).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("s3cret-value") && !sealed.contains("t0ken"));
        assert_eq!(key(1).open("ep_a", &sealed).as_deref(), Some(DOCUMENT));
        assert_eq!(key(2).open("ep_a", &sealed), None, "another key");
        assert_eq!(key(1).open("ep_b", &sealed), None, "another endpoint's row");
        let again = key(1).seal("ep_a", DOCUMENT).unwrap();
        assert_ne!(sealed, again, "a new nonce per write");
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(key(1).open("ep_a", &tampered), None);
        assert_eq!(key(1).open("ep_a", "sealed:v1:!!"), None);
        assert_eq!(key(1).open("ep_a", "sealed:v1:AAAA"), None);
    }

    #[test]
    fn plain_documents_are_read_as_they_are() {
        assert_eq!(key(1).open("ep_a", DOCUMENT).as_deref(), Some(DOCUMENT));
        assert!(!is_sealed(DOCUMENT));
    }

    #[test]
    fn keys_are_32_bytes_of_base64_and_never_shown() {
        let text = STANDARD.encode([7u8; 32]);
        assert!(StoreKey::from_base64(&text).is_ok());
        assert!(StoreKey::from_base64(text.trim_end_matches('=')).is_ok());
        assert!(StoreKey::from_base64(&format!(" {text}\n")).is_ok());
        for bad in [
            "",
            "not base64 at all",
            &STANDARD.encode([7u8; 31]),
            &STANDARD.encode([7u8; 33]),
        ] {
            let error = StoreKey::from_base64(bad).unwrap_err().to_string();
            assert!(error.contains("32 bytes in base64"), "{error}");
            if !bad.is_empty() {
                assert!(!error.contains(bad), "{error}");
            }
        }
        assert_eq!(format!("{:?}", key(9)), "StoreKey(<redacted>)");
    }
}
