//! Performance budgets. Timing is meaningless in debug builds, so these run only on
//! request: `cargo test -p megabot-webhook-verify --release --test perf -- --ignored`.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::at;
use hmac::{Hmac, Mac};
use megabot_webhook_verify::sign::megabot_signature;
use megabot_webhook_verify::signature::verify_megabot_signature;
use megabot_webhook_verify::{ClaimOutcome, MemoryReplayGuard, ReplayGuard, Secret};
use sha2::Sha256;

const SECRET: &str = "your_webhook_secret";

/// The best of several runs of `iterations` calls, per call.
fn time_per_call(iterations: u32, mut f: impl FnMut()) -> Duration {
    (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed() / iterations
        })
        .min()
        .unwrap()
}

/// What a receiver without this crate does: key setup, HMAC, compare.
fn raw_hmac(body: &[u8], expected: &[u8; 32]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(expected).is_ok()
}

fn ratio(body_len: usize, iterations: u32) -> f64 {
    let secrets = [Secret::new(SECRET).unwrap()];
    let body: Vec<u8> = (0..body_len).map(|i| (i % 251) as u8).collect();
    let header = megabot_signature(&secrets[0], &body);
    let mut expected = [0u8; 32];
    hex::decode_to_slice(&header[7..], &mut expected).unwrap();
    assert!(raw_hmac(&body, &expected));
    let raw = time_per_call(iterations, || {
        black_box(raw_hmac(black_box(&body), &expected));
    });
    let ours = time_per_call(iterations, || {
        black_box(verify_megabot_signature(&secrets, black_box(&header), black_box(&body)).is_ok());
    });
    println!("{body_len} B: raw hmac {raw:?}, verify {ours:?}");
    ours.as_secs_f64() / raw.as_secs_f64()
}

#[test]
#[ignore = "timing: run with --release -- --ignored"]
fn verify_costs_at_most_a_quarter_more_than_raw_hmac_at_256_bytes() {
    let ratio = ratio(256, 200_000);
    assert!(ratio <= 1.25, "verify / raw HMAC = {ratio:.2}");
}

#[test]
#[ignore = "timing: run with --release -- --ignored"]
fn verify_keeps_nine_tenths_of_raw_hmac_throughput_at_1_mib() {
    let ratio = ratio(1 << 20, 30);
    assert!(1.0 / ratio >= 0.9, "throughput ratio = {:.2}", 1.0 / ratio);
}

/// The whole `verify_at` (signature, envelope parse, freshness) on a 256-byte event,
/// reported next to raw HMAC; the envelope parse is the part beyond the signature.
#[test]
#[ignore = "timing: run with --release -- --ignored"]
fn full_verification_of_a_256_byte_event() {
    let secret = Secret::new(SECRET).unwrap();
    let verifier = megabot_webhook_verify::Verifier::builder()
        .megabot_secret(secret.clone())
        .build()
        .unwrap();
    let mut body = common::body("evt_123456", "1640995200");
    let pad = 256 - body.len();
    let at_message = body.windows(10).position(|w| w == b"rate limit").unwrap();
    body.splice(at_message..at_message, std::iter::repeat_n(b'x', pad));
    assert_eq!(body.len(), 256);
    let header = megabot_signature(&secret, &body);
    let headers = [("X-MegaBot-Signature", header.as_str())];
    let now = at(1_640_995_200);
    let mut expected = [0u8; 32];
    hex::decode_to_slice(&header[7..], &mut expected).unwrap();
    let raw = time_per_call(100_000, || {
        black_box(raw_hmac(black_box(&body), &expected));
    });
    let full = time_per_call(100_000, || {
        black_box(verifier.verify_at(&headers, black_box(&body), now).is_ok());
    });
    println!("256 B event: raw hmac {raw:?}, verify_at {full:?}");
    assert!(verifier.verify_at(&headers, &body, now).is_ok());
    assert!(full < raw * 10, "verify_at {full:?} vs raw hmac {raw:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing: run with --release -- --ignored"]
async fn a_claim_takes_at_most_a_microsecond_with_a_million_ids() {
    let guard = Arc::new(MemoryReplayGuard::new(1_100_000));
    let ids: Vec<String> = (0..1_000_000).map(|i| format!("evt_{i:08}")).collect();
    let start = Instant::now();
    for id in &ids {
        let outcome = guard.claim(id, at(2_000), at(1_000)).await.unwrap();
        assert!(matches!(outcome, ClaimOutcome::Claimed(_)));
    }
    let per_claim = start.elapsed() / 1_000_000;
    println!("claim with up to 1M ids: {per_claim:?}");
    assert!(
        per_claim <= Duration::from_micros(1),
        "{per_claim:?} per claim"
    );
    let start = Instant::now();
    for id in ids.iter().take(100_000) {
        black_box(guard.claim(id, at(2_000), at(1_000)).await.unwrap());
    }
    let per_lookup = start.elapsed() / 100_000;
    println!("claim of a held id: {per_lookup:?}");
    assert!(
        per_lookup <= Duration::from_micros(1),
        "{per_lookup:?} per claim"
    );
}
