//! The in-memory replay guard: bounded, sharded, expired entries dropped, live ones
//! never evicted.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Claim, ClaimOutcome, DEFAULT_IN_FLIGHT_TTL, ReplayGuard};
use crate::Error;

/// Number of independently locked shards (a power of two).
const SHARDS: usize = 16;

/// A shard whose oldest entry has expired is swept at most this often (seconds)
/// during ordinary claims; a full store sweeps at once.
const SWEEP_INTERVAL_SECS: i64 = 5;

/// The token value that marks a completed id.
const DONE: u64 = 0;

/// An in-process [`ReplayGuard`] holding at most `capacity` live ids.
///
/// Ids are stored as a 128-bit keyed hash (two SipHash-1-3 with random keys), so an
/// entry takes the same few dozen bytes whatever the id's length and ids cannot be
/// chosen to collide. When the store is full, expired entries are dropped first; if it
/// is still full, [`ReplayGuard::claim`] fails with [`Error::ReplayStoreFull`] (live ids
/// are never evicted, so no delivery can be replayed by flooding the store).
///
/// In-flight entries are leases (design 9.4): one lives
/// [`in_flight_ttl`](MemoryReplayGuard::with_in_flight_ttl) (default
/// [`DEFAULT_IN_FLIGHT_TTL`], 60 s, counted in whole seconds) unless its holder renews
/// it, which the adapters do every third of it while the handler runs.
///
/// The store lives in one process: receivers running on several instances need a
/// shared store (Redis).
pub struct MemoryReplayGuard {
    capacity: usize,
    /// Lifetime of an in-flight lease, whole seconds (at least 1).
    in_flight_secs: i64,
    in_flight_ttl: Duration,
    len: AtomicUsize,
    next_token: AtomicU64,
    hash_keys: [RandomState; 2],
    shards: Box<[Mutex<Shard>]>,
}

/// One lock's worth of entries.
#[derive(Default)]
struct Shard {
    entries: HashMap<u128, Entry, BuildHasherDefault<KeyHasher>>,
    /// No entry of this shard expires before this (unix seconds); `i64::MAX` when empty.
    min_expires: i64,
    /// Earliest time (unix seconds) of the next routine sweep.
    next_sweep: i64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Unix seconds; the entry is live while `now <= expires_at`.
    expires_at: i64,
    /// The owner token while in flight, [`DONE`] once completed.
    token: u64,
}

/// Keys are already uniform keyed hashes: use their low 64 bits as the table hash.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u128(&mut self, value: u128) {
        // Keep the low half: the shard index uses the high half.
        self.0 = value as u64;
    }
}

impl MemoryReplayGuard {
    /// A guard that remembers at most `capacity` live ids (`0` refuses every claim).
    pub fn new(capacity: usize) -> MemoryReplayGuard {
        MemoryReplayGuard {
            capacity,
            in_flight_secs: lease_secs(DEFAULT_IN_FLIGHT_TTL),
            in_flight_ttl: DEFAULT_IN_FLIGHT_TTL,
            len: AtomicUsize::new(0),
            next_token: AtomicU64::new(1),
            hash_keys: [RandomState::new(), RandomState::new()],
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        min_expires: i64::MAX,
                        ..Shard::default()
                    })
                })
                .collect(),
        }
    }

    /// Sets how long an in-flight entry lives without renewal (default
    /// [`DEFAULT_IN_FLIGHT_TTL`]; rounded up to whole seconds, at least 1 s).
    #[must_use]
    pub fn with_in_flight_ttl(mut self, ttl: Duration) -> MemoryReplayGuard {
        self.in_flight_secs = lease_secs(ttl);
        self.in_flight_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// The maximum number of ids held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of ids held, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True when no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry that expired before `now`; returns how many were dropped.
    pub fn purge_expired(&self, now: DateTime<Utc>) -> usize {
        let now = now.timestamp();
        self.shards
            .iter()
            .map(|shard| sweep(&mut lock(shard), now, &self.len))
            .sum()
    }

    fn key(&self, id: &str) -> u128 {
        let [first, second] = &self.hash_keys;
        let mut high = first.build_hasher();
        high.write(id.as_bytes());
        let mut low = second.build_hasher();
        low.write(id.as_bytes());
        (u128::from(high.finish()) << 64) | u128::from(low.finish())
    }

    fn shard(&self, key: u128) -> &Mutex<Shard> {
        // The high half is uniform; its top bits pick the shard.
        let index = (key >> (128 - SHARDS.trailing_zeros())) as usize;
        &self.shards[index % SHARDS]
    }

    fn claim_sync(&self, id: &str, expires_at: i64, now: i64) -> Result<ClaimOutcome, Error> {
        let key = self.key(id);
        let shard = self.shard(key);
        for attempt in 0..2 {
            {
                let mut shard = lock(shard);
                if now >= shard.next_sweep && shard.min_expires < now {
                    sweep(&mut shard, now, &self.len);
                    shard.next_sweep = now.saturating_add(SWEEP_INTERVAL_SECS);
                }
                let token = match shard.entries.get(&key) {
                    Some(entry) if entry.expires_at >= now => {
                        return Ok(if entry.token == DONE {
                            ClaimOutcome::Done
                        } else {
                            ClaimOutcome::InFlight
                        });
                    }
                    // An expired entry is unseen: reuse its slot.
                    Some(_) => self.new_token(),
                    None if self.reserve_slot() => self.new_token(),
                    None => {
                        if attempt > 0 {
                            return Err(Error::ReplayStoreFull);
                        }
                        // Full: drop expired entries everywhere (without holding this
                        // shard's lock), then try once more.
                        drop(shard);
                        self.purge_all_expired(now);
                        continue;
                    }
                };
                let lease_ends = expires_at.min(now.saturating_add(self.in_flight_secs));
                shard.entries.insert(
                    key,
                    Entry {
                        expires_at: lease_ends,
                        token,
                    },
                );
                shard.min_expires = shard.min_expires.min(lease_ends);
                return Ok(ClaimOutcome::Claimed(Claim::new(
                    id,
                    u128::from(token),
                    timestamp_to_datetime(expires_at),
                )));
            }
        }
        Err(Error::ReplayStoreFull)
    }

    fn complete_sync(&self, claim: &Claim, now: i64) {
        let Some(token) = owned_token(claim) else {
            return;
        };
        let key = self.key(&claim.id);
        let mut shard = lock(self.shard(key));
        let Some(entry) = shard.entries.get_mut(&key) else {
            return;
        };
        if entry.token != token {
            return;
        }
        let window_ends = claim.expires_at.timestamp();
        if window_ends < now {
            shard.entries.remove(&key);
            self.len.fetch_sub(1, Ordering::Relaxed);
        } else {
            // Done entries keep the id's whole window (the lease may have been shorter).
            entry.token = DONE;
            entry.expires_at = window_ends;
        }
    }

    fn renew_sync(&self, claim: &Claim, now: i64) -> bool {
        let Some(token) = owned_token(claim) else {
            return false;
        };
        let key = self.key(&claim.id);
        let mut shard = lock(self.shard(key));
        let Some(entry) = shard.entries.get_mut(&key) else {
            return false;
        };
        if entry.token != token {
            return false;
        }
        entry.expires_at = claim
            .expires_at
            .timestamp()
            .min(now.saturating_add(self.in_flight_secs));
        true
    }

    fn release_sync(&self, claim: &Claim) {
        let Some(token) = owned_token(claim) else {
            return;
        };
        let key = self.key(&claim.id);
        let mut shard = lock(self.shard(key));
        if shard
            .entries
            .get(&key)
            .is_some_and(|entry| entry.token == token)
        {
            shard.entries.remove(&key);
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Sweeps the shards that hold at least one expired entry.
    fn purge_all_expired(&self, now: i64) {
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            if shard.min_expires < now {
                sweep(&mut shard, now, &self.len);
            }
        }
    }

    /// Takes one slot of the capacity, if any is left.
    fn reserve_slot(&self) -> bool {
        self.len
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |len| {
                (len < self.capacity).then_some(len + 1)
            })
            .is_ok()
    }

    fn new_token(&self) -> u64 {
        // Starts at 1 and would need 2^64 claims to wrap back to DONE.
        self.next_token.fetch_add(1, Ordering::Relaxed)
    }
}

/// The memory guard's own token inside a claim, if the claim can be one of ours.
fn owned_token(claim: &Claim) -> Option<u64> {
    u64::try_from(claim.token)
        .ok()
        .filter(|&token| token != DONE)
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // Nothing panics while holding the lock; if something did, the map is still sound.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Drops the shard's expired entries; returns how many.
fn sweep(shard: &mut Shard, now: i64, len: &AtomicUsize) -> usize {
    let before = shard.entries.len();
    let mut min_expires = i64::MAX;
    shard.entries.retain(|_, entry| {
        let live = entry.expires_at >= now;
        if live {
            min_expires = min_expires.min(entry.expires_at);
        }
        live
    });
    shard.min_expires = min_expires;
    let removed = before - shard.entries.len();
    len.fetch_sub(removed, Ordering::Relaxed);
    let held = shard.entries.len();
    if shard.entries.capacity() > 4 * held.max(64) {
        shard.entries.shrink_to(2 * held);
    }
    removed
}

fn timestamp_to_datetime(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(if secs < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

impl fmt::Debug for MemoryReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayGuard")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ReplayGuard for MemoryReplayGuard {
    async fn claim(
        &self,
        id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, Error> {
        self.claim_sync(id, expires_at.timestamp(), now.timestamp())
    }

    async fn complete(&self, claim: &Claim, now: DateTime<Utc>) -> Result<(), Error> {
        self.complete_sync(claim, now.timestamp());
        Ok(())
    }

    async fn release(&self, claim: &Claim) -> Result<(), Error> {
        self.release_sync(claim);
        Ok(())
    }

    fn in_flight_ttl(&self) -> Option<Duration> {
        Some(self.in_flight_ttl)
    }

    async fn renew(&self, claim: &Claim, now: DateTime<Utc>) -> Result<bool, Error> {
        Ok(self.renew_sync(claim, now.timestamp()))
    }
}

/// A lease time in whole seconds, rounded up, at least 1.
fn lease_secs(ttl: Duration) -> i64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn claim(
        guard: &MemoryReplayGuard,
        id: &str,
        expires: i64,
        now: i64,
    ) -> Result<ClaimOutcome, Error> {
        guard.claim_sync(id, expires, now)
    }

    fn claimed(outcome: Result<ClaimOutcome, Error>) -> Claim {
        match outcome {
            Ok(ClaimOutcome::Claimed(claim)) => claim,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    #[test]
    fn claim_complete_release_cycle() {
        let guard = MemoryReplayGuard::new(10);
        let first = claimed(claim(&guard, "evt_1", 400, 100));
        assert_eq!(first.id, "evt_1");
        assert_eq!(first.expires_at, at(400));
        assert_eq!(
            claim(&guard, "evt_1", 400, 101).unwrap(),
            ClaimOutcome::InFlight
        );
        guard.release_sync(&first);
        assert!(guard.is_empty());
        let second = claimed(claim(&guard, "evt_1", 400, 102));
        assert_ne!(second.token, first.token);
        // The stale claim no longer owns the id.
        guard.release_sync(&first);
        guard.complete_sync(&first, 102);
        assert_eq!(
            claim(&guard, "evt_1", 400, 103).unwrap(),
            ClaimOutcome::InFlight
        );
        guard.complete_sync(&second, 103);
        assert_eq!(
            claim(&guard, "evt_1", 400, 104).unwrap(),
            ClaimOutcome::Done
        );
        // Releasing a completed id changes nothing.
        guard.release_sync(&second);
        assert_eq!(
            claim(&guard, "evt_1", 400, 400).unwrap(),
            ClaimOutcome::Done
        );
        // Expired: unseen again.
        claimed(claim(&guard, "evt_1", 800, 401));
        assert_eq!(guard.len(), 1);
    }

    #[test]
    fn full_store_drops_expired_but_never_live_entries() {
        let guard = MemoryReplayGuard::new(3);
        for id in ["a", "b", "c"] {
            claimed(claim(&guard, id, 200, 100));
        }
        assert!(matches!(
            claim(&guard, "d", 200, 100),
            Err(Error::ReplayStoreFull)
        ));
        assert_eq!(
            claim(&guard, "a", 200, 150).unwrap(),
            ClaimOutcome::InFlight
        );
        assert_eq!(guard.len(), 3);
        // Once they expire, they make room (the sweep that made room may have
        // reached only some shards: the ids' shards depend on a random hash key).
        claimed(claim(&guard, "d", 500, 201));
        guard.purge_expired(at(201));
        assert_eq!(guard.len(), 1);
        assert_eq!(guard.purge_expired(at(600)), 1);
        assert!(guard.is_empty());
    }

    #[test]
    fn zero_capacity_refuses_everything() {
        let guard = MemoryReplayGuard::new(0);
        assert!(matches!(
            claim(&guard, "a", 200, 100),
            Err(Error::ReplayStoreFull)
        ));
    }

    #[test]
    fn foreign_tokens_are_ignored() {
        let guard = MemoryReplayGuard::new(3);
        claimed(claim(&guard, "a", 200, 100));
        guard.release_sync(&Claim::new("a", u128::MAX, at(200)));
        guard.release_sync(&Claim::new("a", 0, at(200)));
        guard.complete_sync(&Claim::new("a", 0, at(200)), 100);
        assert_eq!(
            claim(&guard, "a", 200, 100).unwrap(),
            ClaimOutcome::InFlight
        );
    }

    #[test]
    fn keys_differ_between_ids_and_guards() {
        let one = MemoryReplayGuard::new(1);
        let two = MemoryReplayGuard::new(1);
        assert_ne!(one.key("a"), one.key("b"));
        assert_eq!(one.key("a"), one.key("a"));
        assert_ne!(one.key("a"), two.key("a"));
    }

    #[test]
    fn in_flight_entries_are_leases_renewed_by_their_holder() {
        let guard = MemoryReplayGuard::new(10).with_in_flight_ttl(Duration::from_secs(10));
        let held = claimed(claim(&guard, "evt_lease", 1000, 100));
        // Renewed: still in flight long after the first lease would have ended.
        for now in [105, 112, 119] {
            assert!(guard.renew_sync(&held, now));
            assert_eq!(
                claim(&guard, "evt_lease", 1000, now + 1).unwrap(),
                ClaimOutcome::InFlight
            );
        }
        // The holder died: renewals stop, and the lease ends 10 s after the last one.
        assert_eq!(
            claim(&guard, "evt_lease", 1000, 129).unwrap(),
            ClaimOutcome::InFlight
        );
        let retry = claimed(claim(&guard, "evt_lease", 1000, 130));
        assert!(
            !guard.renew_sync(&held, 131),
            "the dead holder lost its claim"
        );
        // Completing keeps the whole window.
        guard.complete_sync(&retry, 131);
        assert_eq!(
            claim(&guard, "evt_lease", 1000, 900).unwrap(),
            ClaimOutcome::Done
        );
    }

    #[test]
    fn the_default_lease_is_sixty_seconds() {
        let guard = MemoryReplayGuard::new(10);
        assert_eq!(guard.in_flight_ttl(), Some(DEFAULT_IN_FLIGHT_TTL));
        claimed(claim(&guard, "evt_default", 1000, 100));
        assert_eq!(
            claim(&guard, "evt_default", 1000, 160).unwrap(),
            ClaimOutcome::InFlight
        );
        claimed(claim(&guard, "evt_default", 1000, 161));
    }

    #[test]
    fn debug_shows_size_only() {
        let guard = MemoryReplayGuard::new(5);
        claimed(claim(&guard, "secret-looking-id", 200, 100));
        let text = format!("{guard:?}");
        assert!(
            text.contains("capacity: 5") && text.contains("len: 1"),
            "{text}"
        );
        assert!(!text.contains("secret-looking-id"));
    }
}
