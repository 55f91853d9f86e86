//! Forwards MegaBot webhooks to a Slack incoming webhook (the guide's "Slack
//! Notifications" example, speaking Slack's real API).
//!
//! ```text
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret \
//! SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T000/B000/XXXX \
//! FORWARD_EVENTS=tool_execution_failed,deployment_completed,error_occurred \
//! FORWARD_MIN_SEVERITY=warning \
//!   cargo run -p megabot-webhook-examples --bin slack_forwarder
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `SLACK_WEBHOOK_URL` | the incoming webhook (required; `http://127.0.0.1:...` for a local stand-in) |
//! | `MEGABOT_WEBHOOK_SECRET`, `FORWARDER_ADDR`, `FORWARD_*` | shared settings: see `megabot_webhook_forward::Settings` |
//!
//! Default events: `tool_execution_failed`, `deployment_completed`,
//! `error_occurred`, `system_status_changed`. Messages to the webhook are
//! spaced at least one second apart by this process (pacing is per process).

use std::process::ExitCode;

use megabot_webhook_examples::forwarder::run_main;
use megabot_webhook_forward::slack::{DEFAULT_EVENTS, Slack};

#[tokio::main]
async fn main() -> ExitCode {
    run_main(DEFAULT_EVENTS, Slack::from_env).await
}
