//! `tool_execution_started`, `tool_execution_completed` and `tool_execution_failed`.

use serde_json::Value;

use crate::data::event_data;
use crate::{ExecutionStatus, Platform};

event_data! {
    /// `tool_execution_started`: a tool execution began.
    pub struct ToolExecutionStarted {
        /// The execution's id.
        "execution_id" => execution_id: req String,
        /// The tool's name.
        "tool_name" => tool_name: req String,
        /// The tool's parameters (open-ended).
        "parameters" => parameters: opt Value,
        /// Who started it.
        "user_id" => user_id: opt String,
        /// From where.
        "platform" => platform: opt Platform,
        /// Estimated duration in seconds.
        "estimated_duration" => estimated_duration: opt u64,
    }
}

event_data! {
    /// `tool_execution_completed`: a tool execution finished successfully.
    pub struct ToolExecutionCompleted {
        /// The execution's id.
        "execution_id" => execution_id: req String,
        /// The tool's name.
        "tool_name" => tool_name: req String,
        /// The outcome.
        "status" => status: opt ExecutionStatus,
        /// The tool's result (open-ended; the guide's example has `duration` in seconds).
        "result" => result: opt Value,
        /// The tool's output.
        "output" => output: opt String,
        /// Open-ended metadata (`exit_code`, `resource_usage`, ...).
        "metadata" => metadata: opt Value,
    }
}

impl ToolExecutionCompleted {
    /// `result.duration` in seconds, when the result carries a number there.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.result.as_ref()?.get("duration")?.as_f64()
    }
}

event_data! {
    /// The `error` object of a failed tool execution.
    pub struct ToolError {
        /// The error's type name (`type` on the wire).
        "type" => error_type: opt String,
        /// The error message.
        "message" => message: opt String,
        /// Details (open-ended).
        "details" => details: opt Value,
    }
}

event_data! {
    /// `tool_execution_failed`: a tool execution failed.
    pub struct ToolExecutionFailed {
        /// The execution's id.
        "execution_id" => execution_id: req String,
        /// The tool's name.
        "tool_name" => tool_name: req String,
        /// The outcome.
        "status" => status: opt ExecutionStatus,
        /// What went wrong.
        "error" => error: opt ToolError,
        /// Output produced before the failure.
        "partial_output" => partial_output: opt String,
        /// Open-ended metadata (`exit_code`, `retry_count`, ...).
        "metadata" => metadata: opt Value,
    }
}
