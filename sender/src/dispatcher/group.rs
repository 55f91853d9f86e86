//! Group commit on the dispatcher's side: the settles that workers ask for
//! while a group is being written go to the store together, in the next
//! group: one store call ([`DeliveryStore::settle_many`]) for many
//! deliveries, as the publishes of concurrent callers already share one
//! SQLite transaction. (Attempt starts need no group: the scheduler's lease
//! starts them, [`DeliveryStore::lease_started`].)
//!
//! A group is written as soon as one request waits and the previous group
//! is answered: no timer, so a lone request at low load is written at once,
//! and under load the groups grow by themselves. Each worker waits for its
//! own answer, so nothing depends on a settle before it is stored.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use super::store::{DeliveryStore, SettleRequest, store_error};
use crate::Error;

/// The most requests written in one store call.
const GROUP_MAX: usize = 512;

type Request<T, R> = (T, oneshot::Sender<Result<R, Error>>);

/// The queue of one kind of request, and its writer.
pub(super) struct Group<T, R> {
    requests: mpsc::UnboundedSender<Request<T, R>>,
    /// Taken by the writer task when the dispatcher starts.
    queue: Mutex<Option<mpsc::UnboundedReceiver<Request<T, R>>>>,
}

impl<T: Send + 'static, R: Send + 'static> Group<T, R> {
    pub(super) fn new() -> Group<T, R> {
        let (requests, queue) = mpsc::unbounded_channel();
        Group {
            requests,
            queue: Mutex::new(Some(queue)),
        }
    }

    /// Queues `request` for the next group and waits until it is written.
    pub(super) async fn submit(&self, request: T) -> Result<R, Error> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .send((request, answer))
            .map_err(|_| store_error("the dispatcher's store writer stopped"))?;
        answered
            .await
            .map_err(|_| store_error("the dispatcher's store writer stopped"))?
    }

    /// The writer: writes each group with `write` and answers its requests.
    /// `None` once taken (the dispatcher started).
    fn writer<F, Fut>(&self, mut write: F) -> Option<impl Future<Output = ()> + Send + 'static>
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<R>, Error>> + Send,
    {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some(async move {
            let mut group = Vec::new();
            while queue.recv_many(&mut group, GROUP_MAX).await > 0 {
                let (requests, answers): (Vec<T>, Vec<_>) = group.drain(..).unzip();
                let count = requests.len();
                match write(requests).await {
                    Ok(results) if results.len() == count => {
                        for (answer, result) in answers.into_iter().zip(results) {
                            let _ = answer.send(Ok(result));
                        }
                    }
                    Ok(results) => {
                        let message =
                            format!("the store answered {} of {count} requests", results.len());
                        for answer in answers {
                            let _ = answer.send(Err(store_error(&message)));
                        }
                    }
                    Err(error) => {
                        let message = error.to_string();
                        let mut answers = answers.into_iter();
                        if let Some(first) = answers.next() {
                            let _ = first.send(Err(error));
                        }
                        for answer in answers {
                            let _ = answer.send(Err(store_error(&message)));
                        }
                    }
                }
            }
        })
    }
}

/// The dispatcher's group: the settles of this instance's `owner`.
pub(super) struct Groups {
    pub(super) settles: Group<SettleRequest, bool>,
}

impl Groups {
    pub(super) fn new() -> Groups {
        Groups {
            settles: Group::new(),
        }
    }

    /// The writer tasks' futures (empty once taken).
    pub(super) fn writers(
        &self,
        store: &Arc<dyn DeliveryStore>,
        owner: &str,
    ) -> Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> {
        let mut writers: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
        let (settle_store, settle_owner) = (store.clone(), owner.to_owned());
        if let Some(writer) = self.settles.writer(move |requests| {
            let (store, owner) = (settle_store.clone(), settle_owner.clone());
            async move { store.settle_many(&owner, requests).await }
        }) {
            writers.push(Box::pin(writer));
        }
        writers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_request_gets_its_own_answer_and_a_failed_group_fails_every_request() {
        let group: Arc<Group<u32, u32>> = Arc::new(Group::new());
        let writer = group
            .writer(|requests: Vec<u32>| async move {
                if requests.contains(&0) {
                    Err(store_error("disk full"))
                } else if requests.contains(&99) {
                    Ok(Vec::new())
                } else {
                    Ok(requests.iter().map(|r| r * 10).collect())
                }
            })
            .unwrap();
        assert!(
            group
                .writer(|_: Vec<u32>| async { Ok(Vec::new()) })
                .is_none(),
            "one writer per group"
        );
        let writer = tokio::spawn(writer);
        let submitted: Vec<_> = (1..=20)
            .map(|i| {
                let group = group.clone();
                tokio::spawn(async move { (i, group.submit(i).await) })
            })
            .collect();
        for task in submitted {
            let (i, answer) = task.await.unwrap();
            assert_eq!(answer.unwrap(), i * 10);
        }
        let error = group.submit(0).await.unwrap_err();
        assert!(error.to_string().contains("disk full"), "{error}");
        let error = group.submit(99).await.unwrap_err();
        assert!(error.to_string().contains("answered 0 of 1"), "{error}");
        writer.abort();
        let _ = writer.await;
        let error = group.submit(1).await.unwrap_err();
        assert!(error.to_string().contains("writer stopped"), "{error}");
    }
}
