//! The interface between the shared forwarding plumbing and one target.

use std::fmt;
use std::future::Future;

use megabot_webhook_types::Event;

use super::Error;

/// A destination for MegaBot events (Slack, Datadog, GitHub, GitLab): turns an
/// event into the target's API call(s) and delivers them with retries
/// ([`Retrier`](super::Retrier)).
pub trait Target: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs and answers (`slack`).
    fn name(&self) -> &'static str;

    /// Delivers `event`. The error decides the answer to MegaBot (see
    /// [`Error::status`]).
    fn deliver(&self, event: &Event) -> impl Future<Output = Result<Delivered, Error>> + Send;
}

/// What a successful delivery did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivered {
    /// Requests made to the target, retries included.
    pub attempts: u32,
    /// What the target created, when it says (`pipeline 1234`), for logs.
    pub detail: Option<String>,
}
