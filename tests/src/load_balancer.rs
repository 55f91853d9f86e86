//! A round-robin HTTP load balancer in front of the instances, on a loopback port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};

use super::lock;

/// A round-robin HTTP load balancer on a loopback port: request `n` goes to
/// `backends[n % len]`, whatever connection it came on (so a sender's retries spread
/// over the instances as they would behind a real balancer).
#[derive(Debug)]
pub struct LoadBalancer {
    addr: SocketAddr,
    state: Arc<Balancing>,
}

#[derive(Debug)]
struct Balancing {
    backends: Vec<SocketAddr>,
    next: Mutex<usize>,
    routed: Mutex<Vec<(SocketAddr, u16)>>,
    http: reqwest::Client,
}

impl LoadBalancer {
    /// Starts a balancer in front of `backends` (at least one).
    pub async fn start(backends: Vec<SocketAddr>) -> LoadBalancer {
        assert!(!backends.is_empty(), "a load balancer needs a backend");
        let state = Arc::new(Balancing {
            backends,
            next: Mutex::new(0),
            routed: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
        });
        let app = Router::new()
            .route("/webhook", axum::routing::post(forward))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        LoadBalancer { addr, state }
    }

    /// `http://{addr}/webhook`.
    pub fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    /// Each request so far: the backend it went to and the status it answered (502
    /// when the backend could not be reached).
    pub fn routed(&self) -> Vec<(SocketAddr, u16)> {
        lock(&self.state.routed).clone()
    }
}

async fn forward(State(state): State<Arc<Balancing>>, headers: HeaderMap, body: Bytes) -> Response {
    let backend = {
        let mut next = lock(&state.next);
        let backend = state.backends[*next % state.backends.len()];
        *next += 1;
        backend
    };
    let mut request = state
        .http
        .post(format!("http://{backend}/webhook"))
        .body(body.to_vec());
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let (status, retry_after, content_type, body) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let (retry_after, content_type) = (header("retry-after"), header("content-type"));
            let body = response.bytes().await.unwrap_or_default().to_vec();
            (status, retry_after, content_type, body)
        }
        Err(_) => (502, None, None, Vec::new()),
    };
    lock(&state.routed).push((backend, status));
    let mut response = (
        AxumStatus::from_u16(status).unwrap_or(AxumStatus::BAD_GATEWAY),
        body,
    )
        .into_response();
    for (name, value) in [("retry-after", retry_after), ("content-type", content_type)] {
        if let Some(value) = value.and_then(|value| value.parse().ok()) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
