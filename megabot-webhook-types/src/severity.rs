//! Event severity, ordered `debug < info < warning < error < critical`.

use std::cmp::Ordering;
use std::fmt;

/// How severe an event is (`data.severity`).
///
/// Ordered `Debug < Info < Warning < Error < Critical`. A value this version
/// does not know is kept in [`Severity::Unknown`] and ranks as `info` (what a
/// missing severity counts as), just above `Info` itself, so that it is never
/// dropped by a `min_severity: info` filter and never promoted past `warning`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warning`
    Warning,
    /// `error`
    Error,
    /// `critical`
    Critical,
    /// A value this version does not know, kept as sent.
    Unknown(String),
}

impl Severity {
    /// The value as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
            Self::Unknown(other) => other,
        }
    }

    /// The numeric level: 0 (debug) to 4 (critical); unknown values rank as info (1).
    pub fn level(&self) -> u8 {
        match self {
            Self::Debug => 0,
            Self::Info | Self::Unknown(_) => 1,
            Self::Warning => 2,
            Self::Error => 3,
            Self::Critical => 4,
        }
    }

    /// Whether this is one of the five known values.
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown(_))
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.level()
            .cmp(&other.level())
            .then_with(|| match (self, other) {
                (Self::Unknown(a), Self::Unknown(b)) => a.cmp(b),
                (Self::Unknown(_), _) => Ordering::Greater,
                (_, Self::Unknown(_)) => Ordering::Less,
                _ => Ordering::Equal,
            })
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl From<&str> for Severity {
    fn from(value: &str) -> Self {
        match value {
            "debug" => Self::Debug,
            "info" => Self::Info,
            "warning" => Self::Warning,
            "error" => Self::Error,
            "critical" => Self::Critical,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = std::convert::Infallible;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(value))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A string: the five known values are listed, others are allowed (docs/design.md 9.10).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Severity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Severity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::schema::open_enum_schema(
            &[
                "How severe an event is (`data.severity`), ordered `debug < info < warning < error < critical`.",
                "A value this version does not know ranks as `info`.",
            ],
            &[
                ("debug", &[]),
                ("info", &[]),
                ("warning", &[]),
                ("error", &[]),
                ("critical", &[]),
            ],
        )
    }
}

impl<'de> serde::Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        Ok(Self::from(text.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::Severity;

    #[test]
    fn ordered_debug_to_critical() {
        let order = ["debug", "info", "warning", "error", "critical"].map(Severity::from);
        for pair in order.windows(2) {
            assert!(pair[0] < pair[1], "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn unknown_value_parses_ranks_as_info_and_round_trips() {
        let s: Severity = serde_json::from_str("\"fatal\"").unwrap();
        assert_eq!(s, Severity::Unknown("fatal".into()));
        assert!(s > Severity::Info && s < Severity::Warning);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"fatal\"");
        assert!(Severity::Unknown("a".into()) < Severity::Unknown("b".into()));
    }
}
