//! Forwards MegaBot webhooks to Datadog as events and metrics (the guide's
//! "Monitoring Integration" example, speaking Datadog's HTTP API).
//!
//! ```text
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret DD_API_KEY=... DD_SITE=datadoghq.eu \
//!   cargo run -p megabot-webhook-examples --bin datadog_forwarder
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `DD_API_KEY` | the API key (required) |
//! | `DD_SITE` | one of Datadog's sites: `datadoghq.com` (default), `us3.datadoghq.com`, `us5.datadoghq.com`, `datadoghq.eu`, `ddog-gov.com`, `us2.ddog-gov.com`, `ap1.datadoghq.com`, `ap2.datadoghq.com` (or `us1` … `ap2`); anything else is refused |
//! | `DATADOG_API_URL` | overrides the site's API URL (a local stand-in) |
//! | `MEGABOT_WEBHOOK_SECRET`, `FORWARDER_ADDR`, `FORWARD_*` | shared settings: see `megabot_webhook_forward::Settings` |
//!
//! Default events: all (`*`). Every event becomes a Datadog event;
//! `tool_execution_completed` also sends `megabot.tool_execution.duration`,
//! `error_occurred` also sends `megabot.errors.count`.

use std::process::ExitCode;

use megabot_webhook_examples::forwarder::run_main;
use megabot_webhook_forward::datadog::{DEFAULT_EVENTS, Datadog};

#[tokio::main]
async fn main() -> ExitCode {
    run_main(DEFAULT_EVENTS, Datadog::from_env).await
}
