//! The one funnel every framework goes through: read the body with a cap, verify, claim,
//! run the handler, settle the claim by its answer.
//!
//! The framework modules only translate: their request into headers and a body stream
//! for [`handle`], and the handler's answer (or the [`Error`]) into their response.
//! Because every request passes here, this is also where each one gets its
//! `megabot_webhook.receive` span and is counted and timed for the receiver metrics
//! ([`crate::observe`]): the same for every framework.

use std::fmt::Display;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use bytes::Buf;
use futures_core::Stream;
use futures_util::future::{Either, select};
use megabot_webhook_verify::{Claim, Verified, Verifier};
use tracing::Span;

use crate::decode::Encoding;
use crate::detach::DetachOnDrop;
use crate::headers::{HeaderLines, RequestHeaders, Scanned};
use crate::idempotency::{Settlement, catch_panic};
use crate::limits::Limits;
use crate::observe::{self, Stopwatch};
use crate::read::{content_length, read_body};
use crate::{Error, Webhook, trace};

/// Receives a delivery and runs `handler` with it, exactly once per delivery id (design
/// 4.4, 9.4): the [`Webhook`] is verified and claimed first; then the handler runs and
/// its answer settles the claim by `status(&answer)` (2xx completes it, anything else
/// releases it). A panicking handler releases the claim and yields
/// [`Error::HandlerPanicked`].
///
/// Once claimed, the handler is started and runs to completion: dropping the returned
/// future (the client gave up, the server dropped the request) does not cancel it but
/// moves it into a task of its own ([`DetachOnDrop`]), so
/// the claim stays in flight until the handler's own outcome settles it and the sender's
/// retry meanwhile gets `409`, then `200 duplicate`.
///
/// Every refusal is logged and counted here; the caller only turns the [`Error`] into
/// its response. Each request gets a `megabot_webhook.receive` span: its refusal events
/// and the verifier's are emitted in it, and the handler runs in it. (The span is
/// entered where that happens rather than around the whole request: wrapping the
/// request's future would move it once more, which costs more than the span itself.)
#[cfg_attr(
    not(any(feature = "axum", feature = "warp", feature = "tower")),
    allow(dead_code)
)]
pub(crate) async fn handle<H, S, B, E, F, Fut, St>(
    verifier: &Verifier,
    limits: &Limits,
    headers: H,
    body: S,
    handler: F,
    status: St,
) -> Result<Fut::Output, Error>
where
    H: RequestHeaders,
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: Display,
    F: FnOnce(Webhook) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    St: FnOnce(&Fut::Output) -> u16 + Send + 'static,
{
    let span = trace::receive_span();
    let (webhook, claim) = receive(verifier, limits, headers, body, &span).await?;
    DetachOnDrop::new(run_to_completion(
        verifier.clone(),
        claim,
        webhook,
        handler,
        status,
        span,
    ))
    .await
}

/// [`handle`] for frameworks whose handler futures are not `Send` (actix-web): a dropped
/// request's handler finishes in a task of its own on the current thread's `LocalSet`
/// ([`tokio::task::spawn_local`]; actix-web runs every worker in one).
#[cfg_attr(not(feature = "actix-web"), allow(dead_code))]
pub(crate) async fn handle_local<H, S, B, E, F, Fut, St>(
    verifier: &Verifier,
    limits: &Limits,
    headers: H,
    body: S,
    handler: F,
    status: St,
) -> Result<Fut::Output, Error>
where
    H: RequestHeaders,
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: Display,
    F: FnOnce(Webhook) -> Fut + 'static,
    Fut: Future + 'static,
    Fut::Output: 'static,
    St: FnOnce(&Fut::Output) -> u16 + 'static,
{
    let span = trace::receive_span();
    let (webhook, claim) = receive(verifier, limits, headers, body, &span).await?;
    DetachOnDrop::new_local(run_to_completion(
        verifier.clone(),
        claim,
        webhook,
        handler,
        status,
        span,
    ))
    .await
}

/// Counts (and logs) a request refused outside the funnel: actix-web's route without a
/// verifier.
#[cfg_attr(not(feature = "actix-web"), allow(dead_code))]
pub(crate) fn refused_early(error: &Error) {
    let span = trace::receive_span();
    let outcome = observe::refusal_outcome(error);
    trace::outcome(&span, outcome);
    trace::in_span(&span, || trace::rejected(error, None));
    observe::request(outcome, observe::NO_SCHEME);
}

/// The handler's run: runs the handler, catching a panic, and settles the claim by its
/// outcome. The request is counted here, once the handler answered, and the handler's
/// time is recorded.
async fn run_to_completion<F, Fut, St>(
    verifier: Verifier,
    claim: Claim,
    webhook: Webhook,
    handler: F,
    status: St,
    span: Span,
) -> Result<Fut::Output, Error>
where
    F: FnOnce(Webhook) -> Fut,
    Fut: Future,
    St: FnOnce(&Fut::Output) -> u16,
{
    let scheme = webhook.scheme();
    let renewing = renew_lease(verifier.clone(), claim.clone());
    let settlement = Settlement::new(&verifier, claim);
    let started = Stopwatch::start();
    // Calling the handler inside the caught future: a panic before its first await is
    // caught as well. The lease is renewed while the handler runs.
    let mut running = pin!(catch_panic(async move { handler(webhook).await }));
    // The handler is polled in the request's span, without wrapping (and so moving) its
    // future.
    let running = std::future::poll_fn(|cx| trace::in_span(&span, || running.as_mut().poll(cx)));
    let outcome = match select(pin!(running), pin!(renewing)).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right((never, _)) => match never {},
    };
    let elapsed = started.elapsed();
    match outcome {
        Ok(answer) => {
            let status = status(&answer);
            let label = observe::handler_outcome(status);
            observe::handled(elapsed, label);
            trace::outcome(&span, label);
            let _ = settlement.finish(status).await;
            observe::request(label, scheme.as_str());
            Ok(answer)
        }
        Err(_panicked) => {
            let error = Error::HandlerPanicked;
            observe::handled(elapsed, error.code());
            trace::outcome(&span, error.code());
            let delivery_id = settlement.finish(500).await;
            trace::in_span(&span, || trace::rejected(&error, delivery_id.as_deref()));
            observe::request(error.code(), scheme.as_str());
            Err(error)
        }
    }
}

/// Renews the claim's in-flight lease every third of the guard's
/// [`in_flight_ttl`](Verifier::in_flight_ttl) (design 9.4), for as long as it is polled:
/// the handler's task drops it when the handler is done. A claim that no longer owns
/// its id, or a guard without leases, stops renewing (the future then stays pending).
async fn renew_lease(verifier: Verifier, claim: Claim) -> std::convert::Infallible {
    if let Some(ttl) = verifier.in_flight_ttl() {
        let period = (ttl / 3).max(Duration::from_millis(1));
        loop {
            tokio::time::sleep(period).await;
            match verifier.renew(&claim).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        delivery_id = claim.id.as_str(),
                        "in-flight lease lost while the handler runs; no longer renewed"
                    );
                    break;
                }
                // A store hiccup: try again at the next period, the lease is still
                // good for two more.
                Err(error) => trace::settle_failed(&claim.id, "renew", &error.into()),
            }
        }
    }
    std::future::pending().await
}

/// A refusal from [`receive_inner`], with what the request proved before it.
struct Refused {
    error: Error,
    /// The delivery id and scheme, once the request was authenticated.
    authenticated: Option<(String, &'static str)>,
}

impl From<Error> for Refused {
    fn from(error: Error) -> Refused {
        Refused {
            error,
            authenticated: None,
        }
    }
}

/// Turns a request into a claimed [`Webhook`] in design 4.3's order, logging and counting
/// every refusal; the caller settles the claim.
async fn receive<H, S, B, E>(
    verifier: &Verifier,
    limits: &Limits,
    headers: H,
    body: S,
    span: &Span,
) -> Result<(Webhook, Claim), Error>
where
    H: RequestHeaders,
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: Display,
{
    let scanned = Scanned::new(headers.lines());
    let received = receive_inner(verifier, limits, &scanned, body, span).await;
    let (verified, body, claim) = received.map_err(
        |Refused {
             error,
             authenticated,
         }| {
            let outcome = observe::refusal_outcome(&error);
            trace::outcome(span, outcome);
            let (delivery_id, scheme) = match &authenticated {
                Some((id, scheme)) => (Some(id.as_str()), *scheme),
                None => (None, observe::scheme_of(verifier, &scanned)),
            };
            trace::in_span(span, || trace::rejected(&error, delivery_id));
            observe::request(outcome, scheme);
            error
        },
    )?;
    drop(scanned);
    Ok((Webhook::new(verified, body, headers.into_received()), claim))
}

async fn receive_inner<'a, H, S, B, E>(
    verifier: &Verifier,
    limits: &Limits,
    headers: &Scanned<'a, H>,
    body: S,
    span: &Span,
) -> Result<(Box<Verified>, Vec<u8>, Claim), Refused>
where
    H: HeaderLines<'a>,
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: Display,
{
    if let Some(name) = headers.repeated_signature_header() {
        return Err(Error::RepeatedSignatureHeader { name }.into());
    }
    let encoding = Encoding::from_header(headers.content_encoding())?;
    let length = content_length(headers.content_length());
    let (body, budget_share) =
        read_body(body, length, encoding, verifier.max_body_size(), limits).await?;
    observe::body_size(body.len());
    let verifying = Stopwatch::start();
    // In the span: the verifier may warn about the request.
    // One clock read for the freshness check and the claim.
    let now = chrono::Utc::now();
    let verified = trace::in_span(span, || verifier.verify_at(headers, &body, now));
    let elapsed = verifying.elapsed();
    let verified = match verified {
        Ok(verified) => {
            observe::verified(elapsed, verified.delivery.scheme.as_str());
            Box::new(verified)
        }
        Err(error) => {
            observe::verified(elapsed, observe::scheme_of(verifier, headers));
            return Err(Error::from(error).into());
        }
    };
    // Authenticated: the body no longer counts against the pre-authentication budget,
    // and what it proved may be recorded.
    drop(budget_share);
    trace::authenticated(span, &verified);
    let claim = verifier
        .claim_at(&verified.delivery, now)
        .await
        .map_err(|error| Refused {
            error: error.into(),
            authenticated: Some((
                verified.delivery.delivery_id.clone(),
                verified.delivery.scheme.as_str(),
            )),
        })?;
    Ok((verified, body, claim))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::stream;
    use megabot_webhook_verify::{Secret, sign};

    fn limits() -> &'static Limits {
        static LIMITS: std::sync::OnceLock<Limits> = std::sync::OnceLock::new();
        LIMITS.get_or_init(Limits::global)
    }

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

    /// [`super::receive`] outside any span.
    async fn receive<S>(
        verifier: &Verifier,
        limits: &Limits,
        headers: &[(String, String)],
        body: S,
    ) -> Result<(Webhook, Claim), Error>
    where
        S: Stream<Item = Result<Bytes, String>>,
    {
        super::receive(verifier, limits, headers.to_vec(), body, &Span::none()).await
    }

    #[tokio::test]
    async fn verifies_and_claims() {
        let verifier = verifier();
        let (headers, body) = delivery("evt_r1");
        let (webhook, claim) = receive(&verifier, limits(), &headers, once(body.clone()))
            .await
            .unwrap();
        assert_eq!(webhook.delivery_id(), "evt_r1");
        assert_eq!(webhook.body(), body);
        assert_eq!(webhook.event().name(), "brand_new_event");
        // Claimed: a copy is in flight until the claim is settled.
        let error = receive(&verifier, limits(), &headers, once(body))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "replay_in_flight");
        Settlement::new(&verifier, claim).finish(200).await;
    }

    #[tokio::test]
    async fn bad_signature_is_refused_before_claiming() {
        let verifier = verifier();
        let (headers, mut body) = delivery("evt_r3");
        let original = body.clone();
        body[5] ^= 1;
        let error = receive(&verifier, limits(), &headers, once(body))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "signature_mismatch");
        // Nothing was claimed: the authentic copy goes through.
        assert!(
            receive(&verifier, limits(), &headers, once(original))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn handle_settles_by_the_answer() {
        let verifier = verifier();
        let (headers, body) = delivery("evt_h1");
        let status = |answer: &u16| *answer;
        // A failure releases: the retry runs.
        let answer = handle(
            &verifier,
            limits(),
            headers.clone(),
            once(body.clone()),
            |_| async { 500 },
            status,
        );
        assert_eq!(answer.await.unwrap(), 500);
        let answer = handle(
            &verifier,
            limits(),
            headers.clone(),
            once(body.clone()),
            |_| async { 204 },
            status,
        );
        assert_eq!(answer.await.unwrap(), 204);
        // A success completes: the next copy is a duplicate and the handler does not run.
        let error = handle(
            &verifier,
            limits(),
            headers.clone(),
            once(body),
            |_| async { unreachable!("a duplicate must not run") },
            status,
        )
        .await
        .unwrap_err();
        assert!(error.is_duplicate());
    }

    #[tokio::test]
    async fn handle_releases_after_a_panic() {
        let verifier = verifier();
        let (headers, body) = delivery("evt_h2");
        let status = |answer: &u16| *answer;
        let error = handle(
            &verifier,
            limits(),
            headers.clone(),
            once(body.clone()),
            |_| async { panic!("on purpose") },
            status,
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), "handler_panicked");
        let answer = handle(
            &verifier,
            limits(),
            headers.clone(),
            once(body),
            |_| async { 200 },
            status,
        );
        assert_eq!(answer.await.unwrap(), 200);
    }

    /// design 9.4: a handler running longer than the in-flight lease keeps its claim,
    /// because its task renews the lease while it runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_handler_keeps_its_leased_claim() {
        let guard = megabot_webhook_verify::MemoryReplayGuard::new(100)
            .with_in_flight_ttl(Duration::from_secs(1));
        let verifier = Verifier::builder()
            .megabot_secret(Secret::new("test-secret").unwrap())
            .replay_guard(std::sync::Arc::new(guard))
            .build()
            .unwrap();
        let (headers, body) = delivery("evt_long");
        let running = {
            let verifier = verifier.clone();
            let headers = headers.clone();
            let body = body.clone();
            tokio::spawn(async move {
                handle(
                    &verifier,
                    limits(),
                    headers.clone(),
                    once(body),
                    |_| async {
                        tokio::time::sleep(Duration::from_millis(3500)).await;
                        200
                    },
                    |answer: &u16| *answer,
                )
                .await
            })
        };
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let error = receive(&verifier, limits(), &headers, once(body.clone()))
                .await
                .map(|_| ())
                .expect_err("the lease lapsed while the handler ran");
            assert_eq!(error.code(), "replay_in_flight");
        }
        assert_eq!(running.await.unwrap().unwrap(), 200);
        let error = receive(&verifier, limits(), &headers, once(body))
            .await
            .unwrap_err();
        assert!(error.is_duplicate());
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
            .enable_time()
            .build()
            .unwrap();
        tracing::subscriber::with_default(std::sync::Arc::clone(&capture), || {
            runtime.block_on(async {
                let verifier = verifier();
                let (headers, body) = delivery("evt_logged");
                let mut tampered = body.clone();
                tampered[3] ^= 1;
                receive(&verifier, limits(), &headers, once(tampered))
                    .await
                    .unwrap_err();
                let (_, claim) = receive(&verifier, limits(), &headers, once(body.clone()))
                    .await
                    .unwrap();
                Settlement::new(&verifier, claim).finish(200).await;
                receive(&verifier, limits(), &headers, once(body))
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
