//! `GET /api/stats`: the guide's `get_stats` figures (`total_deliveries`,
//! `success_rate`, `average_delivery_time`, `total_retries`) computed by
//! the store over its retention, on SQLite and on a real `redis-server`
//! (one per test, loopback), after a scripted run on loopback receivers
//! with a clock the test moves; and the queue figures behind the gauges,
//! including a Redis queue written before its `pending` index existed.

#![cfg(all(feature = "api", feature = "sqlite", feature = "redis"))]

mod common_dispatch;

use std::sync::Arc;
use std::time::Duration;

use common_dispatch::{ManualClock, Receiver, always, config, endpoint, event, wait_for};
use megabot_webhook_sender::api::{self, ApiState};
use megabot_webhook_sender::dispatcher::{
    DeliveryQuery, DeliveryState, DeliveryStore, Dispatcher, RedisStore, SqliteStore,
};
use megabot_webhook_test_support::RedisServer;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(20);
const TOKEN: &str = "stats-test-admin-token-0123456789abcdef";

/// `GET /api/stats` on a loopback server of the API.
async fn get_stats(state: ApiState) -> Value {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, api::router(state)).await;
    });
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{addr}/api/stats"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    server.abort();
    value
}

/// Publishes one fresh and one stale event to three endpoints (200; 503
/// then 200 after 30 s; 404) and checks the figures: 6 ended deliveries, 2
/// delivered, 1 retry, and a mean of 10 s from first attempt to outcome
/// over the 3 attempted (0, 30 and 0 s; the stale ones had no attempt).
async fn check_stats(store: Arc<dyn DeliveryStore>) {
    let clock = ManualClock::new();
    let t0 = clock.now_unix();
    let ok = Receiver::start(always(200)).await;
    let flaky = Receiver::start(Arc::new(|_, nth| (if nth == 0 { 503 } else { 200 }, None))).await;
    let gone = Receiver::start(always(404)).await;
    let (dispatcher, _) = Dispatcher::builder(
        config(vec![
            endpoint(&ok.url, 3, 0.0),
            endpoint(&flaky.url, 3, 30.0),
            endpoint(&gone.url, 3, 0.0),
        ]),
        store,
    )
    .clock(Arc::new(clock.clone()))
    .poll_interval(Duration::from_millis(10))
    .build()
    .await
    .unwrap();
    let dispatcher = Arc::new(dispatcher);
    let (state, _) = ApiState::new(dispatcher.clone(), TOKEN).await.unwrap();
    let flaky_id = dispatcher.endpoints()[1].0.clone();
    let gone_id = dispatcher.endpoints()[2].0.clone();

    let empty = get_stats(state.clone()).await;
    assert_eq!(empty["total_deliveries"], 0);
    assert_eq!(empty["success_rate"], 0.0);
    assert_eq!(empty["average_delivery_time"], 0.0);
    assert_eq!(empty["total_retries"], 0);

    dispatcher.publish(&event("evt_s1", t0)).await.unwrap();
    clock.advance(Duration::from_secs(5));
    dispatcher
        .publish(&event("evt_s_old", t0 - 1_000))
        .await
        .unwrap();
    let queue = dispatcher.queue_stats().await.unwrap();
    assert_eq!(queue.pending, 6);
    assert_eq!(queue.oldest_pending_since.unwrap().timestamp(), t0);

    dispatcher.start();
    let flaky_row = DeliveryQuery {
        endpoint_id: Some(flaky_id),
        event_id: Some("evt_s1".to_owned()),
        ..DeliveryQuery::default()
    };
    wait_for("the first round", LONG, || async {
        let stats = dispatcher.stats().await.unwrap();
        let page = dispatcher.list(&flaky_row).await.unwrap();
        let row = &page.deliveries[0];
        stats.delivered == 1
            && stats.dead == 4
            && row.attempts == 1
            && row.state == DeliveryState::Pending
            && row.lease_owner.is_none()
    })
    .await;
    clock.advance(Duration::from_secs(30));
    wait_for("the retry delivered", LONG, || async {
        dispatcher.stats().await.unwrap().delivered == 2
    })
    .await;
    let check = |stats: &Value| {
        assert_eq!(stats["total_deliveries"], 6, "{stats}");
        assert_eq!(stats["success_rate"], 2.0 / 6.0, "{stats}");
        assert_eq!(stats["average_delivery_time"], 10.0, "{stats}");
        assert_eq!(stats["total_retries"], 1, "{stats}");
        // The figures it answered before stay.
        assert_eq!(stats["deliveries"]["delivered"], 2, "{stats}");
        assert_eq!(stats["deliveries"]["dead"], 4, "{stats}");
        assert_eq!(stats["deliveries"]["pending"], 0, "{stats}");
        assert_eq!(stats["endpoints"], 3, "{stats}");
    };
    check(&get_stats(state.clone()).await);
    let queue = dispatcher.queue_stats().await.unwrap();
    assert_eq!(queue.pending, 0);
    assert_eq!(queue.oldest_pending_since, None);

    // A redelivery starts over: its first attempt is the new one (100 s
    // later), so the 404's time from first attempt to outcome stays 0.
    clock.advance(Duration::from_secs(100));
    let gone_dead = dispatcher
        .list(&DeliveryQuery {
            endpoint_id: Some(gone_id),
            event_id: Some("evt_s1".to_owned()),
            ..DeliveryQuery::default()
        })
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    assert!(dispatcher.redeliver(&gone_dead).await.unwrap().is_some());
    wait_for("the redelivery ended", LONG, || async {
        let row = dispatcher.get(&gone_dead).await.unwrap().unwrap();
        row.state == DeliveryState::Dead && row.attempts == 1
    })
    .await;
    check(&get_stats(state).await);
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("d.sqlite3")).unwrap());
    check_stats(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_on_redis() {
    let server = RedisServer::start();
    let store = Arc::new(RedisStore::connect(&server.url()).await.unwrap());
    check_stats(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_queue_without_its_pending_index_gets_it_at_connect() {
    let server = RedisServer::start();
    let clock = ManualClock::new();
    let receiver = Receiver::start(always(200)).await;
    let store = Arc::new(RedisStore::connect(&server.url()).await.unwrap());
    let (dispatcher, _) = Dispatcher::builder(config(vec![endpoint(&receiver.url, 3, 0.0)]), store)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .unwrap();
    let t0 = clock.now_unix();
    dispatcher.publish(&event("evt_b1", t0)).await.unwrap();
    clock.advance(Duration::from_secs(10));
    dispatcher.publish(&event("evt_b2", t0)).await.unwrap();
    drop(dispatcher);
    // As a queue written by a version without the index.
    let client = redis::Client::open(server.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let removed: i64 = redis::cmd("DEL")
        .arg("megabot:dispatch:pending")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let queue = store.queue_stats().await.unwrap();
    assert_eq!(queue.pending, 2);
    assert_eq!(queue.oldest_pending_since.unwrap().timestamp(), t0);
}
