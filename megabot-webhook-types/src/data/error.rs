//! `error_occurred`.

use serde_json::Value;

use crate::Severity;
use crate::data::event_data;

event_data! {
    /// `error_occurred`: an error occurred within MegaBot.
    pub struct ErrorOccurred {
        /// The error's id.
        "error_id" => error_id: req String,
        /// The error's type name (`type` on the wire).
        "type" => error_type: opt String,
        /// The error message.
        "message" => message: opt String,
        /// How severe it is.
        "severity" => severity: opt Severity,
        /// Context (open-ended).
        "context" => context: opt Value,
        /// The stack trace.
        "stack_trace" => stack_trace: opt String,
        /// Open-ended metadata (`retry_eligible`, ...).
        "metadata" => metadata: opt Value,
    }
}
