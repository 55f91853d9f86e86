//! The crate's error type.

/// Why bytes could not be read as a MegaBot event, or a value could not go
/// into one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not a JSON event envelope (`event`, `id`, `timestamp`, `data`).
    #[error("invalid event envelope: {0}")]
    InvalidEnvelope(#[source] serde_json::Error),
    /// A name that is not one of [`EventName::ALL`](crate::EventName::ALL).
    #[error("unknown event name {0:?}")]
    UnknownEventName(String),
    /// NaN or an infinity where an event needs a number: JSON cannot carry it
    /// (see [`FiniteF64`](crate::data::FiniteF64)).
    #[error("{0} is not a finite number: JSON has no NaN or Infinity")]
    NonFiniteNumber(f64),
}
