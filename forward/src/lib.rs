//! Forward verified MegaBot webhooks to Slack, Datadog, GitHub and GitLab, speaking each target's real API.
//!
//! Each forwarder is an axum service with a verified, exactly-once
//! `POST /webhook` route ([`router`]). For every delivery it
//!
//! 1. checks the [`Selection`] — subscription patterns (exact names, `*`,
//!    globs) and the guide's filters, with the sender's semantics; an event
//!    that is not selected is answered `200 {"status":"ignored"}` so that
//!    MegaBot does not retry it;
//! 2. turns the event into the target's request (`slack::message`,
//!    `datadog::event_body` / `datadog::series_body`,
//!    `github::dispatch_body`, `gitlab::variables`);
//! 3. sends it with retries ([`Retrier`]: the sender's [`RetryPolicy`] and
//!    [`backoff_delay`], the target's `Retry-After` and rate-limit headers,
//!    all within a time budget that answers MegaBot before its own timeout);
//! 4. answers MegaBot: `200` when the target accepted the request; `502` /
//!    `503` (+ `Retry-After`) when the target stayed unavailable — the
//!    delivery's claim is released and MegaBot's retry runs it again, so
//!    nothing is lost; `422` when the target refused it for good (Slack's
//!    `invalid_payload`, GitHub's `404`), with the target's error text logged
//!    and in the answer.
//!
//! Tokens, API keys, secrets and the Slack webhook URL are never logged.
//! The design is in docs/design.md section 2 (workspace) of the repository.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "slack")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use megabot_webhook_forward::{Forwarder, RetrySettings, Selection, router};
//! use megabot_webhook_forward::slack::{Slack, SlackConfig};
//! use megabot_webhook_sender::config::Filters;
//! use megabot_webhook_verify::{Secret, Verifier};
//!
//! let verifier = Verifier::builder().megabot_secret(Secret::new("your_webhook_secret")?).build()?;
//! let slack = Slack::new(
//!     SlackConfig::new("https://hooks.slack.com/services/T000/B000/XXXX")?,
//!     RetrySettings::default(),
//! )?;
//! let filters: Filters = serde_json::from_str(r#"{"min_severity":"warning"}"#)?;
//! let selection = Selection::new(["tool_execution_failed", "error_occurred"], &filters)?;
//! let app = router(verifier, Arc::new(Forwarder::new(slack, selection)));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! Or, with every setting from the environment ([`Settings`] and each
//! target's `from_env`): `megabot_webhook_forward::run(&Env::process(),
//! slack::DEFAULT_EVENTS, Slack::from_env)`.
//!
//! # Features
//!
//! One per target; none is on by default.
//!
//! | feature | module | target API |
//! |---|---|---|
//! | `slack` | `slack` | incoming webhooks, paced one message per second per URL (per process) |
//! | `datadog` | `datadog` | `POST /api/v1/events` and `POST /api/v2/series` |
//! | `github` | `github` | `POST /repos/{owner}/{repo}/dispatches` (`repository_dispatch`) |
//! | `gitlab` | `gitlab` | `POST /api/v4/projects/{id}/trigger/pipeline` |
//!
//! # Modules
//!
//! The shared plumbing is at the root: [`Forwarder`] and [`Target`] (one
//! target behind one selection), [`router`] and [`serve`]/[`run`] (the HTTP
//! side facing MegaBot), [`Selection`], [`Retrier`]/[`RetrySettings`],
//! [`Env`] and [`Settings`] (configuration), [`summarize`] (the text every
//! target shows), and the crate's [`Error`].
//!
//! [`RetryPolicy`]: megabot_webhook_sender::config::RetryPolicy
//! [`backoff_delay`]: megabot_webhook_sender::backoff_delay

mod app;
#[cfg(feature = "datadog")]
pub mod datadog;
mod env;
mod error;
mod forwarder;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
#[cfg(feature = "slack")]
mod pace;
#[cfg(feature = "datadog")]
mod progress;
mod retry;
mod selection;
mod server;
#[cfg(feature = "slack")]
pub mod slack;
mod summary;
mod target;
mod text;
#[cfg(any(
    feature = "slack",
    feature = "datadog",
    feature = "github",
    feature = "gitlab"
))]
mod upstream;

pub use app::router;
pub use env::Env;
pub use error::Error;
pub use forwarder::{Forwarder, Outcome};
#[cfg(feature = "slack")]
pub use pace::Pacer;
pub use retry::{AttemptError, Retrier, RetrySettings};
pub use selection::{Selection, Skip};
pub use server::{DEFAULT_ADDR, Settings, run, serve};
pub use summary::{Summary, effective_severity, summarize};
pub use target::{Delivered, Target};
pub use text::truncate_chars;
#[cfg(any(
    feature = "slack",
    feature = "datadog",
    feature = "github",
    feature = "gitlab"
))]
pub use upstream::USER_AGENT;

/// The README's examples, compiled and run as doc tests.
#[cfg(all(doctest, feature = "slack"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
