//! What the dispatcher persists: the [`DeliveryStore`] trait and its rows.
//!
//! Over 600 lines: the trait and every type its methods take or return are one
//! contract, read together by whoever writes a store.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::Error;

/// The state of a delivery row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    /// An endpoint answered 2xx.
    Delivered,
    /// Given up: attempts exhausted, a final answer, stale, or the endpoint
    /// disabled or deleted. Kept, and redeliverable.
    Dead,
}

impl DeliveryState {
    /// `pending`, `delivered` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    /// The state named `text`.
    pub fn parse(text: &str) -> Option<DeliveryState> {
        match text {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a delivery is dead.
pub mod dead_reason {
    /// Every attempt failed.
    pub const EXHAUSTED: &str = "exhausted";
    /// The endpoint gave a final (non-retried) answer.
    pub const REJECTED: &str = "rejected";
    /// A MegaBot-scheme-only body older than the receivers' tolerance.
    pub const STALE: &str = "stale";
    /// The destination guard refused the endpoint's address; nothing was sent.
    pub const DESTINATION_REFUSED: &str = "destination_refused";
    /// The endpoint was disabled by its health rule.
    pub const ENDPOINT_DISABLED: &str = "endpoint_disabled";
    /// The endpoint no longer exists.
    pub const ENDPOINT_DELETED: &str = "endpoint_deleted";
    /// The stored row could not be turned into a request.
    pub const INVALID: &str = "invalid";
    /// Imported from a dead-letter file.
    pub const IMPORTED: &str = "imported";
}

/// One delivery of one event to one endpoint, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// `dlv_…`.
    pub id: String,
    /// The event id (`X-MegaBot-Delivery`).
    pub event_id: String,
    /// The event name.
    pub event_name: String,
    /// The event's unix seconds.
    pub event_timestamp: i64,
    /// The exact body bytes sent.
    pub body: Vec<u8>,
    /// The endpoint's id (`cfg_…` or `ep_…`).
    pub endpoint_id: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts counted so far (an attempt cut off by a crash counts; a
    /// `409` does not).
    pub attempts: u32,
    /// When it was published.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
    /// When it is due (pending only).
    pub next_attempt_at: DateTime<Utc>,
    /// Who holds it now.
    pub lease_owner: Option<String>,
    /// Until when.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Why it is dead.
    pub dead_reason: Option<String>,
    /// The status of the last answered attempt.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Since when receivers answer `409` (a copy in flight), if they do.
    pub conflict_since: Option<DateTime<Utc>>,
    /// For a redelivery of a stale delivery with a re-stamped `timestamp`:
    /// the dead delivery it replaces.
    pub restamped_from: Option<String>,
}

impl fmt::Debug for DeliveryRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryRecord")
            .field("id", &self.id)
            .field("event_id", &self.event_id)
            .field("event_name", &self.event_name)
            .field("endpoint_id", &self.endpoint_id)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("lease_owner", &self.lease_owner)
            .field("dead_reason", &self.dead_reason)
            .field("last_status", &self.last_status)
            .field("restamped_from", &self.restamped_from)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// One attempt of a delivery, in its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// 1-based; a `409` answer gets its own row but does not use up an attempt.
    pub attempt: u32,
    /// When it started (recorded before the request is sent).
    pub started_at: DateTime<Utc>,
    /// The answer's status, if any.
    pub status: Option<u16>,
    /// How long it took; `None` for an attempt cut off (by a crash).
    pub duration: Option<Duration>,
    /// Why it failed; `None` when it succeeded or was cut off.
    pub error: Option<String>,
}

/// The outcome of an attempt, written when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The attempt's number, as [`DeliveryStore::lease_started`] or
    /// [`DeliveryStore::begin_attempt`] counted it.
    pub attempt: u32,
    /// The answer's status, if any.
    pub status: Option<u16>,
    /// How long it took.
    pub duration: Duration,
    /// Why it failed.
    pub error: Option<String>,
}

/// How a leased delivery ends its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Delivered.
    Delivered,
    /// Dead, with a reason (see [`dead_reason`]).
    Dead {
        /// Why.
        reason: String,
    },
    /// Pending again, due at `next_attempt_at`; the lease is released.
    Retry {
        /// When it is due.
        next_attempt_at: DateTime<Utc>,
        /// Give back the attempt counted by `begin_attempt` (a `409`).
        refund_attempt: bool,
        /// Since when receivers answer `409`; `None` clears it.
        conflict_since: Option<DateTime<Utc>>,
    },
}

/// One attempt start of a group (see [`DeliveryStore::begin_attempts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptStart {
    /// The delivery.
    pub id: String,
    /// When the attempt starts (recorded before its request is sent).
    pub started_at: DateTime<Utc>,
}

/// One settle of a group (see [`DeliveryStore::settle_many`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleRequest {
    /// The delivery.
    pub id: String,
    /// When it is settled.
    pub now: DateTime<Utc>,
    /// The attempt's outcome; `None` when the attempt started was not made
    /// (its start is taken back).
    pub attempt: Option<AttemptResult>,
    /// How it ends its turn.
    pub settlement: Settlement,
}

/// A publish: every delivery one event implies, stored all or nothing.
#[derive(Debug, Clone)]
pub struct PublishBatch {
    /// The event id; a second publish of it stores nothing.
    pub event_id: String,
    /// When.
    pub now: DateTime<Utc>,
    /// The rows (state `pending`, or `dead` for a disabled endpoint).
    pub deliveries: Vec<DeliveryRecord>,
}

/// What a publish did.
#[derive(Debug, Clone)]
pub struct PublishOutcome {
    /// `false` when the event id was already published (nothing new stored).
    pub created: bool,
    /// The event's deliveries (the existing ones when not created).
    pub deliveries: Vec<DeliveryRecord>,
}

/// Which deliveries to list. Every field narrows the list; ordered by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryQuery {
    /// Only this endpoint's.
    pub endpoint_id: Option<String>,
    /// Only this event's.
    pub event_id: Option<String>,
    /// Only in this state.
    pub state: Option<DeliveryState>,
    /// Published at or after.
    pub since: Option<DateTime<Utc>>,
    /// Published before.
    pub until: Option<DateTime<Utc>>,
    /// Continue after this id (the previous page's `next_cursor`).
    pub cursor: Option<String>,
    /// At most this many (0 means 100; capped at [`MAX_PAGE`]).
    pub limit: usize,
}

/// The largest page a list returns.
pub const MAX_PAGE: usize = 500;

impl DeliveryQuery {
    /// The effective page size.
    pub fn page_size(&self) -> usize {
        match self.limit {
            0 => 100,
            n => n.min(MAX_PAGE),
        }
    }

    /// Whether `record` passes the query's filters (not the cursor).
    pub fn matches(&self, record: &DeliveryRecord) -> bool {
        self.endpoint_id
            .as_deref()
            .is_none_or(|e| e == record.endpoint_id)
            && self
                .event_id
                .as_deref()
                .is_none_or(|e| e == record.event_id)
            && self.state.is_none_or(|s| s == record.state)
            && self.since.is_none_or(|t| record.created_at >= t)
            && self.until.is_none_or(|t| record.created_at < t)
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    /// The deliveries, by id.
    pub deliveries: Vec<DeliveryRecord>,
    /// The cursor of the next page, when there may be one.
    pub next_cursor: Option<String>,
}

/// Counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Pending deliveries.
    pub pending: u64,
    /// Delivered ones still kept.
    pub delivered: u64,
    /// Dead ones still kept.
    pub dead: u64,
}

/// The pending queue, for the queue gauges (docs/design.md section 8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Pending deliveries (leased ones included).
    pub pending: u64,
    /// Since when the oldest pending delivery has waited: when it was
    /// published (or redelivered); `None` when none is pending (or the
    /// store does not know).
    pub oldest_pending_since: Option<DateTime<Utc>>,
}

/// Totals over the ended deliveries a store keeps (its retention): the
/// figures of the guide's `get_stats` (docs/design.md section 9.9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutcomeTotals {
    /// Delivered deliveries kept.
    pub delivered: u64,
    /// Dead deliveries kept.
    pub dead: u64,
    /// Attempts beyond each ended delivery's first (a `409` that did not
    /// use up an attempt is not one).
    pub retries: u64,
    /// Ended deliveries with at least one attempt (the ones
    /// [`OutcomeTotals::delivery_time`] adds up).
    pub attempted: u64,
    /// The sum, over those, of the time from the first attempt to the
    /// outcome.
    pub delivery_time: Duration,
}

impl OutcomeTotals {
    /// Delivered and dead.
    pub fn total(&self) -> u64 {
        self.delivered + self.dead
    }

    /// `delivered / total`, 0 when there is none.
    pub fn success_rate(&self) -> f64 {
        match self.total() {
            0 => 0.0,
            #[allow(clippy::cast_precision_loss)] // counts far below 2^53
            total => self.delivered as f64 / total as f64,
        }
    }

    /// The mean time from the first attempt to the outcome, over the ended
    /// deliveries with an attempt; zero when there is none.
    pub fn average_delivery_time(&self) -> Duration {
        match u32::try_from(self.attempted) {
            Ok(0) => Duration::ZERO,
            Ok(count) => self.delivery_time / count,
            #[allow(clippy::cast_precision_loss)] // only past 2^32 deliveries
            Err(_) => {
                Duration::from_secs_f64(self.delivery_time.as_secs_f64() / self.attempted as f64)
            }
        }
    }
}

/// An endpoint's health, persisted so that a restart neither forgets nor
/// repeats a disable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointHealth {
    /// The first failure since the last success.
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was disabled, if it is.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// An alert incident (design 9.6): one rule broken by one endpoint, kept so
/// that a restart neither repeats its alert nor forgets it. Keyed by
/// `(endpoint_id, rule)`; a resolved incident is kept for its cool-down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    /// The endpoint's id (`cfg_…` or `ep_…`).
    pub endpoint_id: String,
    /// The rule: `failure_rate`, `slow_delivery` or `endpoint_disabled`.
    pub rule: String,
    /// When the rule was first found broken.
    pub opened_at: DateTime<Utc>,
    /// When the rule was last found broken.
    pub last_violation_at: DateTime<Utc>,
    /// When its alert was handed to the channels (`None` while held back by
    /// the cool-down).
    pub alerted_at: Option<DateTime<Utc>>,
    /// When it resolved (`None` while open).
    pub resolved_at: Option<DateTime<Utc>>,
    /// What happened, as the alert said it (no secret, no URL).
    pub detail: String,
}

/// How long rows are kept after they end (design 9.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Delivered rows. Default 7 days.
    pub delivered: Duration,
    /// Dead rows. Default 30 days.
    pub dead: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            delivered: Duration::from_secs(7 * 86_400),
            dead: Duration::from_secs(30 * 86_400),
        }
    }
}

/// Everything the dispatcher persists. Every state change of a leased
/// delivery is conditional on `owner` still holding its lease: it returns
/// `false` (and changes nothing) otherwise.
#[async_trait::async_trait]
pub trait DeliveryStore: Send + Sync + fmt::Debug {
    /// Stores a publish all or nothing; an event id already published stores
    /// nothing and returns its existing deliveries.
    async fn publish(&self, batch: PublishBatch) -> Result<PublishOutcome, Error>;

    /// Leases up to `max` pending deliveries due at `now` (whose lease, if
    /// any, expired) to `owner` for `lease`, skipping `skip_endpoints`.
    async fn lease_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
        skip_endpoints: &[String],
    ) -> Result<Vec<DeliveryRecord>, Error>;

    /// Leases as [`DeliveryStore::lease_due`] does and starts an attempt of
    /// each leased delivery at `now`, as [`DeliveryStore::begin_attempts`]
    /// does: the dispatcher's claim, which attempts what it leases at once.
    /// Each record's `attempts` counts the attempt started. A delivery
    /// whose attempt is then not made (a rate limit, an endpoint gone) is
    /// settled without an attempt, which takes the start back.
    ///
    /// The default leases, then starts; a store that can does both in one
    /// write.
    async fn lease_started(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
        skip_endpoints: &[String],
    ) -> Result<Vec<DeliveryRecord>, Error> {
        let records = self
            .lease_due(owner, now, lease, max, skip_endpoints)
            .await?;
        let starts = records
            .iter()
            .map(|record| AttemptStart {
                id: record.id.clone(),
                started_at: now,
            })
            .collect();
        let numbers = self.begin_attempts(owner, starts).await?;
        Ok(records
            .into_iter()
            .zip(numbers)
            .filter_map(|(mut record, number)| {
                record.attempts = number?;
                record.updated_at = now;
                Some(record)
            })
            .collect())
    }

    /// Extends `owner`'s leases of `ids` to `now + lease`; returns the ids
    /// still held.
    async fn renew_leases(
        &self,
        owner: &str,
        ids: &[String],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<String>, Error>;

    /// Counts and logs an attempt before its request is sent; returns its
    /// number, or `None` when the lease is lost. One start of
    /// [`DeliveryStore::begin_attempts`].
    async fn begin_attempt(
        &self,
        id: &str,
        owner: &str,
        started_at: DateTime<Utc>,
    ) -> Result<Option<u32>, Error> {
        let start = AttemptStart {
            id: id.to_owned(),
            started_at,
        };
        let numbers = self.begin_attempts(owner, vec![start]).await?;
        Ok(numbers.into_iter().next().flatten())
    }

    /// Ends a leased delivery's turn: writes the attempt's outcome and the
    /// settlement, and releases the lease. Without an attempt (`None`: it
    /// was started but not made), the start is taken back: the count and
    /// the log are as they were before it. One request of
    /// [`DeliveryStore::settle_many`].
    async fn settle(
        &self,
        id: &str,
        owner: &str,
        now: DateTime<Utc>,
        attempt: Option<AttemptResult>,
        settlement: Settlement,
    ) -> Result<bool, Error> {
        let request = SettleRequest {
            id: id.to_owned(),
            now,
            attempt,
            settlement,
        };
        let held = self.settle_many(owner, vec![request]).await?;
        Ok(held.first().copied().unwrap_or(false))
    }

    /// Attempt starts of several of `owner`'s leased deliveries at once
    /// (the dispatcher's group commit): one answer per start, in order, each
    /// what [`DeliveryStore::begin_attempt`] answers. Every start is stored
    /// before this returns; a store that can should write them all or none
    /// (on an error the dispatcher gives every lease of the group back).
    async fn begin_attempts(
        &self,
        owner: &str,
        starts: Vec<AttemptStart>,
    ) -> Result<Vec<Option<u32>>, Error>;

    /// Settles of several of `owner`'s leased deliveries at once (the
    /// dispatcher's group commit): one answer per request, in order, each
    /// what [`DeliveryStore::settle`] answers. Every settle is stored before
    /// this returns; a store that can should write them all or none.
    async fn settle_many(
        &self,
        owner: &str,
        requests: Vec<SettleRequest>,
    ) -> Result<Vec<bool>, Error>;

    /// Gives a lease back unchanged, due at `next_attempt_at`.
    async fn release(
        &self,
        id: &str,
        owner: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<bool, Error>;

    /// One delivery.
    async fn get(&self, id: &str) -> Result<Option<DeliveryRecord>, Error>;

    /// A delivery's attempt log, oldest first.
    async fn attempts(&self, id: &str) -> Result<Vec<AttemptRecord>, Error>;

    /// A page of deliveries.
    async fn list(&self, query: &DeliveryQuery) -> Result<DeliveryPage, Error>;

    /// Makes a dead delivery pending again (a fresh set of attempts);
    /// `false` when it is not dead.
    async fn redeliver(&self, id: &str, now: DateTime<Utc>) -> Result<bool, Error>;

    /// Ends every pending delivery to `endpoint_id` as `dead` with `reason`
    /// (an endpoint deleted), leased or not; returns how many.
    async fn kill_pending(
        &self,
        endpoint_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, Error>;

    /// Stores rows as they are (imported dead letters); an id already
    /// stored is kept.
    async fn insert(&self, records: Vec<DeliveryRecord>) -> Result<(), Error>;

    /// Deletes delivered and dead rows older than their retention; returns
    /// how many were deleted.
    async fn purge(&self, now: DateTime<Utc>, retention: Retention) -> Result<u64, Error>;

    /// Counts by state.
    async fn stats(&self) -> Result<StoreStats, Error>;

    /// The pending queue: how many, and since when the oldest waits. Cheap
    /// (the dispatcher reads it every few seconds for its gauges). The
    /// default counts with [`DeliveryStore::stats`] and does not know the
    /// oldest.
    async fn queue_stats(&self) -> Result<QueueStats, Error> {
        Ok(QueueStats {
            pending: self.stats().await?.pending,
            oldest_pending_since: None,
        })
    }

    /// Totals over the ended deliveries kept (read on request, by
    /// `GET /api/stats`). The default counts with [`DeliveryStore::stats`]
    /// and reports no retries and no delivery time.
    async fn outcome_totals(&self) -> Result<OutcomeTotals, Error> {
        let stats = self.stats().await?;
        Ok(OutcomeTotals {
            delivered: stats.delivered,
            dead: stats.dead,
            ..OutcomeTotals::default()
        })
    }

    /// Stores a registered endpoint (an opaque JSON document).
    async fn put_endpoint(&self, id: &str, json: &str) -> Result<(), Error>;

    /// A registered endpoint.
    async fn get_endpoint(&self, id: &str) -> Result<Option<String>, Error>;

    /// Every registered endpoint, by id.
    async fn list_endpoints(&self) -> Result<Vec<(String, String)>, Error>;

    /// Forgets a registered endpoint; `false` when there was none.
    async fn delete_endpoint(&self, id: &str) -> Result<bool, Error>;

    /// An endpoint's health (default when never stored).
    async fn health(&self, endpoint_id: &str) -> Result<EndpointHealth, Error>;

    /// Stores an endpoint's health.
    async fn put_health(&self, endpoint_id: &str, health: EndpointHealth) -> Result<(), Error>;

    /// Every alert incident kept (open, and resolved ones still in their
    /// cool-down). The default keeps none: it is an error, so that the alert
    /// engine says its incidents live in memory only.
    async fn incidents(&self) -> Result<Vec<IncidentRecord>, Error> {
        Err(no_incidents())
    }

    /// Stores an alert incident, replacing the one with the same
    /// `(endpoint_id, rule)`.
    async fn put_incident(&self, incident: &IncidentRecord) -> Result<(), Error> {
        let _ = incident;
        Err(no_incidents())
    }

    /// Forgets an alert incident; `false` when there was none.
    async fn delete_incident(&self, endpoint_id: &str, rule: &str) -> Result<bool, Error> {
        let _ = (endpoint_id, rule);
        Err(no_incidents())
    }
}

fn no_incidents() -> Error {
    Error::Store {
        message: "this store keeps no alert incidents".to_owned(),
    }
}

/// Unix milliseconds of `time`.
#[cfg_attr(not(any(feature = "sqlite", feature = "redis")), allow(dead_code))]
pub(crate) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// The time at unix milliseconds `ms` (clamped, never panics).
#[cfg_attr(not(any(feature = "sqlite", feature = "redis")), allow(dead_code))]
pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(if ms > 0 {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

/// `time + duration`, saturating.
pub(crate) fn after(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| time.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `time - duration`, saturating.
#[cfg_attr(not(any(feature = "sqlite", feature = "redis")), allow(dead_code))]
pub(crate) fn before(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| time.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A store error.
#[cfg_attr(not(any(feature = "sqlite", feature = "redis")), allow(dead_code))]
pub(crate) fn store_error(message: impl fmt::Display) -> Error {
    Error::Store {
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for state in [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Dead,
        ] {
            assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DeliveryState::parse("gone"), None);
    }

    #[test]
    fn times_saturate() {
        let now = from_millis(1_000);
        assert_eq!(millis(after(now, Duration::from_millis(5))), 1_005);
        assert_eq!(after(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(before(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(from_millis(i64::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(from_millis(i64::MIN), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn outcome_totals_rates() {
        let none = OutcomeTotals::default();
        assert_eq!(none.total(), 0);
        assert_eq!(none.success_rate(), 0.0);
        assert_eq!(none.average_delivery_time(), Duration::ZERO);
        let some = OutcomeTotals {
            delivered: 3,
            dead: 1,
            retries: 2,
            attempted: 3,
            delivery_time: Duration::from_secs(9),
        };
        assert_eq!(some.total(), 4);
        assert_eq!(some.success_rate(), 0.75);
        assert_eq!(some.average_delivery_time(), Duration::from_secs(3));
    }

    #[test]
    fn page_sizes() {
        let mut query = DeliveryQuery::default();
        assert_eq!(query.page_size(), 100);
        query.limit = 10_000;
        assert_eq!(query.page_size(), MAX_PAGE);
    }
}
