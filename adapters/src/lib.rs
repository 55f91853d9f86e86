//! axum, actix-web and warp integration for verified, exactly-once MegaBot webhooks.
//!
//! Add a `/webhook` route in a few lines and get a typed, verified [`Webhook`] — or a
//! clear HTTP error — with no crypto code of your own. For every request the adapters:
//!
//! 1. read the body with a cap (the verifier's
//!    [`max_body_size`](Verifier::max_body_size), 1 MiB by default): a `Content-Length`
//!    over it is refused at once, chunked bodies are counted as they arrive and reading
//!    stops at the cap; nothing is buffered whole before the check;
//! 2. decode `Content-Encoding: gzip` while streaming, with the cap applied to the
//!    *decoded* size (a gzip bomb is refused without being inflated), and verify the
//!    decoded bytes;
//! 3. verify with the [`Verifier`] from `megabot-webhook-verify` (MegaBot and Standard
//!    Webhooks signatures, freshness) and parse the event; unknown event names arrive as
//!    [`EventPayload::Unknown`](megabot_webhook_types::EventPayload::Unknown);
//! 4. claim the delivery id before the handler runs, and settle it by the handler's
//!    answer (below).
//!
//! # axum
//!
#![cfg_attr(feature = "axum", doc = "```no_run")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use axum::{Router, http::StatusCode};
//! use megabot_webhook_adapters::{Webhook, axum::webhook};
//! use megabot_webhook_verify::{Secret, Verifier};
//!
//! async fn handle(hook: Webhook) -> StatusCode {
//!     tracing::info!(event = hook.event().name(), id = hook.delivery_id(), "received");
//!     StatusCode::NO_CONTENT
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder().megabot_secret(Secret::new("your_webhook_secret")?).build()?;
//! let app = Router::new().route("/webhook", webhook(handle)).with_state(verifier);
//! axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # actix-web
//!
#![cfg_attr(feature = "actix-web", doc = "```no_run")]
#![cfg_attr(not(feature = "actix-web"), doc = "```ignore")]
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! use megabot_webhook_adapters::{Webhook, actix_web::webhook};
//! use megabot_webhook_verify::{Secret, Verifier};
//!
//! async fn handle(hook: Webhook) -> HttpResponse {
//!     tracing::info!(event = hook.event().name(), id = hook.delivery_id(), "received");
//!     HttpResponse::NoContent().finish()
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder().megabot_secret(Secret::new("your_webhook_secret")?).build()?;
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(web::Data::new(verifier.clone()))
//!         .service(webhook("/webhook", handle))
//! })
//! .bind(("127.0.0.1", 3000))?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # warp
//!
#![cfg_attr(feature = "warp", doc = "```no_run")]
#![cfg_attr(not(feature = "warp"), doc = "```ignore")]
//! use megabot_webhook_adapters::Webhook;
//! use megabot_webhook_verify::{Secret, Verifier};
//! use warp::{Filter, http::StatusCode};
//!
//! async fn handle(hook: Webhook) -> StatusCode {
//!     tracing::info!(event = hook.event().name(), id = hook.delivery_id(), "received");
//!     StatusCode::NO_CONTENT
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder().megabot_secret(Secret::new("your_webhook_secret")?).build()?;
//! let routes = warp::path("webhook")
//!     .and(warp::path::end())
//!     .and(megabot_webhook_adapters::warp::webhook(verifier, handle));
//! warp::serve(routes).run(([127, 0, 0, 1], 3000)).await;
//! # Ok(())
//! # }
//! ```
//!
//! # Idempotency (SPEC 4.4)
//!
//! MegaBot retries, so a delivery must neither be lost nor run twice. The delivery id is
//! claimed in the verifier's replay guard before the handler runs, and the handler's
//! answer decides:
//!
//! | the id is | the route answers | handler runs? |
//! |---|---|---|
//! | unseen | whatever the handler answers | yes |
//! | handled with a 2xx answer | `200 {"status":"duplicate"}` from then on | no |
//! | answered non-2xx, panicked, or the request was dropped | released: the retry runs | — |
//! | in flight in another request | `409` with `Retry-After` | no |
//! | unknown because the store is full or unreachable | `503` with `Retry-After` | no |
//!
//! An extractor cannot see the handler's answer, so each framework has an outer piece
//! that does: `axum::IdempotencyLayer`, the `actix_web::Idempotency` middleware, and
//! the `warp::webhook` combinator. The `webhook` helpers of axum and actix-web wire the
//! extractor and the outer piece together; warp has only the combinator. **Using the
//! [`Webhook`] extractor without its layer/middleware fails closed**: the request is
//! answered 500 `idempotency_layer_missing` and an `error` event is logged, the handler
//! never runs. A panicking handler is answered 500 `handler_panicked` after its claim is
//! released.
//!
//! # HTTP answers (SPEC 4.5)
//!
//! Refusals are answered with `Content-Type: application/json` and
//! `{"error":"<code>","message":"<text>"}`, the code from [`Error::code`]:
//!
//! | status | codes |
//! |---|---|
//! | 401 | `missing_signature`, `malformed_signature`, `signature_mismatch`, `missing_header`, `invalid_timestamp`, `timestamp_too_old`, `timestamp_too_new` |
//! | 400 | `invalid_envelope` (authentic body that is not an event), `invalid_gzip`, `body_read_failed` |
//! | 413 | `body_too_large` (wire or decoded size) |
//! | 415 | `unsupported_encoding` (anything but `gzip` / `identity`) |
//! | 409, 503 | `replay_in_flight`; `replay_store_full`, `replay_store_unavailable` — with `Retry-After` |
//! | 500 | `verifier_missing`, `idempotency_layer_missing`, `handler_panicked` |
//! | 200 | a duplicate: `{"status":"duplicate"}` |
//!
//! Every refusal is also a `tracing` event with the code and status, and the delivery
//! id once the request is proven authentic; never a secret, a signature or the body.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | no | `axum`: extractor for axum 0.8, `axum::IdempotencyLayer`, `axum::webhook` |
//! | `actix-web` | no | `actix_web`: extractor for actix-web 4, `actix_web::Idempotency`, `actix_web::webhook` |
//! | `warp` | no | `warp`: the `warp::webhook` filter for warp 0.4 and `warp::recover` |
//!
//! Each feature builds on its own; the adapters enable no server features of the
//! frameworks (enable `axum/http1` + `axum/tokio`, or `warp/server`, in your own
//! dependency to run a server).
//!
//! # Modules
//!
//! - `axum`, `actix_web`, `warp`: one per framework, behind its feature.
//! - [`headers`]: [`Headers`](megabot_webhook_verify::Headers) for the frameworks'
//!   header maps, to call the verifier yourself.
//!
//! # Re-exports
//!
//! [`Webhook`], [`Error`], [`ErrorResponse`], and from `megabot-webhook-verify`:
//! [`Verifier`], [`Verified`], [`Scheme`].

#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a framework feature the shared plumbing (body reading, claims) has no caller;
// it is still compiled and unit-tested.
#![cfg_attr(
    not(any(feature = "axum", feature = "actix-web", feature = "warp")),
    allow(dead_code)
)]

#[cfg(feature = "actix-web")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
pub mod actix_web;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod decode;
mod error;
pub mod headers;
mod idempotency;
mod read;
mod receive;
mod response;
mod trace;
#[cfg(feature = "warp")]
#[cfg_attr(docsrs, doc(cfg(feature = "warp")))]
pub mod warp;
mod webhook;

pub use error::Error;
pub use megabot_webhook_verify::{Scheme, Verified, Verifier};
pub use response::ErrorResponse;
pub use webhook::Webhook;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
