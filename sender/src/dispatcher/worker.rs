//! The workers: lease due deliveries, attempt them, settle them; renew leases.
//!
//! Over 600 lines: scheduling, the attempt and its settlement, and the per-endpoint
//! limits and health they consult are one loop, changed together.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::StoreKey;
use super::group::Groups;
use super::observer::{DeliveryObserver, DeliveryOutcome};
use super::store::{
    AttemptResult, DeliveryRecord, DeliveryStore, EndpointHealth, Retention, SettleRequest,
    Settlement, after, dead_reason,
};
use super::{check_limits, record_delivery};
use crate::Error;
use crate::Resolver;
use crate::attempts::{Runtime, send_attempt};
use crate::endpoint::CompiledEndpoint;
use crate::metrics::{EndpointLabels, attempt_outcome, names, record_attempt, record_outcome};
use crate::retry::{self, Verdict};
use crate::signed_headers::RequestSigner;

/// What the dispatcher's tasks share.
pub(super) struct Shared {
    pub(super) store: Arc<dyn DeliveryStore>,
    /// Seals registered endpoints in the store (`MEGABOT_STORE_KEY`).
    pub(super) store_key: Option<StoreKey>,
    pub(super) enabled: bool,
    /// The resolver behind the guarded one of the HTTP client.
    pub(super) resolver: Arc<dyn Resolver>,
    /// Signs for endpoints without a `secret` of their own.
    pub(super) default_secrets: Vec<megabot_webhook_verify::Secret>,
    pub(super) default_dead_letter_keys: Vec<crate::dead_letter::DeadLetterKey>,
    /// Config endpoints first, then the ones added at run time.
    pub(super) endpoints: std::sync::RwLock<Vec<Arc<EndpointRuntime>>>,
    pub(super) runtime: Runtime,
    pub(super) owner: String,
    pub(super) workers: usize,
    pub(super) lease: Duration,
    pub(super) poll_interval: Duration,
    pub(super) in_flight_wait: Duration,
    pub(super) stale_after: Duration,
    pub(super) disable_after: Duration,
    pub(super) retention: Retention,
    pub(super) purge_interval: Duration,
    /// Told of final outcomes and disabled endpoints (alerting).
    pub(super) observer: Option<Arc<dyn DeliveryObserver>>,
    /// Something may be due (a publish, a redelivery, a free worker).
    pub(super) wake: Notify,
    /// `Some(deadline)` once shutting down.
    pub(super) stop: watch::Sender<Option<Duration>>,
    /// The deliveries being attempted.
    pub(super) in_flight: Mutex<HashSet<String>>,
    pub(super) sequence: AtomicU64,
    pub(super) running: AtomicUsize,
    /// The `endpoint` labels of the metrics (at most `metrics_endpoint_limit`).
    pub(super) labels: EndpointLabels,
    /// How often the queue gauges are refreshed from the store.
    pub(super) metrics_interval: Duration,
    /// The attempt starts and settles written to the store in groups.
    pub(super) groups: Groups,
}

impl Shared {
    pub(super) fn endpoint(&self, id: &str) -> Option<Arc<EndpointRuntime>> {
        self.endpoint_list().into_iter().find(|e| e.id == id)
    }

    /// A snapshot of the endpoints.
    pub(super) fn endpoint_list(&self) -> Vec<Arc<EndpointRuntime>> {
        self.endpoints
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn in_flight(&self) -> MutexGuard<'_, HashSet<String>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> DateTime<Utc> {
        self.runtime.clock.now()
    }
}

/// One endpoint as the dispatcher runs it: its checked config, limits and health.
pub(super) struct EndpointRuntime {
    pub(super) id: String,
    pub(super) compiled: CompiledEndpoint,
    max_in_flight: usize,
    running: AtomicUsize,
    rate: Option<Mutex<Bucket>>,
    health: Mutex<EndpointHealth>,
}

impl EndpointRuntime {
    pub(super) fn new(
        id: String,
        compiled: CompiledEndpoint,
        key: &str,
        health: EndpointHealth,
    ) -> Result<EndpointRuntime, Error> {
        let (max_in_flight, rate) = check_limits(&compiled, key)?;
        Ok(EndpointRuntime {
            id,
            compiled,
            max_in_flight,
            running: AtomicUsize::new(0),
            rate: rate.map(|rate| Mutex::new(Bucket::new(rate))),
            health: Mutex::new(health),
        })
    }

    fn health(&self) -> MutexGuard<'_, EndpointHealth> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn is_disabled(&self) -> bool {
        self.health().disabled_at.is_some()
    }

    pub(super) fn set_health(&self, health: EndpointHealth) {
        *self.health() = health;
    }

    /// No attempt can start now: at its in-flight limit or out of tokens.
    fn saturated(&self, now: DateTime<Utc>) -> bool {
        self.running.load(Ordering::Relaxed) >= self.max_in_flight
            || self.rate.as_ref().is_some_and(|bucket| {
                bucket
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .ready_at(now)
                    .is_some()
            })
    }

    /// Takes a token of the rate limit, or says when the next one comes.
    fn take_token(&self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        match &self.rate {
            None => Ok(()),
            Some(bucket) => bucket
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(now),
        }
    }

    /// Notes a failed attempt; returns the health to store when it changed,
    /// and whether the endpoint was disabled now.
    fn fail(&self, now: DateTime<Utc>, disable_after: Duration) -> Option<(EndpointHealth, bool)> {
        let mut health = self.health();
        if health.disabled_at.is_some() {
            return None;
        }
        match health.failing_since {
            None => {
                health.failing_since = Some(now);
                Some((*health, false))
            }
            Some(since) if after(since, disable_after) <= now => {
                health.disabled_at = Some(now);
                Some((*health, true))
            }
            Some(_) => None,
        }
    }

    /// Notes a success; returns the health to store when it changed.
    fn succeed(&self) -> Option<EndpointHealth> {
        let mut health = self.health();
        if *health == EndpointHealth::default() {
            return None;
        }
        *health = EndpointHealth::default();
        Some(*health)
    }
}

/// A token bucket: `rate` tokens per second, holding at most `max(rate, 1)`.
/// Times come from the dispatcher's clock, so tests drive it exactly.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    at: Option<DateTime<Utc>>,
}

impl Bucket {
    fn new(rate: f64) -> Bucket {
        let capacity = rate.max(1.0);
        Bucket {
            rate,
            capacity,
            tokens: capacity,
            at: None,
        }
    }

    fn refill(&mut self, now: DateTime<Utc>) {
        if let Some(at) = self.at {
            if now > at {
                let elapsed = (now - at).to_std().unwrap_or(Duration::ZERO).as_secs_f64();
                self.tokens = elapsed.mul_add(self.rate, self.tokens).min(self.capacity);
                self.at = Some(now);
            }
        } else {
            self.at = Some(now);
        }
    }

    /// `None` when a token is there, else when the next one comes.
    fn ready_at(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.refill(now);
        if self.tokens >= 1.0 {
            None
        } else {
            let wait = (1.0 - self.tokens) / self.rate;
            Some(after(now, retry::seconds(wait)))
        }
    }

    fn take(&mut self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        match self.ready_at(now) {
            None => {
                self.tokens -= 1.0;
                Ok(())
            }
            Some(at) => Err(at),
        }
    }
}

/// Counts an attempt in flight for as long as it lives (even when aborted).
struct InFlight {
    shared: Arc<Shared>,
    id: String,
    endpoint: Option<Arc<EndpointRuntime>>,
}

impl InFlight {
    fn new(shared: &Arc<Shared>, id: &str, endpoint: Option<Arc<EndpointRuntime>>) -> InFlight {
        shared.in_flight().insert(id.to_owned());
        shared.running.fetch_add(1, Ordering::Relaxed);
        if let Some(endpoint) = &endpoint {
            endpoint.running.fetch_add(1, Ordering::Relaxed);
        }
        InFlight {
            shared: shared.clone(),
            id: id.to_owned(),
            endpoint,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.in_flight().remove(&self.id);
        self.shared.running.fetch_sub(1, Ordering::Relaxed);
        if let Some(endpoint) = &self.endpoint {
            endpoint.running.fetch_sub(1, Ordering::Relaxed);
        }
        self.shared.wake.notify_one();
    }
}

/// Leases due deliveries while workers are free and runs them, until shutdown.
///
/// Claims are batched under load: once a lease came back full (more is
/// due than workers were free), the next one waits until a quarter of the
/// workers are free, so that one store round trip claims many deliveries
/// rather than one per finished attempt. It waits for attempts to finish,
/// never on a timer; when the queue is caught up, any free worker leases
/// at once.
pub(super) async fn schedule(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    let mut tasks = JoinSet::new();
    let claim_batch = (shared.workers / 4).max(1);
    let mut backlog = false;
    loop {
        if stop.borrow().is_some() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let free = shared.workers.saturating_sub(tasks.len());
        let mut leased = 0;
        let claim = if backlog { claim_batch } else { 1 };
        if free >= claim {
            let now = shared.now();
            let skip: Vec<String> = shared
                .endpoint_list()
                .iter()
                .filter(|e| e.saturated(now))
                .map(|e| e.id.clone())
                .collect();
            match shared
                .store
                .lease_started(&shared.owner, now, shared.lease, free, &skip)
                .await
            {
                Ok(records) => {
                    leased = records.len();
                    backlog = leased >= free;
                    for record in records {
                        let endpoint = shared.endpoint(&record.endpoint_id);
                        if endpoint
                            .as_ref()
                            .is_some_and(|e| e.running.load(Ordering::Relaxed) >= e.max_in_flight)
                        {
                            let due = not_made(&record, record.next_attempt_at);
                            let _ = settle_not_made(&shared, &record, now, due).await;
                            continue;
                        }
                        let guard = InFlight::new(&shared, &record.id, endpoint.clone());
                        tasks.spawn(process(shared.clone(), record, endpoint, guard));
                    }
                }
                Err(error) => {
                    tracing::warn!(code = error.code(), %error, "webhook dispatcher cannot lease deliveries");
                }
            }
        }
        if leased == 0 || tasks.len() >= shared.workers || free < claim {
            tokio::select! {
                () = shared.wake.notified() => {}
                () = tokio::time::sleep(shared.poll_interval) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = stop.changed() => {}
            }
        }
    }
    let deadline = (*stop.borrow()).unwrap_or_default();
    let _ = tokio::time::timeout(deadline, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    // Attempts cut off by the deadline: their leases are given back (the
    // attempt already counts); they are due again at once.
    let left: Vec<String> = shared.in_flight().iter().cloned().collect();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let now = shared.now();
    for id in left {
        let _ = shared.store.release(&id, &shared.owner, now).await;
    }
}

/// Renews the leases of the attempts in flight every third of the lease,
/// and reloads the endpoints' health from the store (another instance
/// sharing it may have disabled or enabled one).
pub(super) async fn renew(shared: Arc<Shared>) {
    let every = shared.lease / 3;
    let mut next_purge = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_purge {
            next_purge += shared.purge_interval;
            match shared.store.purge(shared.now(), shared.retention).await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::info!(deleted, "webhook deliveries purged after their retention");
                }
                Err(error) => {
                    tracing::warn!(code = error.code(), %error, "webhook deliveries not purged");
                }
            }
        }
        tokio::time::sleep(every).await;
        for endpoint in shared.endpoint_list() {
            match shared.store.health(&endpoint.id).await {
                Ok(health) => endpoint.set_health(health),
                Err(error) => {
                    tracing::debug!(code = error.code(), %error, "webhook endpoint health not reloaded");
                }
            }
        }
        let ids: Vec<String> = shared.in_flight().iter().cloned().collect();
        if ids.is_empty() {
            continue;
        }
        match shared
            .store
            .renew_leases(&shared.owner, &ids, shared.now(), shared.lease)
            .await
        {
            Ok(held) if held.len() < ids.len() => {
                tracing::warn!(
                    lost = ids.len() - held.len(),
                    "webhook dispatcher lost leases (taken over after they expired)"
                );
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "webhook dispatcher cannot renew leases");
            }
        }
    }
}

/// Refreshes the queue gauges (pending deliveries, age of the oldest,
/// endpoints disabled) from the store every `metrics_interval`, until
/// aborted: a cheap store query, never one per delivery.
pub(super) async fn gauges(shared: Arc<Shared>) {
    loop {
        refresh_gauges(&shared).await;
        tokio::time::sleep(shared.metrics_interval).await;
    }
}

/// Reads the queue from the store once and sets the gauges.
pub(super) async fn refresh_gauges(shared: &Shared) {
    let disabled = shared
        .endpoint_list()
        .iter()
        .filter(|e| e.is_disabled())
        .count();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^53
    metrics::gauge!(names::ENDPOINTS_DISABLED).set(disabled as f64);
    match shared.store.queue_stats().await {
        Ok(queue) => {
            let age = queue.oldest_pending_since.map_or(0.0, |since| {
                (shared.now() - since)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .as_secs_f64()
            });
            #[allow(clippy::cast_precision_loss)] // counts far below 2^53
            metrics::gauge!(names::QUEUE_DEPTH).set(queue.pending as f64);
            metrics::gauge!(names::OLDEST_PENDING_AGE).set(age);
        }
        Err(error) => {
            tracing::debug!(code = error.code(), %error, "webhook queue gauges not refreshed");
        }
    }
}

async fn process(
    shared: Arc<Shared>,
    record: DeliveryRecord,
    endpoint: Option<Arc<EndpointRuntime>>,
    guard: InFlight,
) {
    let span = tracing::info_span!(
        "webhook_delivery_attempt",
        delivery = %record.id,
        event = %record.event_name,
        endpoint = %record.endpoint_id,
        attempt = tracing::field::Empty,
    );
    let result =
        tracing::Instrument::instrument(attempt(&shared, &record, endpoint.as_deref()), span).await;
    if let Err(error) = result {
        tracing::warn!(
            code = error.code(),
            %error,
            delivery = %record.id,
            "webhook dispatcher store error, the delivery will be attempted again"
        );
        let retry_at = after(shared.now(), shared.poll_interval);
        let _ = shared
            .store
            .release(&record.id, &shared.owner, retry_at)
            .await;
    }
    drop(guard);
}

/// The settlement of a leased delivery whose attempt was not made (settled
/// with no attempt, its start is taken back): due again at `next`.
fn not_made(record: &DeliveryRecord, next: DateTime<Utc>) -> Settlement {
    Settlement::Retry {
        next_attempt_at: next,
        refund_attempt: false,
        conflict_since: record.conflict_since,
    }
}

/// Settles a leased delivery whose started attempt was not made: the
/// start is taken back (a settle without an attempt); `false` when the
/// lease was lost.
async fn settle_not_made(
    shared: &Shared,
    record: &DeliveryRecord,
    now: DateTime<Utc>,
    settlement: Settlement,
) -> Result<bool, Error> {
    shared
        .groups
        .settles
        .submit(SettleRequest {
            id: record.id.clone(),
            now,
            attempt: None,
            settlement,
        })
        .await
}

/// Ends a delivery without an attempt (the attempt its lease started is
/// taken back).
async fn settle_dead(shared: &Shared, record: &DeliveryRecord, reason: &str) -> Result<(), Error> {
    tracing::warn!(
        delivery = %record.id,
        event = %record.event_id,
        endpoint = %record.endpoint_id,
        reason,
        "webhook delivery dead"
    );
    let now = shared.now();
    let settlement = Settlement::Dead {
        reason: reason.to_owned(),
    };
    let held = settle_not_made(shared, record, now, settlement.clone()).await?;
    if held {
        record_outcome(&shared.labels.label(&record.endpoint_id), Some(reason), 1);
        notify_outcome(
            shared,
            record,
            &settlement,
            record.attempts.saturating_sub(1),
            now,
        );
    }
    Ok(())
}

/// Tells the observer, if any, that `record` reached its outcome.
fn notify_outcome(
    shared: &Shared,
    record: &DeliveryRecord,
    settlement: &Settlement,
    attempts: u32,
    at: DateTime<Utc>,
) {
    let Some(observer) = &shared.observer else {
        return;
    };
    let (state, dead_reason) = match settlement {
        Settlement::Delivered => (super::DeliveryState::Delivered, None),
        Settlement::Dead { reason } => (super::DeliveryState::Dead, Some(reason.clone())),
        Settlement::Retry { .. } => return,
    };
    observer.outcome(&DeliveryOutcome {
        delivery_id: record.id.clone(),
        endpoint_id: record.endpoint_id.clone(),
        event_name: record.event_name.clone(),
        state,
        dead_reason,
        attempts,
        published_at: record.created_at,
        at,
    });
}

async fn attempt(
    shared: &Shared,
    record: &DeliveryRecord,
    endpoint: Option<&EndpointRuntime>,
) -> Result<(), Error> {
    // An endpoint unknown here may have been registered through another
    // instance sharing the store: it is dead only if the store has none.
    let adopted;
    let endpoint = match endpoint {
        Some(endpoint) => Some(endpoint),
        None => {
            adopted = shared.adopt_stored_endpoint(&record.endpoint_id).await;
            adopted.as_deref()
        }
    };
    let now = shared.now();
    let Some(endpoint) = endpoint else {
        return settle_dead(shared, record, dead_reason::ENDPOINT_DELETED).await;
    };
    if endpoint.is_disabled() {
        return settle_dead(shared, record, dead_reason::ENDPOINT_DISABLED).await;
    }
    let Ok(delivery) = record_delivery(record) else {
        return settle_dead(shared, record, dead_reason::INVALID).await;
    };
    let compiled = &endpoint.compiled;
    let stale_after = i64::try_from(shared.stale_after.as_secs()).unwrap_or(i64::MAX);
    if compiled.standard_secrets.is_empty()
        && compiled.standard_signing_key.is_none()
        && now.timestamp().saturating_sub(record.event_timestamp) > stale_after
    {
        return settle_dead(shared, record, dead_reason::STALE).await;
    }
    if let Err(next) = endpoint.take_token(now) {
        settle_not_made(shared, record, now, not_made(record, next)).await?;
        return Ok(());
    }
    // Started (counted and logged) with the lease.
    let number = record.attempts;
    tracing::Span::current().record("attempt", number);
    let signer = RequestSigner {
        delivery: &delivery,
        configured: &compiled.headers,
        megabot: &compiled.megabot_secrets,
        standard: &compiled.standard_secrets,
        standard_signing_key: compiled.standard_signing_key.as_ref(),
    };
    let policy = &compiled.policy;
    let max_delay = retry::seconds(policy.max_delay);
    let (report, verdict) = send_attempt(
        &shared.runtime,
        compiled,
        &signer,
        &delivery,
        number,
        max_delay,
    )
    .await;
    let now = shared.now();
    let label = shared.labels.label(&endpoint.id);
    record_attempt(
        &label,
        attempt_outcome(
            report.status,
            report.error.as_deref(),
            verdict == Verdict::Refused,
        ),
        number,
        report.duration,
    );
    let result = AttemptResult {
        attempt: number,
        status: report.status,
        duration: report.duration,
        error: report.error.clone(),
    };
    let conflict_since = record.conflict_since.unwrap_or(now);
    let settlement = match verdict {
        Verdict::Delivered => {
            if let Some(health) = endpoint.succeed() {
                store_health(shared, endpoint, health).await;
            }
            Settlement::Delivered
        }
        Verdict::Retry
            if report.status == Some(409) && after(conflict_since, shared.in_flight_wait) > now =>
        {
            let wait = report
                .retry_after
                .unwrap_or_else(|| retry::backoff_delay(policy, 1));
            Settlement::Retry {
                next_attempt_at: after(now, wait),
                refund_attempt: true,
                conflict_since: Some(conflict_since),
            }
        }
        Verdict::Final => {
            failed(shared, endpoint, now).await;
            Settlement::Dead {
                reason: dead_reason::REJECTED.to_owned(),
            }
        }
        Verdict::Refused => {
            failed(shared, endpoint, now).await;
            Settlement::Dead {
                reason: dead_reason::DESTINATION_REFUSED.to_owned(),
            }
        }
        Verdict::Retry if number >= policy.max_attempts.max(1) => {
            failed(shared, endpoint, now).await;
            Settlement::Dead {
                reason: dead_reason::EXHAUSTED.to_owned(),
            }
        }
        Verdict::Retry => {
            failed(shared, endpoint, now).await;
            let wait = report.retry_after.unwrap_or_else(|| {
                let delay = retry::backoff_delay(policy, number);
                if policy.jitter {
                    retry::with_jitter(delay, shared.runtime.random.next_f64())
                } else {
                    delay
                }
            });
            Settlement::Retry {
                next_attempt_at: after(now, wait),
                refund_attempt: false,
                // A 409 past in_flight_wait keeps its start: later ones count too.
                conflict_since: (report.status == Some(409)).then_some(conflict_since),
            }
        }
    };
    if let Settlement::Dead { reason } = &settlement {
        tracing::warn!(
            delivery = %record.id,
            event = %record.event_id,
            endpoint = %endpoint.id,
            attempts = number,
            status = report.status,
            reason = %reason,
            "webhook delivery dead"
        );
    }
    let outcome = shared.observer.is_some().then(|| settlement.clone());
    let ended = match &settlement {
        Settlement::Delivered => Some(None),
        Settlement::Dead { reason } => Some(Some(reason.clone())),
        Settlement::Retry { .. } => None,
    };
    let held = shared
        .groups
        .settles
        .submit(SettleRequest {
            id: record.id.clone(),
            now,
            attempt: Some(result),
            settlement,
        })
        .await?;
    if held && let Some(reason) = ended {
        record_outcome(&label, reason.as_deref(), 1);
    }
    if let Some(settlement) = outcome.filter(|_| held) {
        notify_outcome(shared, record, &settlement, number, now);
    }
    if !held {
        tracing::warn!(delivery = %record.id, "webhook delivery lease lost before its outcome was stored");
    }
    Ok(())
}

async fn failed(shared: &Shared, endpoint: &EndpointRuntime, now: DateTime<Utc>) {
    if let Some((health, disabled)) = endpoint.fail(now, shared.disable_after) {
        if disabled {
            metrics::counter!(
                names::ENDPOINT_DISABLED,
                "endpoint" => shared.labels.label(&endpoint.id)
            )
            .increment(1);
            tracing::warn!(
                endpoint = %endpoint.id,
                disable_after_s = shared.disable_after.as_secs(),
                "webhook endpoint disabled: every attempt failed for disable_after"
            );
            if let Some(observer) = &shared.observer {
                observer.endpoint_disabled(&endpoint.id, now);
            }
        }
        store_health(shared, endpoint, health).await;
    }
}

async fn store_health(shared: &Shared, endpoint: &EndpointRuntime, health: EndpointHealth) {
    if let Err(error) = shared.store.put_health(&endpoint.id, health).await {
        tracing::warn!(code = error.code(), %error, endpoint = %endpoint.id, "webhook endpoint health not stored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::store::from_millis;

    #[test]
    fn bucket_refills_with_the_clock() {
        let t0 = from_millis(1_000_000);
        let mut bucket = Bucket::new(2.0);
        assert!(bucket.take(t0).is_ok());
        assert!(bucket.take(t0).is_ok());
        assert_eq!(bucket.take(t0), Err(from_millis(1_000_500)));
        assert!(bucket.take(from_millis(1_000_500)).is_ok());
        assert!(bucket.take(from_millis(1_000_500)).is_err());
        // Never more than the capacity after a long pause.
        let later = from_millis(2_000_000);
        assert!(bucket.take(later).is_ok());
        assert!(bucket.take(later).is_ok());
        assert!(bucket.take(later).is_err());
        let mut slow = Bucket::new(0.5);
        assert!(slow.take(t0).is_ok());
        assert_eq!(slow.take(t0), Err(from_millis(1_002_000)));
    }
}
