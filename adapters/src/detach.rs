//! A started handler runs to completion even when its request is dropped (design 4.4,
//! 9.4), without a task of its own while the request is still there.
//!
//! The funnel used to spawn every handler into a task and await its join handle; that was
//! about a quarter of the adapters' own work per request (the task's allocation, its
//! scheduling, the future moved into the task and the answer out of it). A
//! [`DetachOnDrop`] boxes the handler's run once and polls it in the request's own task;
//! only when the request is dropped before the run finished does the box move, as it is,
//! into a task of its own, where it finishes and settles its claim.
//!
//! Hand-written because no crate we depend on has these semantics: `tokio::spawn` always
//! schedules a task, and `futures`' `Shared`/`remote_handle` cancel on drop.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future polled in place until it is dropped unfinished, then moved into a task of its
/// own (see the module docs).
pub(crate) struct DetachOnDrop<F: Future + 'static> {
    running: Option<Pin<Box<F>>>,
    detach: fn(Pin<Box<F>>),
}

impl<F> DetachOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// Detaches onto the current tokio runtime ([`tokio::runtime::Handle::spawn`]).
    #[cfg_attr(
        not(any(feature = "axum", feature = "warp", feature = "tower")),
        allow(dead_code)
    )]
    pub(crate) fn new(future: F) -> Self {
        DetachOnDrop {
            running: Some(Box::pin(future)),
            detach: spawn::<F>,
        }
    }
}

impl<F: Future + 'static> DetachOnDrop<F> {
    /// Detaches onto the current thread's `LocalSet` ([`tokio::task::spawn_local`]), for
    /// futures that are not `Send` (actix-web runs every worker in a `LocalSet`).
    #[cfg_attr(not(feature = "actix-web"), allow(dead_code))]
    pub(crate) fn new_local(future: F) -> Self {
        DetachOnDrop {
            running: Some(Box::pin(future)),
            detach: spawn_local::<F>,
        }
    }
}

impl<F: Future + 'static> Future for DetachOnDrop<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(running) = self.running.as_mut() else {
            // Polled again after it finished: nothing is left to run.
            return Poll::Pending;
        };
        let output = std::task::ready!(running.as_mut().poll(cx));
        self.running = None;
        Poll::Ready(output)
    }
}

impl<F: Future + 'static> Drop for DetachOnDrop<F> {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            (self.detach)(running);
        }
    }
}

fn spawn<F>(running: Pin<Box<F>>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        // The join handle is dropped: the task runs on, detached.
        Ok(runtime) => drop(runtime.spawn(running)),
        // Dropping the run drops its settlement, which says what happens to the claim.
        Err(_) => drop(running),
    }
}

fn spawn_local<F: Future + 'static>(running: Pin<Box<F>>) {
    // `spawn_local` panics outside a `LocalSet`, and a panic must not escape a `drop`: the
    // run is then dropped, and its settlement says what happens to the claim.
    let spawned = std::panic::catch_unwind(AssertUnwindSafe(move || {
        drop(tokio::task::spawn_local(running));
    }));
    if spawned.is_err() {
        tracing::error!(
            "webhook request dropped outside a tokio LocalSet: its handler was cancelled"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn finishes_in_place() {
        let run = DetachOnDrop::new(async { 7 });
        assert_eq!(run.await, 7);
    }

    #[tokio::test]
    async fn a_dropped_run_finishes_in_a_task_of_its_own() {
        let finished = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let flag = finished.clone();
        let mut run = Box::pin(DetachOnDrop::new(async move {
            let _ = started_tx.send(());
            let _ = go_rx.await;
            flag.store(true, Ordering::SeqCst);
        }));
        // Started, then the request goes away.
        assert!(futures_util::FutureExt::now_or_never(run.as_mut()).is_none());
        started_rx.await.unwrap();
        drop(run);
        assert!(!finished.load(Ordering::SeqCst));
        go_tx.send(()).unwrap();
        for _ in 0..100 {
            if finished.load(Ordering::SeqCst) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the dropped run did not finish");
    }

    #[tokio::test]
    async fn a_dropped_local_run_finishes_on_the_local_set() {
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
                let mut run = Box::pin(DetachOnDrop::new_local(async move {
                    let _ = go_rx.await;
                    flag.store(true, Ordering::SeqCst);
                }));
                assert!(futures_util::FutureExt::now_or_never(run.as_mut()).is_none());
                drop(run);
                go_tx.send(()).unwrap();
                for _ in 0..100 {
                    tokio::task::yield_now().await;
                }
            })
            .await;
        assert!(finished.load(Ordering::SeqCst));
    }

    #[test]
    fn a_local_run_dropped_outside_a_local_set_is_cancelled_without_a_panic() {
        let dropped = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(dropped.clone());
        let mut run = Box::pin(DetachOnDrop::new_local(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        }));
        let waker = futures_util::task::noop_waker();
        assert!(
            run.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        drop(run);
        assert!(dropped.load(Ordering::SeqCst));
    }
}
