//! Receiver limits before authentication (design 9.8): a buffer budget shared by all
//! in-flight request bodies and a body read timeout.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::Error;

/// The default [`Limits::buffer_budget`]: 64 MiB for all request bodies being read
/// (before authentication) together.
pub const DEFAULT_BUFFER_BUDGET: usize = 64 * 1024 * 1024;

/// The default [`Limits::body_read_timeout`]: 10 seconds for a whole body to arrive.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What a webhook route may spend on requests before they are authenticated (design 9.8).
///
/// - **Buffer budget** (default [`DEFAULT_BUFFER_BUDGET`], 64 MiB): all request bodies
///   being read and verified *together* buffer at most this many (decoded) bytes. A
///   request whose declared `Content-Length`, or whose body as it grows, would exceed
///   what is left is answered `503 buffer_budget_exhausted` with `Retry-After: 1` and
///   `Connection: close`, without reading the rest of its body. A body's share is given
///   back as soon as it is verified (or refused). The per-request cap remains the
///   verifier's `max_body_size`.
/// - **Body read timeout** (default [`DEFAULT_BODY_READ_TIMEOUT`], 10 s): the whole body
///   must arrive within it, else `408 body_read_timeout`.
/// - A body shorter than its `Content-Length` is `400 body_truncated`.
///
/// Routes built without explicit limits share one process-wide budget,
/// [`Limits::global`] (also [`Limits::default`]). Clones of a `Limits` share its
/// budget; [`Limits::buffer_budget`] makes a new one.
#[derive(Clone)]
pub struct Limits {
    budget: Arc<BufferBudget>,
    body_read_timeout: Duration,
}

impl Limits {
    /// The process-wide limits with the defaults, shared by every route that was not
    /// given its own.
    pub fn global() -> Limits {
        static GLOBAL: OnceLock<Limits> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Limits {
                budget: Arc::new(BufferBudget::new(DEFAULT_BUFFER_BUDGET)),
                body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            })
            .clone()
    }

    /// These limits with a budget of its own of `bytes` (shared by the clones of the
    /// result, not with the global budget).
    #[must_use]
    pub fn buffer_budget(mut self, bytes: usize) -> Limits {
        self.budget = Arc::new(BufferBudget::new(bytes));
        self
    }

    /// These limits with another body read timeout.
    #[must_use]
    pub fn body_read_timeout(mut self, timeout: Duration) -> Limits {
        self.body_read_timeout = timeout;
        self
    }

    /// The buffer budget's size in bytes.
    pub fn buffer_budget_total(&self) -> usize {
        self.budget.total
    }

    /// The bytes of the buffer budget held by requests being read right now.
    pub fn buffer_budget_in_use(&self) -> usize {
        self.budget.used.load(Ordering::Acquire)
    }

    /// The time a whole body may take to arrive.
    pub fn read_timeout(&self) -> Duration {
        self.body_read_timeout
    }

    /// An empty reservation on the budget, to grow while the body arrives.
    pub(crate) fn reservation(&self) -> Reservation {
        Reservation {
            budget: Arc::clone(&self.budget),
            held: 0,
        }
    }
}

impl Default for Limits {
    /// [`Limits::global`].
    fn default() -> Limits {
        Limits::global()
    }
}

impl fmt::Debug for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limits")
            .field("buffer_budget", &self.budget.total)
            .field("buffer_budget_in_use", &self.buffer_budget_in_use())
            .field("body_read_timeout", &self.body_read_timeout)
            .finish()
    }
}

struct BufferBudget {
    total: usize,
    used: AtomicUsize,
}

impl BufferBudget {
    fn new(total: usize) -> BufferBudget {
        BufferBudget {
            total,
            used: AtomicUsize::new(0),
        }
    }

    fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&after| after <= self.total)
            })
            .is_ok()
    }
}

/// One request's share of the buffer budget; given back on drop.
pub(crate) struct Reservation {
    budget: Arc<BufferBudget>,
    held: usize,
}

impl Reservation {
    /// Grows the share to `bytes` (never shrinks); fails when the budget has not that
    /// much left.
    pub(crate) fn grow_to(&mut self, bytes: usize) -> Result<(), Error> {
        if bytes <= self.held {
            return Ok(());
        }
        let more = bytes - self.held;
        if !self.budget.try_take(more) {
            return Err(Error::BufferBudgetExhausted);
        }
        self.held = bytes;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("held", &self.held)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back() {
        let limits = Limits::global().buffer_budget(100);
        let mut one = limits.reservation();
        let mut two = limits.clone().reservation();
        one.grow_to(60).unwrap();
        one.grow_to(50).unwrap();
        assert_eq!(limits.buffer_budget_in_use(), 60);
        assert_eq!(
            two.grow_to(41).unwrap_err().code(),
            "buffer_budget_exhausted"
        );
        two.grow_to(40).unwrap();
        assert_eq!(limits.buffer_budget_in_use(), 100);
        drop(one);
        assert_eq!(limits.buffer_budget_in_use(), 40);
        drop(two);
        assert_eq!(limits.buffer_budget_in_use(), 0);
        assert_eq!(
            Limits::default().buffer_budget_total(),
            DEFAULT_BUFFER_BUDGET
        );
        assert_eq!(Limits::default().read_timeout(), DEFAULT_BODY_READ_TIMEOUT);
    }
}
