//! What the `sender` and `dispatcher` benches share: the resident set, and the
//! verifying receiver (the adapters' axum `webhook` route) run as a child process of
//! the bench binary itself (`--receiver`), so that its replay store does not count.

use std::sync::Arc;

use megabot_webhook_adapters::Webhook;
use megabot_webhook_verify::{MemoryReplayGuard, Secret, Verifier};

/// The secret every delivery of these benches is signed with.
pub(crate) const SECRET: &str = "your_webhook_secret";

pub(crate) fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux)");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Starts the receiver process and returns its address.
pub(crate) fn spawn_receiver() -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .arg("--receiver")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("receiver process");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("receiver address");
    (child, line.trim().parse().expect("address"))
}

/// The receiver process: prints its address, serves until killed.
pub(crate) fn receiver() {
    use axum::Router;
    use axum::http::StatusCode;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    println!("{addr}");
    let verifier = Verifier::builder()
        .megabot_secret(Secret::new(SECRET).expect("secret"))
        .replay_guard(Arc::new(MemoryReplayGuard::new(2_000_000)))
        .build()
        .expect("verifier");
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let app = Router::new()
                .route(
                    "/webhook",
                    megabot_webhook_adapters::axum::webhook(|hook: Webhook| async move {
                        std::hint::black_box(hook.event().name().len());
                        StatusCode::NO_CONTENT
                    }),
                )
                .with_state(verifier);
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app).await.expect("serve");
        });
    }
}
