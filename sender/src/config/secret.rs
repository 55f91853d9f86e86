//! Secret strings whose `Debug` never shows them, zeroized when dropped.
//!
//! Why not verify's `Secret`: that type is a keyed HMAC state for the MegaBot
//! scheme, built once the scheme is known. A configured secret is text whose
//! use is decided later (a MegaBot key, a Standard Webhooks `whsec_` key, an
//! SMTP password, a forwarder's API token), so it stays text here, with the
//! same guarantees: redacted `Debug`, no `Display`/`Serialize`, zeroized on drop.

use std::fmt;

use zeroize::Zeroizing;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// A configured secret. `Debug` prints `[redacted]`; the value is only
/// reachable through [`SecretString::expose`].
///
/// Deliberately not `Serialize` and not `Display`, so it cannot end up in a
/// log line or an echoed config by accident. Its memory is zeroized when it is
/// dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> SecretString {
        SecretString(Zeroizing::new(secret.into()))
    }

    /// The secret itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(secret: String) -> Self {
        SecretString::new(secret)
    }
}

impl From<&str> for SecretString {
    fn from(secret: &str) -> Self {
        SecretString::new(secret)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString::new)
    }
}

/// One secret, or several during key rotation: `secret: "s"` or
/// `secret: ["new", "old"]`. Deliveries carry one signature entry per secret,
/// in this order.
///
/// The default is the empty list.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretKeys(Vec<SecretString>);

impl SecretKeys {
    /// A single secret.
    pub fn one(secret: impl Into<SecretString>) -> SecretKeys {
        SecretKeys(vec![secret.into()])
    }

    /// Several secrets, in signing order.
    pub fn many<I, S>(secrets: I) -> SecretKeys
    where
        I: IntoIterator<Item = S>,
        S: Into<SecretString>,
    {
        SecretKeys(secrets.into_iter().map(Into::into).collect())
    }

    /// The secrets in signing order.
    pub fn iter(&self) -> std::slice::Iter<'_, SecretString> {
        self.0.iter()
    }

    /// How many secrets there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty (`secret: []`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKeys([redacted; {}])", self.0.len())
    }
}

impl<'a> IntoIterator for &'a SecretKeys {
    type Item = &'a SecretString;
    type IntoIter = std::slice::Iter<'a, SecretString>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for SecretKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretKeysVisitor)
    }
}

struct SecretKeysVisitor;

impl<'de> Visitor<'de> for SecretKeysVisitor {
    type Value = SecretKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret string or a list of secret strings")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<SecretKeys, E> {
        Ok(SecretKeys::one(value))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<SecretKeys, E> {
        Ok(SecretKeys::one(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SecretKeys, A::Error> {
        let mut secrets = Vec::new();
        while let Some(secret) = seq.next_element::<SecretString>()? {
            secrets.push(secret);
        }
        Ok(SecretKeys(secrets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_many() {
        let one: SecretKeys = serde_json::from_str(r#""abc""#).unwrap();
        assert_eq!(one, SecretKeys::one("abc"));
        let many: SecretKeys = serde_json::from_str(r#"["a","b"]"#).unwrap();
        assert_eq!(
            many.iter().map(SecretString::expose).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(serde_json::from_str::<SecretKeys>("5").is_err());
        assert!(serde_json::from_str::<SecretKeys>("[1]").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let keys = SecretKeys::many(["hunter2", "swordfish"]);
        let text = format!("{keys:?} {:?}", SecretString::new("hunter2"));
        assert!(
            !text.contains("hunter2") && !text.contains("swordfish"),
            "{text}"
        );
        assert!(text.contains("redacted; 2"));
    }
}
