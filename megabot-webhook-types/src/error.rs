//! The crate's error type.

/// Why bytes could not be read as a MegaBot event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not a JSON event envelope (`event`, `id`, `timestamp`, `data`).
    #[error("invalid event envelope: {0}")]
    InvalidEnvelope(#[source] serde_json::Error),
    /// A name that is not one of [`EventName::ALL`](crate::EventName::ALL).
    #[error("unknown event name {0:?}")]
    UnknownEventName(String),
}
