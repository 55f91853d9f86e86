//! Spacing requests to the same URL (Slack: at most one message per second per
//! incoming webhook). Requests queue in arrival order; none is dropped. The
//! queue lives in this process's memory: it paces one process, not several.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

/// The longest a target can make the queue wait (a `Retry-After` beyond it is
/// still passed on to MegaBot by the retry rules).
const MAX_HOLD_OFF: Duration = Duration::from_secs(3600);

/// Lets one request per key through at a time, at least `interval` after the
/// previous one to the same key *finished*, and later still when the target
/// asked to hold off (a `429`'s `Retry-After`).
///
/// Waiters are served first come, first served (Tokio's mutex is fair).
/// The state is in memory, so a pacer paces the process that holds it; other
/// processes posting to the same key are not counted.
/// `Debug` shows how many keys it paces, never the keys (Slack webhook URLs
/// are credentials).
pub struct Pacer {
    interval: Duration,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

#[derive(Debug, Default)]
struct Slot {
    /// The earliest moment the next request may start.
    not_before: Option<Instant>,
}

/// The right to send one request to a key. Dropping it (after the answer
/// arrived) starts the interval before the next request.
#[derive(Debug)]
pub(crate) struct Turn {
    slot: OwnedMutexGuard<Slot>,
    interval: Duration,
    hold_off: Option<Duration>,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Pacer")
            .field("interval", &self.interval)
            .field("keys", &keys)
            .finish()
    }
}

impl Pacer {
    /// A pacer with at least `interval` between requests to the same key.
    pub fn new(interval: Duration) -> Pacer {
        Pacer {
            interval,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for `key`'s turn.
    pub(crate) async fn turn(&self, key: &str) -> Turn {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(key.to_owned()).or_default())
        };
        let guard = slot.lock_owned().await;
        if let Some(not_before) = guard.not_before {
            tokio::time::sleep_until(not_before).await;
        }
        Turn {
            slot: guard,
            interval: self.interval,
            hold_off: None,
        }
    }
}

impl Turn {
    /// Asks the next request to this key to wait `wait` (from when this turn
    /// ends) instead of the pacer's interval, when that is longer.
    pub(crate) fn hold_off(&mut self, wait: Duration) {
        self.hold_off = Some(wait);
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // A target's wait is network input: cap it so no value can overflow.
        let wait = self
            .hold_off
            .map_or(self.interval, |w| w.min(MAX_HOLD_OFF).max(self.interval));
        self.slot.not_before = Instant::now().checked_add(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_turns_per_key_and_honours_hold_off() {
        let pacer = Arc::new(Pacer::new(Duration::from_secs(1)));
        let start = Instant::now();
        drop(pacer.turn("a").await);
        // Another key is not delayed.
        drop(pacer.turn("b").await);
        assert_eq!(start.elapsed(), Duration::ZERO);
        let mut turn = pacer.turn("a").await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        turn.hold_off(Duration::from_secs(5));
        drop(turn);
        let mut turn = pacer.turn("a").await;
        assert_eq!(start.elapsed(), Duration::from_secs(6));
        // An absurd wait from the network neither panics nor blocks forever.
        turn.hold_off(Duration::MAX);
        drop(turn);
        drop(pacer.turn("a").await);
        assert_eq!(start.elapsed(), Duration::from_secs(6) + MAX_HOLD_OFF);
    }

    /// Pacing is per pacer, so per process: two processes (two pacers) posting
    /// to one URL do not wait for each other; only Slack's `429` slows them.
    #[tokio::test(start_paused = true)]
    async fn separate_pacers_do_not_pace_each_other() {
        let (one, other) = (
            Pacer::new(Duration::from_secs(1)),
            Pacer::new(Duration::from_secs(1)),
        );
        let start = Instant::now();
        drop(one.turn("url").await);
        drop(other.turn("url").await);
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(one.turn("url").await);
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn debug_hides_the_keys() {
        let pacer = Pacer::new(Duration::from_secs(1));
        drop(
            pacer
                .turn("https://hooks.slack.com/services/T/B/SECRETPATH")
                .await,
        );
        let text = format!("{pacer:?}");
        assert!(!text.contains("SECRETPATH"), "{text}");
        assert!(text.contains("keys: 1"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_queues_in_order() {
        let pacer = Arc::new(Pacer::new(Duration::from_secs(1)));
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (pacer, order) = (Arc::clone(&pacer), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let _turn = pacer.turn("url").await;
                order.lock().unwrap().push((i, start.elapsed().as_secs()));
            }));
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)]
        );
    }
}
