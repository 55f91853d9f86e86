//! `chat_message_received` and `chat_message_sent`.

use serde_json::Value;

use crate::data::event_data;
use crate::{MessageType, Platform};

event_data! {
    /// `chat_message_received`: MegaBot received a message from a platform.
    pub struct ChatMessageReceived {
        /// The platform's message id.
        "message_id" => message_id: req String,
        /// Where the message came from.
        "platform" => platform: opt Platform,
        /// The sender's user id.
        "user_id" => user_id: opt String,
        /// The sender's user name.
        "username" => username: opt String,
        /// The message text.
        "content" => content: opt String,
        /// Attachments, as the platform describes them.
        "attachments" => attachments: opt Vec<Value>,
        /// Open-ended metadata (`chat_id`, `platform_specific`, ...).
        "metadata" => metadata: opt Value,
    }
}

event_data! {
    /// `chat_message_sent`: MegaBot sent a message.
    pub struct ChatMessageSent {
        /// The platform's message id.
        "message_id" => message_id: req String,
        /// Where the message went.
        "platform" => platform: opt Platform,
        /// The recipient's user id.
        "recipient_id" => recipient_id: opt String,
        /// The message text.
        "content" => content: opt String,
        /// The kind of message.
        "message_type" => message_type: opt MessageType,
        /// Open-ended metadata (`in_response_to`, `model_used`, ...).
        "metadata" => metadata: opt Value,
    }
}
