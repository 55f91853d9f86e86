//! MegaBot's sending side: signed delivery of MegaBot events with retries, as
//! MegaBot's dispatcher does it (design 3 and 6).
//!
//! - **Config**: [`ConfigLoader`] reads the `webhooks:` (and `webhook_alerts:`) sections of
//!   `mega-config.yaml` (schema in [`crate::config`]) with
//!   `${VAR}` / `${VAR:-default}` expansion; every error names the file, line
//!   and key, unknown keys come with a "did you mean", and event patterns
//!   that match no known event are [`Warning`]s.
//! - **Subscriptions and filters**: [`Subscription`] (exact names, `*`,
//!   globs such as `tool_execution_*`) and [`EventFilter`] (platforms, users,
//!   minimum severity, content filters, time window in an IANA zone).
//! - **Delivery**: [`Sender`] sends the body bytes of the guide's JSON writer
//!   (or the caller's own bytes, see [`Delivery`]) with `Content-Type`,
//!   `X-MegaBot-Signature` (one `sha256=` entry per secret), `-Event`,
//!   `-Delivery`, `-Timestamp`, `User-Agent: MegaBot-Webhook/1.0`, the
//!   endpoint's headers and, when enabled, Standard Webhooks headers signed
//!   afresh on every attempt. Endpoints are served concurrently.
//! - **Retries**: `max_attempts` counts every attempt; the wait before
//!   attempt k+1 is `min(max_delay, initial_delay * backoff_multiplier^(k-1))`
//!   ([`backoff_delay`]), or the endpoint's `Retry-After` (seconds or HTTP
//!   date, capped at `max_delay`); optional jitter. 2xx delivers; connection
//!   errors, timeouts (10 s per attempt by default), 408, 409 (a copy in
//!   flight at the receiver), 429 and 5xx are
//!   retried; any other status (redirects included: they are not followed)
//!   is final. `http://` is refused unless the host is loopback or the
//!   endpoint sets `allow_insecure_http: true`.
//! - **Destination guard (SSRF)**: every attempt connects only to addresses
//!   its [`DestinationPolicy`] allows, checked on the addresses actually
//!   connected to (IP literals before the request, names after resolution
//!   through an injectable [`Resolver`]); a refusal is a final
//!   [`Outcome::Refused`] and nothing is sent. [`classify`] tells an
//!   address's [`AddressClass`]; [`check_destination`] is the
//!   registration-time check.
//! - **Results**: an [`EndpointReport`] per endpoint and delivery, totals as
//!   the guide's `WebhookMetrics` ([`MetricsSnapshot`]), and every failed
//!   delivery in a [`DeadLetterSink`] — in memory ([`MemoryDeadLetters`]) or
//!   a JSON Lines file ([`JsonlDeadLetters`]) that [`Sender::redeliver`]
//!   sends again.
//! - **Durable dispatcher and registration API** (features `dispatcher`,
//!   `sqlite`, `redis`, `api`): a stored queue of deliveries that survives
//!   crashes, and the guide's `POST /api/webhooks` with the rest of the
//!   sending side's HTTP API (see the table below).
//! - **Tests**: time, waiting and randomness are injectable ([`Clock`],
//!   [`Sleeper`], [`RandomSource`]); [`RecordingSleeper`] records the waits
//!   and returns at once.
//!
//! ## Cargo features
//!
//! | Feature | What it adds |
//! |---|---|
//! | *(none)* | The feature-free core: config, subscriptions, filters, [`Sender`] with retries and dead letters (the forwarders use only this). |
//! | `dispatcher` | The durable dispatcher core ([`dispatcher`]): `Dispatcher`, the `DeliveryStore` trait, leases, endpoint health, rate limits (design 7, 9.5). |
//! | `sqlite` | `dispatcher::SqliteStore`, the embedded store (one SQLite file, WAL, one owner at a time). Implies `dispatcher`. |
//! | `redis` | `dispatcher::RedisStore`, one queue shared by several dispatcher instances (leases with expiry). Implies `dispatcher`. |
//! | `test-util` | Test fakes: `FixedClock`, `FixedRandom`, `RecordingSleeper` (time, randomness and waits fixed or recorded). |
//! | `alerts-email` | E-mail (SMTP over STARTTLS or TLS, with `lettre`) for the alert engine ([`alerts`], part of `dispatcher`: the guide's `webhook_alerts`, Slack included without it). Implies `dispatcher`. |
//! | `api` | The registration and events API ([`api`]): `api::router`, an axum `Router` behind a bearer admin token (`POST /api/webhooks`, `/api/events`, `/api/deliveries`...). Implies `dispatcher`. |
//!
//! ```no_run
//! use std::sync::Arc;
//! use megabot_webhook_sender::config::{EndpointConfig, SecretKeys, WebhooksConfig};
//! use megabot_webhook_types::Event;
//! use megabot_webhook_sender::Sender;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut endpoint = EndpointConfig::new("https://your-service.com/webhook");
//! endpoint.events = vec!["tool_execution_*".into(), "error_occurred".into()];
//! let mut config = WebhooksConfig::default();
//! config.secret_key = Some(SecretKeys::one("your_webhook_secret"));
//! config.endpoints = vec![endpoint];
//!
//! let (sender, _warnings) = Sender::builder(config)
//!     .dead_letter_file("webhook-dead-letters.jsonl")
//!     .build()?;
//! let event = Event::from_slice(br#"{"event":"error_occurred","id":"evt_123462","timestamp":1640995205,"data":{"severity":"error"}}"#)?;
//! let report = sender.send(&event).await?;
//! assert!(report.all_delivered() || report.deliveries.iter().all(|d| d.dead_lettered));
//! # Ok(()) }
//! ```

#[cfg(feature = "dispatcher")]
pub mod alerts;
#[cfg(feature = "api")]
pub mod api;
mod attempts;
mod clock;
pub mod config;
mod dead_letter;
mod delivery;
mod destination;
mod diagnostic;
#[cfg(feature = "dispatcher")]
pub mod dispatcher;
mod endpoint;
mod error;
mod event_filter;
mod metrics;
mod redact;
mod redeliver;
mod registry;
mod report;
mod retry;
mod sender;
mod signed_headers;
mod subscription;
mod suggest;

pub use clock::{Clock, RandomSource, Sleeper, SystemClock, SystemRandom, TokioSleeper};
#[cfg(feature = "test-util")]
pub use clock::{FixedClock, FixedRandom, RecordingSleeper};
pub use config::load::{ConfigLoader, LoadedConfig, load_config_file};
pub use dead_letter::{
    Authenticity, DEAD_LETTER_VERSION, DeadLetter, DeadLetterKey, DeadLetterSink, JsonlDeadLetters,
    MemoryDeadLetters, dead_letter_file_warning, read_dead_letters,
};
pub use delivery::Delivery;
pub use destination::{
    AddressClass, AddressRange, AddressRangeError, CLOUD_METADATA, DestinationPolicy, Refusal,
    Resolver, StaticResolver, SystemResolver, check_destination, classify,
};
pub use diagnostic::{ConfigError, Warning};
pub use error::Error;
pub use event_filter::{EventFilter, FilterKind};
pub use metrics::{DEFAULT_METRICS_ENDPOINT_LIMIT, MetricsSnapshot, names as metric_names};
pub use redact::redact_url;
pub use redeliver::{RedeliverOptions, Redelivery, RedeliveryReport, RefusalReason};
pub use registry::EndpointId;
pub use report::{AttemptReport, EndpointReport, Outcome, SendReport, SkipReason, Skipped};
pub use retry::{backoff_delay, parse_retry_after};
pub use sender::{Sender, SenderBuilder};
pub use subscription::{Subscription, known_events_matching, pattern_matches};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
