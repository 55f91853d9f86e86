//! Receivers on several instances sharing one Redis (design 4.4 across instances): each
//! instance is a separate server on its own loopback port with its own Redis
//! connection, on axum, actix-web or warp; the handler they share records every run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use megabot_webhook_test_support::RedisServer;
use megabot_webhook_tests::{
    Action, Answer, Client, Delivery, Framework, Instance, InstanceConfig, LoadBalancer, Recorder,
    sender,
};

/// Starts one instance per framework (named after it), all on `config`.
async fn cluster(
    frameworks: &[Framework],
    config: &InstanceConfig,
    recorder: &Arc<Recorder>,
) -> Vec<Instance> {
    let mut instances = Vec::new();
    for (index, framework) in frameworks.iter().enumerate() {
        let name = format!("{}-{index}", framework.name());
        instances.push(Instance::start(*framework, &name, config, Arc::clone(recorder)).await);
    }
    instances
}

fn addrs(instances: &[Instance]) -> Vec<SocketAddr> {
    instances.iter().map(Instance::addr).collect()
}

#[track_caller]
fn assert_unavailable(answer: &Answer) {
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(
        answer.error_code(),
        Some("replay_store_unavailable"),
        "{answer:?}"
    );
    assert!(
        answer.retry_after.is_some(),
        "503 without Retry-After: {answer:?}"
    );
}

/// A delivery handled on one instance is a duplicate on every other: `200 duplicate`,
/// and the handler does not run again. Every framework both first and second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_handled_on_one_instance_is_a_duplicate_on_another() {
    let redis = RedisServer::start();
    let recorder = Recorder::new();
    let config = InstanceConfig::new(redis.url());
    let instances = cluster(&Framework::ALL, &config, &recorder).await;
    let client = Client::new();

    for first in 0..instances.len() {
        let second = (first + 1) % instances.len();
        let (a, b) = (&instances[first], &instances[second]);
        let delivery = Delivery::new(&format!("evt_dup_{}_{}", a.name(), b.name()));
        let answer = client.send(a.addr(), &delivery).await;
        assert!(answer.is_handled(), "{} first: {answer:?}", a.name());
        let answer = client.send(b.addr(), &delivery).await;
        assert!(answer.is_duplicate(), "{} second: {answer:?}", b.name());
        let runs = recorder.runs_of(&delivery.id);
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0].instance, a.name());
    }
    assert_eq!(recorder.runs().len(), instances.len());
}

/// Concurrent copies of one delivery spread over `frameworks`' instances: the handler
/// runs exactly once in total; the others are told `409` (in flight, with
/// `Retry-After`) or `200 duplicate`, and their retries are duplicates.
async fn concurrent_copies_run_once(frameworks: &[Framework], copies: usize) {
    let redis = RedisServer::start();
    let recorder = Recorder::always(Action::SleepThenSucceed(Duration::from_millis(400)));
    let config = InstanceConfig::new(redis.url());
    let instances = cluster(frameworks, &config, &recorder).await;
    let targets = addrs(&instances);
    let client = Client::new();
    let delivery = Arc::new(Delivery::new("evt_concurrent"));

    let start = Arc::new(tokio::sync::Barrier::new(copies));
    let mut tasks = Vec::new();
    for copy in 0..copies {
        let (client, delivery, start) = (client.clone(), Arc::clone(&delivery), Arc::clone(&start));
        let addr = targets[copy % targets.len()];
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            client.send(addr, &delivery).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }

    let handled = answers.iter().filter(|answer| answer.is_handled()).count();
    assert_eq!(handled, 1, "{answers:#?}");
    let mut in_flight = 0;
    for answer in answers.iter().filter(|answer| !answer.is_handled()) {
        if answer.is_duplicate() {
            continue;
        }
        assert_eq!(answer.status, 409, "{answer:?}");
        assert_eq!(answer.error_code(), Some("replay_in_flight"), "{answer:?}");
        assert!(answer.retry_after.is_some(), "{answer:?}");
        in_flight += 1;
    }
    assert!(
        in_flight > 0,
        "no copy overlapped the handler: {answers:#?}"
    );
    // Copies refused on every instance, not only the winner's.
    for addr in &targets {
        assert!(
            answers
                .iter()
                .any(|answer| answer.addr == *addr && !answer.is_handled()),
            "no refused copy on {addr}"
        );
    }

    // The sender retries the 409s once the handler is done: duplicates everywhere.
    for (index, answer) in answers.iter().filter(|a| a.status == 409).enumerate() {
        let retry = client
            .send(targets[(index + 1) % targets.len()], &delivery)
            .await;
        assert!(retry.is_duplicate(), "retry of {answer:?}: {retry:?}");
    }
    assert_eq!(recorder.runs_of("evt_concurrent").len(), 1);
    assert_eq!(recorder.runs().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_copies_over_two_instances_run_once() {
    concurrent_copies_run_once(&[Framework::Axum, Framework::ActixWeb], 32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_copies_over_all_three_frameworks_run_once() {
    concurrent_copies_run_once(&Framework::ALL, 33).await;
}

/// The handler fails on instance A (500: the claim is released); the SDK's sender
/// retries through the load balancer, the retry lands on instance B and runs; a later
/// copy on A is a duplicate. Every framework fails once and retries once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_failure_on_one_instance_lets_the_retry_run_on_another() {
    let redis = RedisServer::start();
    let recorder = Recorder::script(&[Action::Fail, Action::Succeed].repeat(3));
    let config = InstanceConfig::new(redis.url());
    let instances = cluster(&Framework::ALL, &config, &recorder).await;
    let client = Client::new();

    for failing in 0..instances.len() {
        let retrying = (failing + 2) % instances.len();
        let (a, b) = (&instances[failing], &instances[retrying]);
        let balancer = LoadBalancer::start(vec![a.addr(), b.addr()]).await;
        let sender = sender(
            &balancer.url(),
            3,
            Duration::from_millis(50),
            Duration::from_secs(1),
        );
        let delivery = Delivery::new(&format!("evt_retry_{}_{}", a.name(), b.name()));

        let report = sender.send_delivery(&delivery.for_sender()).await;
        let endpoint = &report.deliveries[0];
        assert!(endpoint.is_delivered(), "{endpoint:#?}");
        assert_eq!(endpoint.statuses(), [Some(500), Some(200)], "{endpoint:#?}");
        assert_eq!(
            balancer.routed(),
            [(a.addr(), 500), (b.addr(), 200)],
            "{endpoint:#?}"
        );
        let runs = recorder.runs_of(&delivery.id);
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!(
            (runs[0].instance.as_str(), runs[0].succeeded),
            (a.name(), false)
        );
        assert_eq!(
            (runs[1].instance.as_str(), runs[1].succeeded),
            (b.name(), true)
        );
        let again = client.send(a.addr(), &delivery).await;
        assert!(again.is_duplicate(), "{again:?}");
        assert_eq!(recorder.runs_of(&delivery.id).len(), 2);
    }
}

/// Redis stops: every instance answers `503` with `Retry-After` and runs no handler
/// (fail closed). The sender keeps retrying over the instances; once Redis is back
/// each event is handled exactly once, none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_answers_503_and_the_senders_retries_land_once_it_is_back() {
    let mut redis = RedisServer::start();
    let recorder = Recorder::new();
    let config = InstanceConfig::new(redis.url());
    let instances = cluster(&Framework::ALL, &config, &recorder).await;
    let targets = addrs(&instances);
    let client = Client::new();

    // Before the outage: handled normally.
    let before = Delivery::new("evt_before_outage");
    assert!(client.send(targets[0], &before).await.is_handled());

    redis.stop();
    for instance in &instances {
        let answer = client
            .send(instance.addr(), &Delivery::new("evt_probe"))
            .await;
        assert_unavailable(&answer);
        // Not even a copy of a delivery handled before gets through unchecked.
        let copy = client.send(instance.addr(), &before).await;
        assert_unavailable(&copy);
    }
    assert!(recorder.runs_of("evt_probe").is_empty());

    // Two events arrive during the outage. The SDK's sender delivers them through a
    // round-robin load balancer and retries on 503, honouring Retry-After.
    let balancer = LoadBalancer::start(targets.clone()).await;
    let sender = sender(
        &balancer.url(),
        30,
        Duration::from_millis(250),
        Duration::from_secs(1),
    );
    let deliveries = [Delivery::new("evt_outage_1"), Delivery::new("evt_outage_2")];
    let mut sending = Vec::new();
    for delivery in &deliveries {
        let (sender, delivery) = (sender.clone(), delivery.for_sender());
        sending.push(tokio::spawn(async move {
            sender.send_delivery(&delivery).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        recorder.runs().len(),
        1,
        "a handler ran while redis was down: {:?}",
        recorder.runs()
    );
    redis.restart();

    for (delivery, sending) in deliveries.iter().zip(sending) {
        let report = sending.await.unwrap();
        let endpoint = &report.deliveries[0];
        assert!(
            endpoint.is_delivered(),
            "{} never landed: {endpoint:#?}",
            delivery.id
        );
        let (last, refused) = endpoint.attempts.split_last().unwrap();
        assert_eq!(last.status, Some(200), "{endpoint:#?}");
        assert!(refused.len() >= 2, "{endpoint:#?}");
        for attempt in refused {
            assert_eq!(attempt.status, Some(503), "{endpoint:#?}");
            assert_eq!(
                attempt.retry_after,
                Some(Duration::from_secs(1)),
                "{endpoint:#?}"
            );
            let body: serde_json::Value =
                serde_json::from_str(attempt.response_body.as_deref().unwrap_or("null")).unwrap();
            assert_eq!(body["error"], "replay_store_unavailable", "{endpoint:#?}");
        }
        let runs = recorder.runs_of(&delivery.id);
        assert_eq!(runs.len(), 1, "{} ran {runs:?}", delivery.id);
        assert!(runs[0].succeeded);
        for addr in &targets {
            let copy = client.send(*addr, delivery).await;
            assert!(copy.is_duplicate(), "{copy:?}");
        }
    }
    // The refusals came from every instance: the balancer spread the retries.
    let routed = balancer.routed();
    for addr in &targets {
        assert!(
            routed
                .iter()
                .any(|(to, status)| to == addr && *status == 503),
            "no 503 from {addr}: {routed:?}"
        );
    }
    assert_eq!(recorder.successes_of("evt_outage_1"), 1);
    assert_eq!(recorder.successes_of("evt_outage_2"), 1);
}

/// A done id is remembered exactly as long as its timestamp is fresh: while it is,
/// copies on another instance are duplicates; once it leaves the tolerance window the
/// key is gone from Redis and copies are refused as stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_done_id_expires_when_its_timestamp_leaves_the_tolerance_window() {
    let redis = RedisServer::start();
    let recorder = Recorder::new();
    let mut config = InstanceConfig::new(redis.url());
    config.tolerance = Duration::from_secs(1);
    let instances = cluster(&[Framework::Warp, Framework::Axum], &config, &recorder).await;
    let client = Client::new();
    let mut inspect = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let key = format!("{}evt_window", config.prefix);

    let before = Utc::now();
    let timestamp = before.timestamp();
    let delivery = Delivery::at("evt_window", timestamp);
    assert!(
        client
            .send(instances[0].addr(), &delivery)
            .await
            .is_handled()
    );
    // Fresh while floor(now) <= timestamp + 1 s: the window ends at timestamp + 2 s.
    let window_end = DateTime::from_timestamp(timestamp + 2, 0).unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut inspect)
        .await
        .unwrap();
    assert!(
        ttl > 0 && ttl <= (window_end - before).num_milliseconds() + 1,
        "TTL {ttl} ms"
    );

    while Utc::now() + TimeDelta::milliseconds(150) < window_end {
        let copy = client.send(instances[1].addr(), &delivery).await;
        assert!(copy.is_duplicate(), "{copy:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left = (window_end + TimeDelta::milliseconds(100) - Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut inspect)
        .await
        .unwrap();
    assert!(!exists, "the key outlived the window");
    for instance in &instances {
        let copy = client.send(instance.addr(), &delivery).await;
        assert_eq!(copy.status, 401, "{copy:?}");
        assert_eq!(copy.error_code(), Some("timestamp_too_old"), "{copy:?}");
    }
    assert_eq!(recorder.runs_of("evt_window").len(), 1);
}
