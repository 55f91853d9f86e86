//! Loopback load: for axum, actix-web and warp, a route that verifies, claims and
//! extracts the typed event (the adapters' `webhook`) against the same framework's bare
//! `Bytes` route, with 1 KiB signed bodies, each delivery a new event id.
//!
//! The server runs on one thread (one worker), the load generator on another (a
//! current-thread Tokio runtime driving `CONNECTIONS` keep-alive HTTP/1.1 connections
//! with hyper's client). On this 2-core machine the two compete for the cores, so the
//! absolute requests/s are bounded by the generator too; the ratio of the two routes,
//! measured alternately in the same run, is the result.
//!
//! Run with `cargo bench -p megabot-webhook-benches --bench http` (or `bash benches/run.sh`).
//! `HTTP_BENCH_SECS` sets the length of each measured round (default 3 s).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_verify::sign::megabot_signature;
use megabot_webhook_verify::{MemoryReplayGuard, Secret, Verifier};

const SECRET: &str = "your_webhook_secret";
const BODY_LEN: usize = 1024;
const CONNECTIONS: usize = 32;
const ROUNDS: usize = 3;

fn verifier() -> Verifier {
    Verifier::builder()
        .megabot_secret(Secret::new(SECRET).expect("secret"))
        // Every request is a new delivery: room for all of them.
        .replay_guard(Arc::new(MemoryReplayGuard::new(20_000_000)))
        .build()
        .expect("verifier")
}

/// A 1 KiB `error_occurred` body with a unique id and the current time.
fn body(connection: usize, sequence: u64, timestamp: i64) -> Vec<u8> {
    let head = format!(
        r#"{{"event":"error_occurred","id":"evt_{connection:03}_{sequence:012}","timestamp":{timestamp},"data":{{"error_id":"err_789","type":"LLMProviderError","message":""#
    );
    let tail = r#"","severity":"error"}}"#;
    let mut body = head.into_bytes();
    body.extend(std::iter::repeat_n(
        b'x',
        BODY_LEN - body.len() - tail.len(),
    ));
    body.extend_from_slice(tail.as_bytes());
    body
}

async fn handle(hook: Webhook) -> u16 {
    std::hint::black_box(hook.event().name().len()) as u16
}

fn spawn_axum() -> SocketAddr {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::post;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let app = Router::new()
                .route(
                    "/bare",
                    post(|body: Bytes| async move {
                        std::hint::black_box(body.len());
                        StatusCode::NO_CONTENT
                    }),
                )
                .route(
                    "/webhook",
                    megabot_webhook_adapters::axum::webhook(|hook: Webhook| async move {
                        handle(hook).await;
                        StatusCode::NO_CONTENT
                    }),
                )
                .with_state(verifier());
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    addr
}

fn spawn_actix() -> SocketAddr {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let verifier = verifier();
            HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(verifier.clone()))
                    .route(
                        "/bare",
                        web::post().to(|body: web::Bytes| async move {
                            std::hint::black_box(body.len());
                            HttpResponse::NoContent().finish()
                        }),
                    )
                    .service(megabot_webhook_adapters::actix_web::webhook(
                        "/webhook",
                        |hook: Webhook| async move {
                            handle(hook).await;
                            HttpResponse::NoContent().finish()
                        },
                    ))
            })
            .workers(1)
            .listen(listener)
            .expect("listen")
            .run()
            .await
            .expect("serve");
        });
    });
    addr
}

fn spawn_warp() -> SocketAddr {
    use warp::Filter;
    use warp::http::StatusCode;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let bare = warp::path("bare")
                .and(warp::path::end())
                .and(warp::post())
                .and(warp::body::bytes())
                .map(|body: Bytes| {
                    std::hint::black_box(body.len());
                    StatusCode::NO_CONTENT
                });
            let hook = warp::path("webhook").and(warp::path::end()).and(
                megabot_webhook_adapters::warp::webhook(verifier(), |hook: Webhook| async move {
                    handle(hook).await;
                    StatusCode::NO_CONTENT
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            warp::serve(bare.or(hook)).incoming(listener).run().await;
        });
    });
    addr
}

/// Starts a framework's server on its own thread and returns its address.
type Spawn = fn() -> SocketAddr;

/// Requests, elapsed time and per-request latencies (µs) of one measured round.
#[derive(Default)]
struct Round {
    requests: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

/// Drives `CONNECTIONS` connections at `path` for `duration`; every response must be 204.
fn load(addr: SocketAddr, path: &'static str, duration: Duration) -> Round {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let secret = Secret::new(SECRET).expect("secret");
    runtime.block_on(async move {
        let start = Instant::now();
        let deadline = start + duration;
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|connection| {
                let secret = secret.clone();
                tokio::spawn(connection_loop(addr, path, connection, secret, deadline))
            })
            .collect();
        let mut round = Round::default();
        for task in tasks {
            let latencies = task.await.expect("connection task");
            round.requests += latencies.len() as u64;
            round.latencies_us.extend(latencies);
        }
        round.elapsed = start.elapsed();
        round
    })
}

static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

async fn connection_loop(
    addr: SocketAddr,
    path: &'static str,
    connection: usize,
    secret: Secret,
    deadline: Instant,
) -> Vec<u32> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let uri = format!("http://{addr}{path}");
    let host = addr.to_string();
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = body(connection, sequence, chrono::Utc::now().timestamp());
        let signature = megabot_signature(&secret, &body);
        // hyper's connection-level client adds no `Host`; actix-web answers 400 without one.
        let request = Request::post(&uri)
            .header("host", &host)
            .header("content-type", "application/json")
            .header("x-megabot-signature", signature)
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        let start = Instant::now();
        sender.ready().await.expect("ready");
        let response = sender.send_request(request).await.expect("response");
        let status = response.status();
        let _ = response.into_body().collect().await.expect("body");
        latencies.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
        assert_eq!(status, 204, "{path}: {status}");
    }
    latencies
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let selected = |name: &str| args.is_empty() || args.iter().any(|a| name.contains(a.as_str()));
    let seconds: u64 = std::env::var("HTTP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let round = Duration::from_secs(seconds);
    let frameworks: [(&str, Spawn); 3] = [
        ("axum", spawn_axum),
        ("actix-web", spawn_actix),
        ("warp", spawn_warp),
    ];
    for (name, spawn) in frameworks {
        if !selected(&format!("http/{name}")) {
            continue;
        }
        let addr = spawn();
        std::thread::sleep(Duration::from_millis(200));
        // Warm up both routes (connections, allocator, replay store).
        load(addr, "/bare", Duration::from_millis(500));
        load(addr, "/webhook", Duration::from_millis(500));
        let mut totals: [Round; 2] = Default::default();
        for _ in 0..ROUNDS {
            for (total, path) in totals.iter_mut().zip(["/bare", "/webhook"]) {
                let round = load(addr, path, round);
                total.requests += round.requests;
                total.elapsed += round.elapsed;
                total.latencies_us.extend(round.latencies_us);
            }
        }
        let mut rps = [0.0; 2];
        for (i, (total, route)) in totals.iter_mut().zip(["bare", "webhook"]).enumerate() {
            total.latencies_us.sort_unstable();
            rps[i] = total.requests as f64 / total.elapsed.as_secs_f64();
            println!(
                "http/{name}/{route}: {:.0} req/s, p50 {} us, p99 {} us ({} requests)",
                rps[i],
                percentile(&total.latencies_us, 0.50),
                percentile(&total.latencies_us, 0.99),
                total.requests,
            );
        }
        println!(
            "http/{name}/ratio: {:.3} (webhook / bare requests per second, target >= 0.85)",
            rps[1] / rps[0]
        );
    }
}
