//! Loading the `webhooks:` and `webhook_alerts:` sections of `mega-config.yaml`: parse
//! into a positioned tree ([`super::yaml`]), expand `${VAR}`s ([`super::env`]),
//! deserialize with placed errors ([`super::deserialize`]), then check the values.
//!
//! Why our own tree, expansion and deserializer rather than `serde-saphyr`'s own
//! `Spanned` errors and `properties` interpolation (checked against serde-saphyr 2.2):
//! - its errors carry a line and column but not the dotted key
//!   (`webhooks.endpoints[2].retry_policy.max_attempts:`), and its unknown-field error
//!   has no "did you mean"; both are part of every message here;
//! - its interpolation has no mode with our rules: `Braced` expands plain scalars only,
//!   so the usual `secret_key: "${WEBHOOK_SECRET_KEY}"` would stay literal; the Docker
//!   Compose modes, which expand quoted values, turn an unset `${VAR}` into an empty
//!   string instead of an error; and every mode reads `$$` as `$`, which would change
//!   a secret such as `pa$$word` (ours keeps it: only `$${` is an escape);
//! - it takes the variables as a map built beforehand, where ours looks up each name
//!   used (the process environment, or a function in tests);
//! - expanded values must be redacted from later messages (design: never show a
//!   `${VAR}`-expanded value), which needs the list of values substituted.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::yaml::{self, Node, NodeKind, PositionIndex, key_near, looks_like_indentation};
use super::{AlertsConfig, WebhooksConfig, check_alerts, deserialize, env};
use crate::Error;
use crate::diagnostic::{ConfigError, Issue, Warning};
use crate::endpoint;
use crate::suggest;

/// The section of `mega-config.yaml` the sender reads.
const SECTION: &str = "webhooks";

/// The guide's alerting section, a top-level key beside `webhooks`.
const ALERTS_SECTION: &str = "webhook_alerts";

/// The largest config file read (a config is a few KiB).
const MAX_FILE_SIZE: u64 = 4 << 20;

/// A checked `webhooks:` section and the warnings found while checking it.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The section, with every `${VAR}` expanded.
    pub config: WebhooksConfig,
    /// The `webhook_alerts:` section, checked and expanded, when the file
    /// has one (design 9.6).
    pub alerts: Option<AlertsConfig>,
    /// Things that work but look wrong, such as event patterns that match
    /// no known event. Each names the file, line and key.
    pub warnings: Vec<Warning>,
}

type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Loads and checks `mega-config.yaml`.
///
/// - Only the top-level `webhooks:` and `webhook_alerts:` keys are read; the
///   file's other sections (MegaBot's own settings) are left alone, `${VAR}`s
///   in them included, except that a top-level key that looks like a typo of
///   one of the two gets a warning. A file with `webhook_alerts:` alone (for
///   endpoints registered through the API) has the default `webhooks:`.
/// - `${VAR}` and `${VAR:-default}` are expanded in every value of the
///   section (see the rules in [`ConfigLoader::with_env`]).
/// - Every error names the file, line, column and dotted key, as
///   `mega-config.yaml:22:23: webhooks.endpoints[2].retry_policy.max_attempts: ...`:
///   invalid YAML, unknown keys (with a "did you mean"), values of the wrong
///   type, missing variables, bad URLs, bad retry policies, invalid regexes,
///   unknown time zones, missing or invalid secrets, reserved headers.
///
/// ```
/// use megabot_webhook_sender::ConfigLoader;
///
/// let yaml = r#"
/// webhooks:
///   secret_key: "${WEBHOOK_SECRET_KEY}"
///   endpoints:
///     - url: "https://example.com/webhook"
///       events: ["tool_execution_*"]
///       retry_polcy:
///         max_attempts: 3
/// "#;
/// let loader = ConfigLoader::with_env(|name| (name == "WEBHOOK_SECRET_KEY").then(|| "s3cret".to_owned()));
/// let error = loader.load_str(yaml, "mega-config.yaml").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "mega-config.yaml:7:7: webhooks.endpoints[0].retry_polcy: unknown key `retry_polcy` (did you mean `retry_policy`?)"
/// );
/// ```
#[derive(Clone)]
pub struct ConfigLoader {
    env: Arc<EnvFn>,
}

impl fmt::Debug for ConfigLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigLoader").finish_non_exhaustive()
    }
}

impl Default for ConfigLoader {
    fn default() -> Self {
        ConfigLoader::new()
    }
}

impl ConfigLoader {
    /// A loader that expands variables from the process environment.
    pub fn new() -> ConfigLoader {
        ConfigLoader::with_env(|name| std::env::var(name).ok())
    }

    /// A loader that looks variables up with `env` (a map in tests).
    ///
    /// `${NAME}` is replaced by the variable's value (an unset variable is an
    /// error), `${NAME:-default}` by the value or, when it is unset or empty,
    /// by `default`; `$${` writes a literal `${`. A value that was a plain
    /// (unquoted) `${...}` may stand for a number or boolean:
    /// `max_attempts: ${ATTEMPTS}`.
    pub fn with_env<F>(env: F) -> ConfigLoader
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
    {
        ConfigLoader { env: Arc::new(env) }
    }

    /// Loads and checks the `webhooks:` section of the file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the file, line and key; see [`ConfigLoader`].
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<LoadedConfig, Error> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let read_error =
            |message: String| Error::from(ConfigError::new("", message).in_file(Some(&name)));
        let metadata = std::fs::metadata(path)
            .map_err(|e| read_error(format!("cannot read the file: {}", lower(&e))))?;
        if metadata.len() > MAX_FILE_SIZE {
            return Err(read_error(format!(
                "the file is larger than {} MiB",
                MAX_FILE_SIZE >> 20
            )));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| read_error(format!("cannot read the file: {}", lower(&e))))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| read_error("the file is not valid utf-8".to_owned()))?;
        self.load_str(&text, &name)
    }

    /// Loads and checks the `webhooks:` section of `text`, naming it
    /// `source_name` in errors and warnings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the source, line and key; see [`ConfigLoader`].
    pub fn load_str(&self, text: &str, source_name: &str) -> Result<LoadedConfig, Error> {
        let file = Some(source_name);
        let mut root = yaml::parse(text).map_err(|e| {
            let hint = if looks_like_indentation(&e.message) {
                " (check the indentation of this line)"
            } else {
                ""
            };
            ConfigError::new(
                key_near(text, e.pos.line),
                format!("invalid yaml: {}{hint}", e.message),
            )
            .in_file(file)
            .at(e.pos.line, e.pos.column)
        })?;
        let root_pos = root.pos;
        let mut top_warnings = Vec::new();
        let alerts_node;
        let mut absent = Node {
            pos: root_pos,
            kind: NodeKind::Null,
            raw: None,
        };
        let section = match &mut root.kind {
            NodeKind::Map(entries) => {
                let keys: Vec<String> = entries
                    .iter()
                    .filter_map(|(k, _)| k.scalar_text().map(str::to_owned))
                    .collect();
                for (k, _) in entries.iter() {
                    let Some(name) = k.scalar_text() else {
                        continue;
                    };
                    if name != SECTION
                        && name != ALERTS_SECTION
                        && let Some(meant) = suggest::did_you_mean(name, [SECTION, ALERTS_SECTION])
                    {
                        top_warnings.push(
                            Warning::new(
                                name,
                                format!("top-level key `{name}` is not read by the sender (did you mean `{meant}`?)"),
                            )
                            .in_file(file)
                            .at(k.pos.line, k.pos.column),
                        );
                    }
                }
                alerts_node = entries
                    .iter()
                    .find(|(k, _)| k.scalar_text() == Some(ALERTS_SECTION))
                    .map(|(_, v)| v.clone());
                let has_alerts = alerts_node.is_some();
                match entries
                    .iter_mut()
                    .find(|(k, _)| k.scalar_text() == Some(SECTION))
                {
                    Some((_, value)) => value,
                    None if has_alerts => &mut absent,
                    None => {
                        let hint = suggest::hint(
                            SECTION,
                            keys.iter()
                                .map(String::as_str)
                                .filter(|k| *k != ALERTS_SECTION),
                        );
                        return Err(ConfigError::new(
                            SECTION,
                            format!("missing key `{SECTION}`{hint}"),
                        )
                        .in_file(file)
                        .at(root_pos.line, root_pos.column)
                        .into());
                    }
                }
            }
            NodeKind::Null => {
                return Err(ConfigError::new(
                    SECTION,
                    format!("missing key `{SECTION}` (the file is empty)"),
                )
                .in_file(file)
                .at(1, 1)
                .into());
            }
            _ => {
                return Err(ConfigError::new(
                    "",
                    format!(
                        "expected a mapping with a `{SECTION}` key, found {}",
                        root.type_name()
                    ),
                )
                .in_file(file)
                .at(root_pos.line, root_pos.column)
                .into());
            }
        };
        // Values that came from `${VAR}` never appear in a message (they are
        // often secrets): every message below is passed through `redact`.
        let mut expanded = Vec::new();
        env::expand_tree_collecting(section, SECTION, &*self.env, &mut expanded).map_err(|e| {
            ConfigError::new(e.key, e.message)
                .in_file(file)
                .at(e.pos.line, e.pos.column)
        })?;
        let redact = |message: String| env::redact_values(&message, &expanded);
        let config: WebhooksConfig = if section.kind == NodeKind::Null {
            WebhooksConfig::default()
        } else {
            deserialize::from_node(section, SECTION).map_err(|e| {
                let (pos, key) = e.site.unwrap_or((section.pos, SECTION.to_owned()));
                ConfigError::new(key, redact(e.message))
                    .in_file(file)
                    .at(pos.line, pos.column)
            })?
        };
        let index = PositionIndex::build(section, SECTION);
        let compiled = endpoint::compile_config(&config, SECTION).map_err(|issue| {
            let pos = index.find(&issue.key);
            ConfigError::new(issue.key, redact(issue.message))
                .in_file(file)
                .at(pos.line, pos.column)
        })?;
        let mut warnings: Vec<Warning> = compiled
            .warnings
            .into_iter()
            .map(|Issue { key, message }| {
                let pos = index.find(&key);
                Warning::new(key, redact(message))
                    .in_file(file)
                    .at(pos.line, pos.column)
            })
            .collect();
        let alerts = match alerts_node {
            Some(mut node) => {
                let (alerts, alert_warnings) = self.load_alerts(&mut node, file)?;
                warnings.extend(alert_warnings);
                Some(alerts)
            }
            None => None,
        };
        top_warnings.extend(warnings);
        Ok(LoadedConfig {
            config,
            alerts,
            warnings: top_warnings,
        })
    }

    /// Expands, deserializes and checks the `webhook_alerts:` section.
    fn load_alerts(
        &self,
        section: &mut Node,
        file: Option<&str>,
    ) -> Result<(AlertsConfig, Vec<Warning>), Error> {
        let mut expanded = Vec::new();
        env::expand_tree_collecting(section, ALERTS_SECTION, &*self.env, &mut expanded).map_err(
            |e| {
                ConfigError::new(e.key, e.message)
                    .in_file(file)
                    .at(e.pos.line, e.pos.column)
            },
        )?;
        let redact = |message: String| env::redact_values(&message, &expanded);
        let alerts: AlertsConfig = if section.kind == NodeKind::Null {
            AlertsConfig::default()
        } else {
            deserialize::from_node(section, ALERTS_SECTION).map_err(|e| {
                let (pos, key) = e.site.unwrap_or((section.pos, ALERTS_SECTION.to_owned()));
                ConfigError::new(key, redact(e.message))
                    .in_file(file)
                    .at(pos.line, pos.column)
            })?
        };
        let index = PositionIndex::build(section, ALERTS_SECTION);
        let place = |Issue { key, message }: Issue| {
            let pos = index.find(&key);
            (key, redact(message), pos)
        };
        let issues = check_alerts(&alerts, ALERTS_SECTION).map_err(|issue| {
            let (key, message, pos) = place(issue);
            ConfigError::new(key, message)
                .in_file(file)
                .at(pos.line, pos.column)
        })?;
        let warnings = issues
            .into_iter()
            .map(|issue| {
                let (key, message, pos) = place(issue);
                Warning::new(key, message)
                    .in_file(file)
                    .at(pos.line, pos.column)
            })
            .collect();
        Ok((alerts, warnings))
    }
}

/// Loads the file at `path` with variables from the process environment:
/// `ConfigLoader::new().load_file(path)`.
///
/// # Errors
///
/// As [`ConfigLoader::load_file`].
pub fn load_config_file(path: impl AsRef<Path>) -> Result<LoadedConfig, Error> {
    ConfigLoader::new().load_file(path)
}

fn lower(error: &std::io::Error) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loader() -> ConfigLoader {
        ConfigLoader::with_env(|name| match name {
            "SECRET" => Some("s3cret-value".into()),
            "ATTEMPTS" => Some("3".into()),
            _ => None,
        })
    }

    fn error(yaml: &str) -> String {
        loader().load_str(yaml, "c.yaml").unwrap_err().to_string()
    }

    #[test]
    fn loads_with_variables_and_numbers_from_variables() {
        let loaded = loader()
            .load_str(
                "other_section: ${NOT_SET}\nwebhooks:\n  secret_key: ${SECRET}\n  endpoints:\n    - url: https://e.com\n      retry_policy:\n        max_attempts: ${ATTEMPTS}\n        initial_delay: ${DELAY:-0.5}\n",
                "c.yaml",
            )
            .unwrap();
        let endpoint = &loaded.config.endpoints[0];
        assert_eq!(endpoint.retry_policy.max_attempts, 3);
        assert_eq!(endpoint.retry_policy.initial_delay, 0.5);
        assert_eq!(
            loaded
                .config
                .secret_key
                .as_ref()
                .map(|k| k.iter().next().map(|s| s.expose().to_owned())),
            Some(Some("s3cret-value".to_owned()))
        );
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let base = "webhooks:\n  secret_key: ${SECRET}\n  endpoints:\n    - url: https://e.com\n";
        let cases = [
            (
                "webhooks:\n  secret_key: ${MISSING}\n",
                "c.yaml:2:15: webhooks.secret_key: environment variable `MISSING` is not set",
            ),
            (
                "webhook:\n  enabled: true\n",
                "c.yaml:1:1: webhooks: missing key `webhooks` (did you mean `webhook`?)",
            ),
            (
                "",
                "c.yaml:1:1: webhooks: missing key `webhooks` (the file is empty)",
            ),
            (
                "- a\n",
                "c.yaml:1:1: expected a mapping with a `webhooks` key, found a list",
            ),
            (
                &format!("{base}      retry_policy:\n        max_attempts: 0\n"),
                "c.yaml:6:23: webhooks.endpoints[0].retry_policy.max_attempts: max_attempts must be at least 1",
            ),
            (
                &format!("{base}      retry_policy:\n        backoff_multiplier: 0.5\n"),
                "c.yaml:6:29: webhooks.endpoints[0].retry_policy.backoff_multiplier: backoff_multiplier must be at least 1, not 0.5",
            ),
            (
                &format!("{base}      retry_policy:\n        initial_delay: 400\n"),
                "c.yaml:6:24: webhooks.endpoints[0].retry_policy.initial_delay: initial_delay (400 s) is greater than max_delay (300 s)",
            ),
            (
                "webhooks:\n  secret_key: x\n  endpoints:\n    - url: http://example.com/hook\n",
                "c.yaml:4:12: webhooks.endpoints[0].url: http:// is only allowed to a loopback host: use https://, or set `allow_insecure_http: true`",
            ),
            (
                "webhooks:\n  endpoints:\n    - url: https://e.com\n",
                "c.yaml:3:7: webhooks.endpoints[0]: no signing secret: set `webhooks.secret_key` or this endpoint's `secret`",
            ),
            (
                &format!("{base}      timeout: soon\n"),
                "c.yaml:5:16: webhooks.endpoints[0].timeout: invalid type: string \"soon\", expected f64",
            ),
            (
                &format!("{base}      headers:\n        X-MegaBot-Event: x\n"),
                "c.yaml:6:26: webhooks.endpoints[0].headers.X-MegaBot-Event: header `X-MegaBot-Event` is set by the sender and cannot be configured",
            ),
            (
                "webhooks:\n  enabled: true\n enabled: false\n",
                "c.yaml:3:2: webhooks: invalid yaml:",
            ),
        ];
        for (yaml, expected) in cases {
            let text = error(yaml);
            assert!(
                text.starts_with(expected),
                "{yaml}\n got: {text}\nwant: {expected}"
            );
        }
    }

    #[test]
    fn warnings_are_placed() {
        let loaded = loader()
            .load_str(
                "webhooks:\n  secret_key: k\n  endpoints:\n    - url: https://e.com\n      events:\n        - \"*\"\n        - tool_result\n",
                "c.yaml",
            )
            .unwrap();
        let texts: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "c.yaml:7:11: webhooks.endpoints[0].events[1]: pattern `tool_result` matches no known event"
            ]
        );
    }

    #[test]
    fn secrets_never_appear_in_errors() {
        let text = error(
            "webhooks:\n  secret_key: ${SECRET}\n  endpoints:\n    - url: https://e.com\n      secret: [\"\"]\n",
        );
        assert!(!text.contains("s3cret-value"), "{text}");
        assert!(
            text.starts_with(
                "c.yaml:5:15: webhooks.endpoints[0].secret: invalid secret: secret is empty"
            ),
            "{text}"
        );
    }

    #[test]
    fn destination_guard_keys() {
        let loaded = loader()
            .load_str(
                "webhooks:\n  allow_private_targets: true\n  allowed_targets:\n    - 169.254.169.254\n    - \"10.20.0.0/16\"\n    - fd00:ec2::254\n",
                "c.yaml",
            )
            .unwrap();
        assert!(loaded.config.allow_private_targets);
        assert_eq!(
            loaded.config.allowed_targets,
            ["169.254.169.254", "10.20.0.0/16", "fd00:ec2::254"]
        );
        let cases = [
            (
                "webhooks:\n  allowed_targets:\n    - 10.0.0.0/8\n    - metadata.internal\n",
                "c.yaml:4:7: webhooks.allowed_targets[1]: invalid address or cidr range `metadata.internal`: expected an ip address",
            ),
            (
                "webhooks:\n  allowed_targets: [\"10.0.0.0/33\"]\n",
                "c.yaml:2:21: webhooks.allowed_targets[0]: invalid address or cidr range `10.0.0.0/33`: the prefix length is longer",
            ),
            (
                "webhooks:\n  allow_private_target: true\n",
                "c.yaml:2:3: webhooks.allow_private_target: unknown key `allow_private_target` (did you mean `allow_private_targets`?)",
            ),
            (
                "webhooks:\n  allow_private_targets: maybe\n",
                "c.yaml:2:26: webhooks.allow_private_targets: invalid type",
            ),
        ];
        for (yaml, expected) in cases {
            let text = error(yaml);
            assert!(
                text.starts_with(expected),
                "{yaml}\n got: {text}\nwant: {expected}"
            );
        }
    }
}
