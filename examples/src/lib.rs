//! Runnable examples for the MegaBot webhook SDK.
//!
//! Minimal receivers, one per framework — run with the secret in the environment:
//!
//! ```text
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret cargo run -p megabot-webhook-examples --bin receiver_axum
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret cargo run -p megabot-webhook-examples --bin receiver_actix
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret cargo run -p megabot-webhook-examples --bin receiver_warp
//! ```
//!
//! Each listens on `MEGABOT_WEBHOOK_ADDR` (default `127.0.0.1:3000`) and serves
//! `POST /webhook`. This library holds what they share: [`receiver`].
//!
//! Forwarders, the guide's integration examples as working programs — each
//! receives MegaBot deliveries on a verified route and calls the target's real
//! API, with retries, answering MegaBot so that nothing is lost (the
//! `megabot-webhook-forward` crate; [`forwarder`] holds the binaries' shared
//! start-up):
//!
//! ```text
//! SLACK_WEBHOOK_URL=https://hooks.slack.com/services/... cargo run -p megabot-webhook-examples --bin slack_forwarder
//! DD_API_KEY=... DD_SITE=datadoghq.eu cargo run -p megabot-webhook-examples --bin datadog_forwarder
//! GITHUB_TOKEN=... GITHUB_REPOSITORY=owner/repo cargo run -p megabot-webhook-examples --bin github_forwarder
//! GITLAB_TRIGGER_TOKEN=... GITLAB_PROJECT_ID=42 cargo run -p megabot-webhook-examples --bin gitlab_forwarder
//! ```
//!
//! All of them also read `MEGABOT_WEBHOOK_SECRET`, `FORWARDER_ADDR` and
//! `FORWARD_EVENTS` (subscription patterns such as `tool_execution_*`); see
//! each binary's docs for the rest.

pub mod forwarder;
pub mod receiver;
