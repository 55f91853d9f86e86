//! axum, actix-web, warp and tower integration for verified, exactly-once MegaBot
//! webhooks.
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
//! 3. verify with the [`Verifier`] (MegaBot and Standard Webhooks signatures, freshness)
//!    and parse the event; unknown event names arrive as [`EventPayload::Unknown`];
//! 4. claim the delivery id before the handler runs, and settle it by the handler's
//!    answer (below).
//!
//! # One dependency
//!
//! This crate is the one SDK crate a receiver depends on: it re-exports what a handler
//! names. **These re-exports are the documented path for adapter users**:
//!
//! - at the root: [`Webhook`], [`Secret`], [`Verifier`], [`Event`], [`EventPayload`],
//!   [`Scheme`], [`Verified`], and this crate's [`Error`] and [`ErrorResponse`];
//! - [`types`] is the whole `megabot-webhook-types` crate: the per-event data structs
//!   (`types::data::ToolExecutionFailed`, ...), `types::Severity`, header names;
//! - [`verify`] is the whole `megabot-webhook-verify` crate: `verify::StandardSecret`,
//!   replay guards (`verify::MemoryReplayGuard`, the Redis guard with its `redis`
//!   feature), `verify::sign` for tests.
//!
//! # Features and framework versions
//!
//! | feature | supports | what it adds |
//! |---|---|---|
//! | `axum` | axum 0.8 | `axum::webhook`: a `POST` route |
//! | `actix-web` | actix-web 4 | `actix_web::webhook`: a `POST` resource |
//! | `warp` | warp 0.4 | `warp::webhook`: a filter; `warp::recover` |
//! | `tower` | tower-service 0.3 over http 1 (hyper 1, ...) | `tower::WebhookLayer` |
//! | `metrics` (default) | metrics 0.24 | the receiver metrics: [`metrics`] (below) |
//!
//! No framework is on by default and each builds on its own. The adapters enable no server
//! features of the frameworks: enable `axum/http1` + `axum/tokio`, `warp/server`, or
//! actix-web's defaults (`macros` for `#[actix_web::main]`) in your own dependency to run
//! a server; the repository README lists the exact `[dependencies]` per framework.
//!
//! # axum
//!
#![cfg_attr(feature = "axum", doc = "```no_run")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use axum::{Router, http::StatusCode};
//! use megabot_webhook_adapters::axum::webhook;
//! use megabot_webhook_adapters::{Secret, Verifier, Webhook};
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
//! use megabot_webhook_adapters::actix_web::webhook;
//! use megabot_webhook_adapters::{Secret, Verifier, Webhook};
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
//! use megabot_webhook_adapters::{Secret, Verifier, Webhook};
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
//! # tower (hyper and other tower servers)
//!
//! `tower::WebhookLayer` wraps a
//! `Service<http::Request<Webhook>>`; its module docs show it served by hyper alone.
//!
//! # Idempotency (design 4.4)
//!
//! MegaBot retries, so a delivery must neither be lost nor run twice. The delivery id is
//! claimed in the verifier's replay guard before the handler runs, and the handler's
//! answer decides:
//!
//! | the id is | the route answers | handler runs? |
//! |---|---|---|
//! | unseen | whatever the handler answers | yes |
//! | handled with a 2xx answer | `200 {"status":"duplicate"}` from then on | no |
//! | answered non-2xx or panicked | released: the retry runs | — |
//! | in flight in another request | `409` with `Retry-After` | no |
//! | unknown because the store is full or unreachable | `503` with `Retry-After` | no |
//!
//! A panicking handler is answered 500 `handler_panicked` after its claim is released.
//!
//! **A started handler runs to completion** (design 9.4). "Started" means claimed: from
//! then on the handler runs in a task of its own, and dropping the request (the sender's
//! attempt timed out, the client disconnected) never cancels it. The claim stays in
//! flight until the handler's own outcome settles it, so the sender's retry gets `409`
//! meanwhile and `200 {"status":"duplicate"}` once the handler succeeded; cancelling the
//! handler and releasing its claim would run it again on every retry.
//!
//! **No handler runs without its claim.** A [`Webhook`] exists only inside the piece
//! that claimed it — `axum::webhook`, `actix_web::webhook`, `warp::webhook`,
//! `tower::WebhookLayer` — and is not an extractor of any framework on its own: routing
//! a handler that takes it the plain way (`post(handle)`, `web::post().to(handle)`) does
//! not compile. The framework modules show the error.
//!
//! # Receiver limits before authentication (design 9.8)
//!
//! [`Limits`] bound what unauthenticated requests can cost: all bodies being read
//! together buffer at most the **buffer budget** (default
//! [`limits::DEFAULT_BUFFER_BUDGET`], 64 MiB; `503 buffer_budget_exhausted` with
//! `Retry-After: 1` and `Connection: close`, the body left unread), a body must arrive
//! within the **body read timeout** (default [`limits::DEFAULT_BODY_READ_TIMEOUT`],
//! 10 s; `408 body_read_timeout`), and a body shorter than its `Content-Length` is
//! `400 body_truncated`. Every route shares [`Limits::global`] unless given its own:
//! `axum::webhook_with_limits`, `warp::webhook_with_limits`,
//! `tower::WebhookLayer::with_limits`, or a `Limits` in actix-web's app data.
//!
//! # HTTP answers (design 4.5)
//!
//! Refusals are answered with `Content-Type: application/json` and
//! `{"error":"<code>","message":"<text>"}`, the code from [`Error::code`]:
//!
//! | status | codes |
//! |---|---|
//! | 401 | `missing_signature`, `malformed_signature`, `signature_mismatch`, `missing_header`, `invalid_timestamp`, `timestamp_too_old`, `timestamp_too_new`, `repeated_signature_header` |
//! | 400 | `invalid_envelope` (authentic body that is not an event, or an empty `id`), `invalid_gzip`, `body_read_failed`, `body_truncated` (shorter than its `Content-Length`) |
//! | 408 | `body_read_timeout` |
//! | 413 | `body_too_large` (wire or decoded size) |
//! | 415 | `unsupported_encoding` (anything but `gzip` / `identity`) |
//! | 409, 503 | `replay_in_flight`; `replay_store_full`, `replay_store_unavailable`, `buffer_budget_exhausted` — with `Retry-After` |
//! | 500 | `verifier_missing` (actix-web without the verifier in its app data), `handler_panicked` |
//! | 200 | a duplicate: `{"status":"duplicate"}` |
//!
//! ## Repeated signature headers
//!
//! A request whose `X-MegaBot-Signature`, `webhook-signature`, `webhook-id` or
//! `webhook-timestamp` header comes on more than one header line is refused with
//! `401 repeated_signature_header`, before the body is read and whatever the lines hold
//! (even two identical valid ones). MegaBot never sends a repeated signature header;
//! letting the first (or any) line decide would let a proxy or an attacker who can add
//! a header line change which signature is checked, and merging the lines would make
//! the answer depend on how each framework joins them. (Several Standard Webhooks
//! signatures belong in *one* `webhook-signature` line, space-separated: that is
//! accepted as usual.)
//!
//! Every refusal is also a `tracing` event with the code and status, and the delivery
//! id once the request is proven authentic; never a secret, a signature or the body.
//!
//! # Metrics and tracing (design.md section 8)
//!
//! Every request runs in a `megabot_webhook.receive` span (INFO level), in which the
//! handler runs too. Its fields are declared empty and recorded as the request goes:
//! `event` (the event name), `delivery_id` and `scheme` only once the request is
//! authenticated (signature and freshness checked), so that unauthenticated input never
//! reaches a span; `outcome` when it ends (`ok`, `duplicate`, a refusal code, ...).
//!
//! With the `metrics` feature (on by default) every route counts each request by
//! outcome and signature scheme and records the verification time, the handler's time
//! and the body size through the [`metrics`](::metrics) facade: the same series for
//! every framework, listed in the [`metrics`] module. Nothing is recorded until the
//! application installs a recorder; without one the feature costs four clock reads and
//! four look-ups of the no-op recorder per request (0.7 % of an in-process 1 KiB
//! delivery), with `metrics-exporter-prometheus`'s recorder 2.6 % more (the repository's
//! `BENCHMARKS.md`). Turn the feature off (`default-features = false`, then list the
//! framework features) to drop the dependency.
//!
//! # Frameworks without an adapter
//!
//! Any server can do what the adapters do with the [`Verifier`]'s claim, complete and
//! release, and answer refusals with [`Error::response`]. Give your route's headers
//! (anything implementing [`verify::Headers`], such as `&[(name, value)]`) and the raw
//! body — read with a cap of [`Verifier::max_body_size`] and decoded if it arrived
//! compressed — to a function like `receive` below. It runs the handler in a task of
//! its own so that the handler runs to completion and settles its claim even when the
//! server drops the request (the client gave up), and a panic releases the claim:
//!
//! ```
//! use std::future::Future;
//!
//! use megabot_webhook_adapters::{Error, ErrorResponse, Event, Verifier, verify::Headers};
//!
//! /// Verifies, claims, runs `handler` and settles the claim by its status: `Ok(status)`
//! /// is the handler's answer, `Err` the refusal to send instead (status, optional
//! /// `Retry-After`, JSON body; `200 {"status":"duplicate"}` for a copy already handled).
//! async fn receive<F, Fut>(
//!     verifier: &Verifier,
//!     headers: &(impl Headers + ?Sized),
//!     body: &[u8],
//!     handler: F,
//! ) -> Result<u16, ErrorResponse>
//! where
//!     F: FnOnce(Event) -> Fut,
//!     Fut: Future<Output = u16> + Send + 'static,
//! {
//!     let refuse = |error: megabot_webhook_adapters::verify::Error| Error::from(error).response();
//!     // 401 / 400 / 413 before anything is claimed.
//!     let verified = verifier.verify(headers, body).map_err(refuse)?;
//!     // 409 while another request runs it, 200 duplicate once handled, 503 if the store is down.
//!     let claim = verifier.claim(&verified).await.map_err(refuse)?;
//!     let running = tokio::spawn(handler(verified.event));
//!     let verifier = verifier.clone();
//!     let settled = tokio::spawn(async move {
//!         // A panicking handler is a failed one: 500, and the claim is released.
//!         let status = running.await.unwrap_or(500);
//!         let outcome = if (200..300).contains(&status) {
//!             verifier.complete(&claim).await
//!         } else {
//!             verifier.release(&claim).await
//!         };
//!         if let Err(error) = outcome {
//!             eprintln!("settling delivery {} failed: {error}", claim.id);
//!         }
//!         status
//!     });
//!     Ok(settled.await.unwrap_or(500))
//! }
//! # // The recipe, run: a delivery, its replay, a tampered copy, a failure and its retry.
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! #     use megabot_webhook_adapters::{Secret, verify::sign};
//! #     let verifier = Verifier::builder().megabot_secret(Secret::new("recipe-secret").unwrap()).build().unwrap();
//! #     let delivery = |id: &str| {
//! #         let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
//! #         let body = format!(r#"{{"event":"error_occurred","id":"{id}","timestamp":{now},"data":{{}}}}"#);
//! #         let signature = sign::megabot_signature(&Secret::new("recipe-secret").unwrap(), body.as_bytes());
//! #         (vec![("X-MegaBot-Signature".to_owned(), signature)], body.into_bytes())
//! #     };
//! #     let (headers, body) = delivery("evt_recipe_1");
//! #     assert_eq!(receive(&verifier, &headers, &body, |event| async move { assert_eq!(event.name(), "error_occurred"); 204 }).await, Ok(204));
//! #     let duplicate = receive(&verifier, &headers, &body, |_| async { unreachable!() }).await.unwrap_err();
//! #     assert_eq!((duplicate.status, duplicate.body.as_str()), (200, r#"{"status":"duplicate"}"#));
//! #     let mut tampered = body.clone();
//! #     tampered[2] ^= 1;
//! #     assert_eq!(receive(&verifier, &headers, &tampered, |_| async { 200 }).await.unwrap_err().status, 401);
//! #     let (headers, body) = delivery("evt_recipe_2");
//! #     assert_eq!(receive(&verifier, &headers, &body, |_| async { 503 }).await, Ok(503));
//! #     assert_eq!(receive(&verifier, &headers, &body, |_| async { panic!("on purpose") }).await, Ok(500));
//! #     assert_eq!(receive(&verifier, &headers, &body, |_| async { 200 }).await, Ok(200));
//! #     assert_eq!(receive(&verifier, &headers, &body, |_| async { 200 }).await.unwrap_err().status, 200);
//! # }
//! ```
//!
//! Answer `Err(refusal)` with `refusal.status`, `Content-Type: application/json`
//! ([`ErrorResponse::CONTENT_TYPE`]), a `Retry-After` header when `refusal.retry_after`
//! is set, and `refusal.body`.
//!
//! # Modules
//!
//! - `axum`, `actix_web`, `warp`, `tower`: one per framework, behind its feature.
//! - [`headers`]: [`Headers`](verify::Headers) for the frameworks' header maps, to call
//!   the verifier yourself.
//! - [`limits`]: [`Limits`], the buffer budget and body read timeout.
//! - [`types`], [`verify`]: the SDK's types and verifier crates, re-exported whole.

#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a framework feature the shared plumbing (body reading, claims) has no caller;
// it is still compiled and unit-tested.
#![cfg_attr(
    not(any(
        feature = "axum",
        feature = "actix-web",
        feature = "warp",
        feature = "tower"
    )),
    allow(dead_code)
)]

#[cfg(feature = "actix-web")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
pub mod actix_web;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod decode;
mod detach;
mod error;
pub mod headers;
mod idempotency;
pub mod limits;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
mod observe;
mod read;
mod receive;
mod response;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
mod trace;
#[cfg(feature = "warp")]
#[cfg_attr(docsrs, doc(cfg(feature = "warp")))]
pub mod warp;
mod webhook;

pub use error::Error;
pub use limits::Limits;
pub use response::ErrorResponse;
pub use webhook::Webhook;

/// The `megabot-webhook-types` crate, whole: events, per-event data structs
/// (`types::data::*`), `Severity`, header names. The path adapter users name them by.
pub use megabot_webhook_types as types;
/// The `megabot-webhook-verify` crate, whole: secrets, the verifier and its builder,
/// replay guards, signing. The path adapter users name them by.
pub use megabot_webhook_verify as verify;

pub use megabot_webhook_types::{Event, EventPayload};
pub use megabot_webhook_verify::{Scheme, Secret, Verified, Verifier};

/// The README's examples, compiled as doc tests (they need the framework features and
/// `metrics`).
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "actix-web",
    feature = "warp",
    feature = "metrics"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
