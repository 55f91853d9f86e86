//! The sender: registered endpoints, concurrent delivery, metrics, dead letters.

mod builder;

pub use builder::SenderBuilder;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{EndpointConfig, WebhooksConfig};
use megabot_webhook_types::Event;

use super::attempts::{Runtime, deliver};
use super::dead_letter::{Authenticity, DeadLetter, DeadLetterKey, DeadLetterSink};
use super::delivery::Delivery;
use super::diagnostic::{ConfigError, Issue, Warning};
use super::endpoint::{self, CompiledEndpoint};
use super::metrics::{Metrics, MetricsSnapshot};
use super::redact::redact_url;
use super::redeliver::{RedeliverOptions, Redelivery, RefusalReason};
use super::registry::{EndpointId, Registry};
use super::report::{EndpointReport, Outcome, SendReport, SkipReason, Skipped};
use crate::Error;
use crate::config::load::ConfigLoader;
use megabot_webhook_verify::Secret;

/// The key runtime-registered endpoints are checked under.
const ENDPOINT_KEY: &str = "endpoint";

/// Delivers events to the configured endpoints, as MegaBot's dispatcher does.
///
/// Cheap to clone (all clones share endpoints, metrics and dead letters).
/// Its async methods must run inside a Tokio runtime with the time driver
/// enabled (`#[tokio::main]` has it).
///
/// ```no_run
/// use megabot_webhook_sender::Sender;
/// # async fn run(event: megabot_webhook_types::Event) -> Result<(), megabot_webhook_sender::Error> {
/// let (sender, warnings) = Sender::from_config_file("mega-config.yaml")?;
/// for warning in &warnings {
///     eprintln!("warning: {warning}");
/// }
/// let report = sender.send(&event).await?;
/// for delivery in &report.deliveries {
///     println!("{} {:?} after {} attempts", delivery.url, delivery.outcome, delivery.attempts.len());
/// }
/// println!("success rate {:.0} %", sender.metrics().success_rate * 100.0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sender {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    default_secrets: Vec<Secret>,
    default_dead_letter_keys: Vec<DeadLetterKey>,
    registry: Registry,
    runtime: Runtime,
    metrics: Metrics,
    dead_letters: Arc<dyn DeadLetterSink>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("enabled", &self.inner.enabled)
            .field("endpoints", &self.inner.registry.snapshot().len())
            .field("dead_letters", &self.inner.dead_letters)
            .finish_non_exhaustive()
    }
}

fn issue_error(issue: Issue) -> Error {
    Error::from(ConfigError::new(issue.key, issue.message))
}

fn issue_warning(issue: Issue) -> Warning {
    Warning::new(issue.key, issue.message)
}

impl Sender {
    /// A sender for `config` with the defaults of [`SenderBuilder::new`].
    ///
    /// # Errors
    ///
    /// As [`SenderBuilder::build`].
    pub fn new(config: WebhooksConfig) -> Result<(Sender, Vec<Warning>), Error> {
        SenderBuilder::new(config).build()
    }

    /// A builder, to inject a clock, sleeper, random source or dead-letter sink.
    pub fn builder(config: WebhooksConfig) -> SenderBuilder {
        SenderBuilder::new(config)
    }

    /// Loads the `webhooks:` section of `mega-config.yaml` (variables from the
    /// process environment) and builds a sender with the defaults.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the file, line and key; see [`ConfigLoader`].
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<(Sender, Vec<Warning>), Error> {
        let loaded = ConfigLoader::new().load_file(path)?;
        let (sender, _) = Sender::new(loaded.config)?;
        Ok((sender, loaded.warnings))
    }

    /// Whether the config enables sending (`enabled`, default true).
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled
    }

    /// Sends `event` to every registered endpoint that subscribes to it and
    /// whose filters pass, concurrently, each with its retries. Returns when
    /// every delivery has ended; failed ones are in the dead-letter sink.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDelivery`] when the event cannot be written or its name
    /// or id cannot travel in a header. Delivery failures are not errors:
    /// they are in the report.
    pub async fn send(&self, event: &Event) -> Result<SendReport, Error> {
        let delivery = Delivery::from_event(event)?;
        Ok(self.send_delivery(&delivery).await)
    }

    /// As [`Sender::send`], for a delivery built by the caller (raw bytes, a
    /// user's JSON file).
    pub async fn send_delivery(&self, delivery: &Delivery) -> SendReport {
        let mut report = SendReport {
            event: delivery.event().to_owned(),
            delivery_id: delivery.id().to_owned(),
            deliveries: Vec::new(),
            skipped: Vec::new(),
        };
        let now = self.inner.runtime.clock.now();
        let mut targets = Vec::new();
        for (id, endpoint) in self.inner.registry.snapshot() {
            let reason = if !self.inner.enabled {
                Some(SkipReason::Disabled)
            } else if !endpoint.subscription.matches(delivery.event()) {
                Some(SkipReason::NotSubscribed)
            } else {
                endpoint
                    .filter
                    .check(delivery.envelope(), now)
                    .err()
                    .map(SkipReason::Filtered)
            };
            match reason {
                Some(reason) => report.skipped.push(Skipped {
                    endpoint: id,
                    url: endpoint.config.url.clone(),
                    reason,
                }),
                None => targets.push((id, endpoint)),
            }
        }
        report.deliveries = self.deliver_all(targets, delivery).await;
        report
    }

    /// Delivers to each target concurrently, in their own tasks, so one slow
    /// endpoint never delays another (and a dropped caller does not cut a
    /// delivery short).
    async fn deliver_all(
        &self,
        targets: Vec<(EndpointId, Arc<CompiledEndpoint>)>,
        delivery: &Delivery,
    ) -> Vec<EndpointReport> {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            let mut reports = Vec::with_capacity(targets.len());
            for (id, endpoint) in targets {
                reports.push(self.deliver_and_record(&endpoint, Some(id), delivery).await);
            }
            return reports;
        };
        let tasks: Vec<_> = targets
            .into_iter()
            .map(|(id, endpoint)| {
                let sender = self.clone();
                let owned = delivery.clone();
                let task_endpoint = endpoint.clone();
                let task = handle.spawn(async move {
                    sender
                        .deliver_and_record(&task_endpoint, Some(id), &owned)
                        .await
                });
                (id, endpoint, task)
            })
            .collect();
        let mut reports = Vec::with_capacity(tasks.len());
        for (id, endpoint, task) in tasks {
            match task.await {
                Ok(report) => reports.push(report),
                Err(error) => reports.push(self.task_failed(&endpoint, id, delivery, &error)),
            }
        }
        reports
    }

    /// A delivery whose task died (it never should): reported and
    /// dead-lettered, so that the event is not lost.
    fn task_failed(
        &self,
        endpoint: &CompiledEndpoint,
        id: EndpointId,
        delivery: &Delivery,
        error: &tokio::task::JoinError,
    ) -> EndpointReport {
        tracing::error!(endpoint = %id, %error, "webhook delivery task failed");
        let message = format!("delivery task failed: {error}");
        let mut report = EndpointReport {
            endpoint: Some(id),
            url: endpoint.config.url.clone(),
            event: delivery.event().to_owned(),
            delivery_id: delivery.id().to_owned(),
            outcome: Outcome::Exhausted,
            attempts: Vec::new(),
            final_status: None,
            error: Some(message.clone()),
            duration: Duration::ZERO,
            dead_lettered: false,
            dead_letter_error: None,
        };
        let letter = DeadLetter::new(
            endpoint,
            delivery,
            self.inner.runtime.clock.now().timestamp(),
            0,
            None,
            message,
        );
        self.store_dead_letter(&mut report, &letter);
        self.inner.metrics.record(&report);
        report
    }

    /// Delivers, stores a failure in the dead-letter sink and counts it.
    async fn deliver_and_record(
        &self,
        endpoint: &CompiledEndpoint,
        id: Option<EndpointId>,
        delivery: &Delivery,
    ) -> EndpointReport {
        let (mut report, letter) = deliver(&self.inner.runtime, endpoint, id, delivery).await;
        if let Some(letter) = letter {
            self.store_dead_letter(&mut report, &letter);
        }
        self.inner.metrics.record(&report);
        report
    }

    fn store_dead_letter(&self, report: &mut EndpointReport, letter: &DeadLetter) {
        match self.inner.dead_letters.store(letter) {
            Ok(()) => report.dead_lettered = true,
            Err(error) => {
                tracing::error!(id = %letter.id, %error, "webhook dead letter could not be stored");
                report.dead_letter_error = Some(error.to_string());
            }
        }
    }

    /// Delivers to one endpoint that need not be registered, ignoring its
    /// subscriptions and filters (the CLI's `send --url`). The endpoint signs
    /// with its own `secret`, or the config's `secret_key`. A failure goes to
    /// the dead-letter sink and counts in the metrics.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the endpoint's settings are invalid.
    pub async fn deliver_to(
        &self,
        endpoint: &EndpointConfig,
        delivery: &Delivery,
    ) -> Result<EndpointReport, Error> {
        let (compiled, _) = self.compile(endpoint)?;
        Ok(self.deliver_and_record(&compiled, None, delivery).await)
    }

    fn compile(
        &self,
        endpoint: &EndpointConfig,
    ) -> Result<(CompiledEndpoint, Vec<Warning>), Error> {
        let (compiled, warnings) = endpoint::compile_endpoint(
            endpoint,
            &self.inner.default_secrets,
            &self.inner.default_dead_letter_keys,
            ENDPOINT_KEY,
            "webhooks.secret_key",
        )
        .map_err(issue_error)?;
        Ok((compiled, warnings.into_iter().map(issue_warning).collect()))
    }

    /// Registers an endpoint while the sender runs (the guide's dynamic
    /// registration), checked as a config file's endpoints are; errors and
    /// warnings name keys as `endpoint.url`, `endpoint.retry_policy.max_attempts`.
    /// Events sent from now on reach it.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when a setting is invalid.
    pub fn add_endpoint(
        &self,
        endpoint: EndpointConfig,
    ) -> Result<(EndpointId, Vec<Warning>), Error> {
        let (compiled, warnings) = self.compile(&endpoint)?;
        Ok((self.inner.registry.add(compiled), warnings))
    }

    /// Unregisters an endpoint and returns its config; deliveries to it that
    /// already started go on. `None` when no such endpoint is registered.
    pub fn remove_endpoint(&self, id: EndpointId) -> Option<EndpointConfig> {
        self.inner
            .registry
            .remove(id)
            .map(|endpoint| endpoint.config.clone())
    }

    /// The registered endpoints, in registration order.
    pub fn endpoints(&self) -> Vec<(EndpointId, EndpointConfig)> {
        self.inner
            .registry
            .snapshot()
            .into_iter()
            .map(|(id, endpoint)| (id, endpoint.config.clone()))
            .collect()
    }

    /// Delivery totals so far.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// Delivers a dead letter again (with a full set of attempts), after the
    /// checks of [`RedeliverOptions`] (see [`Sender::redeliver_with`]): its
    /// MAC, its destination (a registered endpoint with the letter's URL,
    /// whose current secrets and headers are used, or the URL as recorded
    /// with `to_recorded_url`) and, for a MegaBot-scheme-only letter, the
    /// age of its body timestamp. A failed delivery goes to the
    /// dead-letter sink again; a refused letter is returned as it is.
    ///
    /// # Errors
    ///
    /// [`Error::DeadLetter`] when the sink cannot store a failure again.
    pub async fn redeliver_letter(
        &self,
        letter: &DeadLetter,
        options: &RedeliverOptions,
    ) -> Result<Redelivery, Error> {
        let (result, failed) = self.redeliver_one(letter, options).await;
        let mut result = result;
        if let (Some(failed), Redelivery::Attempted { report, .. }) = (failed, &mut result) {
            self.store_dead_letter(report, &failed);
            if let Some(error) = &report.dead_letter_error {
                return Err(Error::DeadLetter {
                    path: String::new(),
                    message: error.clone(),
                });
            }
        }
        Ok(result)
    }

    /// The keys a letter to `url` may be sealed with: those of the
    /// registered endpoint with that URL, then the default secrets'.
    fn dead_letter_keys_for(&self, endpoint: Option<&CompiledEndpoint>) -> Vec<DeadLetterKey> {
        let mut keys = endpoint
            .map(|e| e.dead_letter_keys.clone())
            .unwrap_or_default();
        keys.extend(self.inner.default_dead_letter_keys.iter().cloned());
        keys
    }

    /// Checks and redelivers without storing a failure; returns what
    /// happened and, for a failed delivery, the new letter to keep.
    pub(crate) async fn redeliver_one(
        &self,
        letter: &DeadLetter,
        options: &RedeliverOptions,
    ) -> (Redelivery, Option<DeadLetter>) {
        let refused = |reason: RefusalReason| {
            (
                Redelivery::Refused {
                    id: letter.id.clone(),
                    url: redact_url(&letter.url).into_owned(),
                    reason,
                },
                None,
            )
        };
        let mut delivery = match letter.delivery() {
            Ok(delivery) => delivery,
            Err(error) => {
                return refused(RefusalReason::Invalid {
                    message: error.to_string(),
                });
            }
        };
        let registered = self.inner.registry.find_url(&letter.url);
        let keys = self.dead_letter_keys_for(registered.as_ref().map(|(_, e)| &**e));
        match letter.authenticity(&keys) {
            Authenticity::Authentic => {}
            Authenticity::Unauthenticated if options.accept_unauthenticated => {}
            Authenticity::Unauthenticated => return refused(RefusalReason::Unauthenticated),
            Authenticity::Tampered => return refused(RefusalReason::Tampered),
        }
        let (id, endpoint) = match registered {
            Some((id, endpoint)) => (Some(id), endpoint),
            None if !options.to_recorded_url => return refused(RefusalReason::UnknownEndpoint),
            None if letter.standard_webhooks => {
                return refused(RefusalReason::Invalid {
                    message: "the dead letter was signed with standard webhooks, and no registered endpoint with its url has the secret".to_owned(),
                });
            }
            None => match self.compile(&letter.endpoint_config()) {
                Ok((compiled, _)) => (None, Arc::new(compiled)),
                Err(error) => {
                    return refused(RefusalReason::Invalid {
                        message: error.to_string(),
                    });
                }
            },
        };
        let mut restamped = None;
        let now = self.inner.runtime.clock.now().timestamp();
        let body_timestamp = delivery
            .envelope()
            .get("timestamp")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or_else(|| delivery.timestamp());
        let age = now.saturating_sub(body_timestamp);
        // A Standard Webhooks endpoint is re-signed per attempt: never stale.
        if endpoint.standard_secrets.is_empty()
            && endpoint.standard_signing_key.is_none()
            && age.abs() > STALE_AFTER_SECS
        {
            if !options.restamp {
                return refused(RefusalReason::Stale {
                    timestamp: body_timestamp,
                    age_secs: age,
                });
            }
            match restamp(&delivery, now) {
                Some(fresh) => {
                    delivery = fresh;
                    restamped = Some(now);
                }
                None => {
                    return refused(RefusalReason::Invalid {
                        message: "the dead letter is stale and its body is not an event envelope whose timestamp could be re-stamped".to_owned(),
                    });
                }
            }
        }
        let (report, failed) = deliver(&self.inner.runtime, &endpoint, id, &delivery).await;
        self.inner.metrics.record(&report);
        (Redelivery::Attempted { report, restamped }, failed)
    }
}

/// The receivers' default tolerance (design 4.1, 9.5 `stale_after`): a
/// MegaBot-scheme-only letter whose body timestamp is further from now is
/// refused by every receiver.
pub(crate) const STALE_AFTER_SECS: i64 = 300;

/// `delivery` with its envelope's `timestamp` set to `now` (key order kept,
/// written as at publish); `None` when the body is not an envelope.
fn restamp(delivery: &Delivery, now: i64) -> Option<Delivery> {
    let mut value: serde_json::Value = serde_json::from_slice(delivery.body()).ok()?;
    let object = value.as_object_mut()?;
    object.get("timestamp")?;
    object.insert("timestamp".to_owned(), now.into());
    let fresh = Delivery::from_value(value).ok()?;
    (fresh.id() == delivery.id() && fresh.event() == delivery.event()).then_some(fresh)
}
