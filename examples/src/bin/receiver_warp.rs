//! A minimal MegaBot webhook receiver on warp 0.4: `POST /webhook`.
//!
//! `MEGABOT_WEBHOOK_SECRET=... cargo run -p megabot-webhook-examples --bin receiver_warp`

use megabot_webhook_adapters::Webhook;
use megabot_webhook_examples::receiver;
use warp::Filter;
use warp::http::StatusCode;

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
    let routes = warp::path("webhook")
        .and(warp::path::end())
        .and(megabot_webhook_adapters::warp::webhook(verifier, handle));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "warp receiver listening on /webhook");
    warp::serve(routes).incoming(listener).run().await;
    Ok(())
}
