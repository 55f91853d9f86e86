//! Event filters, exactly as design 6 says.

use std::fmt;
use std::str::FromStr;

use crate::config::{ContentFilter, Filters, TimeWindow};
use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use megabot_webhook_types::Severity;
use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::diagnostic::{ConfigError, Issue, index_key, join_key};
use crate::Error;

/// The largest compiled regex a content filter may build (a config must not
/// be able to exhaust memory).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The envelope fields a content filter path may start from.
const ENVELOPE_FIELDS: [&str; 4] = ["event", "id", "timestamp", "data"];

/// Which filter turned an event away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterKind {
    /// `platforms`: `data.platform` missing or not in the list.
    Platforms,
    /// `users`: neither `data.user_id` nor `data.username` in the list.
    Users,
    /// `min_severity`: `data.severity` (missing counts as `info`) below the minimum.
    MinSeverity,
    /// `content_filters[i]` did not match (or its field is missing).
    ContentFilter(usize),
    /// `time_window`: the current hour is outside the window.
    TimeWindow,
}

impl fmt::Display for FilterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterKind::Platforms => f.write_str("platforms"),
            FilterKind::Users => f.write_str("users"),
            FilterKind::MinSeverity => f.write_str("min_severity"),
            FilterKind::ContentFilter(index) => write!(f, "content_filters[{index}]"),
            FilterKind::TimeWindow => f.write_str("time_window"),
        }
    }
}

/// An endpoint's [`Filters`], checked and compiled (regexes, time zone).
///
/// All filters must pass:
/// - `platforms`: `data.platform` is one of them;
/// - `users`: `data.user_id` or `data.username` is one of them;
/// - `min_severity`: `data.severity` is at least this (a missing severity
///   counts as `info`, an unknown one ranks as `info`);
/// - `content_filters`: the dotted `field` — from the envelope root when it
///   starts with `event`, `id`, `timestamp` or `data`, otherwise inside
///   `data`; a numeric segment indexes an array — exists and its text
///   contains `value` (`contains`) or matches `pattern` anywhere (`regex`).
///   A string's text is the string; any other value's is its compact JSON;
/// - `time_window`: the hour of `now` in the window's time zone is in
///   `start_hour..end_hour` (start inclusive, end exclusive), wrapping past
///   midnight when the end is before the start.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use megabot_webhook_sender::config::Filters;
/// use megabot_webhook_sender::{EventFilter, FilterKind};
/// use serde_json::json;
///
/// let filters: Filters = serde_json::from_value(json!({
///     "platforms": ["slack"],
///     "content_filters": [{"type": "regex", "field": "content", "pattern": "^deploy"}],
/// }))?;
/// let filter = EventFilter::new(&filters)?;
/// let now = Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap();
/// let event = json!({"event": "chat_message_received", "id": "evt_1", "timestamp": 1,
///                    "data": {"platform": "slack", "content": "deploy now"}});
/// assert_eq!(filter.check(&event, now), Ok(()));
/// let other = json!({"event": "chat_message_received", "id": "evt_2", "timestamp": 1,
///                    "data": {"platform": "discord", "content": "deploy now"}});
/// assert_eq!(filter.check(&other, now), Err(FilterKind::Platforms));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventFilter {
    platforms: Vec<String>,
    users: Vec<String>,
    min_severity: Option<Severity>,
    content: Vec<CompiledContent>,
    window: Option<CompiledWindow>,
}

#[derive(Debug, Clone)]
struct CompiledContent {
    /// The path from the envelope root.
    path: Vec<String>,
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    Contains(String),
    Regex(Regex),
}

#[derive(Debug, Clone, Copy)]
struct CompiledWindow {
    start: u32,
    end: u32,
    tz: Tz,
}

impl EventFilter {
    /// Checks and compiles `filters`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid regex, an unknown time zone, hours out
    /// of range, an unknown `min_severity` or an empty field path.
    pub fn new(filters: &Filters) -> Result<EventFilter, Error> {
        EventFilter::compile(filters, "filters")
            .map_err(|issue| Error::from(ConfigError::new(issue.key, issue.message)))
    }

    /// Compiles `filters` found at `key`.
    pub(crate) fn compile(filters: &Filters, key: &str) -> Result<EventFilter, Issue> {
        check_names(&filters.platforms, &join_key(key, "platforms"), "platform")?;
        check_names(&filters.users, &join_key(key, "users"), "user")?;
        if let Some(severity) = &filters.min_severity
            && !severity.is_known()
        {
            return Err(Issue::new(
                join_key(key, "min_severity"),
                format!(
                    "unknown severity `{severity}`; expected one of `debug`, `info`, `warning`, `error`, `critical`"
                ),
            ));
        }
        let content_key = join_key(key, "content_filters");
        let content = filters
            .content_filters
            .iter()
            .enumerate()
            .map(|(i, filter)| compile_content(filter, &index_key(&content_key, i)))
            .collect::<Result<Vec<_>, _>>()?;
        let window = filters
            .time_window
            .as_ref()
            .map(|w| compile_window(w, &join_key(key, "time_window")))
            .transpose()?;
        Ok(EventFilter {
            platforms: filters.platforms.clone(),
            users: filters.users.clone(),
            min_severity: filters.min_severity.clone(),
            content,
            window,
        })
    }

    /// `Ok(())` when every filter passes for `event` (the whole envelope as
    /// JSON) at time `now`, else the first filter that failed.
    pub fn check(&self, event: &Value, now: DateTime<Utc>) -> Result<(), FilterKind> {
        let data = event.get("data");
        let data_str = |field: &str| data.and_then(|d| d.get(field)).and_then(Value::as_str);
        if !self.platforms.is_empty() {
            let platform = data_str("platform");
            if !platform.is_some_and(|p| self.platforms.iter().any(|x| x == p)) {
                return Err(FilterKind::Platforms);
            }
        }
        if !self.users.is_empty() {
            let listed = |v: Option<&str>| v.is_some_and(|u| self.users.iter().any(|x| x == u));
            if !listed(data_str("user_id")) && !listed(data_str("username")) {
                return Err(FilterKind::Users);
            }
        }
        if let Some(minimum) = &self.min_severity {
            let severity = data_str("severity").map_or(Severity::Info, Severity::from);
            if severity.level() < minimum.level() {
                return Err(FilterKind::MinSeverity);
            }
        }
        for (index, filter) in self.content.iter().enumerate() {
            if !filter.matches(event) {
                return Err(FilterKind::ContentFilter(index));
            }
        }
        if let Some(window) = &self.window
            && !window.contains(now)
        {
            return Err(FilterKind::TimeWindow);
        }
        Ok(())
    }

    /// Whether every filter passes.
    pub fn matches(&self, event: &Value, now: DateTime<Utc>) -> bool {
        self.check(event, now).is_ok()
    }
}

fn check_names(names: &[String], key: &str, what: &str) -> Result<(), Issue> {
    match names.iter().position(String::is_empty) {
        Some(index) => Err(Issue::new(
            index_key(key, index),
            format!("empty {what} name"),
        )),
        None => Ok(()),
    }
}

fn compile_content(filter: &ContentFilter, key: &str) -> Result<CompiledContent, Issue> {
    let field = filter.field();
    let segments: Vec<String> = field.split('.').map(str::to_owned).collect();
    if segments.iter().any(String::is_empty) {
        return Err(Issue::new(
            join_key(key, "field"),
            format!("invalid field path `{field}`: empty segment"),
        ));
    }
    let path = if ENVELOPE_FIELDS.contains(&segments[0].as_str()) {
        segments
    } else {
        std::iter::once("data".to_owned()).chain(segments).collect()
    };
    let matcher = match filter {
        ContentFilter::Contains { value, .. } => Matcher::Contains(value.clone()),
        ContentFilter::Regex { pattern, .. } => Matcher::Regex(
            RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    let reason = e.to_string();
                    let reason = reason.lines().last().unwrap_or_default().trim().to_owned();
                    Issue::new(
                        join_key(key, "pattern"),
                        format!("invalid regex: {}", reason.trim_start_matches("error: ")),
                    )
                })?,
        ),
    };
    Ok(CompiledContent { path, matcher })
}

impl CompiledContent {
    fn matches(&self, event: &Value) -> bool {
        let mut value = event;
        for segment in &self.path {
            let next = match value {
                Value::Object(map) => map.get(segment),
                Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(next) => value = next,
                None => return false,
            }
        }
        let text = match value {
            Value::String(text) => std::borrow::Cow::Borrowed(text.as_str()),
            other => std::borrow::Cow::Owned(
                megabot_webhook_types::guide_json::to_string(other).unwrap_or_default(),
            ),
        };
        match &self.matcher {
            Matcher::Contains(needle) => text.contains(needle.as_str()),
            Matcher::Regex(regex) => regex.is_match(&text),
        }
    }
}

fn compile_window(window: &TimeWindow, key: &str) -> Result<CompiledWindow, Issue> {
    if window.start_hour > 23 {
        return Err(Issue::new(
            join_key(key, "start_hour"),
            format!("start_hour {} is out of range 0 to 23", window.start_hour),
        ));
    }
    if window.end_hour > 24 {
        return Err(Issue::new(
            join_key(key, "end_hour"),
            format!("end_hour {} is out of range 0 to 24", window.end_hour),
        ));
    }
    if window.start_hour == window.end_hour % 24 {
        return Err(Issue::new(
            join_key(key, "end_hour"),
            "start_hour and end_hour are the same hour: use no time_window to send at all hours",
        ));
    }
    let tz = Tz::from_str(&window.timezone).map_err(|_| {
        Issue::new(
            join_key(key, "timezone"),
            format!(
                "unknown time zone `{}`; expected an IANA name such as `Europe/Berlin` or `UTC`",
                window.timezone
            ),
        )
    })?;
    Ok(CompiledWindow {
        start: u32::from(window.start_hour),
        end: u32::from(window.end_hour),
        tz,
    })
}

impl CompiledWindow {
    fn contains(&self, now: DateTime<Utc>) -> bool {
        let hour = now.with_timezone(&self.tz).hour();
        if self.start < self.end {
            self.start <= hour && hour < self.end
        } else {
            hour >= self.start || hour < self.end
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn filter(filters: Value) -> EventFilter {
        EventFilter::compile(&serde_json::from_value(filters).unwrap(), "f").unwrap()
    }

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 15, hour, minute, 0).unwrap()
    }

    #[test]
    fn severity_missing_counts_as_info() {
        let warning = filter(json!({"min_severity": "warning"}));
        let info = filter(json!({"min_severity": "info"}));
        let no_severity = json!({"event": "x", "data": {}});
        let error = json!({"event": "x", "data": {"severity": "error"}});
        let unknown = json!({"event": "x", "data": {"severity": "fatal"}});
        assert_eq!(
            warning.check(&no_severity, at(0, 0)),
            Err(FilterKind::MinSeverity)
        );
        assert!(info.matches(&no_severity, at(0, 0)));
        assert!(warning.matches(&error, at(0, 0)));
        assert!(info.matches(&unknown, at(0, 0)));
        assert!(!warning.matches(&unknown, at(0, 0)));
    }

    #[test]
    fn content_paths_root_or_data() {
        let by_data = filter(json!({"content_filters": [
            {"type": "contains", "field": "error.message", "value": "database"}]}));
        let event = json!({"event": "tool_execution_failed", "id": "evt_1",
            "data": {"error": {"message": "Failed to connect to database"}, "items": [{"n": 5}]}});
        assert!(by_data.matches(&event, at(0, 0)));
        let by_root = filter(json!({"content_filters": [
            {"type": "regex", "field": "event", "pattern": "_failed$"},
            {"type": "contains", "field": "data.items.0.n", "value": "5"},
            {"type": "regex", "field": "id", "pattern": "^evt_"}]}));
        assert!(by_root.matches(&event, at(0, 0)));
        let missing = filter(json!({"content_filters": [
            {"type": "regex", "field": "error.code", "pattern": ".*"}]}));
        assert_eq!(
            missing.check(&event, at(0, 0)),
            Err(FilterKind::ContentFilter(0))
        );
    }

    #[test]
    fn time_window_wraps_in_a_zone() {
        // 22:00 to 06:00 in Tokyo (UTC+9): 13:00 to 21:00 UTC.
        let night = filter(
            json!({"time_window": {"start_hour": 22, "end_hour": 6, "timezone": "Asia/Tokyo"}}),
        );
        let event = json!({});
        assert!(!night.matches(&event, at(12, 59)));
        assert!(night.matches(&event, at(13, 0)));
        assert!(night.matches(&event, at(20, 59)));
        assert!(!night.matches(&event, at(21, 0)));
    }

    #[test]
    fn invalid_filters_name_their_key() {
        let cases = [
            (
                json!({"content_filters": [{"type": "regex", "field": "a", "pattern": "(unclosed"}]}),
                "f.content_filters[0].pattern",
                "invalid regex",
            ),
            (
                json!({"content_filters": [{"type": "contains", "field": "a..b", "value": "x"}]}),
                "f.content_filters[0].field",
                "empty segment",
            ),
            (
                json!({"time_window": {"start_hour": 9, "end_hour": 17, "timezone": "Mars/Olympus"}}),
                "f.time_window.timezone",
                "unknown time zone `Mars/Olympus`",
            ),
            (
                json!({"time_window": {"start_hour": 24, "end_hour": 1}}),
                "f.time_window.start_hour",
                "out of range",
            ),
            (
                json!({"time_window": {"start_hour": 0, "end_hour": 25}}),
                "f.time_window.end_hour",
                "out of range",
            ),
            (
                json!({"time_window": {"start_hour": 5, "end_hour": 5}}),
                "f.time_window.end_hour",
                "same hour",
            ),
            (
                json!({"min_severity": "fatal"}),
                "f.min_severity",
                "unknown severity `fatal`",
            ),
            (
                json!({"platforms": ["slack", ""]}),
                "f.platforms[1]",
                "empty platform name",
            ),
        ];
        for (filters, key, message) in cases {
            let issue =
                EventFilter::compile(&serde_json::from_value(filters).unwrap(), "f").unwrap_err();
            assert_eq!(issue.key, key);
            assert!(issue.message.contains(message), "{}", issue.message);
        }
    }
}
