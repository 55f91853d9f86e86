//! Forwarders: MegaBot events to Slack, Datadog, GitHub and GitLab, speaking
//! each target's real API (the guide's "Integration Examples" as programs).
//!
//! Each forwarder is an axum service with a verified, exactly-once
//! `POST /webhook` route ([`router`]). For every delivery it
//!
//! 1. checks the [`Selection`] — subscription patterns (exact names, `*`,
//!    globs) and the guide's filters, with the sender's semantics; an event
//!    that is not selected is answered `200 {"status":"ignored"}` so that
//!    MegaBot does not retry it;
//! 2. turns the event into the target's request ([`slack::message`],
//!    [`datadog::event_body`] / [`datadog::series_body`],
//!    [`github::dispatch_body`], [`gitlab::variables`]);
//! 3. sends it with retries ([`Retrier`]: the sender's [`RetryPolicy`] and
//!    [`backoff_delay`], the target's `Retry-After` and rate-limit headers,
//!    all within a time budget that answers MegaBot before its own timeout);
//! 4. answers MegaBot: `200` when the target accepted the request; `502` /
//!    `503` (+ `Retry-After`) when the target stayed unavailable — the
//!    delivery's claim is released and MegaBot's retry runs it again, so
//!    nothing is lost; `422` when the target refused it for good (Slack's
//!    `invalid_payload`, GitHub's `422`), with the target's error text logged
//!    and in the answer.
//!
//! The binaries `slack_forwarder`, `datadog_forwarder`, `github_forwarder` and
//! `gitlab_forwarder` read everything from the environment ([`Settings`] and
//! each target's config); tokens, API keys, secrets and the Slack webhook URL
//! are never logged.
//!
//! ```no_run
//! use std::sync::Arc;
//! use megabot_webhook_examples::forward::{Forwarder, RetrySettings, Selection, router};
//! use megabot_webhook_examples::forward::slack::{Slack, SlackConfig};
//! use megabot_webhook_sender::config::Filters;
//! use megabot_webhook_verify::{Secret, Verifier};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
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
//! [`RetryPolicy`]: megabot_webhook_sender::config::RetryPolicy
//! [`backoff_delay`]: megabot_webhook_sender::backoff_delay

mod app;
pub mod datadog;
mod env;
mod error;
mod forwarder;
pub mod github;
pub mod gitlab;
mod pace;
mod progress;
mod retry;
mod selection;
mod server;
pub mod slack;
mod summary;
mod target;
mod text;
mod upstream;

pub use app::router;
pub use env::Env;
pub use error::Error;
pub use forwarder::{Forwarder, Outcome};
pub use pace::Pacer;
pub use retry::{AttemptError, Retrier, RetrySettings};
pub use selection::{Selection, Skip};
pub use server::{DEFAULT_ADDR, Settings, init_tracing, run, run_main, serve};
pub use summary::{Summary, effective_severity, summarize};
pub use target::{Delivered, Target};
pub use text::truncate_chars;
pub use upstream::USER_AGENT;
