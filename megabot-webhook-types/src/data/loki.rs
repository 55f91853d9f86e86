//! `loki_execution_started` and `loki_execution_completed`.

use crate::data::event_data;
use crate::{ExecutionStatus, Platform};

event_data! {
    /// `loki_execution_started`: Loki Mode began autonomous development.
    pub struct LokiExecutionStarted {
        /// The execution's id.
        "execution_id" => execution_id: req String,
        /// A summary of the product requirements.
        "prd_summary" => prd_summary: opt String,
        /// How many tasks are planned.
        "estimated_tasks" => estimated_tasks: opt u64,
        /// Who started it.
        "user_id" => user_id: opt String,
        /// From where.
        "platform" => platform: opt Platform,
    }
}

event_data! {
    /// The `summary` of a completed Loki execution.
    pub struct LokiSummary {
        /// Lines of code written.
        "code_lines" => code_lines: opt u64,
        /// Tests that passed.
        "tests_passed" => tests_passed: opt u64,
        /// Security issues found.
        "security_issues" => security_issues: opt u64,
    }
}

event_data! {
    /// `loki_execution_completed`: Loki Mode finished.
    pub struct LokiExecutionCompleted {
        /// The execution's id.
        "execution_id" => execution_id: req String,
        /// The outcome.
        "status" => status: opt ExecutionStatus,
        /// How long it took, in seconds.
        "duration_seconds" => duration_seconds: opt u64,
        /// Tasks completed.
        "tasks_completed" => tasks_completed: opt u64,
        /// Where the result was deployed.
        "deployment_url" => deployment_url: opt String,
        /// A summary of the work.
        "summary" => summary: opt LokiSummary,
    }
}
