//! The span around each received request and the `tracing` events for refused
//! deliveries. They carry the error code, status and message, and the event name and
//! delivery id only once the request was proven authentic; never a secret, a signature
//! or the body.

use tracing::Span;
use tracing::field::Empty;

use crate::Error;

/// A new `megabot_webhook.receive` span (INFO) for one request. Its fields start empty:
/// `scheme`, `event` and `delivery_id` are recorded by [`authenticated`], `outcome`
/// (the metrics' outcome label) by [`outcome`].
pub(crate) fn receive_span() -> Span {
    tracing::info_span!(
        "megabot_webhook.receive",
        scheme = Empty,
        event = Empty,
        delivery_id = Empty,
        outcome = Empty
    )
}

/// Records what the request proved once it was authenticated (signature and freshness
/// checked): never earlier, so that unauthenticated input never reaches a span.
pub(crate) fn authenticated(span: &Span, verified: &megabot_webhook_verify::Verified) {
    if span.is_disabled() {
        return;
    }
    span.record("scheme", verified.delivery.scheme.as_str());
    span.record("event", verified.event.name());
    span.record("delivery_id", verified.delivery.delivery_id.as_str());
}

/// Runs `f` in `span` (entered only when a subscriber wants it).
#[inline]
pub(crate) fn in_span<T>(span: &Span, f: impl FnOnce() -> T) -> T {
    if span.is_disabled() {
        f()
    } else {
        span.in_scope(f)
    }
}

/// Records how the request ended (`ok`, `duplicate`, a refusal code, ...).
pub(crate) fn outcome(span: &Span, outcome: &'static str) {
    if !span.is_disabled() {
        span.record("outcome", outcome);
    }
}

/// Records that a delivery was not handed to the handler.
///
/// Configuration errors are `error` events, store outages `warn`, refused requests
/// `warn` (signature, size, encoding, in flight) and duplicates `info`.
pub(crate) fn rejected(error: &Error, delivery_id: Option<&str>) {
    let code = error.code();
    let status = error.status();
    match error {
        Error::MissingVerifier => tracing::error!(
            code,
            status,
            "webhook route has no Verifier: add one to the app data (actix-web) or the router state"
        ),
        _ if error.is_duplicate() => {
            tracing::info!(
                code,
                status,
                delivery_id,
                "duplicate webhook delivery acknowledged"
            );
        }
        _ if status >= 500 => {
            tracing::error!(code, status, delivery_id, reason = %error, "webhook delivery refused");
        }
        _ => {
            tracing::warn!(code, status, delivery_id, reason = %error, "webhook delivery refused");
        }
    }
}

/// Records what happened to a claim after the handler ran.
pub(crate) fn settled(delivery_id: &str, status: u16, completed: bool) {
    if completed {
        tracing::debug!(delivery_id, status, "webhook delivery handled; marked done");
    } else {
        tracing::info!(
            delivery_id,
            status,
            "webhook handler did not succeed; claim released so a retry can run"
        );
    }
}

/// Records a failure of the replay store while completing or releasing a claim.
pub(crate) fn settle_failed(delivery_id: &str, action: &'static str, error: &Error) {
    tracing::error!(
        delivery_id,
        action,
        code = error.code(),
        reason = %error,
        "could not update the replay store after the handler ran"
    );
}
