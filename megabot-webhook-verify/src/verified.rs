//! The results of a successful check: [`Authenticated`] (size, signature and freshness)
//! and [`Verified`] (the same and the typed event).

use chrono::{DateTime, Utc};
use megabot_webhook_types::Event;

use crate::Scheme;
#[cfg(doc)]
use crate::{Verifier, VerifierBuilder};

/// A delivery whose size, signature and freshness were checked, and whose event was
/// not parsed: what [`Verifier::authenticate_at`] returns.
///
/// Every field comes from authenticated data. The body is authentic but may still not
/// be a well-formed event: parse it with [`Event::from_slice`] when you need the event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authenticated {
    /// The scheme whose signature was checked.
    pub scheme: Scheme,
    /// Which configured secret of that scheme matched (index in the order they were
    /// added to the builder); when `asymmetric`, which public key verified.
    pub secret_index: usize,
    /// True when a `v1a` (Ed25519) entry decided: `secret_index` then indexes the
    /// public keys given to [`VerifierBuilder::standard_public_key`].
    pub asymmetric: bool,
    /// The replay key: the body's `id` (MegaBot scheme) or `webhook-id` (Standard
    /// Webhooks).
    pub delivery_id: String,
    /// The authenticated timestamp used for freshness: the body's `timestamp` (MegaBot
    /// scheme) or `webhook-timestamp` (Standard Webhooks).
    pub signed_at: DateTime<Utc>,
    /// `signed_at` plus the past tolerance: until then a completed id must be remembered,
    /// after that a copy is refused as stale.
    pub expires_at: DateTime<Utc>,
}

/// An authentic, fresh delivery and its typed event: what [`Verifier::verify_at`]
/// returns. Everything here comes from authenticated data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Verified {
    /// The parsed event (from the verified raw body).
    pub event: Event,
    /// What the signature and the freshness check established: scheme, secret,
    /// delivery id (the replay key), signed time, until when the id is remembered.
    pub delivery: Authenticated,
}

impl Verified {
    /// The event's name, e.g. `tool_execution_failed`.
    pub fn event_name(&self) -> &str {
        self.event.name()
    }

    /// Consumes the result, keeping the event.
    pub fn into_event(self) -> Event {
        self.event
    }
}

/// Either result claims its delivery id: [`Verifier::claim`].
impl AsRef<Authenticated> for Authenticated {
    fn as_ref(&self) -> &Authenticated {
        self
    }
}

impl AsRef<Authenticated> for Verified {
    fn as_ref(&self) -> &Authenticated {
        &self.delivery
    }
}
