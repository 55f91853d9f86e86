#![allow(missing_docs)] // criterion_group! generates undocumented items
//! The in-memory replay guard with a million live ids: a claim of a new id, and a
//! claim of an id already held (answered "in flight").

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::DateTime;
use criterion::{Criterion, criterion_group, criterion_main};
use megabot_webhook_verify::{ClaimOutcome, MemoryReplayGuard, ReplayGuard};

const LIVE_IDS: usize = 1_000_000;

fn replay(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let now = DateTime::from_timestamp(1_000, 0).expect("time");
    let expires = DateTime::from_timestamp(2_000, 0).expect("time");
    // Room for the live ids plus one measurement batch.
    let guard = MemoryReplayGuard::new(LIVE_IDS + 2_000_000);
    runtime.block_on(async {
        for i in 0..LIVE_IDS {
            let id = format!("evt_{i:010}");
            let outcome = guard.claim(&id, expires, now).await.expect("claim");
            assert!(matches!(outcome, ClaimOutcome::Claimed(_)));
        }
    });
    let mut group = c.benchmark_group("replay_1m");
    let mut next = LIVE_IDS;
    group.bench_function("claim_new", |b| {
        b.iter_custom(|iters| {
            // Ids made before the clock starts; claims released after it stops, so
            // the store stays at a million live ids.
            let ids: Vec<String> = (0..iters)
                .map(|_| {
                    next += 1;
                    format!("evt_{next:010}")
                })
                .collect();
            runtime.block_on(async {
                let mut claims = Vec::with_capacity(ids.len());
                let start = Instant::now();
                for id in &ids {
                    claims.push(guard.claim(black_box(id), expires, now).await);
                }
                let elapsed = start.elapsed();
                for claim in claims {
                    match claim.expect("claim") {
                        ClaimOutcome::Claimed(claim) => {
                            guard.release(&claim).await.expect("release");
                        }
                        other => panic!("{other:?}"),
                    }
                }
                elapsed
            })
        });
    });
    let held: Vec<String> = (0..10_000).map(|i| format!("evt_{:010}", i * 97)).collect();
    group.bench_function("claim_held", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % held.len();
            let outcome = runtime
                .block_on(guard.claim(black_box(&held[i]), expires, now))
                .expect("claim");
            assert!(matches!(outcome, ClaimOutcome::InFlight));
        });
    });
    group.finish();
    assert_eq!(guard.len(), LIVE_IDS);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    targets = replay
}
criterion_main!(benches);
