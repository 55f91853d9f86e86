//! A hook for what the dispatcher's workers conclude: the final outcome of
//! each delivery and each endpoint disabled by its health rule. The alert
//! engine (design 9.6) listens here; an observer must return at once (it is
//! called on the worker's task).

use std::fmt;

use chrono::{DateTime, Utc};

use super::store::DeliveryState;

/// A delivery that reached its outcome: delivered or dead (never a single
/// failed attempt that will be retried).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryOutcome {
    /// `dlv_…`.
    pub delivery_id: String,
    /// The endpoint's id (`cfg_…` or `ep_…`).
    pub endpoint_id: String,
    /// The event name.
    pub event_name: String,
    /// [`DeliveryState::Delivered`] or [`DeliveryState::Dead`].
    pub state: DeliveryState,
    /// Why it is dead (see [`dead_reason`](super::dead_reason)).
    pub dead_reason: Option<String>,
    /// Attempts used.
    pub attempts: u32,
    /// When it was published (stored).
    pub published_at: DateTime<Utc>,
    /// When it reached its outcome (the dispatcher's clock).
    pub at: DateTime<Utc>,
}

impl DeliveryOutcome {
    /// An outcome (for observers' own tests; the dispatcher builds its own).
    pub fn new(
        delivery_id: impl Into<String>,
        endpoint_id: impl Into<String>,
        state: DeliveryState,
        published_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> DeliveryOutcome {
        DeliveryOutcome {
            delivery_id: delivery_id.into(),
            endpoint_id: endpoint_id.into(),
            event_name: String::new(),
            state,
            dead_reason: None,
            attempts: 0,
            published_at,
            at,
        }
    }

    /// Publish → outcome (zero when the clock went back).
    pub fn latency(&self) -> std::time::Duration {
        (self.at - self.published_at).to_std().unwrap_or_default()
    }
}

/// Told by the dispatcher's workers what they concluded; set with
/// [`DispatcherBuilder::observer`](super::DispatcherBuilder::observer).
///
/// Both calls run on a worker's task while it still holds its slot: they
/// must not block or wait (hand the work to a queue of your own).
pub trait DeliveryObserver: Send + Sync + fmt::Debug {
    /// A delivery was stored as delivered or dead.
    fn outcome(&self, outcome: &DeliveryOutcome);

    /// An endpoint was disabled by its health rule (every attempt failed for
    /// `disable_after`).
    fn endpoint_disabled(&self, endpoint_id: &str, at: DateTime<Utc>);
}
