//! The verifier: signature, envelope, freshness (design 4.3), and the replay claim.
//!
//! Just over 600 lines: the one pipeline both checks share is kept whole in one file,
//! with its unit tests (about 150 lines) below it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use megabot_webhook_types::{EnvelopeHead, Event, ParseError, headers};

use crate::replay::{Claim, ClaimOutcome, ReplayGuard};
use crate::{
    Authenticated, Error, Headers, Scheme, Secret, StandardPublicKey, StandardSecret, Verified,
    VerifierBuilder, freshness, signature,
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
    pub(crate) public: Vec<StandardPublicKey>,
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

    /// True when the scheme is accepted and has at least one secret (for Standard
    /// Webhooks, an HMAC secret or a public key).
    pub fn accepts(&self, scheme: Scheme) -> bool {
        match scheme {
            Scheme::MegaBot => !self.inner.megabot.is_empty(),
            Scheme::StandardWebhooks => {
                !self.inner.standard.is_empty() || !self.inner.public.is_empty()
            }
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

    /// Verifies a delivery against the clock `now`, in design 4.3's order: body size,
    /// scheme (Standard Webhooks when its `webhook-signature` header is present and the
    /// verifier holds a Standard Webhooks secret or public key, else MegaBot), signature
    /// over the raw bytes, envelope, freshness.
    ///
    /// Within Standard Webhooks: when the verifier holds public keys and the header has
    /// a `v1a,` entry, the `v1a` entries decide and `v1,` entries are not consulted;
    /// otherwise the `v1,` entries decide (design 9.11).
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
        let signed = self.check_signature(headers, body)?;
        let event = parse(body)?;
        let (delivery_id, signed_at) = match signed.headers {
            Some((id, timestamp)) => (id.to_owned(), timestamp_from_header(timestamp)),
            None => (event.id.clone(), Ok(event.timestamp)),
        };
        let delivery = self.check_time(signed, delivery_id, signed_at, now)?;
        warn_on_disagreeing_headers(headers, &event);
        Ok(Verified { event, delivery })
    }

    /// [`Verifier::authenticate_at`] with the system clock.
    pub fn authenticate<H: Headers + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
    ) -> Result<Authenticated, Error> {
        self.authenticate_at(headers, body, Utc::now())
    }

    /// Checks a delivery's body size, signature and freshness against the clock `now`,
    /// without parsing the event: [`Verifier::verify_at`] minus the typed parse, for
    /// receivers that store or forward the raw body, or parse it later.
    ///
    /// The scheme is chosen as by [`Verifier::verify_at`]. With Standard Webhooks the
    /// body is not read at all (id and timestamp are signed headers). With the MegaBot
    /// scheme the body's `id` and `timestamp` are read and nothing else: when the body
    /// starts as MegaBot writes it, `{"event":"..","id":"..","timestamp":..,`, the rest
    /// (the whole `data`) is not even scanned; otherwise the envelope is scanned without
    /// parsing `data`. So a body accepted here may still fail [`Event::from_slice`]
    /// (for instance a `data` that is not valid JSON, or a repeated envelope key after
    /// `timestamp`); [`Verifier::verify_at`] refuses those.
    ///
    /// Errors: as [`Verifier::verify_at`], where [`Error::InvalidEnvelope`] means that
    /// no `event`, `id` and integer `timestamp` could be read. The replay claim is a
    /// separate step: [`Verifier::claim`] takes an [`Authenticated`] as it takes a
    /// [`Verified`].
    pub fn authenticate_at<H: Headers + ?Sized>(
        &self,
        headers: &H,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Authenticated, Error> {
        let signed = self.check_signature(headers, body)?;
        let (delivery_id, signed_at) = match signed.headers {
            Some((id, timestamp)) => (id.to_owned(), timestamp_from_header(timestamp)),
            None => {
                let (id, signed_at) = id_and_timestamp(body)?;
                (id, Ok(signed_at))
            }
        };
        self.check_time(signed, delivery_id, signed_at, now)
    }

    /// The first half of the one pipeline of [`Verifier::verify_at`] and
    /// [`Verifier::authenticate_at`] (design 4.3): body size, scheme, signature over
    /// the raw bytes. Between the halves the caller reads the envelope: the whole event
    /// (`verify_at`), or the MegaBot body's `id` and `timestamp` alone
    /// (`authenticate_at`; Standard Webhooks' are signed headers).
    fn check_signature<'h, H: Headers + ?Sized>(
        &self,
        headers: &'h H,
        body: &[u8],
    ) -> Result<Signed<'h>, Error> {
        let inner = &*self.inner;
        if body.len() > inner.max_body_size {
            return Err(Error::BodyTooLarge {
                limit: inner.max_body_size,
            });
        }
        if let Some(signature) = self.standard_header(headers) {
            let (secret_index, asymmetric, id, timestamp) =
                self.check_standard_signature(headers, signature, body)?;
            Ok(Signed {
                scheme: Scheme::StandardWebhooks,
                secret_index,
                asymmetric,
                headers: Some((id, timestamp)),
            })
        } else if let Some(signature) = self.megabot_header(headers) {
            let secret_index =
                signature::verify_megabot_signature(&inner.megabot, signature, body)?;
            Ok(Signed {
                scheme: Scheme::MegaBot,
                secret_index,
                asymmetric: false,
                headers: None,
            })
        } else {
            Err(Error::MissingSignature)
        }
    }

    /// The second half of the pipeline: freshness of the signed time (time errors only
    /// for authentic requests), then the delivery as authenticated.
    fn check_time(
        &self,
        signed: Signed<'_>,
        delivery_id: String,
        signed_at: Result<DateTime<Utc>, i64>,
        now: DateTime<Utc>,
    ) -> Result<Authenticated, Error> {
        let seconds = match signed_at {
            Ok(at) => at.timestamp(),
            Err(seconds) => seconds,
        };
        self.check_freshness(seconds, now)?;
        let signed_at = signed_at.or(Err(Error::InvalidTimestamp))?;
        Ok(Authenticated {
            scheme: signed.scheme,
            secret_index: signed.secret_index,
            asymmetric: signed.asymmetric,
            delivery_id,
            signed_at,
            expires_at: self.expires_at(signed_at, now),
        })
    }

    fn standard_header<'h, H: Headers + ?Sized>(&self, headers: &'h H) -> Option<&'h str> {
        if self.inner.standard.is_empty() && self.inner.public.is_empty() {
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

    /// The Standard Webhooks headers and signature: the matching secret's (or public
    /// key's) index, whether `v1a` decided, the `webhook-id` and the `webhook-timestamp`.
    fn check_standard_signature<'h, H: Headers + ?Sized>(
        &self,
        headers: &'h H,
        signature: &str,
        body: &[u8],
    ) -> Result<(usize, bool, &'h str, i64), Error> {
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
        if !inner.public.is_empty() && signature::has_v1a_entry(signature) {
            let index = signature::verify_standard_v1a_signature(
                &inner.public,
                id,
                timestamp,
                signature,
                body,
            )?;
            return Ok((index, true, id, timestamp));
        }
        let secret_index =
            signature::verify_standard_signature(&inner.standard, id, timestamp, signature, body)?;
        Ok((secret_index, false, id, timestamp))
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
    pub async fn claim<D: AsRef<Authenticated> + ?Sized>(
        &self,
        delivery: &D,
    ) -> Result<Claim, Error> {
        self.claim_at(delivery, Utc::now()).await
    }

    /// [`Verifier::claim`] with an explicit clock.
    pub async fn claim_at<D: AsRef<Authenticated> + ?Sized>(
        &self,
        delivery: &D,
        now: DateTime<Utc>,
    ) -> Result<Claim, Error> {
        let delivery = delivery.as_ref();
        match self
            .inner
            .replay_guard
            .claim(&delivery.delivery_id, delivery.expires_at, now)
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

    /// The replay guard's in-flight lease time, if its in-flight entries are leases
    /// (design 9.4): the holder of a claim renews it with [`Verifier::renew`] every third
    /// of it while the handler runs.
    pub fn in_flight_ttl(&self) -> Option<std::time::Duration> {
        self.inner.replay_guard.in_flight_ttl()
    }

    /// Renews a claim's in-flight lease, with the system clock; `Ok(false)` when the
    /// claim no longer owns its id.
    pub async fn renew(&self, claim: &Claim) -> Result<bool, Error> {
        self.inner.replay_guard.renew(claim, Utc::now()).await
    }

    /// Releases a claimed id (the handler failed or panicked) so that a retry can run.
    pub async fn release(&self, claim: &Claim) -> Result<(), Error> {
        self.inner.replay_guard.release(claim).await
    }
}

fn parse(body: &[u8]) -> Result<Event, Error> {
    Event::from_slice(body).map_err(invalid_envelope)
}

fn invalid_envelope(error: ParseError) -> Error {
    Error::InvalidEnvelope {
        // Our own message already says "invalid event envelope".
        message: match &error {
            ParseError::InvalidEnvelope(inner) => inner.to_string(),
            other => other.to_string(),
        },
    }
}

/// What the signature step established: the scheme, which secret or key matched,
/// and for Standard Webhooks the signed `webhook-id` and `webhook-timestamp`.
struct Signed<'h> {
    scheme: Scheme,
    secret_index: usize,
    asymmetric: bool,
    headers: Option<(&'h str, i64)>,
}

/// A signed header timestamp as a time, or its seconds when out of range (freshness
/// then refuses it, or [`Error::InvalidTimestamp`] when freshness is not checked).
fn timestamp_from_header(seconds: i64) -> Result<DateTime<Utc>, i64> {
    DateTime::from_timestamp(seconds, 0).ok_or(seconds)
}

/// The body's `id` and signed time, read without parsing `data` (for
/// [`Verifier::authenticate_at`]).
fn id_and_timestamp(body: &[u8]) -> Result<(String, DateTime<Utc>), Error> {
    let head = EnvelopeHead::read(body).map_err(invalid_envelope)?;
    let at = DateTime::from_timestamp(head.timestamp, 0).ok_or_else(|| Error::InvalidEnvelope {
        message: format!("timestamp {} is out of range", head.timestamp),
    })?;
    Ok((head.id, at))
}

/// Logs unsigned headers that disagree with the verified body; their values are
/// never used.
fn warn_on_disagreeing_headers<H: Headers + ?Sized>(headers: &H, event: &Event) {
    if let Some(value) = headers.header(headers::EVENT)
        && value != event.name()
    {
        warn_disagreement(headers::EVENT, value, event.name());
    }
    if let Some(value) = headers.header(headers::DELIVERY)
        && value != event.id
    {
        warn_disagreement(headers::DELIVERY, value, &event.id);
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
            .field("standard_public_keys", &inner.public.len())
            .field("tolerance_past", &inner.tolerance_past)
            .field("tolerance_future", &inner.tolerance_future)
            .field("max_body_size", &inner.max_body_size)
            .field("check_timestamp", &inner.check_timestamp)
            .field("replay_guard", &inner.replay_guard)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::{megabot_signature, standard_signature};

    const NOW: i64 = 1_640_995_300;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(NOW, 0).unwrap()
    }

    fn secret() -> Secret {
        Secret::new("your_webhook_secret").unwrap()
    }

    fn verifier() -> Verifier {
        Verifier::builder()
            .megabot_secret(Secret::new("old").unwrap())
            .megabot_secret(secret())
            .standard_secret(StandardSecret::from_bytes(&[7; 32]).unwrap())
            .build()
            .unwrap()
    }

    fn megabot(body: &str) -> Result<Authenticated, Error> {
        let signature = megabot_signature(&secret(), body.as_bytes());
        verifier().authenticate_at(
            &[("X-MegaBot-Signature", signature)],
            body.as_bytes(),
            now(),
        )
    }

    #[test]
    fn authenticate_agrees_with_verify_on_valid_bodies() {
        let verifier = verifier();
        let bodies = [
            format!(
                r#"{{"event":"error_occurred","id":"evt_1","timestamp":{NOW},"data":{{"message":"m"}}}}"#
            ),
            format!(
                r#"{{"event":"brand_new","id":"évt","timestamp":{},"data":[]}}"#,
                NOW - 300
            ),
            format!(r#"{{"event":"x","id":"e","timestamp":{}}}"#, NOW + 300),
            format!(r#" {{ "event" : "x", "id" : "e2", "timestamp" : {NOW}, "data" : null }}"#),
            format!(r#"{{"data":{{"a":1}},"timestamp":{NOW},"id":"e3","event":"x","more":1}}"#),
            format!(r#"{{"event":"x","id":"evt\u005f4","timestamp":{NOW},"data":{{}}}}"#),
            format!(r#"{{"event":"x\n","id":"e5","timestamp":{NOW},"data":{{}}}}"#),
        ];
        for body in &bodies {
            let signature = megabot_signature(&secret(), body.as_bytes());
            let headers = [("X-MegaBot-Signature", signature.as_str())];
            let verified = verifier
                .verify_at(&headers, body.as_bytes(), now())
                .unwrap();
            let authenticated = verifier
                .authenticate_at(&headers, body.as_bytes(), now())
                .unwrap();
            assert_eq!(authenticated.scheme, Scheme::MegaBot);
            assert_eq!(authenticated.secret_index, 1);
            assert_eq!(authenticated, verified.delivery, "{body}");
        }
    }

    #[test]
    fn authenticate_reads_only_the_envelope_head_of_canonical_bodies() {
        // Everything after the timestamp is left to Event::from_slice.
        let body = format!(r#"{{"event":"x","id":"e","timestamp":{NOW},"data":{{not json"#);
        let authenticated = megabot(&body).unwrap();
        assert_eq!(authenticated.delivery_id, "e");
        assert_eq!(authenticated.signed_at, now());
        let signature = megabot_signature(&secret(), body.as_bytes());
        let headers = [("X-MegaBot-Signature", signature)];
        let error = verifier()
            .verify_at(&headers, body.as_bytes(), now())
            .unwrap_err();
        assert_eq!(error.code(), "invalid_envelope");
    }

    #[test]
    fn authenticate_refuses_what_has_no_envelope_head() {
        for body in [
            "not json".to_owned(),
            "[1,2]".to_owned(),
            format!(r#"{{"id":"e","timestamp":{NOW}}}"#),
            format!(r#"{{"event":1,"id":"e","timestamp":{NOW}}}"#),
            format!(r#"{{"event":"x","timestamp":{NOW}}}"#),
            r#"{"event":"x","id":"e","timestamp":1640995300.0}"#.to_owned(),
            r#"{"event":"x","id":"e","timestamp":01640995300}"#.to_owned(),
            r#"{"event":"x","id":"e","timestamp":"1640995300"}"#.to_owned(),
            r#"{"event":"x","id":"e","timestamp":9223372036854775807}"#.to_owned(),
            r#"{"event":"x","id":"e","timestamp":99999999999999999999}"#.to_owned(),
            format!(r#"{{"event":"x","id":"e","id":"f","timestamp":{NOW}}}"#),
            format!(r#"{{"event":"x","id":"e\ud800","timestamp":{NOW},"data":1,"data":2}}"#),
        ] {
            let error = megabot(&body).unwrap_err();
            assert_eq!(error.code(), "invalid_envelope", "{body}: {error}");
        }
    }

    #[test]
    fn authenticate_checks_signature_first_then_freshness() {
        let body = r#"{"event":"x","id":"e","timestamp":1}"#;
        let headers = [("X-MegaBot-Signature", format!("sha256={}", "0".repeat(64)))];
        let error = verifier()
            .authenticate_at(&headers, b"not json", now())
            .unwrap_err();
        assert_eq!(error.code(), "signature_mismatch");
        let error = megabot(body).unwrap_err();
        assert!(matches!(error, Error::TimestampTooOld { .. }), "{error}");
        let future = format!(r#"{{"event":"x","id":"e","timestamp":{}}}"#, NOW + 301);
        assert!(matches!(
            megabot(&future),
            Err(Error::TimestampTooNew { .. })
        ));
        let missing = verifier().authenticate_at(&[("X-Other", "1")], body.as_bytes(), now());
        assert!(matches!(missing, Err(Error::MissingSignature)));
        let large = Verifier::builder()
            .megabot_secret(secret())
            .max_body_size(4)
            .build()
            .unwrap()
            .authenticate_at(&[("X-MegaBot-Signature", "x")], body.as_bytes(), now());
        assert!(matches!(large, Err(Error::BodyTooLarge { limit: 4 })));
    }

    #[test]
    fn authenticate_standard_webhooks_does_not_read_the_body() {
        let secret = StandardSecret::from_bytes(&[7; 32]).unwrap();
        let body = b"\xff not even utf-8";
        let signature = standard_signature(&secret, "msg_1", NOW - 10, body);
        let timestamp = (NOW - 10).to_string();
        let headers = [
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", timestamp.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        let authenticated = verifier().authenticate_at(&headers, body, now()).unwrap();
        assert_eq!(authenticated.scheme, Scheme::StandardWebhooks);
        assert_eq!(authenticated.delivery_id, "msg_1");
        assert_eq!(authenticated.signed_at.timestamp(), NOW - 10);
        assert_eq!(authenticated.expires_at.timestamp(), NOW + 290);
        let error = verifier().verify_at(&headers, body, now()).unwrap_err();
        assert_eq!(error.code(), "invalid_envelope");
        let stale = verifier()
            .authenticate_at(
                &headers,
                body,
                DateTime::from_timestamp(NOW + 400, 0).unwrap(),
            )
            .unwrap_err();
        assert!(matches!(stale, Error::TimestampTooOld { .. }));
    }
}
