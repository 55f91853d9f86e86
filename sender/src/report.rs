//! What happened to each delivery.

use std::fmt;
use std::time::Duration;

use super::event_filter::FilterKind;
use super::registry::EndpointId;

/// One HTTP attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The HTTP status, when the endpoint answered.
    pub status: Option<u16>,
    /// What went wrong: the status, a connection error or a timeout.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration: Duration,
    /// The wait the endpoint asked for with `Retry-After` (capped at `max_delay`).
    pub retry_after: Option<Duration>,
    /// The wait before the next attempt, when there is one.
    pub wait_after: Option<Duration>,
    /// The start of the endpoint's answer (at most 1 KiB, lossy UTF-8).
    pub response_body: Option<String>,
}

/// How a delivery to one endpoint ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// An attempt got a 2xx answer.
    Delivered,
    /// The endpoint gave a final answer (such as 404, 410 or a redirect).
    Rejected,
    /// The destination guard refused the endpoint's address (see
    /// [`DestinationPolicy`](crate::DestinationPolicy)): nothing was sent,
    /// and it is not retried.
    Refused,
    /// Every attempt failed with a retried error (5xx, 408, 409, 429, connection
    /// error or timeout).
    Exhausted,
}

/// The delivery of one event to one endpoint.
///
/// `Debug` shows the URL without its password ([`redact_url`](crate::redact_url)).
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointReport {
    /// The registered endpoint, when it was one (not for [`Sender::deliver_to`](super::Sender::deliver_to)).
    pub endpoint: Option<EndpointId>,
    /// Where the event was sent.
    pub url: String,
    /// The event name.
    pub event: String,
    /// The event id (`X-MegaBot-Delivery`).
    pub delivery_id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Every attempt, in order.
    pub attempts: Vec<AttemptReport>,
    /// The status of the last attempt, when the endpoint answered it.
    pub final_status: Option<u16>,
    /// Why the delivery failed (the last attempt's error), `None` when delivered.
    pub error: Option<String>,
    /// From the first attempt to the end, waits included.
    pub duration: Duration,
    /// Whether the failed delivery was stored in the dead-letter sink.
    pub dead_lettered: bool,
    /// Why the dead-letter sink could not store it, if it could not.
    pub dead_letter_error: Option<String>,
}

impl fmt::Debug for EndpointReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointReport")
            .field("endpoint", &self.endpoint)
            .field("url", &crate::redact_url(&self.url))
            .field("event", &self.event)
            .field("delivery_id", &self.delivery_id)
            .field("outcome", &self.outcome)
            .field("attempts", &self.attempts)
            .field("final_status", &self.final_status)
            .field("error", &self.error)
            .field("duration", &self.duration)
            .field("dead_lettered", &self.dead_lettered)
            .field("dead_letter_error", &self.dead_letter_error)
            .finish()
    }
}

impl EndpointReport {
    /// Whether the endpoint accepted the event.
    pub fn is_delivered(&self) -> bool {
        self.outcome == Outcome::Delivered
    }

    /// Whether the delivery failed and its dead letter could not be stored:
    /// the event is lost unless the caller keeps it.
    pub fn is_lost(&self) -> bool {
        !self.is_delivered() && !self.dead_lettered && self.dead_letter_error.is_some()
    }

    /// Attempts after the first.
    pub fn retries(&self) -> u32 {
        u32::try_from(self.attempts.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// The statuses of the attempts, `None` where there was no answer.
    pub fn statuses(&self) -> Vec<Option<u16>> {
        self.attempts.iter().map(|a| a.status).collect()
    }
}

/// Why an endpoint did not get an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// The config says `enabled: false`.
    Disabled,
    /// The endpoint's `events` do not match the event.
    NotSubscribed,
    /// One of the endpoint's filters turned the event away.
    Filtered(FilterKind),
}

/// An endpoint that did not get an event, and why.
///
/// `Debug` shows the URL without its password ([`redact_url`](crate::redact_url)).
#[derive(Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Its URL.
    pub url: String,
    /// Why.
    pub reason: SkipReason,
}

impl fmt::Debug for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Skipped")
            .field("endpoint", &self.endpoint)
            .field("url", &crate::redact_url(&self.url))
            .field("reason", &self.reason)
            .finish()
    }
}

/// The delivery of one event to every registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendReport {
    /// The event name.
    pub event: String,
    /// The event id.
    pub delivery_id: String,
    /// One report per endpoint the event was sent to, in registration order.
    pub deliveries: Vec<EndpointReport>,
    /// The endpoints that did not get it.
    pub skipped: Vec<Skipped>,
}

impl SendReport {
    /// Whether every endpoint the event was sent to accepted it (true when it
    /// was sent to none).
    pub fn all_delivered(&self) -> bool {
        self.deliveries.iter().all(EndpointReport::is_delivered)
    }

    /// The reports of the deliveries that failed.
    pub fn failures(&self) -> impl Iterator<Item = &EndpointReport> {
        self.deliveries.iter().filter(|r| !r.is_delivered())
    }
}
