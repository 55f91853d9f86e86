//! Which parts of a multi-request delivery already reached the target, so that
//! MegaBot's retry of a half-done event sends only the missing part.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// How many (event id, part) pairs are remembered; the oldest go first.
const CAPACITY: usize = 10_000;

/// A bounded memo of delivered parts, keyed by event id and part name.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    done: HashSet<(String, &'static str)>,
    order: VecDeque<(String, &'static str)>,
}

impl Progress {
    /// Whether `part` of event `id` was delivered.
    pub(crate) fn is_done(&self, id: &str, part: &'static str) -> bool {
        self.lock().done.contains(&(id.to_owned(), part))
    }

    /// Records that `part` of event `id` was delivered.
    pub(crate) fn mark(&self, id: &str, part: &'static str) {
        let mut inner = self.lock();
        let key = (id.to_owned(), part);
        if inner.done.insert(key.clone()) {
            inner.order.push_back(key);
        }
        while inner.order.len() > CAPACITY {
            if let Some(old) = inner.order.pop_front() {
                inner.done.remove(&old);
            }
        }
    }

    /// Forgets event `id` once every part is delivered (the adapters then
    /// remember the whole delivery as done).
    pub(crate) fn forget(&self, id: &str) {
        let mut inner = self.lock();
        inner.done.retain(|(key, _)| key != id);
        inner.order.retain(|(key, _)| key != id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_stays_bounded() {
        let progress = Progress::default();
        assert!(!progress.is_done("evt_1", "event"));
        progress.mark("evt_1", "event");
        progress.mark("evt_1", "event");
        assert!(progress.is_done("evt_1", "event"));
        assert!(!progress.is_done("evt_1", "metric"));
        progress.forget("evt_1");
        assert!(!progress.is_done("evt_1", "event"));
        for i in 0..CAPACITY + 5 {
            progress.mark(&format!("evt_{i}"), "event");
        }
        assert!(!progress.is_done("evt_0", "event"));
        assert!(progress.is_done(&format!("evt_{}", CAPACITY + 4), "event"));
        assert_eq!(progress.lock().order.len(), CAPACITY);
    }
}
