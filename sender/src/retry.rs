//! Retry rules (design 6): which answers are retried, how long to wait.

use std::time::{Duration, SystemTime};

use crate::config::RetryPolicy;
use chrono::{DateTime, Utc};

use super::diagnostic::{Issue, join_key};

/// The longest `max_delay` accepted, in seconds (a day).
pub(crate) const MAX_DELAY_LIMIT: f64 = 86_400.0;

/// What an attempt's outcome means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx: delivered.
    Delivered,
    /// Connection error, timeout, 408, 409, 429 or 5xx: try again if attempts remain.
    Retry,
    /// Any other status (including redirects, which are not followed): stop.
    Final,
    /// The destination guard refused the address: nothing was sent, stop.
    Refused,
}

/// The verdict for an HTTP status.
///
/// 409 is retried too, beyond design 6's list: design 4.4's receivers answer
/// `409` + `Retry-After` while another copy of the delivery is in flight, and if
/// that copy's handler then fails, its claim is released and only a retry of this
/// copy brings the event in. Stopping on 409 could lose it.
pub(crate) fn classify_status(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 409 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Final,
    }
}

/// Checks a policy found at `key`: `max_attempts` ≥ 1, `backoff_multiplier`
/// ≥ 1, delays finite and not negative, `initial_delay` ≤ `max_delay`.
pub(crate) fn validate(policy: &RetryPolicy, key: &str) -> Result<(), Issue> {
    if policy.max_attempts < 1 {
        return Err(Issue::new(
            join_key(key, "max_attempts"),
            "max_attempts must be at least 1 (it counts every attempt, the first included)",
        ));
    }
    if !policy.backoff_multiplier.is_finite() || policy.backoff_multiplier < 1.0 {
        return Err(Issue::new(
            join_key(key, "backoff_multiplier"),
            format!(
                "backoff_multiplier must be at least 1, not {}",
                policy.backoff_multiplier
            ),
        ));
    }
    for (name, value) in [
        ("initial_delay", policy.initial_delay),
        ("max_delay", policy.max_delay),
    ] {
        if !value.is_finite() || value < 0.0 || Duration::try_from_secs_f64(value).is_err() {
            return Err(Issue::new(
                join_key(key, name),
                format!("{name} must be a number of seconds, 0 or more, not {value}"),
            ));
        }
    }
    if policy.max_delay > MAX_DELAY_LIMIT {
        return Err(Issue::new(
            join_key(key, "max_delay"),
            format!(
                "max_delay ({} s) is longer than a day ({MAX_DELAY_LIMIT} s)",
                policy.max_delay
            ),
        ));
    }
    if policy.initial_delay > policy.max_delay {
        return Err(Issue::new(
            join_key(key, "initial_delay"),
            format!(
                "initial_delay ({} s) is greater than max_delay ({} s)",
                policy.initial_delay, policy.max_delay
            ),
        ));
    }
    Ok(())
}

/// The wait after attempt `attempt` (1-based) failed, before attempt
/// `attempt + 1`: `min(max_delay, initial_delay * backoff_multiplier^(attempt-1))`,
/// without jitter.
///
/// ```
/// use std::time::Duration;
/// use megabot_webhook_sender::config::RetryPolicy;
/// use megabot_webhook_sender::backoff_delay;
///
/// let policy = RetryPolicy::default();
/// let waits: Vec<Duration> = (1..5).map(|k| backoff_delay(&policy, k)).collect();
/// assert_eq!(waits, [1, 2, 4, 8].map(Duration::from_secs));
/// ```
pub fn backoff_delay(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
    let raw = if policy.initial_delay <= 0.0 {
        0.0
    } else {
        policy.initial_delay * policy.backoff_multiplier.powi(exponent)
    };
    seconds(raw.min(policy.max_delay))
}

/// A wait drawn uniformly from `[delay / 2, delay]`, with `random` in `[0, 1)`.
pub(crate) fn with_jitter(delay: Duration, random: f64) -> Duration {
    let random = if random.is_finite() {
        random.clamp(0.0, 1.0)
    } else {
        0.0
    };
    delay.mul_f64(0.5 + random / 2.0)
}

/// Seconds as a duration; anything invalid (negative, NaN, too large) is
/// clamped, so no input can panic.
pub(crate) fn seconds(value: f64) -> Duration {
    if value.is_nan() || value <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
    }
}

/// The wait a `Retry-After` value asks for: delay-seconds or an HTTP date
/// (relative to `now`; a date in the past is no wait), capped at `max_delay`.
/// `None` when unparseable.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>, max_delay: Duration) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let date = httpdate::parse_http_date(value).ok()?;
        let now = SystemTime::from(now);
        date.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(max_delay))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn policy(max_attempts: u32, multiplier: f64, initial: f64, max: f64) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            backoff_multiplier: multiplier,
            initial_delay: initial,
            max_delay: max,
            jitter: false,
        }
    }

    #[test]
    fn statuses() {
        for (status, verdict) in [
            (200, Verdict::Delivered),
            (204, Verdict::Delivered),
            (302, Verdict::Final),
            (400, Verdict::Final),
            (401, Verdict::Final),
            (404, Verdict::Final),
            (408, Verdict::Retry),
            (409, Verdict::Retry),
            (410, Verdict::Final),
            (429, Verdict::Retry),
            (500, Verdict::Retry),
            (503, Verdict::Retry),
            (599, Verdict::Retry),
            (101, Verdict::Final),
        ] {
            assert_eq!(classify_status(status), verdict, "{status}");
        }
    }

    #[test]
    fn backoff_is_capped_and_exact() {
        let guide = policy(10, 1.5, 0.5, 300.0);
        assert_eq!(backoff_delay(&guide, 1), Duration::from_millis(500));
        assert_eq!(backoff_delay(&guide, 2), Duration::from_millis(750));
        assert_eq!(backoff_delay(&guide, 3), Duration::from_micros(1_125_000));
        let capped = policy(50, 2.0, 1.0, 300.0);
        assert_eq!(backoff_delay(&capped, 9), Duration::from_secs(256));
        assert_eq!(backoff_delay(&capped, 10), Duration::from_secs(300));
        assert_eq!(backoff_delay(&capped, u32::MAX), Duration::from_secs(300));
        assert_eq!(
            backoff_delay(&policy(3, 5.0, 0.0, 10.0), 40),
            Duration::ZERO
        );
        assert_eq!(
            backoff_delay(&policy(2, 1.0, 1.0, 300.0), 1),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let delay = Duration::from_secs(8);
        assert_eq!(with_jitter(delay, 0.0), Duration::from_secs(4));
        assert_eq!(with_jitter(delay, 0.5), Duration::from_secs(6));
        assert!(with_jitter(delay, 0.999_999) <= delay);
        assert_eq!(with_jitter(delay, f64::NAN), Duration::from_secs(4));
    }

    #[test]
    fn bad_policies() {
        let cases = [
            (policy(0, 2.0, 1.0, 300.0), "max_attempts", "at least 1"),
            (
                policy(3, 0.5, 1.0, 300.0),
                "backoff_multiplier",
                "at least 1",
            ),
            (
                policy(3, f64::NAN, 1.0, 300.0),
                "backoff_multiplier",
                "at least 1",
            ),
            (policy(3, 2.0, -1.0, 300.0), "initial_delay", "0 or more"),
            (policy(3, 2.0, 1.0, f64::INFINITY), "max_delay", "0 or more"),
            (policy(3, 2.0, 1e300, 1e301), "initial_delay", "0 or more"),
            (
                policy(3, 2.0, 400.0, 300.0),
                "initial_delay",
                "greater than max_delay",
            ),
        ];
        for (policy, key, message) in cases {
            let issue = validate(&policy, "p").unwrap_err();
            assert_eq!(issue.key, format!("p.{key}"));
            assert!(issue.message.contains(message), "{}", issue.message);
        }
        assert!(validate(&RetryPolicy::default(), "p").is_ok());
        assert!(validate(&policy(2, 1.0, 1.0, 1.0), "p").is_ok());
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
        let cap = Duration::from_secs(300);
        assert_eq!(
            parse_retry_after("120", now, cap),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now, cap), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("86400", now, cap), Some(cap));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now, cap),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now, cap),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now, cap), None);
        assert_eq!(parse_retry_after("-5", now, cap), None);
    }
}
