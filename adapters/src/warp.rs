//! warp 0.4: [`webhook`], a filter that verifies and claims the delivery, runs the
//! handler and settles the claim by its reply, and [`recover`], which answers this
//! crate's rejections as design 4.5 says.
//!
//! # Usage
//!
//! ```no_run
//! use warp::Filter;
//! use warp::http::StatusCode;
//! use megabot_webhook_adapters::{Secret, Verifier, Webhook};
//!
//! async fn handle(hook: Webhook) -> StatusCode {
//!     println!("{} {}", hook.event().name(), hook.delivery_id());
//!     StatusCode::NO_CONTENT // 2xx: done; anything else lets the retry run
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .megabot_secret(Secret::new(std::env::var("MEGABOT_WEBHOOK_SECRET")?)?)
//!     .build()?;
//! let routes = warp::path("webhook")
//!     .and(warp::path::end())
//!     .and(megabot_webhook_adapters::warp::webhook(verifier, handle));
//! warp::serve(routes).run(([127, 0, 0, 1], 3000)).await;
//! # Ok(())
//! # }
//! ```
//!
//! The filter already answers its own refusals (401, 413, `200 duplicate`, ...), so a
//! bad signature never turns into a stray 404, 405 or 500, however the filter is combined
//! with others. Requests that are not `POST` are rejected the usual warp way (405).
//! [`recover`] is for applications that reject with this crate's [`Error`] themselves
//! (`warp::reject::custom(error)`), or want one recovery point for all their routes.
//!
//! A [`Webhook`] exists only inside [`webhook`]'s handler: there is no filter that
//! extracts one without claiming it first.

use std::future::Future;

use ::warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use ::warp::reply::Response;
use ::warp::{Filter, Rejection, Reply};
use megabot_webhook_verify::Verifier;

use crate::receive::handle;
use crate::{Error, ErrorResponse, Limits, Webhook};

/// A `POST` filter that extracts a verified, claimed [`Webhook`], calls `handler` with
/// it, and settles the claim by the reply's status: 2xx marks the delivery done, any
/// other status or a panic (answered 500 `handler_panicked`) releases it so that the
/// sender's retry runs. The handler runs to completion in its own task even when the
/// request is dropped (design 9.4).
///
/// Verification and claim failures are answered directly (status, `Retry-After` and the
/// `{"error":..,"message":..}` body of design 4.5; `200 {"status":"duplicate"}` for a
/// delivery already handled).
///
/// Bodies are read within the process-wide [`Limits::global`] (design 9.8); use
/// [`webhook_with_limits`] for others.
pub fn webhook<F, Fut, R>(
    verifier: Verifier,
    handler: F,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
where
    F: Fn(Webhook) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Reply + 'static,
{
    webhook_with_limits(verifier, Limits::global(), handler)
}

/// [`webhook`] reading bodies within `limits` (buffer budget, body read timeout).
pub fn webhook_with_limits<F, Fut, R>(
    verifier: Verifier,
    limits: Limits,
    handler: F,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
where
    F: Fn(Webhook) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Reply + 'static,
{
    ::warp::post()
        .and(::warp::header::headers_cloned())
        .and(::warp::body::stream())
        .and_then(move |headers: HeaderMap, body| {
            let verifier = verifier.clone();
            let limits = limits.clone();
            let handler = handler.clone();
            async move {
                handle(
                    &verifier,
                    &limits,
                    headers,
                    body,
                    move |hook| async move { handler(hook).await.into_response() },
                    |response: &Response| response.status().as_u16(),
                )
                .await
                .map_err(::warp::reject::custom)
            }
        })
        .recover(recover)
        .unify()
}

/// Answers a rejection carrying this crate's [`Error`] as design 4.5 says, and passes
/// every other rejection on: `.recover(megabot_webhook_adapters::warp::recover)`.
pub async fn recover(rejection: Rejection) -> Result<Response, Rejection> {
    match rejection.find::<Error>() {
        Some(error) => Ok(ErrorResponse::from(error).into_response()),
        None => Err(rejection),
    }
}

impl ::warp::reject::Reject for Error {}

impl Reply for ErrorResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = Response::new(self.body.into());
        *response.status_mut() = status;
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
