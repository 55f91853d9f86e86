//! A minimal MegaBot webhook receiver on actix-web 4: `POST /webhook`.
//!
//! `MEGABOT_WEBHOOK_SECRET=... cargo run -p megabot-webhook-examples --bin receiver_actix`

use actix_web::{App, HttpResponse, HttpServer, web};
use megabot_webhook_adapters::Webhook;
use megabot_webhook_adapters::actix_web::webhook;
use megabot_webhook_examples::receiver;

async fn handle(hook: Webhook) -> HttpResponse {
    if receiver::handle(&hook) {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::InternalServerError().finish()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    receiver::init_tracing();
    let verifier = web::Data::new(receiver::verifier_from_env()?);
    let addr = receiver::addr_from_env()?;
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(verifier.clone())
                .service(webhook("/webhook", handle))
        })
        .bind(addr)?;
        for addr in server.addrs() {
            tracing::info!(%addr, "actix-web receiver listening on /webhook");
        }
        server.run().await
    })?;
    Ok(())
}
