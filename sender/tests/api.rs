// Over 600 lines: one API scenario per test (auth, validation errors, secrets,
// persistence, publish, events, deliveries) over the same loopback server, SQLite file
// and receiver fixtures.
//! The registration and events API over real loopback HTTP, on a real
//! SQLite file, delivering to loopback receivers: the bearer token, the
//! validation errors, secrets never returned, config endpoints read-only,
//! persistence across a restart, the guide's own `curl` body, publish,
//! duplicate publish, redelivery.
//!
//! Names other than `localhost` are resolved only by an injected
//! `StaticResolver`, and no packet goes to a non-loopback address.

#![cfg(all(feature = "api", feature = "sqlite"))]

mod common_dispatch;
#[cfg(feature = "redis")]
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common_dispatch::{Receiver, SECRET, always, config, endpoint, wait_for};
use megabot_webhook_sender::api::{self, ApiState};
use megabot_webhook_sender::config::WebhooksConfig;
use megabot_webhook_sender::dispatcher::{
    AttemptRecord, AttemptStart, DeliveryPage, DeliveryQuery, DeliveryRecord, DeliveryStore,
    Dispatcher, EndpointHealth, PublishBatch, PublishOutcome, Retention, SettleRequest,
    SqliteStore, StoreStats,
};
use megabot_webhook_sender::{DestinationPolicy, Resolver, StaticResolver};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use chrono::{DateTime, Utc};
use megabot_webhook_sender::Error;

const TOKEN: &str = "test-admin-token-0123456789-abcdefghij";
const LONG: Duration = Duration::from_secs(20);

/// The guide's `POST /api/webhooks` body, as printed in
/// `webhook-integration-guide.md`.
const GUIDE_BODY: &str = r#"{
    "url": "https://your-service.com/webhook",
    "events": ["chat_message", "tool_result"],
    "secret": "your_webhook_secret",
    "filters": {
      "platforms": ["telegram", "discord"],
      "min_severity": "info"
    }
  }"#;

/// A running API: the dispatcher, its router served on loopback.
struct Api {
    base: String,
    client: reqwest::Client,
    dispatcher: Arc<Dispatcher>,
    state: ApiState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

fn open(path: &Path) -> Arc<SqliteStore> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match SqliteStore::open(path) {
            Ok(store) => return Arc::new(store),
            Err(error) if error.code() == "store_locked" && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("open {}: {error}", path.display()),
        }
    }
}

impl Api {
    /// The API on the SQLite file `path` with `config`, loopback allowed
    /// (`allow_private_targets`, design 7's switch for local testing).
    async fn start(path: &Path, config: WebhooksConfig) -> Api {
        Api::start_with(
            path,
            config,
            DestinationPolicy::server().allow_private_targets(true),
            Arc::new(StaticResolver::new()),
        )
        .await
    }

    async fn start_with(
        path: &Path,
        config: WebhooksConfig,
        policy: DestinationPolicy,
        resolver: Arc<dyn Resolver>,
    ) -> Api {
        Api::start_on(open(path), config, policy, resolver).await
    }

    async fn start_on(
        store: Arc<dyn DeliveryStore>,
        config: WebhooksConfig,
        policy: DestinationPolicy,
        resolver: Arc<dyn Resolver>,
    ) -> Api {
        let (dispatcher, _) = Dispatcher::builder(config, store)
            .destination_policy(policy)
            .resolver(resolver)
            .poll_interval(Duration::from_millis(10))
            .build()
            .await
            .unwrap();
        let dispatcher = Arc::new(dispatcher);
        let (state, warnings) = ApiState::new(dispatcher.clone(), TOKEN).await.unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        dispatcher.start();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let app = api::router(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Api {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            dispatcher,
            state,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Stops the server and the dispatcher and lets go of the store.
    async fn stop(mut self) {
        self.client = reqwest::Client::new();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
        self.dispatcher.shutdown(Duration::from_secs(5)).await;
    }

    /// A request with `auth` as the `Authorization` header (if any) and
    /// `body` as raw text; the status, the `WWW-Authenticate` header and
    /// the body (JSON, or `null`).
    async fn raw(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, Option<String>, Value, String) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, challenge, value, text)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, value, _) = self
            .raw(
                method,
                path,
                Some(&format!("Bearer {TOKEN}")),
                body.map(|b| b.to_string()),
            )
            .await;
        (status, value)
    }

    async fn register(&self, body: Value) -> String {
        let (status, answer) = self.call(Method::POST, "/api/webhooks", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer["endpoint"]["id"].as_str().unwrap().to_owned()
    }
}

fn envelope(id: &str) -> Value {
    json!({
        "event": "error_occurred",
        "id": id,
        "timestamp": chrono::Utc::now().timestamp(),
        "data": {"severity": "error", "message": "boom"},
    })
}

fn registration(url: &str) -> Value {
    json!({"url": url, "events": ["error_occurred"], "secret": SECRET})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(&dir.path().join("s.sqlite3"), config(Vec::new())).await;
    let routes = [
        (Method::GET, "/api/webhooks", None),
        (Method::POST, "/api/webhooks", Some("{}")),
        (Method::GET, "/api/webhooks/ep_1", None),
        (Method::POST, "/api/events", Some("{}")),
        (Method::GET, "/api/deliveries", None),
        (Method::POST, "/api/deliveries/redeliver", Some("{}")),
        (Method::GET, "/api/stats", None),
        (Method::GET, "/api/nowhere", None),
    ];
    let wrong = format!("Bearer {}", TOKEN.replace('t', "x"));
    let basic = format!("Basic {TOKEN}");
    for (method, path, body) in routes {
        for (auth, code) in [
            (None, "missing_token"),
            (Some(basic.as_str()), "invalid_auth_scheme"),
            (Some(wrong.as_str()), "invalid_token"),
            (Some("Bearer"), "invalid_token"),
            (Some("Bearer short"), "invalid_token"),
        ] {
            let (status, challenge, answer, _) = api
                .raw(method.clone(), path, auth, body.map(str::to_owned))
                .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} {auth:?}");
            assert!(
                challenge
                    .as_deref()
                    .is_some_and(|c| c.starts_with("Bearer")),
                "{method} {path}: {challenge:?}"
            );
            assert_eq!(answer["error"], code, "{method} {path} {auth:?}: {answer}");
        }
        let right = format!("Bearer {TOKEN}");
        let (status, challenge, _, _) = api
            .raw(method.clone(), path, Some(&right), body.map(str::to_owned))
            .await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert!(challenge.is_none());
    }
    // The scheme is case-insensitive.
    let (status, _, _, _) = api
        .raw(
            Method::GET,
            "/api/webhooks",
            Some(&format!("bearer {TOKEN}")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Unknown routes: a JSON 404.
    let (status, answer) = api.call(Method::GET, "/api/nowhere", None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_admin_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatcher, _) = Dispatcher::builder(config(Vec::new()), open(&dir.path().join("s")))
        .build()
        .await
        .unwrap();
    let short = "x".repeat(31);
    let error = ApiState::new(Arc::new(dispatcher), &short)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("at least 32"), "{error}");
    assert!(!error.to_string().contains(&short));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_name_their_field() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(&dir.path().join("s.sqlite3"), config(Vec::new())).await;
    let ok = "http://127.0.0.1:9/hook";
    let big = format!(r#"{{"url":"{ok}","secret":"{}"}}"#, "x".repeat(2 << 20));
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "missing url",
            json!({"events": ["*"], "secret": "s"}).to_string(),
            StatusCode::BAD_REQUEST,
            "url",
        ),
        (
            "url not a string",
            json!({"url": 5, "secret": "s"}).to_string(),
            StatusCode::BAD_REQUEST,
            "url",
        ),
        (
            "bad url",
            json!({"url": "not a url", "secret": "s"}).to_string(),
            StatusCode::BAD_REQUEST,
            "url",
        ),
        (
            "ftp url",
            json!({"url": "ftp://127.0.0.1/x", "secret": "s"}).to_string(),
            StatusCode::BAD_REQUEST,
            "url",
        ),
        (
            "empty event pattern",
            json!({"url": ok, "events": ["error_occurred", ""], "secret": "s"}).to_string(),
            StatusCode::BAD_REQUEST,
            "events[1]",
        ),
        (
            "events not a list",
            json!({"url": ok, "events": 3, "secret": "s"}).to_string(),
            StatusCode::BAD_REQUEST,
            "events",
        ),
        (
            "max_attempts 51",
            json!({"url": ok, "secret": "s", "retry_policy": {"max_attempts": 51}}).to_string(),
            StatusCode::BAD_REQUEST,
            "retry_policy.max_attempts",
        ),
        (
            "max_delay 2 h",
            json!({"url": ok, "secret": "s", "retry_policy": {"max_delay": 7200}}).to_string(),
            StatusCode::BAD_REQUEST,
            "retry_policy.max_delay",
        ),
        (
            "max_attempts 0",
            json!({"url": ok, "secret": "s", "retry_policy": {"max_attempts": 0}}).to_string(),
            StatusCode::BAD_REQUEST,
            "retry_policy.max_attempts",
        ),
        (
            "unknown key",
            json!({"url": ok, "secret": "s", "retry_polcy": {}}).to_string(),
            StatusCode::BAD_REQUEST,
            "retry_polcy",
        ),
        (
            "unknown nested key",
            json!({"url": ok, "secret": "s", "retry_policy": {"max_attempt": 3}}).to_string(),
            StatusCode::BAD_REQUEST,
            "retry_policy.max_attempt",
        ),
        (
            "unknown filter",
            json!({"url": ok, "secret": "s", "filters": {"platform": ["x"]}}).to_string(),
            StatusCode::BAD_REQUEST,
            "filters.platform",
        ),
        (
            "cloud metadata",
            json!({"url": "http://169.254.169.254/latest", "secret": "s"}).to_string(),
            StatusCode::BAD_REQUEST,
            "url",
        ),
        (
            "bad JSON",
            r#"{"url": "#.to_owned(),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            "not an object",
            "[1]".to_owned(),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        ("body too large", big, StatusCode::PAYLOAD_TOO_LARGE, "body"),
    ];
    for (what, body, status, field) in cases {
        let (got, _, answer, _) = api
            .raw(
                Method::POST,
                "/api/webhooks",
                Some(&format!("Bearer {TOKEN}")),
                Some(body),
            )
            .await;
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["field"], field, "{what}: {answer}");
        assert!(
            answer["error"].is_string() && answer["message"].is_string(),
            "{what}: {answer}"
        );
    }
    // Nothing was registered.
    let (_, list) = api.call(Method::GET, "/api/webhooks", None).await;
    assert_eq!(list["endpoints"], json!([]));
    // Events: the id's pattern, the envelope's fields.
    for (body, field) in [
        (
            json!({"event": "error_occurred", "id": "a.b", "timestamp": 1}),
            "id",
        ),
        (
            json!({"event": "error_occurred", "id": "x".repeat(129), "timestamp": 1}),
            "id",
        ),
        (json!({"event": "error_occurred", "timestamp": 1}), "id"),
        (json!({"id": "evt_1", "timestamp": 1}), "event"),
        (
            json!({"event": "error_occurred", "id": "evt_1", "timestamp": "now"}),
            "timestamp",
        ),
    ] {
        let (status, answer) = api
            .call(Method::POST, "/api/events", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    // Without its own `secret`, a registration signs with the config's
    // `secret_key`.
    let (status, answer) = api
        .call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"url": ok, "events": ["*"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["endpoint"]["own_secret"], false);
    let id = answer["endpoint"]["id"].as_str().unwrap().to_owned();
    // A patch is checked as a registration is, naming the field.
    for (patch, field) in [
        (
            json!({"retry_policy": {"max_attempts": 51}}),
            "retry_policy.max_attempts",
        ),
        (json!({"url": null}), "url"),
        (json!({"url": "http://169.254.169.254/"}), "url"),
        (json!({"events": [""]}), "events[0]"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let (status, answer) = api
            .call(
                Method::PATCH,
                &format!("/api/webhooks/{id}"),
                Some(patch.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{patch}: {answer}");
        assert_eq!(answer["field"], field, "{patch}: {answer}");
    }
    let (status, answer) = api
        .call(Method::PATCH, "/api/webhooks/ep_nope", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = api.call(Method::PUT, "/api/webhooks", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{answer}");
    assert_eq!(answer["error"], "method_not_allowed");
    api.call(Method::DELETE, &format!("/api/webhooks/{id}"), None)
        .await;
    // A path id that is not UTF-8: a JSON 400, not a panic.
    let (status, answer) = api.call(Method::GET, "/api/webhooks/%FF%FE", None).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("id")),
        "{answer}"
    );
    // Lists: limit and parameters.
    for (path, field) in [
        ("/api/webhooks?limit=501", "limit"),
        ("/api/deliveries?limit=0", "limit"),
        ("/api/deliveries?status=gone", "status"),
        ("/api/deliveries?since=yesterday", "since"),
        ("/api/deliveries?colour=red", "colour"),
    ] {
        let (status, answer) = api.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["field"], field, "{path}: {answer}");
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_curl_body_is_registered_with_two_warnings() {
    let dir = tempfile::tempdir().unwrap();
    // The guide's host resolves (through the injected resolver only) to a
    // global address: the default policy takes it. Nothing is published, so
    // nothing is ever sent there.
    let resolver =
        StaticResolver::new().with("your-service.com", ["93.184.215.14".parse().unwrap()]);
    let api = Api::start_with(
        &dir.path().join("s.sqlite3"),
        WebhooksConfig::default(),
        DestinationPolicy::server(),
        Arc::new(resolver),
    )
    .await;
    let (status, _, answer, text) = api
        .raw(
            Method::POST,
            "/api/webhooks",
            Some(&format!("Bearer {TOKEN}")),
            Some(GUIDE_BODY.to_owned()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let warnings = answer["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{answer}");
    assert_eq!(warnings[0]["field"], "events[0]");
    assert_eq!(warnings[1]["field"], "events[1]");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("chat_message"),
        "{answer}"
    );
    assert!(
        warnings[1]["message"]
            .as_str()
            .unwrap()
            .contains("tool_result"),
        "{answer}"
    );
    let endpoint = &answer["endpoint"];
    assert!(endpoint["id"].as_str().unwrap().starts_with("ep_"));
    assert_eq!(endpoint["url"], "https://your-service.com/webhook");
    assert_eq!(endpoint["has_secret"], true);
    assert_eq!(
        endpoint["filters"]["platforms"],
        json!(["telegram", "discord"])
    );
    assert!(!text.contains("your_webhook_secret"), "{text}");

    // A name resolving to a private address is refused under the default
    // policy, naming `url`; one that does not resolve is accepted with a
    // warning.
    let resolver = StaticResolver::new().with("intranet.example", ["10.1.2.3".parse().unwrap()]);
    let other = tempfile::tempdir().unwrap();
    let strict = Api::start_with(
        &other.path().join("s.sqlite3"),
        WebhooksConfig::default(),
        DestinationPolicy::server(),
        Arc::new(resolver),
    )
    .await;
    let (status, answer) = strict
        .call(
            Method::POST,
            "/api/webhooks",
            Some(registration("https://intranet.example/hook")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        (answer["error"].as_str(), answer["field"].as_str()),
        (Some("destination_refused"), Some("url"))
    );
    let (status, answer) = strict
        .call(
            Method::POST,
            "/api/webhooks",
            Some(registration("https://127.0.0.1/hook")),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("url")),
        "{answer}"
    );
    let (status, answer) = strict
        .call(
            Method::POST,
            "/api/webhooks",
            Some(registration("https://not-yet.example/hook")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["warnings"][0]["field"], "url", "{answer}");
    strict.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_header_values_and_url_passwords_are_never_returned() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(&dir.path().join("s.sqlite3"), config(Vec::new())).await;
    let hidden = [
        SECRET,
        "hdr-value-never-shown",
        "pw-never-shown",
        "c2VjcmV0LW5ldmVyLXNob3du",
    ];
    let url = receiver
        .url
        .replace("http://", "http://user:pw-never-shown@");
    let body = json!({
        "url": url,
        "events": ["*"],
        "secret": SECRET,
        "headers": {"Authorization": "Bearer hdr-value-never-shown"},
        "standard_webhooks": {"secret": "whsec_c2VjcmV0LW5ldmVyLXNob3du"},
    });
    let auth = format!("Bearer {TOKEN}");
    let mut texts = Vec::new();
    let (status, _, answer, text) = api
        .raw(
            Method::POST,
            "/api/webhooks",
            Some(&auth),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    texts.push(text);
    let id = answer["endpoint"]["id"].as_str().unwrap().to_owned();
    assert_eq!(answer["endpoint"]["header_names"], json!(["Authorization"]));
    assert_eq!(answer["endpoint"]["standard_webhooks"]["has_secret"], true);
    assert!(answer["endpoint"]["url"].as_str().unwrap().contains("****"));
    let (_, _, answer, text) = api
        .raw(
            Method::POST,
            "/api/events",
            Some(&auth),
            Some(envelope("evt_hidden").to_string()),
        )
        .await;
    texts.push(text);
    let delivery = answer["deliveries"][0]["id"].as_str().unwrap().to_owned();
    wait_for("delivered", LONG, || async {
        receiver.handled_count() == 1
    })
    .await;
    for (method, path, body) in [
        (Method::GET, "/api/webhooks".to_owned(), None),
        (Method::GET, format!("/api/webhooks/{id}"), None),
        (
            Method::PATCH,
            format!("/api/webhooks/{id}"),
            Some(json!({"events": ["error_occurred"]}).to_string()),
        ),
        // Misshapen values of the sensitive keys are not echoed.
        (
            Method::PATCH,
            format!("/api/webhooks/{id}"),
            Some(json!({"headers": "Bearer hdr-value-never-shown"}).to_string()),
        ),
        (
            Method::POST,
            "/api/webhooks".to_owned(),
            Some(json!({"url": url, "secret": ["pw-never-shown", 5]}).to_string()),
        ),
        (
            Method::POST,
            "/api/webhooks".to_owned(),
            Some(
                json!({"url": url, "secret": "", "retry_policy": {"max_attempts": 99}}).to_string(),
            ),
        ),
        (Method::GET, "/api/deliveries".to_owned(), None),
        (Method::GET, format!("/api/deliveries/{delivery}"), None),
        (Method::POST, format!("/api/webhooks/{id}/enable"), None),
        (Method::GET, "/api/stats".to_owned(), None),
    ] {
        let (_, _, _, text) = api.raw(method, &path, Some(&auth), body).await;
        texts.push(text);
    }
    for text in &texts {
        for secret in hidden {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_endpoints_are_read_only_but_for_enable() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(
        &dir.path().join("s.sqlite3"),
        config(vec![endpoint(&receiver.url, 3, 0.0)]),
    )
    .await;
    let (status, list) = api.call(Method::GET, "/api/webhooks", None).await;
    assert_eq!(status, StatusCode::OK);
    let id = list["endpoints"][0]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cfg_"), "{list}");
    assert_eq!(list["endpoints"][0]["read_only"], true);
    let (status, answer) = api
        .call(
            Method::PATCH,
            &format!("/api/webhooks/{id}"),
            Some(json!({"events": ["*"]})),
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("read_only_endpoint"))
    );
    let (status, answer) = api
        .call(Method::DELETE, &format!("/api/webhooks/{id}"), None)
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("read_only_endpoint"))
    );
    let (status, answer) = api
        .call(Method::POST, &format!("/api/webhooks/{id}/enable"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["endpoint"]["disabled"], false);
    let (status, answer) = api.call(Method::GET, "/api/webhooks/ep_nope", None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("endpoint_not_found"))
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_endpoints_persist_across_a_restart() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let api = Api::start(&path, config(Vec::new())).await;
    let id = api.register(registration(&receiver.url)).await;
    let (status, answer) = api
        .call(
            Method::PATCH,
            &format!("/api/webhooks/{id}"),
            Some(json!({"events": ["error_*"], "retry_policy": {"max_attempts": 7}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    api.stop().await;

    let api = Api::start(&path, config(Vec::new())).await;
    let (_, list) = api.call(Method::GET, "/api/webhooks", None).await;
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["endpoints"][0]["id"], id.as_str());
    assert_eq!(list["endpoints"][0]["events"], json!(["error_*"]));
    assert_eq!(list["endpoints"][0]["retry_policy"]["max_attempts"], 7);
    let (status, answer) = api
        .call(
            Method::POST,
            "/api/events",
            Some(envelope("evt_after_restart")),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["deliveries"][0]["endpoint_id"], id.as_str());
    wait_for("delivered after the restart", LONG, || async {
        receiver.handled().contains_key("evt_after_restart")
    })
    .await;
    // Deleted: gone for good, after another restart too.
    let (status, _) = api
        .call(Method::DELETE, &format!("/api/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    api.stop().await;
    let api = Api::start(&path, config(Vec::new())).await;
    let (_, list) = api.call(Method::GET, "/api/webhooks", None).await;
    assert_eq!(list["endpoints"], json!([]));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_delivers_and_a_duplicate_answers_the_same_deliveries() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(&dir.path().join("s.sqlite3"), config(Vec::new())).await;
    let a = api.register(registration(&receiver.url)).await;
    let b = api
        .register(json!({"url": receiver.url, "events": ["chat_*"], "secret": SECRET}))
        .await;
    let event = envelope("evt_publish_1");
    let (status, first) = api
        .call(Method::POST, "/api/events", Some(event.clone()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["created"], true);
    let deliveries = first["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{first}");
    assert_eq!(deliveries[0]["endpoint_id"], a.as_str());
    assert_ne!(deliveries[0]["endpoint_id"], b.as_str());
    assert!(deliveries[0]["id"].as_str().unwrap().starts_with("dlv_"));
    wait_for("delivered", LONG, || async {
        receiver.handled_count() == 1
    })
    .await;
    let (status, again) = api.call(Method::POST, "/api/events", Some(event)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["deliveries"][0]["id"], deliveries[0]["id"]);
    // Unknown and misshapen events are delivered as they are, with a warning.
    let odd = json!({"event": "brand_new_event", "id": "evt_odd", "timestamp": chrono::Utc::now().timestamp(), "data": "not an object"});
    let unknown = api
        .register(json!({"url": receiver.url, "events": ["*"], "secret": SECRET}))
        .await;
    let (status, answer) = api.call(Method::POST, "/api/events", Some(odd)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["warnings"][0]["field"], "event");
    assert_eq!(answer["deliveries"][0]["endpoint_id"], unknown.as_str());
    wait_for("the odd event delivered", LONG, || async {
        receiver.handled().contains_key("evt_odd")
    })
    .await;
    let path = format!("/api/deliveries?event=evt_publish_1&status=delivered&endpoint={a}");
    wait_for("listed as delivered", LONG, || async {
        api.call(Method::GET, &path, None).await.1["deliveries"]
            .as_array()
            .map(Vec::len)
            == Some(1)
    })
    .await;
    // Time filters: RFC 3339 or unix seconds.
    let hour_ago = chrono::Utc::now().timestamp() - 3_600;
    let (_, recent) = api
        .call(
            Method::GET,
            &format!("/api/deliveries?event=evt_publish_1&since={hour_ago}"),
            None,
        )
        .await;
    assert_eq!(
        recent["deliveries"].as_array().map(Vec::len),
        Some(1),
        "{recent}"
    );
    let until = chrono::DateTime::from_timestamp(hour_ago, 0)
        .unwrap()
        .to_rfc3339();
    let (status, old) = api
        .call(
            Method::GET,
            &format!(
                "/api/deliveries?event=evt_publish_1&until={}",
                until.replace('+', "%2B")
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{old}");
    assert_eq!(old["deliveries"], json!([]), "{old}");
    let (status, shown) = api
        .call(
            Method::GET,
            &format!("/api/deliveries/{}", deliveries[0]["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["attempts"][0]["status"], 200);
    // Pagination of the endpoints.
    let (_, page) = api.call(Method::GET, "/api/webhooks?limit=2", None).await;
    assert_eq!(page["endpoints"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = api
        .call(
            Method::GET,
            &format!("/api/webhooks?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(rest["endpoints"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_deliveries_are_redelivered_one_by_one_and_in_bulk() {
    let receiver = Receiver::start(always(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(&dir.path().join("s.sqlite3"), config(Vec::new())).await;
    let id = api
        .register(json!({"url": receiver.url, "events": ["*"], "secret": SECRET, "retry_policy": {"max_attempts": 1}}))
        .await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (_, answer) = api
            .call(
                Method::POST,
                "/api/events",
                Some(envelope(&format!("evt_dead_{n}"))),
            )
            .await;
        ids.push(answer["deliveries"][0]["id"].as_str().unwrap().to_owned());
    }
    let dead = format!("/api/deliveries?status=dead&endpoint={id}");
    wait_for("all dead", LONG, || async {
        api.call(Method::GET, &dead, None).await.1["deliveries"]
            .as_array()
            .map(Vec::len)
            == Some(3)
    })
    .await;
    receiver.set_script(always(200));
    let (status, answer) = api
        .call(
            Method::POST,
            &format!("/api/deliveries/{}/redeliver", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["delivery"]["status"], "pending");
    wait_for("the first delivered", LONG, || async {
        receiver.handled().contains_key("evt_dead_0")
    })
    .await;
    wait_for("the first settled", LONG, || async {
        api.call(Method::GET, &format!("/api/deliveries/{}", ids[0]), None)
            .await
            .1["delivery"]["status"]
            == "delivered"
    })
    .await;
    let (status, answer) = api
        .call(
            Method::POST,
            &format!("/api/deliveries/{}/redeliver", ids[0]),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::CONFLICT, Some("not_dead"))
    );
    let (status, answer) = api
        .call(Method::POST, "/api/deliveries/dlv_nope/redeliver", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = api
        .call(
            Method::POST,
            "/api/deliveries/redeliver",
            Some(json!({"endpoint": id})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["count"], 2, "{answer}");
    wait_for("all delivered", LONG, || async {
        receiver.handled_count() == 3
    })
    .await;
    let (status, answer) = api
        .call(
            Method::POST,
            "/api/deliveries/redeliver",
            Some(json!({"colour": 1})),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("colour"))
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_endpoint_ends_its_pending_deliveries() {
    let receiver = Receiver::start(always(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(&dir.path().join("s.sqlite3"), config(Vec::new())).await;
    let id = api
        .register(
            json!({"url": receiver.url, "events": ["*"], "secret": SECRET,
            "retry_policy": {"max_attempts": 5, "initial_delay": 600, "max_delay": 600}}),
        )
        .await;
    let (_, answer) = api
        .call(Method::POST, "/api/events", Some(envelope("evt_orphan")))
        .await;
    let delivery = answer["deliveries"][0]["id"].as_str().unwrap().to_owned();
    wait_for("one attempt", LONG, || async {
        receiver.request_count() == 1
    })
    .await;
    let (status, answer) = api
        .call(Method::DELETE, &format!("/api/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ended_deliveries"], 1, "{answer}");
    let (_, shown) = api
        .call(Method::GET, &format!("/api/deliveries/{delivery}"), None)
        .await;
    assert_eq!(shown["delivery"]["status"], "dead");
    assert_eq!(shown["delivery"]["dead_reason"], "endpoint_deleted");
    let (status, _) = api
        .call(Method::DELETE, &format!("/api/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.stop().await;
}

/// A SQLite store whose publishes fail while `failing` is set (a full
/// disk, a lost connection).
#[derive(Debug)]
struct FlakyStore {
    inner: SqliteStore,
    failing: AtomicBool,
}

#[async_trait::async_trait]
impl DeliveryStore for FlakyStore {
    async fn publish(&self, batch: PublishBatch) -> Result<PublishOutcome, Error> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::Store {
                message: "disk full".to_owned(),
            });
        }
        self.inner.publish(batch).await
    }
    async fn lease_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
        skip: &[String],
    ) -> Result<Vec<DeliveryRecord>, Error> {
        self.inner.lease_due(owner, now, lease, max, skip).await
    }
    async fn renew_leases(
        &self,
        owner: &str,
        ids: &[String],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<String>, Error> {
        self.inner.renew_leases(owner, ids, now, lease).await
    }
    async fn begin_attempts(
        &self,
        owner: &str,
        starts: Vec<AttemptStart>,
    ) -> Result<Vec<Option<u32>>, Error> {
        self.inner.begin_attempts(owner, starts).await
    }
    async fn settle_many(
        &self,
        owner: &str,
        requests: Vec<SettleRequest>,
    ) -> Result<Vec<bool>, Error> {
        self.inner.settle_many(owner, requests).await
    }
    async fn release(&self, id: &str, owner: &str, next: DateTime<Utc>) -> Result<bool, Error> {
        self.inner.release(id, owner, next).await
    }
    async fn get(&self, id: &str) -> Result<Option<DeliveryRecord>, Error> {
        self.inner.get(id).await
    }
    async fn attempts(&self, id: &str) -> Result<Vec<AttemptRecord>, Error> {
        self.inner.attempts(id).await
    }
    async fn list(&self, query: &DeliveryQuery) -> Result<DeliveryPage, Error> {
        self.inner.list(query).await
    }
    async fn redeliver(&self, id: &str, now: DateTime<Utc>) -> Result<bool, Error> {
        self.inner.redeliver(id, now).await
    }
    async fn kill_pending(
        &self,
        endpoint_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        self.inner.kill_pending(endpoint_id, reason, now).await
    }
    async fn insert(&self, records: Vec<DeliveryRecord>) -> Result<(), Error> {
        self.inner.insert(records).await
    }
    async fn purge(&self, now: DateTime<Utc>, retention: Retention) -> Result<u64, Error> {
        self.inner.purge(now, retention).await
    }
    async fn stats(&self) -> Result<StoreStats, Error> {
        self.inner.stats().await
    }
    async fn put_endpoint(&self, id: &str, json: &str) -> Result<(), Error> {
        self.inner.put_endpoint(id, json).await
    }
    async fn get_endpoint(&self, id: &str) -> Result<Option<String>, Error> {
        self.inner.get_endpoint(id).await
    }
    async fn list_endpoints(&self) -> Result<Vec<(String, String)>, Error> {
        self.inner.list_endpoints().await
    }
    async fn delete_endpoint(&self, id: &str) -> Result<bool, Error> {
        self.inner.delete_endpoint(id).await
    }
    async fn health(&self, endpoint_id: &str) -> Result<EndpointHealth, Error> {
        self.inner.health(endpoint_id).await
    }
    async fn put_health(&self, endpoint_id: &str, health: EndpointHealth) -> Result<(), Error> {
        self.inner.put_health(endpoint_id, health).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_take_the_publish_answers_503_and_stores_nothing() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FlakyStore {
        inner: SqliteStore::open(dir.path().join("s.sqlite3")).unwrap(),
        failing: AtomicBool::new(false),
    });
    let api = Api::start_on(
        store.clone(),
        config(Vec::new()),
        DestinationPolicy::server().allow_private_targets(true),
        Arc::new(StaticResolver::new()),
    )
    .await;
    api.register(registration(&receiver.url)).await;
    store.failing.store(true, Ordering::SeqCst);
    let (status, answer) = api
        .call(Method::POST, "/api/events", Some(envelope("evt_full")))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"], "store_unavailable");
    let (_, listed) = api
        .call(Method::GET, "/api/deliveries?event=evt_full", None)
        .await;
    assert_eq!(listed["deliveries"], json!([]));
    // Once the store is back, the same event is published (202, not 200).
    store.failing.store(false, Ordering::SeqCst);
    let (status, answer) = api
        .call(Method::POST, "/api/events", Some(envelope("evt_full")))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    wait_for("delivered", LONG, || async {
        receiver.handled().contains_key("evt_full")
    })
    .await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_over_1_mib_get_a_warning_and_larger_bodies_a_413() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(&dir.path().join("s.sqlite3"), config(Vec::new())).await;
    api.register(registration(&receiver.url)).await;
    let mut event = envelope("evt_large");
    event["data"]["padding"] = Value::from("x".repeat((1 << 20) + 10));
    let (status, answer) = api.call(Method::POST, "/api/events", Some(event)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let warnings = answer["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["field"] == "body" && w["message"].as_str().unwrap().contains("1 MiB")),
        "{answer}"
    );
    let mut event = envelope("evt_huge");
    event["data"]["padding"] = Value::from("x".repeat(api::BODY_LIMIT));
    let (status, answer) = api.call(Method::POST, "/api/events", Some(event)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(
        (answer["error"].as_str(), answer["field"].as_str()),
        (Some("body_too_large"), Some("body"))
    );
    api.stop().await;
}

/// The same API on a real `redis-server`: a registered endpoint is kept in
/// Redis, listed and delivered to after a restart.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_registered_endpoints_persist_and_deliver() {
    use megabot_webhook_sender::dispatcher::RedisStore;
    let server = megabot_webhook_test_support::RedisServer::start();
    let receiver = Receiver::start(always(200)).await;
    let start = || async {
        let store = Arc::new(RedisStore::connect(&server.url()).await.unwrap());
        Api::start_on(
            store,
            config(Vec::new()),
            DestinationPolicy::server().allow_private_targets(true),
            Arc::new(StaticResolver::new()),
        )
        .await
    };
    let api = start().await;
    let id = api.register(registration(&receiver.url)).await;
    let (status, _) = api
        .call(Method::POST, "/api/events", Some(envelope("evt_redis_1")))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wait_for("delivered", LONG, || async {
        receiver.handled().contains_key("evt_redis_1")
    })
    .await;
    api.stop().await;
    let api = start().await;
    let (_, list) = api.call(Method::GET, "/api/webhooks", None).await;
    assert_eq!(list["endpoints"][0]["id"], id.as_str(), "{list}");
    let (status, again) = api
        .call(Method::POST, "/api/events", Some(envelope("evt_redis_1")))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let (status, _) = api
        .call(Method::POST, "/api/events", Some(envelope("evt_redis_2")))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wait_for("delivered after the restart", LONG, || async {
        receiver.handled().contains_key("evt_redis_2")
    })
    .await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_without_any_signing_secret_names_secret() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(&dir.path().join("s.sqlite3"), WebhooksConfig::default()).await;
    let (status, answer) = api
        .call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["field"], "secret", "{answer}");
    api.stop().await;
}

/// Two instances sharing one Redis store: deliveries to an endpoint
/// registered through one are delivered whichever leases them (never dead
/// as `endpoint_deleted`), and a sync brings registrations and deletions
/// to the other.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_two_instances_share_registered_endpoints() {
    use megabot_webhook_sender::dispatcher::RedisStore;
    let server = megabot_webhook_test_support::RedisServer::start();
    let receiver = Receiver::start(always(200)).await;
    let start = || async {
        let store = Arc::new(RedisStore::connect(&server.url()).await.unwrap());
        Api::start_on(
            store,
            config(Vec::new()),
            DestinationPolicy::server().allow_private_targets(true),
            Arc::new(StaticResolver::new()),
        )
        .await
    };
    let (a, b) = (start().await, start().await);
    let id = a.register(registration(&receiver.url)).await;
    for n in 0..40 {
        let (status, _) = a
            .call(
                Method::POST,
                "/api/events",
                Some(envelope(&format!("evt_shared_{n}"))),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    wait_for("40 delivered", LONG, || async {
        receiver.handled_count() == 40
    })
    .await;
    let (_, dead) = a
        .call(Method::GET, "/api/deliveries?status=dead", None)
        .await;
    assert_eq!(dead["deliveries"], json!([]), "{dead}");
    // B learns of it by a sync (serve runs one every few seconds).
    b.state.sync().await.unwrap();
    let (_, list) = b.call(Method::GET, "/api/webhooks", None).await;
    assert_eq!(list["endpoints"][0]["id"], id.as_str(), "{list}");
    let (_, answer) = b
        .call(Method::POST, "/api/events", Some(envelope("evt_via_b")))
        .await;
    assert_eq!(
        answer["deliveries"][0]["endpoint_id"],
        id.as_str(),
        "{answer}"
    );
    wait_for("delivered via b", LONG, || async {
        receiver.handled().contains_key("evt_via_b")
    })
    .await;
    // Deleted through A: B forgets it at its next sync.
    let (status, _) = a
        .call(Method::DELETE, &format!("/api/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    b.state.sync().await.unwrap();
    let (_, list) = b.call(Method::GET, "/api/webhooks", None).await;
    assert_eq!(list["endpoints"], json!([]), "{list}");
    a.stop().await;
    b.stop().await;
}

/// Odd bodies and paths from the network never crash the API nor get a
/// `5xx`: each is a JSON `4xx` naming what is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_input_gets_a_json_4xx_never_a_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(&dir.path().join("s.sqlite3"), config(Vec::new())).await;
    let ok = "http://127.0.0.1:9/hook";
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies = [
        ("/api/webhooks", deep.clone()),
        ("/api/events", deep),
        ("/api/webhooks", String::new()),
        ("/api/webhooks", "null".to_owned()),
        ("/api/webhooks", "\u{0}\u{1}".to_owned()),
        ("/api/webhooks", json!({"url": ok, "retry_policy": {"max_attempts": -1}}).to_string()),
        ("/api/webhooks", json!({"url": ok, "retry_policy": {"initial_delay": -5}}).to_string()),
        ("/api/webhooks", json!({"url": ok, "timeout": 0}).to_string()),
        ("/api/webhooks", json!({"url": ok, "max_in_flight": 0}).to_string()),
        ("/api/webhooks", json!({"url": ok, "rate_limit": -1}).to_string()),
        ("/api/webhooks", json!({"url": ok, "headers": {"Content-Type": "x"}}).to_string()),
        ("/api/webhooks", json!({"url": ok, "headers": {"bad header": "x"}}).to_string()),
        ("/api/webhooks", json!({"url": ok, "filters": {"content_filters": [{"type": "regex", "field": "a", "pattern": "("}]}}).to_string()),
        ("/api/webhooks", json!({"url": ok, "filters": {"time_window": {"timezone": "Mars/Base"}}}).to_string()),
        ("/api/webhooks", json!({"url": ok, "standard_webhooks": {"secret": "not-whsec"}}).to_string()),
        ("/api/webhooks", json!({"url": "http://[::1"}).to_string()),
        ("/api/webhooks", json!({"url": "http://"}).to_string()),
        ("/api/webhooks", json!({"url": format!("http://{}.com/", "a".repeat(300))}).to_string()),
        ("/api/events", json!({"event": "", "id": "e", "timestamp": 1}).to_string()),
        ("/api/events", json!({"event": "a\nb", "id": "e", "timestamp": 1}).to_string()),
        ("/api/events", json!({"event": "e", "id": "e", "timestamp": 1e30}).to_string()),
        ("/api/deliveries/redeliver", json!({"limit": 0}).to_string()),
        ("/api/deliveries/redeliver", json!({"since": "never"}).to_string()),
    ];
    let auth = format!("Bearer {TOKEN}");
    for (path, body) in bodies {
        let shown = body.chars().take(80).collect::<String>();
        let (status, _, answer, _) = api.raw(Method::POST, path, Some(&auth), Some(body)).await;
        assert!(
            status.is_client_error(),
            "{path} {shown}: {status} {answer}"
        );
        assert!(answer["error"].is_string(), "{path} {shown}: {answer}");
    }
    for path in [
        "/api/webhooks/..%2F..%2Fetc",
        "/api/deliveries/%00",
        "/api/deliveries?limit=-1",
        "/api/deliveries?since=99999999999999999",
        "/api/webhooks?cursor=%FF",
    ] {
        let (status, answer) = api.call(Method::GET, path, None).await;
        assert!(
            status.is_client_error() || status == StatusCode::OK,
            "{path}: {status} {answer}"
        );
        assert!(answer.is_object(), "{path}: {answer}");
    }
    // Still alive.
    let (status, _) = api.call(Method::GET, "/api/stats", None).await;
    assert_eq!(status, StatusCode::OK);
    api.stop().await;
}
