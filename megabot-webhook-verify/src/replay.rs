//! Replay protection and idempotency (design 4.4): claim a delivery id before the
//! handler runs, then complete it (2xx) or release it (anything else).
//!
//! | state of the id | [`ReplayGuard::claim`] answers |
//! |---|---|
//! | unseen, or its entry expired | [`ClaimOutcome::Claimed`]; the id is now in flight |
//! | in flight | [`ClaimOutcome::InFlight`] (adapters answer 409) |
//! | completed, not yet expired | [`ClaimOutcome::Done`] (adapters answer `200 duplicate`) |
//! | released | like unseen |
//!
//! An entry lives until its `expires_at` (inclusive, whole seconds): the moment its
//! timestamp leaves the tolerance window, after which a copy would be refused as stale
//! anyway. Implement [`ReplayGuard`] for other stores (a Redis guard comes with the
//! `redis` feature).
//!
//! # In-flight leases (design 9.4)
//!
//! An in-flight entry is a lease: it lives [`ReplayGuard::in_flight_ttl`] (default
//! [`DEFAULT_IN_FLIGHT_TTL`], 60 s, for both the memory and the Redis guard) unless
//! renewed, and the running handler's holder renews it every third of that with
//! [`ReplayGuard::renew`] (the adapters do this for you). So a live handler never loses
//! its claim however long it runs, and a claim whose holder died (renewals stopped)
//! expires after at most the TTL, letting the sender's retry run elsewhere long before
//! the id's tolerance window ends. Completed entries keep the full window.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Error;

pub mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;

/// How long an in-flight entry lives without renewal unless the guard is told otherwise
/// (design 9.4): 60 seconds.
pub const DEFAULT_IN_FLIGHT_TTL: Duration = Duration::from_secs(60);

/// Proof of a successful claim, needed to complete or release it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Claim {
    /// The claimed delivery id.
    pub id: String,
    /// The owner token: only the claim holding it may complete or release the id.
    pub token: u128,
    /// Until when the id is remembered.
    pub expires_at: DateTime<Utc>,
}

impl Claim {
    /// Makes a claim (for [`ReplayGuard`] implementations).
    pub fn new(id: impl Into<String>, token: u128, expires_at: DateTime<Utc>) -> Claim {
        Claim {
            id: id.into(),
            token,
            expires_at,
        }
    }
}

/// What [`ReplayGuard::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimOutcome {
    /// The id was unseen (or released, or expired) and is now in flight for this caller.
    Claimed(Claim),
    /// Another request holds the id right now.
    InFlight,
    /// The id was already handled successfully.
    Done,
}

/// A store of delivery ids with claim → complete / release semantics.
///
/// Implementations must be atomic per id: of any number of concurrent claims of one
/// unseen id exactly one gets [`ClaimOutcome::Claimed`]. Failures to reach the store
/// are reported as [`Error::ReplayStoreUnavailable`], a full store as
/// [`Error::ReplayStoreFull`]; both fail closed (503).
#[async_trait]
pub trait ReplayGuard: Send + Sync + fmt::Debug {
    /// Claims `id` until `expires_at`, `now` being the caller's clock.
    async fn claim(
        &self,
        id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, Error>;

    /// Marks a claimed id as done until the claim's `expires_at`. A claim that no longer
    /// owns its id (expired and claimed by someone else) changes nothing.
    async fn complete(&self, claim: &Claim, now: DateTime<Utc>) -> Result<(), Error>;

    /// Forgets a claimed id so that the next claim wins (the handler failed). A claim
    /// that no longer owns its id changes nothing.
    async fn release(&self, claim: &Claim) -> Result<(), Error>;

    /// How long an in-flight entry lives unless renewed with [`ReplayGuard::renew`];
    /// `None` when in-flight entries are no leases (they live until `expires_at`).
    /// Holders renew every third of it. The default implementation returns `None`.
    fn in_flight_ttl(&self) -> Option<Duration> {
        None
    }

    /// Renews the lease of a claim still in flight for another
    /// [`ReplayGuard::in_flight_ttl`] (never past the claim's `expires_at`). Returns
    /// `Ok(false)` when the claim no longer owns its id (its lease lapsed and someone
    /// else claimed it, or it was settled). The default implementation does nothing and
    /// returns `Ok(true)`.
    async fn renew(&self, claim: &Claim, now: DateTime<Utc>) -> Result<bool, Error> {
        let _ = (claim, now);
        Ok(true)
    }
}
