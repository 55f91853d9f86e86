//! Receiver metrics through the `metrics` facade (design.md section 8,
//! "Receiver metrics"; labels as section 9.9 says: bounded values only, never an id).
//!
//! Every route — `axum::webhook`, `actix_web::webhook`, `warp::webhook`,
//! `tower::WebhookLayer` — records the same series from the one place all of them go
//! through, so a receiver reports the same whatever its framework:
//!
//! | name | type | unit | labels | what |
//! |---|---|---|---|---|
//! | `megabot_webhook_receiver_requests_total` | counter | requests | `outcome`, `scheme` | every request a webhook route answered, once, by how it ended |
//! | `megabot_webhook_receiver_verify_duration_seconds` | histogram | seconds | `scheme` | signature, envelope and freshness check of a body that was read whole |
//! | `megabot_webhook_receiver_handler_duration_seconds` | histogram | seconds | `outcome` (`ok`, `handler_failed`, `handler_panicked`) | the handler's run, for requests that reached it |
//! | `megabot_webhook_receiver_body_size_bytes` | histogram | bytes | — | the body as verified (after gzip decoding), for bodies read whole |
//!
//! `outcome` is one of:
//!
//! - `ok`: the handler ran and answered 2xx (the delivery is done);
//! - `handler_failed`: the handler ran and answered anything else (claim released, the
//!   sender's retry runs);
//! - `handler_panicked`: the handler panicked (answered 500, claim released);
//! - `duplicate`: a copy of a delivery already handled (`200 {"status":"duplicate"}`);
//! - otherwise the refusal's stable [`Error::code`](crate::Error::code):
//!   `replay_in_flight`, `signature_mismatch`, `timestamp_too_old`, `body_too_large`,
//!   `buffer_budget_exhausted`, `verifier_missing`, ... (the crate docs' "HTTP answers"
//!   table lists them all).
//!
//! `scheme` is the signature scheme that decided, or would have: `standard-webhooks` when
//! the request carries a `webhook-signature` header and the verifier holds a Standard
//! Webhooks key, else `megabot` when it carries `X-MegaBot-Signature` and the verifier
//! holds a MegaBot secret, else `none` (no usable signature header; also for
//! `verifier_missing`).
//!
//! The facade records nothing until the application installs a recorder, such as
//! `metrics-exporter-prometheus`'s; the repository's `receiver_axum` example serves it
//! at `/metrics`. Call [`describe`] once after installing it to give each series its
//! unit and help text. Prometheus renders a histogram as a summary unless buckets are set
//! for it (`PrometheusBuilder::set_buckets_for_metric`).
//!
//! Without the `metrics` feature (on by default) nothing is recorded and the crate does
//! not depend on `metrics`.

use ::metrics::Unit;

/// Counter: requests answered by a webhook route, by `outcome` and `scheme`.
pub const REQUESTS_TOTAL: &str = "megabot_webhook_receiver_requests_total";
/// Histogram (seconds): time to verify a body read whole, by `scheme`.
pub const VERIFY_DURATION_SECONDS: &str = "megabot_webhook_receiver_verify_duration_seconds";
/// Histogram (seconds): the handler's run, by `outcome`.
pub const HANDLER_DURATION_SECONDS: &str = "megabot_webhook_receiver_handler_duration_seconds";
/// Histogram (bytes): size of the verified (decoded) body.
pub const BODY_SIZE_BYTES: &str = "megabot_webhook_receiver_body_size_bytes";

/// Describes the receiver's series (unit and help text) to the installed recorder.
/// Call it once, after installing the recorder; recording works without it.
pub fn describe() {
    ::metrics::describe_counter!(
        REQUESTS_TOTAL,
        Unit::Count,
        "Webhook requests answered, by outcome (ok, duplicate, or the refusal code) and signature scheme"
    );
    ::metrics::describe_histogram!(
        VERIFY_DURATION_SECONDS,
        Unit::Seconds,
        "Time to verify a webhook body (signature, envelope, freshness), by signature scheme"
    );
    ::metrics::describe_histogram!(
        HANDLER_DURATION_SECONDS,
        Unit::Seconds,
        "Time the webhook handler ran, by outcome (ok, handler_failed, handler_panicked)"
    );
    ::metrics::describe_histogram!(
        BODY_SIZE_BYTES,
        Unit::Bytes,
        "Size of the verified webhook body, after decoding"
    );
}
