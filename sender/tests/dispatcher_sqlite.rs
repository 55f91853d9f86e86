// Over 600 lines: one dispatcher scenario per test (restarts, retries, dead rows,
// health, rate and in-flight limits, the lock, retention, kill -9) over the same SQLite
// file and loopback receiver fixtures.
//! The durable dispatcher on a real SQLite file, delivering to loopback
//! receivers: durability across restarts, retries, dead rows with their
//! attempt log, 409, stale deliveries, endpoint health, rate limits,
//! in-flight limits, the exclusive lock, retention, and a `kill -9` crash.

#![cfg(feature = "sqlite")]

mod common_dispatch;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common_dispatch::{ManualClock, Receiver, Script, always, config, endpoint, event, wait_for};
use megabot_webhook_sender::config::{SecretKeys, StandardWebhooksConfig, WebhooksConfig};
use megabot_webhook_sender::dispatcher::{
    DeliveryQuery, DeliveryState, Dispatcher, Retention, SqliteStore,
};
use megabot_webhook_sender::read_dead_letters;

const LONG: Duration = Duration::from_secs(20);

fn now() -> i64 {
    Utc::now().timestamp()
}

/// Opens the store, retrying while a store just dropped releases the file.
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

/// Waits until delivery `id` is back in the queue (not leased) with
/// `attempts` counted and `answered` attempts logged with their outcome:
/// its last attempt is settled, so the test may move its clock.
async fn wait_settled(dispatcher: &Dispatcher, id: &str, attempts: u32, answered: usize) {
    wait_for("the attempt settled", LONG, || async {
        let record = dispatcher.get(id).await.unwrap().unwrap();
        let log = dispatcher.attempts(id).await.unwrap();
        record.lease_owner.is_none()
            && record.attempts == attempts
            && log.iter().filter(|a| a.status.is_some()).count() == answered
    })
    .await;
}

async fn dispatcher(config: WebhooksConfig, store: Arc<SqliteStore>) -> Dispatcher {
    let (dispatcher, warnings) = Dispatcher::builder(config, store)
        .poll_interval(Duration::from_millis(10))
        .build()
        .await
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    dispatcher
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_is_durable_across_a_restart_and_every_delivery_arrives() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let settings = config(vec![endpoint(&receiver.url, 3, 0.0)]);
    {
        let store = open(&path);
        let dispatcher = dispatcher(settings.clone(), store).await;
        // Not started: everything stays stored.
        for i in 0..50 {
            let outcome = dispatcher
                .publish(&event(&format!("evt_{i}"), now()))
                .await
                .unwrap();
            assert!(outcome.created);
            assert_eq!(outcome.deliveries.len(), 1);
            assert!(outcome.deliveries[0].id.starts_with("dlv_"));
        }
        // A second publish of an event id stores nothing new.
        let again = dispatcher.publish(&event("evt_7", now())).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.deliveries.len(), 1);
        assert_eq!(dispatcher.stats().await.unwrap().pending, 50);
    }
    assert_eq!(receiver.request_count(), 0);
    // "Restart": a new store and dispatcher on the same file.
    let store = open(&path);
    let dispatcher = dispatcher(settings, store).await;
    assert_eq!(dispatcher.stats().await.unwrap().pending, 50);
    dispatcher.start();
    wait_for("50 deliveries", LONG, || async {
        receiver.handled_count() == 50
    })
    .await;
    wait_for("50 delivered rows", LONG, || async {
        dispatcher.stats().await.unwrap().delivered == 50
    })
    .await;
    assert_eq!(receiver.unsigned(), 0);
    dispatcher.shutdown(Duration::from_secs(5)).await;
    // The delivery log, paginated.
    let mut query = DeliveryQuery {
        state: Some(DeliveryState::Delivered),
        limit: 20,
        ..DeliveryQuery::default()
    };
    let mut seen = 0;
    loop {
        let page = dispatcher.list(&query).await.unwrap();
        seen += page.deliveries.len();
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_then_success_with_the_attempt_log() {
    let script: Script = Arc::new(|_, nth| if nth < 2 { (500, None) } else { (200, None) });
    let receiver = Receiver::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    let dispatcher = dispatcher(config(vec![endpoint(&receiver.url, 5, 0.0)]), store).await;
    dispatcher.start();
    let outcome = dispatcher
        .publish(&event("evt_retry", now()))
        .await
        .unwrap();
    let id = outcome.deliveries[0].id.clone();
    wait_for("delivered", LONG, || async {
        dispatcher.get(&id).await.unwrap().unwrap().state == DeliveryState::Delivered
    })
    .await;
    let record = dispatcher.get(&id).await.unwrap().unwrap();
    assert_eq!(record.attempts, 3);
    assert_eq!(record.last_status, Some(200));
    let log = dispatcher.attempts(&id).await.unwrap();
    let statuses: Vec<_> = log.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(log.iter().map(|a| a.attempt).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(log.iter().all(|a| a.duration.is_some()));
    assert_eq!(log[0].error.as_deref(), Some("endpoint answered 500"));
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhaustion_goes_dead_with_the_attempt_log_and_exports() {
    let receiver = Receiver::start(always(503)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    let dispatcher = dispatcher(config(vec![endpoint(&receiver.url, 3, 0.0)]), store).await;
    dispatcher.start();
    let outcome = dispatcher.publish(&event("evt_dead", now())).await.unwrap();
    let id = outcome.deliveries[0].id.clone();
    wait_for("dead", LONG, || async {
        dispatcher.get(&id).await.unwrap().unwrap().state == DeliveryState::Dead
    })
    .await;
    let record = dispatcher.get(&id).await.unwrap().unwrap();
    assert_eq!(record.dead_reason.as_deref(), Some("exhausted"));
    assert_eq!(record.attempts, 3);
    let log = dispatcher.attempts(&id).await.unwrap();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|a| a.status == Some(503)));
    assert_eq!(receiver.request_count(), 3);
    dispatcher.shutdown(Duration::from_secs(5)).await;

    // Export as dead letters, import again (as dead rows), redeliver.
    let file = dir.path().join("dead.jsonl");
    assert_eq!(dispatcher.export_dead(&file).await.unwrap(), 1);
    let letters = read_dead_letters(&file).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].id, "evt_dead");
    assert_eq!(letters[0].attempts, 3);
    assert_eq!(dispatcher.import_dead(&file).await.unwrap(), (1, 0));
    assert_eq!(dispatcher.stats().await.unwrap().dead, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeliver_makes_a_dead_delivery_pending_again() {
    let receiver = Receiver::start(always(404)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    let dispatcher = dispatcher(config(vec![endpoint(&receiver.url, 5, 0.0)]), store).await;
    dispatcher.start();
    let id = dispatcher
        .publish(&event("evt_404", now()))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    wait_for("dead", LONG, || async {
        dispatcher.get(&id).await.unwrap().unwrap().state == DeliveryState::Dead
    })
    .await;
    let record = dispatcher.get(&id).await.unwrap().unwrap();
    assert_eq!(record.dead_reason.as_deref(), Some("rejected"));
    assert_eq!(record.attempts, 1, "a final answer is not retried");
    receiver.set_script(always(200));
    assert_eq!(
        dispatcher.redeliver(&id).await.unwrap().as_deref(),
        Some(id.as_str())
    );
    assert!(
        dispatcher.redeliver(&id).await.unwrap().is_none(),
        "only dead deliveries"
    );
    wait_for("delivered", LONG, || async {
        dispatcher.get(&id).await.unwrap().unwrap().state == DeliveryState::Delivered
    })
    .await;
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_does_not_use_up_an_attempt() {
    let script: Script = Arc::new(|_, nth| {
        if nth < 3 {
            (409, Some("0"))
        } else {
            (200, None)
        }
    });
    let receiver = Receiver::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    // One attempt only: three 409s must not use it up.
    let dispatcher = dispatcher(config(vec![endpoint(&receiver.url, 1, 0.0)]), store).await;
    dispatcher.start();
    let id = dispatcher
        .publish(&event("evt_409", now()))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    wait_for("delivered", LONG, || async {
        dispatcher.get(&id).await.unwrap().unwrap().state == DeliveryState::Delivered
    })
    .await;
    let record = dispatcher.get(&id).await.unwrap().unwrap();
    assert_eq!(record.attempts, 1);
    let log = dispatcher.attempts(&id).await.unwrap();
    let statuses: Vec<_> = log.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(409), Some(409), Some(409), Some(200)]);
    assert!(log.iter().all(|a| a.attempt == 1));
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_beyond_in_flight_wait_counts_as_an_attempt() {
    let clock = ManualClock::new();
    let receiver = Receiver::start(always(409)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    let (dispatcher, _) = Dispatcher::builder(config(vec![endpoint(&receiver.url, 2, 1.0)]), store)
        .clock(Arc::new(clock.clone()))
        .poll_interval(Duration::from_millis(10))
        .in_flight_wait(Duration::from_secs(60))
        .stale_after(Duration::from_secs(86_400))
        .build()
        .await
        .unwrap();
    dispatcher.start();
    let ts = clock.now_unix();
    let id = dispatcher
        .publish(&event("evt_409_long", ts))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    wait_settled(&dispatcher, &id, 0, 1).await;
    // Within in_flight_wait: retried (after 1 s of the test's clock), not counted.
    clock.advance(Duration::from_secs(1));
    wait_settled(&dispatcher, &id, 0, 2).await;
    // Past in_flight_wait: 409 is an ordinary failed attempt.
    clock.advance(Duration::from_secs(61));
    wait_settled(&dispatcher, &id, 1, 3).await;
    clock.advance(Duration::from_secs(2));
    wait_for("dead", LONG, || async {
        dispatcher.get(&id).await.unwrap().unwrap().state == DeliveryState::Dead
    })
    .await;
    let record = dispatcher.get(&id).await.unwrap().unwrap();
    assert_eq!(record.attempts, 2);
    assert_eq!(record.dead_reason.as_deref(), Some("exhausted"));
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_megabot_delivery_goes_dead_and_standard_webhooks_ones_do_not() {
    let megabot = Receiver::start(always(200)).await;
    let standard = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    let mut signed = endpoint(&standard.url, 3, 0.0);
    signed.standard_webhooks = Some({
        let mut value = StandardWebhooksConfig::default();
        value.enabled = true;
        value.secret = SecretKeys::one("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        value.signing_key = None;
        value
    });
    let dispatcher = dispatcher(config(vec![endpoint(&megabot.url, 3, 0.0), signed]), store).await;
    dispatcher.start();
    let outcome = dispatcher
        .publish(&event("evt_old", now() - 400))
        .await
        .unwrap();
    assert_eq!(outcome.deliveries.len(), 2);
    wait_for("both ended", LONG, || async {
        let stats = dispatcher.stats().await.unwrap();
        stats.pending == 0
    })
    .await;
    let stale = dispatcher
        .get(&outcome.deliveries[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stale.state, DeliveryState::Dead);
    assert_eq!(stale.dead_reason.as_deref(), Some("stale"));
    assert_eq!(stale.attempts, 0);
    assert_eq!(megabot.request_count(), 0, "never sent to certain refusal");
    // Redelivered: a new delivery of the same event, explicitly re-stamped.
    let again = dispatcher.redeliver(&stale.id).await.unwrap().unwrap();
    assert_ne!(again, stale.id);
    wait_for("re-stamped delivery", LONG, || async {
        megabot.handled_count() == 1
    })
    .await;
    let restamped = dispatcher.get(&again).await.unwrap().unwrap();
    assert_eq!(restamped.restamped_from.as_deref(), Some(stale.id.as_str()));
    assert_eq!(restamped.event_id, "evt_old");
    assert!(restamped.event_timestamp >= now() - 60);
    let body: serde_json::Value = serde_json::from_slice(&restamped.body).unwrap();
    assert_eq!(body["timestamp"], restamped.event_timestamp);
    assert_eq!(body["data"]["message"], "boom");
    let old = dispatcher.get(&stale.id).await.unwrap().unwrap();
    assert_eq!(old.dead_reason.as_deref(), Some("stale"));
    let fresh = dispatcher
        .get(&outcome.deliveries[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fresh.state, DeliveryState::Delivered);
    assert_eq!(standard.handled_count(), 1);
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_for_disable_after_is_disabled_and_can_be_enabled() {
    let clock = ManualClock::new();
    let receiver = Receiver::start(always(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let settings = config(vec![endpoint(&receiver.url, 100, 1.0)]);
    let build = |store| {
        Dispatcher::builder(settings.clone(), store)
            .clock(Arc::new(clock.clone()))
            .poll_interval(Duration::from_millis(10))
            .disable_after(Duration::from_secs(3_600))
            .stale_after(Duration::from_secs(86_400))
            .build()
    };
    let (dispatcher, _) = build(open(&path)).await.unwrap();
    let endpoint_id = dispatcher.endpoints()[0].0.clone();
    dispatcher.start();
    let first = dispatcher
        .publish(&event("evt_h1", clock.now_unix()))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    wait_settled(&dispatcher, &first, 1, 1).await;
    assert!(!dispatcher.is_disabled(&endpoint_id));
    // An hour of failures (the test's clock) disables it.
    clock.advance(Duration::from_secs(3_601));
    wait_settled(&dispatcher, &first, 2, 2).await;
    assert!(dispatcher.is_disabled(&endpoint_id));
    // New deliveries go straight to dead, kept.
    let second = dispatcher
        .publish(&event("evt_h2", clock.now_unix()))
        .await
        .unwrap();
    assert_eq!(second.deliveries[0].state, DeliveryState::Dead);
    assert_eq!(
        second.deliveries[0].dead_reason.as_deref(),
        Some("endpoint_disabled")
    );
    // The pending one ends dead at its next turn, without a request.
    clock.advance(Duration::from_secs(5));
    wait_for("first dead", LONG, || async {
        dispatcher.get(&first).await.unwrap().unwrap().state == DeliveryState::Dead
    })
    .await;
    assert_eq!(
        dispatcher
            .get(&first)
            .await
            .unwrap()
            .unwrap()
            .dead_reason
            .as_deref(),
        Some("endpoint_disabled")
    );
    assert_eq!(receiver.request_count(), 2);
    // The disable survives a restart.
    dispatcher.shutdown(Duration::from_secs(5)).await;
    drop(dispatcher);
    let (dispatcher, _) = build(open(&path)).await.unwrap();
    assert!(dispatcher.is_disabled(&endpoint_id));
    // Enabled again: new deliveries are attempted; redelivery brings the old ones.
    receiver.set_script(always(200));
    assert!(dispatcher.enable(&endpoint_id).await.unwrap());
    assert!(!dispatcher.enable("cfg_9_nothing").await.unwrap());
    dispatcher.start();
    let third = dispatcher
        .publish(&event("evt_h3", clock.now_unix()))
        .await
        .unwrap();
    assert_eq!(third.deliveries[0].state, DeliveryState::Pending);
    assert!(
        dispatcher
            .redeliver(&second.deliveries[0].id)
            .await
            .unwrap()
            .is_some()
    );
    wait_for("delivered", LONG, || async {
        receiver.handled().contains_key("evt_h3") && receiver.handled().contains_key("evt_h2")
    })
    .await;
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_follows_the_injected_clock() {
    let clock = ManualClock::new();
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    let mut limited = endpoint(&receiver.url, 3, 0.0);
    limited.rate_limit = Some(2.0);
    let (dispatcher, _) = Dispatcher::builder(config(vec![limited]), store)
        .clock(Arc::new(clock.clone()))
        .poll_interval(Duration::from_millis(10))
        .build()
        .await
        .unwrap();
    for i in 0..6 {
        dispatcher
            .publish(&event(&format!("evt_r{i}"), clock.now_unix()))
            .await
            .unwrap();
    }
    dispatcher.start();
    for expected in [2, 4, 6] {
        wait_for("a second's worth", LONG, || async {
            receiver.handled_count() == expected
        })
        .await;
        // However long the wall clock runs, no more until the test's clock moves.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.handled_count(), expected);
        clock.advance(Duration::from_secs(1));
    }
    wait_for("six delivered rows", LONG, || async {
        dispatcher.stats().await.unwrap().delivered == 6
    })
    .await;
    dispatcher.shutdown(Duration::from_secs(5)).await;
    // Leases the rate limit refused to attempt took their starts back: each
    // delivery made one attempt and logged one.
    for delivery in dispatcher
        .list(&DeliveryQuery::default())
        .await
        .unwrap()
        .deliveries
    {
        assert_eq!(delivery.attempts, 1, "{delivery:?}");
        assert_eq!(dispatcher.attempts(&delivery.id).await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_bounds_concurrent_attempts_per_endpoint() {
    let receiver = Receiver::start(always(200)).await;
    receiver.set_delay(Duration::from_millis(100));
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    let mut limited = endpoint(&receiver.url, 3, 0.0);
    limited.max_in_flight = Some(2);
    let dispatcher = dispatcher(config(vec![limited]), store).await;
    for i in 0..10 {
        dispatcher
            .publish(&event(&format!("evt_m{i}"), now()))
            .await
            .unwrap();
    }
    dispatcher.start();
    wait_for("all delivered", LONG, || async {
        receiver.handled_count() == 10
    })
    .await;
    assert_eq!(receiver.peak_in_flight(), 2);
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_attempts_finish_up_to_the_deadline_and_keeps_the_rest() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let settings = config(vec![endpoint(&receiver.url, 3, 0.0)]);
    // An attempt that ends within the deadline is settled.
    receiver.set_delay(Duration::from_millis(200));
    let d = dispatcher(settings.clone(), open(&path)).await;
    d.start();
    let quick = d.publish(&event("evt_q", now())).await.unwrap().deliveries[0]
        .id
        .clone();
    wait_for("in flight", LONG, || async {
        receiver.request_count() == 1
    })
    .await;
    d.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        d.get(&quick).await.unwrap().unwrap().state,
        DeliveryState::Delivered
    );
    drop(d);
    // One that does not is cut off at the deadline: it stays stored,
    // pending, its lease given back, the attempt counted.
    receiver.set_delay(Duration::from_secs(30));
    let d = dispatcher(settings.clone(), open(&path)).await;
    d.start();
    let slow = d.publish(&event("evt_s", now())).await.unwrap().deliveries[0]
        .id
        .clone();
    wait_for("in flight", LONG, || async {
        receiver.request_count() == 2
    })
    .await;
    let started = Instant::now();
    d.shutdown(Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let record = d.get(&slow).await.unwrap().unwrap();
    assert_eq!(record.state, DeliveryState::Pending);
    assert_eq!(record.lease_owner, None);
    assert_eq!(record.attempts, 1);
    // Stopped: nothing more is leased, even when due.
    let later = d.publish(&event("evt_l", now())).await.unwrap().deliveries[0]
        .id
        .clone();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.request_count(), 2);
    drop(d);
    // The next start delivers both.
    receiver.set_delay(Duration::ZERO);
    let d = dispatcher(settings, open(&path)).await;
    d.start();
    wait_for("both delivered", LONG, || async {
        d.get(&slow).await.unwrap().unwrap().state == DeliveryState::Delivered
            && d.get(&later).await.unwrap().unwrap().state == DeliveryState::Delivered
    })
    .await;
    d.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_added_and_removed_at_run_time() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dispatcher(config(Vec::new()), open(&dir.path().join("s.sqlite3"))).await;
    d.start();
    assert!(
        d.publish(&event("evt_none", now()))
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );
    let mut registered = endpoint(&receiver.url, 3, 0.0);
    registered.events = vec!["error_occurred".to_owned()];
    let warnings = d.add_endpoint("ep_1", registered).await.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let error = d
        .add_endpoint("ep_2", endpoint("ftp://nowhere", 3, 0.0))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("endpoint.url"), "{error}");
    let outcome = d.publish(&event("evt_1", now())).await.unwrap();
    assert_eq!(outcome.deliveries[0].endpoint_id, "ep_1");
    wait_for("delivered", LONG, || async {
        receiver.handled_count() == 1
    })
    .await;
    // Removed: its pending deliveries end dead, `endpoint_deleted`.
    d.shutdown(Duration::from_secs(5)).await;
    let pending = d.publish(&event("evt_2", now())).await.unwrap().deliveries[0]
        .id
        .clone();
    assert_eq!(d.remove_endpoint("ep_1").await.unwrap(), Some(1));
    assert_eq!(d.remove_endpoint("ep_1").await.unwrap(), None);
    let record = d.get(&pending).await.unwrap().unwrap();
    assert_eq!(record.state, DeliveryState::Dead);
    assert_eq!(record.dead_reason.as_deref(), Some("endpoint_deleted"));
    assert!(
        d.publish(&event("evt_3", now()))
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );
    // One left pending by a removal in an earlier run ends dead when due.
    d.add_endpoint("ep_9", endpoint(&receiver.url, 3, 0.0))
        .await
        .unwrap();
    let orphan = d.publish(&event("evt_4", now())).await.unwrap().deliveries[0]
        .id
        .clone();
    drop(d);
    let d = dispatcher(config(Vec::new()), open(&dir.path().join("s.sqlite3"))).await;
    d.start();
    wait_for("dead", LONG, || async {
        d.get(&orphan).await.unwrap().unwrap().state == DeliveryState::Dead
    })
    .await;
    assert_eq!(
        d.get(&orphan)
            .await
            .unwrap()
            .unwrap()
            .dead_reason
            .as_deref(),
        Some("endpoint_deleted")
    );
    d.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_store_on_the_same_file_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let first = SqliteStore::open(&path).unwrap();
    let error = SqliteStore::open(&path).unwrap_err();
    assert_eq!(error.code(), "store_locked");
    let message = error.to_string();
    assert!(
        message.contains("in use by another dispatcher"),
        "{message}"
    );
    assert!(message.contains("s.sqlite3"), "{message}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The write-ahead log gets the same mode.
    {
        use megabot_webhook_sender::dispatcher::DeliveryStore;
        first.put_endpoint("ep_1", "{}").await.unwrap();
    }
    #[cfg(unix)]
    for suffix in ["-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let side = dir.path().join(format!("s.sqlite3{suffix}"));
        if let Ok(metadata) = std::fs::metadata(&side) {
            assert_eq!(metadata.permissions().mode() & 0o777, 0o600, "{suffix}");
        }
    }
    drop(first);
    SqliteStore::open(&path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_follows_the_retention() {
    let clock = ManualClock::new();
    let ok = Receiver::start(always(200)).await;
    let refusing = Receiver::start(always(404)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    let (dispatcher, _) = Dispatcher::builder(
        config(vec![
            endpoint(&ok.url, 3, 0.0),
            endpoint(&refusing.url, 3, 0.0),
        ]),
        store,
    )
    .clock(Arc::new(clock.clone()))
    .poll_interval(Duration::from_millis(10))
    .retention(Retention::default())
    .build()
    .await
    .unwrap();
    dispatcher.start();
    dispatcher
        .publish(&event("evt_p", clock.now_unix()))
        .await
        .unwrap();
    wait_for("both ended", LONG, || async {
        let stats = dispatcher.stats().await.unwrap();
        stats.delivered == 1 && stats.dead == 1
    })
    .await;
    assert_eq!(dispatcher.purge().await.unwrap(), 0);
    clock.advance(Duration::from_secs(8 * 86_400));
    assert_eq!(
        dispatcher.purge().await.unwrap(),
        1,
        "delivered after 7 days"
    );
    let stats = dispatcher.stats().await.unwrap();
    assert_eq!((stats.delivered, stats.dead), (0, 1));
    clock.advance(Duration::from_secs(23 * 86_400));
    assert_eq!(dispatcher.purge().await.unwrap(), 1, "dead after 30 days");
    assert_eq!(dispatcher.stats().await.unwrap(), Default::default());
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_endpoints_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    {
        let store = open(&path);
        use megabot_webhook_sender::dispatcher::DeliveryStore;
        store
            .put_endpoint("ep_1", r#"{"url":"https://a.example/hook"}"#)
            .await
            .unwrap();
        store
            .put_endpoint("ep_2", r#"{"url":"https://b.example/hook"}"#)
            .await
            .unwrap();
        store
            .put_endpoint("ep_1", r#"{"url":"https://c.example/hook"}"#)
            .await
            .unwrap();
        assert!(store.delete_endpoint("ep_2").await.unwrap());
        assert!(!store.delete_endpoint("ep_2").await.unwrap());
    }
    let store = open(&path);
    use megabot_webhook_sender::dispatcher::DeliveryStore;
    assert_eq!(
        store.list_endpoints().await.unwrap(),
        [(
            "ep_1".to_owned(),
            r#"{"url":"https://c.example/hook"}"#.to_owned()
        )]
    );
    assert_eq!(store.get_endpoint("ep_2").await.unwrap(), None);
}

/// Publish throughput into SQLite (group commit), printed for the record,
/// never asserted. `MEGABOT_PUBLISH_EVENTS` sets the count (default 20 000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_throughput_is_reported() {
    let count: usize = std::env::var("MEGABOT_PUBLISH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("s.sqlite3"));
    let dispatcher = Arc::new(
        dispatcher(
            config(vec![endpoint("http://127.0.0.1:9/hook", 3, 0.0)]),
            store,
        )
        .await,
    );
    let ts = now();
    let tasks = 64;
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let dispatcher = dispatcher.clone();
        handles.push(tokio::spawn(async move {
            for i in (t..count).step_by(tasks) {
                if let Err(error) = dispatcher.publish(&event(&format!("evt_{i}"), ts)).await {
                    panic!("publish evt_{i}: {error} ({error:?})");
                }
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(dispatcher.stats().await.unwrap().pending as usize, count);
    #[allow(clippy::cast_precision_loss)]
    let rate = count as f64 / elapsed.as_secs_f64();
    println!("published {count} events in {elapsed:?}: {rate:.0} events/s");
}

/// The child's part of the crash test: publishes `MEGABOT_CHILD_EVENTS`
/// events into the SQLite store at `MEGABOT_CHILD_STORE` while delivering
/// them to `MEGABOT_CHILD_URL`, and exits once nothing is pending. Does
/// nothing (and passes) when those variables are not set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_role() {
    let (Ok(path), Ok(url), Ok(count)) = (
        std::env::var("MEGABOT_CHILD_STORE"),
        std::env::var("MEGABOT_CHILD_URL"),
        std::env::var("MEGABOT_CHILD_EVENTS"),
    ) else {
        return;
    };
    let count: usize = count.parse().unwrap();
    let ts: i64 = std::env::var("MEGABOT_CHILD_TIMESTAMP")
        .unwrap()
        .parse()
        .unwrap();
    let store = open(Path::new(&path));
    let (dispatcher, _) = Dispatcher::builder(config(vec![endpoint(&url, 10, 0.05)]), store)
        .workers(16)
        .poll_interval(Duration::from_millis(10))
        .build()
        .await
        .unwrap();
    let dispatcher = Arc::new(dispatcher);
    dispatcher.start();
    let mut publishers = Vec::new();
    for t in 0..8 {
        let dispatcher = dispatcher.clone();
        publishers.push(tokio::spawn(async move {
            for i in (t..count).step_by(8) {
                dispatcher
                    .publish(&event(&format!("evt_{i}"), ts))
                    .await
                    .unwrap();
            }
        }));
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }
    wait_for("nothing pending", Duration::from_secs(300), || async {
        dispatcher.stats().await.unwrap().pending == 0
    })
    .await;
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

/// A real crash: a child process publishing and delivering is killed with
/// SIGKILL mid-run and started again; every event arrives at least once and
/// is handled exactly once by a receiver deduplicating by event id, none
/// lost. `MEGABOT_CRASH_EVENTS` sets the count (default 2 000; 10 000 for
/// the full figure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_run_loses_nothing() {
    use std::process::{Command, Stdio};
    let count: usize = std::env::var("MEGABOT_CRASH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite3");
    let log = dir.path().join("child.log");
    let ts = now();
    let spawn = || {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_child_role",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MEGABOT_CHILD_STORE", &path)
            .env("MEGABOT_CHILD_URL", &receiver.url)
            .env("MEGABOT_CHILD_EVENTS", count.to_string())
            .env("MEGABOT_CHILD_TIMESTAMP", ts.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap()
    };
    let mut first = spawn();
    wait_for("a quarter handled", Duration::from_secs(120), || async {
        receiver.handled_count() >= count / 4
    })
    .await;
    // The running child holds the file: this process cannot open it.
    let error = SqliteStore::open(&path).unwrap_err();
    assert_eq!(error.code(), "store_locked", "{error}");
    first.kill().unwrap(); // SIGKILL
    let status = first.wait().unwrap();
    assert!(!status.success(), "killed mid-run");
    let handled_at_kill = receiver.handled_count();
    let mut second = spawn();
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the restarted child did not finish");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let child_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "restarted child failed: {child_log}");
    let handled = receiver.handled();
    let lost: Vec<_> = (0..count)
        .map(|i| format!("evt_{i}"))
        .filter(|id| !handled.contains_key(id))
        .collect();
    assert!(
        lost.is_empty(),
        "lost {} events: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    assert_eq!(handled.len(), count);
    assert!(handled.values().all(|&n| n == 1));
    let store = open(&path);
    let stats = megabot_webhook_sender::dispatcher::DeliveryStore::stats(store.as_ref())
        .await
        .unwrap();
    assert_eq!(
        (stats.pending, stats.delivered, stats.dead),
        (0, count as u64, 0)
    );
    println!(
        "kill -9 after {handled_at_kill} of {count} handled; {} copies deduplicated; 0 lost",
        receiver.duplicates()
    );
}

#[test]
fn the_yaml_loader_reads_the_dispatcher_limits() {
    let yaml = r#"
webhooks:
  secret_key: "s"
  endpoints:
    - url: "https://your-service.com/webhook"
      max_in_flight: 4
      rate_limit: 2.5
    - url: "https://other.example/webhook"
"#;
    let loaded = megabot_webhook_sender::ConfigLoader::with_env(|_| None)
        .load_str(yaml, "mega-config.yaml")
        .unwrap();
    let endpoints = &loaded.config.endpoints;
    assert_eq!(endpoints[0].max_in_flight, Some(4));
    assert_eq!(endpoints[0].rate_limit, Some(2.5));
    assert_eq!(
        (endpoints[1].max_in_flight, endpoints[1].rate_limit),
        (None, None)
    );
    let error = megabot_webhook_sender::ConfigLoader::with_env(|_| None)
        .load_str(&yaml.replace("rate_limit", "rate_limt"), "mega-config.yaml")
        .unwrap_err()
        .to_string();
    assert!(error.contains("rate_limt"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_filters_and_pages() {
    let clock = ManualClock::new();
    let dir = tempfile::tempdir().unwrap();
    let (dispatcher, _) = Dispatcher::builder(
        config(vec![
            endpoint("http://127.0.0.1:9/a", 3, 0.0),
            endpoint("http://127.0.0.1:9/b", 3, 0.0),
        ]),
        open(&dir.path().join("s.sqlite3")),
    )
    .clock(Arc::new(clock.clone()))
    .build()
    .await
    .unwrap();
    common_dispatch::check_list_filters(&dispatcher, &clock).await;
}

#[test]
fn a_file_that_is_not_a_store_is_refused_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.sqlite3");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let error = SqliteStore::open(&path).unwrap_err();
    assert_eq!(error.code(), "store", "{error}");
    assert!(error.to_string().starts_with("delivery store: "), "{error}");
    let missing = SqliteStore::open(dir.path().join("no/such/dir/s.sqlite3")).unwrap_err();
    assert_eq!(missing.code(), "store", "{missing}");
}

/// With the default destination policy (`DestinationPolicy::server()`,
/// global addresses only) a loopback endpoint is refused before connect: the
/// delivery goes `dead` with reason `destination_refused` and the receiver
/// gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_policy_refuses_a_loopback_endpoint_before_connect() {
    let receiver = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = {
        let mut value = config(vec![endpoint(&receiver.url, 3, 0.0)]);
        value.allow_private_targets = false;
        value
    };
    let d = dispatcher(settings, open(&dir.path().join("s.sqlite3"))).await;
    d.start();
    let id = d
        .publish(&event("evt_refused", now()))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    wait_for("dead", LONG, || async {
        d.get(&id).await.unwrap().unwrap().state == DeliveryState::Dead
    })
    .await;
    let record = d.get(&id).await.unwrap().unwrap();
    assert_eq!(record.dead_reason.as_deref(), Some("destination_refused"));
    d.shutdown(Duration::from_secs(5)).await;
    assert_eq!(receiver.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_started_with_its_lease_is_taken_back_when_not_made() {
    let dir = tempfile::tempdir().unwrap();
    common_dispatch::check_started_attempts(open(&dir.path().join("s.sqlite3"))).await;
}
