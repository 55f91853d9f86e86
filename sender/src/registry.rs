//! The endpoints a running sender delivers to; added and removed at any time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::endpoint::CompiledEndpoint;

/// Identifies a registered endpoint for as long as the sender runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(u64);

impl EndpointId {
    /// The number behind the id.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "endpoint-{}", self.0)
    }
}

/// Registered endpoints in registration order. Deliveries work on a snapshot,
/// so adding or removing an endpoint never disturbs one in flight.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    next: AtomicU64,
    entries: RwLock<Vec<(EndpointId, Arc<CompiledEndpoint>)>>,
}

impl Registry {
    /// Registers a checked endpoint.
    pub(crate) fn add(&self, endpoint: CompiledEndpoint) -> EndpointId {
        let id = EndpointId(self.next.fetch_add(1, Ordering::Relaxed) + 1);
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((id, Arc::new(endpoint)));
        id
    }

    /// Unregisters an endpoint; deliveries already started go on.
    pub(crate) fn remove(&self, id: EndpointId) -> Option<Arc<CompiledEndpoint>> {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = entries.iter().position(|(entry, _)| *entry == id)?;
        Some(entries.remove(index).1)
    }

    /// The endpoints registered now.
    pub(crate) fn snapshot(&self) -> Vec<(EndpointId, Arc<CompiledEndpoint>)> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The first registered endpoint whose configured URL is `url`.
    pub(crate) fn find_url(&self, url: &str) -> Option<(EndpointId, Arc<CompiledEndpoint>)> {
        self.snapshot()
            .into_iter()
            .find(|(_, e)| e.config.url == url)
    }
}
