//! The sender against a loopback receiver: signed deliveries per second and the
//! resident set over `DELIVERIES` deliveries (it must stay flat: nothing kept per
//! delivery).
//!
//! The receiver is the adapters' axum `webhook` route (it verifies every signature and
//! claims every id) in a child process (this binary again, with `--receiver`), so that
//! its replay store does not count in the sender's resident set; the sender runs
//! `CONCURRENCY` deliveries at a time on a current-thread Tokio runtime. Both share
//! this machine's two cores.
//! Run with `cargo bench -p megabot-webhook-benches --bench sender`.

mod common;

use common::{SECRET, receiver, resident_bytes, spawn_receiver};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use megabot_webhook_sender::{ConfigLoader, Sender};
use megabot_webhook_types::{Event, EventName, examples};

const DELIVERIES: u64 = 100_000;
const CONCURRENCY: u64 = 32;
const SAMPLE_EVERY: u64 = 10_000;

fn main() {
    if std::env::args().any(|a| a == "--receiver") {
        receiver();
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "sender".contains(a.as_str())) {
        return;
    }
    let (mut child, addr) = spawn_receiver();
    let yaml = format!(
        "webhooks:\n  secret_key: \"{SECRET}\"\n  endpoints:\n    - url: \"http://{addr}/webhook\"\n      events: [\"*\"]\n"
    );
    let loaded = ConfigLoader::with_env(|_| None)
        .load_str(&yaml, "bench.yaml")
        .expect("config");
    let (sender, _) = Sender::new(loaded.config).expect("sender");
    let template = examples::example(EventName::ToolExecutionFailed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let next = Arc::new(AtomicU64::new(0));
    let samples = runtime.block_on(async {
        // Warm up: connections, allocator.
        for i in 0..1_000u64 {
            let event = Event::new(
                format!("evt_warm_{i}"),
                chrono::Utc::now(),
                template.payload.clone(),
            );
            assert!(sender.send(&event).await.expect("send").all_delivered());
        }
        let start = Instant::now();
        let mut samples = vec![(0u64, Duration::ZERO, resident_bytes())];
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let sender = sender.clone();
                let next = next.clone();
                let payload = template.payload.clone();
                tokio::spawn(async move {
                    let mut local = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= DELIVERIES {
                            break local;
                        }
                        let event =
                            Event::new(format!("evt_{i:08}"), chrono::Utc::now(), payload.clone());
                        let report = sender.send(&event).await.expect("send");
                        assert!(report.all_delivered(), "{report:?}");
                        if (i + 1).is_multiple_of(SAMPLE_EVERY) {
                            local.push((i + 1, start.elapsed(), resident_bytes()));
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            samples.extend(task.await.expect("task"));
        }
        samples.sort_unstable_by_key(|(count, _, _)| *count);
        if samples.last().map(|(count, _, _)| *count) != Some(DELIVERIES) {
            samples.push((DELIVERIES, start.elapsed(), resident_bytes()));
        }
        samples
    });
    let (_, elapsed, _) = samples[samples.len() - 1];
    let rate = DELIVERIES as f64 / elapsed.as_secs_f64();
    for (count, at, rss) in &samples {
        println!(
            "sender/rss_after_{count}: {:.1} MiB at {:.2} s",
            *rss as f64 / (1 << 20) as f64,
            at.as_secs_f64()
        );
    }
    let first = samples[1].2 as f64;
    let last = samples[samples.len() - 1].2 as f64;
    println!(
        "sender/deliveries_per_second: {rate:.0} (target >= 5000), every one answered 2xx by a verifying receiver"
    );
    println!(
        "sender/rss_growth_after_first_10k: {:.2} MiB over {} deliveries",
        (last - first) / (1 << 20) as f64,
        DELIVERIES - SAMPLE_EVERY
    );
    child.kill().expect("stop the receiver");
    child.wait().expect("receiver exit");
}
