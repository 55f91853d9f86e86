//! The durable dispatcher against a loopback receiver, side by side with the in-memory
//! `Sender` in one run:
//!
//! - `publish`: durable publishes per second into SQLite (one file, WAL,
//!   `synchronous=NORMAL`) and Redis, `CONCURRENCY` publishers, workers stopped, so
//!   only the store is measured;
//! - `delivered`: publish → delivered per second to a verifying receiver (the adapters'
//!   axum `webhook` route, in a child process as in the `sender` bench), for SQLite,
//!   Redis and today's in-memory `Sender::send` (the cost of durability is the ratio),
//!   and the CPU each delivery took in the bench process, the receiver and
//!   `redis-server` (what bounds the rate on a machine of few cores, and a figure
//!   that holds when the machine is shared); the end is seen through a
//!   `DeliveryObserver`, so waiting costs the store nothing;
//! - `latency`: p50 / p99 publish → delivered at 1 000 events/s (an in-process
//!   receiver that notes each arrival, so both ends read one clock);
//! - `memory`: the resident set every `MEMORY_EVENTS / 10` events while
//!   `MEMORY_EVENTS` events go through SQLite (default 1 000 000; set
//!   `DISPATCHER_BENCH_MEMORY_EVENTS` to change it; 0 stops after `delivered`);
//! - `DISPATCHER_BENCH_ROUNDS` repeats `delivered` (default once), to see
//!   its spread on a shared machine; `DISPATCHER_BENCH_ONLY=redis` runs only
//!   Redis's `delivered` rounds (for profiling `redis-server`).
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
use megabot_webhook_sender::dispatcher::{
    DeliveryObserver, DeliveryOutcome, DeliveryState, DeliveryStore, Dispatcher, RedisStore,
    SqliteStore,
};
use megabot_webhook_sender::{ConfigLoader, Sender};
use megabot_webhook_types::{Event, EventName, examples};

const PUBLISHES: u64 = 50_000;
const DELIVERIES: u64 = 30_000;
const CONCURRENCY: u64 = 64;
const LATENCY_RATE: u64 = 1_000;
const LATENCY_SECONDS: u64 = 5;

/// CPU time (user + system) used so far by process `pid`, from
/// `/proc/<pid>/stat` (in clock ticks of 10 ms).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|t| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// The CPU used by the bench process, the receiver and `redis-server`.
#[derive(Clone, Copy)]
struct Cpu {
    pids: [u32; 3],
    at: [Duration; 3],
}

impl Cpu {
    fn now(pids: [u32; 3]) -> Cpu {
        Cpu {
            pids,
            at: pids.map(cpu_time),
        }
    }

    /// Microseconds of CPU per item since `self`: total, then bench
    /// process, receiver, redis.
    fn per_item(&self, items: u64) -> String {
        let now = Cpu::now(self.pids);
        let us = |i: usize| (now.at[i] - self.at[i]).as_secs_f64() * 1e6 / items as f64;
        format!(
            "{:.0} us (dispatcher process {:.0}, receiver {:.0}, redis-server {:.0})",
            us(0) + us(1) + us(2),
            us(0),
            us(1),
            us(2)
        )
    }
}

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

impl RedisServer {
    /// Empties the server, so that each phase starts from an empty store
    /// (as each SQLite phase from a new file).
    fn flush(&self) {
        let flushed = std::process::Command::new("redis-cli")
            .args(["-u", &self.url, "FLUSHALL"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("redis-cli on the PATH");
        assert!(flushed.success(), "redis-cli FLUSHALL failed");
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

/// Counts the outcomes the dispatcher reports (after each is stored), so
/// that waiting for the deliveries costs the store nothing: polling
/// `stats()` every few milliseconds counted every row each time, a large
/// share of the SQLite store's thread.
#[derive(Debug, Default)]
struct Outcomes {
    delivered: AtomicU64,
    dead: AtomicU64,
}

impl DeliveryObserver for Outcomes {
    fn outcome(&self, outcome: &DeliveryOutcome) {
        match outcome.state {
            DeliveryState::Delivered => self.delivered.fetch_add(1, Ordering::Relaxed),
            _ => self.dead.fetch_add(1, Ordering::Relaxed),
        };
    }

    fn endpoint_disabled(&self, _: &str, _: chrono::DateTime<chrono::Utc>) {}
}

async fn dispatcher(url: &str, store: Arc<dyn DeliveryStore>) -> (Arc<Dispatcher>, Arc<Outcomes>) {
    let outcomes = Arc::new(Outcomes::default());
    let (dispatcher, _) = Dispatcher::builder(config(url), store)
        .workers(64)
        .poll_interval(Duration::from_millis(5))
        .observer(outcomes.clone())
        .build()
        .await
        .expect("dispatcher");
    (Arc::new(dispatcher), outcomes)
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
async fn wait_delivered(outcomes: &Outcomes, before: u64, count: u64) -> Duration {
    let start = Instant::now();
    loop {
        assert_eq!(outcomes.dead.load(Ordering::Relaxed), 0, "a delivery died");
        if outcomes.delivered.load(Ordering::Relaxed) >= before + count {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The store agrees with the observer: `delivered` delivered, none dead.
async fn check_stored(dispatcher: &Dispatcher, delivered: u64) {
    let stats = dispatcher.stats().await.expect("stats");
    assert_eq!((stats.delivered, stats.dead), (delivered, 0), "{stats:?}");
}

/// Publish → delivered per second: workers run while publishing.
async fn delivered_rate(url: &str, store: Arc<dyn DeliveryStore>, prefix: &str) -> f64 {
    let (dispatcher, outcomes) = dispatcher(url, store).await;
    dispatcher.start();
    let start = Instant::now();
    publish_all(&dispatcher, prefix, DELIVERIES).await;
    wait_delivered(&outcomes, 0, DELIVERIES).await;
    let rate = DELIVERIES as f64 / start.elapsed().as_secs_f64();
    check_stored(&dispatcher, DELIVERIES).await;
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
    let (dispatcher, outcomes) = dispatcher(&url, store).await;
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
    wait_delivered(&outcomes, 0, total).await;
    check_stored(&dispatcher, total).await;
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
    let (dispatcher, outcomes) = dispatcher(url, store).await;
    dispatcher.start();
    let step = (total / 10).max(1);
    let mut samples = vec![(0, resident_bytes())];
    let mut done = 0;
    while done < total {
        let count = step.min(total - done);
        publish_all(&dispatcher, &format!("m{done}"), count).await;
        wait_delivered(&outcomes, done, count).await;
        done += count;
        samples.push((done, resident_bytes()));
    }
    check_stored(&dispatcher, total).await;
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
    let rounds: u64 = std::env::var("DISPATCHER_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let redis_only = std::env::var("DISPATCHER_BENCH_ONLY").is_ok_and(|v| v == "redis");
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
        let (d, _) = dispatcher(&url, sqlite("publish.sqlite3")).await;
        let sqlite_publish = publish_all(&d, "pub", PUBLISHES).await;
        drop(d);
        let (d, _) = dispatcher(&url, redis_store("pub").await).await;
        let redis_publish = publish_all(&d, "pub", PUBLISHES).await;
        drop(d);
        println!("dispatcher/publish_per_second/sqlite: {sqlite_publish:.0} (target >= 20000)");
        println!("dispatcher/publish_per_second/redis: {redis_publish:.0}");

        // Publish -> delivered, and the in-memory sender, side by side:
        // `DISPATCHER_BENCH_ROUNDS` rounds (default 1), each printed.
        let pids = [std::process::id(), child.id(), redis.child.id()];
        for round in 0..rounds {
            if redis_only {
                redis.flush();
                let store = redis_store(&format!("dl{round}")).await;
                let cpu = Cpu::now(pids);
                let rate = delivered_rate(&url, store, "rd").await;
                let cpu = cpu.per_item(DELIVERIES);
                println!("dispatcher/delivered_per_second/redis: {rate:.0} (target >= 10000)");
                println!("dispatcher/cpu_per_delivery/redis: {cpu}");
                continue;
            }
            let cpu = Cpu::now(pids);
            let memory_rate = sender_rate(&url).await;
            let memory_cpu = cpu.per_item(DELIVERIES);
            let cpu = Cpu::now(pids);
            let sqlite_rate =
                delivered_rate(&url, sqlite(&format!("delivered{round}.sqlite3")), "sq").await;
            let sqlite_cpu = cpu.per_item(DELIVERIES);
            redis.flush();
            let redis_store_dl = redis_store(&format!("dl{round}")).await;
            let cpu = Cpu::now(pids);
            let redis_rate = delivered_rate(&url, redis_store_dl, "rd").await;
            let redis_cpu = cpu.per_item(DELIVERIES);
            println!("dispatcher/delivered_per_second/sqlite: {sqlite_rate:.0} (target >= 10000)");
            println!("dispatcher/delivered_per_second/redis: {redis_rate:.0} (target >= 10000)");
            println!("dispatcher/delivered_per_second/in_memory_sender: {memory_rate:.0}");
            println!("dispatcher/cpu_per_delivery/sqlite: {sqlite_cpu}");
            println!("dispatcher/cpu_per_delivery/redis: {redis_cpu}");
            println!("dispatcher/cpu_per_delivery/in_memory_sender: {memory_cpu}");
            println!(
                "dispatcher/cost_of_durability: sqlite {:.2}x, redis {:.2}x the in-memory sender's rate",
                sqlite_rate / memory_rate,
                redis_rate / memory_rate
            );
        }
        if memory_events == 0 || redis_only {
            return;
        }

        // Latency at 1 000 events/s.
        let (p50, p99) = latency(sqlite("latency.sqlite3")).await;
        println!(
            "dispatcher/latency_at_1000_per_second/sqlite: p50 {:.2} ms, p99 {:.2} ms (target p50 < 5 ms)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        redis.flush();
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
