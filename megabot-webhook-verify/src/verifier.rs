//! The verifier: signature, envelope, freshness (SPEC 4.3), and the replay claim.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use megabot_webhook_types::{Event, ParseError, headers};

use crate::replay::{Claim, ClaimOutcome, ReplayGuard};
use crate::{
    Error, Headers, Scheme, Secret, StandardSecret, Verified, VerifierBuilder, freshness, signature,
};

/// Checks deliveries of both schemes; cheap to clone (the configuration is shared).
///
/// Build one with [`Verifier::builder`], then call [`Verifier::verify`] (or
/// [`Verifier::verify_at`] with an explicit clock) on each request's headers and raw
/// body, and [`Verifier::claim`] to take the delivery id before handling it.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

/// The shared configuration. Secrets of schemes that are not accepted are dropped.
pub(crate) struct Inner {
    pub(crate) megabot: Vec<Secret>,
    pub(crate) standard: Vec<StandardSecret>,
    pub(crate) tolerance_past: Duration,
    pub(crate) tolerance_future: Duration,
    pub(crate) max_body_size: usize,
    pub(crate) replay_guard: Arc<dyn ReplayGuard>,
    pub(crate) check_timestamp: bool,
}

impl Verifier {
    /// A builder with the defaults (see [`VerifierBuilder`]).
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::new()
    }

    pub(crate) fn from_inner(inner: Inner) -> Verifier {
        Verifier {
            inner: Arc::new(inner),
        }
    }

    /// The largest accepted body in bytes.
    pub fn max_body_size(&self) -> usize {
        self.inner.max_body_size
    }

    /// How old a timestamp may be.
    pub fn tolerance_past(&self) -> Duration {
        self.inner.tolerance_past
    }

    /// How far in the future a timestamp may be.
    pub fn tolerance_future(&self) -> Duration {
        self.inner.tolerance_future
    }

    /// The replay store used by [`Verifier::claim`].
    pub fn replay_guard(&self) -> &Arc<dyn ReplayGuard> {
        &self.inner.replay_guard
    }

    /// True when the scheme is accepted and has at least one secret.
    pub fn accepts(&self, scheme: Scheme) -> bool {
        match scheme {
            Scheme::MegaBot => !self.inner.megabot.is_empty(),
            Scheme::StandardWebhooks => !self.inner.standard.is_empty(),
        }
    }

    /// False only for verifiers built through [`crate::dangerous::ignore_timestamp`].
    pub fn checks_timestamp(&self) -> bool {
        self.inner.check_timestamp
    }

    /// [`Verifier::verify_at`] with the system clock.
    pub fn verify<H: Headers + ?Sized>(&self, headers: &H, body: &[u8]) -> Result<Verified, Error> {
        self.verify_at(headers, body, Utc::now())
    }

    /// Verifies a delivery against the clock `now`, in SPEC 4.3's order: body size,
    /// scheme (Standard Webhooks when its `webhook-signature` header is present and the
    /// verifier holds a Standard Webhooks secret, else MegaBot), signature over the raw
    /// bytes, envelope, freshness.
    ///
    /// Time errors are reported only for authentic requests. The unsigned
    /// `X-MegaBot-Event`, `-Delivery` and `-Timestamp` headers are never used; when they
    /// disagree with the body a `tracing` warning is emitted. The replay claim is a
    /// separate step: [`Verifier::claim`].
    pub fn verify_at<H: Headers + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Verified, Error> {
        let inner = &*self.inner;
        if body.len() > inner.max_body_size {
            return Err(Error::BodyTooLarge {
                limit: inner.max_body_size,
            });
        }
        let verified = if let Some(signature) = self.standard_header(headers) {
            self.verify_standard(headers, signature, body, now)?
        } else if let Some(signature) = self.megabot_header(headers) {
            self.verify_megabot(signature, body, now)?
        } else {
            return Err(Error::MissingSignature);
        };
        warn_on_disagreeing_headers(headers, &verified.event);
        Ok(verified)
    }

    fn standard_header<'h, H: Headers + ?Sized>(&self, headers: &'h H) -> Option<&'h str> {
        if self.inner.standard.is_empty() {
            return None;
        }
        headers.header(headers::WEBHOOK_SIGNATURE)
    }

    fn megabot_header<'h, H: Headers + ?Sized>(&self, headers: &'h H) -> Option<&'h str> {
        if self.inner.megabot.is_empty() {
            return None;
        }
        headers.header(headers::SIGNATURE)
    }

    fn verify_standard<H: Headers + ?Sized>(
        &self,
        headers: &H,
        signature: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Verified, Error> {
        let inner = &*self.inner;
        let id = headers
            .header(headers::WEBHOOK_ID)
            .filter(|id| !id.is_empty())
            .ok_or(Error::MissingHeader {
                name: headers::WEBHOOK_ID,
            })?;
        let timestamp = headers
            .header(headers::WEBHOOK_TIMESTAMP)
            .ok_or(Error::MissingHeader {
                name: headers::WEBHOOK_TIMESTAMP,
            })?;
        let timestamp = freshness::parse_unix_seconds(timestamp)?;
        let secret_index =
            signature::verify_standard_signature(&inner.standard, id, timestamp, signature, body)?;
        let event = parse(body)?;
        self.check_freshness(timestamp, now)?;
        let signed_at = DateTime::from_timestamp(timestamp, 0).ok_or(Error::InvalidTimestamp)?;
        Ok(Verified {
            event,
            scheme: Scheme::StandardWebhooks,
            secret_index,
            delivery_id: id.to_owned(),
            signed_at,
            expires_at: self.expires_at(signed_at, now),
        })
    }

    fn verify_megabot(
        &self,
        signature: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Verified, Error> {
        let secret_index =
            signature::verify_megabot_signature(&self.inner.megabot, signature, body)?;
        let event = parse(body)?;
        let signed_at = event.timestamp;
        self.check_freshness(signed_at.timestamp(), now)?;
        Ok(Verified {
            delivery_id: event.id.clone(),
            event,
            scheme: Scheme::MegaBot,
            secret_index,
            signed_at,
            expires_at: self.expires_at(signed_at, now),
        })
    }

    fn check_freshness(&self, timestamp: i64, now: DateTime<Utc>) -> Result<(), Error> {
        if !self.inner.check_timestamp {
            return Ok(());
        }
        freshness::check(
            timestamp,
            now,
            self.inner.tolerance_past,
            self.inner.tolerance_future,
        )
    }

    fn expires_at(&self, signed_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        // Without a freshness check an old delivery is accepted now, so remember it
        // counting from now.
        let base = if self.inner.check_timestamp {
            signed_at
        } else {
            signed_at.max(now)
        };
        freshness::add_saturating(base, self.inner.tolerance_past)
    }

    /// Claims the delivery id before handling it, with the system clock.
    ///
    /// Errors: [`Error::ReplayInFlight`] (409) while another request holds it,
    /// [`Error::DuplicateDelivery`] (200 duplicate) once it was handled, and the
    /// store's own errors (503). Follow with [`Verifier::complete`] after a 2xx
    /// answer or [`Verifier::release`] after anything else.
    pub async fn claim(&self, verified: &Verified) -> Result<Claim, Error> {
        self.claim_at(verified, Utc::now()).await
    }

    /// [`Verifier::claim`] with an explicit clock.
    pub async fn claim_at(&self, verified: &Verified, now: DateTime<Utc>) -> Result<Claim, Error> {
        match self
            .inner
            .replay_guard
            .claim(&verified.delivery_id, verified.expires_at, now)
            .await?
        {
            ClaimOutcome::Claimed(claim) => Ok(claim),
            ClaimOutcome::InFlight => Err(Error::ReplayInFlight),
            ClaimOutcome::Done => Err(Error::DuplicateDelivery),
        }
    }

    /// Marks a claimed id as done (the handler answered 2xx), with the system clock.
    pub async fn complete(&self, claim: &Claim) -> Result<(), Error> {
        self.complete_at(claim, Utc::now()).await
    }

    /// [`Verifier::complete`] with an explicit clock.
    pub async fn complete_at(&self, claim: &Claim, now: DateTime<Utc>) -> Result<(), Error> {
        self.inner.replay_guard.complete(claim, now).await
    }

    /// Releases a claimed id (the handler failed or panicked) so that a retry can run.
    pub async fn release(&self, claim: &Claim) -> Result<(), Error> {
        self.inner.replay_guard.release(claim).await
    }
}

fn parse(body: &[u8]) -> Result<Event, Error> {
    Event::from_slice(body).map_err(|error| Error::InvalidEnvelope {
        // Our own message already says "invalid event envelope".
        message: match &error {
            ParseError::InvalidEnvelope(inner) => inner.to_string(),
            other => other.to_string(),
        },
    })
}

/// Logs unsigned headers that disagree with the verified body; their values are
/// never used.
fn warn_on_disagreeing_headers<H: Headers + ?Sized>(headers: &H, event: &Event) {
    if let Some(value) = headers.header(headers::EVENT) {
        if value != event.name() {
            warn_disagreement(headers::EVENT, value, event.name());
        }
    }
    if let Some(value) = headers.header(headers::DELIVERY) {
        if value != event.id {
            warn_disagreement(headers::DELIVERY, value, &event.id);
        }
    }
    if let Some(value) = headers.header(headers::TIMESTAMP) {
        let timestamp = event.timestamp.timestamp();
        if value.trim().parse::<i64>().ok() != Some(timestamp) {
            warn_disagreement(headers::TIMESTAMP, value, &timestamp.to_string());
        }
    }
}

fn warn_disagreement(header: &str, value: &str, signed: &str) {
    // The header value is attacker-controlled: log a bounded, escaped prefix.
    let shown: String = value.chars().take(64).collect();
    tracing::warn!(
        header,
        header_value = ?shown,
        signed_value = ?signed,
        "unsigned header disagrees with the signed body; ignored"
    );
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Verifier")
            .field("megabot_secrets", &inner.megabot.len())
            .field("standard_secrets", &inner.standard.len())
            .field("tolerance_past", &inner.tolerance_past)
            .field("tolerance_future", &inner.tolerance_future)
            .field("max_body_size", &inner.max_body_size)
            .field("check_timestamp", &inner.check_timestamp)
            .field("replay_guard", &inner.replay_guard)
            .finish()
    }
}
