//! The shared webhook cases against axum 0.8, plus axum-only wiring checks.
#![cfg(feature = "axum")]

#[macro_use]
mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_adapters::axum::{IdempotencyLayer, webhook};
use megabot_webhook_verify::Verifier;

use common::{Recorder, handler_body};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn handler(
    recorder: Arc<Recorder>,
) -> impl Fn(Webhook) -> Pin<Box<dyn Future<Output = axum::response::Response> + Send>> + Clone {
    move |hook: Webhook| {
        let recorder = Arc::clone(&recorder);
        Box::pin(async move {
            let status = recorder.handle(hook).await;
            let status = StatusCode::from_u16(status).unwrap();
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                handler_body(status.as_u16()),
            )
                .into_response()
        })
    }
}

fn start(
    verifier: Verifier,
    recorder: Arc<Recorder>,
) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
    let app = Router::new()
        .route("/webhook", webhook(handler(recorder)))
        .with_state(verifier);
    Box::pin(serve(app))
}

webhook_cases!(start, cancels_on_disconnect = true);

/// Without the layer the extractor fails closed: 500, and the handler never runs.
#[tokio::test]
async fn extractor_without_layer_fails_closed() {
    let recorder = Recorder::new();
    let app = Router::new()
        .route("/webhook", post(handler(Arc::clone(&recorder))))
        .with_state(common::verifier());
    let client = common::Client::new(serve(app).await);
    let body = common::envelope(
        "error_occurred",
        "evt_no_layer",
        common::now(),
        serde_json::json!({}),
    );
    client
        .post(&common::megabot_headers(common::SECRET, &body), body)
        .await
        .assert_error(500, "idempotency_layer_missing");
    assert_eq!(recorder.calls(), 0);
}

/// The documented full setup: `post(handler).route_layer(IdempotencyLayer::new())`.
#[tokio::test]
async fn route_layer_setup_works() {
    let recorder = Recorder::new();
    let app = Router::new()
        .route(
            "/webhook",
            post(handler(Arc::clone(&recorder))).route_layer(IdempotencyLayer::new()),
        )
        .with_state(common::verifier());
    let client = common::Client::new(serve(app).await);
    let body = common::envelope(
        "error_occurred",
        "evt_route_layer",
        common::now(),
        serde_json::json!({}),
    );
    let headers = common::megabot_headers(common::SECRET, &body);
    client.post(&headers, body.clone()).await.assert_handled();
    client.post(&headers, body).await.assert_duplicate();
    assert_eq!(recorder.calls(), 1);
}
