//! Any tower-based server (hyper, axum, tonic's HTTP side, ...): [`WebhookLayer`], a
//! `tower` layer over http 1 requests that verifies and claims each delivery, hands the
//! inner service an `http::Request<Webhook>` and settles the claim by its response.
//!
//! The inner service takes `http::Request<Webhook>`: the request's head (method, URI,
//! headers, extensions) with the verified [`Webhook`] as its body. It cannot be reached
//! without the layer, because no server produces such requests; the claim is made before
//! it runs and settled by its answer:
//!
//! | the inner service | the claim |
//! |---|---|
//! | answers 2xx | completed: copies are answered `200 {"status":"duplicate"}` |
//! | answers anything else, or fails (`Err`) | released: MegaBot's retry runs |
//! | panics | released; answered 500 `handler_panicked` |
//! | still runs when the request is dropped (client gone) | settled by its answer, as above: it runs to completion (design 9.4) |
//!
//! Refusals are answered by the layer itself (401, 400, 413, 415, 409, 503 and
//! `200 duplicate`, design 4.5) with a JSON body; the response body type must therefore be
//! buildable from a `String` (`ResBody: From<String>`: `String`, `axum::body::Body`,
//! `http_body_util::Full<Bytes>`, ...).
//!
//! # With hyper alone
//!
//! ```no_run
//! use hyper_util::rt::TokioIo;
//! use hyper_util::service::TowerToHyperService;
//! use megabot_webhook_adapters::tower::WebhookLayer;
//! use megabot_webhook_adapters::{Secret, Verifier, Webhook};
//! use tower::{ServiceBuilder, service_fn};
//!
//! async fn handle(request: http::Request<Webhook>) -> Result<http::Response<String>, std::convert::Infallible> {
//!     let hook = request.into_body();
//!     println!("{} {}", hook.event().name(), hook.delivery_id());
//!     // 2xx: the delivery is done; anything else lets the retry run
//!     Ok(http::Response::new(String::new()))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .megabot_secret(Secret::new(std::env::var("MEGABOT_WEBHOOK_SECRET")?)?)
//!     .build()?;
//! let service = ServiceBuilder::new()
//!     .layer(WebhookLayer::new(verifier))
//!     .service(service_fn(handle));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = TowerToHyperService::new(service.clone());
//!     tokio::spawn(async move {
//!         let connection = hyper::server::conn::http1::Builder::new()
//!             .serve_connection(TokioIo::new(stream), service);
//!         if let Err(error) = connection.await {
//!             eprintln!("connection failed: {error}");
//!         }
//!     });
//! }
//! # }
//! ```
//!
//! The layer does not route: put it on the service that serves your webhook path (with
//! axum, `Router::route_service("/webhook", service)`). It checks no method either;
//! MegaBot always `POST`s.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use futures_core::Stream;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;
use megabot_webhook_verify::Verifier;
use tower_layer::Layer;
use tower_service::Service;

use crate::receive::handle;
use crate::{Error, ErrorResponse, Limits, Webhook};

/// A tower layer that verifies and claims each delivery, calls the inner
/// `Service<http::Request<Webhook>>` with it and settles the claim by the response
/// status (module docs).
#[derive(Debug, Clone)]
pub struct WebhookLayer {
    verifier: Verifier,
    limits: Limits,
}

impl WebhookLayer {
    /// The layer, verifying with `verifier` and reading bodies within the process-wide
    /// [`Limits::global`] (design 9.8).
    pub fn new(verifier: Verifier) -> WebhookLayer {
        WebhookLayer {
            verifier,
            limits: Limits::global(),
        }
    }

    /// The layer reading bodies within `limits` (buffer budget, body read timeout).
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> WebhookLayer {
        self.limits = limits;
        self
    }
}

impl<S> Layer<S> for WebhookLayer {
    type Service = WebhookService<S>;

    fn layer(&self, inner: S) -> WebhookService<S> {
        WebhookService::new(self.verifier.clone(), inner).with_limits(self.limits.clone())
    }
}

/// The service made by [`WebhookLayer`]: `Service<http::Request<B>>` for any
/// [`http_body::Body`] `B`, around an inner `Service<http::Request<Webhook>>`.
#[derive(Debug, Clone)]
pub struct WebhookService<S> {
    verifier: Verifier,
    limits: Limits,
    inner: S,
}

impl<S> WebhookService<S> {
    /// `inner` behind the webhook checks, verifying with `verifier` and reading bodies
    /// within the process-wide [`Limits::global`].
    pub fn new(verifier: Verifier, inner: S) -> WebhookService<S> {
        WebhookService {
            verifier,
            limits: Limits::global(),
            inner,
        }
    }

    /// The service reading bodies within `limits`.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> WebhookService<S> {
        self.limits = limits;
        self
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for WebhookService<S>
where
    S: Service<Request<Webhook>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Display,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone is not ready; keep the one that was polled ready (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let limits = self.limits.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let headers = parts.headers.clone();
            let answer = handle(
                &verifier,
                &limits,
                headers,
                data_stream(body),
                move |hook| async move { inner.call(Request::from_parts(parts, hook)).await },
                |result: &Result<Response<ResBody>, S::Error>| match result {
                    Ok(response) => response.status().as_u16(),
                    Err(_) => 500,
                },
            )
            .await;
            match answer {
                Ok(result) => result,
                Err(error) => Ok(error_response(&error)),
            }
        })
    }
}

/// The answer for a refusal, as design 4.5 says.
fn error_response<ResBody: From<String>>(error: &Error) -> Response<ResBody> {
    let answer = ErrorResponse::from(error);
    let mut response = Response::new(ResBody::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ErrorResponse::CONTENT_TYPE),
    );
    if let Some(seconds) = answer.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if answer.close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The body's data frames as a stream (trailers are skipped).
fn data_stream<B>(body: B) -> impl Stream<Item = Result<B::Data, B::Error>>
where
    B: Body,
    B::Data: Buf,
{
    let mut body = Box::pin(body);
    futures_util::stream::poll_fn(move |cx| {
        loop {
            match ready!(body.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    })
}
