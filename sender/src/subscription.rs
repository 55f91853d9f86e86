//! Event subscriptions: exact names, `*`, and globs such as `tool_execution_*`.

use megabot_webhook_types::EventName;

use super::diagnostic::{ConfigError, Issue, Warning, index_key};
use super::suggest;
use crate::Error;

/// The compiled `events:` list of an endpoint.
///
/// A pattern is an exact event name, `*` (every event, also ones this SDK
/// does not know), or a glob in which each `*` stands for any run of
/// characters (`tool_execution_*`, `*_failed`, `loki_*_completed`).
/// An event is subscribed when any pattern matches its name.
///
/// ```
/// use megabot_webhook_sender::Subscription;
///
/// let (subscription, warnings) = Subscription::new(["tool_execution_*", "chat_message"])?;
/// assert!(subscription.matches("tool_execution_failed"));
/// assert!(!subscription.matches("chat_message_received"));
/// // `chat_message` is no event of the guide: a warning, not an error.
/// assert_eq!(warnings.len(), 1);
/// assert!(warnings[0].message().contains("did you mean `chat_message_received`"));
/// # Ok::<(), megabot_webhook_sender::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    text: String,
    /// The pieces between the `*`s; one piece means no `*`.
    pieces: Vec<String>,
}

impl Pattern {
    fn new(text: &str) -> Pattern {
        Pattern {
            text: text.to_owned(),
            pieces: text.split('*').map(str::to_owned).collect(),
        }
    }

    fn matches(&self, name: &str) -> bool {
        glob_match(&self.pieces, name)
    }
}

/// Whether `name` matches the pattern whose `*`-separated pieces are `pieces`.
fn glob_match(pieces: &[String], name: &str) -> bool {
    let [first, middle @ .., last] = pieces else {
        // A single piece: an exact name.
        return pieces.first().is_some_and(|p| p == name);
    };
    let Some(mut rest) = name.strip_prefix(first.as_str()) else {
        return false;
    };
    for piece in middle {
        match rest.find(piece.as_str()) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last.as_str())
}

/// Whether the event pattern `pattern` matches the event name `event`.
///
/// ```
/// use megabot_webhook_sender::pattern_matches;
///
/// assert!(pattern_matches("*", "anything_new"));
/// assert!(pattern_matches("loki_*_completed", "loki_execution_completed"));
/// assert!(!pattern_matches("tool_execution_*", "tool_execution"));
/// ```
pub fn pattern_matches(pattern: &str, event: &str) -> bool {
    Pattern::new(pattern).matches(event)
}

/// The events this SDK knows that `pattern` matches.
pub fn known_events_matching(pattern: &str) -> Vec<EventName> {
    let pattern = Pattern::new(pattern);
    EventName::ALL
        .iter()
        .copied()
        .filter(|name| pattern.matches(name.as_str()))
        .collect()
}

impl Subscription {
    /// Compiles a list of patterns. A pattern that matches no known event is a
    /// warning (the event may come from a newer MegaBot), as is an empty list.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an empty pattern or one holding whitespace.
    pub fn new<I, S>(patterns: I) -> Result<(Subscription, Vec<Warning>), Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns: Vec<String> = patterns
            .into_iter()
            .map(|p| p.as_ref().to_owned())
            .collect();
        let (subscription, issues) = Subscription::compile(&patterns, "events")
            .map_err(|issue| Error::from(ConfigError::new(issue.key, issue.message)))?;
        let warnings = issues
            .into_iter()
            .map(|issue| Warning::new(issue.key, issue.message))
            .collect();
        Ok((subscription, warnings))
    }

    /// Compiles `patterns` found at `key`; warnings come back as issues.
    pub(crate) fn compile(
        patterns: &[String],
        key: &str,
    ) -> Result<(Subscription, Vec<Issue>), Issue> {
        let mut warnings = Vec::new();
        if patterns.is_empty() {
            warnings.push(Issue::new(key, "subscribes to no events"));
        }
        let mut compiled = Vec::with_capacity(patterns.len());
        for (index, text) in patterns.iter().enumerate() {
            let item = index_key(key, index);
            if text.is_empty() {
                return Err(Issue::new(item, "empty event pattern"));
            }
            if text.chars().any(char::is_whitespace) {
                return Err(Issue::new(
                    item,
                    format!(
                        "event pattern `{}` contains whitespace",
                        text.escape_debug()
                    ),
                ));
            }
            let pattern = Pattern::new(text);
            if known_events_matching(text).is_empty() {
                let names = EventName::ALL.iter().map(|n| n.as_str());
                warnings.push(Issue::new(
                    item,
                    format!(
                        "pattern `{text}` matches no known event{}",
                        suggest::hint(text, names)
                    ),
                ));
            }
            compiled.push(pattern);
        }
        Ok((Subscription { patterns: compiled }, warnings))
    }

    /// Whether an event called `event` is subscribed.
    pub fn matches(&self, event: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(event))
    }

    /// The patterns as written.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| p.text.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("*", "chat_message_received", true),
            ("*", "", true),
            ("chat_message_received", "chat_message_received", true),
            ("chat_message_received", "chat_message_received_x", false),
            ("tool_execution_*", "tool_execution_failed", true),
            ("tool_execution_*", "tool_execution_", true),
            ("tool_execution_*", "tool_executio", false),
            ("*_failed", "tool_execution_failed", true),
            ("*_failed", "failed", false),
            ("loki_*_completed", "loki_execution_completed", true),
            ("loki_*_completed", "loki_completed", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("*a*b*", "xaxbx", true),
            ("*a*b*", "xbxax", false),
            ("**", "x", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                pattern_matches(pattern, name),
                expected,
                "{pattern} vs {name}"
            );
        }
    }

    #[test]
    fn warnings_for_patterns_that_match_nothing_known() {
        let patterns = [
            "chat_message".to_owned(),
            "tool_executed".to_owned(),
            "*".to_owned(),
        ];
        let (subscription, warnings) = Subscription::compile(&patterns, "e").unwrap();
        assert!(subscription.matches("brand_new_event"));
        let keys: Vec<&str> = warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["e[0]", "e[1]"]);
        assert_eq!(
            warnings[1].message,
            "pattern `tool_executed` matches no known event (did you mean `tool_execution_started`?)"
        );
        let (_, warnings) = Subscription::compile(&[], "e").unwrap();
        assert_eq!(warnings[0].message, "subscribes to no events");
    }

    #[test]
    fn bad_patterns_are_errors() {
        let error = Subscription::compile(&["ok".into(), String::new()], "e").unwrap_err();
        assert_eq!(error.key, "e[1]");
        assert!(Subscription::compile(&["a b".into()], "e").is_err());
        assert_eq!(known_events_matching("tool_execution_*").len(), 3);
    }
}
