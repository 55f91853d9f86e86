//! The durable dispatcher against a loopback receiver, side by side with the in-memory
//! `Sender` in one run:
//!
//! - `publish`: durable publishes per second into SQLite (one file, WAL,
//!   `synchronous=NORMAL`) and Redis, `CONCURRENCY` publishers, workers stopped, so
//!   only the store is measured;
//! - `delivered`: publish → delivered per second to a verifying receiver (the adapters'
//!   axum `webhook` route, in a child process as in the `sender` bench), for SQLite,
//!   Redis and today's in-memory `Sender::send` (the cost of durability is the ratio);
//! - `latency`: p50 / p99 publish → delivered at 1 000 events/s (an in-process
//!   receiver that notes each arrival, so both ends read one clock);
//! - `memory`: the resident set every `MEMORY_EVENTS / 10` events while
//!   `MEMORY_EVENTS` events go through SQLite (default 1 000 000; set
//!   `DISPATCHER_BENCH_MEMORY_EVENTS` to change it).
//!
//! Run with `cargo bench -p megabot-webhook-benches --bench dispatcher`; the Redis
//! parts need `redis-server` on the PATH (the bench starts its own on a free port).

mod common;

use common::{SECRET, receiver, resident_bytes, spawn_receiver};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use megabot_webhook_sender::config::WebhooksConfig;
use megabot_webhook_sender::dispatcher::{DeliveryStore, Dispatcher, RedisStore, SqliteStore};
use megabot_webhook_sender::{ConfigLoader, Sender};
use megabot_webhook_types::{Event, EventName, examples};

const PUBLISHES: u64 = 50_000;
const DELIVERIES: u64 = 30_000;
const CONCURRENCY: u64 = 64;
const LATENCY_RATE: u64 = 1_000;
const LATENCY_SECONDS: u64 = 5;

/// A `redis-server` of its own on a free loopback port, without persistence.
struct RedisServer {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = tempfile::tempdir().ok()?;
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(RedisServer {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
            _dir: dir,
        })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(url: &str) -> WebhooksConfig {
    let yaml = format!(
        "webhooks:\n  secret_key: \"{SECRET}\"\n  allow_private_targets: true\n  endpoints:\n    - url: \"{url}\"\n      events: [\"*\"]\n      max_in_flight: 64\n"
    );
    ConfigLoader::with_env(|_| None)
        .load_str(&yaml, "bench.yaml")
        .expect("config")
        .config
}

fn event(prefix: &str, i: u64) -> Event {
    let template = examples::example(EventName::ToolExecutionFailed);
    Event::new(
        format!("evt_{prefix}_{i:08}"),
        chrono::Utc::now(),
        template.payload,
    )
}

async fn dispatcher(url: &str, store: Arc<dyn DeliveryStore>) -> Arc<Dispatcher> {
    let (dispatcher, _) = Dispatcher::builder(config(url), store)
        .workers(64)
        .poll_interval(Duration::from_millis(5))
        .build()
        .await
        .expect("dispatcher");
    Arc::new(dispatcher)
}

/// Publishes `count` events from `CONCURRENCY` tasks; returns events/s.
async fn publish_all(dispatcher: &Arc<Dispatcher>, prefix: &str, count: u64) -> f64 {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let dispatcher = dispatcher.clone();
            let next = next.clone();
            let prefix = prefix.to_owned();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let outcome = dispatcher
                        .publish(&event(&prefix, i))
                        .await
                        .expect("publish");
                    assert_eq!(outcome.deliveries.len(), 1);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("publisher");
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// Waits until `count` more deliveries than `before` are delivered; returns the time.
async fn wait_delivered(dispatcher: &Dispatcher, before: u64, count: u64) -> Duration {
    let start = Instant::now();
    loop {
        let stats = dispatcher.stats().await.expect("stats");
        assert_eq!(stats.dead, 0, "a delivery died");
        if stats.delivered >= before + count {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Publish → delivered per second: workers run while publishing.
async fn delivered_rate(url: &str, store: Arc<dyn DeliveryStore>, prefix: &str) -> f64 {
    let dispatcher = dispatcher(url, store).await;
    dispatcher.start();
    let start = Instant::now();
    publish_all(&dispatcher, prefix, DELIVERIES).await;
    wait_delivered(&dispatcher, 0, DELIVERIES).await;
    let rate = DELIVERIES as f64 / start.elapsed().as_secs_f64();
    dispatcher.shutdown(Duration::from_secs(5)).await;
    rate
}

async fn sender_rate(url: &str) -> f64 {
    let (sender, _) = Sender::builder(config(url)).build().expect("sender");
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let sender = sender.clone();
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= DELIVERIES {
                        break;
                    }
                    let report = sender.send(&event("mem", i)).await.expect("send");
                    assert!(report.all_delivered(), "{report:?}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("sender task");
    }
    DELIVERIES as f64 / start.elapsed().as_secs_f64()
}

/// An in-process receiver that notes when each event id arrives.
async fn arrival_receiver() -> (String, Arc<Mutex<HashMap<String, Instant>>>) {
    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let noted = arrivals.clone();
    let app = Router::new().route(
        "/webhook",
        post(move |headers: HeaderMap| {
            let noted = noted.clone();
            async move {
                if let Some(id) = headers
                    .get("x-megabot-delivery")
                    .and_then(|v| v.to_str().ok())
                {
                    noted
                        .lock()
                        .expect("arrivals")
                        .entry(id.to_owned())
                        .or_insert_with(Instant::now);
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/webhook"), arrivals)
}

async fn latency(store: Arc<dyn DeliveryStore>) -> (Duration, Duration) {
    let (url, arrivals) = arrival_receiver().await;
    let dispatcher = dispatcher(&url, store).await;
    dispatcher.start();
    let total = LATENCY_RATE * LATENCY_SECONDS;
    let mut published = Vec::with_capacity(total as usize);
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / LATENCY_RATE));
    for i in 0..total {
        ticker.tick().await;
        let event = event("lat", i);
        let at = Instant::now();
        dispatcher.publish(&event).await.expect("publish");
        published.push((event.id, at));
    }
    wait_delivered(&dispatcher, 0, total).await;
    dispatcher.shutdown(Duration::from_secs(5)).await;
    let arrivals = arrivals.lock().expect("arrivals");
    let mut latencies: Vec<Duration> = published
        .iter()
        .map(|(id, at)| arrivals[id].saturating_duration_since(*at))
        .collect();
    latencies.sort_unstable();
    (
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    )
}

async fn memory(url: &str, store: Arc<dyn DeliveryStore>, total: u64) -> Vec<(u64, usize)> {
    let dispatcher = dispatcher(url, store).await;
    dispatcher.start();
    let step = (total / 10).max(1);
    let mut samples = vec![(0, resident_bytes())];
    let mut done = 0;
    while done < total {
        let count = step.min(total - done);
        publish_all(&dispatcher, &format!("m{done}"), count).await;
        wait_delivered(&dispatcher, done, count).await;
        done += count;
        samples.push((done, resident_bytes()));
    }
    dispatcher.shutdown(Duration::from_secs(5)).await;
    samples
}

fn main() {
    if std::env::args().any(|a| a == "--receiver") {
        receiver();
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "dispatcher".contains(a.as_str())) {
        return;
    }
    let memory_events: u64 = std::env::var("DISPATCHER_BENCH_MEMORY_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (mut child, addr) = spawn_receiver();
    let url = format!("http://{addr}/webhook");
    let redis = RedisServer::start().expect("redis-server on the PATH");
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sqlite = |name: &str| -> Arc<dyn DeliveryStore> {
            Arc::new(SqliteStore::open(dir.path().join(name)).expect("sqlite store"))
        };
        let redis_store = |prefix: &str| {
            let url = redis.url.clone();
            let prefix = prefix.to_owned();
            async move {
                Arc::new(
                    RedisStore::connect_with_prefix(&url, &prefix)
                        .await
                        .expect("redis store"),
                ) as Arc<dyn DeliveryStore>
            }
        };

        // Durable publish alone (workers not started).
        let d = dispatcher(&url, sqlite("publish.sqlite3")).await;
        let sqlite_publish = publish_all(&d, "pub", PUBLISHES).await;
        let d = dispatcher(&url, redis_store("pub").await).await;
        let redis_publish = publish_all(&d, "pub", PUBLISHES).await;
        println!("dispatcher/publish_per_second/sqlite: {sqlite_publish:.0} (target >= 20000)");
        println!("dispatcher/publish_per_second/redis: {redis_publish:.0}");

        // Publish -> delivered, and the in-memory sender, side by side.
        let memory_rate = sender_rate(&url).await;
        let sqlite_rate = delivered_rate(&url, sqlite("delivered.sqlite3"), "sq").await;
        let redis_rate = delivered_rate(&url, redis_store("dl").await, "rd").await;
        println!("dispatcher/delivered_per_second/sqlite: {sqlite_rate:.0} (target >= 10000)");
        println!("dispatcher/delivered_per_second/redis: {redis_rate:.0} (target >= 10000)");
        println!("dispatcher/delivered_per_second/in_memory_sender: {memory_rate:.0}");
        println!(
            "dispatcher/cost_of_durability: sqlite {:.2}x, redis {:.2}x the in-memory sender's rate",
            sqlite_rate / memory_rate,
            redis_rate / memory_rate
        );

        // Latency at 1 000 events/s.
        let (p50, p99) = latency(sqlite("latency.sqlite3")).await;
        println!(
            "dispatcher/latency_at_1000_per_second/sqlite: p50 {:.2} ms, p99 {:.2} ms (target p50 < 5 ms)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        let (p50, p99) = latency(redis_store("lat").await).await;
        println!(
            "dispatcher/latency_at_1000_per_second/redis: p50 {:.2} ms, p99 {:.2} ms (target p50 < 5 ms)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );

        // Memory over many events.
        let samples = memory(&url, sqlite("memory.sqlite3"), memory_events).await;
        for (count, rss) in &samples {
            println!(
                "dispatcher/rss_after_{count}: {:.1} MiB",
                *rss as f64 / (1 << 20) as f64
            );
        }
        let first = samples[1].1 as f64;
        let last = samples[samples.len() - 1].1 as f64;
        println!(
            "dispatcher/rss_growth_after_first_tenth: {:.2} MiB over {} events",
            (last - first) / (1 << 20) as f64,
            memory_events - memory_events / 10
        );
    });
    child.kill().expect("stop the receiver");
    child.wait().expect("receiver exit");
}
