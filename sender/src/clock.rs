//! Time, waiting and randomness, injectable so that retry tests are exact and fast.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
#[cfg(any(test, feature = "test-util"))]
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The current time: the `webhook-timestamp` of each attempt, the time
/// filters' `time_window`, `Retry-After` dates and dead letters' `failed_at`.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(any(test, feature = "test-util"))]
/// A clock that always says the same time (for tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

#[cfg(any(test, feature = "test-util"))]
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Waits between attempts.
#[async_trait::async_trait]
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// Returns after `duration`.
    async fn sleep(&self, duration: Duration);
}

/// Waits with `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait::async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(any(test, feature = "test-util"))]
/// Records every requested wait and returns at once (for tests).
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    delays: Mutex<Vec<Duration>>,
}

#[cfg(any(test, feature = "test-util"))]
impl RecordingSleeper {
    /// A sleeper with no recorded waits.
    pub fn new() -> RecordingSleeper {
        RecordingSleeper::default()
    }

    /// The waits requested so far, in order.
    pub fn delays(&self) -> Vec<Duration> {
        self.delays
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(any(test, feature = "test-util"))]
#[async_trait::async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.delays
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(duration);
        tokio::task::yield_now().await;
    }
}

/// Random numbers for jitter.
pub trait RandomSource: Send + Sync + fmt::Debug {
    /// A number in `[0, 1)`.
    fn next_f64(&self) -> f64;
}

/// Randomness from the standard library's per-process random hash keys
/// mixed with a counter: plenty for jitter, no extra dependency.
#[derive(Debug, Default)]
pub struct SystemRandom {
    state: RandomState,
    counter: AtomicU64,
}

impl SystemRandom {
    /// A new source.
    pub fn new() -> SystemRandom {
        SystemRandom::default()
    }
}

impl RandomSource for SystemRandom {
    fn next_f64(&self) -> f64 {
        let mut hasher = self.state.build_hasher();
        hasher.write_u64(self.counter.fetch_add(1, Ordering::Relaxed));
        unit_interval(hasher.finish())
    }
}

#[cfg(any(test, feature = "test-util"))]
/// Always the same number (for tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedRandom(pub f64);

#[cfg(any(test, feature = "test-util"))]
impl RandomSource for FixedRandom {
    fn next_f64(&self) -> f64 {
        self.0
    }
}

/// The top 53 bits of `bits` as a number in `[0, 1)`.
fn unit_interval(bits: u64) -> f64 {
    // 53 bits fit an f64 mantissa exactly, so the conversion is lossless.
    #[allow(clippy::cast_precision_loss)]
    let value = (bits >> 11) as f64;
    value / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_random_is_in_range_and_varies() {
        let random = SystemRandom::new();
        let values: Vec<f64> = (0..100).map(|_| random.next_f64()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.dedup();
        assert!(sorted.len() > 90);
        assert!(unit_interval(u64::MAX) < 1.0);
        assert_eq!(unit_interval(0), 0.0);
    }

    #[tokio::test]
    async fn recording_sleeper_records() {
        let sleeper = RecordingSleeper::new();
        sleeper.sleep(Duration::from_secs(300)).await;
        sleeper.sleep(Duration::from_millis(5)).await;
        assert_eq!(
            sleeper.delays(),
            [Duration::from_secs(300), Duration::from_millis(5)]
        );
    }
}
