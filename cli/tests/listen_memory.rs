//! Memory before authentication stays bounded (design 9.8): 1 000 connections
//! each declaring a 1 MiB body and sending all of it but its last byte used to
//! pin about 1.5 GB of a receiver until the client let go. With the buffer
//! budget (64 MiB across all requests), the body read deadline and the
//! header-read timeout of `listen`, the same attack leaves the receiver's
//! resident set within the budget plus a fixed margin, on every framework,
//! and the receiver keeps answering.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Listener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

const CONNECTIONS: usize = 1_000;
const BODY: usize = 1 << 20;
/// The budget of `listen` (the adapters' default).
const BUDGET_MIB: u64 = 64;
/// What a receiver may hold beyond the budget: per-connection buffers of the
/// HTTP server (up to tens of KiB each for 1 000 connections), the allocator's
/// slack. Without the budget the same attack pinned ~1 500 MiB.
const MARGIN_MIB: u64 = 160;

/// The resident set of a process, in KiB (Linux `/proc`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

async fn attack(framework: &str) {
    let listener = Listener::start(&["--secret", "memory_test_secret", "--framework", framework]);
    let pid = listener.pid();
    let url = listener.url.clone();
    let authority = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let path = format!(
        "/{}",
        url.strip_prefix("http://")
            .unwrap()
            .split_once('/')
            .unwrap()
            .1
    );
    let baseline = rss_kib(pid);

    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         X-MegaBot-Signature: sha256={}\r\nX-MegaBot-Timestamp: {}\r\n\
         Content-Length: {BODY}\r\n\r\n",
        "0".repeat(64),
        chrono::Utc::now().timestamp()
    );
    let head: Arc<[u8]> = head.into_bytes().into();
    let body: Arc<[u8]> = vec![b' '; BODY - 1].into();
    let release = Arc::new(Notify::new());
    let refused = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let (head, body, release, refused) =
            (head.clone(), body.clone(), release.clone(), refused.clone());
        let authority = authority.clone();
        tasks.push(tokio::spawn(async move {
            let released = release.notified();
            let Ok(mut stream) = TcpStream::connect(&authority).await else {
                return;
            };
            // Everything but the last byte, within 5 s; a refused request is
            // answered and closed before its body is read.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                stream.write_all(&head).await?;
                stream.write_all(&body).await
            })
            .await;
            let mut answer = [0u8; 64];
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(10), stream.read(&mut answer)).await
                && answer[..n].starts_with(b"HTTP/1.1 503")
            {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            // Hold the connection (and whatever the server buffered for it).
            released.await;
            drop(stream);
        }));
    }
    // Sample the receiver's resident set while the connections hold their bodies
    // (less than the 10 s body read deadline, which would free them).
    let mut peak = baseline;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(7) {
        peak = peak.max(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    release.notify_waiters();
    for task in tasks {
        let _ = task.await;
    }
    let grown_mib = peak.saturating_sub(baseline) / 1024;
    eprintln!(
        "{framework}: {CONNECTIONS} connections x 1 MiB bodies: resident set {} MiB -> peak {} MiB (+{grown_mib} MiB), {} answered 503 at once",
        baseline / 1024,
        peak / 1024,
        refused.load(Ordering::Relaxed)
    );
    assert!(
        grown_mib <= BUDGET_MIB + MARGIN_MIB,
        "{framework}: the receiver grew by {grown_mib} MiB under {CONNECTIONS} connections holding 1 MiB bodies"
    );

    // It still answers: an unsigned delivery is refused at once.
    let response = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"event":"error_occurred","id":"evt_1","timestamp":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "{framework}");
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_memory_stays_bounded_under_1000_connections() {
    attack("axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_web_memory_stays_bounded_under_1000_connections() {
    attack("actix-web").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warp_memory_stays_bounded_under_1000_connections() {
    attack("warp").await;
}
