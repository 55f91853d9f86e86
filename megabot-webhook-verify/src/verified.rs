//! The result of a successful verification.

use chrono::{DateTime, Utc};
use megabot_webhook_types::Event;

use crate::Scheme;

/// An authentic, fresh delivery: everything here comes from authenticated data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Verified {
    /// The parsed event (from the verified raw body).
    pub event: Event,
    /// The scheme whose signature was checked.
    pub scheme: Scheme,
    /// Which configured secret of that scheme matched (index in the order they were
    /// added to the builder); when `asymmetric`, which public key verified.
    pub secret_index: usize,
    /// True when a `v1a` (Ed25519) entry decided: `secret_index` then indexes the
    /// public keys given to
    /// [`VerifierBuilder::standard_public_key`](crate::VerifierBuilder::standard_public_key).
    pub asymmetric: bool,
    /// The replay key: the body's `id` (MegaBot scheme) or `webhook-id` (Standard Webhooks).
    pub delivery_id: String,
    /// The authenticated timestamp used for freshness: the body's `timestamp`
    /// (MegaBot scheme) or `webhook-timestamp` (Standard Webhooks).
    pub signed_at: DateTime<Utc>,
    /// `signed_at` plus the past tolerance: until then a completed id must be remembered,
    /// after that a copy is refused as stale.
    pub expires_at: DateTime<Utc>,
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
