// Over 600 lines: one scenario per test (reconnect, retries, dead rows, 409, two
// instances, takeover) over the same redis-server and loopback receiver fixtures.
//! The durable dispatcher on a real `redis-server` (one per test, loopback,
//! free port), delivering to loopback receivers: durability across a
//! reconnect, retries, dead rows, 409, stale deliveries, two instances
//! sharing one queue, takeover of a killed instance's deliveries after its
//! leases expire, renewal keeping a live holder's leases, retention, and
//! URL passwords kept out of errors and `Debug`.

#![cfg(feature = "redis")]

mod common_dispatch;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common_dispatch::{ManualClock, Receiver, Script, always, config, endpoint, event, wait_for};
use megabot_webhook_sender::config::WebhooksConfig;
use megabot_webhook_sender::dispatcher::DeliveryStore;
use megabot_webhook_sender::dispatcher::{DeliveryQuery, DeliveryState, Dispatcher, RedisStore};
use megabot_webhook_test_support::RedisServer;

const LONG: Duration = Duration::from_secs(20);

fn now() -> i64 {
    Utc::now().timestamp()
}

async fn store(server: &RedisServer) -> Arc<RedisStore> {
    Arc::new(RedisStore::connect(&server.url()).await.unwrap())
}

async fn dispatcher(config: WebhooksConfig, store: Arc<RedisStore>, owner: &str) -> Dispatcher {
    let (dispatcher, warnings) = Dispatcher::builder(config, store)
        .owner(owner)
        .poll_interval(Duration::from_millis(10))
        .build()
        .await
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    dispatcher
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_is_durable_across_a_reconnect_and_every_delivery_arrives() {
    let server = RedisServer::start();
    let receiver = Receiver::start(always(200)).await;
    let settings = config(vec![endpoint(&receiver.url, 3, 0.0)]);
    {
        let dispatcher = dispatcher(settings.clone(), store(&server).await, "a").await;
        for i in 0..30 {
            let outcome = dispatcher
                .publish(&event(&format!("evt_{i}"), now()))
                .await
                .unwrap();
            assert!(outcome.created);
        }
        let again = dispatcher.publish(&event("evt_3", now())).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.deliveries.len(), 1);
        assert_eq!(again.deliveries[0].event_id, "evt_3");
    }
    let dispatcher = dispatcher(settings, store(&server).await, "b").await;
    assert_eq!(dispatcher.stats().await.unwrap().pending, 30);
    dispatcher.start();
    wait_for("30 deliveries", LONG, || async {
        receiver.handled_count() == 30
    })
    .await;
    wait_for("30 delivered rows", LONG, || async {
        dispatcher.stats().await.unwrap().delivered == 30
    })
    .await;
    assert_eq!(receiver.request_count(), 30);
    dispatcher.shutdown(Duration::from_secs(5)).await;
    let mut query = DeliveryQuery {
        limit: 7,
        ..DeliveryQuery::default()
    };
    let mut ids = Vec::new();
    loop {
        let page = dispatcher.list(&query).await.unwrap();
        ids.extend(page.deliveries.into_iter().map(|d| d.id));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(ids.len(), 30);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let by_event = dispatcher
        .list(&DeliveryQuery {
            event_id: Some("evt_5".to_owned()),
            ..DeliveryQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_event.deliveries.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_then_success_and_exhaustion_with_the_attempt_log() {
    let server = RedisServer::start();
    let flaky: Script = Arc::new(|_, nth| if nth < 2 { (502, None) } else { (200, None) });
    let receiver = Receiver::start(flaky).await;
    let broken = Receiver::start(always(503)).await;
    let dispatcher = dispatcher(
        config(vec![
            endpoint(&receiver.url, 5, 0.0),
            endpoint(&broken.url, 3, 0.0),
        ]),
        store(&server).await,
        "a",
    )
    .await;
    dispatcher.start();
    let outcome = dispatcher.publish(&event("evt_r", now())).await.unwrap();
    assert_eq!(outcome.deliveries.len(), 2);
    wait_for("both ended", LONG, || async {
        dispatcher.stats().await.unwrap().pending == 0
    })
    .await;
    let ok = dispatcher
        .get(&outcome.deliveries[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ok.state, DeliveryState::Delivered);
    assert_eq!(ok.attempts, 3);
    let statuses: Vec<_> = dispatcher
        .attempts(&ok.id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(statuses, [Some(502), Some(502), Some(200)]);
    let dead = dispatcher
        .get(&outcome.deliveries[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.state, DeliveryState::Dead);
    assert_eq!(dead.dead_reason.as_deref(), Some("exhausted"));
    assert_eq!(dead.last_status, Some(503));
    let log = dispatcher.attempts(&dead.id).await.unwrap();
    assert_eq!(log.len(), 3);
    assert!(
        log.iter()
            .all(|a| a.status == Some(503) && a.duration.is_some())
    );
    // Redelivery brings it back to pending with a fresh set of attempts.
    broken.set_script(always(200));
    assert_eq!(
        dispatcher.redeliver(&dead.id).await.unwrap().as_deref(),
        Some(dead.id.as_str())
    );
    wait_for("redelivered", LONG, || async {
        dispatcher.get(&dead.id).await.unwrap().unwrap().state == DeliveryState::Delivered
    })
    .await;
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_does_not_use_up_an_attempt_and_stale_goes_dead() {
    let server = RedisServer::start();
    let script: Script = Arc::new(|_, nth| {
        if nth < 2 {
            (409, Some("0"))
        } else {
            (200, None)
        }
    });
    let receiver = Receiver::start(script).await;
    let dispatcher = dispatcher(
        config(vec![endpoint(&receiver.url, 1, 0.0)]),
        store(&server).await,
        "a",
    )
    .await;
    dispatcher.start();
    let id = dispatcher
        .publish(&event("evt_c", now()))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    let old = dispatcher
        .publish(&event("evt_old", now() - 400))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    wait_for("both ended", LONG, || async {
        dispatcher.stats().await.unwrap().pending == 0
    })
    .await;
    let record = dispatcher.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state, DeliveryState::Delivered);
    assert_eq!(record.attempts, 1);
    assert_eq!(dispatcher.attempts(&id).await.unwrap().len(), 3);
    let stale = dispatcher.get(&old).await.unwrap().unwrap();
    assert_eq!(stale.dead_reason.as_deref(), Some("stale"));
    assert_eq!(stale.attempts, 0);
    assert!(!receiver.requests().contains(&"evt_old".to_owned()));
    dispatcher.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_share_one_queue() {
    let server = RedisServer::start();
    let receiver = Receiver::start(always(200)).await;
    receiver.set_delay(Duration::from_millis(20));
    let settings = config(vec![endpoint(&receiver.url, 3, 0.0)]);
    let build = |owner: &'static str| {
        let settings = settings.clone();
        let server_url = server.url();
        async move {
            let store = Arc::new(RedisStore::connect(&server_url).await.unwrap());
            let (dispatcher, _) = Dispatcher::builder(settings, store)
                .owner(owner)
                .workers(2)
                .poll_interval(Duration::from_millis(10))
                .build()
                .await
                .unwrap();
            dispatcher
        }
    };
    let a = build("a").await;
    let b = build("b").await;
    for i in 0..60 {
        a.publish(&event(&format!("evt_s{i}"), now()))
            .await
            .unwrap();
    }
    a.start();
    b.start();
    let mut a_busy = false;
    let mut b_busy = false;
    wait_for("60 deliveries", LONG, || {
        a_busy |= a.in_flight() > 0;
        b_busy |= b.in_flight() > 0;
        async { receiver.handled_count() == 60 }
    })
    .await;
    assert!(a_busy && b_busy, "both instances took work");
    wait_for("60 delivered rows", LONG, || async {
        a.stats().await.unwrap().delivered == 60
    })
    .await;
    assert_eq!(receiver.request_count(), 60, "each delivery attempted once");
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_deliveries_are_taken_over_after_its_leases_expire() {
    let server = RedisServer::start();
    let receiver = Receiver::start(always(200)).await;
    // The first instance's attempts hang at the receiver until it is killed.
    receiver.set_delay(Duration::from_secs(30));
    let settings = config(vec![endpoint(&receiver.url, 5, 0.0)]);
    let lease = Duration::from_millis(900);
    let (a, _) = Dispatcher::builder(settings.clone(), store(&server).await)
        .owner("a")
        .lease(lease)
        .poll_interval(Duration::from_millis(10))
        .build()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            a.publish(&event(&format!("evt_k{i}"), now()))
                .await
                .unwrap()
                .deliveries[0]
                .id
                .clone(),
        );
    }
    a.start();
    wait_for("5 attempts in flight", LONG, || async {
        receiver.request_count() == 5
    })
    .await;
    // Renewed while alive: still a's after several lease periods.
    tokio::time::sleep(lease * 2).await;
    for id in &ids {
        let record = a.get(id).await.unwrap().unwrap();
        assert_eq!(record.lease_owner.as_deref(), Some("a"));
    }
    // "kill -9": every task stops at once, nothing is released.
    a.abort();
    drop(a);
    receiver.set_delay(Duration::ZERO);
    let (b, _) = Dispatcher::builder(settings, store(&server).await)
        .owner("b")
        .lease(lease)
        .poll_interval(Duration::from_millis(10))
        .build()
        .await
        .unwrap();
    b.start();
    wait_for("taken over and delivered", LONG, || async {
        receiver.handled_count() == 5
    })
    .await;
    wait_for("5 delivered rows", LONG, || async {
        b.stats().await.unwrap().delivered == 5
    })
    .await;
    for id in &ids {
        let record = b.get(id).await.unwrap().unwrap();
        assert_eq!(record.state, DeliveryState::Delivered);
        assert_eq!(record.attempts, 2, "the cut-off attempt counts");
        let log = b.attempts(id).await.unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].status, None, "cut off by the kill");
        assert_eq!(log[1].status, Some(200));
    }
    b.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_writes_need_the_lease() {
    let server = RedisServer::start();
    let store = store(&server).await;
    let receiver = Receiver::start(always(200)).await;
    let d = dispatcher(
        config(vec![endpoint(&receiver.url, 3, 0.0)]),
        store.clone(),
        "a",
    )
    .await;
    let id = d.publish(&event("evt_l", now())).await.unwrap().deliveries[0]
        .id
        .clone();
    let t = Utc::now();
    let leased = store
        .lease_due("x", t, Duration::from_secs(30), 10, &[])
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert!(
        store
            .lease_due("y", t, Duration::from_secs(30), 10, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.begin_attempt(&id, "y", t).await.unwrap(), None);
    assert!(
        !store
            .settle(
                &id,
                "y",
                t,
                None,
                megabot_webhook_sender::dispatcher::Settlement::Delivered
            )
            .await
            .unwrap()
    );
    assert!(!store.release(&id, "y", t).await.unwrap());
    assert!(
        store
            .renew_leases("y", std::slice::from_ref(&id), t, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    // After expiry another owner takes it, and the first loses its writes.
    let later = t + chrono::Duration::seconds(31);
    let taken = store
        .lease_due("y", later, Duration::from_secs(30), 10, &[])
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(store.begin_attempt(&id, "x", later).await.unwrap(), None);
    assert_eq!(store.begin_attempt(&id, "y", later).await.unwrap(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_cut_off_by_its_holders_death_stays_in_the_log() {
    use megabot_webhook_sender::dispatcher::{AttemptResult, Settlement};
    let server = RedisServer::start();
    let store = store(&server).await;
    let d = dispatcher(
        config(vec![endpoint("http://127.0.0.1:9/webhook", 3, 0.0)]),
        store.clone(),
        "a",
    )
    .await;
    let id = d
        .publish(&event("evt_cut", now()))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    let t = Utc::now();
    let lease = Duration::from_secs(30);
    assert_eq!(
        store.lease_due("x", t, lease, 10, &[]).await.unwrap().len(),
        1
    );
    assert_eq!(store.begin_attempt(&id, "x", t).await.unwrap(), Some(1));
    // In flight: listed, unfinished.
    let log = store.attempts(&id).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].attempt, log[0].status, log[0].duration),
        (1, None, None)
    );
    // "x" dies; after its lease expires "y" takes over and attempts again.
    let later = t + chrono::Duration::seconds(31);
    assert_eq!(
        store
            .lease_due("y", later, lease, 10, &[])
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.begin_attempt(&id, "y", later).await.unwrap(), Some(2));
    let answered = AttemptResult {
        attempt: 2,
        status: Some(200),
        duration: Duration::from_millis(7),
        error: None,
    };
    assert!(
        store
            .settle(&id, "y", later, Some(answered), Settlement::Delivered)
            .await
            .unwrap()
    );
    let log = store.attempts(&id).await.unwrap();
    let shape: Vec<_> = log
        .iter()
        .map(|a| {
            (
                a.attempt,
                a.status,
                a.duration,
                a.started_at.timestamp_millis(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (1, None, None, t.timestamp_millis()),
            (
                2,
                Some(200),
                Some(Duration::from_millis(7)),
                later.timestamp_millis()
            ),
        ]
    );
    let row = store.get(&id).await.unwrap().unwrap();
    assert_eq!(row.state, DeliveryState::Delivered);
    assert_eq!((row.attempts, row.last_status), (2, Some(200)));
    assert_eq!(
        (row.lease_owner, row.lease_expires_at, row.last_error),
        (None, None, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_follows_the_retention() {
    let server = RedisServer::start();
    let clock = ManualClock::new();
    let ok = Receiver::start(always(200)).await;
    let refusing = Receiver::start(always(410)).await;
    let (dispatcher, _) = Dispatcher::builder(
        config(vec![
            endpoint(&ok.url, 3, 0.0),
            endpoint(&refusing.url, 3, 0.0),
        ]),
        store(&server).await,
    )
    .clock(Arc::new(clock.clone()))
    .poll_interval(Duration::from_millis(10))
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
    assert_eq!(dispatcher.purge().await.unwrap(), 1);
    // The event keeps its other delivery: publishing it again is a repeat.
    let again = dispatcher
        .publish(&event("evt_p", clock.now_unix()))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.deliveries.len(), 1);
    assert_eq!(again.deliveries[0].state, DeliveryState::Dead);
    clock.advance(Duration::from_secs(23 * 86_400));
    assert_eq!(dispatcher.purge().await.unwrap(), 1);
    assert_eq!(dispatcher.stats().await.unwrap(), Default::default());
    dispatcher.shutdown(Duration::from_secs(5)).await;
    // With all its deliveries purged, the event is forgotten.
    let anew = dispatcher
        .publish(&event("evt_p", clock.now_unix()))
        .await
        .unwrap();
    assert!(anew.created);
    assert_eq!(anew.deliveries.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_in_the_earlier_layout_is_read_and_purged() {
    // Before, an event's delivery ids were a list (`ev:<event>`, the
    // `events` value the publish time) and the attempt log a list
    // (`a:<delivery>`); now both live in hashes.
    let server = RedisServer::start();
    let clock = ManualClock::new();
    let receiver = Receiver::start(Arc::new(
        |_, nth| {
            if nth == 0 { (503, None) } else { (200, None) }
        },
    ))
    .await;
    let (dispatcher, _) = Dispatcher::builder(
        config(vec![endpoint(&receiver.url, 3, 0.0)]),
        store(&server).await,
    )
    .clock(Arc::new(clock.clone()))
    .poll_interval(Duration::from_millis(10))
    .build()
    .await
    .unwrap();
    dispatcher.start();
    let id = dispatcher
        .publish(&event("evt_o", clock.now_unix()))
        .await
        .unwrap()
        .deliveries[0]
        .id
        .clone();
    wait_for("delivered", LONG, || async {
        dispatcher.stats().await.unwrap().delivered == 1
    })
    .await;
    dispatcher.shutdown(Duration::from_secs(5)).await;
    let log = dispatcher.attempts(&id).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!((log[0].status, log[1].status), (Some(503), Some(200)));

    let client = redis::Client::open(server.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let key = |kind: &str, id: &str| format!("megabot:dispatch:{kind}:{id}");
    let lines: String = redis::cmd("HGET")
        .arg(key("d", &id))
        .arg("log")
        .query_async(&mut connection)
        .await
        .unwrap();
    let mut old = redis::pipe();
    old.cmd("HSET")
        .arg("megabot:dispatch:events")
        .arg("evt_o")
        .arg("1764500000000")
        .cmd("RPUSH")
        .arg(key("ev", "evt_o"))
        .arg(&id)
        .cmd("RPUSH")
        .arg(key("a", &id))
        .arg(lines.lines().collect::<Vec<_>>())
        .cmd("HDEL")
        .arg(key("d", &id))
        .arg("log");
    let () = old.query_async(&mut connection).await.unwrap();

    assert_eq!(dispatcher.attempts(&id).await.unwrap(), log);
    let listed = dispatcher
        .list(&DeliveryQuery {
            event_id: Some("evt_o".to_owned()),
            ..DeliveryQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.deliveries.len(), 1);
    let again = dispatcher
        .publish(&event("evt_o", clock.now_unix()))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.deliveries[0].id, id);
    clock.advance(Duration::from_secs(8 * 86_400));
    assert_eq!(dispatcher.purge().await.unwrap(), 1);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("megabot:dispatch:*")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(
        keys.iter()
            .all(|k| !k.contains(":ev:") && !k.contains(":a:") && !k.ends_with(":events")),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_endpoints_and_health_persist() {
    let server = RedisServer::start();
    let store = store(&server).await;
    store
        .put_endpoint("ep_1", r#"{"url":"https://a.example"}"#)
        .await
        .unwrap();
    store
        .put_endpoint("ep_2", r#"{"url":"https://b.example"}"#)
        .await
        .unwrap();
    assert!(store.delete_endpoint("ep_1").await.unwrap());
    let again = RedisStore::connect(&server.url()).await.unwrap();
    assert_eq!(
        again.list_endpoints().await.unwrap(),
        [(
            "ep_2".to_owned(),
            r#"{"url":"https://b.example"}"#.to_owned()
        )]
    );
    assert_eq!(
        again.get_endpoint("ep_2").await.unwrap().as_deref(),
        Some(r#"{"url":"https://b.example"}"#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_password_never_shows() {
    let server = RedisServer::start_with(&["--requirepass", "right-pw-123"]);
    let wrong = format!("redis://:wrong-pw-456@127.0.0.1:{}/0", server.port());
    let error = RedisStore::connect(&wrong).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(!text.contains("wrong-pw-456"), "{text}");
    assert_eq!(error.code(), "store");
    let right = format!("redis://:right-pw-123@127.0.0.1:{}/0", server.port());
    let store = RedisStore::connect(&right).await.unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("right-pw-123"), "{debug}");
    assert!(debug.contains("127.0.0.1"), "{debug}");
}

/// Publish throughput into Redis, printed for the record, never asserted.
/// `MEGABOT_PUBLISH_EVENTS` sets the count (default 5 000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_throughput_is_reported() {
    let count: usize = std::env::var("MEGABOT_PUBLISH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let server = RedisServer::start();
    let dispatcher = Arc::new(
        dispatcher(
            config(vec![endpoint("http://127.0.0.1:9/hook", 3, 0.0)]),
            store(&server).await,
            "a",
        )
        .await,
    );
    let ts = now();
    let tasks = 64;
    let started = std::time::Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let dispatcher = dispatcher.clone();
        handles.push(tokio::spawn(async move {
            for i in (t..count).step_by(tasks) {
                if let Err(error) = dispatcher.publish(&event(&format!("evt_{i}"), ts)).await {
                    panic!("publish evt_{i}: {error}");
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
    println!("published {count} events into redis in {elapsed:?}: {rate:.0} events/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_endpoint_health() {
    let server = RedisServer::start();
    let receiver = Receiver::start(always(200)).await;
    let settings = config(vec![endpoint(&receiver.url, 3, 0.0)]);
    let build = |owner: &'static str| {
        let settings = settings.clone();
        let url = server.url();
        async move {
            let store = Arc::new(RedisStore::connect(&url).await.unwrap());
            let (dispatcher, _) = Dispatcher::builder(settings, store)
                .owner(owner)
                .lease(Duration::from_millis(300))
                .poll_interval(Duration::from_millis(10))
                .build()
                .await
                .unwrap();
            dispatcher
        }
    };
    let a = build("a").await;
    let b = build("b").await;
    a.start();
    b.start();
    let id = a.endpoints()[0].0.clone();
    assert_eq!(b.endpoints()[0].0, id, "config endpoint ids are stable");
    // Disabled by another instance (written to the store as a does).
    let disabled = megabot_webhook_sender::dispatcher::EndpointHealth {
        failing_since: Some(Utc::now() - chrono::Duration::days(6)),
        disabled_at: Some(Utc::now()),
    };
    a.store().put_health(&id, disabled).await.unwrap();
    wait_for("b sees the disable", LONG, || async { b.is_disabled(&id) }).await;
    let outcome = b.publish(&event("evt_dis", now())).await.unwrap();
    assert_eq!(
        outcome.deliveries[0].dead_reason.as_deref(),
        Some("endpoint_disabled")
    );
    assert!(a.enable(&id).await.unwrap());
    wait_for("b sees the enable", LONG, || async { !b.is_disabled(&id) }).await;
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_filters_and_pages() {
    let server = RedisServer::start();
    let clock = ManualClock::new();
    let (dispatcher, _) = Dispatcher::builder(
        config(vec![
            endpoint("http://127.0.0.1:9/a", 3, 0.0),
            endpoint("http://127.0.0.1:9/b", 3, 0.0),
        ]),
        store(&server).await,
    )
    .clock(Arc::new(clock.clone()))
    .build()
    .await
    .unwrap();
    common_dispatch::check_list_filters(&dispatcher, &clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_endpoint_ends_its_pending_deliveries() {
    let server = RedisServer::start();
    let receiver = Receiver::start(always(200)).await;
    let d = dispatcher(config(Vec::new()), store(&server).await, "a").await;
    d.add_endpoint("ep_1", endpoint(&receiver.url, 3, 0.0))
        .await
        .unwrap();
    d.add_endpoint("ep_2", endpoint(&receiver.url, 3, 0.0))
        .await
        .unwrap();
    let outcome = d.publish(&event("evt_x", now())).await.unwrap();
    assert_eq!(outcome.deliveries.len(), 2);
    assert_eq!(d.remove_endpoint("ep_1").await.unwrap(), Some(1));
    let gone = d.get(&outcome.deliveries[0].id).await.unwrap().unwrap();
    assert_eq!(gone.state, DeliveryState::Dead);
    assert_eq!(gone.dead_reason.as_deref(), Some("endpoint_deleted"));
    let stats = d.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (1, 1));
    d.start();
    wait_for("the other delivered", LONG, || async {
        receiver.handled_count() == 1
    })
    .await;
    d.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_invalid_redis_is_a_clear_error() {
    // A loopback port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = RedisStore::connect(&format!("redis://:pw-789@127.0.0.1:{port}/0"))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert_eq!(error.code(), "store");
    assert!(text.contains("cannot connect to redis"), "{text}");
    assert!(!text.contains("pw-789"), "{text}");
    let invalid = RedisStore::connect("not a url").await.unwrap_err();
    assert!(
        invalid.to_string().contains("invalid redis url"),
        "{invalid}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_started_with_its_lease_is_taken_back_when_not_made() {
    let server = RedisServer::start();
    common_dispatch::check_started_attempts(store(&server).await).await;
}
