//! The framework-independent extractor: read the body with a cap, verify, claim.

use std::fmt::Display;

use bytes::Buf;
use futures_core::Stream;
use megabot_webhook_verify::{Headers, Verifier};

use crate::decode::Encoding;
use crate::idempotency::ClaimSlot;
use crate::read::{content_length, read_body};
use crate::{Error, Webhook, trace};

const CONTENT_ENCODING: &str = "content-encoding";
const CONTENT_LENGTH: &str = "content-length";

/// Turns a request into a claimed [`Webhook`] in SPEC 4.3's order, logging every refusal.
///
/// Without a `slot` (the extractor is not wrapped by its idempotency layer) the request
/// is refused with [`Error::MissingIdempotencyLayer`] before the body is read: running
/// the handler without a claim would break exactly-once handling silently.
pub(crate) async fn receive<H, S, B, E>(
    verifier: &Verifier,
    slot: Option<&ClaimSlot>,
    headers: &H,
    body: S,
) -> Result<Webhook, Error>
where
    H: Headers + ?Sized,
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: Display,
{
    let result = receive_inner(verifier, slot, headers, body).await;
    if let Err((error, delivery_id)) = &result {
        trace::rejected(error, delivery_id.as_deref());
    }
    result.map_err(|(error, _)| error)
}

async fn receive_inner<H, S, B, E>(
    verifier: &Verifier,
    slot: Option<&ClaimSlot>,
    headers: &H,
    body: S,
) -> Result<Webhook, (Error, Option<String>)>
where
    H: Headers + ?Sized,
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: Display,
{
    let unauthenticated = |error: Error| (error, None);
    let slot = slot
        .ok_or(Error::MissingIdempotencyLayer)
        .map_err(unauthenticated)?;
    let encoding =
        Encoding::from_header(headers.header(CONTENT_ENCODING)).map_err(unauthenticated)?;
    let length = content_length(headers.header(CONTENT_LENGTH));
    let body = read_body(body, length, encoding, verifier.max_body_size())
        .await
        .map_err(unauthenticated)?;
    let verified = verifier
        .verify(headers, &body)
        .map_err(|error| unauthenticated(error.into()))?;
    let claim = verifier
        .claim(&verified)
        .await
        .map_err(|error| (error.into(), Some(verified.delivery_id.clone())))?;
    if let Err(claim) = slot.deposit(verifier, claim) {
        // Only one claim per request can be settled: give this one back at once.
        if let Err(error) = verifier.release(&claim).await {
            trace::settle_failed(&claim.id, "release", &error.into());
        }
        tracing::error!(
            delivery_id = claim.id.as_str(),
            "the webhook extractor ran twice on one request"
        );
        return Err((Error::MissingIdempotencyLayer, Some(claim.id)));
    }
    Ok(Webhook::new(verified, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::Settlement;
    use bytes::Bytes;
    use futures_util::stream;
    use megabot_webhook_verify::{Secret, sign};

    fn verifier() -> Verifier {
        Verifier::builder()
            .megabot_secret(Secret::new("test-secret").unwrap())
            .max_body_size(4096)
            .build()
            .unwrap()
    }

    fn delivery(id: &str) -> (Vec<(String, String)>, Vec<u8>) {
        let now = chrono::Utc::now().timestamp();
        let body = format!(
            r#"{{"event":"brand_new_event","id":"{id}","timestamp":{now},"data":{{"k":1}}}}"#
        );
        let signature =
            sign::megabot_signature(&Secret::new("test-secret").unwrap(), body.as_bytes());
        (
            vec![("X-MegaBot-Signature".to_owned(), signature)],
            body.into_bytes(),
        )
    }

    fn once(body: Vec<u8>) -> impl Stream<Item = Result<Bytes, String>> {
        stream::iter([Ok(Bytes::from(body))])
    }

    #[tokio::test]
    async fn verifies_and_claims() {
        let verifier = verifier();
        let (headers, body) = delivery("evt_r1");
        let settlement = Settlement::new();
        let slot = settlement.slot();
        let webhook = receive(&verifier, Some(&slot), &headers, once(body.clone()))
            .await
            .unwrap();
        assert_eq!(webhook.delivery_id(), "evt_r1");
        assert_eq!(webhook.body(), body);
        assert_eq!(webhook.event().name(), "brand_new_event");
        // Claimed: a copy is in flight until the settlement finishes.
        let error = receive(
            &verifier,
            Some(&Settlement::new().slot()),
            &headers,
            once(body),
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), "replay_in_flight");
        settlement.finish(200).await;
    }

    #[tokio::test]
    async fn without_a_slot_the_request_is_refused_unread() {
        let verifier = verifier();
        let (headers, _) = delivery("evt_r2");
        let unread = stream::once(async { Err::<Bytes, _>("must not be read".to_owned()) });
        let error = receive(&verifier, None, &headers, unread)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "idempotency_layer_missing");
        assert_eq!(error.status(), 500);
    }

    #[tokio::test]
    async fn bad_signature_is_refused_before_claiming() {
        let verifier = verifier();
        let (headers, mut body) = delivery("evt_r3");
        body[5] ^= 1;
        let slot = Settlement::new().slot();
        let error = receive(&verifier, Some(&slot), &headers, once(body))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "signature_mismatch");
        assert!(format!("{slot:?}").contains("None"));
    }

    /// Records every event's fields as text.
    #[derive(Default)]
    struct Capture {
        lines: std::sync::Mutex<Vec<String>>,
    }

    struct Line<'a>(&'a mut String);

    impl tracing::field::Visit for Line<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!("{}={:?} ", field.name(), value));
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut line = String::new();
            event.record(&mut Line(&mut line));
            self.lines.lock().unwrap().push(line);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn refusals_are_logged_with_code_and_authentic_ids_only() {
        let capture = std::sync::Arc::new(Capture::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tracing::subscriber::with_default(std::sync::Arc::clone(&capture), || {
            runtime.block_on(async {
                let verifier = verifier();
                let (headers, body) = delivery("evt_logged");
                let mut tampered = body.clone();
                tampered[3] ^= 1;
                let slot = Settlement::new().slot();
                receive(&verifier, Some(&slot), &headers, once(tampered))
                    .await
                    .unwrap_err();
                let settlement = Settlement::new();
                receive(
                    &verifier,
                    Some(&settlement.slot()),
                    &headers,
                    once(body.clone()),
                )
                .await
                .unwrap();
                settlement.finish(200).await;
                let slot = Settlement::new().slot();
                receive(&verifier, Some(&slot), &headers, once(body))
                    .await
                    .unwrap_err();
            });
        });
        let lines = capture.lines.lock().unwrap().join("\n");
        let mismatch = lines
            .lines()
            .find(|line| line.contains("signature_mismatch"))
            .expect("mismatch logged");
        assert!(mismatch.contains("status=401"), "{mismatch}");
        assert!(
            !mismatch.contains("evt_logged"),
            "unauthenticated id logged: {mismatch}"
        );
        let duplicate = lines
            .lines()
            .find(|line| line.contains("duplicate_delivery"))
            .expect("duplicate logged");
        assert!(
            duplicate.contains("delivery_id=\"evt_logged\""),
            "{duplicate}"
        );
        assert!(!lines.contains("test-secret"), "{lines}");
        assert!(!lines.contains("sha256="), "{lines}");
    }
}
