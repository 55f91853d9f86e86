//! The crate's single error type.

use std::sync::Arc;

/// Everything that can go wrong while building a verifier, checking a delivery or
/// claiming its id.
///
/// Messages are lowercase, never hold a secret or an expected signature, and are
/// safe to send back to the caller. Use [`Error::code`] for a stable machine-readable
/// code, [`Error::status`] for the HTTP status design 4.5 maps it to and
/// [`Error::retry_after`] for the `Retry-After` value of temporary failures.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No signature header for any scheme the verifier accepts and holds a secret for.
    #[error("missing signature header")]
    MissingSignature,

    /// A signature header is present but holds no well-formed entry.
    #[error("malformed signature header")]
    MalformedSignature,

    /// No signature entry matches any configured secret. Carries no detail on purpose.
    #[error("signature mismatch")]
    SignatureMismatch,

    /// A header the scheme needs (such as `webhook-id`) is missing or empty.
    #[error("missing or empty {name} header")]
    MissingHeader {
        /// The header's name.
        name: &'static str,
    },

    /// A timestamp that is not a non-negative integer of unix seconds in range.
    #[error("invalid timestamp")]
    InvalidTimestamp,

    /// The authenticated timestamp is older than the past tolerance allows.
    #[error("timestamp too old: {age_secs} s old, tolerance {tolerance_secs} s")]
    TimestampTooOld {
        /// How many seconds before the verifier's clock the timestamp lies (saturated).
        age_secs: u64,
        /// The configured past tolerance in seconds.
        tolerance_secs: u64,
    },

    /// The authenticated timestamp is further in the future than the future tolerance allows.
    #[error("timestamp too new: {ahead_secs} s ahead, tolerance {tolerance_secs} s")]
    TimestampTooNew {
        /// How many seconds after the verifier's clock the timestamp lies (saturated).
        ahead_secs: u64,
        /// The configured future tolerance in seconds.
        tolerance_secs: u64,
    },

    /// The body is larger than the configured limit.
    #[error("body too large: limit is {limit} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },

    /// The body is authentic but is not a MegaBot event envelope.
    #[error("invalid event envelope: {message}")]
    InvalidEnvelope {
        /// The parser's message (safe to show: it holds no secret).
        message: String,
    },

    /// The delivery id is being handled by another request right now.
    #[error("delivery is already being processed")]
    ReplayInFlight,

    /// The delivery id was already handled successfully.
    #[error("duplicate delivery")]
    DuplicateDelivery,

    /// The replay store holds its maximum number of live ids.
    #[error("replay store is full")]
    ReplayStoreFull,

    /// The replay store could not be reached. The source (if any) is kept for logs but
    /// never shown in the message.
    #[error("replay store is unavailable")]
    ReplayStoreUnavailable {
        /// The underlying failure, for logging. Must not contain credentials.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// The verifier has no secret for any scheme it accepts.
    #[error("no secret configured for any accepted scheme")]
    NoSecret,

    /// A secret could not be used.
    #[error("invalid secret: {reason}")]
    InvalidSecret {
        /// Why the secret was refused (never the secret itself).
        reason: &'static str,
    },

    /// A Standard Webhooks public key (`whpk_`) could not be used.
    #[error("invalid public key: {reason}")]
    InvalidPublicKey {
        /// Why the key was refused (never the key itself).
        reason: &'static str,
    },
}

impl Error {
    /// Builds [`Error::ReplayStoreUnavailable`] around the store's own error.
    ///
    /// The source must not contain credentials (such as a Redis URL with a password).
    pub fn replay_store_unavailable<E>(source: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Error::ReplayStoreUnavailable {
            source: Some(Arc::new(source)),
        }
    }

    /// A stable snake_case code for this error, used in HTTP answers and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Error::MissingSignature => "missing_signature",
            Error::MalformedSignature => "malformed_signature",
            Error::SignatureMismatch => "signature_mismatch",
            Error::MissingHeader { .. } => "missing_header",
            Error::InvalidTimestamp => "invalid_timestamp",
            Error::TimestampTooOld { .. } => "timestamp_too_old",
            Error::TimestampTooNew { .. } => "timestamp_too_new",
            Error::BodyTooLarge { .. } => "body_too_large",
            Error::InvalidEnvelope { .. } => "invalid_envelope",
            Error::ReplayInFlight => "replay_in_flight",
            Error::DuplicateDelivery => "duplicate_delivery",
            Error::ReplayStoreFull => "replay_store_full",
            Error::ReplayStoreUnavailable { .. } => "replay_store_unavailable",
            Error::NoSecret => "no_secret",
            Error::InvalidSecret { .. } => "invalid_secret",
            Error::InvalidPublicKey { .. } => "invalid_public_key",
        }
    }

    /// The HTTP status design 4.5 maps this error to.
    ///
    /// 401 for signature and time problems, 400 for a signed body that is not an event,
    /// 413 for a body over the limit, 409 for an id in flight, 200 for a duplicate,
    /// 503 when the replay store is full or unreachable and 500 for configuration errors.
    pub fn status(&self) -> u16 {
        match self {
            Error::MissingSignature
            | Error::MalformedSignature
            | Error::SignatureMismatch
            | Error::MissingHeader { .. }
            | Error::InvalidTimestamp
            | Error::TimestampTooOld { .. }
            | Error::TimestampTooNew { .. } => 401,
            Error::InvalidEnvelope { .. } => 400,
            Error::BodyTooLarge { .. } => 413,
            Error::ReplayInFlight => 409,
            Error::DuplicateDelivery => 200,
            Error::ReplayStoreFull | Error::ReplayStoreUnavailable { .. } => 503,
            Error::NoSecret | Error::InvalidSecret { .. } | Error::InvalidPublicKey { .. } => 500,
        }
    }

    /// Seconds the sender should wait before retrying (`Retry-After`), for 409 and 503.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::ReplayInFlight => Some(5),
            Error::ReplayStoreFull | Error::ReplayStoreUnavailable { .. } => Some(1),
            _ => None,
        }
    }

    /// True for the errors that say the request's signature could not be established
    /// (missing, malformed or wrong signature, or a header the signature needs).
    pub fn is_signature_error(&self) -> bool {
        matches!(
            self,
            Error::MissingSignature
                | Error::MalformedSignature
                | Error::SignatureMismatch
                | Error::MissingHeader { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Error> {
        vec![
            Error::MissingSignature,
            Error::MalformedSignature,
            Error::SignatureMismatch,
            Error::MissingHeader { name: "webhook-id" },
            Error::InvalidTimestamp,
            Error::TimestampTooOld {
                age_secs: 400,
                tolerance_secs: 300,
            },
            Error::TimestampTooNew {
                ahead_secs: 400,
                tolerance_secs: 300,
            },
            Error::BodyTooLarge { limit: 10 },
            Error::InvalidEnvelope {
                message: "missing field `id`".into(),
            },
            Error::ReplayInFlight,
            Error::DuplicateDelivery,
            Error::ReplayStoreFull,
            Error::replay_store_unavailable(std::io::Error::other("connection refused")),
            Error::NoSecret,
            Error::InvalidSecret { reason: "empty" },
            Error::InvalidPublicKey { reason: "empty" },
        ]
    }

    #[test]
    fn codes_are_snake_case_and_unique() {
        let errors = all();
        let mut codes: Vec<&str> = errors.iter().map(Error::code).collect();
        for code in &codes {
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        for error in all() {
            let message = error.to_string();
            let first = message.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn statuses_and_retry_after() {
        assert_eq!(Error::SignatureMismatch.status(), 401);
        assert_eq!(Error::InvalidTimestamp.status(), 401);
        assert_eq!(
            Error::InvalidEnvelope {
                message: String::new()
            }
            .status(),
            400
        );
        assert_eq!(Error::BodyTooLarge { limit: 1 }.status(), 413);
        assert_eq!(Error::ReplayInFlight.status(), 409);
        assert_eq!(Error::DuplicateDelivery.status(), 200);
        assert_eq!(Error::ReplayStoreFull.status(), 503);
        assert_eq!(Error::NoSecret.status(), 500);
        assert_eq!(Error::ReplayInFlight.retry_after(), Some(5));
        assert_eq!(Error::ReplayStoreFull.retry_after(), Some(1));
        assert_eq!(Error::SignatureMismatch.retry_after(), None);
    }

    #[test]
    fn store_unavailable_hides_its_source_in_the_message() {
        let error = Error::replay_store_unavailable(std::io::Error::other("redis://:pw@host"));
        assert_eq!(error.to_string(), "replay store is unavailable");
        assert!(std::error::Error::source(&error).is_some());
    }
}
