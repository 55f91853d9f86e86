//! The alert engine (design 8 and 9.6): the guide's `webhook_alerts`.
//!
//! - **Rules, per endpoint, over final outcomes** (delivered or dead, never a
//!   single attempt that will be retried): the success rate over a sliding
//!   `window` (default 300 s) below `failure_threshold`, judged once the
//!   window holds `min_samples` outcomes (default 10); a delivery slower than
//!   `delivery_timeout_threshold` seconds from publish to its outcome; an
//!   endpoint disabled by its health rule. Deliveries never attempted
//!   because their endpoint is disabled or deleted do not count in the rate.
//! - **Incidents.** One alert per incident (endpoint and rule); at most one
//!   alert per endpoint and rule per `cooldown` (default 15 min: an incident
//!   opened within it alerts when it ends, if still open); a "resolved"
//!   message once the rule has held for a whole window (after an alerted
//!   incident only). Incidents are kept in the [`DeliveryStore`], so a
//!   restart neither repeats nor forgets them (an incident open at a restart
//!   resolves a window after the restart at the earliest).
//! - **Time** comes from the injected [`Clock`], so windows and cool-downs
//!   are tested exactly.
//! - **Channels** (Slack, and e-mail with feature `alerts-email`) each run on
//!   their own task behind a bounded queue, retry a failed send a few times
//!   with backoff and log failures without a secret or URL. The dispatcher's
//!   workers only `try_send` to the engine's bounded queue: alerting never
//!   slows deliveries (when a queue is full, the item is dropped with a log).
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn run(loaded: megabot_webhook_sender::LoadedConfig) -> Result<(), megabot_webhook_sender::Error> {
//! use std::sync::Arc;
//! use megabot_webhook_sender::alerts::AlertEngine;
//! use megabot_webhook_sender::dispatcher::{DeliveryStore, Dispatcher, SqliteStore};
//!
//! let store: Arc<dyn DeliveryStore> = Arc::new(SqliteStore::open("megabot-dispatcher.sqlite3")?);
//! let mut builder = Dispatcher::builder(loaded.config, store.clone());
//! let engine = match loaded.alerts.filter(|alerts| alerts.enabled) {
//!     Some(alerts) => {
//!         let engine = AlertEngine::builder(alerts, store).build().await?;
//!         builder = builder.observer(engine.observer());
//!         engine.start();
//!         Some(engine)
//!     }
//!     None => None,
//! };
//! let (dispatcher, _warnings) = builder.build().await?;
//! dispatcher.start();
//! # Ok(()) }
//! ```

mod channel;
#[cfg(feature = "alerts-email")]
mod email;
mod rules;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use self::rules::{Alert, AlertRule, AlertState};

use self::channel::{ChannelTask, SendPolicy};
use self::rules::{Effects, Limits, Rules};
use crate::clock::{Clock, SystemClock};
use crate::config::{AlertsConfig, check_alerts};
use crate::diagnostic::ConfigError;
use crate::dispatcher::{DeliveryObserver, DeliveryOutcome, DeliveryStore, IncidentRecord};
use crate::{Error, retry};

/// Outcomes and disables waiting for the engine before new ones are dropped.
pub const DEFAULT_ENGINE_QUEUE: usize = 4_096;
/// Tries per alert and channel.
pub const DEFAULT_CHANNEL_ATTEMPTS: u32 = 3;
/// The wait after a channel's first failure (doubled after each).
pub const DEFAULT_CHANNEL_BACKOFF: Duration = Duration::from_secs(2);
/// The longest one send to a channel may take.
pub const DEFAULT_CHANNEL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the windows slide and incidents are looked at without traffic.
pub const DEFAULT_EVALUATE_EVERY: Duration = Duration::from_secs(5);

/// Builds an [`AlertEngine`].
pub struct AlertEngineBuilder {
    config: AlertsConfig,
    store: Arc<dyn DeliveryStore>,
    clock: Arc<dyn Clock>,
    queue: usize,
    channel_queue: usize,
    attempts: u32,
    backoff: Duration,
    timeout: Duration,
    evaluate_every: Duration,
}

impl fmt::Debug for AlertEngineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertEngineBuilder")
            .field("config", &self.config)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl AlertEngineBuilder {
    /// The clock of windows, cool-downs and incidents (default the system's).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Outcomes waiting for the engine before new ones are dropped with a
    /// log (default [`DEFAULT_ENGINE_QUEUE`]).
    #[must_use]
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue = capacity.max(1);
        self
    }

    /// Alerts waiting per channel before new ones are dropped with a log
    /// (default 64).
    #[must_use]
    pub fn channel_queue_capacity(mut self, capacity: usize) -> Self {
        self.channel_queue = capacity.max(1);
        self
    }

    /// Tries per alert and channel, and the wait after the first failure,
    /// doubled after each (defaults [`DEFAULT_CHANNEL_ATTEMPTS`],
    /// [`DEFAULT_CHANNEL_BACKOFF`]).
    #[must_use]
    pub fn channel_retry(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// The longest one send to a channel may take (default 10 s).
    #[must_use]
    pub fn channel_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How often the running engine slides its windows without traffic
    /// (default 5 s; the decisions use the injected clock).
    #[must_use]
    pub fn evaluate_every(mut self, every: Duration) -> Self {
        self.evaluate_every = every.max(Duration::from_millis(1));
        self
    }

    /// Checks the config, starts the channels' tasks and loads the kept
    /// incidents. Call inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid setting or channel. A store that
    /// keeps no incidents is not an error: the engine then keeps them in
    /// memory only (with a warning in the log).
    pub async fn build(self) -> Result<AlertEngine, Error> {
        check_alerts(&self.config, "webhook_alerts")
            .map_err(|issue| Error::from(ConfigError::new(issue.key, issue.message)))?;
        let policy = SendPolicy {
            attempts: self.attempts,
            backoff: self.backoff,
            timeout: self.timeout,
            queue: self.channel_queue,
        };
        let transports = channel::build_transports(&self.config.channels, policy)?;
        let (kept, persist) = match self.store.incidents().await {
            Ok(kept) => (kept, true),
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "webhook alert incidents are kept in memory only");
                (Vec::new(), false)
            }
        };
        let limits = Limits {
            failure_threshold: self.config.failure_threshold,
            slow_after: self.config.delivery_timeout_threshold.map(retry::seconds),
            window: retry::seconds(self.config.window),
            min_samples: self.config.min_samples,
            cooldown: retry::seconds(self.config.cooldown),
        };
        let rules = Rules::new(limits, self.clock.now(), kept);
        let channels = transports
            .into_iter()
            .map(|(label, transport)| channel::spawn(label, transport, policy))
            .collect();
        let (signals, receiver) = mpsc::channel(self.queue);
        Ok(AlertEngine {
            inner: Arc::new(Inner {
                store: self.store,
                clock: self.clock,
                persist,
                rules: tokio::sync::Mutex::new(rules),
                channels: Mutex::new(channels),
            }),
            signals,
            receiver: Mutex::new(Some(receiver)),
            evaluate_every: self.evaluate_every,
            task: Mutex::new(None),
        })
    }
}

/// What the workers tell the engine.
#[derive(Debug)]
enum Signal {
    Outcome(DeliveryOutcome),
    Disabled(String),
}

struct Inner {
    store: Arc<dyn DeliveryStore>,
    clock: Arc<dyn Clock>,
    persist: bool,
    rules: tokio::sync::Mutex<Rules>,
    channels: Mutex<Vec<ChannelTask>>,
}

impl Inner {
    async fn outcome(&self, outcome: &DeliveryOutcome) {
        let effects = self.rules.lock().await.outcome(outcome, self.clock.now());
        self.apply(effects).await;
    }

    async fn disabled(&self, endpoint_id: &str) {
        let effects = self
            .rules
            .lock()
            .await
            .disabled(endpoint_id, self.clock.now());
        self.apply(effects).await;
    }

    async fn evaluate(&self) {
        // An endpoint still disabled keeps its incident open.
        let disabled = self.rules.lock().await.disabled_endpoints();
        for endpoint in disabled {
            match self.store.health(&endpoint).await {
                Ok(health) if health.disabled_at.is_some() => self.disabled(&endpoint).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(code = error.code(), %error, "webhook endpoint health not read for alerting");
                    self.disabled(&endpoint).await;
                }
            }
        }
        let effects = self.rules.lock().await.evaluate(self.clock.now());
        self.apply(effects).await;
    }

    /// Stores incidents first, then hands the alerts to the channels: a crash
    /// in between loses an alert rather than repeating one.
    async fn apply(&self, effects: Effects) {
        if self.persist {
            for incident in &effects.put {
                if let Err(error) = self.store.put_incident(incident).await {
                    tracing::warn!(code = error.code(), %error, endpoint = %incident.endpoint_id, "webhook alert incident not stored");
                }
            }
            for (endpoint, rule) in &effects.delete {
                if let Err(error) = self.store.delete_incident(endpoint, rule).await {
                    tracing::warn!(code = error.code(), %error, %endpoint, "webhook alert incident not forgotten");
                }
            }
        }
        for alert in effects.alerts {
            match alert.state {
                AlertState::Raised => {
                    tracing::warn!(endpoint = %alert.endpoint_id, rule = alert.rule.as_str(), text = %alert.text, "webhook alert");
                }
                AlertState::Resolved => {
                    tracing::info!(endpoint = %alert.endpoint_id, rule = alert.rule.as_str(), text = %alert.text, "webhook alert resolved");
                }
            }
            let alert = Arc::new(alert);
            let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
            for channel in channels.iter() {
                if channel.queue.try_send(alert.clone()).is_err() {
                    tracing::warn!(channel = %channel.label, endpoint = %alert.endpoint_id, "webhook alert dropped: the channel's queue is full or closed");
                }
            }
        }
    }
}

/// The alert engine: give its [`observer`](AlertEngine::observer) to the
/// dispatcher's builder, then [`start`](AlertEngine::start) it.
///
/// Dropping it stops its tasks at once; [`AlertEngine::shutdown`] lets the
/// channels finish the alerts they hold first.
pub struct AlertEngine {
    inner: Arc<Inner>,
    signals: mpsc::Sender<Signal>,
    receiver: Mutex<Option<mpsc::Receiver<Signal>>>,
    evaluate_every: Duration,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertEngine")
            .field("channels", &self.channels())
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl Drop for AlertEngine {
    fn drop(&mut self) {
        if let Some(task) = self.lock_task().take() {
            task.abort();
        }
        for channel in self.lock_channels().drain(..) {
            channel.handle.abort();
        }
    }
}

impl AlertEngine {
    /// A builder for `config` keeping its incidents in `store`.
    pub fn builder(config: AlertsConfig, store: Arc<dyn DeliveryStore>) -> AlertEngineBuilder {
        AlertEngineBuilder {
            config,
            store,
            clock: Arc::new(SystemClock),
            queue: DEFAULT_ENGINE_QUEUE,
            channel_queue: 64,
            attempts: DEFAULT_CHANNEL_ATTEMPTS,
            backoff: DEFAULT_CHANNEL_BACKOFF,
            timeout: DEFAULT_CHANNEL_TIMEOUT,
            evaluate_every: DEFAULT_EVALUATE_EVERY,
        }
    }

    /// The dispatcher's side: it never waits (a full queue drops with a log).
    pub fn observer(&self) -> Arc<dyn DeliveryObserver> {
        Arc::new(EngineObserver {
            signals: self.signals.clone(),
        })
    }

    /// Starts the engine's task: it takes what the observer queued and slides
    /// the windows every `evaluate_every`. Calling it again does nothing.
    pub fn start(&self) {
        let Some(mut receiver) = self
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let inner = self.inner.clone();
        let every = self.evaluate_every;
        *self.lock_task() = Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    signal = receiver.recv() => match signal {
                        Some(Signal::Outcome(outcome)) => inner.outcome(&outcome).await,
                        Some(Signal::Disabled(endpoint)) => inner.disabled(&endpoint).await,
                        None => break,
                    },
                    _ = ticks.tick() => inner.evaluate().await,
                }
            }
        }));
    }

    /// Judges one outcome now (what the started engine does with each one
    /// the observer queues).
    pub async fn record(&self, outcome: &DeliveryOutcome) {
        self.inner.outcome(outcome).await;
    }

    /// Notes an endpoint disabled now.
    pub async fn endpoint_disabled(&self, endpoint_id: &str) {
        self.inner.disabled(endpoint_id).await;
    }

    /// Slides the windows and looks at every incident now (what the started
    /// engine does every `evaluate_every`).
    pub async fn evaluate(&self) {
        self.inner.evaluate().await;
    }

    /// The incidents: open ones, and resolved ones remembered for their
    /// cool-down.
    pub async fn incidents(&self) -> Vec<IncidentRecord> {
        self.inner.rules.lock().await.incidents()
    }

    /// The active channels, as `slack[0] (hooks.slack.com)` or
    /// `email[1] (smtp.example.com:587, starttls)` (no secret).
    pub fn channels(&self) -> Vec<String> {
        self.lock_channels()
            .iter()
            .map(|c| c.label.clone())
            .collect()
    }

    /// Stops taking outcomes and lets each channel send what it holds, for up
    /// to `deadline`.
    pub async fn shutdown(&self, deadline: Duration) {
        if let Some(task) = self.lock_task().take() {
            task.abort();
        }
        let channels: Vec<ChannelTask> = self.lock_channels().drain(..).collect();
        let handles: Vec<JoinHandle<()>> = channels
            .into_iter()
            .map(|channel| {
                drop(channel.queue);
                channel.handle
            })
            .collect();
        let aborts: Vec<_> = handles.iter().map(JoinHandle::abort_handle).collect();
        let all = async {
            for handle in handles {
                let _ = handle.await;
            }
        };
        if tokio::time::timeout(deadline, all).await.is_err() {
            for abort in aborts {
                abort.abort();
            }
        }
    }

    fn lock_task(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.task.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_channels(&self) -> std::sync::MutexGuard<'_, Vec<ChannelTask>> {
        self.inner
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Queues what the workers conclude for the engine, never waiting.
#[derive(Debug)]
struct EngineObserver {
    signals: mpsc::Sender<Signal>,
}

impl DeliveryObserver for EngineObserver {
    fn outcome(&self, outcome: &DeliveryOutcome) {
        if self
            .signals
            .try_send(Signal::Outcome(outcome.clone()))
            .is_err()
        {
            tracing::warn!(delivery = %outcome.delivery_id, "webhook alert engine queue full: outcome not judged");
        }
    }

    fn endpoint_disabled(&self, endpoint_id: &str, _at: DateTime<Utc>) {
        if self
            .signals
            .try_send(Signal::Disabled(endpoint_id.to_owned()))
            .is_err()
        {
            tracing::warn!(endpoint = %endpoint_id, "webhook alert engine queue full: disabled endpoint not judged");
        }
    }
}
