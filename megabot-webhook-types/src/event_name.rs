//! The names of the events this SDK knows.

use std::fmt;
use std::str::FromStr;

use crate::ParseError;

macro_rules! event_names {
    ($( $(#[$meta:meta])* $variant:ident = $text:literal, )+) => {
        /// An event name this SDK knows, with a typed `data` struct.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventName {
            $( $(#[$meta])* $variant, )+
        }

        impl EventName {
            /// Every known event name, in the guide's order.
            pub const ALL: &'static [EventName] = &[$( EventName::$variant, )+];

            /// The name as it appears on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( EventName::$variant => $text, )+
                }
            }

            /// The known event with this wire name, if any.
            pub fn from_name(name: &str) -> Option<EventName> {
                match name {
                    $( $text => Some(EventName::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

event_names! {
    /// `chat_message_received`
    ChatMessageReceived = "chat_message_received",
    /// `chat_message_sent`
    ChatMessageSent = "chat_message_sent",
    /// `tool_execution_started`
    ToolExecutionStarted = "tool_execution_started",
    /// `tool_execution_completed`
    ToolExecutionCompleted = "tool_execution_completed",
    /// `tool_execution_failed`
    ToolExecutionFailed = "tool_execution_failed",
    /// `system_status_changed`
    SystemStatusChanged = "system_status_changed",
    /// `error_occurred`
    ErrorOccurred = "error_occurred",
    /// `memory_lesson_learned`
    MemoryLessonLearned = "memory_lesson_learned",
    /// `loki_execution_started`
    LokiExecutionStarted = "loki_execution_started",
    /// `loki_execution_completed`
    LokiExecutionCompleted = "loki_execution_completed",
    /// `deployment_completed`
    DeploymentCompleted = "deployment_completed",
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventName {
    type Err = ParseError;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EventName::from_name(name).ok_or_else(|| ParseError::UnknownEventName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::EventName;

    #[test]
    fn every_name_round_trips() {
        assert_eq!(EventName::ALL.len(), 11);
        for name in EventName::ALL {
            assert_eq!(name.as_str().parse::<EventName>().ok(), Some(*name));
        }
        assert!("chat_message".parse::<EventName>().is_err());
    }
}
