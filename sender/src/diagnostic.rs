//! Config errors and warnings that name the file, line and key.

use std::fmt;

/// Where in a config something was found: file, line and column (1-based)
/// when the config came from a file, and always the dotted key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Site {
    file: Option<String>,
    line: Option<u64>,
    column: Option<u64>,
    key: String,
}

impl Site {
    fn write(&self, f: &mut fmt::Formatter<'_>, message: &str) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}:{}: ", self.column.unwrap_or(1))?,
            (Some(file), None) => write!(f, "{file}: ")?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(message)
    }
}

/// An invalid setting: an unknown key, a missing environment variable, a bad
/// URL or retry policy, invalid YAML...
///
/// Displays as `file:line:column: key: message`, for instance
/// `mega-config.yaml:22:23: webhooks.endpoints[2].retry_policy.max_attempts: must be at least 1`.
/// Parts that are unknown (a config built in code has no file) are left out.
/// Never holds a secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    site: Site,
    message: String,
}

/// The constructors, accessors and `Display` that [`ConfigError`] and
/// [`Warning`] share: both are a message at a [`Site`].
macro_rules! located {
    ($ty:ident, $what:literal) => {
        impl $ty {
            #[doc = concat!("A ", $what, " about `key` without a source position.")]
            pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> $ty {
                $ty {
                    site: Site {
                        key: key.into(),
                        ..Site::default()
                    },
                    message: message.into(),
                }
            }

            /// Sets the file name.
            pub(crate) fn in_file(mut self, file: Option<&str>) -> $ty {
                self.site.file = file.map(str::to_owned);
                self
            }

            /// Sets the line and column.
            pub(crate) fn at(mut self, line: u64, column: u64) -> $ty {
                self.site.line = Some(line);
                self.site.column = Some(column);
                self
            }

            /// The file the config came from, if it came from one.
            pub fn file(&self) -> Option<&str> {
                self.site.file.as_deref()
            }

            /// The 1-based line, when known.
            pub fn line(&self) -> Option<u64> {
                self.site.line
            }

            /// The 1-based column, when known.
            pub fn column(&self) -> Option<u64> {
                self.site.column
            }

            /// The dotted key, such as `webhooks.endpoints[1].url` (empty for the whole file).
            pub fn key(&self) -> &str {
                &self.site.key
            }

            /// What is wrong, without the position.
            pub fn message(&self) -> &str {
                &self.message
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.site.write(f, &self.message)
            }
        }
    };
}

located!(ConfigError, "config error");

impl std::error::Error for ConfigError {}

impl From<ConfigError> for crate::Error {
    fn from(error: ConfigError) -> Self {
        crate::Error::Config(Box::new(error))
    }
}

/// Something in a config that works but is probably a mistake, such as an
/// event pattern that matches no known event. Displays as [`ConfigError`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    site: Site,
    message: String,
}

located!(Warning, "warning");

/// A problem found while checking a config, before it is placed in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    /// The dotted key.
    pub(crate) key: String,
    /// What is wrong.
    pub(crate) message: String,
}

impl Issue {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Issue {
        Issue {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// `parent.child`, or `child` at the root.
pub(crate) fn join_key(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

/// `parent[index]`.
pub(crate) fn index_key(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_key() {
        let error = ConfigError::new("webhooks.endpoints[0].url", "scheme must be https")
            .in_file(Some("mega-config.yaml"))
            .at(7, 12);
        assert_eq!(
            error.to_string(),
            "mega-config.yaml:7:12: webhooks.endpoints[0].url: scheme must be https"
        );
        assert_eq!((error.line(), error.column()), (Some(7), Some(12)));
        let bare = ConfigError::new("endpoint.url", "relative url without a base");
        assert_eq!(
            bare.to_string(),
            "endpoint.url: relative url without a base"
        );
        let warning = Warning::new("a.b", "odd").in_file(Some("f.yaml"));
        assert_eq!(warning.to_string(), "f.yaml: a.b: odd");
    }

    #[test]
    fn keys_join() {
        assert_eq!(join_key("", "webhooks"), "webhooks");
        assert_eq!(
            index_key(&join_key("webhooks", "endpoints"), 2),
            "webhooks.endpoints[2]"
        );
    }
}
