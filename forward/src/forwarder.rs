//! One forwarder: a selection of events and the target they go to.

use chrono::Utc;
use megabot_webhook_types::Event;

use super::{Delivered, Error, Selection, Skip, Target};

/// Forwards the selected events to a [`Target`].
#[derive(Debug)]
pub struct Forwarder<T> {
    target: T,
    selection: Selection,
}

/// What became of one event.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// Not subscribed or filtered out: nothing was sent.
    Ignored(Skip),
    /// The target accepted it.
    Forwarded(Delivered),
    /// The target did not accept it.
    Failed(Error),
}

impl<T: Target> Forwarder<T> {
    /// A forwarder of the events `selection` picks to `target`.
    pub fn new(target: T, selection: Selection) -> Forwarder<T> {
        Forwarder { target, selection }
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }

    /// The selection.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// Forwards `event` if it is selected, and logs what happened (never a
    /// token or key; a failure with the target's own error text).
    pub async fn forward(&self, event: &Event) -> Outcome {
        let target = self.target.name();
        if let Err(skip) = self.selection.check(event, Utc::now()) {
            tracing::debug!(
                target: "megabot_forwarder",
                upstream = target, event = event.name(), id = %event.id, reason = %skip,
                "event ignored"
            );
            return Outcome::Ignored(skip);
        }
        match self.target.deliver(event).await {
            Ok(delivered) => {
                tracing::info!(
                    target: "megabot_forwarder",
                    upstream = target, event = event.name(), id = %event.id,
                    attempts = delivered.attempts, detail = delivered.detail.as_deref().unwrap_or(""),
                    "event forwarded"
                );
                Outcome::Forwarded(delivered)
            }
            Err(error @ Error::Rejected { .. }) => {
                tracing::error!(
                    target: "megabot_forwarder",
                    upstream = target, event = event.name(), id = %event.id, error = %error,
                    "event refused for good; not retried"
                );
                Outcome::Failed(error)
            }
            Err(error) => {
                tracing::warn!(
                    target: "megabot_forwarder",
                    upstream = target, event = event.name(), id = %event.id, error = %error,
                    "event not forwarded; MegaBot will retry"
                );
                Outcome::Failed(error)
            }
        }
    }
}
