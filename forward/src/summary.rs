//! A target-neutral, human description of an event: title, one line of text,
//! a few labelled facts, and the severity used for colours and alert types.

use megabot_webhook_types::{Event, EventPayload, ExecutionStatus, Severity};

use super::text::{title_case, truncate_chars};

/// The longest value of a fact or of the message text, in characters.
const MAX_VALUE: usize = 500;

/// What a notification says about an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// A short title with an emoji, such as `🚨 Tool Execution Failed`.
    pub title: String,
    /// The thing the event is about (a tool, an error type, a user), shown
    /// bold by targets that can.
    pub subject: Option<String>,
    /// The rest of the sentence (`failed: Failed to connect to database`).
    pub message: String,
    /// Labelled facts (`("Tool", "deploy_app")`), in display order.
    pub facts: Vec<(&'static str, String)>,
    /// The severity used for colours and alert types; see [`effective_severity`].
    pub severity: Severity,
}

impl Summary {
    /// The sentence as plain text: `subject message`.
    pub fn plain_text(&self) -> String {
        match &self.subject {
            Some(subject) => format!("{subject} {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// The event's severity for presentation: `data.severity` when the event
/// carries one; `error` for `tool_execution_failed` and for executions and
/// deployments whose `status` is `failed` or `timeout`; `info` otherwise.
pub fn effective_severity(event: &Event) -> Severity {
    if let Some(severity) = event.severity() {
        return severity.clone();
    }
    let failed = |status: Option<&ExecutionStatus>| {
        matches!(
            status,
            Some(ExecutionStatus::Failed | ExecutionStatus::Timeout)
        )
    };
    let is_error = match &event.payload {
        EventPayload::ToolExecutionFailed(_) => true,
        EventPayload::ToolExecutionCompleted(d) => failed(d.status.as_ref()),
        EventPayload::LokiExecutionCompleted(d) => failed(d.status.as_ref()),
        EventPayload::DeploymentCompleted(d) => failed(d.status.as_ref()),
        _ => false,
    };
    if is_error {
        Severity::Error
    } else {
        Severity::Info
    }
}

/// Describes `event`. Every text is capped, so any event gives a bounded summary.
pub fn summarize(event: &Event) -> Summary {
    let mut facts: Vec<(&'static str, String)> = Vec::new();
    let mut fact = |label: &'static str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            facts.push((label, cap(&value)));
        }
    };
    let (title, subject, message) = match &event.payload {
        EventPayload::ToolExecutionFailed(d) => {
            let error = d.error.as_ref();
            fact("Error type", error.and_then(|e| e.error_type.clone()));
            fact(
                "Details",
                error.and_then(|e| e.details.as_ref()).map(value_text),
            );
            fact("Execution ID", Some(d.execution_id.clone()));
            let reason = error
                .and_then(|e| e.message.clone())
                .unwrap_or_else(|| "unknown error".to_owned());
            (
                "🚨 Tool Execution Failed".to_owned(),
                Some(d.tool_name.clone()),
                format!("failed: {reason}"),
            )
        }
        EventPayload::ToolExecutionCompleted(d) => {
            let duration = d.duration_seconds();
            fact("Status", d.status.as_ref().map(|s| s.as_str().to_owned()));
            fact("Duration", duration.map(|s| format!("{s} s")));
            fact("Execution ID", Some(d.execution_id.clone()));
            let message = match duration {
                Some(seconds) => format!("completed in {seconds} s"),
                None => "completed".to_owned(),
            };
            (
                "✅ Tool Execution Completed".to_owned(),
                Some(d.tool_name.clone()),
                message,
            )
        }
        EventPayload::ToolExecutionStarted(d) => {
            fact(
                "Platform",
                d.platform.as_ref().map(|p| p.as_str().to_owned()),
            );
            fact("User", d.user_id.clone());
            fact(
                "Estimated duration",
                d.estimated_duration.map(|s| format!("{s} s")),
            );
            (
                "▶️ Tool Execution Started".to_owned(),
                Some(d.tool_name.clone()),
                "started".to_owned(),
            )
        }
        EventPayload::DeploymentCompleted(d) => {
            fact("Version", d.version.clone());
            fact("Environment", d.environment.clone());
            fact("URL", d.url.clone());
            fact("Deployment ID", d.deployment_id.clone());
            let place = d.url.as_deref().unwrap_or("production");
            (
                "✅ Deployment Completed".to_owned(),
                None,
                format!("Successfully deployed to {place}"),
            )
        }
        EventPayload::ErrorOccurred(d) => {
            fact(
                "Severity",
                d.severity.as_ref().map(|s| s.as_str().to_owned()),
            );
            fact("Error ID", Some(d.error_id.clone()));
            let reason = d.message.clone().unwrap_or_else(|| "no message".to_owned());
            (
                "❗ MegaBot Error".to_owned(),
                d.error_type.clone(),
                if d.error_type.is_some() {
                    format!("— {reason}")
                } else {
                    reason
                },
            )
        }
        EventPayload::SystemStatusChanged(d) => {
            fact(
                "Severity",
                d.severity.as_ref().map(|s| s.as_str().to_owned()),
            );
            let old = d.old_status.as_ref().map_or("unknown", |s| s.as_str());
            let new = d.new_status.as_ref().map_or("unknown", |s| s.as_str());
            let reason = d
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            (
                "⚠️ System Status Changed".to_owned(),
                None,
                format!("{old} → {new}{reason}"),
            )
        }
        EventPayload::ChatMessageReceived(d) => {
            fact(
                "Platform",
                d.platform.as_ref().map(|p| p.as_str().to_owned()),
            );
            fact("Message ID", Some(d.message_id.clone()));
            let who = d.username.clone().or_else(|| d.user_id.clone());
            (
                "💬 Message Received".to_owned(),
                who,
                format!("wrote: {}", d.content.as_deref().unwrap_or("")),
            )
        }
        EventPayload::ChatMessageSent(d) => {
            fact(
                "Platform",
                d.platform.as_ref().map(|p| p.as_str().to_owned()),
            );
            fact("Message ID", Some(d.message_id.clone()));
            let to = d.recipient_id.as_deref().unwrap_or("a user");
            (
                "💬 Message Sent".to_owned(),
                None,
                format!("To {to}: {}", d.content.as_deref().unwrap_or("")),
            )
        }
        EventPayload::MemoryLessonLearned(d) => {
            fact("Type", d.lesson_type.clone());
            fact("Confidence", d.confidence.map(|c| c.to_string()));
            fact("Source", d.source.clone());
            (
                "🧠 Lesson Learned".to_owned(),
                d.title.clone(),
                d.content.clone().unwrap_or_default(),
            )
        }
        EventPayload::LokiExecutionStarted(d) => {
            fact("Estimated tasks", d.estimated_tasks.map(|n| n.to_string()));
            fact("Execution ID", Some(d.execution_id.clone()));
            (
                "🤖 Loki Mode Started".to_owned(),
                None,
                d.prd_summary
                    .clone()
                    .unwrap_or_else(|| "Autonomous development started".to_owned()),
            )
        }
        EventPayload::LokiExecutionCompleted(d) => {
            fact("Status", d.status.as_ref().map(|s| s.as_str().to_owned()));
            fact("Tasks completed", d.tasks_completed.map(|n| n.to_string()));
            fact("Duration", d.duration_seconds.map(|s| format!("{s} s")));
            fact("Deployment URL", d.deployment_url.clone());
            let message = match &d.deployment_url {
                Some(url) => format!("Finished; deployed to {url}"),
                None => "Finished".to_owned(),
            };
            ("🤖 Loki Mode Completed".to_owned(), None, message)
        }
        other => (
            format!("📢 {}", title_case(other.name())),
            None,
            "Event received from MegaBot".to_owned(),
        ),
    };
    Summary {
        title: cap(&title),
        subject: subject.map(|s| cap(&s)),
        message: cap(&message),
        facts,
        severity: effective_severity(event),
    }
}

fn cap(text: &str) -> String {
    truncate_chars(text, MAX_VALUE, "…")
}

/// A JSON value as text: strings as they are, anything else as compact JSON.
fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use megabot_webhook_types::EventName;
    use megabot_webhook_types::examples::example;

    use super::*;

    #[test]
    fn guide_examples() {
        let failed = summarize(&example(EventName::ToolExecutionFailed));
        assert_eq!(failed.title, "🚨 Tool Execution Failed");
        assert_eq!(
            failed.plain_text(),
            "deploy_app failed: Failed to connect to database"
        );
        assert_eq!(failed.severity, Severity::Error);
        assert_eq!(
            failed.facts[0],
            ("Error type", "DeploymentError".to_owned())
        );

        let deployed = summarize(&example(EventName::DeploymentCompleted));
        assert_eq!(
            deployed.message,
            "Successfully deployed to https://my-app.vercel.app"
        );
        assert_eq!(deployed.severity, Severity::Info);

        let status = summarize(&example(EventName::SystemStatusChanged));
        assert_eq!(
            status.message,
            "healthy → degraded: High memory usage detected"
        );
        assert_eq!(status.severity, Severity::Warning);
    }

    #[test]
    fn every_event_summarizes_and_unknown_ones_follow_the_guide() {
        for name in EventName::ALL {
            let summary = summarize(&example(*name));
            assert!(!summary.title.is_empty(), "{name}");
        }
        let unknown = Event::from_slice(
            br#"{"event":"brand_new_thing","id":"evt_1","timestamp":1,"data":{}}"#,
        )
        .unwrap();
        let summary = summarize(&unknown);
        assert_eq!(summary.title, "📢 Brand New Thing");
        assert_eq!(summary.message, "Event received from MegaBot");
    }

    #[test]
    fn long_texts_are_capped() {
        let body = format!(
            r#"{{"event":"error_occurred","id":"e","timestamp":1,"data":{{"error_id":"x","message":"{}"}}}}"#,
            "m".repeat(10_000)
        );
        let summary = summarize(&Event::from_slice(body.as_bytes()).unwrap());
        assert_eq!(summary.message.chars().count(), MAX_VALUE);
    }
}
