//! Runs one workload a fixed number of times, for instruction counts under
//! `valgrind --tool=callgrind` (this machine has no hardware counters for `perf stat`):
//!
//! ```text
//! cargo build --release -p megabot-webhook-benches --example workload
//! valgrind --tool=callgrind target/release/examples/workload typed:chat_message_received 10000
//! ```
//!
//! Workloads: `typed:<event>`, `value:<event>` (the built-in examples), `hmac:<bytes>`,
//! `signature:<bytes>`, `authenticate:<bytes>`, `verify:<bytes>` (MegaBot scheme, full `verify_at`),
//! `authenticate-standard:<bytes>` (Standard Webhooks `v1`),
//! and for the cost of the sender's metrics (docs/design.md section 8), with no recorder
//! (`none`) or a `metrics-exporter-prometheus` recorder (`prometheus`): `send:<recorder>`
//! (`Sender::send` of one event to an in-process loopback receiver answering 200, one at a
//! time) and `facade:<recorder>` (the facade calls one delivery of one attempt makes: an
//! attempt, its latency, the outcome, under a shared `endpoint` label).
//! For the adapters' cost per request, with and without receiver metrics:
//! `receive:<bytes>` and `receive-prometheus:<bytes>` (the adapters' axum `webhook` route called in
//! process with signed deliveries, each a new id; the second with `metrics-exporter-prometheus`'s
//! recorder installed), and `receive-bare:<bytes>` (the same requests to a bare `Bytes` route). For `receive*` the requests are built first; count the route alone with
//! `--toggle-collect='*serve_requests*'`:
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*serve_requests*' \
//!     target/release/examples/workload receive-prometheus:1024 10000
//! ```

use std::hint::black_box;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::DateTime;
use hmac::{Hmac, KeyInit, Mac};
use megabot_webhook_adapters::Webhook;
use megabot_webhook_types::{Event, EventName, examples};
use megabot_webhook_verify::sign::megabot_signature;
use megabot_webhook_verify::signature::verify_megabot_signature;
use megabot_webhook_verify::{MemoryReplayGuard, Secret, Verifier};
use sha2::Sha256;
use tower_service::Service;

const SECRET: &str = "your_webhook_secret";
const TIMESTAMP: i64 = 1_640_995_200;

fn event_body(len: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"event":"error_occurred","id":"evt_123462","timestamp":{TIMESTAMP},"data":{{"error_id":"err_789","type":"LLMProviderError","message":""#
    );
    let tail = r#"","severity":"error"}}"#;
    let mut body = head.into_bytes();
    body.extend(std::iter::repeat_n(b'x', len - body.len() - tail.len()));
    body.extend_from_slice(tail.as_bytes());
    body
}

/// Installs the recorder named `arg` (`none` installs nothing); the handle
/// renders once at the end, so that nothing recorded is optimised away.
fn install_recorder(arg: &str) -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    match arg {
        "none" => None,
        "prometheus" => Some(
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".to_owned()),
                    &[
                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    ],
                )
                .expect("buckets")
                .install_recorder()
                .expect("recorder"),
        ),
        other => panic!("unknown recorder {other} (none, prometheus)"),
    }
}

/// `Sender::send` of `iterations` events, one at a time, to a loopback
/// receiver in the same (current-thread) runtime.
fn send(iterations: u64) {
    use megabot_webhook_sender::Sender;
    use megabot_webhook_sender::config::{EndpointConfig, SecretKeys, WebhooksConfig};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let app = axum::Router::new().fallback(|| async { "ok" });
            let _ = axum::serve(listener, app).await;
        });
        let mut config = WebhooksConfig::default();
        config.secret_key = Some(SecretKeys::one(SECRET));
        config.endpoints = vec![EndpointConfig::new(url)];
        let (sender, _) = Sender::builder(config).build().expect("sender");
        for i in 0..iterations {
            let json = format!(
                r#"{{"event":"error_occurred","id":"evt_{i}","timestamp":{TIMESTAMP},"data":{{"severity":"error","message":"boom"}}}}"#
            );
            let event = Event::from_slice(json.as_bytes()).expect("event");
            let report = sender.send(&event).await.expect("sent");
            assert!(report.all_delivered());
        }
    });
}

/// The facade calls of one delivery of one attempt, as the sender makes them.
fn facade(iterations: u64) {
    use megabot_webhook_sender::metric_names;
    let endpoint: std::sync::Arc<str> = std::sync::Arc::from("cfg_0_0123456789ab");
    for _ in 0..iterations {
        let label = metrics::SharedString::from_shared(endpoint.clone());
        metrics::counter!(metric_names::ATTEMPTS, "endpoint" => label.clone(), "outcome" => "ok")
            .increment(1);
        metrics::histogram!(metric_names::ATTEMPT_DURATION, "endpoint" => label.clone())
            .record(black_box(0.003));
        metrics::counter!(
            metric_names::DELIVERIES,
            "endpoint" => label,
            "outcome" => "delivered",
            "reason" => "none"
        )
        .increment(1);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().expect("workload");
    let iterations: u64 = args.next().map_or(10_000, |n| n.parse().expect("count"));
    let (kind, arg) = workload.split_once(':').expect("kind:arg");
    if kind == "send" || kind == "facade" {
        let handle = install_recorder(arg);
        if kind == "send" {
            send(iterations);
        } else {
            facade(iterations);
        }
        if let Some(handle) = handle {
            black_box(handle.render());
        }
        return;
    }
    let secret = Secret::new(SECRET).expect("secret");
    let now = DateTime::from_timestamp(TIMESTAMP, 0).expect("time");
    match kind {
        "typed" | "value" => {
            let name = EventName::from_name(arg).expect("event name");
            let body = examples::example(name).to_guide_json();
            for _ in 0..iterations {
                if kind == "typed" {
                    black_box(Event::from_slice(black_box(&body)).expect("parses"));
                } else {
                    black_box(
                        serde_json::from_slice::<serde_json::Value>(black_box(&body))
                            .expect("parses"),
                    );
                }
            }
        }
        "authenticate-standard" => {
            use megabot_webhook_verify::StandardSecret;
            let body = event_body(arg.parse().expect("size"));
            let secret = StandardSecret::from_bytes(SECRET.as_bytes()).expect("secret");
            let signature = megabot_webhook_verify::sign::standard_signature(
                &secret, "msg_1", TIMESTAMP, &body,
            );
            let verifier = Verifier::builder()
                .standard_secret(secret)
                .build()
                .expect("verifier");
            let timestamp = TIMESTAMP.to_string();
            let headers = [
                ("webhook-id", "msg_1"),
                ("webhook-timestamp", timestamp.as_str()),
                ("webhook-signature", signature.as_str()),
            ];
            for _ in 0..iterations {
                black_box(
                    verifier
                        .authenticate_at(&headers, black_box(&body), now)
                        .expect("valid"),
                );
            }
        }
        "hmac" | "signature" | "authenticate" | "verify" => {
            let body = event_body(arg.parse().expect("size"));
            let header = megabot_signature(&secret, &body);
            let secrets = [secret.clone()];
            let verifier = Verifier::builder()
                .megabot_secret(secret)
                .build()
                .expect("verifier");
            let headers = [("X-MegaBot-Signature", header.as_str())];
            for _ in 0..iterations {
                match kind {
                    "hmac" => {
                        let mut mac =
                            Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
                        mac.update(black_box(&body));
                        black_box(mac.finalize());
                    }
                    "authenticate" => {
                        black_box(
                            verifier
                                .authenticate_at(&headers, black_box(&body), now)
                                .expect("valid"),
                        );
                    }
                    "signature" => {
                        black_box(
                            verify_megabot_signature(&secrets, &header, black_box(&body))
                                .expect("valid"),
                        );
                    }
                    _ => {
                        black_box(
                            verifier
                                .verify_at(&headers, black_box(&body), now)
                                .expect("valid"),
                        );
                    }
                }
            }
        }
        "receive" | "receive-prometheus" | "receive-bare" => {
            let prometheus = (kind == "receive-prometheus").then(|| {
                metrics_exporter_prometheus::PrometheusBuilder::new()
                    .install_recorder()
                    .expect("recorder")
            });
            let size = arg.parse().expect("size");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let verifier = Verifier::builder()
                .megabot_secret(secret.clone())
                .replay_guard(Arc::new(MemoryReplayGuard::new(10_000_000)))
                .build()
                .expect("verifier");
            let route = if kind == "receive-bare" {
                axum::routing::post(|body: axum::body::Bytes| async move {
                    black_box(body.len());
                    StatusCode::NO_CONTENT
                })
            } else {
                megabot_webhook_adapters::axum::webhook(|hook: Webhook| async move {
                    black_box(hook.event().name().len());
                    StatusCode::NO_CONTENT
                })
            };
            let router = Router::new().route("/webhook", route).with_state(verifier);
            let timestamp = chrono::Utc::now().timestamp();
            let requests: Vec<Request<Body>> = (0..iterations)
                .map(|sequence| {
                    let body = receive_body(sequence, timestamp, size);
                    Request::post("/webhook")
                        .header("content-type", "application/json")
                        .header("x-megabot-signature", megabot_signature(&secret, &body))
                        .body(Body::from(body))
                        .expect("request")
                })
                .collect();
            serve_requests(&runtime, &router, requests);
            if let Some(prometheus) = prometheus {
                let text = prometheus.render();
                let ok = format!(
                    "megabot_webhook_receiver_requests_total{{outcome=\"ok\",scheme=\"megabot\"}} {iterations}"
                );
                assert!(text.lines().any(|line| line == ok), "{text}");
            }
        }
        other => panic!("unknown workload {other}"),
    }
}

/// A signed-size envelope with a unique id.
fn receive_body(sequence: u64, timestamp: i64, len: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"event":"error_occurred","id":"evt_{sequence:012}","timestamp":{timestamp},"data":{{"error_id":"err_789","type":"LLMProviderError","message":""#
    );
    let tail = r#"","severity":"error"}}"#;
    let mut body = head.into_bytes();
    body.extend(std::iter::repeat_n(b'x', len - body.len() - tail.len()));
    body.extend_from_slice(tail.as_bytes());
    body
}

/// The measured part of `receive*`: every request through the route, answered 204.
#[inline(never)]
fn serve_requests(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    requests: Vec<Request<Body>>,
) {
    for request in requests {
        let mut router = router.clone();
        let response = runtime.block_on(router.call(request)).expect("infallible");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
}
