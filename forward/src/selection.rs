//! Which events a forwarder forwards: the sender's subscription patterns and
//! the guide's filters.

use std::fmt;

use chrono::{DateTime, Utc};
use megabot_webhook_sender::config::Filters;
use megabot_webhook_sender::{EventFilter, FilterKind, Subscription};
use megabot_webhook_types::{Event, Severity};

use super::{Env, Error};

/// Subscription patterns (exact names, `*`, globs such as `tool_execution_*`)
/// and filters (`platforms`, `users`, `min_severity`, `content_filters`,
/// `time_window`), with the sender's semantics: an event is forwarded when a
/// pattern matches its name and every filter passes.
#[derive(Debug, Clone)]
pub struct Selection {
    subscription: Subscription,
    filter: EventFilter,
}

/// Why an event was not forwarded (answered `200 {"status":"ignored"}` so that
/// MegaBot does not retry it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skip {
    /// No subscription pattern matches the event's name.
    NotSubscribed,
    /// A filter turned it away.
    Filtered(FilterKind),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::NotSubscribed => f.write_str("not subscribed"),
            Skip::Filtered(kind) => write!(f, "filtered out by {kind}"),
        }
    }
}

impl Selection {
    /// Compiles `patterns` and `filters`. Patterns that match no known event
    /// are logged as warnings (they may name events of a newer MegaBot).
    ///
    /// ```
    /// use megabot_webhook_forward::Selection;
    /// use megabot_webhook_sender::config::Filters;
    /// use megabot_webhook_types::{EventName, examples::example};
    ///
    /// let filters: Filters = serde_json::from_str(r#"{"min_severity":"warning"}"#)?;
    /// let selection = Selection::new(["error_occurred", "system_*"], &filters)?;
    /// let now = chrono::Utc::now();
    /// assert!(selection.check(&example(EventName::ErrorOccurred), now).is_ok());
    /// assert!(selection.check(&example(EventName::ChatMessageSent), now).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for an empty pattern or one with whitespace,
    /// an invalid regex, an unknown time zone or severity.
    pub fn new<I, S>(patterns: I, filters: &Filters) -> Result<Selection, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let (subscription, warnings) = Subscription::new(patterns)
            .map_err(|e| Error::invalid("FORWARD_EVENTS", e.to_string()))?;
        for warning in warnings {
            tracing::warn!(target: "megabot_forwarder", "FORWARD_EVENTS: {}", warning.message());
        }
        let filter = EventFilter::new(filters)
            .map_err(|e| Error::invalid("FORWARD_FILTERS", e.to_string()))?;
        Ok(Selection {
            subscription,
            filter,
        })
    }

    /// Every event, no filter.
    pub fn all() -> Selection {
        Selection {
            subscription: Subscription::new(["*"])
                .map(|(s, _)| s)
                .unwrap_or_else(|_| unreachable!("`*` is a valid pattern")),
            filter: EventFilter::new(&Filters::default())
                .unwrap_or_else(|_| unreachable!("empty filters are valid")),
        }
    }

    /// Reads the selection from the environment:
    ///
    /// | variable | meaning | example |
    /// |---|---|---|
    /// | `FORWARD_EVENTS` | patterns, comma- or space-separated (default: the forwarder's) | `tool_execution_*,error_occurred` |
    /// | `FORWARD_FILTERS` | the guide's `filters:` block as JSON | `{"content_filters":[{"type":"regex","field":"tool_name","pattern":"^deploy_"}]}` |
    /// | `FORWARD_PLATFORMS` | `filters.platforms` | `slack,discord` |
    /// | `FORWARD_USERS` | `filters.users` | `admin_user` |
    /// | `FORWARD_MIN_SEVERITY` | `filters.min_severity` | `warning` |
    ///
    /// The last three replace the same keys of `FORWARD_FILTERS`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the variable.
    pub fn from_env(env: &Env, default_events: &[&str]) -> Result<Selection, Error> {
        let mut patterns = env.list("FORWARD_EVENTS");
        if patterns.is_empty() {
            patterns = default_events.iter().map(|s| (*s).to_owned()).collect();
        }
        let mut filters = match env.get("FORWARD_FILTERS") {
            Some(json) => serde_json::from_str::<Filters>(&json)
                .map_err(|e| Error::invalid("FORWARD_FILTERS", e.to_string()))?,
            None => Filters::default(),
        };
        let platforms = env.list("FORWARD_PLATFORMS");
        if !platforms.is_empty() {
            filters.platforms = platforms;
        }
        let users = env.list("FORWARD_USERS");
        if !users.is_empty() {
            filters.users = users;
        }
        if let Some(severity) = env.get("FORWARD_MIN_SEVERITY") {
            let severity = Severity::from(severity.trim().to_ascii_lowercase().as_str());
            if !severity.is_known() {
                return Err(Error::invalid(
                    "FORWARD_MIN_SEVERITY",
                    format!("`{severity}` is not one of debug, info, warning, error, critical"),
                ));
            }
            filters.min_severity = Some(severity);
        }
        Selection::new(&patterns, &filters)
    }

    /// The subscription patterns as written.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.subscription.patterns()
    }

    /// `Ok(())` when `event` is to be forwarded at time `now` (the time
    /// window's clock), else why not.
    ///
    /// # Errors
    ///
    /// The [`Skip`] reason.
    pub fn check(&self, event: &Event, now: DateTime<Utc>) -> Result<(), Skip> {
        if !self.subscription.matches(event.name()) {
            return Err(Skip::NotSubscribed);
        }
        self.filter
            .check(&event.to_value(), now)
            .map_err(Skip::Filtered)
    }
}

#[cfg(test)]
mod tests {
    use megabot_webhook_types::EventName;
    use megabot_webhook_types::examples::example;

    use super::*;

    #[test]
    fn env_patterns_and_filters() {
        let now = Utc::now();
        let env = Env::from_pairs([
            ("FORWARD_EVENTS", "tool_execution_*, chat_message_received"),
            ("FORWARD_PLATFORMS", "telegram"),
        ]);
        let selection = Selection::from_env(&env, &["*"]).unwrap();
        assert_eq!(
            selection.patterns().collect::<Vec<_>>(),
            ["tool_execution_*", "chat_message_received"]
        );
        // The guide's chat message is from telegram; its tool start from the web.
        assert_eq!(
            selection.check(&example(EventName::ChatMessageReceived), now),
            Ok(())
        );
        assert_eq!(
            selection.check(&example(EventName::ToolExecutionStarted), now),
            Err(Skip::Filtered(FilterKind::Platforms))
        );
        assert_eq!(
            selection.check(&example(EventName::ErrorOccurred), now),
            Err(Skip::NotSubscribed)
        );
    }

    #[test]
    fn severity_and_json_filters() {
        let now = Utc::now();
        let env = Env::from_pairs([
            (
                "FORWARD_FILTERS",
                r#"{"content_filters":[{"type":"contains","field":"message","value":"rate limit"}]}"#,
            ),
            ("FORWARD_MIN_SEVERITY", "Error"),
        ]);
        let selection =
            Selection::from_env(&env, &["error_occurred", "system_status_changed"]).unwrap();
        assert_eq!(
            selection.check(&example(EventName::ErrorOccurred), now),
            Ok(())
        );
        // warning < error
        assert_eq!(
            selection.check(&example(EventName::SystemStatusChanged), now),
            Err(Skip::Filtered(FilterKind::MinSeverity))
        );
        assert_eq!(
            Skip::Filtered(FilterKind::MinSeverity).to_string(),
            "filtered out by min_severity"
        );
    }

    #[test]
    fn bad_settings_name_their_variable() {
        for (name, value) in [
            ("FORWARD_MIN_SEVERITY", "loud"),
            ("FORWARD_FILTERS", "{\"platform\":[]}"),
            (
                "FORWARD_FILTERS",
                r#"{"time_window":{"start_hour":1,"end_hour":2,"timezone":"Mars/Base"}}"#,
            ),
        ] {
            let error = Selection::from_env(&Env::from_pairs([(name, value)]), &["*"]).unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
        assert!(
            Selection::all()
                .check(&example(EventName::ChatMessageSent), Utc::now())
                .is_ok()
        );
    }
}
