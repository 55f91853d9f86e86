//! The two signature schemes a delivery can carry.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Scheme::MegaBot.as_str(), "megabot");
        assert_eq!(Scheme::StandardWebhooks.to_string(), "standard-webhooks");
    }
}
