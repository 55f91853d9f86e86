//! Status values of executions, messages and the system.

use crate::open_enum::open_enum;

open_enum! {
    /// The outcome of a tool or Loki execution (`data.status`).
    pub enum ExecutionStatus {
        /// Finished successfully.
        Success = "success",
        /// Failed.
        Failed = "failed",
        /// Still running.
        Running = "running",
        /// Cancelled before it finished.
        Cancelled = "cancelled",
        /// Ran out of time.
        Timeout = "timeout",
    }
}

open_enum! {
    /// MegaBot's operational status (`old_status` / `new_status`).
    pub enum SystemStatus {
        /// Everything works.
        Healthy = "healthy",
        /// Working with reduced capacity.
        Degraded = "degraded",
        /// Not working.
        Unhealthy = "unhealthy",
        /// Down for maintenance.
        Maintenance = "maintenance",
        /// Not reachable.
        Down = "down",
    }
}

open_enum! {
    /// The kind of a message MegaBot sent (`data.message_type`).
    pub enum MessageType {
        /// Plain text.
        Text = "text",
        /// Markdown text.
        Markdown = "markdown",
        /// An image.
        Image = "image",
        /// A file.
        File = "file",
        /// Audio.
        Audio = "audio",
        /// Video.
        Video = "video",
    }
}

#[cfg(test)]
mod tests {
    use super::{ExecutionStatus, MessageType, SystemStatus};

    #[test]
    fn new_values_are_kept() {
        let s: SystemStatus = serde_json::from_str("\"on_fire\"").unwrap();
        assert_eq!(s.as_str(), "on_fire");
        let e: ExecutionStatus = serde_json::from_str("\"partial\"").unwrap();
        assert_eq!(e, ExecutionStatus::Other("partial".into()));
        let m: MessageType = serde_json::from_str("\"sticker\"").unwrap();
        assert_eq!(m.to_string(), "sticker");
        assert_eq!("text".parse::<MessageType>(), Ok(MessageType::Text));
    }
}
