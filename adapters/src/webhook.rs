//! The verified delivery a handler receives.

use std::sync::OnceLock;

use megabot_webhook_types::Event;
use megabot_webhook_verify::{Scheme, Verified};

use crate::headers::Received;

/// A verified, fresh, claimed delivery: the typed event plus the bytes that were signed.
///
/// Handlers receive it from the piece that claimed it: the last argument of the handler
/// given to `axum::webhook`, `actix_web::webhook` or `warp::webhook`, or the body of the
/// `http::Request<Webhook>` that `tower::WebhookLayer` passes on. It is not an extractor
/// of any framework on its own, and only this crate can make one, so no handler sees a
/// delivery that was not claimed. By then the signature was checked over the raw
/// (decoded) body, the timestamp is within tolerance and the delivery id is claimed: the
/// handler's answer decides whether the delivery counts as handled (2xx) or is left for
/// the sender's retry (anything else).
///
/// Unknown event names arrive as
/// [`EventPayload::Unknown`](crate::EventPayload::Unknown).
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Boxed: the event is large, and a webhook is moved through the request's and
    /// the handler's futures several times.
    verified: Box<Verified>,
    body: Vec<u8>,
    received: Received,
    /// `received` listed, on the first call of [`Webhook::headers`].
    headers: OnceLock<Vec<(String, String)>>,
}

impl Webhook {
    pub(crate) fn new(verified: Box<Verified>, body: Vec<u8>, received: Received) -> Webhook {
        Webhook {
            verified,
            body,
            received,
            headers: OnceLock::new(),
        }
    }

    /// The delivery's request headers as received (names lowercase, in order, repeated
    /// ones repeated; values that are not visible ASCII left out), for forwarding the
    /// delivery.
    pub fn headers(&self) -> &[(String, String)] {
        self.headers.get_or_init(|| self.received.lines())
    }

    /// The typed event.
    pub fn event(&self) -> &Event {
        &self.verified.event
    }

    /// Consumes the delivery, keeping the event.
    pub fn into_event(self) -> Event {
        self.verified.event
    }

    /// Everything the verifier established: event, scheme, secret index, delivery id,
    /// signed timestamp and until when the id is remembered.
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    /// The body bytes the signature was checked over (after `Content-Encoding`
    /// decoding), for storing or forwarding the delivery unchanged.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The scheme whose signature was checked.
    pub fn scheme(&self) -> Scheme {
        self.verified.delivery.scheme
    }

    /// Which configured secret of [`Webhook::scheme`] matched, in the order the secrets
    /// were added to the verifier's builder (useful while rotating keys).
    pub fn secret_index(&self) -> usize {
        self.verified.delivery.secret_index
    }

    /// The replay key that was claimed: the body's `id` (MegaBot scheme) or the
    /// `webhook-id` header (Standard Webhooks).
    pub fn delivery_id(&self) -> &str {
        &self.verified.delivery.delivery_id
    }

    /// Splits the delivery into what the verifier established and the body bytes.
    pub fn into_parts(self) -> (Verified, Vec<u8>) {
        (*self.verified, self.body)
    }
}
