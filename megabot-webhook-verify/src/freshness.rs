//! Timestamp parsing and the freshness window, overflow-free for any value.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::Error;

/// Parses a `webhook-timestamp` value: unix seconds as ASCII digits only
/// (no sign, no fraction), surrounding whitespace ignored, within `i64`.
pub(crate) fn parse_unix_seconds(value: &str) -> Result<i64, Error> {
    let digits = value.trim_ascii().as_bytes();
    if digits.is_empty() || digits.len() > 19 {
        return Err(Error::InvalidTimestamp);
    }
    // One pass: 19 digits fit a u64, so only the final i64 range can fail.
    let mut seconds = 0u64;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(Error::InvalidTimestamp);
        }
        seconds = seconds * 10 + u64::from(digit);
    }
    i64::try_from(seconds).map_err(|_| Error::InvalidTimestamp)
}

/// Checks that `timestamp` lies within `past` before and `future` after `now`
/// (whole seconds, both edges inclusive).
pub(crate) fn check(
    timestamp: i64,
    now: DateTime<Utc>,
    past: Duration,
    future: Duration,
) -> Result<(), Error> {
    let now = i128::from(now.timestamp());
    let timestamp = i128::from(timestamp);
    let past_secs = past.as_secs();
    let future_secs = future.as_secs();
    if now - timestamp > i128::from(past_secs) {
        return Err(Error::TimestampTooOld {
            age_secs: saturate(now - timestamp),
            tolerance_secs: past_secs,
        });
    }
    if timestamp - now > i128::from(future_secs) {
        return Err(Error::TimestampTooNew {
            ahead_secs: saturate(timestamp - now),
            tolerance_secs: future_secs,
        });
    }
    Ok(())
}

/// `at + tolerance`, saturating at the largest representable time.
pub(crate) fn add_saturating(at: DateTime<Utc>, tolerance: Duration) -> DateTime<Utc> {
    i64::try_from(tolerance.as_secs())
        .ok()
        .and_then(TimeDelta::try_seconds)
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn saturate(value: i128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOLERANCE: Duration = Duration::from_secs(300);

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn parses_only_plain_digits() {
        assert_eq!(parse_unix_seconds("1614265330").unwrap(), 1_614_265_330);
        assert_eq!(parse_unix_seconds(" 0 ").unwrap(), 0);
        assert_eq!(parse_unix_seconds("9223372036854775807").unwrap(), i64::MAX);
        for bad in [
            "",
            " ",
            "-1",
            "+1",
            "1.5",
            "1e9",
            "abc",
            "9223372036854775808",
            "99999999999999999999999",
            "١٢٣",
        ] {
            assert!(
                matches!(parse_unix_seconds(bad), Err(Error::InvalidTimestamp)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parses_as_trim_and_str_parse_did() {
        let before = |value: &str| {
            let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
            if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            value.parse::<i64>().ok()
        };
        for value in [
            "0",
            "0001",
            " 7\t",
            "\n12\r",
            "1 2",
            "18446744073709551615",
            "9223372036854775807",
            "9223372036854775808",
            "1999999999999999999",
            "9999999999999999999",
            "12a",
            "\u{a0}1",
        ] {
            assert_eq!(parse_unix_seconds(value).ok(), before(value), "{value:?}");
        }
    }

    #[test]
    fn edges_are_inclusive() {
        let now = at(1_640_995_501);
        assert!(check(1_640_995_201, now, TOLERANCE, TOLERANCE).is_ok());
        assert!(matches!(
            check(1_640_995_200, now, TOLERANCE, TOLERANCE),
            Err(Error::TimestampTooOld {
                age_secs: 301,
                tolerance_secs: 300
            })
        ));
        assert!(check(1_640_995_801, now, TOLERANCE, TOLERANCE).is_ok());
        assert!(matches!(
            check(1_640_995_802, now, TOLERANCE, TOLERANCE),
            Err(Error::TimestampTooNew {
                ahead_secs: 301,
                ..
            })
        ));
    }

    #[test]
    fn past_and_future_apart() {
        let now = at(1000);
        let past = Duration::from_secs(10);
        let future = Duration::from_secs(100);
        assert!(check(990, now, past, future).is_ok());
        assert!(check(989, now, past, future).is_err());
        assert!(check(1100, now, past, future).is_ok());
        assert!(check(1101, now, past, future).is_err());
    }

    #[test]
    fn extremes_do_not_overflow() {
        let now = at(1_640_995_200);
        assert!(matches!(
            check(i64::MAX, now, Duration::MAX, TOLERANCE),
            Err(Error::TimestampTooNew { .. })
        ));
        assert!(matches!(
            check(i64::MIN, now, TOLERANCE, Duration::MAX),
            Err(Error::TimestampTooOld { .. })
        ));
        assert!(check(i64::MAX, now, Duration::MAX, Duration::MAX).is_ok());
        assert_eq!(
            add_saturating(DateTime::<Utc>::MAX_UTC, TOLERANCE),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(add_saturating(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(add_saturating(now, TOLERANCE), at(1_640_995_500));
    }
}
