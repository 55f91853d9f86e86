//! Retrying calls to a target with the sender's [`RetryPolicy`], inside a time
//! budget so that MegaBot gets its answer before its own per-attempt timeout.

use std::future::Future;
use std::time::Duration;

use megabot_webhook_sender::config::RetryPolicy;
use megabot_webhook_sender::{RandomSource, SystemRandom, backoff_delay};
use tokio::time::Instant;

use super::{Env, Error};

/// How one attempt at the target ended, when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    /// Worth retrying: a connection error, a timeout, 408, 429, 5xx or a rate
    /// limit. `wait` is how long the target asked to wait (`Retry-After`,
    /// a rate-limit reset), if it said.
    Retry {
        /// What happened, for logs and the answer to MegaBot.
        reason: String,
        /// The target's requested wait.
        wait: Option<Duration>,
    },
    /// Final: the same request cannot succeed (`invalid_payload`, a bad
    /// token, an unknown repository).
    Stop {
        /// The target's HTTP status.
        status: u16,
        /// The target's error text.
        reason: String,
    },
}

/// The forwarder's retry settings for calls to its target.
///
/// The wait before attempt `k + 1` is the sender's
/// [`backoff_delay`]`(policy, k)` (with jitter when the policy asks), or the
/// target's `Retry-After` / rate-limit reset when it sent one. The forwarder
/// stops early — answering MegaBot `502`/`503` so that MegaBot retries later —
/// when the next wait would end past `budget`, or when the target asks for a
/// wait longer than the policy's `max_delay` (that wait is passed on as
/// `Retry-After`). An attempt still running when the budget ends (a slow
/// target, a long Slack queue) is abandoned the same way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrySettings {
    /// Attempts, backoff and `max_delay` (the sender's schema).
    pub policy: RetryPolicy,
    /// Timeout of each request to the target.
    pub attempt_timeout: Duration,
    /// The most time spent retrying one event before answering MegaBot. Keep
    /// it below MegaBot's per-attempt timeout (10 s by default).
    pub budget: Duration,
}

impl Default for RetrySettings {
    /// 3 attempts, waits of 0.5 s then 1 s (at most 5 s), 3 s per request,
    /// a budget of 8 s.
    fn default() -> Self {
        RetrySettings {
            policy: {
                let mut value = RetryPolicy::default();
                value.max_attempts = 3;
                value.backoff_multiplier = 2.0;
                value.initial_delay = 0.5;
                value.max_delay = 5.0;
                value.jitter = false;
                value
            },
            attempt_timeout: Duration::from_secs(3),
            budget: Duration::from_secs(8),
        }
    }
}

impl RetrySettings {
    /// Reads `FORWARD_MAX_ATTEMPTS`, `FORWARD_INITIAL_DELAY`,
    /// `FORWARD_BACKOFF_MULTIPLIER`, `FORWARD_MAX_DELAY` (seconds),
    /// `FORWARD_JITTER` (`true`/`false`), `FORWARD_TIMEOUT` (seconds per
    /// request) and `FORWARD_BUDGET` (seconds per event); unset ones keep
    /// [`RetrySettings::default`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a value that does not parse or a policy
    /// that [`RetrySettings::validate`] refuses.
    pub fn from_env(env: &Env) -> Result<RetrySettings, Error> {
        let default = RetrySettings::default();
        let policy = {
            let mut value = RetryPolicy::default();
            value.max_attempts =
                env.parse_or("FORWARD_MAX_ATTEMPTS", default.policy.max_attempts)?;
            value.backoff_multiplier = env.parse_or(
                "FORWARD_BACKOFF_MULTIPLIER",
                default.policy.backoff_multiplier,
            )?;
            value.initial_delay =
                env.parse_or("FORWARD_INITIAL_DELAY", default.policy.initial_delay)?;
            value.max_delay = env.parse_or("FORWARD_MAX_DELAY", default.policy.max_delay)?;
            value.jitter = env.parse_or("FORWARD_JITTER", default.policy.jitter)?;
            value
        };
        let attempt_timeout = seconds(
            "FORWARD_TIMEOUT",
            env.parse_or("FORWARD_TIMEOUT", default.attempt_timeout.as_secs_f64())?,
        )?;
        let budget = seconds(
            "FORWARD_BUDGET",
            env.parse_or("FORWARD_BUDGET", default.budget.as_secs_f64())?,
        )?;
        let settings = RetrySettings {
            policy,
            attempt_timeout,
            budget,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the policy as the sender does: at least one attempt, a
    /// multiplier of at least 1, delays that are finite, not negative, and
    /// `initial_delay ≤ max_delay`; a request timeout above zero.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the setting.
    pub fn validate(&self) -> Result<(), Error> {
        let p = &self.policy;
        if p.max_attempts < 1 {
            return Err(Error::invalid("FORWARD_MAX_ATTEMPTS", "must be at least 1"));
        }
        if !p.backoff_multiplier.is_finite() || p.backoff_multiplier < 1.0 {
            return Err(Error::invalid(
                "FORWARD_BACKOFF_MULTIPLIER",
                "must be at least 1",
            ));
        }
        for (name, value) in [
            ("FORWARD_INITIAL_DELAY", p.initial_delay),
            ("FORWARD_MAX_DELAY", p.max_delay),
        ] {
            seconds(name, value)?;
        }
        if p.initial_delay > p.max_delay {
            return Err(Error::invalid(
                "FORWARD_INITIAL_DELAY",
                "is greater than FORWARD_MAX_DELAY",
            ));
        }
        if self.attempt_timeout.is_zero() {
            return Err(Error::invalid("FORWARD_TIMEOUT", "must be above 0"));
        }
        if self.budget.is_zero() {
            return Err(Error::invalid("FORWARD_BUDGET", "must be above 0"));
        }
        Ok(())
    }
}

fn seconds(name: &'static str, value: f64) -> Result<Duration, Error> {
    if !value.is_finite() || value < 0.0 {
        return Err(Error::invalid(
            name,
            format!("must be a number of seconds, 0 or more, not {value}"),
        ));
    }
    Duration::try_from_secs_f64(value).map_err(|e| Error::invalid(name, e.to_string()))
}

/// Runs attempts against one target until one succeeds, one fails for good,
/// the policy's attempts are used up, or the budget is spent.
///
/// One `Retrier` serves one event: its budget starts when it is made, so
/// several requests for the same event (Datadog's event and metric) share it.
#[derive(Debug, Clone)]
pub struct Retrier {
    target: &'static str,
    settings: RetrySettings,
    deadline: Instant,
}

impl Retrier {
    /// A retrier for `target` whose budget starts now.
    pub fn new(target: &'static str, settings: &RetrySettings) -> Retrier {
        Retrier {
            target,
            settings: *settings,
            deadline: far(settings.budget),
        }
    }

    /// Calls `attempt(k)` for `k = 1, 2, ...` as the policy allows and
    /// returns the first success with the number of attempts made.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] on an [`AttemptError::Stop`]; [`Error::Unavailable`]
    /// when retryable failures outlast the attempts or the budget.
    pub async fn run<T, F, Fut>(&self, mut attempt: F) -> Result<(T, u32), Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        let policy = &self.settings.policy;
        let max_attempts = policy.max_attempts.max(1);
        let mut k = 1;
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            let outcome = tokio::time::timeout(remaining, attempt(k))
                .await
                .unwrap_or_else(|_| {
                    Err(AttemptError::Retry {
                        reason: "no answer within the forwarder's time budget".to_owned(),
                        wait: None,
                    })
                });
            let (reason, hint) = match outcome {
                Ok(value) => return Ok((value, k)),
                Err(AttemptError::Stop { status, reason }) => {
                    return Err(Error::Rejected {
                        target: self.target,
                        status,
                        reason,
                        attempts: k,
                    });
                }
                Err(AttemptError::Retry { reason, wait }) => (reason, wait),
            };
            let unavailable = |retry_after| Error::Unavailable {
                target: self.target,
                attempts: k,
                reason: reason.clone(),
                retry_after,
            };
            if k >= max_attempts {
                return Err(unavailable(hint));
            }
            let max_delay = Duration::try_from_secs_f64(policy.max_delay).unwrap_or(Duration::MAX);
            let wait = match hint {
                Some(asked) if asked > max_delay => return Err(unavailable(hint)),
                Some(asked) => asked,
                None => jittered(backoff_delay(policy, k), policy.jitter),
            };
            if far(wait) > self.deadline {
                return Err(unavailable(hint));
            }
            tracing::warn!(
                target: "megabot_forwarder",
                upstream = self.target,
                attempt = k,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                reason = %reason,
                "attempt failed; retrying"
            );
            tokio::time::sleep(wait).await;
            k += 1;
        }
    }
}

/// Now plus `wait`, or a year from now when that overflows.
fn far(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(now)
}

/// A wait drawn uniformly from `[delay / 2, delay]` when `jitter` is on (the
/// sender's jitter rule, with its random source).
fn jittered(delay: Duration, jitter: bool) -> Duration {
    if !jitter {
        return delay;
    }
    let random = SystemRandom::new().next_f64();
    delay.mul_f64(0.5 + random.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn settings(max_attempts: u32, initial: f64, budget_ms: u64) -> RetrySettings {
        RetrySettings {
            policy: {
                let mut value = RetryPolicy::default();
                value.max_attempts = max_attempts;
                value.backoff_multiplier = 2.0;
                value.initial_delay = initial;
                value.max_delay = 1.0;
                value.jitter = false;
                value
            },
            attempt_timeout: Duration::from_secs(1),
            budget: Duration::from_millis(budget_ms),
        }
    }

    fn retry(wait: Option<Duration>) -> AttemptError {
        AttemptError::Retry {
            reason: "503".into(),
            wait,
        }
    }

    #[tokio::test]
    async fn retries_until_success() {
        let calls = Arc::new(AtomicU32::new(0));
        let retrier = Retrier::new("t", &settings(3, 0.01, 5_000));
        let (value, attempts) = retrier
            .run(|k| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { if k < 3 { Err(retry(None)) } else { Ok(k) } }
            })
            .await
            .unwrap();
        assert_eq!((value, attempts), (3, 3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_stops_on_final() {
        let retrier = Retrier::new("t", &settings(2, 0.01, 5_000));
        let error = retrier
            .run(|_| async { Err::<(), _>(retry(None)) })
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::Unavailable { attempts: 2, .. }),
            "{error}"
        );
        assert_eq!(error.status(), 502);

        let error = retrier
            .run(|_| async {
                Err::<(), _>(AttemptError::Stop {
                    status: 404,
                    reason: "no_service".into(),
                })
            })
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            Error::Rejected {
                attempts: 1,
                status: 404,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn long_waits_are_passed_on_instead_of_slept() {
        // Asked to wait longer than max_delay: stop at once and relay it.
        let retrier = Retrier::new("t", &settings(5, 0.01, 5_000));
        let started = Instant::now();
        let error = retrier
            .run(|_| async { Err::<(), _>(retry(Some(Duration::from_secs(30)))) })
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(error.status(), 503);
        assert_eq!(error.retry_after_secs(), Some(30));

        // A wait past the budget: stop too.
        let retrier = Retrier::new("t", &settings(5, 0.5, 100));
        let error = retrier
            .run(|_| async { Err::<(), _>(retry(None)) })
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            Error::Unavailable {
                attempts: 1,
                retry_after: None,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn an_attempt_cannot_outlast_the_budget() {
        let retrier = Retrier::new("t", &settings(3, 0.01, 200));
        let started = Instant::now();
        let error = retrier
            .run(|_| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok::<(), AttemptError>(())
            })
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(error.to_string().contains("time budget"), "{error}");
    }

    #[test]
    fn env_and_validation() {
        let env = Env::from_pairs([
            ("FORWARD_MAX_ATTEMPTS", "4"),
            ("FORWARD_INITIAL_DELAY", "0.05"),
            ("FORWARD_BUDGET", "2"),
        ]);
        let s = RetrySettings::from_env(&env).unwrap();
        assert_eq!(s.policy.max_attempts, 4);
        assert_eq!(s.policy.initial_delay, 0.05);
        assert_eq!(s.budget, Duration::from_secs(2));
        for (name, value) in [
            ("FORWARD_MAX_ATTEMPTS", "0"),
            ("FORWARD_BACKOFF_MULTIPLIER", "0.5"),
            ("FORWARD_INITIAL_DELAY", "-1"),
            ("FORWARD_INITIAL_DELAY", "50"),
            ("FORWARD_TIMEOUT", "0"),
            ("FORWARD_BUDGET", "0"),
            ("FORWARD_BUDGET", "NaN"),
            ("FORWARD_JITTER", "maybe"),
        ] {
            let error = RetrySettings::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert!(error.to_string().contains(name), "{name}={value}: {error}");
        }
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let delay = Duration::from_secs(8);
        assert_eq!(jittered(delay, false), delay);
        for _ in 0..100 {
            let wait = jittered(delay, true);
            assert!(wait >= delay / 2 && wait <= delay, "{wait:?}");
        }
    }
}
