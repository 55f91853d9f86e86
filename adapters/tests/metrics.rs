// Over 600 lines: one table of outcomes run on each of the three frameworks, with
// the expected series and span fields written out case by case.
//! Receiver metrics and the per-request span, over real loopback HTTP, for every
//! framework: after one request of each outcome (ok, duplicate, bad signature, expired
//! timestamp, malformed signature, ...) the recorded series hold exactly the expected
//! labels and counts, and each request's `megabot_webhook.receive` span carries the
//! event name and delivery id only when the request was authenticated.
//!
//! Over 600 lines: one table of outcomes, checked series by series for each framework.
//!
//! The adapters record from the framework's threads, so the recorder (a
//! `DebuggingRecorder`) and the span-capturing subscriber are installed globally, once
//! for this binary, which holds no other tests; the tests run one at a time (a lock)
//! and each starts by draining what an earlier one left.
#![cfg(all(
    feature = "metrics",
    feature = "axum",
    feature = "actix-web",
    feature = "warp",
    feature = "tower"
))]

#[allow(unused_macros)] // the per-framework case table is not used here
mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use megabot_webhook_adapters::metrics::{
    BODY_SIZE_BYTES, HANDLER_DURATION_SECONDS, REQUESTS_TOTAL, VERIFY_DURATION_SECONDS,
};
use megabot_webhook_adapters::{Verifier, Webhook};
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::json;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use common::{Action, Client, Recorder, SECRET, Start, envelope, handler_body, now};

// ---- the global recorder and subscriber ----

/// The fields of one `megabot_webhook.receive` span, as recorded.
type SpanFields = BTreeMap<String, String>;

/// Every `megabot_webhook.receive` span since the last [`take_spans`], in creation order.
static SPANS: Mutex<Vec<SpanFields>> = Mutex::new(Vec::new());

/// Where a span's fields are in [`SPANS`] (kept in the span's extensions).
struct SpanIndex(usize);

/// Records each `megabot_webhook.receive` span's fields into [`SPANS`].
struct CaptureSpans;

struct Fields<'a>(&'a mut SpanFields);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for CaptureSpans
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "megabot_webhook.receive" {
            return;
        }
        let mut fields = SpanFields::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = SPANS.lock().unwrap();
        spans.push(fields);
        let index = spans.len() - 1;
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanIndex(index));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        let Some(SpanIndex(index)) = extensions.get::<SpanIndex>() else {
            return;
        };
        let mut spans = SPANS.lock().unwrap();
        if let Some(fields) = spans.get_mut(*index) {
            values.record(&mut Fields(fields));
        }
    }
}

/// Installs the recorder and the subscriber once; returns the recorder's snapshotter.
fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::set_global_recorder(recorder).expect("the only recorder of this binary");
        let subscriber = tracing_subscriber::registry().with(CaptureSpans);
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only subscriber of this binary");
        megabot_webhook_adapters::metrics::describe();
        snapshotter
    })
}

/// One test at a time: the recorder and the spans are shared.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A series' labels: (name, value) in order.
type Labels = Vec<(String, String)>;

/// What was recorded since the last call, by metric name: the counters' values and the
/// histograms' samples, by their labels.
#[derive(Debug, Default)]
struct Recorded {
    /// The unit [`megabot_webhook_adapters::metrics::describe`] gave each name.
    units: BTreeMap<String, Option<metrics::Unit>>,
    counters: BTreeMap<String, BTreeMap<Labels, u64>>,
    histograms: BTreeMap<String, BTreeMap<Labels, Vec<f64>>>,
}

impl Recorded {
    fn take() -> Recorded {
        let mut recorded = Recorded::default();
        for (key, unit, _, value) in snapshotter().snapshot().into_vec() {
            let name = key.key().name().to_owned();
            recorded.units.insert(name.clone(), unit);
            let labels: Labels = key
                .key()
                .labels()
                .map(|label| (label.key().to_owned(), label.value().to_owned()))
                .collect();
            match (key.kind(), value) {
                (MetricKind::Counter, DebugValue::Counter(0)) => {}
                (MetricKind::Counter, DebugValue::Counter(count)) => {
                    recorded
                        .counters
                        .entry(name)
                        .or_default()
                        .insert(labels, count);
                }
                (MetricKind::Histogram, DebugValue::Histogram(samples)) if samples.is_empty() => {}
                (MetricKind::Histogram, DebugValue::Histogram(samples)) => {
                    recorded
                        .histograms
                        .entry(name)
                        .or_default()
                        .insert(labels, samples.into_iter().map(|s| s.0).collect());
                }
                (kind, value) => panic!("unexpected {kind:?} {value:?}"),
            }
        }
        recorded
    }

    /// A counter's values by its labels' values (in label order).
    fn counter(&self, name: &str) -> BTreeMap<Vec<String>, u64> {
        self.counters
            .get(name)
            .into_iter()
            .flatten()
            .map(|(labels, count)| (values(labels), *count))
            .collect()
    }

    /// A histogram's samples by its labels' values.
    fn histogram(&self, name: &str) -> BTreeMap<Vec<String>, Vec<f64>> {
        self.histograms
            .get(name)
            .into_iter()
            .flatten()
            .map(|(labels, samples)| (values(labels), samples.clone()))
            .collect()
    }
}

fn values(labels: &[(String, String)]) -> Vec<String> {
    labels.iter().map(|(_, value)| value.clone()).collect()
}

fn take_spans() -> Vec<SpanFields> {
    std::mem::take(&mut *SPANS.lock().unwrap())
}

/// Builds `[(labels, count)]` into the map [`Recorded::counter`] returns.
fn expected<const N: usize>(rows: [(&[&str], u64); N]) -> BTreeMap<Vec<String>, u64> {
    rows.into_iter()
        .map(|(labels, count)| (labels.iter().map(|l| (*l).to_owned()).collect(), count))
        .collect()
}

// ---- one server per framework ----

mod axum_server {
    use super::*;
    use axum::Router;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;

    pub(crate) fn start(
        verifier: Verifier,
        recorder: Arc<Recorder>,
    ) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
        let handle = move |hook: Webhook| {
            let recorder = Arc::clone(&recorder);
            async move {
                let status = recorder.handle(hook).await;
                (
                    StatusCode::from_u16(status).unwrap(),
                    [(header::CONTENT_TYPE, "application/json")],
                    handler_body(status),
                )
                    .into_response()
            }
        };
        let app = Router::new()
            .route("/webhook", megabot_webhook_adapters::axum::webhook(handle))
            .with_state(verifier);
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            addr
        })
    }
}

mod actix_server {
    use super::*;
    use actix_web::http::StatusCode;
    use actix_web::{App, HttpResponse, HttpServer, web};

    async fn handle(recorder: web::Data<Recorder>, hook: Webhook) -> HttpResponse {
        let status = recorder.handle(hook).await;
        HttpResponse::build(StatusCode::from_u16(status).unwrap())
            .content_type("application/json")
            .body(handler_body(status))
    }

    /// `verifier`: `None` serves the route without one (`verifier_missing`).
    pub(crate) fn serve(
        verifier: Option<Verifier>,
        recorder: Arc<Recorder>,
    ) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
        let recorder = web::Data::from(recorder);
        Box::pin(async move {
            let (sender, receiver) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        let mut app = App::new().app_data(recorder.clone());
                        if let Some(verifier) = &verifier {
                            app = app.app_data(web::Data::new(verifier.clone()));
                        }
                        app.service(megabot_webhook_adapters::actix_web::webhook(
                            "/webhook", handle,
                        ))
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(0)
                    .bind(("127.0.0.1", 0))
                    .unwrap();
                    let addr = server.addrs()[0];
                    let running = server.run();
                    sender.send(addr).unwrap();
                    running.await.unwrap();
                });
            });
            receiver.await.unwrap()
        })
    }

    pub(crate) fn start(
        verifier: Verifier,
        recorder: Arc<Recorder>,
    ) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
        serve(Some(verifier), recorder)
    }
}

mod warp_server {
    use super::*;
    use warp::Filter;
    use warp::http::StatusCode;

    pub(crate) fn start(
        verifier: Verifier,
        recorder: Arc<Recorder>,
    ) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
        let webhook = megabot_webhook_adapters::warp::webhook(verifier, move |hook: Webhook| {
            let recorder = Arc::clone(&recorder);
            async move {
                let status = recorder.handle(hook).await;
                warp::reply::with_status(
                    warp::reply::with_header(
                        handler_body(status),
                        "content-type",
                        "application/json",
                    ),
                    StatusCode::from_u16(status).unwrap(),
                )
            }
        });
        let routes = warp::path("webhook").and(warp::path::end()).and(webhook);
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(warp::serve(routes).incoming(listener).run());
            addr
        })
    }
}

mod tower_server {
    use super::*;
    use http::{Request, Response, StatusCode, header};
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use megabot_webhook_adapters::tower::WebhookLayer;
    use tower::{ServiceBuilder, service_fn};

    pub(crate) fn start(
        verifier: Verifier,
        recorder: Arc<Recorder>,
    ) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
        let service = ServiceBuilder::new()
            .layer(WebhookLayer::new(verifier))
            .service(service_fn(move |request: Request<Webhook>| {
                let recorder = Arc::clone(&recorder);
                async move {
                    let status = recorder.handle(request.into_body()).await;
                    Ok::<_, std::convert::Infallible>(
                        Response::builder()
                            .status(StatusCode::from_u16(status).unwrap())
                            .header(header::CONTENT_TYPE, "application/json")
                            .body(handler_body(status))
                            .unwrap(),
                    )
                }
            }));
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let service = TowerToHyperService::new(service.clone());
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            addr
        })
    }
}

// ---- the scenario ----

/// One request of each outcome against a fresh server of `start`; then the recorded
/// series and spans are checked.
async fn each_outcome_is_counted(start: Start) {
    let _serial = LOCK.lock().await;
    snapshotter();
    // What an earlier test of this binary left.
    Recorded::take();
    take_spans();

    // Handler calls in order: a, b (fails), b again, p (panics), the Standard Webhooks
    // delivery, c (slow, to be seen in flight).
    let recorder = Recorder::script(&[
        Action::Succeed,
        Action::Fail,
        Action::Succeed,
        Action::Panic,
        Action::Succeed,
        Action::SleepThenSucceed(Duration::from_millis(800)),
    ]);
    let client = Client::new(start(common::verifier(), Arc::clone(&recorder)).await);
    let megabot = |body: &[u8]| common::megabot_headers(SECRET, body);

    let a = envelope("error_occurred", "evt_metrics_a", now(), json!({"m": "a"}));
    client.post(&megabot(&a), a.clone()).await.assert_handled();
    client
        .post(&megabot(&a), a.clone())
        .await
        .assert_duplicate();
    let tampered = String::from_utf8(a.clone())
        .unwrap()
        .replace("\"a\"", "\"b\"");
    client
        .post(&megabot(&a), tampered.clone())
        .await
        .assert_error(401, "signature_mismatch");
    let stale = envelope(
        "error_occurred",
        "evt_metrics_stale",
        now() - 306,
        json!({}),
    );
    client
        .post(&megabot(&stale), stale.clone())
        .await
        .assert_error(401, "timestamp_too_old");
    client
        .post(
            &[("x-megabot-signature", "sha256=not-hex".to_owned())],
            a.clone(),
        )
        .await
        .assert_error(401, "malformed_signature");
    client
        .post(
            &[("content-type", "application/json".to_owned())],
            a.clone(),
        )
        .await
        .assert_error(401, "missing_signature");
    let not_an_event = br#"{"hello":"world"}"#.to_vec();
    client
        .post(&megabot(&not_an_event), not_an_event.clone())
        .await
        .assert_error(400, "invalid_envelope");
    let b = envelope("error_occurred", "evt_metrics_b", now(), json!({}));
    assert_eq!(client.post(&megabot(&b), b.clone()).await.status, 500);
    client.post(&megabot(&b), b.clone()).await.assert_handled();
    let p = envelope("error_occurred", "evt_metrics_p", now(), json!({}));
    client
        .post(&megabot(&p), p.clone())
        .await
        .assert_error(500, "handler_panicked");
    let standard = envelope("error_occurred", "evt_metrics_std", now(), json!({}));
    client
        .post(
            &common::standard_headers("msg_metrics_std", now(), &standard),
            standard.clone(),
        )
        .await
        .assert_handled();
    let mut brotli = megabot(&a);
    brotli.push(("content-encoding", "br".to_owned()));
    client
        .post(&brotli, a.clone())
        .await
        .assert_error(415, "unsupported_encoding");
    // c in flight: a copy meanwhile is refused, the first one then succeeds.
    let c = envelope("error_occurred", "evt_metrics_c", now(), json!({}));
    let first = {
        let client = client.clone();
        let (headers, c) = (megabot(&c), c.clone());
        tokio::spawn(async move { client.post(&headers, c).await })
    };
    let waited = std::time::Instant::now();
    while recorder.calls() < 6 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "c never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    client
        .post(&megabot(&c), c.clone())
        .await
        .assert_error(409, "replay_in_flight");
    first.await.unwrap().assert_handled();
    assert_eq!(recorder.calls(), 6);

    let recorded = Recorded::take();
    use metrics::Unit;
    for (name, unit) in [
        (REQUESTS_TOTAL, Unit::Count),
        (VERIFY_DURATION_SECONDS, Unit::Seconds),
        (HANDLER_DURATION_SECONDS, Unit::Seconds),
        (BODY_SIZE_BYTES, Unit::Bytes),
    ] {
        assert_eq!(recorded.units.get(name), Some(&Some(unit)), "{name}");
    }
    assert_eq!(
        recorded.counter(REQUESTS_TOTAL),
        expected([
            (&["ok", "megabot"], 3),
            (&["ok", "standard-webhooks"], 1),
            (&["duplicate", "megabot"], 1),
            (&["signature_mismatch", "megabot"], 1),
            (&["timestamp_too_old", "megabot"], 1),
            (&["malformed_signature", "megabot"], 1),
            (&["missing_signature", "none"], 1),
            (&["invalid_envelope", "megabot"], 1),
            (&["handler_failed", "megabot"], 1),
            (&["handler_panicked", "megabot"], 1),
            (&["unsupported_encoding", "megabot"], 1),
            (&["replay_in_flight", "megabot"], 1),
        ]),
    );
    // The labels are named as documented.
    for labels in recorded.counters[REQUESTS_TOTAL].keys() {
        let names: Vec<&str> = labels.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["outcome", "scheme"]);
    }
    let counts = |samples: BTreeMap<Vec<String>, Vec<f64>>| -> BTreeMap<Vec<String>, u64> {
        samples
            .into_iter()
            .map(|(labels, samples)| (labels, samples.len() as u64))
            .collect()
    };
    let handler = recorded.histogram(HANDLER_DURATION_SECONDS);
    assert_eq!(
        counts(handler.clone()),
        expected([
            (&["ok"], 4),
            (&["handler_failed"], 1),
            (&["handler_panicked"], 1)
        ]),
    );
    // c's handler slept 800 ms: its time is in seconds.
    let slowest = handler[&vec!["ok".to_owned()]]
        .iter()
        .copied()
        .fold(0.0, f64::max);
    assert!((0.8..60.0).contains(&slowest), "{slowest}");
    // Every body read whole was verified: all but the unsupported encoding's.
    let verify = recorded.histogram(VERIFY_DURATION_SECONDS);
    assert_eq!(
        counts(verify.clone()),
        expected([
            (&["megabot"], 11),
            (&["standard-webhooks"], 1),
            (&["none"], 1)
        ]),
    );
    assert!(verify.values().flatten().all(|s| (0.0..10.0).contains(s)));
    let sizes = recorded.histogram(BODY_SIZE_BYTES);
    let sizes = &sizes[&Vec::<String>::new()];
    assert_eq!(sizes.len(), 13);
    assert!(sizes.contains(&(a.len() as f64)), "{sizes:?}");
    assert!(sizes.contains(&(standard.len() as f64)), "{sizes:?}");

    // One span per request; the event name and id only once authenticated.
    let spans = take_spans();
    assert_eq!(spans.len(), 14, "{spans:#?}");
    let by_outcome = |outcome: &str| -> Vec<&SpanFields> {
        spans
            .iter()
            .filter(|span| span.get("outcome").map(String::as_str) == Some(outcome))
            .collect()
    };
    for refused in [
        "signature_mismatch",
        "timestamp_too_old",
        "malformed_signature",
        "missing_signature",
        "invalid_envelope",
        "unsupported_encoding",
    ] {
        let spans = by_outcome(refused);
        assert_eq!(spans.len(), 1, "{refused}: {spans:?}");
        for field in ["event", "delivery_id", "scheme"] {
            assert!(!spans[0].contains_key(field), "{refused}: {spans:?}");
        }
    }
    let ok = by_outcome("ok");
    assert_eq!(ok.len(), 4, "{ok:?}");
    for span in &ok {
        assert_eq!(span["event"], "error_occurred", "{span:?}");
    }
    let ids: Vec<&str> = ok.iter().map(|span| span["delivery_id"].as_str()).collect();
    for id in [
        "evt_metrics_a",
        "evt_metrics_b",
        "msg_metrics_std",
        "evt_metrics_c",
    ] {
        assert!(ids.contains(&id), "{id}: {ids:?}");
    }
    let schemes: Vec<&str> = ok.iter().map(|span| span["scheme"].as_str()).collect();
    assert!(schemes.contains(&"standard-webhooks"), "{schemes:?}");
    // Authenticated, then refused or failed: the id is known.
    for (outcome, id) in [
        ("duplicate", "evt_metrics_a"),
        ("replay_in_flight", "evt_metrics_c"),
        ("handler_failed", "evt_metrics_b"),
        ("handler_panicked", "evt_metrics_p"),
    ] {
        let spans = by_outcome(outcome);
        assert_eq!(spans.len(), 1, "{outcome}: {spans:?}");
        assert_eq!(spans[0]["delivery_id"], id, "{outcome}");
        assert_eq!(spans[0]["event"], "error_occurred", "{outcome}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_counts_each_outcome() {
    each_outcome_is_counted(axum_server::start).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_web_counts_each_outcome() {
    each_outcome_is_counted(actix_server::start).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_counts_each_outcome() {
    each_outcome_is_counted(warp_server::start).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_counts_each_outcome() {
    each_outcome_is_counted(tower_server::start).await;
}

/// actix-web's route without a verifier is counted too (`verifier_missing`, scheme
/// `none`), in a span of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_web_counts_a_missing_verifier() {
    let _serial = LOCK.lock().await;
    snapshotter();
    Recorded::take();
    take_spans();
    let recorder = Recorder::new();
    let client = Client::new(actix_server::serve(None, Arc::clone(&recorder)).await);
    let body = envelope("error_occurred", "evt_metrics_nv", now(), json!({}));
    client
        .post(&common::megabot_headers(SECRET, &body), body)
        .await
        .assert_error(500, "verifier_missing");
    assert_eq!(recorder.calls(), 0);
    let recorded = Recorded::take();
    assert_eq!(
        recorded.counter(REQUESTS_TOTAL),
        expected([(&["verifier_missing", "none"], 1)]),
    );
    assert!(recorded.histograms.is_empty(), "{recorded:?}");
    let spans = take_spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0]["outcome"], "verifier_missing");
    assert!(!spans[0].contains_key("delivery_id"));
}
