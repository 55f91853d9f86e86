//! axum 0.8: the [`Webhook`] extractor, the [`IdempotencyLayer`] that settles its claim,
//! and [`webhook`], which wires both onto a `POST` route.
//!
//! The verifier comes from the router state through [`FromRef`]: a `Verifier` state, or
//! a field of your state with `impl FromRef<AppState> for Verifier`.
//!
//! # The simple path
//!
//! ```no_run
//! use axum::{Router, http::StatusCode};
//! use megabot_webhook_adapters::Webhook;
//! use megabot_webhook_adapters::axum::webhook;
//! use megabot_webhook_verify::{Secret, Verifier};
//!
//! async fn handle(hook: Webhook) -> StatusCode {
//!     println!("{} {}", hook.event().name(), hook.delivery_id());
//!     StatusCode::NO_CONTENT // 2xx: the delivery is done; anything else lets the retry run
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .megabot_secret(Secret::new(std::env::var("MEGABOT_WEBHOOK_SECRET")?)?)
//!     .build()?;
//! let app = Router::new()
//!     .route("/webhook", webhook(handle))
//!     .with_state(verifier);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The full setup
//!
//! [`webhook`] is `axum::routing::post(handler).route_layer(IdempotencyLayer::new())`.
//! Wire it yourself when the route needs more (other methods, other layers); the
//! [`Webhook`] extractor refuses with a 500 `idempotency_layer_missing` (and an `error`
//! log line) whenever the layer is not around it, rather than run without a claim:
//!
//! ```no_run
//! use axum::{Router, extract::FromRef, routing::post};
//! use megabot_webhook_adapters::Webhook;
//! use megabot_webhook_adapters::axum::IdempotencyLayer;
//! use megabot_webhook_verify::Verifier;
//!
//! #[derive(Clone)]
//! struct AppState {
//!     verifier: Verifier,
//!     // database pools, clients, ...
//! }
//!
//! impl FromRef<AppState> for Verifier {
//!     fn from_ref(state: &AppState) -> Verifier {
//!         state.verifier.clone()
//!     }
//! }
//!
//! async fn handle(hook: Webhook) -> &'static str {
//!     let _event = hook.into_event();
//!     "ok"
//! }
//!
//! fn app(state: AppState) -> Router {
//!     Router::new()
//!         .route("/webhook", post(handle).route_layer(IdempotencyLayer::new()))
//!         .with_state(state)
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::handler::Handler;
use ::axum::http::{HeaderValue, StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{MethodRouter, post};
use megabot_webhook_verify::Verifier;
use tower_layer::Layer;
use tower_service::Service;

use crate::headers::HttpHeaders;
use crate::idempotency::{ClaimSlot, Settlement, catch_panic};
use crate::receive::receive;
use crate::{Error, ErrorResponse, Webhook, trace};

/// A `POST` route whose handler takes a [`Webhook`], with the [`IdempotencyLayer`]
/// around it: `.route("/webhook", webhook(handler))`.
///
/// The router's state must provide a [`Verifier`] through [`FromRef`].
pub fn webhook<H, T, S>(handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    post(handler).route_layer(IdempotencyLayer::new())
}

/// Extracts a verified, claimed [`Webhook`]; the verifier comes from the state.
///
/// Needs the [`IdempotencyLayer`] around the route (see [`webhook`]); without it the
/// request is refused with 500 `idempotency_layer_missing`. The rejection is the crate's
/// [`Error`], answered as SPEC 4.5 says.
impl<S> FromRequest<S> for Webhook
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Webhook, Error> {
        let verifier = Verifier::from_ref(state);
        let (parts, body) = request.into_parts();
        let slot = parts.extensions.get::<ClaimSlot>();
        receive(
            &verifier,
            slot,
            &HttpHeaders(&parts.headers),
            body.into_data_stream(),
        )
        .await
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        ErrorResponse::from(&self).into_response()
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(ErrorResponse::CONTENT_TYPE),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A tower layer that settles the claim of the [`Webhook`] extracted inside it by the
/// response: 2xx marks the delivery done, any other status, a panic (answered 500
/// `handler_panicked`) or a dropped request releases it so that the sender's retry runs.
///
/// Put it on the webhook route with `route_layer`, or use [`webhook`].
#[derive(Debug, Clone, Copy, Default)]
pub struct IdempotencyLayer {
    _private: (),
}

impl IdempotencyLayer {
    /// The layer.
    pub fn new() -> IdempotencyLayer {
        IdempotencyLayer { _private: () }
    }
}

impl<S> Layer<S> for IdempotencyLayer {
    type Service = Idempotency<S>;

    fn layer(&self, inner: S) -> Idempotency<S> {
        Idempotency { inner }
    }
}

/// The service made by [`IdempotencyLayer`].
#[derive(Debug, Clone)]
pub struct Idempotency<S> {
    inner: S,
}

impl<S> Service<Request> for Idempotency<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone is not ready; keep the one that was polled ready (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let settlement = Settlement::new();
        request.extensions_mut().insert(settlement.slot());
        Box::pin(async move {
            match catch_panic(inner.call(request)).await {
                Ok(Ok(response)) => {
                    settlement.finish(response.status().as_u16()).await;
                    Ok(response)
                }
                Ok(Err(error)) => {
                    settlement.finish(500).await;
                    Err(error)
                }
                Err(_panicked) => {
                    settlement.finish(500).await;
                    let error = Error::HandlerPanicked;
                    trace::rejected(&error, None);
                    Ok(error.into_response())
                }
            }
        })
    }
}
