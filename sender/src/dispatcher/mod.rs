//! The durable dispatcher (design 7 and 9.5): `publish` stores one
//! delivery per matching endpoint and returns once stored; workers lease due
//! deliveries from the store and attempt them with the retry rules of
//! section 6.
//!
//! - **At least once, no ordering.** Each attempt is recorded before its
//!   request is sent; a crash at any moment loses nothing stored, and every
//!   pending delivery is attempted again after a restart (receivers
//!   deduplicate by event id).
//! - **Leases.** A worker holds a delivery under a lease (default 30 s,
//!   renewed every 10 s); every state change is conditional on still holding
//!   it, so a delivery whose holder died is taken over once its lease expires.
//! - **`409`** (a copy in flight at the receiver) is retried after its
//!   `Retry-After` without using up an attempt, for up to `in_flight_wait`
//!   (default 10 min).
//! - **Stale.** A delivery signed with the MegaBot scheme only whose body
//!   timestamp is older than `stale_after` (300 s) when attempted goes `dead`
//!   with reason `stale` instead of being sent to certain refusal.
//! - **Endpoint health.** An endpoint that failed every attempt for
//!   `disable_after` (default 5 days) is disabled: its deliveries go straight
//!   to `dead` (reason `endpoint_disabled`), kept and redeliverable, until
//!   [`Dispatcher::enable`].
//! - Per endpoint: `max_in_flight` (default 8) concurrent attempts and an
//!   optional `rate_limit` (deliveries per second).
//! - **Metrics** through the `metrics` facade (docs/design.md section 8):
//!   deliveries, attempts, retries and attempt latency by endpoint id (at
//!   most `metrics_endpoint_limit`, the rest `other`), and gauges of the
//!   queue read from the store every `metrics_interval`; a
//!   `webhook_delivery_attempt` tracing span around each attempt.
//! - **Group commit.** The settles asked for while a group is in the store
//!   are written together in the next one ([`DeliveryStore::settle_many`]),
//!   as soon as one waits (never on a timer); under a backlog a lease claims
//!   many deliveries at once, and starts their attempts in the same write
//!   ([`DeliveryStore::lease_started`]; an attempt then not made, for a
//!   rate limit or an endpoint gone, is settled without one, which takes
//!   its start back).
//!
//! Over 600 lines: the builder and the [`Dispatcher`]'s public operations
//! (publish, the delivery log, redelivery, endpoints, dead letters) over one
//! shared state.

mod group;
mod observer;
mod store;
mod store_key;
mod worker;

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use megabot_webhook_types::Event;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::{EndpointConfig, WebhooksConfig};
use crate::{Error, Warning};

use super::attempts::Runtime;
use super::clock::{Clock, RandomSource, SystemClock, SystemRandom, TokioSleeper};
use super::dead_letter::{
    Authenticity, DeadLetter, DeadLetterSink, JsonlDeadLetters, read_dead_letters,
};
use super::delivery::Delivery;
use super::destination::{DestinationPolicy, GuardedResolver, Resolver, SystemResolver};
use super::diagnostic::{ConfigError, index_key, join_key};
use super::endpoint::{self, CompiledEndpoint};
use super::metrics::{DEFAULT_METRICS_ENDPOINT_LIMIT, EndpointLabels, record_outcome};

pub use self::observer::{DeliveryObserver, DeliveryOutcome};
#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_REDIS_PREFIX, RedisStore};
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteStore;
pub use self::store::{
    AttemptRecord, AttemptResult, AttemptStart, DeliveryPage, DeliveryQuery, DeliveryRecord,
    DeliveryState, DeliveryStore, EndpointHealth, IncidentRecord, MAX_PAGE, OutcomeTotals,
    PublishBatch, PublishOutcome, QueueStats, Retention, SettleRequest, Settlement, StoreStats,
    dead_reason,
};
pub use self::store_key::StoreKey;
#[cfg(feature = "api")]
pub(crate) use self::store_key::is_sealed;

use self::worker::{EndpointRuntime, Shared};

/// Events larger than this get a warning at publish (design 9.2).
const LARGE_EVENT: usize = 1 << 20;

/// The default number of concurrent attempts of one dispatcher.
pub const DEFAULT_WORKERS: usize = 16;
/// The default per-endpoint limit of concurrent attempts.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 8;
/// The default lease of a delivery being attempted.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// How long receivers answering `409` are waited for, by default.
pub const DEFAULT_IN_FLIGHT_WAIT: Duration = Duration::from_secs(600);
/// The receivers' timestamp tolerance: older MegaBot-scheme-only bodies are stale.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(300);
/// How long an endpoint may fail every attempt before it is disabled.
pub const DEFAULT_DISABLE_AFTER: Duration = Duration::from_secs(5 * 86_400);

/// Builds a [`Dispatcher`].
pub struct DispatcherBuilder {
    config: WebhooksConfig,
    store: Arc<dyn DeliveryStore>,
    store_key: Option<StoreKey>,
    workers: usize,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
    owner: Option<String>,
    lease: Duration,
    poll_interval: Duration,
    in_flight_wait: Duration,
    stale_after: Duration,
    disable_after: Duration,
    retention: Retention,
    policy: DestinationPolicy,
    resolver: Arc<dyn Resolver>,
    purge_interval: Duration,
    observer: Option<Arc<dyn DeliveryObserver>>,
    metrics_endpoint_limit: usize,
    metrics_interval: Duration,
}

impl fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherBuilder")
            .field("endpoints", &self.config.endpoints.len())
            .field("store", &self.store)
            .field("workers", &self.workers)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl DispatcherBuilder {
    /// Which destinations may be connected to; default
    /// [`DestinationPolicy::server()`] (global addresses only), widened by the
    /// config's `allow_private_targets` and `allowed_targets`.
    #[must_use]
    pub fn destination_policy(mut self, policy: DestinationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How host names are resolved; default [`SystemResolver`]. Every resolved
    /// address passes the destination policy before a connection.
    #[must_use]
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The number of concurrent attempts (default [`DEFAULT_WORKERS`]).
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The clock: due times, leases, rate limits, health, staleness.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The random source for jitter and ids.
    #[must_use]
    pub fn random(mut self, random: Arc<dyn RandomSource>) -> Self {
        self.random = random;
        self
    }

    /// This instance's lease owner id (default: random, per process).
    #[must_use]
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// The lease of a delivery being attempted, renewed every third of it
    /// (default [`DEFAULT_LEASE`]).
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// How often the store is asked for due deliveries when idle (default
    /// 100 ms; a publish wakes the workers at once).
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long receivers answering `409` are waited for (default 10 min).
    #[must_use]
    pub fn in_flight_wait(mut self, wait: Duration) -> Self {
        self.in_flight_wait = wait;
        self
    }

    /// The age after which a MegaBot-scheme-only body is stale (default 300 s).
    #[must_use]
    pub fn stale_after(mut self, age: Duration) -> Self {
        self.stale_after = age;
        self
    }

    /// How long an endpoint may fail every attempt before it is disabled
    /// (default 5 days).
    #[must_use]
    pub fn disable_after(mut self, duration: Duration) -> Self {
        self.disable_after = duration;
        self
    }

    /// How long ended deliveries are kept (see [`Dispatcher::purge`]).
    #[must_use]
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How often the running dispatcher purges ended deliveries past their
    /// retention (default hourly, and once at start).
    #[must_use]
    pub fn purge_interval(mut self, interval: Duration) -> Self {
        self.purge_interval = interval.max(Duration::from_secs(1));
        self
    }

    /// Seals the endpoints registered through the API in the store (their
    /// secrets and header values) with `key` (design 9.7,
    /// `MEGABOT_STORE_KEY`). Endpoints stored before are read as they are
    /// and sealed at their next write. Default none: stored as JSON.
    #[must_use]
    pub fn store_key(mut self, key: StoreKey) -> Self {
        self.store_key = Some(key);
        self
    }

    /// Who is told of each final outcome and each endpoint disabled (the
    /// alert engine, design 9.6). Default none.
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn DeliveryObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// How many endpoints get an `endpoint` label of their own in the
    /// metrics reported through the `metrics` facade (default
    /// [`DEFAULT_METRICS_ENDPOINT_LIMIT`], 100): the first ones seen; the
    /// others are summed under `endpoint="other"` (docs/design.md section 8).
    #[must_use]
    pub fn metrics_endpoint_limit(mut self, limit: usize) -> Self {
        self.metrics_endpoint_limit = limit;
        self
    }

    /// How often the running dispatcher refreshes the queue gauges
    /// (pending deliveries, age of the oldest) from the store (default 5 s).
    #[must_use]
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Checks the config, loads the endpoints' health from the store and
    /// builds the dispatcher. Its workers start with [`Dispatcher::start`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid setting, [`Error::HttpClient`],
    /// [`Error::Store`] when the health cannot be read.
    pub async fn build(self) -> Result<(Dispatcher, Vec<Warning>), Error> {
        let compiled = endpoint::compile_config(&self.config, "webhooks")
            .map_err(|issue| Error::from(ConfigError::new(issue.key, issue.message)))?;
        let policy = Arc::new(
            self.policy
                .with_config(&self.config, "webhooks")
                .map_err(|issue| Error::from(ConfigError::new(issue.key, issue.message)))?,
        );
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
                resolver: self.resolver.clone(),
            }))
            .build()
            .map_err(|e| Error::HttpClient {
                message: e.to_string(),
            })?;
        let mut endpoints = Vec::with_capacity(compiled.endpoints.len());
        for (index, compiled_endpoint) in compiled.endpoints.into_iter().enumerate() {
            let key = index_key("webhooks.endpoints", index);
            let id = config_endpoint_id(index, &compiled_endpoint.config.url);
            let health = self.store.health(&id).await?;
            endpoints.push(Arc::new(EndpointRuntime::new(
                id,
                compiled_endpoint,
                &key,
                health,
            )?));
        }
        let warnings = compiled
            .warnings
            .into_iter()
            .map(|issue| Warning::new(issue.key, issue.message))
            .collect();
        let owner = self.owner.unwrap_or_else(|| {
            format!(
                "dispatcher-{}-{:08x}",
                std::process::id(),
                random_u32(self.random.as_ref())
            )
        });
        let (stop, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            store: self.store,
            store_key: self.store_key,
            enabled: compiled.enabled,
            resolver: self.resolver,
            default_secrets: compiled.default_secrets,
            default_dead_letter_keys: compiled.default_dead_letter_keys,
            endpoints: std::sync::RwLock::new(endpoints),
            runtime: Runtime {
                client,
                clock: self.clock,
                sleeper: Arc::new(TokioSleeper),
                random: self.random,
                policy,
            },
            owner,
            workers: self.workers,
            lease: self.lease,
            poll_interval: self.poll_interval,
            in_flight_wait: self.in_flight_wait,
            stale_after: self.stale_after,
            disable_after: self.disable_after,
            retention: self.retention,
            purge_interval: self.purge_interval,
            observer: self.observer,
            wake: Notify::new(),
            stop,
            in_flight: Mutex::new(HashSet::new()),
            sequence: AtomicU64::new(0),
            running: AtomicUsize::new(0),
            labels: EndpointLabels::new(self.metrics_endpoint_limit),
            metrics_interval: self.metrics_interval,
            groups: group::Groups::new(),
        });
        Ok((
            Dispatcher {
                shared,
                tasks: Mutex::new(Vec::new()),
            },
            warnings,
        ))
    }
}

/// A stable id for the config endpoint at `index` with `url`: `cfg_<index>_`
/// and a keyed hash of the URL (which may hold a token, so it is not shown).
fn config_endpoint_id(index: usize, url: &str) -> String {
    let digest = megabot_webhook_verify::Secret::new("megabot endpoint id")
        .map(|key| megabot_webhook_verify::sign::megabot_signature(&key, url.as_bytes()))
        .unwrap_or_default();
    let hex = digest.strip_prefix("sha256=").unwrap_or(&digest);
    format!("cfg_{index}_{}", hex.get(..12).unwrap_or(hex))
}

fn random_u32(random: &dyn RandomSource) -> u32 {
    // In [0, 2^32): the product of a number in [0, 1) and 2^32 fits.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let value = (random.next_f64() * 4_294_967_296.0) as u32;
    value
}

/// Event ids must match `[A-Za-z0-9_-]{1,128}` at publish (design 9.7).
fn check_event_id(id: &str) -> Result<(), Error> {
    let valid = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidDelivery {
            message: "event id must be 1 to 128 characters of A-Z, a-z, 0-9, `_` and `-`"
                .to_owned(),
        })
    }
}

/// The durable dispatcher: publish stores, workers deliver.
///
/// Dropping it stops its workers at once (as a crash would): leased
/// deliveries stay leased until their lease expires. Use
/// [`Dispatcher::shutdown`] to stop cleanly.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")]
/// # async fn run(event: megabot_webhook_types::Event) -> Result<(), megabot_webhook_sender::Error> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use megabot_webhook_sender::config::WebhooksConfig;
/// use megabot_webhook_sender::dispatcher::{Dispatcher, SqliteStore};
///
/// let store = Arc::new(SqliteStore::open("megabot-dispatcher.sqlite3")?);
/// let (dispatcher, _warnings) = Dispatcher::builder(WebhooksConfig::default(), store)
///     .build()
///     .await?;
/// dispatcher.start();
/// let outcome = dispatcher.publish(&event).await?;
/// println!("{} deliveries stored", outcome.deliveries.len());
/// dispatcher.shutdown(Duration::from_secs(30)).await;
/// # Ok(()) }
/// ```
pub struct Dispatcher {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("owner", &self.shared.owner)
            .field("endpoints", &self.shared.endpoint_list().len())
            .field("store", &self.shared.store)
            .finish_non_exhaustive()
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.abort();
    }
}

impl Dispatcher {
    /// A builder for `config` on `store`.
    pub fn builder(config: WebhooksConfig, store: Arc<dyn DeliveryStore>) -> DispatcherBuilder {
        DispatcherBuilder {
            config,
            store,
            store_key: None,
            workers: DEFAULT_WORKERS,
            clock: Arc::new(SystemClock),
            random: Arc::new(SystemRandom::new()),
            owner: None,
            lease: DEFAULT_LEASE,
            poll_interval: Duration::from_millis(100),
            in_flight_wait: DEFAULT_IN_FLIGHT_WAIT,
            stale_after: DEFAULT_STALE_AFTER,
            disable_after: DEFAULT_DISABLE_AFTER,
            retention: Retention::default(),
            policy: DestinationPolicy::server(),
            resolver: Arc::new(SystemResolver),
            purge_interval: Duration::from_secs(3_600),
            observer: None,
            metrics_endpoint_limit: DEFAULT_METRICS_ENDPOINT_LIMIT,
            metrics_interval: Duration::from_secs(5),
        }
    }

    /// Starts the workers (and the lease renewal) on the current Tokio
    /// runtime. Calling it again does nothing.
    pub fn start(&self) {
        let mut tasks = self.lock_tasks();
        if !tasks.is_empty() || self.shared.stop.borrow().is_some() {
            return;
        }
        tasks.push(tokio::spawn(worker::schedule(self.shared.clone())));
        tasks.push(tokio::spawn(worker::renew(self.shared.clone())));
        tasks.push(tokio::spawn(worker::gauges(self.shared.clone())));
        // After the scheduler: shutdown waits for it (whose attempts wait
        // for these writers) before it stops the rest.
        for writer in self
            .shared
            .groups
            .writers(&self.shared.store, &self.shared.owner)
        {
            tasks.push(tokio::spawn(writer));
        }
    }

    fn lock_tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stops every task at once, as a crash would: nothing more is written,
    /// leases are neither renewed nor released (they expire).
    pub fn abort(&self) {
        for task in self.lock_tasks().drain(..) {
            task.abort();
        }
    }

    /// Stops leasing, lets attempts in flight finish for up to `deadline`,
    /// then gives the leases of the others back; everything not delivered
    /// stays stored for the next start.
    pub async fn shutdown(&self, deadline: Duration) {
        self.shared.stop.send_replace(Some(deadline));
        self.shared.wake.notify_one();
        let tasks: Vec<_> = self.lock_tasks().drain(..).collect();
        let mut tasks = tasks.into_iter();
        // The scheduler first (it waits for the attempts in flight, whose
        // leases the renewal keeps), then the renewal.
        if let Some(scheduler) = tasks.next() {
            let _ = scheduler.await;
        }
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }

    /// This instance's lease owner id.
    pub fn owner(&self) -> &str {
        &self.shared.owner
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn DeliveryStore> {
        &self.shared.store
    }

    /// The stored document of registered endpoint `id`, opened with the
    /// store key (see [`DispatcherBuilder::store_key`]).
    #[cfg(feature = "api")]
    pub(crate) async fn endpoint_document(&self, id: &str) -> Result<Option<String>, Error> {
        self.shared.endpoint_document(id).await
    }

    /// Every registered endpoint's stored document, opened.
    #[cfg(feature = "api")]
    pub(crate) async fn endpoint_documents(&self) -> Result<Vec<(String, String)>, Error> {
        self.shared.endpoint_documents().await
    }

    /// Stores registered endpoint `id`'s document, sealed with the store key
    /// if there is one.
    #[cfg(feature = "api")]
    pub(crate) async fn put_endpoint_document(
        &self,
        id: &str,
        document: &str,
    ) -> Result<(), Error> {
        self.shared.put_endpoint_document(id, document).await
    }

    /// The endpoints' ids and URLs, in config order.
    pub fn endpoints(&self) -> Vec<(String, String)> {
        self.shared
            .endpoint_list()
            .iter()
            .map(|e| (e.id.clone(), e.compiled.config.url.clone()))
            .collect()
    }

    /// The configuration of endpoint `id` (config or added at run time).
    /// Its `Debug` never shows a secret or a header value.
    pub fn endpoint_config(&self, id: &str) -> Option<EndpointConfig> {
        self.shared.endpoint(id).map(|e| e.compiled.config.clone())
    }

    /// Every endpoint's id and configuration, config endpoints first.
    pub fn endpoint_configs(&self) -> Vec<(String, EndpointConfig)> {
        self.shared
            .endpoint_list()
            .iter()
            .map(|e| (e.id.clone(), e.compiled.config.clone()))
            .collect()
    }

    /// The effective destination policy (the builder's, widened by the
    /// config's `allow_private_targets` and `allowed_targets`): what every
    /// attempt, and the registration API's URL check, allow.
    pub fn destination_policy(&self) -> &DestinationPolicy {
        &self.shared.runtime.policy
    }

    /// The resolver host names are resolved with (at every attempt, and by
    /// the registration API's URL check).
    pub fn resolver(&self) -> Arc<dyn Resolver> {
        self.shared.resolver.clone()
    }

    /// Attempts in flight now.
    pub fn in_flight(&self) -> usize {
        self.shared.running.load(Ordering::Relaxed)
    }

    /// Stores one delivery per enabled endpoint that subscribes to `event`
    /// and whose filters pass (evaluated now), and returns once they are
    /// stored. An event id already published stores nothing new and returns
    /// the existing deliveries (`created: false`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDelivery`] for an event that cannot be sent (its id
    /// must match `[A-Za-z0-9_-]{1,128}`), [`Error::Store`] when the store
    /// cannot take every delivery (then none is stored).
    pub async fn publish(&self, event: &Event) -> Result<PublishOutcome, Error> {
        let delivery = Delivery::from_event(event)?;
        self.publish_delivery(&delivery).await
    }

    /// As [`Dispatcher::publish`], for a delivery built by the caller.
    ///
    /// # Errors
    ///
    /// As [`Dispatcher::publish`].
    pub async fn publish_delivery(&self, delivery: &Delivery) -> Result<PublishOutcome, Error> {
        check_event_id(delivery.id())?;
        if delivery.body().len() > LARGE_EVENT {
            tracing::warn!(
                event = delivery.event(),
                bytes = delivery.body().len(),
                "webhook event over 1 MiB: the SDK's receivers refuse it with a final 413"
            );
        }
        let shared = &self.shared;
        let now = shared.runtime.clock.now();
        let mut rows = Vec::new();
        if shared.enabled {
            for endpoint in &shared.endpoint_list() {
                let compiled = &endpoint.compiled;
                if !compiled.subscription.matches(delivery.event())
                    || compiled.filter.check(delivery.envelope(), now).is_err()
                {
                    continue;
                }
                let mut row = shared.new_record(delivery, &endpoint.id, now);
                if endpoint.is_disabled() {
                    row.state = DeliveryState::Dead;
                    row.dead_reason = Some(dead_reason::ENDPOINT_DISABLED.to_owned());
                }
                rows.push(row);
            }
        }
        let wake = rows.iter().any(|r| r.state == DeliveryState::Pending);
        let outcome = shared
            .store
            .publish(PublishBatch {
                event_id: delivery.id().to_owned(),
                now,
                deliveries: rows,
            })
            .await?;
        if outcome.created {
            for row in outcome
                .deliveries
                .iter()
                .filter(|r| r.state == DeliveryState::Dead)
            {
                record_outcome(
                    &shared.labels.label(&row.endpoint_id),
                    row.dead_reason.as_deref(),
                    1,
                );
            }
        }
        if outcome.created && wake {
            shared.wake.notify_one();
        }
        Ok(outcome)
    }

    /// One delivery.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn get(&self, id: &str) -> Result<Option<DeliveryRecord>, Error> {
        self.shared.store.get(id).await
    }

    /// A delivery's attempt log.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn attempts(&self, id: &str) -> Result<Vec<AttemptRecord>, Error> {
        self.shared.store.attempts(id).await
    }

    /// A page of the delivery log.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn list(&self, query: &DeliveryQuery) -> Result<DeliveryPage, Error> {
        self.shared.store.list(query).await
    }

    /// Counts by state.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn stats(&self) -> Result<StoreStats, Error> {
        self.shared.store.stats().await
    }

    /// The pending queue: how many, and since when the oldest waits.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn queue_stats(&self) -> Result<QueueStats, Error> {
        self.shared.store.queue_stats().await
    }

    /// Totals over the ended deliveries the store keeps: the figures of the
    /// guide's `get_stats` (docs/design.md section 9.9).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn outcome_totals(&self) -> Result<OutcomeTotals, Error> {
        self.shared.store.outcome_totals().await
    }

    /// Reads the queue from the store and sets the queue gauges now (the
    /// running dispatcher does it every `metrics_interval`).
    pub async fn refresh_gauges(&self) {
        worker::refresh_gauges(&self.shared).await;
    }

    /// Makes a dead delivery pending again with a fresh set of attempts
    /// and returns the id of the delivery now pending; `None` when it is not
    /// dead.
    ///
    /// A `stale` delivery to a MegaBot-scheme-only endpoint would be stale
    /// again: its envelope's `timestamp` is re-stamped to now, explicitly,
    /// in a new delivery of the same event id (its `restamped_from` names the
    /// dead one, which stays as it is).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn redeliver(&self, id: &str) -> Result<Option<String>, Error> {
        let now = self.shared.runtime.clock.now();
        let Some(record) = self.shared.store.get(id).await? else {
            return Ok(None);
        };
        if record.state != DeliveryState::Dead {
            return Ok(None);
        }
        let megabot_only = self
            .shared
            .endpoint(&record.endpoint_id)
            .is_some_and(|e| e.compiled.standard_secrets.is_empty());
        let restamped = (record.dead_reason.as_deref() == Some(dead_reason::STALE) && megabot_only)
            .then(|| restamp(&record, now))
            .flatten();
        let pending = match restamped {
            Some(delivery) => {
                let mut row = self.shared.new_record(&delivery, &record.endpoint_id, now);
                row.restamped_from = Some(record.id.clone());
                let new_id = row.id.clone();
                self.shared.store.insert(vec![row]).await?;
                tracing::info!(delivery = %record.id, redelivery = %new_id, "stale webhook delivery redelivered with a new timestamp");
                Some(new_id)
            }
            None => self
                .shared
                .store
                .redeliver(id, now)
                .await?
                .then(|| record.id.clone()),
        };
        if pending.is_some() {
            self.shared.wake.notify_one();
        }
        Ok(pending)
    }

    /// Deletes ended deliveries older than the retention; returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn purge(&self) -> Result<u64, Error> {
        let now = self.shared.runtime.clock.now();
        self.shared.store.purge(now, self.shared.retention).await
    }

    /// Adds an endpoint at run time (one registered through the API, say),
    /// or replaces the one with the same `id`; checked as a config file's
    /// endpoints are, with keys named `endpoint.…`. Events published from
    /// now on reach it; its health is read from the store.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid setting, [`Error::Store`].
    pub async fn add_endpoint(
        &self,
        id: &str,
        config: EndpointConfig,
    ) -> Result<Vec<Warning>, Error> {
        self.shared
            .install_endpoint(id, config, true)
            .await
            .map(|(_, warnings)| warnings)
    }

    /// Forgets an endpoint in this instance only: nothing is written to
    /// the store and its deliveries are left as they are (another instance
    /// sharing the store deleted it). `false` when there was none.
    pub fn forget_endpoint(&self, id: &str) -> bool {
        let mut endpoints = self
            .shared
            .endpoints
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = endpoints.len();
        endpoints.retain(|e| e.id != id);
        endpoints.len() < before
    }

    /// Removes an endpoint and ends its pending deliveries as `dead`
    /// (reason `endpoint_deleted`, kept and redeliverable); attempts in
    /// flight finish. Returns how many deliveries were ended, `None` when
    /// there is no endpoint with `id`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] (the endpoint is removed all the same; deliveries
    /// to it then end dead when they come due).
    pub async fn remove_endpoint(&self, id: &str) -> Result<Option<u64>, Error> {
        let removed = {
            let mut endpoints = self
                .shared
                .endpoints
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let before = endpoints.len();
            endpoints.retain(|e| e.id != id);
            endpoints.len() < before
        };
        if !removed {
            return Ok(None);
        }
        let now = self.shared.runtime.clock.now();
        let ended = self
            .shared
            .store
            .kill_pending(id, dead_reason::ENDPOINT_DELETED, now)
            .await?;
        record_outcome(
            &self.shared.labels.label(id),
            Some(dead_reason::ENDPOINT_DELETED),
            ended,
        );
        Ok(Some(ended))
    }

    /// Whether the endpoint is disabled by its health rule.
    pub fn is_disabled(&self, endpoint_id: &str) -> bool {
        self.shared
            .endpoint(endpoint_id)
            .is_some_and(|e| e.is_disabled())
    }

    /// Re-enables an endpoint (and forgets its failures); `false` when there
    /// is no such endpoint. Its dead deliveries stay dead (redeliver them).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn enable(&self, endpoint_id: &str) -> Result<bool, Error> {
        let Some(endpoint) = self.shared.endpoint(endpoint_id) else {
            return Ok(false);
        };
        endpoint.set_health(EndpointHealth::default());
        self.shared
            .store
            .put_health(endpoint_id, EndpointHealth::default())
            .await?;
        tracing::info!(endpoint = endpoint_id, "webhook endpoint enabled");
        Ok(true)
    }

    /// Appends every dead delivery to the JSON Lines dead-letter file at
    /// `path` (the format of [`DeadLetter`]); returns how many. Deliveries to
    /// endpoints no longer configured are left out.
    ///
    /// # Errors
    ///
    /// [`Error::Store`], [`Error::DeadLetter`] when the file cannot be written.
    pub async fn export_dead(&self, path: impl AsRef<Path>) -> Result<usize, Error> {
        let sink = JsonlDeadLetters::new(path.as_ref());
        let mut query = DeliveryQuery {
            state: Some(DeliveryState::Dead),
            limit: MAX_PAGE,
            ..DeliveryQuery::default()
        };
        let mut count = 0;
        loop {
            let page = self.shared.store.list(&query).await?;
            for record in &page.deliveries {
                let Some(endpoint) = self.shared.endpoint(&record.endpoint_id) else {
                    continue;
                };
                let Ok(delivery) = record_delivery(record) else {
                    continue;
                };
                let error = record
                    .last_error
                    .clone()
                    .or_else(|| record.dead_reason.clone())
                    .unwrap_or_default();
                let letter = DeadLetter::new(
                    &endpoint.compiled,
                    &delivery,
                    record.updated_at.timestamp(),
                    record.attempts,
                    record.last_status,
                    error,
                );
                sink.store(&letter)?;
                count += 1;
            }
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => return Ok(count),
            }
        }
    }

    /// Stores the records of a JSON Lines dead-letter file as `dead`
    /// deliveries (reason `imported`, redeliverable) to the configured
    /// endpoint with the record's URL; returns how many were imported and
    /// how many were left out (no such endpoint, tampered or version-1
    /// records: see [`Dispatcher::import_dead_checked`]).
    ///
    /// # Errors
    ///
    /// [`Error::DeadLetter`] when the file cannot be read, [`Error::Store`].
    pub async fn import_dead(&self, path: impl AsRef<Path>) -> Result<(usize, usize), Error> {
        let report = self.import_dead_checked(path, false).await?;
        Ok((
            report.imported,
            report.unknown_endpoint + report.tampered + report.unauthenticated + report.invalid,
        ))
    }

    /// As [`Dispatcher::import_dead`], saying why records were left out.
    /// Each record's MAC is recomputed with the secrets of the configured
    /// endpoint with its URL (and the config's `secret_key`): a mismatch is
    /// refused and counted `tampered` (design 9.14); version-1 records (no
    /// MAC) are imported only with `accept_unauthenticated`. The file is
    /// never changed.
    ///
    /// # Errors
    ///
    /// [`Error::DeadLetter`] when the file cannot be read, [`Error::Store`].
    pub async fn import_dead_checked(
        &self,
        path: impl AsRef<Path>,
        accept_unauthenticated: bool,
    ) -> Result<ImportReport, Error> {
        let letters = read_dead_letters(path)?;
        let now = self.shared.runtime.clock.now();
        let mut rows = Vec::new();
        let mut report = ImportReport::default();
        let endpoints = self.shared.endpoint_list();
        for letter in &letters {
            let endpoint = endpoints
                .iter()
                .find(|e| e.compiled.config.url == letter.url);
            let Some(endpoint) = endpoint else {
                report.unknown_endpoint += 1;
                continue;
            };
            let mut keys = endpoint.compiled.dead_letter_keys.clone();
            keys.extend(self.shared.default_dead_letter_keys.iter().cloned());
            match letter.authenticity(&keys) {
                Authenticity::Authentic => {}
                Authenticity::Unauthenticated if accept_unauthenticated => {}
                Authenticity::Unauthenticated => {
                    report.unauthenticated += 1;
                    continue;
                }
                Authenticity::Tampered => {
                    tracing::warn!(id = %letter.id, "dead-letter record tampered: not imported");
                    report.tampered += 1;
                    continue;
                }
            }
            let Ok(delivery) = letter.delivery() else {
                report.invalid += 1;
                continue;
            };
            let mut row = self.shared.new_record(&delivery, &endpoint.id, now);
            row.state = DeliveryState::Dead;
            row.dead_reason = Some(dead_reason::IMPORTED.to_owned());
            row.attempts = letter.attempts;
            row.last_status = letter.last_status;
            row.last_error = Some(letter.last_error.clone());
            rows.push(row);
        }
        report.imported = rows.len();
        self.shared.store.insert(rows).await?;
        Ok(report)
    }
}

/// What [`Dispatcher::import_dead_checked`] did with a file's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Records stored as `dead` deliveries.
    pub imported: usize,
    /// Records whose URL is no configured endpoint's.
    pub unknown_endpoint: usize,
    /// Records whose MAC does not match (changed, or other secrets).
    pub tampered: usize,
    /// Version-1 records refused for want of `accept_unauthenticated`.
    pub unauthenticated: usize,
    /// Records without a usable body.
    pub invalid: usize,
}

/// `record`'s delivery with its envelope's `timestamp` set to `now` (key
/// order kept, written as at publish); `None` when the body is not an
/// envelope.
fn restamp(record: &DeliveryRecord, now: DateTime<Utc>) -> Option<Delivery> {
    let mut value: serde_json::Value = serde_json::from_slice(&record.body).ok()?;
    let object = value.as_object_mut()?;
    object.get("timestamp")?;
    object.insert("timestamp".to_owned(), now.timestamp().into());
    Delivery::from_value(value).ok()
}

/// The request a stored row describes.
fn record_delivery(record: &DeliveryRecord) -> Result<Delivery, Error> {
    Delivery::new(
        record.event_name.clone(),
        record.event_id.clone(),
        record.event_timestamp,
        record.body.clone(),
    )
}

/// The configuration in a stored endpoint document (what the registration
/// API keeps with [`DeliveryStore::put_endpoint`]: `{"config": {...}}`).
pub(crate) fn stored_endpoint_config(document: &str) -> Option<EndpointConfig> {
    let mut value: serde_json::Value = serde_json::from_str(document).ok()?;
    serde_json::from_value(value.get_mut("config")?.take()).ok()
}

impl Shared {
    /// The stored document of registered endpoint `id`, opened with the
    /// store key; a sealed one that does not open is returned sealed (it
    /// does not load: the endpoint is left out, nothing is deleted).
    pub(super) async fn endpoint_document(&self, id: &str) -> Result<Option<String>, Error> {
        let stored = self.store.get_endpoint(id).await?;
        Ok(stored.map(|stored| self.open_document(id, stored)))
    }

    /// Every registered endpoint's stored document, opened.
    #[cfg(feature = "api")]
    pub(super) async fn endpoint_documents(&self) -> Result<Vec<(String, String)>, Error> {
        let stored = self.store.list_endpoints().await?;
        Ok(stored
            .into_iter()
            .map(|(id, stored)| {
                let document = self.open_document(&id, stored);
                (id, document)
            })
            .collect())
    }

    /// Stores registered endpoint `id`'s document, sealed when there is a
    /// store key.
    #[cfg(feature = "api")]
    pub(super) async fn put_endpoint_document(
        &self,
        id: &str,
        document: &str,
    ) -> Result<(), Error> {
        match &self.store_key {
            Some(key) => self.store.put_endpoint(id, &key.seal(id, document)?).await,
            None => self.store.put_endpoint(id, document).await,
        }
    }

    fn open_document(&self, id: &str, stored: String) -> String {
        match &self.store_key {
            Some(key) if store_key::is_sealed(&stored) => key.open(id, &stored).unwrap_or(stored),
            _ => stored,
        }
    }

    /// Compiles `config` and adds it as endpoint `id`; with `replace`, an
    /// endpoint with that id is replaced, otherwise kept (and returned).
    pub(super) async fn install_endpoint(
        &self,
        id: &str,
        config: EndpointConfig,
        replace: bool,
    ) -> Result<(Arc<EndpointRuntime>, Vec<Warning>), Error> {
        let (compiled, warnings) = endpoint::compile_endpoint(
            &config,
            &self.default_secrets,
            &self.default_dead_letter_keys,
            "endpoint",
            "webhooks.secret_key",
        )
        .map_err(|issue| Error::from(ConfigError::new(issue.key, issue.message)))?;
        let health = self.store.health(id).await?;
        let mut runtime = Arc::new(EndpointRuntime::new(
            id.to_owned(),
            compiled,
            "endpoint",
            health,
        )?);
        let mut endpoints = self
            .endpoints
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match endpoints.iter_mut().find(|e| e.id == id) {
            Some(slot) if replace => *slot = runtime.clone(),
            Some(slot) => runtime = slot.clone(),
            None => endpoints.push(runtime.clone()),
        }
        let warnings = warnings
            .into_iter()
            .map(|issue| Warning::new(issue.key, issue.message))
            .collect();
        Ok((runtime, warnings))
    }

    /// An endpoint this instance does not know but the store keeps (one
    /// registered through another instance sharing the store), added now;
    /// `None` when the store has none that loads.
    pub(super) async fn adopt_stored_endpoint(&self, id: &str) -> Option<Arc<EndpointRuntime>> {
        let document = self.endpoint_document(id).await.ok()??;
        let config = stored_endpoint_config(&document)?;
        match self.install_endpoint(id, config, false).await {
            Ok((runtime, _)) => {
                tracing::info!(endpoint = id, "webhook endpoint loaded from the store");
                Some(runtime)
            }
            Err(error) => {
                tracing::warn!(
                    endpoint = id,
                    code = error.code(),
                    "a stored webhook endpoint does not load"
                );
                None
            }
        }
    }

    /// A new pending row of `delivery` to `endpoint_id`, due now.
    fn new_record(
        &self,
        delivery: &Delivery,
        endpoint_id: &str,
        now: DateTime<Utc>,
    ) -> DeliveryRecord {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let id = format!(
            "dlv_{:011x}{:06x}{:08x}",
            now.timestamp_millis().max(0),
            sequence & 0xff_ffff,
            random_u32(self.runtime.random.as_ref())
        );
        DeliveryRecord {
            id,
            event_id: delivery.id().to_owned(),
            event_name: delivery.event().to_owned(),
            event_timestamp: delivery.timestamp(),
            body: delivery.body().to_vec(),
            endpoint_id: endpoint_id.to_owned(),
            state: DeliveryState::Pending,
            attempts: 0,
            created_at: now,
            updated_at: now,
            next_attempt_at: now,
            lease_owner: None,
            lease_expires_at: None,
            dead_reason: None,
            last_status: None,
            last_error: None,
            conflict_since: None,
            restamped_from: None,
        }
    }
}

/// Checks the dispatcher-only settings of the endpoint at `key`.
fn check_limits(compiled: &CompiledEndpoint, key: &str) -> Result<(usize, Option<f64>), Error> {
    let config = &compiled.config;
    let max_in_flight = config.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    if max_in_flight == 0 {
        return Err(Error::from(ConfigError::new(
            join_key(key, "max_in_flight"),
            "max_in_flight must be at least 1",
        )));
    }
    if let Some(rate) = config.rate_limit
        && (!rate.is_finite() || rate <= 0.0 || rate > 1e9)
    {
        return Err(Error::from(ConfigError::new(
            join_key(key, "rate_limit"),
            format!("rate_limit must be a positive number of deliveries per second, not {rate}"),
        )));
    }
    Ok((
        usize::try_from(max_in_flight).unwrap_or(usize::MAX),
        config.rate_limit,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids() {
        for ok in ["evt_1", "a", "A-b_9", &"x".repeat(128)] {
            assert!(check_event_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a.b", "a b", "é", &"x".repeat(129)] {
            assert_eq!(check_event_id(bad).unwrap_err().code(), "invalid_delivery");
        }
    }

    #[test]
    fn config_ids_are_stable_and_hide_the_url() {
        let a = config_endpoint_id(0, "https://e.com/hook?token=secret");
        assert_eq!(a, config_endpoint_id(0, "https://e.com/hook?token=secret"));
        assert_ne!(a, config_endpoint_id(1, "https://e.com/hook?token=secret"));
        assert_ne!(a, config_endpoint_id(0, "https://e.com/other"));
        assert!(a.starts_with("cfg_0_") && !a.contains("secret"));
        assert_eq!(a.len(), "cfg_0_".len() + 12);
    }

    #[test]
    fn limits_are_checked() {
        let mut config = crate::config::EndpointConfig::new("https://e.example/hook");
        config.secret = Some(crate::config::SecretKeys::one("s"));
        let check = |config: &crate::config::EndpointConfig| {
            let (compiled, _) = endpoint::compile_endpoint(config, &[], &[], "e", "d").unwrap();
            check_limits(&compiled, "webhooks.endpoints[0]")
        };
        assert_eq!(check(&config).unwrap(), (8, None));
        config.max_in_flight = Some(0);
        let error = check(&config).unwrap_err().to_string();
        assert!(
            error.contains("webhooks.endpoints[0].max_in_flight"),
            "{error}"
        );
        config.max_in_flight = Some(3);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            config.rate_limit = Some(bad);
            let error = check(&config).unwrap_err().to_string();
            assert!(error.contains("rate_limit"), "{error}");
        }
        config.rate_limit = Some(0.5);
        assert_eq!(check(&config).unwrap(), (3, Some(0.5)));
    }

    #[test]
    fn random_ids_fit() {
        assert_eq!(
            random_u32(&crate::clock::FixedRandom(0.999_999_999_999)),
            u32::MAX
        );
        assert_eq!(random_u32(&crate::clock::FixedRandom(0.0)), 0);
    }
}
