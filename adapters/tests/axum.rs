//! The shared webhook cases against axum 0.8, plus axum-only wiring checks.
#![cfg(feature = "axum")]

#[macro_use]
mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use megabot_webhook_adapters::axum::webhook;
use megabot_webhook_adapters::{Verifier, Webhook};

use common::{Recorder, handler_body};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn handler(
    recorder: Arc<Recorder>,
) -> impl Fn(Webhook) -> Pin<Box<dyn Future<Output = axum::response::Response> + Send>> + Clone {
    move |hook: Webhook| {
        let recorder = Arc::clone(&recorder);
        Box::pin(async move {
            let status = recorder.handle(hook).await;
            let status = StatusCode::from_u16(status).unwrap();
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                handler_body(status.as_u16()),
            )
                .into_response()
        })
    }
}

fn start(
    verifier: Verifier,
    recorder: Arc<Recorder>,
) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
    let app = Router::new()
        .route("/webhook", webhook(handler(recorder)))
        .with_state(verifier);
    Box::pin(serve(app))
}

webhook_cases!(start);

/// Head extractors before the webhook (`State` here) work, and a layer on the route
/// sees the answer the claim was settled by.
#[tokio::test]
async fn state_extractor_and_route_layers_work() {
    #[derive(Clone)]
    struct AppState {
        verifier: Verifier,
        recorder: Arc<Recorder>,
    }
    impl axum::extract::FromRef<AppState> for Verifier {
        fn from_ref(state: &AppState) -> Verifier {
            state.verifier.clone()
        }
    }
    async fn handle(State(state): State<AppState>, hook: Webhook) -> (StatusCode, String) {
        let status = state.recorder.handle(hook).await;
        (StatusCode::from_u16(status).unwrap(), handler_body(status))
    }
    let recorder = Recorder::new();
    let state = AppState {
        verifier: common::verifier(),
        recorder: Arc::clone(&recorder),
    };
    let route = webhook(handle).layer(axum::middleware::map_response(
        |mut response: axum::response::Response| async move {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            response
        },
    ));
    let app = Router::new().route("/webhook", route).with_state(state);
    let client = common::Client::new(serve(app).await);
    let body = common::envelope(
        "error_occurred",
        "evt_state",
        common::now(),
        serde_json::json!({}),
    );
    let headers = common::megabot_headers(common::SECRET, &body);
    client.post(&headers, body.clone()).await.assert_handled();
    client.post(&headers, body).await.assert_duplicate();
    assert_eq!(recorder.calls(), 1);
}

/// Other methods than `POST` are not handled (405), and nothing is claimed.
#[tokio::test]
async fn other_methods_are_not_allowed() {
    let recorder = Recorder::new();
    let app = Router::new()
        .route("/webhook", webhook(handler(Arc::clone(&recorder))))
        .with_state(common::verifier());
    let addr = serve(app).await;
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{addr}/webhook"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(recorder.calls(), 0);
}

/// design 9.8 over HTTP: with a 1 MiB budget, a slow body holding 600 KiB makes a second
/// 600 KiB request `503 buffer_budget_exhausted` (`Retry-After: 1`, connection closed,
/// body unread); a stalled body gets `408 body_read_timeout`; the budget is all given
/// back afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffer_budget_and_body_read_timeout() {
    use megabot_webhook_adapters::Limits;
    use megabot_webhook_adapters::axum::webhook_with_limits;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    let limits = Limits::global()
        .buffer_budget(1 << 20)
        .body_read_timeout(Duration::from_millis(800));
    let recorder = Recorder::new();
    let app = Router::new()
        .route(
            "/webhook",
            webhook_with_limits(limits.clone(), handler(Arc::clone(&recorder))),
        )
        .with_state(common::verifier());
    let addr = serve(app).await;
    let head = |length: usize| {
        format!(
            "POST /webhook HTTP/1.1\r\nhost: 127.0.0.1\r\nx-megabot-signature: sha256={}\r\ncontent-length: {length}\r\n\r\n",
            "0".repeat(64)
        )
    };
    // The slow body: 1 KiB of 600 KiB, then nothing.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(head(600 << 10).as_bytes()).await.unwrap();
    slow.write_all(&[b'a'; 1024]).await.unwrap();
    let started = std::time::Instant::now();
    while limits.buffer_budget_in_use() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "slow body not accounted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(limits.buffer_budget_in_use(), 600 << 10);
    let answer = common::raw_exchange(addr, &head(600 << 10), b"").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains(r#""error":"buffer_budget_exhausted""#),
        "{answer}"
    );
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 1\r\n"), "{answer}");
    assert!(lower.contains("connection: close\r\n"), "{answer}");
    assert!(limits.buffer_budget_in_use() <= limits.buffer_budget_total());
    // The slow body stalls past the read timeout: 408, and its share is given back.
    let mut answer = Vec::new();
    let read = tokio::io::AsyncReadExt::read_to_end(&mut slow, &mut answer);
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#""error":"body_read_timeout""#),
        "{answer}"
    );
    assert_eq!(limits.buffer_budget_in_use(), 0);
    assert_eq!(recorder.calls(), 0);
}
