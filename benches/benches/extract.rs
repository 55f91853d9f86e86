#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Server-side cost per request without the network: an axum router called in process
//! with a signed 1 KiB delivery (a new id each time), its bare `Bytes` route against
//! the adapters' `webhook` route (read, verify, claim, typed extract, settle). With
//! `verify` (criterion, `verify.rs`) and the replay claim (`replay.rs`) this splits the
//! loopback HTTP ratio (`http.rs`) into its parts.

use std::hint::black_box;
use std::sync::Arc;
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

fn extract(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let verifier = Verifier::builder()
        .megabot_secret(Secret::new(SECRET).expect("secret"))
        .replay_guard(Arc::new(MemoryReplayGuard::new(10_000_000)))
        .build()
        .expect("verifier");
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
        .with_state(verifier);
    let secret = Secret::new(SECRET).expect("secret");
    let mut sequence = 0u64;
    let mut request = |path: &str| {
        sequence += 1;
        let body = body(sequence, chrono::Utc::now().timestamp());
        Request::post(path)
            .header("content-type", "application/json")
            .header("x-megabot-signature", megabot_signature(&secret, &body))
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
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args();
    targets = extract
}
criterion_main!(benches);
