//! Triggers GitLab pipelines from MegaBot webhooks (the guide's "CI/CD
//! Integration" example, speaking GitLab's pipeline trigger API).
//!
//! ```text
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret GITLAB_TRIGGER_TOKEN=glptt-... \
//! GITLAB_PROJECT_ID=12345 GITLAB_REF=main \
//!   cargo run -p megabot-webhook-examples --bin gitlab_forwarder
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `GITLAB_TRIGGER_TOKEN` | a pipeline trigger token (required) |
//! | `GITLAB_PROJECT_ID` | the project's id or path, e.g. `group/project` (required) |
//! | `GITLAB_REF` | the branch or tag to run, default `main` |
//! | `GITLAB_API_URL` | default `https://gitlab.com`; a self-managed instance or a local stand-in |
//! | `MEGABOT_WEBHOOK_SECRET`, `FORWARDER_ADDR`, `FORWARD_*` | shared settings: see `megabot_webhook_forward::Settings` |
//!
//! Default events: `deployment_completed`, which sets
//! `MEGABOT_DEPLOY_TRIGGER=true`, `MEGABOT_DEPLOY_URL` and `MEGABOT_VERSION`
//! for the guide's `.gitlab-ci.yml` job.

use std::process::ExitCode;

use megabot_webhook_examples::forwarder::run_main;
use megabot_webhook_forward::gitlab::{DEFAULT_EVENTS, GitLab};

#[tokio::main]
async fn main() -> ExitCode {
    run_main(DEFAULT_EVENTS, GitLab::from_env).await
}
