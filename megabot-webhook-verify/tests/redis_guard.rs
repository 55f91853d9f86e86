// Over 600 lines: one scenario per test (across instances, ownership, TTLs, failing
// closed) over the same throw-away redis-server fixtures.
//! `RedisReplayGuard` against a real `redis-server` (one per test, on a free loopback
//! port): design 4.4 across instances, ownership, TTLs, and failing closed.
//!
//! Over 600 lines: one file for every case of one guard against one real server.

#![cfg(feature = "redis")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use megabot_webhook_test_support::RedisServer;
use megabot_webhook_verify::sign::megabot_signature;
use megabot_webhook_verify::{
    Claim, ClaimOutcome, DEFAULT_REDIS_PREFIX, Error, RedisReplayGuard, RedisStoreError,
    ReplayGuard, Secret, Verifier,
};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

const SECRET: &str = "your_webhook_secret";

async fn guard(server: &RedisServer) -> RedisReplayGuard {
    RedisReplayGuard::builder(server.url())
        .timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("connect to the test redis")
}

/// A plain connection to look at the keys behind the guard's back.
async fn inspect(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test redis")
}

async fn value(connection: &mut MultiplexedConnection, key: &str) -> Option<String> {
    connection.get(key).await.unwrap()
}

async fn pttl(connection: &mut MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(connection)
        .await
        .unwrap()
}

fn claimed(outcome: Result<ClaimOutcome, Error>) -> Claim {
    match outcome {
        Ok(ClaimOutcome::Claimed(claim)) => claim,
        other => panic!("expected a claim, got {other:?}"),
    }
}

fn in_5_minutes() -> DateTime<Utc> {
    Utc::now() + TimeDelta::minutes(5)
}

/// The moment an entry for `expires_at` ends: the start of the second after it.
fn end_of(expires_at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(expires_at.timestamp() + 1, 0).unwrap()
}

async fn sleep_until(at: DateTime<Utc>) {
    let left = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::sleep(left).await;
}

fn assert_unavailable(result: Result<impl std::fmt::Debug, Error>, operation: &str) {
    let error = result.expect_err("redis is down: the guard must fail closed");
    assert_eq!(error.code(), "replay_store_unavailable", "{error:?}");
    assert_eq!(error.status(), 503);
    assert!(error.retry_after().is_some());
    let Error::ReplayStoreUnavailable {
        source: Some(source),
    } = &error
    else {
        panic!("unexpected error {error:?}");
    };
    let store = source
        .downcast_ref::<RedisStoreError>()
        .expect("the source is a RedisStoreError");
    assert_eq!(store.operation(), operation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_across_two_instances_have_exactly_one_winner() {
    let server = RedisServer::start();
    let instances = [
        Arc::new(guard(&server).await),
        Arc::new(guard(&server).await),
    ];
    let expires_at = in_5_minutes();
    let start = Arc::new(tokio::sync::Barrier::new(64));
    let mut tasks = Vec::new();
    for copy in 0..64 {
        let guard = Arc::clone(&instances[copy % 2]);
        let start = Arc::clone(&start);
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            guard.claim("evt_race", expires_at, Utc::now()).await
        }));
    }
    let mut winners = Vec::new();
    let mut in_flight = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(ClaimOutcome::Claimed(claim)) => winners.push(claim),
            Ok(ClaimOutcome::InFlight) => in_flight += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claim wins");
    assert_eq!(in_flight, 63);

    // The winner completes on its instance; both instances now see it done.
    let winner = &winners[0];
    instances[0].complete(winner, Utc::now()).await.unwrap();
    for guard in &instances {
        assert_eq!(
            guard
                .claim("evt_race", expires_at, Utc::now())
                .await
                .unwrap(),
            ClaimOutcome::Done
        );
    }
}

#[tokio::test]
async fn release_by_the_owner_lets_the_next_claim_win() {
    let server = RedisServer::start();
    let (one, two) = (guard(&server).await, guard(&server).await);
    let mut redis = inspect(&server).await;
    let key = format!("{DEFAULT_REDIS_PREFIX}evt_release");
    let expires_at = in_5_minutes();

    let first = claimed(one.claim("evt_release", expires_at, Utc::now()).await);
    assert_eq!(first.id, "evt_release");
    assert_eq!(first.expires_at, expires_at);
    let stored = value(&mut redis, &key).await.expect("claimed key exists");
    assert!(stored.ends_with(":inflight"), "{stored}");
    assert_eq!(
        two.claim("evt_release", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::InFlight
    );

    // The handler failed on instance one: it releases; the retry wins on instance two.
    one.release(&first).await.unwrap();
    assert_eq!(value(&mut redis, &key).await, None);
    let second = claimed(two.claim("evt_release", expires_at, Utc::now()).await);
    assert_ne!(second.token, first.token);

    // The old claim no longer owns the id: neither its release nor its complete acts.
    one.release(&first).await.unwrap();
    one.complete(&first, Utc::now()).await.unwrap();
    assert_eq!(
        one.claim("evt_release", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::InFlight
    );
    two.complete(&second, Utc::now()).await.unwrap();
    assert_eq!(
        one.claim("evt_release", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::Done
    );
}

#[tokio::test]
async fn release_and_complete_by_a_non_owner_change_nothing() {
    let server = RedisServer::start();
    let (one, two) = (guard(&server).await, guard(&server).await);
    let mut redis = inspect(&server).await;
    let key = format!("{DEFAULT_REDIS_PREFIX}evt_owner");
    let expires_at = in_5_minutes();

    let owner = claimed(one.claim("evt_owner", expires_at, Utc::now()).await);
    let before = value(&mut redis, &key).await.unwrap();
    let ttl_before = pttl(&mut redis, &key).await;
    for token in [owner.token ^ 1, 0, u128::MAX] {
        let intruder = Claim::new("evt_owner", token, expires_at + TimeDelta::hours(1));
        two.release(&intruder).await.unwrap();
        two.complete(&intruder, Utc::now()).await.unwrap();
        one.release(&intruder).await.unwrap();
    }
    assert_eq!(value(&mut redis, &key).await.as_deref(), Some(&*before));
    assert!(pttl(&mut redis, &key).await <= ttl_before);
    assert_eq!(
        two.claim("evt_owner", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::InFlight
    );

    // A done id cannot be released, not even by its former owner.
    one.complete(&owner, Utc::now()).await.unwrap();
    let done = value(&mut redis, &key).await.unwrap();
    assert!(done.ends_with(":done"), "{done}");
    one.release(&owner).await.unwrap();
    two.release(&Claim::new("evt_owner", owner.token ^ 1, expires_at))
        .await
        .unwrap();
    assert_eq!(value(&mut redis, &key).await.as_deref(), Some(&*done));
    assert_eq!(
        two.claim("evt_owner", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::Done
    );
}

#[tokio::test]
async fn done_ids_answer_done_until_they_expire() {
    let server = RedisServer::start();
    let (one, two) = (guard(&server).await, guard(&server).await);
    let mut redis = inspect(&server).await;
    let key = format!("{DEFAULT_REDIS_PREFIX}evt_ttl");

    // A short window: the entry lives through the whole second of expires_at.
    let expires_at = Utc::now() + TimeDelta::milliseconds(1500);
    let end = end_of(expires_at);
    let before_claim = Utc::now();
    let claim = claimed(one.claim("evt_ttl", expires_at, before_claim).await);
    let in_flight_ttl = pttl(&mut redis, &key).await;
    assert!(
        in_flight_ttl > 0 && in_flight_ttl <= (end - before_claim).num_milliseconds() + 1,
        "an in-flight claim does not outlive expires_at: {in_flight_ttl} ms"
    );
    let before_complete = Utc::now();
    one.complete(&claim, before_complete).await.unwrap();
    let done_ttl = pttl(&mut redis, &key).await;
    let after = Utc::now();
    assert!(
        done_ttl > 0
            && done_ttl <= (end - before_complete).num_milliseconds() + 1
            && done_ttl >= (end - after).num_milliseconds() - 5,
        "done TTL {done_ttl} ms: the rest of the window ({} ms)",
        (end - before_complete).num_milliseconds()
    );

    while Utc::now() + TimeDelta::milliseconds(150) < end {
        assert_eq!(
            two.claim("evt_ttl", expires_at, Utc::now()).await.unwrap(),
            ClaimOutcome::Done
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sleep_until(end + TimeDelta::milliseconds(100)).await;
    assert_eq!(value(&mut redis, &key).await, None, "redis dropped the key");
    let again = claimed(two.claim("evt_ttl", in_5_minutes(), Utc::now()).await);
    assert_ne!(again.token, claim.token);
}

#[tokio::test]
async fn completing_after_the_window_forgets_the_id() {
    let server = RedisServer::start();
    let guard = guard(&server).await;
    let mut redis = inspect(&server).await;
    let key = format!("{DEFAULT_REDIS_PREFIX}evt_late");
    let expires_at = in_5_minutes();
    let claim = claimed(guard.claim("evt_late", expires_at, Utc::now()).await);
    // The caller's clock says the window is over: nothing is left to remember.
    guard
        .complete(&claim, end_of(expires_at) + TimeDelta::seconds(1))
        .await
        .unwrap();
    assert_eq!(value(&mut redis, &key).await, None);
    // An expired expires_at still gets a claim (1 ms), like the in-memory guard.
    let past = Utc::now() - TimeDelta::minutes(1);
    claimed(guard.claim("evt_past", past, Utc::now()).await);
}

/// design 4.4 through the verifier: a done id lives exactly as long as its timestamp is
/// fresh; once it leaves the tolerance window, copies are stale and the key is gone.
#[tokio::test]
async fn a_done_id_expires_when_its_timestamp_leaves_the_tolerance_window() {
    let server = RedisServer::start();
    let mut redis = inspect(&server).await;
    let verifier = Verifier::builder()
        .megabot_secret(Secret::new(SECRET).unwrap())
        .tolerance(Duration::from_secs(1))
        .replay_guard(Arc::new(guard(&server).await))
        .build()
        .unwrap();
    let timestamp = Utc::now().timestamp();
    let body = format!(
        r#"{{"event":"error_occurred","id":"evt_window","timestamp":{timestamp},"data":{{"error_id":"err_1","type":"LLMProviderError","message":"rate limit","severity":"error"}}}}"#
    );
    let signature = megabot_signature(&Secret::new(SECRET).unwrap(), body.as_bytes());
    let headers = [("X-MegaBot-Signature", signature.as_str())];

    let verified = verifier.verify(&headers, body.as_bytes()).unwrap();
    let claim = verifier.claim(&verified).await.unwrap();
    let before_complete = Utc::now();
    verifier.complete(&claim).await.unwrap();
    let key = format!("{DEFAULT_REDIS_PREFIX}evt_window");
    // Fresh while floor(now) <= timestamp + 1: the window ends at timestamp + 2 s.
    let window_end = DateTime::from_timestamp(timestamp + 2, 0).unwrap();
    let ttl = pttl(&mut redis, &key).await;
    assert!(
        ttl > 0 && ttl <= (window_end - before_complete).num_milliseconds() + 1,
        "TTL {ttl} ms outlives the window"
    );

    let mut duplicates = 0;
    while Utc::now() + TimeDelta::milliseconds(150) < window_end {
        let copy = verifier.verify(&headers, body.as_bytes()).unwrap();
        assert!(matches!(
            verifier.claim(&copy).await,
            Err(Error::DuplicateDelivery)
        ));
        duplicates += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(duplicates > 0);
    sleep_until(window_end + TimeDelta::milliseconds(100)).await;
    assert!(matches!(
        verifier.verify(&headers, body.as_bytes()),
        Err(Error::TimestampTooOld { .. })
    ));
    assert_eq!(
        value(&mut redis, &key).await,
        None,
        "the key left with the window"
    );
}

#[tokio::test]
async fn redis_stopped_mid_test_fails_closed_and_recovers_after_a_restart() {
    let mut server = RedisServer::start();
    let guard = guard(&server).await;
    let expires_at = in_5_minutes();
    let before = claimed(guard.claim("evt_outage_1", expires_at, Utc::now()).await);

    server.stop();
    for id in ["evt_outage_2", "evt_outage_1"] {
        let started = Instant::now();
        assert_unavailable(guard.claim(id, expires_at, Utc::now()).await, "claim");
        assert!(
            started.elapsed() < guard.timeout() + Duration::from_millis(500),
            "failed after {:?}",
            started.elapsed()
        );
    }
    assert_unavailable(guard.complete(&before, Utc::now()).await, "complete");
    assert_unavailable(guard.release(&before).await, "release");

    server.restart();
    // The first claim after the restart already works: the broken connection is
    // replaced within the same operation.
    let claim = claimed(guard.claim("evt_outage_2", expires_at, Utc::now()).await);
    guard.complete(&claim, Utc::now()).await.unwrap();
    assert_eq!(
        guard
            .claim("evt_outage_2", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::Done
    );
}

#[tokio::test]
async fn a_guard_idle_during_an_outage_works_at_once_after_the_restart() {
    let mut server = RedisServer::start();
    let guard = guard(&server).await;
    claimed(guard.claim("evt_idle_1", in_5_minutes(), Utc::now()).await);
    server.restart();
    // Its connection broke while it was idle: the first claim replaces it.
    claimed(guard.claim("evt_idle_2", in_5_minutes(), Utc::now()).await);
    // The restarted Redis kept nothing: the old id is unseen again.
    claimed(guard.claim("evt_idle_1", in_5_minutes(), Utc::now()).await);
}

#[tokio::test]
async fn a_hanging_redis_times_out_and_the_lost_claim_is_undone() {
    let server = RedisServer::start();
    let guard = RedisReplayGuard::builder(server.url())
        .timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let mut redis = inspect(&server).await;
    let key = format!("{DEFAULT_REDIS_PREFIX}evt_hang");

    server.pause();
    let started = Instant::now();
    let result = guard.claim("evt_hang", in_5_minutes(), Utc::now()).await;
    let elapsed = started.elapsed();
    server.resume();
    assert_unavailable(result, "claim");
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(1500),
        "timed out after {elapsed:?}"
    );
    // Whether the frozen claim ran once Redis woke up or not, nobody owns it: the
    // guard undid it in the background, so a retry wins within a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match guard.claim("evt_hang", in_5_minutes(), Utc::now()).await {
            Ok(ClaimOutcome::Claimed(_)) => break,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "still not claimable: {other:?} (key {:?})",
                    value(&mut redis, &key).await
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn prefixes_separate_applications_sharing_one_redis() {
    let server = RedisServer::start();
    let orders = RedisReplayGuard::builder(server.url())
        .prefix("orders:")
        .connect()
        .await
        .unwrap();
    let billing = RedisReplayGuard::builder(server.url())
        .prefix("billing:")
        .connect()
        .await
        .unwrap();
    assert_eq!(orders.prefix(), "orders:");
    assert_eq!(orders.key("evt_1"), "orders:evt_1");
    let mut redis = inspect(&server).await;

    let claim = claimed(orders.claim("evt_1", in_5_minutes(), Utc::now()).await);
    orders.complete(&claim, Utc::now()).await.unwrap();
    assert!(value(&mut redis, "orders:evt_1").await.is_some());
    assert!(value(&mut redis, "megabot:webhook:evt_1").await.is_none());
    claimed(billing.claim("evt_1", in_5_minutes(), Utc::now()).await);
    assert!(value(&mut redis, "billing:evt_1").await.is_some());
}

#[tokio::test]
async fn in_flight_ttl_lets_a_retry_take_over_from_a_crashed_instance() {
    let server = RedisServer::start();
    let crashed = RedisReplayGuard::builder(server.url())
        .in_flight_ttl(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let other = guard(&server).await;
    let mut redis = inspect(&server).await;
    let expires_at = in_5_minutes();

    let lost = claimed(crashed.claim("evt_crash", expires_at, Utc::now()).await);
    let ttl = pttl(&mut redis, &format!("{DEFAULT_REDIS_PREFIX}evt_crash")).await;
    assert!(ttl > 0 && ttl <= 300, "{ttl}");
    assert_eq!(
        other
            .claim("evt_crash", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::InFlight
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let retry = claimed(other.claim("evt_crash", expires_at, Utc::now()).await);
    // The stale claim can no longer complete or release the id.
    crashed.complete(&lost, Utc::now()).await.unwrap();
    crashed.release(&lost).await.unwrap();
    assert_eq!(
        crashed
            .claim("evt_crash", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::InFlight
    );
    other.complete(&retry, Utc::now()).await.unwrap();
    // Completed ids keep the full window, whatever the in-flight limit.
    let done_ttl = pttl(&mut redis, &format!("{DEFAULT_REDIS_PREFIX}evt_crash")).await;
    assert!(done_ttl > 250_000, "{done_ttl}");
}

/// design 9.4: in-flight entries are leases by default (60 s), not held for the id's whole
/// window.
#[tokio::test]
async fn in_flight_entries_are_sixty_second_leases_by_default() {
    let server = RedisServer::start();
    let guard = guard(&server).await;
    let mut redis = inspect(&server).await;
    assert_eq!(guard.in_flight_ttl(), Some(Duration::from_secs(60)));
    claimed(
        guard
            .claim("evt_lease_default", in_5_minutes(), Utc::now())
            .await,
    );
    let ttl = pttl(
        &mut redis,
        &format!("{DEFAULT_REDIS_PREFIX}evt_lease_default"),
    )
    .await;
    assert!(ttl > 55_000 && ttl <= 60_000, "{ttl}");
}

/// design 9.4: a holder that stops renewing (crashed) loses its claim after the TTL; a
/// live holder renewing every third of the TTL keeps it however long it runs.
#[tokio::test]
async fn a_renewed_lease_outlives_its_ttl_and_a_dead_one_expires() {
    let server = RedisServer::start();
    let ttl = Duration::from_millis(300);
    let live = RedisReplayGuard::builder(server.url())
        .in_flight_ttl(ttl)
        .connect()
        .await
        .unwrap();
    let crashed = live.clone();
    let other = guard(&server).await;
    let expires_at = in_5_minutes();

    let kept = claimed(live.claim("evt_live", expires_at, Utc::now()).await);
    let lost = claimed(crashed.claim("evt_dead", expires_at, Utc::now()).await);
    let started = Instant::now();
    // The live holder renews every ttl/3 for more than three TTLs; the crashed one never.
    while started.elapsed() < ttl * 3 + Duration::from_millis(100) {
        assert!(live.renew(&kept, Utc::now()).await.unwrap());
        assert_eq!(
            other
                .claim("evt_live", expires_at, Utc::now())
                .await
                .unwrap(),
            ClaimOutcome::InFlight,
            "a live, renewing holder lost its claim"
        );
        tokio::time::sleep(ttl / 3).await;
    }
    // The dead holder's claim expired: a retry takes over, and the old claim can
    // neither renew nor settle it.
    let retry = claimed(other.claim("evt_dead", expires_at, Utc::now()).await);
    assert!(!crashed.renew(&lost, Utc::now()).await.unwrap());
    crashed.release(&lost).await.unwrap();
    assert_eq!(
        crashed
            .claim("evt_dead", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::InFlight
    );
    other.complete(&retry, Utc::now()).await.unwrap();
    live.complete(&kept, Utc::now()).await.unwrap();
    assert_eq!(
        other
            .claim("evt_live", expires_at, Utc::now())
            .await
            .unwrap(),
        ClaimOutcome::Done
    );
}

#[tokio::test]
async fn passwords_stay_out_of_debug_and_errors() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret-pw"]);
    let url = format!("redis://:s3cret-pw@127.0.0.1:{}/0", server.port());
    let guard = RedisReplayGuard::connect(&url).await.unwrap();
    let debug = format!("{guard:?}");
    assert!(!debug.contains("s3cret-pw"), "{debug}");
    assert!(
        debug.contains(&format!("127.0.0.1:{}/0", server.port())),
        "{debug}"
    );
    claimed(guard.claim("evt_auth", in_5_minutes(), Utc::now()).await);

    for bad in [
        format!("redis://:wrong-s3cret@127.0.0.1:{}", server.port()),
        format!("redis://127.0.0.1:{}", server.port()),
    ] {
        let error = RedisReplayGuard::builder(bad)
            .timeout(Duration::from_millis(500))
            .connect()
            .await
            .map(|_| ())
            .expect_err("wrong credentials are refused");
        assert_eq!(error.status(), 503);
        let mut chain = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        assert!(!chain.contains("s3cret"), "{chain}");
        assert!(!format!("{error:?}").contains("s3cret"));
    }
}

#[tokio::test]
async fn from_connection_manager_and_the_verifier_share_the_guard() {
    let server = RedisServer::start();
    let manager = redis::Client::open(server.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    let guard = RedisReplayGuard::from_connection_manager(manager)
        .with_prefix("custom:")
        .with_timeout(Duration::from_millis(700));
    assert_eq!(guard.timeout(), Duration::from_millis(700));
    assert!(format!("{guard:?}").contains("<connection manager>"));
    let verifier = Verifier::builder()
        .megabot_secret(Secret::new(SECRET).unwrap())
        .replay_guard(Arc::new(guard))
        .build()
        .unwrap();
    let instance_b = Verifier::builder()
        .megabot_secret(Secret::new(SECRET).unwrap())
        .replay_guard(Arc::new(
            RedisReplayGuard::builder(server.url())
                .prefix("custom:")
                .connect()
                .await
                .unwrap(),
        ))
        .build()
        .unwrap();

    let timestamp = Utc::now().timestamp();
    let body = format!(
        r#"{{"event":"error_occurred","id":"evt_both","timestamp":{timestamp},"data":{{"error_id":"err_1","type":"LLMProviderError","message":"rate limit","severity":"error"}}}}"#
    );
    let signature = megabot_signature(&Secret::new(SECRET).unwrap(), body.as_bytes());
    let headers = [("X-MegaBot-Signature", signature.as_str())];
    let on_a = verifier.verify(&headers, body.as_bytes()).unwrap();
    let on_b = instance_b.verify(&headers, body.as_bytes()).unwrap();

    let claim = verifier.claim(&on_a).await.unwrap();
    assert!(matches!(
        instance_b.claim(&on_b).await,
        Err(Error::ReplayInFlight)
    ));
    verifier.release(&claim).await.unwrap();
    let claim = instance_b.claim(&on_b).await.unwrap();
    instance_b.complete(&claim).await.unwrap();
    assert!(matches!(
        verifier.claim(&on_a).await,
        Err(Error::DuplicateDelivery)
    ));
    let mut redis = inspect(&server).await;
    assert!(value(&mut redis, "custom:evt_both").await.is_some());
}
