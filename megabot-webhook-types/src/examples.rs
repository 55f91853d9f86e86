//! The guide's example events, for demos, tests and `megabot-webhook send --event`.
//!
//! Ten come verbatim from MegaBot's webhook integration guide. The guide names
//! `deployment_completed` in its GitHub and Slack examples without printing
//! one; its example here is ours, with the fields those examples read.

use crate::{Event, EventName};

/// The guide's example of `name`, exactly as printed (pretty JSON).
pub fn example_json(name: EventName) -> &'static str {
    match name {
        EventName::ChatMessageReceived => {
            include_str!("../tests/data/events/chat_message_received.json")
        }
        EventName::ChatMessageSent => include_str!("../tests/data/events/chat_message_sent.json"),
        EventName::ToolExecutionStarted => {
            include_str!("../tests/data/events/tool_execution_started.json")
        }
        EventName::ToolExecutionCompleted => {
            include_str!("../tests/data/events/tool_execution_completed.json")
        }
        EventName::ToolExecutionFailed => {
            include_str!("../tests/data/events/tool_execution_failed.json")
        }
        EventName::SystemStatusChanged => {
            include_str!("../tests/data/events/system_status_changed.json")
        }
        EventName::ErrorOccurred => include_str!("../tests/data/events/error_occurred.json"),
        EventName::MemoryLessonLearned => {
            include_str!("../tests/data/events/memory_lesson_learned.json")
        }
        EventName::LokiExecutionStarted => {
            include_str!("../tests/data/events/loki_execution_started.json")
        }
        EventName::LokiExecutionCompleted => {
            include_str!("../tests/data/events/loki_execution_completed.json")
        }
        EventName::DeploymentCompleted => include_str!("examples/deployment_completed.json"),
    }
}

/// The guide's example of `name`, parsed.
pub fn example(name: EventName) -> Event {
    // The examples are compiled in and checked by this module's tests.
    Event::from_slice(example_json(name).as_bytes()).unwrap_or_else(|_| {
        unreachable!("the built-in example of {name} parses (checked by tests)")
    })
}

/// Every example, in [`EventName::ALL`]'s order.
pub fn all() -> Vec<Event> {
    EventName::ALL.iter().map(|name| example(*name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventPayload;

    #[test]
    fn every_example_parses_into_its_typed_variant() {
        for name in EventName::ALL {
            let event = example(*name);
            assert_eq!(event.payload.known_name(), Some(*name));
            assert!(
                !matches!(event.payload, EventPayload::Malformed { .. }),
                "{name}"
            );
        }
        assert_eq!(all().len(), EventName::ALL.len());
    }
}
