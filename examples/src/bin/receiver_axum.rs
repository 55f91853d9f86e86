//! A minimal MegaBot webhook receiver on axum 0.8: `POST /webhook`, and its receiver
//! metrics as Prometheus text at `GET /metrics`.
//!
//! `MEGABOT_WEBHOOK_SECRET=... cargo run -p megabot-webhook-examples --bin receiver_axum`
//!
//! The adapters count and time every request through the `metrics` facade (their
//! `metrics` feature, on by default; the series are listed in
//! `megabot_webhook_adapters::metrics`). This example installs
//! `metrics-exporter-prometheus`'s recorder (without its HTTP listener) and renders it
//! from its handle on a route of the same router.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_adapters::axum::webhook;
use megabot_webhook_examples::receiver;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

async fn handle(hook: Webhook) -> StatusCode {
    if receiver::handle(&hook) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Installs the Prometheus recorder: the adapters' durations as histograms with buckets
/// from 100 µs to 10 s (a summary otherwise), body sizes from 256 B to 1 MiB.
fn install_prometheus() -> Result<PrometheusHandle, Box<dyn std::error::Error>> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_duration_seconds".to_owned()),
            &[
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0,
            ],
        )?
        .set_buckets_for_metric(
            Matcher::Suffix("_size_bytes".to_owned()),
            &[
                256.0,
                1024.0,
                4096.0,
                16384.0,
                65536.0,
                262_144.0,
                1_048_576.0,
            ],
        )?
        .install_recorder()?;
    megabot_webhook_adapters::metrics::describe();
    // Histograms are folded in on upkeep: run it now and then (rendering does too).
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    receiver::init_tracing();
    let verifier = receiver::verifier_from_env()?;
    let addr = receiver::addr_from_env()?;
    let prometheus = install_prometheus()?;
    let app = Router::new()
        .route("/webhook", webhook(handle))
        .route("/metrics", get(move || async move { prometheus.render() }))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(
        addr = %listener.local_addr()?,
        "axum receiver listening on /webhook, Prometheus metrics on /metrics"
    );
    axum::serve(listener, app).await?;
    Ok(())
}
