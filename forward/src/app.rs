//! The HTTP side facing MegaBot: a verified, exactly-once `/webhook` route.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_adapters::axum::webhook;
use megabot_webhook_verify::Verifier;
use serde_json::json;

use super::{Forwarder, Outcome, Target};

/// The router of a forwarder: `POST /webhook` (verified by `verifier`, claimed
/// once per delivery id by the adapters' idempotency layer) and `GET /health`.
///
/// Answers to MegaBot:
///
/// | what happened | status | body |
/// |---|---|---|
/// | forwarded | `200` | `{"status":"forwarded","target":..,"attempts":n}` |
/// | not subscribed / filtered out | `200` | `{"status":"ignored","reason":..}` |
/// | target unavailable after retries | `502`, or `503` + `Retry-After` when it asked to wait | `{"error":"upstream_unavailable","message":..}` |
/// | target refused for good | `422` | `{"error":"upstream_rejected","message":..}` |
///
/// A non-2xx answer releases the delivery's claim, so MegaBot's retry (for
/// `5xx`) runs it again; `422` is final for MegaBot, which keeps the delivery
/// in its dead-letter sink. Bad signatures, replays and duplicates are
/// answered by the adapters before the target is involved.
pub fn router<T: Target>(verifier: Verifier, forwarder: Arc<Forwarder<T>>) -> Router {
    Router::new()
        .route("/webhook", webhook(handle::<T>))
        .route("/health", get(|| async { "ok" }))
        .with_state(AppState {
            verifier,
            forwarder,
        })
}

struct AppState<T> {
    verifier: Verifier,
    forwarder: Arc<Forwarder<T>>,
}

impl<T> Clone for AppState<T> {
    fn clone(&self) -> Self {
        AppState {
            verifier: self.verifier.clone(),
            forwarder: Arc::clone(&self.forwarder),
        }
    }
}

impl<T> FromRef<AppState<T>> for Verifier {
    fn from_ref(state: &AppState<T>) -> Verifier {
        state.verifier.clone()
    }
}

async fn handle<T: Target>(State(state): State<AppState<T>>, hook: Webhook) -> Response {
    let target = state.forwarder.target().name();
    match state.forwarder.forward(hook.event()).await {
        Outcome::Forwarded(delivered) => json_response(
            StatusCode::OK,
            json!({"status": "forwarded", "target": target, "attempts": delivered.attempts}),
            None,
        ),
        Outcome::Ignored(skip) => json_response(
            StatusCode::OK,
            json!({"status": "ignored", "reason": skip.to_string()}),
            None,
        ),
        Outcome::Failed(error) => json_response(
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_GATEWAY),
            json!({"error": error.code(), "message": error.to_string()}),
            error.retry_after_secs(),
        ),
    }
}

fn json_response(
    status: StatusCode,
    body: serde_json::Value,
    retry_after: Option<u64>,
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
