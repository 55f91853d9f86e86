//! Forwards MegaBot webhooks to GitHub as `repository_dispatch` events (the
//! guide's "GitHub Integration" example, speaking GitHub's REST API).
//!
//! ```text
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret GITHUB_TOKEN=github_pat_... \
//! GITHUB_REPOSITORY=owner/repo \
//!   cargo run -p megabot-webhook-examples --bin github_forwarder
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `GITHUB_TOKEN` | a token allowed to dispatch (fine-grained: "Contents: write"; required) |
//! | `GITHUB_REPOSITORY` | `owner/repo` (required) |
//! | `GITHUB_API_URL` | default `https://api.github.com`; GitHub Enterprise Server's `https://HOST/api/v3`, or a local stand-in |
//! | `MEGABOT_WEBHOOK_SECRET`, `FORWARDER_ADDR`, `FORWARD_*` | shared settings: see `megabot_webhook_forward::Settings` |
//!
//! Default events: `deployment_completed`, `error_occurred` (the guide's
//! workflow `types`). The guide's workflow reads `client_payload.url` and
//! `client_payload.error.message`; both are in the payload, next to the whole
//! envelope (`event`, `id`, `timestamp`, `data`).

use std::process::ExitCode;

use megabot_webhook_examples::forwarder::run_main;
use megabot_webhook_forward::github::{DEFAULT_EVENTS, GitHub};

#[tokio::main]
async fn main() -> ExitCode {
    run_main(DEFAULT_EVENTS, GitHub::from_env).await
}
