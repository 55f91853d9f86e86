//! `megabot-webhook serve` and `publish` as child processes over real
//! loopback HTTP with a temporary SQLite store: a `listen` receiver
//! registered through the API gets a published event; the admin token is
//! required; one `serve` per store file; and a `kill -9` mid-run loses
//! nothing.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Listener, Serve, bin, publish, published_event_id};
use serde_json::{Value, json};

const TOKEN: &str = "serve-test-admin-token-0123456789abcdef";
const SECRET: &str = "serve_test_secret";

/// `serve` on `store` with this file's token and `--allow-private-targets`.
fn start_serve(store: &Path, args: &[&str]) -> Serve {
    Serve::start(store, TOKEN, args)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn register(base: &str, url: &str) -> String {
    let response = client()
        .post(format!("{base}/api/webhooks"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(
            json!({"url": url, "events": ["*"], "secret": SECRET,
                "retry_policy": {"max_attempts": 20, "initial_delay": 0.05, "max_delay": 0.5}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    answer["endpoint"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_listener_receives_a_published_event() {
    let dir = tempfile::tempdir().unwrap();
    let serve = start_serve(&dir.path().join("d.sqlite3"), &[]);
    let mut listener = Listener::start(&["--secret", SECRET, "--json"]);
    let endpoint = register(&serve.base, &listener.url).await;
    assert!(endpoint.starts_with("ep_"));
    let output = publish(&serve.base, &["--event", "error_occurred"], Some(TOKEN));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(&endpoint), "{stdout}");
    let event_id = published_event_id(&stdout);
    let line = tokio::task::spawn_blocking(move || listener.next_line())
        .await
        .unwrap();
    let received: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_eq!(received["event"], "error_occurred");
    assert_eq!(received["id"], event_id.as_str());
    assert_eq!(received["scheme"], "megabot");

    // Refusals: a non-zero exit with the server's code and message.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"event":"error_occurred","id":"a.b","timestamp":1}"#,
    )
    .unwrap();
    let output = publish(&serve.base, &["--file", bad.to_str().unwrap()], Some(TOKEN));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("invalid_event_id") && stderr.contains("`id`"),
        "{stderr}"
    );
    let wrong = "x".repeat(40);
    let output = publish(&serve.base, &["--event", "error_occurred"], Some(&wrong));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("invalid_token") && !stderr.contains(&wrong),
        "{stderr}"
    );
    let output = publish(&serve.base, &["--event", "error_occurred"], None);
    assert_eq!(output.status.code(), Some(2));

    // SIGTERM: a clean stop, exit 0.
    assert!(serve.terminate().success());
}

#[test]
fn a_missing_or_short_admin_token_exits_2_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("d.sqlite3");
    for token in [None, Some("short-token-1234")] {
        let mut command = bin();
        command.arg("serve").arg("--store").arg(&store);
        match token {
            Some(token) => command.env("MEGABOT_ADMIN_TOKEN", token),
            None => command.env_remove("MEGABOT_ADMIN_TOKEN"),
        };
        let output = command.stdin(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("MEGABOT_ADMIN_TOKEN"), "{stderr}");
        assert!(stderr.contains("32 characters"), "{stderr}");
        if let Some(token) = token {
            assert!(!stderr.contains(token), "{stderr}");
        }
    }
    assert!(!store.exists(), "no store is opened without a token");
}

#[test]
fn a_second_serve_on_the_same_store_exits_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("d.sqlite3");
    let _first = start_serve(&store, &[]);
    let output = bin()
        .args(["serve", "--addr", "127.0.0.1:0", "--store"])
        .arg(&store)
        .env("MEGABOT_ADMIN_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("in use by another dispatcher"), "{stderr}");
    assert!(!stderr.contains(TOKEN));
}

/// What an SDK receiver saw: how many times its handler ran per event id.
#[derive(Default)]
struct Seen {
    handled: HashMap<String, usize>,
}

/// An SDK receiver (the axum adapter, verifying `SECRET`, with its default
/// in-memory replay guard) on loopback: its handler counts each event it runs for.
async fn start_receiver(seen: Arc<Mutex<Seen>>) -> String {
    use axum::http::StatusCode;
    use megabot_webhook_adapters::axum::webhook;
    use megabot_webhook_adapters::{Secret, Verifier, Webhook};

    let verifier = Verifier::builder()
        .megabot_secret(Secret::new(SECRET).unwrap())
        .build()
        .unwrap();
    let handle = move |hook: Webhook| {
        let seen = seen.clone();
        async move {
            // Slow enough that a crash finds deliveries pending and in flight.
            tokio::time::sleep(Duration::from_millis(25)).await;
            let id = hook.event().id.clone();
            *seen.lock().unwrap().handled.entry(id).or_insert(0) += 1;
            StatusCode::OK
        }
    };
    let app = axum::Router::new()
        .route("/hook", webhook(handle))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

/// Waits until every id was handled, then asserts each exactly once.
async fn assert_each_handled_once(seen: &Mutex<Seen>, ids: &[String]) {
    let count = ids.len();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let handled = seen.lock().unwrap().handled.len();
        if handled >= count {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {handled} of {count} events were handled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Late copies (retries of attempts cut off by the kill) get their chance to
    // reach the handler a second time, which the receiver's replay guard prevents.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.handled.len(),
        count,
        "events the test did not publish arrived"
    );
    for id in ids {
        match seen.handled.get(id) {
            Some(1) => {}
            Some(n) => panic!("{id} was handled {n} times"),
            None => panic!("{id} lost"),
        }
    }
}

/// The number of events of the crash tests: 10 000 (`MEGABOT_SERVE_CRASH_EVENTS`
/// sets another).
fn crash_events() -> usize {
    std::env::var("MEGABOT_SERVE_CRASH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

async fn publish_events(base: &str, ids: &[String]) -> usize {
    let client = client();
    let mut stored = 0;
    for chunk in ids.chunks(16) {
        let mut tasks = Vec::new();
        for id in chunk {
            let request = client
                .post(format!("{base}/api/events"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(
                    json!({"event": "error_occurred", "id": id,
                        "timestamp": chrono::Utc::now().timestamp(),
                        "data": {"severity": "error", "message": "crash test"}})
                    .to_string(),
                )
                .send();
            tasks.push(request);
        }
        for task in tasks {
            let response = task.await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            stored += 1;
        }
    }
    stored
}

/// The issue's crash test through the CLI: 10 000 events published to a
/// `serve` child delivering to an SDK receiver, `kill -9` mid-run, a restart
/// on the same store: every event is handled exactly once (the receiver's
/// replay guard turns redeliveries into duplicates), none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_of_serve_mid_run_loses_nothing() {
    let count = crash_events();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("crash.sqlite3");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = start_receiver(seen.clone()).await;
    let ids: Vec<String> = (0..count).map(|n| format!("evt_crash_{n:05}")).collect();
    let (first, second) = ids.split_at(count / 2);

    let serve = start_serve(&store, &[]);
    register(&serve.base, &url).await;
    assert_eq!(publish_events(&serve.base, first).await, first.len());
    // Mid-run: some delivered, the rest stored and pending or in flight.
    let handled_before = seen.lock().unwrap().handled.len();
    serve.crash();
    assert!(
        handled_before < count,
        "everything was delivered before the crash"
    );

    let serve = start_serve(&store, &[]);
    assert_eq!(publish_events(&serve.base, second).await, second.len());
    // A second publish of stored events stores nothing new.
    let response = client()
        .post(format!("{}/api/events", serve.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(
            json!({"event": "error_occurred", "id": first[0], "timestamp": chrono::Utc::now().timestamp()})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_each_handled_once(&seen, &ids).await;
    eprintln!("{count} events, {handled_before} handled before the kill -9");
    assert!(serve.terminate().success());
}

/// The crash test on Redis: two `serve` instances share one real
/// `redis-server` queue, both publish and deliver; one is killed with
/// `kill -9` mid-run, and the other takes its deliveries over once their
/// (short, `--lease 2`) leases expire: every event handled exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serves_on_redis_one_killed_lose_nothing() {
    let count = crash_events();
    let redis = megabot_webhook_test_support::RedisServer::start();
    let store = redis.url();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = start_receiver(seen.clone()).await;
    let ids: Vec<String> = (0..count).map(|n| format!("evt_redis_{n:05}")).collect();
    let (first, second) = ids.split_at(count / 2);

    let a = start_serve(Path::new(&store), &["--lease", "2"]);
    register(&a.base, &url).await;
    // B starts after the registration, so it loads the endpoint from the store.
    let b = start_serve(Path::new(&store), &["--lease", "2"]);
    let (stored_a, stored_b) = tokio::join!(
        publish_events(&a.base, first),
        publish_events(&b.base, second)
    );
    assert_eq!((stored_a, stored_b), (first.len(), second.len()));
    let handled_before = seen.lock().unwrap().handled.len();
    a.crash();
    assert!(
        handled_before < count,
        "everything was delivered before the crash"
    );
    assert_each_handled_once(&seen, &ids).await;
    eprintln!("{count} events, {handled_before} handled before one of two instances was killed");
    assert!(b.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_endpoints_are_served_and_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut listener = Listener::start(&["--secret", SECRET, "--json"]);
    let config = dir.path().join("mega-config.yaml");
    std::fs::write(
        &config,
        format!(
            "webhooks:\n  secret_key: \"{SECRET}\"\n  endpoints:\n    - url: \"{}\"\n      events: [\"tool_execution_*\"]\n",
            listener.url
        ),
    )
    .unwrap();
    let serve = start_serve(
        &dir.path().join("d.sqlite3"),
        &["--config", config.to_str().unwrap()],
    );
    let response = client()
        .get(format!("{}/api/webhooks", serve.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let list: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let id = list["endpoints"][0]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cfg_"), "{list}");
    let response = client()
        .delete(format!("{}/api/webhooks/{id}", serve.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let output = publish(
        &serve.base,
        &["--event", "tool_execution_failed", "--json"],
        Some(TOKEN),
    );
    assert!(output.status.success());
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["deliveries"][0]["endpoint_id"], id.as_str());
    let line = tokio::task::spawn_blocking(move || listener.next_line())
        .await
        .unwrap();
    let received: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(received["event"], "tool_execution_failed");
    assert_eq!(received["id"], answer["event_id"]);
    assert!(serve.terminate().success());
}

/// `serve --store redis://…`: two `serve` processes share one real
/// `redis-server`; an endpoint registered through one is served by the
/// other after its sync, and the listener gets what either publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serves_share_a_redis_store() {
    let redis = megabot_webhook_test_support::RedisServer::start();
    let url = redis.url();
    let mut listener = Listener::start(&["--secret", SECRET, "--json"]);
    let a = start_serve(Path::new(&url), &[]);
    let b = start_serve(Path::new(&url), &[]);
    let endpoint = register(&a.base, &listener.url).await;
    let output = publish(
        &a.base,
        &["--event", "error_occurred", "--json"],
        Some(TOKEN),
    );
    assert!(output.status.success());
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["deliveries"][0]["endpoint_id"], endpoint.as_str());
    let first = answer["event_id"].as_str().unwrap().to_owned();
    let (line, back) = tokio::task::spawn_blocking(move || {
        let line = listener.next_line();
        (line, listener)
    })
    .await
    .unwrap();
    listener = back;
    let received: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(received["id"], first.as_str());
    // B syncs registrations from the store every 5 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    let second = loop {
        let output = publish(
            &b.base,
            &["--event", "tool_execution_failed", "--json"],
            Some(TOKEN),
        );
        assert!(output.status.success());
        let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
        if answer["deliveries"][0]["endpoint_id"] == endpoint.as_str() {
            break answer["event_id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "b never learnt of {endpoint}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let line = tokio::task::spawn_blocking(move || listener.next_line())
        .await
        .unwrap();
    let received: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(received["id"], second.as_str());
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}
