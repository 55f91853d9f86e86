//! A minimal MegaBot webhook receiver on axum 0.8: `POST /webhook`.
//!
//! `MEGABOT_WEBHOOK_SECRET=... cargo run -p megabot-webhook-examples --bin receiver_axum`

use axum::Router;
use axum::http::StatusCode;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_adapters::axum::webhook;
use megabot_webhook_examples::receiver;

async fn handle(hook: Webhook) -> StatusCode {
    if receiver::handle(&hook) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    receiver::init_tracing();
    let verifier = receiver::verifier_from_env()?;
    let addr = receiver::addr_from_env()?;
    let app = Router::new()
        .route("/webhook", webhook(handle))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "axum receiver listening on /webhook");
    axum::serve(listener, app).await?;
    Ok(())
}
