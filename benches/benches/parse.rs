#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Typed event parse ([`Event::from_slice`]) against `serde_json::Value` on every
//! built-in example (the guide's ten events plus `deployment_completed`), as the
//! compact bytes MegaBot sends.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use megabot_webhook_types::{Event, EventName, examples};

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for name in EventName::ALL {
        let body = examples::example(*name).to_guide_json();
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("typed", name), &body, |b, body| {
            b.iter(|| Event::from_slice(black_box(body)).expect("parses"));
        });
        group.bench_with_input(BenchmarkId::new("value", name), &body, |b, body| {
            b.iter(|| {
                serde_json::from_slice::<serde_json::Value>(black_box(body)).expect("parses")
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
        .configure_from_args();
    targets = parse
}
criterion_main!(benches);
