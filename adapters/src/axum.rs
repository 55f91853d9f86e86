//! axum 0.8: [`webhook`], a `POST` route that verifies and claims each delivery, runs
//! your handler with the [`Webhook`] and settles the claim by its answer.
//!
//! The verifier comes from the router state through [`FromRef`]: a `Verifier` state, or
//! a field of your state with `impl FromRef<AppState> for Verifier`.
//!
//! # The simple path
//!
//! ```no_run
//! use axum::{Router, http::StatusCode};
//! use megabot_webhook_adapters::axum::webhook;
//! use megabot_webhook_adapters::{Secret, Verifier, Webhook};
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
//! # State and other extractors
//!
//! The handler may take up to eight extractors that read the request head before the
//! [`Webhook`] (which must come last), such as `State`:
//!
//! ```no_run
//! use axum::{Router, extract::{FromRef, State}};
//! use megabot_webhook_adapters::axum::webhook;
//! use megabot_webhook_adapters::{Verifier, Webhook};
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
//! async fn handle(State(_state): State<AppState>, hook: Webhook) -> &'static str {
//!     let _event = hook.into_event();
//!     "ok"
//! }
//!
//! fn app(state: AppState) -> Router {
//!     Router::new()
//!         .route("/webhook", webhook(handle))
//!         .with_state(state)
//! }
//! ```
//!
//! The route is an ordinary [`MethodRouter`]: add layers with `.layer(...)`, or merge it
//! with other methods.
//!
//! # No route without its claim
//!
//! [`Webhook`] is not an axum extractor, so a handler taking it cannot be routed the
//! plain way and run without the claim that makes deliveries exactly-once; it is a
//! compile error, not a runtime surprise:
//!
//! ```compile_fail,E0277
//! use axum::{Router, routing::post};
//! use megabot_webhook_adapters::{Verifier, Webhook};
//!
//! async fn handle(hook: Webhook) -> &'static str {
//!     "ok"
//! }
//!
//! fn app(verifier: Verifier) -> Router {
//!     // error: `Webhook` is not an extractor; use `webhook(handle)` instead of `post(handle)`
//!     Router::new().route("/webhook", post(handle)).with_state(verifier)
//! }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use ::axum::extract::{FromRef, FromRequestParts, Request};
use ::axum::handler::Handler;
use ::axum::http::{HeaderValue, StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{MethodRouter, post};
use megabot_webhook_verify::Verifier;

use crate::receive::handle;
use crate::{Error, ErrorResponse, Limits, Webhook};

/// A `POST` route that verifies and claims each delivery, runs `handler` with the
/// [`Webhook`], and settles the claim by the handler's answer:
/// `.route("/webhook", webhook(handler))`.
///
/// `handler` is an async function (or closure) whose **last** argument is the
/// [`Webhook`], after up to eight axum extractors that read only the request head
/// (`State`, `Extension`, `HeaderMap`, `Path`, `Query`, ... — anything implementing
/// [`FromRequestParts`]); it answers with anything [`IntoResponse`]. The router's state
/// must provide a [`Verifier`] through [`FromRef`].
///
/// This is the only way to get a [`Webhook`] in axum: it is not an extractor on its own,
/// so a handler taking it cannot be routed with `post(handler)` and run without a claim.
///
/// Bodies are read within the process-wide [`Limits::global`] (design 9.8); use
/// [`webhook_with_limits`] for others.
pub fn webhook<H, T, S>(handler: H) -> MethodRouter<S>
where
    H: WebhookHandler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    webhook_with_limits(Limits::global(), handler)
}

/// [`webhook`] reading bodies within `limits` (buffer budget, body read timeout).
pub fn webhook_with_limits<H, T, S>(limits: Limits, handler: H) -> MethodRouter<S>
where
    H: WebhookHandler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    post(WebhookRoute {
        handler,
        limits,
        _args: PhantomData,
    })
}

mod private {
    /// Keeps [`WebhookHandler`](super::WebhookHandler) implemented by this crate only.
    #[derive(Debug)]
    pub struct Token;
}

/// An async function usable with [`webhook`]: `async fn(E1, ..., En, Webhook) -> impl
/// IntoResponse` where `n <= 8` and each `Ei` is a [`FromRequestParts`] extractor.
///
/// Implemented by this crate for such functions and closures; not implementable outside
/// it. `T` is the tuple of the extractors' types and only guides inference.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a webhook handler for `webhook`",
    note = "a webhook handler is an async fn whose last argument is `Webhook`, after at most 8 axum extractors of the request head (`FromRequestParts`)"
)]
pub trait WebhookHandler<T, S>: Clone + Send + Sync + Sized + 'static {
    #[doc(hidden)]
    fn call(
        self,
        request: Request,
        state: S,
        limits: Limits,
        _: private::Token,
    ) -> Pin<Box<dyn Future<Output = Response> + Send>>;
}

macro_rules! impl_webhook_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_mut)]
        impl<F, Fut, Res, S, $($ty,)*> WebhookHandler<($($ty,)*), S> for F
        where
            F: FnOnce($($ty,)* Webhook) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = Res> + Send + 'static,
            Res: IntoResponse,
            S: Send + Sync + 'static,
            Verifier: FromRef<S>,
            $($ty: FromRequestParts<S> + Send + 'static,)*
        {
            fn call(
                self,
                request: Request,
                state: S,
                limits: Limits,
                _: private::Token,
            ) -> Pin<Box<dyn Future<Output = Response> + Send>> {
                Box::pin(async move {
                    let (mut parts, body) = request.into_parts();
                    $(
                        let $ty = match $ty::from_request_parts(&mut parts, &state).await {
                            Ok(value) => value,
                            Err(rejection) => return rejection.into_response(),
                        };
                    )*
                    let verifier = Verifier::from_ref(&state);
                    handle(
                        &verifier,
                        &limits,
                        std::mem::take(&mut parts.headers),
                        body.into_data_stream(),
                        move |hook| async move { self($($ty,)* hook).await.into_response() },
                        |response: &Response| response.status().as_u16(),
                    )
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
                })
            }
        }
    };
}

impl_webhook_handler!();
impl_webhook_handler!(T1);
impl_webhook_handler!(T1, T2);
impl_webhook_handler!(T1, T2, T3);
impl_webhook_handler!(T1, T2, T3, T4);
impl_webhook_handler!(T1, T2, T3, T4, T5);
impl_webhook_handler!(T1, T2, T3, T4, T5, T6);
impl_webhook_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_webhook_handler!(T1, T2, T3, T4, T5, T6, T7, T8);

/// The axum handler behind [`webhook`].
struct WebhookRoute<H, T> {
    handler: H,
    limits: Limits,
    _args: PhantomData<fn() -> T>,
}

impl<H: Clone, T> Clone for WebhookRoute<H, T> {
    fn clone(&self) -> Self {
        WebhookRoute {
            handler: self.handler.clone(),
            limits: self.limits.clone(),
            _args: PhantomData,
        }
    }
}

impl<H, T, S> Handler<T, S> for WebhookRoute<H, T>
where
    H: WebhookHandler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, request: Request, state: S) -> Self::Future {
        self.handler
            .call(request, state, self.limits, private::Token)
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
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
