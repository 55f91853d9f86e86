// Over 600 lines: 514 lines of code; the rest is its unit tests, kept beside it.
//! The guide's `webhook_alerts:` section of `mega-config.yaml` (design 8 and
//! 9.6): the alert rules and the channels alerts go to.

use std::net::IpAddr;

use serde::Deserialize;

use super::SecretString;
use crate::diagnostic::{Issue, index_key, join_key};

/// The sliding window of the rules, in seconds, when none is set.
pub const DEFAULT_ALERT_WINDOW_SECS: f64 = 300.0;
/// The fewest outcomes in the window before the failure rate is judged.
pub const DEFAULT_ALERT_MIN_SAMPLES: u32 = 10;
/// The least time between two alerts of one endpoint and rule, in seconds.
pub const DEFAULT_ALERT_COOLDOWN_SECS: f64 = 900.0;

/// The `webhook_alerts:` section (a top-level key beside `webhooks:`).
///
/// ```yaml
/// webhook_alerts:
///   enabled: true
///   failure_threshold: 0.95         # alert when the success rate drops below 95 %
///   delivery_timeout_threshold: 30  # alert when publish -> outcome takes longer (s)
///   window: 300                     # the sliding window, s (default 300)
///   min_samples: 10                 # outcomes needed before the rate is judged (default 10)
///   cooldown: 900                   # least time between alerts, s (default 900)
///   channels:
///     - type: slack
///       webhook_url: "${SLACK_ALERT_WEBHOOK}"
///       message: "Webhook delivery failure detected"
///     - type: email
///       recipients: ["admin@megabot.ai"]
///       subject: "MegaBot Webhook Alert"
///       smtp_host: smtp.example.com
///       smtp_tls: starttls          # starttls (default) | tls | none (loopback only)
///       smtp_username: alerts
///       smtp_password: "${SMTP_PASSWORD}"
///       from: "MegaBot <alerts@example.com>"
/// ```
///
/// Rules are judged per endpoint over final outcomes (delivered or dead); an
/// endpoint disabled by its health rule always alerts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AlertsConfig {
    /// Whether alerts are raised at all. Default `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Alert when an endpoint's success rate over the window falls below
    /// this (0 to 1). Default none (no failure-rate rule).
    #[serde(default)]
    pub failure_threshold: Option<f64>,
    /// Alert when a delivery takes longer than this many seconds from
    /// publish to its outcome. Default none.
    #[serde(default)]
    pub delivery_timeout_threshold: Option<f64>,
    /// The sliding window, in seconds; also how long a rule must hold again
    /// before its incident resolves. Default 300.
    #[serde(default = "default_window")]
    pub window: f64,
    /// The fewest outcomes in the window before the success rate is judged.
    /// Default 10.
    #[serde(default = "default_min_samples")]
    pub min_samples: u32,
    /// The least time between two alerts of one endpoint and rule, in
    /// seconds. Default 900 (15 min).
    #[serde(default = "default_cooldown")]
    pub cooldown: f64,
    /// Where alerts go.
    #[serde(default)]
    pub channels: Vec<AlertChannelConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: true,
            failure_threshold: None,
            delivery_timeout_threshold: None,
            window: DEFAULT_ALERT_WINDOW_SECS,
            min_samples: DEFAULT_ALERT_MIN_SAMPLES,
            cooldown: DEFAULT_ALERT_COOLDOWN_SECS,
            channels: Vec::new(),
        }
    }
}

/// The kind of an alert channel (`type:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AlertChannelKind {
    /// A Slack incoming webhook: `POST {"text": ...}` to `webhook_url`.
    Slack,
    /// E-mail over SMTP.
    Email,
}

/// How an e-mail channel secures its SMTP connection (`smtp_tls:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required); port 587 by default.
    #[default]
    Starttls,
    /// TLS from the first byte; port 465 by default.
    Tls,
    /// No encryption: only to a loopback host; port 25 by default.
    None,
}

impl SmtpTls {
    /// `starttls`, `tls` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
            SmtpTls::None => "none",
        }
    }

    /// The port used when `smtp_port` is not set.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// One alert channel. The keys that apply depend on `type`: `webhook_url`
/// and `message` for `slack`; `recipients`, `subject` and the `smtp_*` keys
/// and `from` for `email`. A key of the other kind is an error.
///
/// `Debug` never shows the webhook URL or the SMTP password.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AlertChannelConfig {
    /// `slack` or `email`.
    #[serde(rename = "type")]
    pub kind: AlertChannelKind,
    /// Slack: the incoming-webhook URL (a credential: keep it in `${VAR}`).
    #[serde(default)]
    pub webhook_url: Option<SecretString>,
    /// Slack: the first line of every alert. Default "Webhook delivery alert".
    #[serde(default)]
    pub message: Option<String>,
    /// E-mail: who gets the alerts.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// E-mail: the subject of alerts (`[resolved] ` is put before it for a
    /// recovery). Default "MegaBot Webhook Alert".
    #[serde(default)]
    pub subject: Option<String>,
    /// E-mail: the SMTP server. Without it the channel is inactive (a
    /// warning at load).
    #[serde(default)]
    pub smtp_host: Option<String>,
    /// E-mail: the SMTP port. Default by `smtp_tls`: 587, 465 or 25.
    #[serde(default)]
    pub smtp_port: Option<u16>,
    /// E-mail: `starttls` (default), `tls`, or `none` (loopback hosts only).
    #[serde(default)]
    pub smtp_tls: Option<SmtpTls>,
    /// E-mail: the SMTP user name (with `smtp_password`).
    #[serde(default)]
    pub smtp_username: Option<String>,
    /// E-mail: the SMTP password (keep it in `${VAR}`).
    #[serde(default)]
    pub smtp_password: Option<SecretString>,
    /// E-mail: the sender address, such as `MegaBot <alerts@example.com>`.
    /// Required with `smtp_host`.
    #[serde(default)]
    pub from: Option<String>,
}

impl AlertChannelConfig {
    /// A Slack channel posting to `webhook_url`.
    pub fn slack(webhook_url: impl Into<SecretString>) -> AlertChannelConfig {
        AlertChannelConfig {
            webhook_url: Some(webhook_url.into()),
            ..AlertChannelConfig::empty(AlertChannelKind::Slack)
        }
    }

    /// An e-mail channel to `recipients` (set `smtp_host` and `from` to make
    /// it active).
    pub fn email<I, S>(recipients: I) -> AlertChannelConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AlertChannelConfig {
            recipients: recipients.into_iter().map(Into::into).collect(),
            ..AlertChannelConfig::empty(AlertChannelKind::Email)
        }
    }

    fn empty(kind: AlertChannelKind) -> AlertChannelConfig {
        AlertChannelConfig {
            kind,
            webhook_url: None,
            message: None,
            recipients: Vec::new(),
            subject: None,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: None,
            smtp_username: None,
            smtp_password: None,
            from: None,
        }
    }

    /// Whether alerts go out through this channel: a Slack channel always; an
    /// e-mail channel when it has an `smtp_host` and the crate was built with
    /// the `alerts-email` feature.
    pub fn is_active(&self) -> bool {
        match self.kind {
            AlertChannelKind::Slack => true,
            AlertChannelKind::Email => self.smtp_host.is_some() && cfg!(feature = "alerts-email"),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_window() -> f64 {
    DEFAULT_ALERT_WINDOW_SECS
}

fn default_min_samples() -> u32 {
    DEFAULT_ALERT_MIN_SAMPLES
}

fn default_cooldown() -> f64 {
    DEFAULT_ALERT_COOLDOWN_SECS
}

/// The longest window and cool-down accepted: 7 days.
const MAX_SECONDS: f64 = 7.0 * 86_400.0;

/// Checks `config` (whose dotted key is `key`); returns its warnings.
/// Messages never repeat a webhook URL or a password.
pub(crate) fn check_alerts(config: &AlertsConfig, key: &str) -> Result<Vec<Issue>, Issue> {
    let mut warnings = Vec::new();
    if let Some(threshold) = config.failure_threshold
        && !(threshold.is_finite() && (0.0..=1.0).contains(&threshold))
    {
        return Err(Issue::new(
            join_key(key, "failure_threshold"),
            format!("failure_threshold must be between 0 and 1 (a success rate), not {threshold}"),
        ));
    }
    if let Some(seconds) = config.delivery_timeout_threshold
        && !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_SECONDS)
    {
        return Err(Issue::new(
            join_key(key, "delivery_timeout_threshold"),
            format!(
                "delivery_timeout_threshold must be a number of seconds above 0 and at most 604800, not {seconds}"
            ),
        ));
    }
    if !(config.window.is_finite() && config.window >= 1.0 && config.window <= MAX_SECONDS) {
        return Err(Issue::new(
            join_key(key, "window"),
            format!(
                "window must be between 1 and 604800 seconds, not {}",
                config.window
            ),
        ));
    }
    if !(config.cooldown.is_finite() && config.cooldown >= 0.0 && config.cooldown <= MAX_SECONDS) {
        return Err(Issue::new(
            join_key(key, "cooldown"),
            format!(
                "cooldown must be between 0 and 604800 seconds, not {}",
                config.cooldown
            ),
        ));
    }
    if config.min_samples == 0 {
        return Err(Issue::new(
            join_key(key, "min_samples"),
            "min_samples must be at least 1",
        ));
    }
    let channels_key = join_key(key, "channels");
    for (index, channel) in config.channels.iter().enumerate() {
        let channel_key = index_key(&channels_key, index);
        match channel.kind {
            AlertChannelKind::Slack => check_slack(channel, &channel_key)?,
            AlertChannelKind::Email => {
                if let Some(warning) = check_email(channel, &channel_key)? {
                    warnings.push(warning);
                }
            }
        }
    }
    if config.enabled {
        if config.failure_threshold.is_none() && config.delivery_timeout_threshold.is_none() {
            warnings.push(Issue::new(
                key,
                "no failure_threshold and no delivery_timeout_threshold: only disabled endpoints raise alerts",
            ));
        }
        if !config.channels.iter().any(AlertChannelConfig::is_active) {
            warnings.push(Issue::new(
                channels_key,
                "no active alert channel: alerts are only logged",
            ));
        }
    }
    Ok(warnings)
}

/// Keys of the other kind are refused, so that a misplaced key is not
/// silently ignored.
fn refuse_keys(present: &[(&str, bool)], kind: &str, key: &str) -> Result<(), Issue> {
    match present.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(Issue::new(
            join_key(key, name),
            format!("`{name}` does not apply to {kind} channel"),
        )),
        None => Ok(()),
    }
}

fn check_slack(channel: &AlertChannelConfig, key: &str) -> Result<(), Issue> {
    refuse_keys(
        &[
            ("recipients", !channel.recipients.is_empty()),
            ("subject", channel.subject.is_some()),
            ("smtp_host", channel.smtp_host.is_some()),
            ("smtp_port", channel.smtp_port.is_some()),
            ("smtp_tls", channel.smtp_tls.is_some()),
            ("smtp_username", channel.smtp_username.is_some()),
            ("smtp_password", channel.smtp_password.is_some()),
            ("from", channel.from.is_some()),
        ],
        "a slack",
        key,
    )?;
    let url_key = join_key(key, "webhook_url");
    let Some(url) = &channel.webhook_url else {
        return Err(Issue::new(
            key,
            "a slack channel needs `webhook_url` (its incoming-webhook url)",
        ));
    };
    check_webhook_url(url.expose()).map_err(|message| Issue::new(url_key, message))?;
    if let Some(message) = &channel.message {
        check_text(message, "message", key)?;
    }
    Ok(())
}

/// `https://`, or `http://` to a loopback host. The message never repeats
/// the URL (it is a credential).
pub(crate) fn check_webhook_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| format!("invalid url: {e}"))?;
    let Some(host) = parsed.host_str() else {
        return Err("invalid url: no host".to_owned());
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback_host(host) => Ok(parsed),
        "http" => Err("http:// is only allowed to a loopback host: use https://".to_owned()),
        other => Err(format!("unsupported url scheme `{other}`: use https://")),
    }
}

/// `127.0.0.0/8`, `::1` or `localhost`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let domain = bare.trim_end_matches('.').to_ascii_lowercase();
            domain == "localhost" || domain.ends_with(".localhost")
        }
    }
}

/// Returns a warning when the channel is inactive.
fn check_email(channel: &AlertChannelConfig, key: &str) -> Result<Option<Issue>, Issue> {
    refuse_keys(
        &[
            ("webhook_url", channel.webhook_url.is_some()),
            ("message", channel.message.is_some()),
        ],
        "an email",
        key,
    )?;
    let recipients_key = join_key(key, "recipients");
    if channel.recipients.is_empty() {
        return Err(Issue::new(
            recipients_key,
            "an email channel needs at least one recipient",
        ));
    }
    for (index, recipient) in channel.recipients.iter().enumerate() {
        check_address(recipient).map_err(|m| Issue::new(index_key(&recipients_key, index), m))?;
    }
    if let Some(subject) = &channel.subject {
        check_text(subject, "subject", key)?;
    }
    let Some(host) = &channel.smtp_host else {
        return Ok(Some(Issue::new(
            key,
            "email channel without `smtp_host`: it is inactive; set smtp_host, smtp_tls, from \
             (and smtp_username, smtp_password) to send alerts by email",
        )));
    };
    let host_key = join_key(key, "smtp_host");
    let host = host.trim();
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(Issue::new(
            host_key,
            "smtp_host must be a host name or address",
        ));
    }
    let tls = channel.smtp_tls.unwrap_or_default();
    if tls == SmtpTls::None && !is_loopback_host(host) {
        return Err(Issue::new(
            join_key(key, "smtp_tls"),
            "smtp_tls: none is only allowed to a loopback smtp_host: use starttls or tls",
        ));
    }
    if channel.smtp_port == Some(0) {
        return Err(Issue::new(
            join_key(key, "smtp_port"),
            "smtp_port must not be 0",
        ));
    }
    match (&channel.smtp_username, &channel.smtp_password) {
        (Some(_), None) => {
            return Err(Issue::new(
                join_key(key, "smtp_password"),
                "smtp_username is set without smtp_password",
            ));
        }
        (None, Some(_)) => {
            return Err(Issue::new(
                join_key(key, "smtp_username"),
                "smtp_password is set without smtp_username",
            ));
        }
        _ => {}
    }
    let Some(from) = &channel.from else {
        return Err(Issue::new(
            key,
            "an email channel with smtp_host needs `from` (the sender address)",
        ));
    };
    check_address(from).map_err(|m| Issue::new(join_key(key, "from"), m))?;
    if !cfg!(feature = "alerts-email") {
        return Ok(Some(Issue::new(
            key,
            "this build has no smtp support (feature `alerts-email` of megabot-webhook-sender): the email channel is inactive",
        )));
    }
    Ok(None)
}

/// A mailbox: `user@domain` or `Name <user@domain>`, one line.
fn check_address(text: &str) -> Result<(), String> {
    let address = match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close && close == text.trim_end().len() - 1 => {
            &text[open + 1..close]
        }
        (None, None) => text.trim(),
        _ => return Err(format!("invalid email address `{}`", text.escape_default())),
    };
    let valid = !text.chars().any(char::is_control)
        && address.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address
                    .chars()
                    .any(|c| c.is_whitespace() || c == ',' || c == ';')
        });
    if valid {
        Ok(())
    } else {
        Err(format!("invalid email address `{}`", text.escape_default()))
    }
}

/// One line of text, no control characters.
fn check_text(text: &str, name: &str, key: &str) -> Result<(), Issue> {
    if text.chars().any(char::is_control) {
        return Err(Issue::new(
            join_key(key, name),
            format!("{name} must be one line without control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> AlertsConfig {
        serde_json::from_str(json).unwrap()
    }

    fn error(json: &str) -> String {
        let issue = check_alerts(&parse(json), "webhook_alerts").unwrap_err();
        format!("{}: {}", issue.key, issue.message)
    }

    #[test]
    fn defaults() {
        let config = parse("{}");
        assert_eq!(config, AlertsConfig::default());
        assert_eq!(config.window, 300.0);
        assert_eq!(config.min_samples, 10);
        assert_eq!(config.cooldown, 900.0);
        assert!(config.enabled);
    }

    #[test]
    fn checks_values_and_keys() {
        let cases = [
            (
                r#"{"failure_threshold": 1.5}"#,
                "webhook_alerts.failure_threshold: failure_threshold must be between 0 and 1",
            ),
            (
                r#"{"delivery_timeout_threshold": 0}"#,
                "webhook_alerts.delivery_timeout_threshold: delivery_timeout_threshold must be",
            ),
            (
                r#"{"window": 0}"#,
                "webhook_alerts.window: window must be between 1",
            ),
            (
                r#"{"cooldown": -1}"#,
                "webhook_alerts.cooldown: cooldown must be between 0",
            ),
            (
                r#"{"min_samples": 0}"#,
                "webhook_alerts.min_samples: min_samples must be at least 1",
            ),
            (
                r#"{"channels": [{"type": "slack"}]}"#,
                "webhook_alerts.channels[0]: a slack channel needs `webhook_url`",
            ),
            (
                r#"{"channels": [{"type": "slack", "webhook_url": "http://hooks.example.com/x"}]}"#,
                "webhook_alerts.channels[0].webhook_url: http:// is only allowed to a loopback host",
            ),
            (
                r#"{"channels": [{"type": "slack", "webhook_url": "https://h.example/x", "recipients": ["a@b.c"]}]}"#,
                "webhook_alerts.channels[0].recipients: `recipients` does not apply to a slack channel",
            ),
            (
                r#"{"channels": [{"type": "email", "recipients": []}]}"#,
                "webhook_alerts.channels[0].recipients: an email channel needs at least one recipient",
            ),
            (
                r#"{"channels": [{"type": "email", "recipients": ["nobody"]}]}"#,
                "webhook_alerts.channels[0].recipients[0]: invalid email address `nobody`",
            ),
            (
                r#"{"channels": [{"type": "email", "recipients": ["a@b.c"], "message": "m"}]}"#,
                "webhook_alerts.channels[0].message: `message` does not apply to an email channel",
            ),
            (
                r#"{"channels": [{"type": "email", "recipients": ["a@b.c"], "smtp_host": "smtp.example.com", "smtp_tls": "none", "from": "x@y.z"}]}"#,
                "webhook_alerts.channels[0].smtp_tls: smtp_tls: none is only allowed to a loopback smtp_host",
            ),
            (
                r#"{"channels": [{"type": "email", "recipients": ["a@b.c"], "smtp_host": "smtp.example.com"}]}"#,
                "webhook_alerts.channels[0]: an email channel with smtp_host needs `from`",
            ),
            (
                r#"{"channels": [{"type": "email", "recipients": ["a@b.c"], "smtp_host": "smtp.example.com", "from": "x@y.z", "smtp_username": "u"}]}"#,
                "webhook_alerts.channels[0].smtp_password: smtp_username is set without smtp_password",
            ),
            (
                r#"{"channels": [{"type": "email", "recipients": ["a@b.c"], "subject": "a\nBcc: x@y.z"}]}"#,
                "webhook_alerts.channels[0].subject: subject must be one line",
            ),
        ];
        for (json, expected) in cases {
            let text = error(json);
            assert!(
                text.starts_with(expected),
                "{json}\n got: {text}\nwant: {expected}"
            );
        }
    }

    #[test]
    fn the_guides_email_channel_is_inactive_with_a_warning() {
        let config = parse(
            r#"{"enabled": true, "failure_threshold": 0.95, "delivery_timeout_threshold": 30,
                "channels": [{"type": "slack", "webhook_url": "https://hooks.example.com/T/B/x",
                              "message": "Webhook delivery failure detected"},
                             {"type": "email", "recipients": ["admin@megabot.ai"],
                              "subject": "MegaBot Webhook Alert"}]}"#,
        );
        let warnings = check_alerts(&config, "webhook_alerts").unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].key, "webhook_alerts.channels[1]");
        assert!(warnings[0].message.contains("inactive"));
        assert!(config.channels[0].is_active());
        assert!(!config.channels[1].is_active());
        assert!(!format!("{config:?}").contains("hooks.example.com"));
    }

    #[test]
    fn addresses() {
        for good in ["a@b.c", "MegaBot <alerts@example.com>", "\"M B\" <a@b>"] {
            assert!(check_address(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b",
            "a@b@c",
            "a b@c",
            "a@b.c, d@e.f",
            "<a@b",
            "x\r\n@y",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.5.0.1",
            "[::1]",
            "::1",
            "localhost",
            "a.localhost",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["10.0.0.1", "example.com", "localhost.example.com"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
