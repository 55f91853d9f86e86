//! The retry policy of an endpoint.

use serde::{Deserialize, Serialize};

/// How failed attempts are retried (design 6).
///
/// `max_attempts` counts every attempt, the first included. The wait before
/// attempt `k + 1` is `min(max_delay, initial_delay * backoff_multiplier^(k-1))`
/// seconds; with `jitter` it is drawn uniformly from the upper half of that.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, at least 1. Default 5.
    #[serde(default = "RetryPolicy::default_max_attempts")]
    pub max_attempts: u32,
    /// Factor between consecutive waits, at least 1. Default 2.0.
    #[serde(default = "RetryPolicy::default_backoff_multiplier")]
    pub backoff_multiplier: f64,
    /// Seconds before the second attempt. Default 1.0.
    #[serde(default = "RetryPolicy::default_initial_delay")]
    pub initial_delay: f64,
    /// The longest wait in seconds, also the cap on `Retry-After`. Default 300.
    #[serde(default = "RetryPolicy::default_max_delay")]
    pub max_delay: f64,
    /// Randomise each wait (off by default, so timings match the guide).
    #[serde(default)]
    pub jitter: bool,
}

impl RetryPolicy {
    /// Default `max_attempts`.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
    /// Default `backoff_multiplier`.
    pub const DEFAULT_BACKOFF_MULTIPLIER: f64 = 2.0;
    /// Default `initial_delay` in seconds.
    pub const DEFAULT_INITIAL_DELAY: f64 = 1.0;
    /// Default `max_delay` in seconds.
    pub const DEFAULT_MAX_DELAY: f64 = 300.0;

    fn default_max_attempts() -> u32 {
        Self::DEFAULT_MAX_ATTEMPTS
    }

    fn default_backoff_multiplier() -> f64 {
        Self::DEFAULT_BACKOFF_MULTIPLIER
    }

    fn default_initial_delay() -> f64 {
        Self::DEFAULT_INITIAL_DELAY
    }

    fn default_max_delay() -> f64 {
        Self::DEFAULT_MAX_DELAY
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            backoff_multiplier: Self::DEFAULT_BACKOFF_MULTIPLIER,
            initial_delay: Self::DEFAULT_INITIAL_DELAY,
            max_delay: Self::DEFAULT_MAX_DELAY,
            jitter: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RetryPolicy;

    #[test]
    fn defaults_match_the_spec() {
        let policy: RetryPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(policy, RetryPolicy::default());
        assert_eq!(
            (
                policy.max_attempts,
                policy.backoff_multiplier,
                policy.initial_delay,
                policy.max_delay
            ),
            (5, 2.0, 1.0, 300.0)
        );
        assert!(!policy.jitter);
    }

    #[test]
    fn the_guides_partial_policy_keeps_the_other_defaults() {
        let policy: RetryPolicy = serde_json::from_str(
            r#"{"max_attempts":10,"backoff_multiplier":1.5,"initial_delay":0.5}"#,
        )
        .unwrap();
        assert_eq!(policy.max_attempts, 10);
        assert_eq!(policy.max_delay, 300.0);
    }
}
