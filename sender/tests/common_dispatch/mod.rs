//! Shared parts of the dispatcher tests: a loopback receiver that dedupes by
//! event id, a clock the test moves, events and configs.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use megabot_webhook_sender::Clock;
use megabot_webhook_sender::config::{EndpointConfig, RetryPolicy, SecretKeys, WebhooksConfig};
use megabot_webhook_types::Event;

pub const SECRET: &str = "your_webhook_secret";

/// What the receiver answers: status and optional `Retry-After`, from the
/// event id and how many times that id arrived before (0 for the first).
pub type Script = Arc<dyn Fn(&str, usize) -> (u16, Option<&'static str>) + Send + Sync>;

pub fn always(status: u16) -> Script {
    Arc::new(move |_, _| (status, None))
}

#[derive(Default)]
struct Seen {
    /// Every request's event id, in order.
    requests: Vec<String>,
    /// Arrivals per event id.
    arrivals: HashMap<String, usize>,
    /// Times each event id was handled (the handler runs once per id: a
    /// receiver deduplicating by event id answers 200 to copies).
    handled: HashMap<String, usize>,
    /// Copies of an already handled event id (acknowledged, not handled).
    duplicates: usize,
    /// Requests without the MegaBot signature header.
    unsigned: usize,
    in_flight: usize,
    peak_in_flight: usize,
}

struct ReceiverState {
    script: Mutex<Script>,
    seen: Mutex<Seen>,
    delay: Mutex<Duration>,
}

/// A loopback receiver (127.0.0.1) that deduplicates by event id.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(script: Script) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ReceiverState {
            script: Mutex::new(script),
            seen: Mutex::new(Seen::default()),
            delay: Mutex::new(Duration::ZERO),
        });
        let app = Router::new().fallback(answer).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            state,
            task,
        }
    }

    pub fn set_script(&self, script: Script) {
        *self.state.script.lock().unwrap() = script;
    }

    /// Every answer waits this long first.
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.seen.lock().unwrap().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.seen.lock().unwrap().requests.len()
    }

    pub fn handled(&self) -> HashMap<String, usize> {
        self.state.seen.lock().unwrap().handled.clone()
    }

    pub fn handled_count(&self) -> usize {
        self.state.seen.lock().unwrap().handled.len()
    }

    pub fn duplicates(&self) -> usize {
        self.state.seen.lock().unwrap().duplicates
    }

    pub fn unsigned(&self) -> usize {
        self.state.seen.lock().unwrap().unsigned
    }

    pub fn peak_in_flight(&self) -> usize {
        self.state.seen.lock().unwrap().peak_in_flight
    }
}

async fn answer(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    _body: Bytes,
) -> Response {
    let id = headers
        .get("x-megabot-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let signed = headers.contains_key("x-megabot-signature");
    let nth = {
        let mut seen = state.seen.lock().unwrap();
        seen.requests.push(id.clone());
        if !signed {
            seen.unsigned += 1;
        }
        seen.in_flight += 1;
        seen.peak_in_flight = seen.peak_in_flight.max(seen.in_flight);
        let arrivals = seen.arrivals.entry(id.clone()).or_insert(0);
        *arrivals += 1;
        *arrivals - 1
    };
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let script = state.script.lock().unwrap().clone();
    let (status, retry_after) = script(&id, nth);
    {
        let mut seen = state.seen.lock().unwrap();
        seen.in_flight -= 1;
        if (200..300).contains(&status) {
            // Deduplicated by event id: a copy is acknowledged, not handled again.
            match seen.handled.entry(id) {
                std::collections::hash_map::Entry::Occupied(_) => seen.duplicates += 1,
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(1);
                }
            }
        }
    }
    let status = StatusCode::from_u16(status).unwrap();
    match retry_after {
        Some(after) => (status, [(header::RETRY_AFTER, after)], "busy").into_response(),
        None => (status, "ok").into_response(),
    }
}

/// A clock the test moves.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn at(time: DateTime<Utc>) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(time)))
    }

    /// 2026-01-01 00:00:00 UTC.
    pub fn new() -> ManualClock {
        ManualClock::at(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
    }

    /// Now, in unix seconds.
    pub fn now_unix(&self) -> i64 {
        self.now().timestamp()
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += chrono::Duration::from_std(by).unwrap();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// An `error_occurred` event with id `id` at unix `timestamp`.
pub fn event(id: &str, timestamp: i64) -> Event {
    let json = format!(
        r#"{{"event":"error_occurred","id":"{id}","timestamp":{timestamp},"data":{{"severity":"error","message":"boom"}}}}"#
    );
    Event::from_slice(json.as_bytes()).unwrap()
}

/// An endpoint with `max_attempts` attempts, `initial_delay` seconds apart
/// (no growth, no jitter).
pub fn endpoint(url: &str, max_attempts: u32, initial_delay: f64) -> EndpointConfig {
    let mut endpoint = EndpointConfig::new(url);
    endpoint.retry_policy = {
        let mut value = RetryPolicy::default();
        value.max_attempts = max_attempts;
        value.backoff_multiplier = 1.0;
        value.initial_delay = initial_delay;
        value.max_delay = initial_delay.max(1.0);
        value.jitter = false;
        value
    };
    endpoint
}

/// A config signing with [`SECRET`] whose endpoints are the tests' loopback
/// receivers: `allow_private_targets: true` lifts the destination guard for
/// local testing (design 7); without it the dispatcher refuses loopback.
pub fn config(endpoints: Vec<EndpointConfig>) -> WebhooksConfig {
    {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::one(SECRET));
        value.endpoints = endpoints;
        value.allow_private_targets = true;
        value
    }
}

/// Polls `check` every 10 ms until it holds; panics with `what` after `timeout`.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Publishes three events (a minute apart on `clock`) to the two endpoints
/// of `dispatcher` (not started) and checks every filter of the delivery
/// log and its pagination.
pub async fn check_list_filters(
    dispatcher: &megabot_webhook_sender::dispatcher::Dispatcher,
    clock: &ManualClock,
) {
    use megabot_webhook_sender::dispatcher::{DeliveryQuery, DeliveryState};
    let start = clock.now();
    for i in 0..3 {
        dispatcher
            .publish(&event(&format!("evt_list{i}"), clock.now_unix()))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(60));
    }
    let endpoints = dispatcher.endpoints();
    let list = |query: DeliveryQuery| async move { dispatcher.list(&query).await.unwrap() };
    let all = list(DeliveryQuery::default()).await;
    assert_eq!(all.deliveries.len(), 6);
    assert!(all.next_cursor.is_none());
    let by_endpoint = list(DeliveryQuery {
        endpoint_id: Some(endpoints[1].0.clone()),
        ..DeliveryQuery::default()
    })
    .await;
    assert_eq!(by_endpoint.deliveries.len(), 3);
    assert!(
        by_endpoint
            .deliveries
            .iter()
            .all(|d| d.endpoint_id == endpoints[1].0)
    );
    let by_event = list(DeliveryQuery {
        event_id: Some("evt_list1".to_owned()),
        ..DeliveryQuery::default()
    })
    .await;
    assert_eq!(by_event.deliveries.len(), 2);
    let window = list(DeliveryQuery {
        since: Some(start + chrono::Duration::seconds(30)),
        until: Some(start + chrono::Duration::seconds(150)),
        ..DeliveryQuery::default()
    })
    .await;
    assert_eq!(window.deliveries.len(), 4, "the second and third events");
    let none_dead = list(DeliveryQuery {
        state: Some(DeliveryState::Dead),
        ..DeliveryQuery::default()
    })
    .await;
    assert!(none_dead.deliveries.is_empty());
    let mut query = DeliveryQuery {
        state: Some(DeliveryState::Pending),
        limit: 4,
        ..DeliveryQuery::default()
    };
    let first = list(query.clone()).await;
    assert_eq!(first.deliveries.len(), 4);
    query.cursor = first.next_cursor.clone();
    assert!(query.cursor.is_some());
    let second = list(query).await;
    assert_eq!(second.deliveries.len(), 2);
    assert!(second.next_cursor.is_none());
    let mut ids: Vec<_> = first
        .deliveries
        .iter()
        .chain(&second.deliveries)
        .map(|d| d.id.clone())
        .collect();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count);
}

/// The store's side of an attempt started with its lease
/// (`DeliveryStore::lease_started`), for every store: it counts and is in
/// the log at once; settled without an attempt (not made: a rate limit, an
/// endpoint gone) it is taken back; cut off by its holder's death it stays
/// in the log, unfinished, when another instance takes the delivery over.
pub async fn check_started_attempts(
    store: Arc<dyn megabot_webhook_sender::dispatcher::DeliveryStore>,
) {
    use megabot_webhook_sender::dispatcher::{AttemptResult, Dispatcher, Settlement};
    let (dispatcher, _) = Dispatcher::builder(
        config(vec![endpoint("http://127.0.0.1:9/hook", 3, 0.0)]),
        store.clone(),
    )
    .build()
    .await
    .unwrap();
    let id = dispatcher
        .publish(&event("evt_started", Utc::now().timestamp()))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    let t = Utc::now();
    let lease = Duration::from_secs(30);
    let not_made = Settlement::Retry {
        next_attempt_at: t,
        refund_attempt: false,
        conflict_since: None,
    };
    let leased = store.lease_started("x", t, lease, 10, &[]).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].attempts, 1);
    assert_eq!(leased[0].lease_owner.as_deref(), Some("x"));
    assert_eq!(store.get(&id).await.unwrap().unwrap().attempts, 1);
    assert_eq!(store.attempts(&id).await.unwrap().len(), 1, "in flight");

    assert!(
        store
            .settle(&id, "x", t, None, not_made.clone())
            .await
            .unwrap()
    );
    let row = store.get(&id).await.unwrap().unwrap();
    assert_eq!((row.attempts, row.lease_owner), (0, None));
    assert!(store.attempts(&id).await.unwrap().is_empty());

    let again = store.lease_started("x", t, lease, 10, &[]).await.unwrap();
    assert_eq!(again[0].attempts, 1);
    let later = t + chrono::Duration::seconds(31);
    let taken = store
        .lease_started("y", later, lease, 10, &[])
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "x's lease expired");
    assert_eq!(taken[0].attempts, 2);
    assert!(
        !store.settle(&id, "x", later, None, not_made).await.unwrap(),
        "x no longer holds it"
    );
    let answered = AttemptResult {
        attempt: 2,
        status: Some(200),
        duration: Duration::from_millis(5),
        error: None,
    };
    assert!(
        store
            .settle(&id, "y", later, Some(answered), Settlement::Delivered)
            .await
            .unwrap()
    );
    let log = store.attempts(&id).await.unwrap();
    let summary: Vec<(u32, Option<u16>)> = log.iter().map(|a| (a.attempt, a.status)).collect();
    assert_eq!(summary, [(1, None), (2, Some(200))]);
    assert_eq!(store.get(&id).await.unwrap().unwrap().attempts, 2);
}
