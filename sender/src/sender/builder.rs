//! [`SenderBuilder`]: a [`Sender`] with injected time, waiting, randomness, dead-letter
//! sink, destination policy and resolver.

use std::path::PathBuf;
use std::sync::Arc;

use crate::Error;
use crate::attempts::Runtime;
use crate::clock::{Clock, RandomSource, Sleeper, SystemClock, SystemRandom, TokioSleeper};
use crate::config::WebhooksConfig;
use crate::dead_letter::{DeadLetterSink, JsonlDeadLetters, MemoryDeadLetters};
use crate::destination::{DestinationPolicy, GuardedResolver, Resolver, SystemResolver};
use crate::diagnostic::Warning;
use crate::endpoint;
use crate::metrics::{DEFAULT_METRICS_ENDPOINT_LIMIT, Metrics};
use crate::registry::Registry;

use super::{Inner, Sender, issue_error, issue_warning};

/// Builds a [`Sender`] with injected time, waiting, randomness and dead-letter sink.
///
/// ```
/// use std::sync::Arc;
/// use megabot_webhook_sender::config::{EndpointConfig, SecretKeys, WebhooksConfig};
/// use megabot_webhook_sender::{MemoryDeadLetters, RecordingSleeper, Sender};
///
/// let mut config = WebhooksConfig::default();
/// config.secret_key = Some(SecretKeys::one("your_webhook_secret"));
/// config.endpoints = vec![EndpointConfig::new("https://example.com/webhook")];
/// let dead_letters = Arc::new(MemoryDeadLetters::new());
/// let (sender, warnings) = Sender::builder(config)
///     .sleeper(Arc::new(RecordingSleeper::new()))
///     .dead_letters(dead_letters.clone())
///     .build()?;
/// assert!(warnings.is_empty());
/// assert_eq!(sender.endpoints().len(), 1);
/// # Ok::<(), megabot_webhook_sender::Error>(())
/// ```
#[derive(Debug)]
pub struct SenderBuilder {
    config: WebhooksConfig,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    random: Arc<dyn RandomSource>,
    dead_letters: Arc<dyn DeadLetterSink>,
    policy: DestinationPolicy,
    resolver: Arc<dyn Resolver>,
    metrics_endpoint_limit: usize,
}

impl SenderBuilder {
    /// A builder for `config` with the system clock, Tokio sleeps, system
    /// randomness, an in-memory dead-letter sink, the
    /// [`DestinationPolicy::local_tools`] policy and the system resolver.
    pub fn new(config: WebhooksConfig) -> SenderBuilder {
        SenderBuilder {
            config,
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            random: Arc::new(SystemRandom::new()),
            dead_letters: Arc::new(MemoryDeadLetters::new()),
            policy: DestinationPolicy::local_tools(),
            resolver: Arc::new(SystemResolver),
            metrics_endpoint_limit: DEFAULT_METRICS_ENDPOINT_LIMIT,
        }
    }

    /// How many endpoints get an `endpoint` label of their own in the
    /// metrics reported through the `metrics` facade (default
    /// [`DEFAULT_METRICS_ENDPOINT_LIMIT`], 100): the first ones seen; the
    /// others are summed under `endpoint="other"` (docs/design.md section 8).
    #[must_use]
    pub fn metrics_endpoint_limit(mut self, limit: usize) -> SenderBuilder {
        self.metrics_endpoint_limit = limit;
        self
    }

    /// The clock for `webhook-timestamp`, time windows and `Retry-After` dates.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> SenderBuilder {
        self.clock = clock;
        self
    }

    /// How waits between attempts are made.
    #[must_use]
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> SenderBuilder {
        self.sleeper = sleeper;
        self
    }

    /// The random source for jitter.
    #[must_use]
    pub fn random(mut self, random: Arc<dyn RandomSource>) -> SenderBuilder {
        self.random = random;
        self
    }

    /// Where failed deliveries go.
    #[must_use]
    pub fn dead_letters(mut self, sink: Arc<dyn DeadLetterSink>) -> SenderBuilder {
        self.dead_letters = sink;
        self
    }

    /// Which destinations may be connected to; default
    /// [`DestinationPolicy::local_tools`] (loopback and global addresses).
    /// The dispatcher uses [`DestinationPolicy::server`]. The config's
    /// `allow_private_targets` and `allowed_targets` are applied on top.
    #[must_use]
    pub fn destination_policy(mut self, policy: DestinationPolicy) -> SenderBuilder {
        self.policy = policy;
        self
    }

    /// How host names are resolved; default [`SystemResolver`]. Every
    /// resolved address passes the destination policy before a connection.
    #[must_use]
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> SenderBuilder {
        self.resolver = resolver;
        self
    }

    /// Failed deliveries go to the JSON Lines file at `path`.
    #[must_use]
    pub fn dead_letter_file(self, path: impl Into<PathBuf>) -> SenderBuilder {
        self.dead_letters(Arc::new(JsonlDeadLetters::new(path)))
    }

    /// Checks the config and builds the sender.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid setting (with its key, without a
    /// line: use [`ConfigLoader`](crate::ConfigLoader) or [`Sender::from_config_file`] for files),
    /// [`Error::HttpClient`] when the HTTP client cannot be set up.
    pub fn build(self) -> Result<(Sender, Vec<Warning>), Error> {
        let compiled = endpoint::compile_config(&self.config, "webhooks").map_err(issue_error)?;
        let policy = Arc::new(
            self.policy
                .with_config(&self.config, "webhooks")
                .map_err(issue_error)?,
        );
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
                resolver: self.resolver,
            }))
            .build()
            .map_err(|e| Error::HttpClient {
                message: e.to_string(),
            })?;
        let registry = Registry::default();
        for endpoint in compiled.endpoints {
            registry.add(endpoint);
        }
        let warnings = compiled.warnings.into_iter().map(issue_warning).collect();
        let sender = Sender {
            inner: Arc::new(Inner {
                enabled: compiled.enabled,
                default_secrets: compiled.default_secrets,
                default_dead_letter_keys: compiled.default_dead_letter_keys,
                registry,
                runtime: Runtime {
                    client,
                    clock: self.clock,
                    sleeper: self.sleeper,
                    random: self.random,
                    policy,
                },
                metrics: Metrics::with_endpoint_limit(self.metrics_endpoint_limit),
                dead_letters: self.dead_letters,
            }),
        };
        Ok((sender, warnings))
    }
}
