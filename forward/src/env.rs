//! Reading settings from environment variables, or from a map in tests.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::Error;

/// Where settings come from: the process environment, or a map of
/// name → value (tests, embedding).
///
/// An empty value counts as unset. `Debug` shows the names only, never a
/// value (some are secrets).
pub struct Env {
    source: Source,
}

enum Source {
    Process,
    Map(HashMap<String, String>),
}

impl Env {
    /// The process environment.
    pub fn process() -> Env {
        Env {
            source: Source::Process,
        }
    }

    /// A fixed set of variables.
    ///
    /// ```
    /// use megabot_webhook_forward::Env;
    ///
    /// let env = Env::from_pairs([("FORWARD_EVENTS", "error_occurred")]);
    /// assert_eq!(env.get("FORWARD_EVENTS").as_deref(), Some("error_occurred"));
    /// assert_eq!(env.get("OTHER"), None);
    /// ```
    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            source: Source::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// The value of `name`, `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.source {
            Source::Process => std::env::var(name).ok(),
            Source::Map(map) => map.get(name).cloned(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    #[cfg(any(
        feature = "slack",
        feature = "datadog",
        feature = "github",
        feature = "gitlab"
    ))]
    /// The value of `name`, or [`Error::MissingEnv`].
    pub(crate) fn require(&self, name: &'static str) -> Result<String, Error> {
        self.get(name).ok_or(Error::MissingEnv { name })
    }

    /// The value of `name` parsed as `T`, `default` when unset. The error
    /// names the variable and quotes the value (use only for non-secrets).
    pub(crate) fn parse_or<T>(&self, name: &'static str, default: T) -> Result<T, Error>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|e| Error::invalid(name, format!("`{}`: {e}", text.trim()))),
        }
    }

    /// A comma- or whitespace-separated list; empty when unset.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|text| split_list(&text))
            .unwrap_or_default()
    }
}

/// Splits `a, b c` into `["a", "b", "c"]`.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Process => f.write_str("Env(process)"),
            Source::Map(map) => {
                let mut names: Vec<&String> = map.keys().collect();
                names.sort();
                f.debug_tuple("Env").field(&names).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_unset_and_lists_split() {
        let env = Env::from_pairs([("A", " "), ("B", "x, y  z,,"), ("N", "7"), ("BAD", "q")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.list("B"), ["x", "y", "z"]);
        assert!(env.list("MISSING").is_empty());
        assert_eq!(env.parse_or("N", 1u32).unwrap(), 7);
        assert_eq!(env.parse_or("MISSING", 1u32).unwrap(), 1);
        let error = env.parse_or("BAD", 1u32).unwrap_err();
        assert!(error.to_string().starts_with("invalid BAD: `q`"), "{error}");
        #[cfg(any(
            feature = "slack",
            feature = "datadog",
            feature = "github",
            feature = "gitlab"
        ))]
        assert!(matches!(
            env.require("A"),
            Err(Error::MissingEnv { name: "A" })
        ));
    }

    #[test]
    fn debug_shows_names_only() {
        let env = Env::from_pairs([(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T/B/secret",
        )]);
        let text = format!("{env:?}");
        assert!(text.contains("SLACK_WEBHOOK_URL"));
        assert!(!text.contains("secret"));
    }
}
