#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Verification against raw HMAC-SHA256 and against the Standard Webhooks peers
//! (`svix` and `standardwebhooks`), side by side in one run, at 256 B, 1 KiB, 16 KiB and
//! 1 MiB.
//!
//! Run with `cargo bench -p megabot-webhook-benches --bench verify` (or `bash benches/run.sh`,
//! which also prints the ratios).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use megabot_webhook_verify::sign::{megabot_signature, standard_signature};
use megabot_webhook_verify::signature::{verify_megabot_signature, verify_standard_signature};
use megabot_webhook_verify::{Secret, StandardSecret, Verifier};
use sha2::Sha256;

const SIZES: [usize; 4] = [256, 1024, 16 * 1024, 1024 * 1024];
const MEGABOT_SECRET: &str = "your_webhook_secret";
/// The Standard Webhooks specification's example secret.
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";

/// A valid `error_occurred` envelope of exactly `len` bytes (the message is padded).
fn event_body(len: usize, timestamp: i64) -> Vec<u8> {
    let head = format!(
        r#"{{"event":"error_occurred","id":"evt_123462","timestamp":{timestamp},"data":{{"error_id":"err_789","type":"LLMProviderError","message":""#
    );
    let tail = r#"","severity":"error"}}"#;
    let pad = len - head.len() - tail.len();
    let mut body = head.into_bytes();
    body.extend(std::iter::repeat_n(b'x', pad));
    body.extend_from_slice(tail.as_bytes());
    assert_eq!(body.len(), len);
    body
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What a receiver without this crate writes: key setup, HMAC, constant-time compare.
fn raw_hmac(key: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(expected).is_ok()
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

/// MegaBot scheme: `sha256=<hex>` of the raw body.
fn megabot(c: &mut Criterion) {
    let secret = Secret::new(MEGABOT_SECRET).expect("secret");
    let secrets = [secret.clone()];
    let verifier = Verifier::builder()
        .megabot_secret(secret.clone())
        .build()
        .expect("verifier");
    let mut group = c.benchmark_group("megabot");
    for size in SIZES {
        // Fresh timestamps per size: the whole group outlasts no tolerance window.
        let body = event_body(size, now_secs());
        let header = megabot_signature(&secret, &body);
        let headers = [("X-MegaBot-Signature", header.as_str())];
        let mut expected = [0u8; 32];
        hex::decode_to_slice(&header[7..], &mut expected).expect("hex");
        assert!(raw_hmac(MEGABOT_SECRET.as_bytes(), &[&body], &expected));
        assert!(verifier.verify(&headers, &body).is_ok());
        assert!(verifier.authenticate(&headers, &body).is_ok());
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("raw_hmac", size), &body, |b, body| {
            b.iter(|| raw_hmac(MEGABOT_SECRET.as_bytes(), &[black_box(body)], &expected));
        });
        group.bench_with_input(BenchmarkId::new("signature", size), &body, |b, body| {
            b.iter(|| verify_megabot_signature(&secrets, black_box(&header), black_box(body)));
        });
        group.bench_with_input(BenchmarkId::new("authenticate", size), &body, |b, body| {
            b.iter(|| verifier.authenticate(&headers, black_box(body)));
        });
        group.bench_with_input(BenchmarkId::new("verify", size), &body, |b, body| {
            b.iter(|| verifier.verify(&headers, black_box(body)));
        });
    }
    group.finish();
}

/// Standard Webhooks scheme: `v1,<base64>` of `{id}.{timestamp}.{body}`, ours against
/// the two peers, which check the signature and the timestamp and parse nothing.
fn standard(c: &mut Criterion) {
    let secret = StandardSecret::parse(WHSEC).expect("secret");
    let key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&WHSEC[6..])
            .expect("base64")
    };
    let secrets = [secret.clone()];
    let verifier = Verifier::builder()
        .standard_secret(secret.clone())
        .build()
        .expect("verifier");
    let svix = svix::webhooks::Webhook::new(WHSEC).expect("svix secret");
    let standardwebhooks = standardwebhooks::Webhook::new(WHSEC).expect("standardwebhooks secret");
    let mut group = c.benchmark_group("standard");
    for size in SIZES {
        let ts = now_secs();
        let body = event_body(size, ts);
        let ts_text = ts.to_string();
        let signature = standard_signature(&secret, MSG_ID, ts, &body);
        let headers = [
            ("webhook-id", MSG_ID),
            ("webhook-timestamp", ts_text.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.insert(name, value.parse().expect("header value"));
        }
        let expected = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(&signature[3..])
                .expect("base64")
        };
        let parts: [&[u8]; 5] = [MSG_ID.as_bytes(), b".", ts_text.as_bytes(), b".", &body];
        assert!(raw_hmac(&key, &parts, &expected));
        assert!(verifier.verify(&headers, &body).is_ok());
        svix.verify(&body, &map).expect("svix accepts ours");
        standardwebhooks
            .verify(&body, &map)
            .expect("standardwebhooks accepts ours");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("raw_hmac", size), &body, |b, body| {
            b.iter(|| {
                let parts: [&[u8]; 5] = [
                    MSG_ID.as_bytes(),
                    b".",
                    ts_text.as_bytes(),
                    b".",
                    black_box(body),
                ];
                raw_hmac(&key, &parts, &expected)
            });
        });
        group.bench_with_input(BenchmarkId::new("signature", size), &body, |b, body| {
            b.iter(|| {
                verify_standard_signature(
                    &secrets,
                    MSG_ID,
                    ts,
                    black_box(&signature),
                    black_box(body),
                )
            });
        });
        group.bench_with_input(BenchmarkId::new("authenticate", size), &body, |b, body| {
            b.iter(|| verifier.authenticate(&headers, black_box(body)));
        });
        group.bench_with_input(BenchmarkId::new("verify", size), &body, |b, body| {
            b.iter(|| verifier.verify(&headers, black_box(body)));
        });
        group.bench_with_input(BenchmarkId::new("svix", size), &body, |b, body| {
            b.iter(|| svix.verify(black_box(body), &map));
        });
        group.bench_with_input(
            BenchmarkId::new("standardwebhooks", size),
            &body,
            |b, body| b.iter(|| standardwebhooks.verify(black_box(body), &map)),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = megabot, standard
}
criterion_main!(benches);
