//! Settling a delivery's claim by the handler's outcome (design 4.4), shared by every
//! framework through [`crate::receive::handle`].
//!
//! Once the delivery id is claimed, a [`Settlement`] holds the claim while the handler
//! runs and settles it by the answer's status: 2xx completes the claim, anything else
//! releases it. A panicking handler releases it too. The settlement lives in the
//! handler's run, which a dropped request does not cancel (design 9.4,
//! [`crate::detach`]); if the run itself is dropped (runtime shutting down),
//! [`Settlement`]'s `Drop` releases the claim.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use megabot_webhook_verify::{Claim, Verifier};

use crate::trace;

/// A claim waiting for the handler's outcome.
struct Pending {
    verifier: Verifier,
    claim: Claim,
}

/// Holds a delivery's claim until the handler answered; settles it then, or on drop.
pub(crate) struct Settlement {
    pending: Option<Pending>,
}

impl std::fmt::Debug for Settlement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settlement")
            .field(
                "claimed",
                &self.pending.as_ref().map(|p| p.claim.id.as_str()),
            )
            .finish()
    }
}

impl Settlement {
    /// Takes charge of `claim`, made by `verifier`.
    pub(crate) fn new(verifier: &Verifier, claim: Claim) -> Settlement {
        Settlement {
            pending: Some(Pending {
                verifier: verifier.clone(),
                claim,
            }),
        }
    }

    /// Settles the claim by the handler's answer: 2xx completes, anything else
    /// releases. Store failures are logged; the handler's answer stands. Returns the
    /// settled delivery id.
    pub(crate) async fn finish(mut self, status: u16) -> Option<String> {
        let Pending { verifier, claim } = self.pending.take()?;
        let completed = (200..300).contains(&status);
        let result = if completed {
            verifier.complete(&claim).await
        } else {
            verifier.release(&claim).await
        };
        match result {
            Ok(()) => trace::settled(&claim.id, status, completed),
            Err(error) => trace::settle_failed(
                &claim.id,
                if completed { "complete" } else { "release" },
                &error.into(),
            ),
        }
        Some(claim.id)
    }
}

/// Runs the handler (or the rest of the service stack) `inner`, catching a panic so that
/// the outer piece can release the claim and answer 500 instead of losing the connection.
pub(crate) async fn catch_panic<F: Future>(inner: F) -> Result<F::Output, Panicked> {
    match AssertUnwindSafe(inner).catch_unwind().await {
        Ok(output) => Ok(output),
        Err(payload) => {
            tracing::error!(
                panic = panic_message(payload.as_ref()),
                "webhook handler panicked"
            );
            Err(Panicked)
        }
    }
}

impl Drop for Settlement {
    fn drop(&mut self) {
        // Still holding a claim here means the request was dropped (or panicked) before
        // `finish`: release it so that the sender's retry can run.
        let Some(Pending { verifier, claim }) = self.pending.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    match verifier.release(&claim).await {
                        Ok(()) => tracing::info!(
                            delivery_id = claim.id.as_str(),
                            "webhook request ended before the handler answered; claim released"
                        ),
                        Err(error) => trace::settle_failed(&claim.id, "release", &error.into()),
                    }
                });
            }
            Err(_) => tracing::error!(
                delivery_id = claim.id.as_str(),
                "request dropped outside a tokio runtime: its claim stays in flight until it expires"
            ),
        }
    }
}

/// The handler panicked (see [`catch_panic`]).
#[derive(Debug)]
pub(crate) struct Panicked;

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "non-string panic payload"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use megabot_webhook_verify::{Secret, Verified, sign};

    fn verifier() -> Verifier {
        Verifier::builder()
            .megabot_secret(Secret::new("test-secret").unwrap())
            .build()
            .unwrap()
    }

    fn verified(verifier: &Verifier, id: &str) -> Verified {
        let now = chrono::Utc::now().timestamp();
        let body = format!(r#"{{"event":"x_unknown","id":"{id}","timestamp":{now},"data":{{}}}}"#);
        let signature =
            sign::megabot_signature(&Secret::new("test-secret").unwrap(), body.as_bytes());
        verifier
            .verify(
                &[("X-MegaBot-Signature", signature.as_str())],
                body.as_bytes(),
            )
            .unwrap()
    }

    async fn claimed(verifier: &Verifier, id: &str) -> (Settlement, Verified) {
        let verified = verified(verifier, id);
        let claim = verifier.claim(&verified).await.unwrap();
        (Settlement::new(verifier, claim), verified)
    }

    #[tokio::test]
    async fn success_completes_and_failure_releases() {
        let verifier = verifier();
        let (settlement, verified) = claimed(&verifier, "evt_ok").await;
        settlement.finish(204).await;
        assert_eq!(
            verifier.claim(&verified).await.unwrap_err().code(),
            "duplicate_delivery"
        );

        let (settlement, verified) = claimed(&verifier, "evt_fail").await;
        settlement.finish(500).await;
        assert!(verifier.claim(&verified).await.is_ok());
    }

    #[tokio::test]
    async fn dropping_the_settlement_releases() {
        let verifier = verifier();
        let (settlement, verified) = claimed(&verifier, "evt_drop").await;
        drop(settlement);
        // The release runs on a spawned task.
        for _ in 0..100 {
            tokio::task::yield_now().await;
            if verifier.claim(&verified).await.is_ok() {
                return;
            }
        }
        panic!("claim was not released after the drop");
    }

    #[tokio::test]
    async fn a_panic_is_caught() {
        let result = catch_panic(async { panic!("boom") }).await;
        assert!(matches!(result, Err::<(), _>(Panicked)));
        let result = catch_panic(async { 7 }).await;
        assert_eq!(result.unwrap(), 7);
    }
}
