//! design 4.4's table for the in-memory replay guard, through the trait and through
//! `Verifier::claim`, including real concurrency.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{at, body};
use megabot_webhook_verify::sign::megabot_signature;
use megabot_webhook_verify::{
    Claim, ClaimOutcome, Error, MemoryReplayGuard, ReplayGuard, Secret, Verifier,
};

const T: i64 = 1_640_995_200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_claims_one_winner() {
    for round in 0..20 {
        let guard = Arc::new(MemoryReplayGuard::new(1000));
        let barrier = Arc::new(tokio::sync::Barrier::new(64));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let guard = Arc::clone(&guard);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    guard.claim("evt_same", at(T + 300), at(T)).await
                })
            })
            .collect();
        let mut claimed = 0;
        let mut in_flight = 0;
        for task in tasks {
            match task.await.unwrap().unwrap() {
                ClaimOutcome::Claimed(_) => claimed += 1,
                ClaimOutcome::InFlight => in_flight += 1,
                ClaimOutcome::Done => panic!("round {round}: nothing completed yet"),
                other => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!((claimed, in_flight), (1, 63), "round {round}");
        assert_eq!(guard.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_distinct_ids_all_win_up_to_capacity() {
    let guard = Arc::new(MemoryReplayGuard::new(500));
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let guard = Arc::clone(&guard);
            tokio::spawn(async move { guard.claim(&format!("evt_{i}"), at(T + 300), at(T)).await })
        })
        .collect();
    let mut claimed = 0;
    let mut full = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(ClaimOutcome::Claimed(_)) => claimed += 1,
            Err(Error::ReplayStoreFull) => full += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((claimed, full), (500, 500));
    assert_eq!(guard.len(), 500);
}

#[tokio::test]
async fn release_lets_the_next_claim_win() {
    let guard = MemoryReplayGuard::new(10);
    let ClaimOutcome::Claimed(first) = guard.claim("evt_1", at(T + 300), at(T)).await.unwrap()
    else {
        panic!("first claim");
    };
    assert_eq!(
        guard.claim("evt_1", at(T + 300), at(T)).await.unwrap(),
        ClaimOutcome::InFlight
    );
    guard.release(&first).await.unwrap();
    let ClaimOutcome::Claimed(second) = guard.claim("evt_1", at(T + 300), at(T + 1)).await.unwrap()
    else {
        panic!("claim after release");
    };
    assert_ne!(first.token, second.token);
    // The old claim can no longer complete or release the id.
    guard.complete(&first, at(T + 2)).await.unwrap();
    guard.release(&first).await.unwrap();
    assert_eq!(
        guard.claim("evt_1", at(T + 300), at(T + 2)).await.unwrap(),
        ClaimOutcome::InFlight
    );
}

#[tokio::test]
async fn done_ids_answer_done_until_expiry() {
    let guard = MemoryReplayGuard::new(10);
    let ClaimOutcome::Claimed(claim) = guard.claim("evt_1", at(T + 300), at(T)).await.unwrap()
    else {
        panic!("claim");
    };
    guard.complete(&claim, at(T + 1)).await.unwrap();
    for now in [T + 1, T + 100, T + 300] {
        assert_eq!(
            guard.claim("evt_1", at(T + 300), at(now)).await.unwrap(),
            ClaimOutcome::Done,
            "at T+{}",
            now - T
        );
    }
    // Releasing a completed id changes nothing.
    guard.release(&claim).await.unwrap();
    assert_eq!(
        guard
            .claim("evt_1", at(T + 300), at(T + 300))
            .await
            .unwrap(),
        ClaimOutcome::Done
    );
    // Expired: treated as unseen.
    assert!(matches!(
        guard
            .claim("evt_1", at(T + 601), at(T + 301))
            .await
            .unwrap(),
        ClaimOutcome::Claimed(_)
    ));
}

#[tokio::test]
async fn full_store_errors_and_never_evicts_live_ids() {
    let guard = MemoryReplayGuard::new(4);
    let mut claims = Vec::new();
    for i in 0..4 {
        match guard
            .claim(&format!("evt_{i}"), at(T + 300), at(T))
            .await
            .unwrap()
        {
            ClaimOutcome::Claimed(claim) => claims.push(claim),
            other => panic!("{other:?}"),
        }
    }
    guard.complete(&claims[0], at(T)).await.unwrap();
    let error = guard
        .claim("evt_new", at(T + 300), at(T + 10))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ReplayStoreFull));
    assert_eq!((error.status(), error.retry_after()), (503, Some(1)));
    // Every live id is still there, in its state.
    assert_eq!(
        guard.claim("evt_0", at(T + 300), at(T + 10)).await.unwrap(),
        ClaimOutcome::Done
    );
    for i in 1..4 {
        assert_eq!(
            guard
                .claim(&format!("evt_{i}"), at(T + 300), at(T + 10))
                .await
                .unwrap(),
            ClaimOutcome::InFlight
        );
    }
    // Releasing one makes room; so does expiry.
    guard.release(&claims[1]).await.unwrap();
    assert!(matches!(
        guard
            .claim("evt_new", at(T + 300), at(T + 10))
            .await
            .unwrap(),
        ClaimOutcome::Claimed(_)
    ));
    assert!(
        guard
            .claim("evt_newer", at(T + 300), at(T + 10))
            .await
            .is_err()
    );
    assert!(matches!(
        guard
            .claim("evt_newer", at(T + 900), at(T + 301))
            .await
            .unwrap(),
        ClaimOutcome::Claimed(_)
    ));
    // The sweep that made room may have reached only some shards (an id's shard
    // depends on a random hash key); a full purge leaves only the live claim.
    guard.purge_expired(at(T + 301));
    assert_eq!(guard.len(), 1);
}

#[tokio::test]
async fn verifier_claim_maps_outcomes_to_errors() {
    let secret = Secret::new("your_webhook_secret").unwrap();
    let guard = Arc::new(MemoryReplayGuard::new(10));
    let verifier = Verifier::builder()
        .megabot_secret(secret.clone())
        .replay_guard(guard.clone())
        .build()
        .unwrap();
    assert!(Arc::ptr_eq(
        &(verifier.replay_guard().clone() as Arc<dyn ReplayGuard>),
        &(guard.clone() as Arc<dyn ReplayGuard>)
    ));
    let body = body("evt_1", &T.to_string());
    let signature = megabot_signature(&secret, &body);
    let headers = [("X-MegaBot-Signature", signature.as_str())];
    let verified = verifier.verify_at(&headers, &body, at(T)).unwrap();

    let claim = verifier.claim_at(&verified, at(T)).await.unwrap();
    assert_eq!(claim.id, "evt_1");
    assert_eq!(claim.expires_at, at(T + 300));
    let in_flight = verifier.claim_at(&verified, at(T)).await.unwrap_err();
    assert!(matches!(in_flight, Error::ReplayInFlight));
    assert_eq!(
        (in_flight.status(), in_flight.retry_after()),
        (409, Some(5))
    );

    // A clone shares the store.
    let clone = verifier.clone();
    clone.release(&claim).await.unwrap();
    let claim = clone.claim_at(&verified, at(T + 1)).await.unwrap();
    verifier.complete_at(&claim, at(T + 1)).await.unwrap();
    let duplicate = verifier.claim_at(&verified, at(T + 2)).await.unwrap_err();
    assert!(matches!(duplicate, Error::DuplicateDelivery));
    assert_eq!(duplicate.status(), 200);
}

#[tokio::test]
async fn verifier_claim_with_the_system_clock() {
    let secret = Secret::new("s").unwrap();
    let verifier = Verifier::builder()
        .megabot_secret(secret.clone())
        .tolerance(Duration::from_secs(300))
        .build()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let body = body("evt_sys", &now.to_string());
    let signature = megabot_signature(&secret, &body);
    let verified = verifier
        .verify(&[("X-MegaBot-Signature", signature.as_str())], &body)
        .unwrap();
    let claim = verifier.claim(&verified).await.unwrap();
    verifier.complete(&claim).await.unwrap();
    assert!(matches!(
        verifier.claim(&verified).await,
        Err(Error::DuplicateDelivery)
    ));
}

/// A guard written outside the crate: the trait is implementable.
#[derive(Debug)]
struct AlwaysUnavailable;

#[async_trait::async_trait]
impl ReplayGuard for AlwaysUnavailable {
    async fn claim(
        &self,
        _id: &str,
        _expires_at: chrono::DateTime<chrono::Utc>,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ClaimOutcome, Error> {
        Err(Error::replay_store_unavailable(std::io::Error::other(
            "connection refused",
        )))
    }

    async fn complete(
        &self,
        _claim: &Claim,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn release(&self, _claim: &Claim) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::test]
async fn external_guards_plug_in_and_fail_closed() {
    let secret = Secret::new("s").unwrap();
    let verifier = Verifier::builder()
        .megabot_secret(secret.clone())
        .replay_guard(Arc::new(AlwaysUnavailable))
        .build()
        .unwrap();
    let body = body("evt_1", &T.to_string());
    let signature = megabot_signature(&secret, &body);
    let verified = verifier
        .verify_at(&[("X-MegaBot-Signature", signature.as_str())], &body, at(T))
        .unwrap();
    let error = verifier.claim_at(&verified, at(T)).await.unwrap_err();
    assert_eq!(
        (error.code(), error.status()),
        ("replay_store_unavailable", 503)
    );
    assert!(!error.to_string().contains("refused"));
    let _ = Claim::new("evt_1", 7, at(T));
}
