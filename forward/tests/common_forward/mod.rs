//! Shared plumbing of the forwarder tests, over real loopback HTTP: a scripted
//! stand-in of the target (an axum server on 127.0.0.1:0 that records every
//! request and answers from a script), a forwarder under test, and MegaBot's
//! side (signed deliveries, by hand or with the SDK's sender).

#![allow(dead_code, unreachable_pub)] // each test binary uses what its target needs

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use megabot_webhook_forward::{
    Env, Error, Forwarder, RetrySettings, Selection, Target, router, run,
};
use megabot_webhook_sender::config::{EndpointConfig, RetryPolicy, SecretKeys, WebhooksConfig};
use megabot_webhook_sender::{EndpointReport, Sender};
use megabot_webhook_types::examples::example;
use megabot_webhook_types::{Event, EventName};
use megabot_webhook_verify::{Secret, Verifier, sign};
use serde_json::Value;
use tokio::time::Instant;

/// The secret MegaBot signs with and the forwarders verify.
pub const SECRET: &str = "forwarder_test_secret";

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// Path and query.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it arrived.
    pub at: Instant,
    /// What the stand-in answered.
    pub status: u16,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An answer of the stand-in.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

#[derive(Debug)]
struct StandInState {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Reply>>,
    default: Reply,
}

/// A stand-in of a target's API.
#[derive(Debug, Clone)]
pub struct StandIn {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    state: Arc<StandInState>,
}

impl StandIn {
    /// Starts a stand-in that answers `default` unless scripted otherwise.
    pub async fn start(default: Reply) -> StandIn {
        let state = Arc::new(StandInState {
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            default,
        });
        let app = Router::new()
            .fallback(capture)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        StandIn { url, state }
    }

    /// The next requests get these answers, in order; then the default again.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests answered 2xx.
    pub fn successes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }
}

async fn capture(
    State(state): State<Arc<StandInState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let reply = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| state.default.clone());
    state.requests.lock().unwrap().push(Recorded {
        method,
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
        headers,
        body,
        at,
        status: reply.status,
    });
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// Short retries for tests: `max_attempts` attempts 50 ms apart (doubling),
/// 2 s per request, an 8 s budget.
pub fn quick_retry(max_attempts: u32) -> RetrySettings {
    RetrySettings {
        policy: {
            let mut value = RetryPolicy::default();
            value.max_attempts = max_attempts;
            value.backoff_multiplier = 2.0;
            value.initial_delay = 0.05;
            value.max_delay = 3.0;
            value.jitter = false;
            value
        },
        attempt_timeout: Duration::from_secs(2),
        budget: Duration::from_secs(8),
    }
}

/// The verifier of the forwarders under test.
pub fn verifier() -> Verifier {
    Verifier::builder()
        .megabot_secret(Secret::new(SECRET).unwrap())
        .build()
        .unwrap()
}

/// Serves a forwarder of `target` on 127.0.0.1:0; returns its `/webhook` URL.
pub async fn start_forwarder<T: Target>(target: T, selection: Selection) -> String {
    let app = router(verifier(), Arc::new(Forwarder::new(target, selection)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// The guide's example of `name`, stamped now (so it is fresh) with a unique id.
pub fn fresh(name: EventName) -> Event {
    let mut event = example(name);
    event.timestamp = Utc::now();
    event.id = format!(
        "{}_{}_{}",
        event.id,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    event
}

/// `event` with its `data` replaced (parsed again, so it stays typed).
pub fn with_data(event: &Event, data: Value) -> Event {
    let mut envelope = event.to_value();
    envelope["data"] = data;
    Event::from_slice(envelope.to_string().as_bytes()).unwrap()
}

/// What the forwarder answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
}

/// POSTs `event` to `url` as MegaBot does: the guide's body bytes, signed.
pub async fn deliver(url: &str, event: &Event) -> Answer {
    let body = event.to_guide_json();
    let signature = sign::megabot_signature(&Secret::new(SECRET).unwrap(), &body);
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "MegaBot-Webhook/1.0")
        .header("x-megabot-signature", signature)
        .header("x-megabot-event", event.name())
        .header("x-megabot-delivery", event.id.as_str())
        .header("x-megabot-timestamp", event.unix_timestamp().to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap();
    Answer {
        status,
        retry_after,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// MegaBot's side: the SDK's sender with `max_attempts` attempts `wait_ms`
/// apart, delivering one event to the forwarder at `url`.
pub async fn send_with_sender(
    url: &str,
    event: &Event,
    max_attempts: u32,
    wait_ms: u64,
) -> EndpointReport {
    let mut endpoint = EndpointConfig::new(url);
    endpoint.retry_policy = {
        let mut value = RetryPolicy::default();
        value.max_attempts = max_attempts;
        value.backoff_multiplier = 1.0;
        value.initial_delay = wait_ms as f64 / 1000.0;
        value.max_delay = 10.0;
        value.jitter = false;
        value
    };
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::one(SECRET));
        value.endpoints = vec![endpoint];
        value
    };
    let (sender, _warnings) = Sender::builder(config).build().unwrap();
    let report = sender.send(event).await.unwrap();
    assert_eq!(report.deliveries.len(), 1, "{report:?}");
    report.deliveries.into_iter().next().unwrap()
}

/// A forwarder started the way its binary starts — [`run`] with settings
/// read from an environment — on a task aborted on drop.
#[derive(Debug)]
pub struct Running {
    task: tokio::task::JoinHandle<Result<(), Error>>,
    /// Its `/webhook` URL.
    pub url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs [`run`] with only `envs` (plus `FORWARDER_ADDR` on a free loopback
/// port and the test secret) as its environment, and waits until it answers
/// `GET /health`.
pub async fn spawn_run<T, F>(
    default_events: &'static [&'static str],
    make_target: F,
    envs: &[(&str, String)],
) -> Running
where
    T: Target,
    F: FnOnce(&Env, &RetrySettings) -> Result<T, Error> + Send + 'static,
{
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut pairs: Vec<(String, String)> = vec![
        ("FORWARDER_ADDR".to_owned(), format!("127.0.0.1:{port}")),
        ("MEGABOT_WEBHOOK_SECRET".to_owned(), SECRET.to_owned()),
    ];
    pairs.extend(envs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let env = Env::from_pairs(pairs);
    let task = tokio::spawn(async move { run(&env, default_events, make_target).await });
    let running = Running {
        task,
        url: format!("http://127.0.0.1:{port}/webhook"),
    };
    let health = format!("http://127.0.0.1:{port}/health");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(response) = client.get(&health).send().await
            && response.status().is_success()
        {
            return running;
        }
        assert!(!running.task.is_finished(), "the forwarder stopped early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the forwarder did not start listening on port {port}");
}
