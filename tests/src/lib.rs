//! The harness of the workspace's end-to-end tests: receiver instances of each
//! framework (axum, actix-web, warp) on their own loopback ports, a recording handler
//! shared by all instances (like the database behind them), a round-robin HTTP load
//! balancer in front of them, signed deliveries, a loopback client, the SDK's own
//! [`Sender`] set up for fast retries (the throw-away `redis-server` is
//! `megabot_webhook_test_support::RedisServer`).
//!
//! The tests themselves live in `tests/`.

mod load_balancer;

pub use load_balancer::LoadBalancer;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::http::StatusCode as ActixStatus;
use actix_web::{App, HttpResponse, HttpServer, web};
use axum::Router;
use axum::http::StatusCode as AxumStatus;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_sender::Sender;
use megabot_webhook_sender::config::{EndpointConfig, RetryPolicy, SecretKeys, WebhooksConfig};
use megabot_webhook_verify::{RedisReplayGuard, Secret, Verifier, sign};
use serde_json::Value;
use warp::Filter;

/// The MegaBot-scheme secret every instance holds.
pub const SECRET: &str = "e2e_webhook_secret";

/// The web framework an instance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    /// axum 0.8 with `megabot_webhook_adapters::axum::webhook`.
    Axum,
    /// actix-web 4 with `megabot_webhook_adapters::actix_web::webhook`, on its own
    /// thread and actix runtime (as an actix application runs).
    ActixWeb,
    /// warp 0.4 with `megabot_webhook_adapters::warp::webhook`.
    Warp,
}

impl Framework {
    /// All three.
    pub const ALL: [Framework; 3] = [Framework::Axum, Framework::ActixWeb, Framework::Warp];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Framework::Axum => "axum",
            Framework::ActixWeb => "actix-web",
            Framework::Warp => "warp",
        }
    }
}

/// What the handler does on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer 200.
    Succeed,
    /// Answer 500 (the claim is released, so the sender's retry runs).
    Fail,
    /// Sleep, then answer 200.
    SleepThenSucceed(Duration),
}

/// One run of the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The instance that ran it.
    pub instance: String,
    /// The delivery's id.
    pub delivery_id: String,
    /// Whether it answered 2xx.
    pub succeeded: bool,
}

/// The handler shared by every instance: records each run and follows a script of
/// actions (then its default, [`Action::Succeed`] unless set).
#[derive(Debug, Default)]
pub struct Recorder {
    runs: Mutex<Vec<Run>>,
    script: Mutex<VecDeque<Action>>,
    default: Mutex<Option<Action>>,
}

impl Recorder {
    /// A recorder whose handler always succeeds.
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    /// Runs `actions` on the next calls (whichever instance gets them), then succeeds.
    pub fn script(actions: &[Action]) -> Arc<Recorder> {
        let recorder = Recorder::default();
        lock(&recorder.script).extend(actions);
        Arc::new(recorder)
    }

    /// Runs `action` on every call.
    pub fn always(action: Action) -> Arc<Recorder> {
        let recorder = Recorder::default();
        *lock(&recorder.default) = Some(action);
        Arc::new(recorder)
    }

    /// Every run so far, in order.
    pub fn runs(&self) -> Vec<Run> {
        lock(&self.runs).clone()
    }

    /// The runs of one delivery.
    pub fn runs_of(&self, delivery_id: &str) -> Vec<Run> {
        lock(&self.runs)
            .iter()
            .filter(|run| run.delivery_id == delivery_id)
            .cloned()
            .collect()
    }

    /// How often one delivery's handler succeeded.
    pub fn successes_of(&self, delivery_id: &str) -> usize {
        self.runs_of(delivery_id)
            .iter()
            .filter(|run| run.succeeded)
            .count()
    }

    /// The handler: returns the status to answer.
    async fn handle(&self, instance: &str, hook: Webhook) -> u16 {
        let action = lock(&self.script).pop_front();
        let action = action.or(*lock(&self.default)).unwrap_or(Action::Succeed);
        let status = match action {
            Action::Succeed => 200,
            Action::Fail => 500,
            Action::SleepThenSucceed(duration) => {
                tokio::time::sleep(duration).await;
                200
            }
        };
        lock(&self.runs).push(Run {
            instance: instance.to_owned(),
            delivery_id: hook.delivery_id().to_owned(),
            succeeded: status == 200,
        });
        status
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The handler's answer body.
fn handler_body(status: u16) -> &'static str {
    if status == 200 {
        r#"{"handled":true}"#
    } else {
        r#"{"handled":false}"#
    }
}

/// How a receiver instance is set up.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    /// The shared Redis.
    pub redis_url: String,
    /// The Redis key prefix (the same on every instance of one application).
    pub prefix: String,
    /// The verifier's timestamp tolerance (both directions).
    pub tolerance: Duration,
    /// The Redis guard's per-operation timeout.
    pub redis_timeout: Duration,
}

impl InstanceConfig {
    /// Defaults: the guard's default prefix, 300 s tolerance, 500 ms Redis timeout.
    pub fn new(redis_url: impl Into<String>) -> InstanceConfig {
        InstanceConfig {
            redis_url: redis_url.into(),
            prefix: megabot_webhook_verify::DEFAULT_REDIS_PREFIX.to_owned(),
            tolerance: Duration::from_secs(300),
            redis_timeout: Duration::from_millis(500),
        }
    }

    /// The verifier of one instance, with its own Redis connection.
    pub async fn verifier(&self) -> Verifier {
        let guard = RedisReplayGuard::builder(self.redis_url.as_str())
            .prefix(self.prefix.as_str())
            .timeout(self.redis_timeout)
            .connect()
            .await
            .unwrap_or_else(|error| panic!("connect the replay guard to redis: {error}"));
        Verifier::builder()
            .megabot_secret(Secret::new(SECRET).expect("valid secret"))
            .tolerance(self.tolerance)
            .replay_guard(Arc::new(guard))
            .build()
            .expect("valid verifier")
    }
}

/// A running receiver instance serving `POST /webhook` on 127.0.0.1.
#[derive(Debug)]
pub struct Instance {
    name: String,
    framework: Framework,
    addr: SocketAddr,
    actix: Option<actix_web::dev::ServerHandle>,
}

impl Instance {
    /// Starts an instance named `name` on `framework`; its handler is `recorder`'s.
    pub async fn start(
        framework: Framework,
        name: &str,
        config: &InstanceConfig,
        recorder: Arc<Recorder>,
    ) -> Instance {
        let name = name.to_owned();
        let (addr, actix) = match framework {
            Framework::Axum => (serve_axum(config, &name, recorder).await, None),
            Framework::Warp => (serve_warp(config, &name, recorder).await, None),
            Framework::ActixWeb => {
                let (addr, handle) = serve_actix(config.clone(), name.clone(), recorder).await;
                (addr, Some(handle))
            }
        };
        Instance {
            name,
            framework,
            addr,
            actix,
        }
    }

    /// The instance's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its framework.
    pub fn framework(&self) -> Framework {
        self.framework
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(handle) = &self.actix {
            // The stop command is sent at once; its completion is not awaited.
            drop(handle.stop(false));
        }
    }
}

async fn serve_axum(config: &InstanceConfig, name: &str, recorder: Arc<Recorder>) -> SocketAddr {
    let verifier = config.verifier().await;
    let name = name.to_owned();
    let handler = move |hook: Webhook| {
        let recorder = Arc::clone(&recorder);
        let name = name.clone();
        async move {
            let status = recorder.handle(&name, hook).await;
            (
                AxumStatus::from_u16(status).unwrap_or(AxumStatus::INTERNAL_SERVER_ERROR),
                [("content-type", "application/json")],
                handler_body(status),
            )
        }
    };
    let app = Router::new()
        .route("/webhook", megabot_webhook_adapters::axum::webhook(handler))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn serve_warp(config: &InstanceConfig, name: &str, recorder: Arc<Recorder>) -> SocketAddr {
    let verifier = config.verifier().await;
    let name = name.to_owned();
    let webhook = megabot_webhook_adapters::warp::webhook(verifier, move |hook: Webhook| {
        let recorder = Arc::clone(&recorder);
        let name = name.clone();
        async move {
            let status = recorder.handle(&name, hook).await;
            warp::reply::with_status(
                warp::reply::with_header(handler_body(status), "content-type", "application/json"),
                warp::http::StatusCode::from_u16(status)
                    .unwrap_or(warp::http::StatusCode::INTERNAL_SERVER_ERROR),
            )
        }
    });
    let routes = warp::path("webhook").and(warp::path::end()).and(webhook);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    addr
}

/// The instance name, as actix app data.
struct InstanceName(String);

async fn actix_handle(
    recorder: web::Data<Recorder>,
    name: web::Data<InstanceName>,
    hook: Webhook,
) -> HttpResponse {
    let status = recorder.handle(&name.0, hook).await;
    HttpResponse::build(ActixStatus::from_u16(status).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(handler_body(status))
}

/// Runs an actix-web instance on its own thread and actix runtime; the guard connects
/// there, as it would in an actix application's `main`.
async fn serve_actix(
    config: InstanceConfig,
    name: String,
    recorder: Arc<Recorder>,
) -> (SocketAddr, actix_web::dev::ServerHandle) {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let verifier = config.verifier().await;
            let recorder = web::Data::from(recorder);
            let name = web::Data::new(InstanceName(name));
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(verifier.clone()))
                    .app_data(recorder.clone())
                    .app_data(name.clone())
                    .service(megabot_webhook_adapters::actix_web::webhook(
                        "/webhook",
                        actix_handle,
                    ))
            })
            .workers(2)
            .disable_signals()
            .shutdown_timeout(0)
            .bind(("127.0.0.1", 0))
            .expect("bind a loopback port");
            let addr = server.addrs()[0];
            let running = server.run();
            let _ = sender.send((addr, running.handle()));
            let _ = running.await;
        });
    });
    receiver.await.expect("the actix-web instance started")
}

/// A signed delivery, as MegaBot sends it (MegaBot scheme).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The event id.
    pub id: String,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Delivery {
    /// An `error_occurred` delivery with this id, timestamped now.
    pub fn new(id: &str) -> Delivery {
        Delivery::at(id, chrono::Utc::now().timestamp())
    }

    /// An `error_occurred` delivery with this id and unix timestamp.
    pub fn at(id: &str, timestamp: i64) -> Delivery {
        let body = serde_json::to_vec(&serde_json::json!({
            "event": "error_occurred",
            "id": id,
            "timestamp": timestamp,
            "data": {
                "error_id": "err_1",
                "type": "LLMProviderError",
                "message": "rate limit",
                "severity": "error",
            },
        }))
        .expect("serialisable");
        let signature = sign::megabot_signature(&Secret::new(SECRET).expect("valid secret"), &body);
        Delivery {
            id: id.to_owned(),
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("user-agent", "MegaBot-Webhook/1.0".to_owned()),
                ("x-megabot-signature", signature),
                ("x-megabot-event", "error_occurred".to_owned()),
                ("x-megabot-delivery", id.to_owned()),
                ("x-megabot-timestamp", timestamp.to_string()),
            ],
            body,
        }
    }
}

/// One answer of an instance.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Which instance answered.
    pub addr: SocketAddr,
    /// The status (0 when the request failed before an answer).
    pub status: u16,
    /// `Retry-After` in seconds.
    pub retry_after: Option<u64>,
    /// The JSON body (`Null` when it is not JSON).
    pub body: Value,
}

impl Answer {
    /// The handler's own 200 answer.
    pub fn is_handled(&self) -> bool {
        self.status == 200 && self.body == serde_json::json!({ "handled": true })
    }

    /// `200 {"status":"duplicate"}`.
    pub fn is_duplicate(&self) -> bool {
        self.status == 200 && self.body == serde_json::json!({ "status": "duplicate" })
    }

    /// The `error` code of an error answer.
    pub fn error_code(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }

    /// True when MegaBot's sender stops retrying: any 2xx (handled or duplicate).
    pub fn is_final(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A loopback HTTP client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client without proxies and with a 30 s timeout.
    pub fn new() -> Client {
        Client {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
        }
    }

    /// POSTs `delivery` to `addr`'s `/webhook`.
    pub async fn send(&self, addr: SocketAddr, delivery: &Delivery) -> Answer {
        let mut request = self
            .http
            .post(format!("http://{addr}/webhook"))
            .body(delivery.body.clone());
        for (name, value) in &delivery.headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.trim().parse().ok());
                let bytes = response.bytes().await.unwrap_or_default();
                Answer {
                    addr,
                    status,
                    retry_after,
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                }
            }
            Err(_) => Answer {
                addr,
                status: 0,
                retry_after: None,
                body: Value::Null,
            },
        }
    }
}

/// The SDK's [`Sender`] for one endpoint `url`, signing with [`SECRET`]: up to
/// `max_attempts` attempts, `delay` apart (fixed backoff), `Retry-After` honoured up
/// to `max_delay`.
pub fn sender(url: &str, max_attempts: u32, delay: Duration, max_delay: Duration) -> Sender {
    let mut endpoint = EndpointConfig::new(url);
    endpoint.retry_policy = {
        let mut value = RetryPolicy::default();
        value.max_attempts = max_attempts;
        value.backoff_multiplier = 1.0;
        value.initial_delay = delay.as_secs_f64();
        value.max_delay = max_delay.as_secs_f64();
        value.jitter = false;
        value
    };
    endpoint.timeout = 10.0;
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::one(SECRET));
        value.endpoints = vec![endpoint];
        value
    };
    let (sender, warnings) = Sender::new(config).expect("valid sender config");
    assert!(warnings.is_empty(), "{warnings:?}");
    sender
}

impl Delivery {
    /// The delivery as the SDK's sender takes it (it signs it itself).
    pub fn for_sender(&self) -> megabot_webhook_sender::Delivery {
        megabot_webhook_sender::Delivery::from_json(&self.body).expect("a valid envelope")
    }
}

/// The repository README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct RootReadmeDoctests;
