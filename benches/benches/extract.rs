#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Server-side cost per request without the network: each framework's router called in
//! process with signed 1 KiB deliveries (a new id each time), its bare `Bytes` route
//! against the adapters' `webhook` route (read, verify, claim, typed extract, settle),
//! and, on the same deliveries, what the `webhook` route does besides the adapters' own
//! work: `core_1k/verify` (HMAC and the typed event) and `core_1k/claim` (a new id in the
//! memory guard). The adapters' own work per request is `webhook - bare - verify - claim`
//! (`benches/summary.py` prints it per framework). This splits the loopback HTTP ratio
//! (`http.rs`) into its parts.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use megabot_webhook_adapters::Webhook;
use megabot_webhook_verify::sign::megabot_signature;
use megabot_webhook_verify::{MemoryReplayGuard, Secret, Verifier};
use tower_service::Service;

const SECRET: &str = "your_webhook_secret";

fn body(sequence: u64, timestamp: i64) -> Vec<u8> {
    let head = format!(
        r#"{{"event":"error_occurred","id":"evt_{sequence:012}","timestamp":{timestamp},"data":{{"error_id":"err_789","type":"LLMProviderError","message":""#
    );
    let tail = r#"","severity":"error"}}"#;
    let mut body = head.into_bytes();
    body.extend(std::iter::repeat_n(b'x', 1024 - body.len() - tail.len()));
    body.extend_from_slice(tail.as_bytes());
    body
}

fn verifier() -> Verifier {
    Verifier::builder()
        .megabot_secret(Secret::new(SECRET).expect("secret"))
        .replay_guard(Arc::new(MemoryReplayGuard::new(10_000_000)))
        .build()
        .expect("verifier")
}

/// Signed 1 KiB deliveries, each with a new id: (body, `X-MegaBot-Signature`).
struct Deliveries {
    secret: Secret,
    sequence: u64,
}

impl Deliveries {
    fn new() -> Deliveries {
        Deliveries {
            secret: Secret::new(SECRET).expect("secret"),
            sequence: 0,
        }
    }

    fn next(&mut self) -> (Vec<u8>, String) {
        self.sequence += 1;
        let body = body(self.sequence, chrono::Utc::now().timestamp());
        let signature = megabot_signature(&self.secret, &body);
        (body, signature)
    }
}

fn axum(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let router = Router::new()
        .route(
            "/bare",
            post(|body: Bytes| async move {
                black_box(body.len());
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/webhook",
            megabot_webhook_adapters::axum::webhook(|hook: Webhook| async move {
                black_box(hook.event().name().len());
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(verifier());
    let mut deliveries = Deliveries::new();
    let mut request = |path: &str| {
        let (body, signature) = deliveries.next();
        Request::post(path)
            .header("content-type", "application/json")
            .header("x-megabot-signature", signature)
            .body(Body::from(body))
            .expect("request")
    };
    let mut group = c.benchmark_group("axum_in_process_1k");
    for path in ["/bare", "/webhook"] {
        group.bench_function(&path[1..], |b| {
            b.iter_batched(
                || request(path),
                |request| {
                    let mut router = router.clone();
                    let response = runtime.block_on(router.call(request)).expect("infallible");
                    assert_eq!(response.status(), StatusCode::NO_CONTENT);
                    response
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn actix(c: &mut Criterion) {
    use actix_web::{App, HttpResponse, test, web};
    let system = actix_web::rt::System::new();
    let app = system.block_on(test::init_service(
        App::new()
            .app_data(web::Data::new(verifier()))
            .route(
                "/bare",
                web::post().to(|body: web::Bytes| async move {
                    black_box(body.len());
                    HttpResponse::NoContent().finish()
                }),
            )
            .service(megabot_webhook_adapters::actix_web::webhook(
                "/webhook",
                |hook: Webhook| async move {
                    black_box(hook.event().name().len());
                    HttpResponse::NoContent().finish()
                },
            )),
    ));
    let mut deliveries = Deliveries::new();
    let mut request = |path: &str| {
        let (body, signature) = deliveries.next();
        test::TestRequest::post()
            .uri(path)
            .insert_header(("content-type", "application/json"))
            .insert_header(("x-megabot-signature", signature))
            .set_payload(body)
            .to_request()
    };
    let mut group = c.benchmark_group("actix_in_process_1k");
    for path in ["/bare", "/webhook"] {
        group.bench_function(&path[1..], |b| {
            b.iter_batched(
                || request(path),
                |request| {
                    let response = system.block_on(test::call_service(&app, request));
                    assert_eq!(response.status().as_u16(), 204);
                    response
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn warp(c: &mut Criterion) {
    use warp::Filter;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bare = warp::path("bare")
        .and(warp::path::end())
        .and(warp::post())
        .and(warp::body::bytes())
        .map(|body: Bytes| {
            black_box(body.len());
            warp::http::StatusCode::NO_CONTENT
        });
    let hook =
        warp::path("webhook")
            .and(warp::path::end())
            .and(megabot_webhook_adapters::warp::webhook(
                verifier(),
                |hook: Webhook| async move {
                    black_box(hook.event().name().len());
                    warp::http::StatusCode::NO_CONTENT
                },
            ));
    let routes = bare.or(hook);
    let mut deliveries = Deliveries::new();
    let mut request = |path: &str| {
        let (body, signature) = deliveries.next();
        warp::test::request()
            .method("POST")
            .path(path)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .header("x-megabot-signature", signature)
            .body(body)
    };
    let mut group = c.benchmark_group("warp_in_process_1k");
    for path in ["/bare", "/webhook"] {
        group.bench_function(&path[1..], |b| {
            b.iter_batched(
                || request(path),
                |request| {
                    let response = runtime.block_on(request.reply(&routes));
                    assert_eq!(response.status().as_u16(), 204);
                    response
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

/// What the `webhook` routes do besides the adapters' own work, on the same deliveries:
/// `verify` (HMAC and the typed event) and `claim` (a new id in the memory guard).
fn core(c: &mut Criterion) {
    let verifier = verifier();
    let mut deliveries = Deliveries::new();
    let mut group = c.benchmark_group("core_1k");
    group.bench_function("verify", |b| {
        b.iter_batched(
            || deliveries.next(),
            |(body, signature)| {
                let headers = [("x-megabot-signature", signature.as_str())];
                verifier.verify(&headers, &body).expect("valid")
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("claim", |b| {
        b.iter_batched(
            || {
                let (body, signature) = deliveries.next();
                let headers = [("x-megabot-signature", signature.as_str())];
                verifier.verify(&headers, &body).expect("valid")
            },
            |verified| {
                // The memory guard answers at once: polled once, without a runtime's
                // own cost (as the `replay` bench measures a claim).
                let claim = std::pin::pin!(verifier.claim(&verified));
                match claim.poll(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(claimed) => claimed.expect("claimed"),
                    Poll::Pending => unreachable!("the memory guard answers at once"),
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    targets = axum, actix, warp, core
}
criterion_main!(benches);
