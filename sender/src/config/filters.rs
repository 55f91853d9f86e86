//! Event filters of an endpoint (design 6).

use std::fmt;

use serde::{Deserialize, Serialize};

use megabot_webhook_types::Severity;

/// Which events of the subscribed kinds an endpoint receives. Every filter
/// that is set must pass; an empty list means "no filter".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Filters {
    /// Accepted values of `data.platform`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    /// Accepted values of `data.user_id` or `data.username`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// The lowest `data.severity` sent; a missing severity counts as `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Conditions on fields of the event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_filters: Vec<ContentFilter>,
    /// The hours of the day in which events are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindow>,
}

impl Filters {
    /// Whether no filter is set (every event passes).
    pub fn is_empty(&self) -> bool {
        self == &Filters::default()
    }
}

/// A condition on one field of the event.
///
/// `field` is a dotted path: from the envelope root when its first segment is
/// `event`, `id`, `timestamp` or `data`, otherwise inside `data`
/// (`error.message` is `data.error.message`). A numeric segment indexes an
/// array. A path that does not exist never matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawContentFilter", tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum ContentFilter {
    /// `type: contains`: the field's text contains `value`.
    Contains {
        /// The dotted path of the field.
        field: String,
        /// The text to look for.
        value: String,
    },
    /// `type: regex`: the regular expression `pattern` matches somewhere in
    /// the field's text (Python's `re.search`).
    Regex {
        /// The dotted path of the field.
        field: String,
        /// The regular expression.
        pattern: String,
    },
}

impl ContentFilter {
    /// The dotted path of the field the filter looks at.
    pub fn field(&self) -> &str {
        match self {
            ContentFilter::Contains { field, .. } | ContentFilter::Regex { field, .. } => field,
        }
    }

    /// The filter's type.
    pub fn kind(&self) -> ContentFilterKind {
        match self {
            ContentFilter::Contains { .. } => ContentFilterKind::Contains,
            ContentFilter::Regex { .. } => ContentFilterKind::Regex,
        }
    }
}

/// The `type` of a content filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ContentFilterKind {
    /// `contains`
    Contains,
    /// `regex`
    Regex,
}

impl fmt::Display for ContentFilterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContentFilterKind::Contains => "contains",
            ContentFilterKind::Regex => "regex",
        })
    }
}

/// The shape of a content filter as written, before its keys are checked
/// against its type.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContentFilter {
    #[serde(rename = "type")]
    kind: ContentFilterKind,
    field: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    pattern: Option<String>,
}

impl TryFrom<RawContentFilter> for ContentFilter {
    type Error = String;

    fn try_from(raw: RawContentFilter) -> Result<Self, Self::Error> {
        match (raw.kind, raw.value, raw.pattern) {
            (ContentFilterKind::Contains, Some(value), None) => Ok(ContentFilter::Contains {
                field: raw.field,
                value,
            }),
            (ContentFilterKind::Regex, None, Some(pattern)) => Ok(ContentFilter::Regex {
                field: raw.field,
                pattern,
            }),
            (ContentFilterKind::Contains, None, _) => {
                Err("a contains filter needs a `value`".to_owned())
            }
            (ContentFilterKind::Contains, Some(_), Some(_)) => {
                Err("a contains filter takes `value`, not `pattern`".to_owned())
            }
            (ContentFilterKind::Regex, _, None) => {
                Err("a regex filter needs a `pattern`".to_owned())
            }
            (ContentFilterKind::Regex, Some(_), Some(_)) => {
                Err("a regex filter takes `pattern`, not `value`".to_owned())
            }
        }
    }
}

/// The hours of the day in which events are sent.
///
/// `start_hour` is inclusive, `end_hour` exclusive; a window whose end is
/// before its start wraps past midnight (`22` to `6`). Hours are read in the
/// IANA `timezone` (default `UTC`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TimeWindow {
    /// First hour in the window, 0 to 23.
    pub start_hour: u8,
    /// First hour after the window, 0 to 24.
    pub end_hour: u8,
    /// IANA time zone name such as `Europe/Berlin`. Default `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_filter_block_parses() {
        let filters: Filters = serde_json::from_str(
            r#"{"platforms":["telegram","discord"],"users":["admin_user","moderator_user"],
                "min_severity":"warning",
                "content_filters":[{"type":"contains","field":"error.message","value":"database"},
                                   {"type":"regex","field":"data.tool_name","pattern":"^deploy_"}],
                "time_window":{"start_hour":9,"end_hour":17,"timezone":"UTC"}}"#,
        )
        .unwrap();
        assert_eq!(filters.min_severity, Some(Severity::Warning));
        assert_eq!(
            filters.content_filters[1],
            ContentFilter::Regex {
                field: "data.tool_name".into(),
                pattern: "^deploy_".into()
            }
        );
        assert_eq!(filters.content_filters[0].field(), "error.message");
        assert_eq!(filters.time_window.as_ref().map(|w| w.end_hour), Some(17));
        let json = serde_json::to_string(&filters.content_filters[0]).unwrap();
        assert_eq!(
            json,
            r#"{"type":"contains","field":"error.message","value":"database"}"#
        );
        assert!(!filters.is_empty());
        assert!(Filters::default().is_empty());
    }

    #[test]
    fn content_filter_keys_must_fit_the_type() {
        for (body, message) in [
            (r#"{"type":"contains","field":"a"}"#, "needs a `value`"),
            (
                r#"{"type":"regex","field":"a","value":"x"}"#,
                "needs a `pattern`",
            ),
            (
                r#"{"type":"regex","field":"a","value":"x","pattern":"y"}"#,
                "not `value`",
            ),
            (
                r#"{"type":"contain","field":"a","value":"x"}"#,
                "unknown variant",
            ),
            (
                r#"{"type":"contains","field":"a","valu":"x"}"#,
                "unknown field",
            ),
        ] {
            let error = serde_json::from_str::<ContentFilter>(body).unwrap_err();
            assert!(error.to_string().contains(message), "{body}: {error}");
        }
    }

    #[test]
    fn time_zone_defaults_to_utc() {
        let window: TimeWindow = serde_json::from_str(r#"{"start_hour":22,"end_hour":6}"#).unwrap();
        assert_eq!(window.timezone, "UTC");
    }
}
