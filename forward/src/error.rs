//! The crate's single error type.

use std::time::Duration;

/// What went wrong while configuring a forwarder or forwarding an event.
///
/// Forwarding errors decide the answer to MegaBot (see [`Error::status`]):
/// a target that is unavailable after its retries gets `502`/`503` so that the
/// delivery's claim is released and MegaBot's own retry runs later; a target
/// that refused the request for good gets `422`, which MegaBot does not retry
/// (the delivery goes to its dead-letter sink, so nothing is lost).
///
/// Messages are lowercase and never hold a token, an API key, a secret or a
/// Slack webhook URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required environment variable is not set (or empty).
    #[error("environment variable {name} is not set")]
    MissingEnv {
        /// The variable's name.
        name: &'static str,
    },

    /// An environment variable or config value is not valid. `reason` never
    /// holds the value of a secret.
    #[error("invalid {name}: {reason}")]
    InvalidConfig {
        /// The variable or setting.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The webhook secret or the verifier could not be set up.
    #[error("webhook verifier: {0}")]
    Verifier(#[from] megabot_webhook_verify::Error),

    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(String),

    /// Listening or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),

    /// The target refused the request for good (a 4xx other than a rate
    /// limit): retrying the same request cannot succeed.
    #[error("{target} refused the request ({status}): {reason}")]
    Rejected {
        /// The target.
        target: &'static str,
        /// The target's HTTP status.
        status: u16,
        /// The target's own error text (such as Slack's `invalid_payload`),
        /// shortened.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
    },

    /// The target did not accept the request within the retry policy and the
    /// time budget (connection errors, timeouts, 408, 429, 5xx, rate limits).
    #[error("{target} unavailable after {attempts} attempt(s): {reason}")]
    Unavailable {
        /// The target.
        target: &'static str,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's failure.
        reason: String,
        /// How long the target asked to wait (`Retry-After`, rate-limit
        /// reset), passed on to MegaBot.
        retry_after: Option<Duration>,
    },
}

impl Error {
    /// The HTTP status answered to MegaBot for this error: `503` (with
    /// `Retry-After`) when the target asked to wait, `502` for other
    /// unavailability, `422` for a refusal, `500` otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Error::Unavailable {
                retry_after: Some(_),
                ..
            } => 503,
            Error::Unavailable { .. } => 502,
            Error::Rejected { .. } => 422,
            _ => 500,
        }
    }

    /// A stable snake_case code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::MissingEnv { .. } => "missing_env",
            Error::InvalidConfig { .. } => "invalid_config",
            Error::Verifier(_) => "verifier",
            Error::Client(_) => "http_client",
            Error::Io(_) => "io",
            Error::Rejected { .. } => "upstream_rejected",
            Error::Unavailable { .. } => "upstream_unavailable",
        }
    }

    /// Whole seconds for the `Retry-After` header of the answer to MegaBot.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Error::Unavailable {
                retry_after: Some(wait),
                ..
            } => Some(
                wait.as_secs()
                    .saturating_add(u64::from(wait.subsec_nanos() > 0)),
            ),
            _ => None,
        }
    }

    /// The same error, counting `earlier` attempts made before it (an earlier
    /// form of the same request).
    #[cfg(feature = "github")]
    pub(crate) fn with_earlier_attempts(self, earlier: u32) -> Error {
        match self {
            Error::Rejected {
                target,
                status,
                reason,
                attempts,
            } => Error::Rejected {
                target,
                status,
                reason,
                attempts: attempts.saturating_add(earlier),
            },
            Error::Unavailable {
                target,
                attempts,
                reason,
                retry_after,
            } => Error::Unavailable {
                target,
                attempts: attempts.saturating_add(earlier),
                reason,
                retry_after,
            },
            other => other,
        }
    }

    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidConfig {
            name,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_release_or_finish_the_delivery() {
        let unavailable = |retry_after| Error::Unavailable {
            target: "slack",
            attempts: 3,
            reason: "503".into(),
            retry_after,
        };
        assert_eq!(unavailable(None).status(), 502);
        let limited = unavailable(Some(Duration::from_millis(1500)));
        assert_eq!(limited.status(), 503);
        assert_eq!(limited.retry_after_secs(), Some(2));
        let rejected = Error::Rejected {
            target: "slack",
            status: 400,
            reason: "invalid_payload".into(),
            attempts: 1,
        };
        assert_eq!(
            unavailable(Some(Duration::MAX)).retry_after_secs(),
            Some(u64::MAX)
        );
        assert_eq!(rejected.status(), 422);
        assert_eq!(rejected.code(), "upstream_rejected");
        assert_eq!(
            rejected.to_string(),
            "slack refused the request (400): invalid_payload"
        );
        assert_eq!(Error::MissingEnv { name: "X" }.status(), 500);
    }
}
