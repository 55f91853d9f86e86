//! The demo's sending side (design 9.17): the durable dispatcher on a
//! temporary SQLite file, the receivers registered through the API, the
//! guide's events published, a restart mid-run, every event handled once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use megabot_webhook_sender::api::{self, ApiState};
use megabot_webhook_sender::config::WebhooksConfig;
use megabot_webhook_sender::dispatcher::{Dispatcher, SqliteStore};
use megabot_webhook_sender::{Delivery, DestinationPolicy};
use megabot_webhook_types::EventName;
use serde_json::{Value, json};

use super::{MEGABOT_SECRET, Receiver, payload_kind};
use crate::cmd::send::{fresh_example, fresh_id};
use crate::error::CliError;

/// The dispatcher and its API, served on loopback.
struct Service {
    dispatcher: Arc<Dispatcher>,
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

fn fail(what: impl std::fmt::Display) -> CliError {
    CliError::Usage(format!("demo (sending side): {what}"))
}

async fn open(path: &Path) -> Result<SqliteStore, CliError> {
    // The previous run's store is let go of as its last connection closes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match SqliteStore::open(path) {
            Ok(store) => return Ok(store),
            Err(error) if error.code() == "store_locked" && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

async fn start(path: &Path, token: &str) -> Result<Service, CliError> {
    let store = Arc::new(open(path).await?);
    let (dispatcher, _) = Dispatcher::builder(WebhooksConfig::default(), store)
        // The receivers are on loopback (design 7's switch for local testing).
        .destination_policy(DestinationPolicy::server().allow_private_targets(true))
        .poll_interval(Duration::from_millis(20))
        .build()
        .await?;
    let dispatcher = Arc::new(dispatcher);
    let (state, _) = ApiState::new(dispatcher.clone(), token).await?;
    dispatcher.start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(fail)?;
    let base = format!("http://{}", listener.local_addr().map_err(fail)?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, api::router(state))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Service {
        dispatcher,
        base,
        stop,
        server,
    })
}

impl Service {
    /// A clean stop: the API, then the dispatcher (attempts in flight may
    /// finish), keeping everything else stored.
    async fn restart_point(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        self.dispatcher.shutdown(Duration::from_secs(5)).await;
    }
}

struct Client {
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<Value>,
    ) -> Result<(u16, Value), CliError> {
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| fail(e.without_url()))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(fail)?;
        Ok((status, serde_json::from_str(&text).unwrap_or_default()))
    }
}

fn temp_store() -> PathBuf {
    std::env::temp_dir().join(format!(
        "megabot-demo-{}-{}.sqlite3",
        std::process::id(),
        fresh_id()
    ))
}

fn remove_store(path: &Path) {
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// Runs the sending side against `receivers`; prints what happened and
/// returns whether everything went as the design says.
pub(super) async fn run(receivers: &[Receiver]) -> Result<bool, CliError> {
    let path = temp_store();
    let result = run_on(&path, receivers).await;
    remove_store(&path);
    result
}

async fn run_on(path: &Path, receivers: &[Receiver]) -> Result<bool, CliError> {
    // An admin token for this process only: never printed.
    let token = format!("{}{}", fresh_id(), fresh_id());
    let client = Client {
        // No idle connections: a restart lets go of the store at once.
        http: reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(fail)?,
        token: token.clone(),
    };
    let service = start(path, &token).await?;
    let mut endpoints = Vec::new();
    for receiver in receivers {
        let (status, answer) = client
            .call(
                reqwest::Method::POST,
                format!("{}/api/webhooks", service.base),
                Some(json!({"url": receiver.url, "events": ["*"], "secret": MEGABOT_SECRET})),
            )
            .await?;
        if status != 201 {
            return Err(fail(format!("registration answered {status}: {answer}")));
        }
        endpoints.push(answer["endpoint"]["id"].as_str().unwrap_or("").to_owned());
    }
    let events: Vec<_> = EventName::ALL.iter().map(|n| fresh_example(*n)).collect();
    let half = events.len() / 2;
    let mut service = service;
    for (n, event) in events.iter().enumerate() {
        if n == half {
            // Mid-run: a restart on the same store.
            service.restart_point().await;
            service = start(path, &token).await?;
        }
        let body = Delivery::from_event(event)?;
        let envelope: Value = serde_json::from_slice(body.body()).map_err(fail)?;
        let (status, answer) = client
            .call(
                reqwest::Method::POST,
                format!("{}/api/events", service.base),
                Some(envelope),
            )
            .await?;
        if status != 202 || answer["deliveries"].as_array().map(Vec::len) != Some(receivers.len()) {
            return Err(fail(format!("publish answered {status}: {answer}")));
        }
    }
    // Wait for every delivery to settle.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let (_, stats) = client
            .call(
                reqwest::Method::GET,
                format!("{}/api/stats", service.base),
                None,
            )
            .await?;
        if stats["deliveries"]["pending"] == 0 || Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut wrong = 0;
    for receiver in receivers {
        for event in &events {
            let expected = vec![format!("{} via megabot -> 200", payload_kind(event))];
            let seen = receiver.journal.seen(&event.id);
            if seen != expected {
                wrong += 1;
                println!(
                    "!! {} on {}: handler saw {seen:?}, expected {expected:?}",
                    event.name(),
                    receiver.framework.as_str()
                );
            }
        }
    }
    let mut by_status = std::collections::BTreeMap::<String, usize>::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/api/deliveries?limit=500", service.base);
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let (_, page) = client.call(reqwest::Method::GET, url, None).await?;
        for delivery in page["deliveries"].as_array().into_iter().flatten() {
            let status = delivery["status"].as_str().unwrap_or("?");
            *by_status.entry(status.to_owned()).or_default() += 1;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    service.restart_point().await;
    let total = events.len() * receivers.len();
    let log: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!(
        "\nSending side: the dispatcher on a temporary SQLite file, {} receiver(s) registered through the API ({}), {} events published, restarted after {half}: {} of {total} deliveries handled once, {wrong} not.",
        receivers.len(),
        endpoints.join(", "),
        events.len(),
        total - wrong,
    );
    println!(
        "Delivery log: {}. /api/stats: {} pending, {} delivered, {} dead.",
        log.join(", "),
        stats["deliveries"]["pending"],
        stats["deliveries"]["delivered"],
        stats["deliveries"]["dead"],
    );
    let settled = stats["deliveries"]["pending"] == 0 && stats["deliveries"]["dead"] == 0;
    Ok(wrong == 0 && settled && by_status.get("delivered") == Some(&total))
}
