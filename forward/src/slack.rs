//! Slack incoming webhooks: one message per event, with a colour-coded
//! attachment.
//!
//! The request is `POST <webhook url>` with a JSON body: `text` (the plain
//! fallback Slack uses in notifications) and one attachment with `color`
//! (`good` / `warning` / `danger` from the event's
//! [severity](super::effective_severity)), `title`, `text` (Slack mrkdwn),
//! `fields` and `ts` (the event's time, shown as the attachment's footer time).
//! Dates in fields use Slack's `<!date^{unix}^{date_short_pretty} {time}|{fallback}>`
//! syntax, which each reader sees in their own time zone (the guide's
//! `<@{ts}|..>` is a user mention, not a date).
//!
//! Slack allows about one message per second per incoming webhook: requests to
//! the same URL are queued and spaced at least one second apart (never
//! dropped). A `429` honours its `Retry-After` — for the queue too.
//!
//! The pacing is **per process**: the queue is a [`Pacer`] in memory, shared
//! by the forwarders of one process that hold the same `Arc<Pacer>`
//! ([`Slack::with_pacer`]). Several processes (replicas behind a load
//! balancer) posting to one webhook URL each keep their own one-per-second
//! pace, so together they can exceed Slack's rate; Slack then answers `429`
//! with `Retry-After`, which each process honours and passes on to MegaBot
//! (`503` + `Retry-After`) when the wait exceeds the retry policy, so nothing
//! is lost, only delayed. Run one Slack forwarder per webhook URL to keep to
//! the pace. `400`,
//! `403`, `404` and `410` are final, with Slack's plain-text error code
//! (`invalid_payload`, `no_service`, `channel_is_archived`, ...) in the log and
//! the answer to MegaBot.
//!
//! The webhook URL is a credential: it is never logged (only its host).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use megabot_webhook_types::{Event, Severity};
use reqwest::Url;
use serde_json::{Value, json};

use super::retry::AttemptError;
use super::upstream::{self, Reply};
use super::{Delivered, Env, Error, Pacer, Retrier, RetrySettings, Target, summarize};

/// The events the Slack forwarder subscribes to when `FORWARD_EVENTS` is unset.
pub const DEFAULT_EVENTS: &[&str] = &[
    "tool_execution_failed",
    "deployment_completed",
    "error_occurred",
    "system_status_changed",
];

/// The least time between two messages to the same webhook URL.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Where Slack messages go.
#[derive(Clone)]
pub struct SlackConfig {
    webhook_url: Url,
}

impl SlackConfig {
    /// A config for the incoming webhook `webhook_url` (`https://`, or
    /// `http://` to a loopback stand-in).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for another URL; the message never shows it.
    pub fn new(webhook_url: &str) -> Result<SlackConfig, Error> {
        Ok(SlackConfig {
            webhook_url: upstream::target_url("SLACK_WEBHOOK_URL", webhook_url, true)?,
        })
    }

    /// Reads `SLACK_WEBHOOK_URL` (required). Point it at a local stand-in to
    /// test.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnv`] or [`Error::InvalidConfig`].
    pub fn from_env(env: &Env) -> Result<SlackConfig, Error> {
        SlackConfig::new(&env.require("SLACK_WEBHOOK_URL")?)
    }
}

impl fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackConfig")
            .field("webhook_url", &upstream::redacted(&self.webhook_url))
            .finish()
    }
}

/// The Slack colour of a severity: `danger` for error and critical,
/// `warning` for warning, `good` otherwise.
pub fn color(severity: &Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::Error => "danger",
        Severity::Warning => "warning",
        _ => "good",
    }
}

/// Text escaped for Slack: `&`, `<` and `>` as `&amp;`, `&lt;`, `&gt;`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A Slack date token for unix time `unix`: readers see it in their own time
/// zone; clients that cannot format it show the UTC fallback.
///
/// ```
/// use megabot_webhook_forward::slack::date_token;
///
/// assert_eq!(
///     date_token(1640995210),
///     "<!date^1640995210^{date_short_pretty} {time}|2022-01-01 00:00:10 UTC>"
/// );
/// ```
pub fn date_token(unix: i64) -> String {
    let fallback = chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| unix.to_string());
    format!("<!date^{unix}^{{date_short_pretty}} {{time}}|{fallback}>")
}

/// The Slack message for `event`.
///
/// ```
/// use megabot_webhook_forward::slack::message;
/// use megabot_webhook_types::{EventName, examples::example};
///
/// let body = message(&example(EventName::ToolExecutionFailed));
/// assert_eq!(body["attachments"][0]["color"], "danger");
/// assert_eq!(body["attachments"][0]["text"], "*deploy_app* failed: Failed to connect to database");
/// ```
pub fn message(event: &Event) -> Value {
    let summary = summarize(event);
    let text = match &summary.subject {
        Some(subject) => format!("*{}* {}", escape(subject), escape(&summary.message)),
        None => escape(&summary.message),
    };
    let fallback = escape(&format!("{}: {}", summary.title, summary.plain_text()));
    let mut fields = vec![
        json!({"title": "Timestamp", "value": date_token(event.unix_timestamp()), "short": true}),
        json!({"title": "Event ID", "value": escape(&event.id), "short": true}),
    ];
    fields.extend(summary.facts.iter().map(|(label, value)| {
        json!({"title": label, "value": escape(value), "short": value.chars().count() <= 40})
    }));
    json!({
        "text": fallback,
        "attachments": [{
            "fallback": fallback,
            "color": color(&summary.severity),
            "title": escape(&summary.title),
            "text": text,
            "fields": fields,
            "footer": format!("MegaBot · {}", escape(event.name())),
            "ts": event.unix_timestamp(),
            "mrkdwn_in": ["text"],
        }],
    })
}

/// The Slack forwarder.
#[derive(Debug)]
pub struct Slack {
    config: SlackConfig,
    client: reqwest::Client,
    retry: RetrySettings,
    pacer: Arc<Pacer>,
}

impl Slack {
    /// A forwarder to `config`'s webhook with `retry`, pacing its own
    /// messages at [`MIN_INTERVAL`].
    ///
    /// # Errors
    ///
    /// [`Error::Client`] when the HTTP client cannot be built.
    pub fn new(config: SlackConfig, retry: RetrySettings) -> Result<Slack, Error> {
        Ok(Slack {
            client: upstream::client(retry.attempt_timeout)?,
            config,
            retry,
            pacer: Arc::new(Pacer::new(MIN_INTERVAL)),
        })
    }

    /// Shares `pacer` with other forwarders of this process posting to the
    /// same webhook URLs (pacing never spans processes: see the module docs).
    #[must_use]
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Slack {
        self.pacer = pacer;
        self
    }

    /// [`SlackConfig::from_env`] and [`Slack::new`].
    ///
    /// # Errors
    ///
    /// As those.
    pub fn from_env(env: &Env, retry: &RetrySettings) -> Result<Slack, Error> {
        Slack::new(SlackConfig::from_env(env)?, *retry)
    }

    async fn attempt(&self, body: &Value) -> Result<Reply, AttemptError> {
        let url = &self.config.webhook_url;
        let mut turn = self.pacer.turn(url.as_str()).await;
        let reply = upstream::send(
            self.client
                .post(url.clone())
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await?;
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        let failure = reply.default_failure(Utc::now());
        if let AttemptError::Retry {
            wait: Some(wait), ..
        } = &failure
            && reply.status == 429
        {
            turn.hold_off(*wait);
        }
        Err(failure)
    }
}

impl Target for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    async fn deliver(&self, event: &Event) -> Result<Delivered, Error> {
        let body = message(event);
        let (_, attempts) = Retrier::new(self.name(), &self.retry)
            .run(|_| self.attempt(&body))
            .await?;
        Ok(Delivered {
            attempts,
            detail: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use megabot_webhook_types::EventName;
    use megabot_webhook_types::examples::example;

    use super::*;

    #[test]
    fn guide_deployment_message() {
        let body = message(&example(EventName::DeploymentCompleted));
        let attachment = &body["attachments"][0];
        assert_eq!(attachment["color"], "good");
        assert_eq!(attachment["title"], "✅ Deployment Completed");
        assert_eq!(
            attachment["text"],
            "Successfully deployed to https://my-app.vercel.app"
        );
        assert_eq!(attachment["ts"], 1640995600);
        assert_eq!(
            body["text"],
            "✅ Deployment Completed: Successfully deployed to https://my-app.vercel.app"
        );
        let fields = attachment["fields"].as_array().unwrap();
        assert_eq!(fields[0]["title"], "Timestamp");
        assert!(
            fields[0]["value"]
                .as_str()
                .unwrap()
                .starts_with("<!date^1640995600^")
        );
        assert_eq!(fields[1]["value"], "evt_123466");
        assert!(
            fields
                .iter()
                .any(|f| f["title"] == "Version" && f["value"] == "1.4.0")
        );
    }

    #[test]
    fn colors_follow_severity() {
        assert_eq!(color(&Severity::Critical), "danger");
        assert_eq!(color(&Severity::Error), "danger");
        assert_eq!(color(&Severity::Warning), "warning");
        assert_eq!(color(&Severity::Info), "good");
        assert_eq!(color(&Severity::Unknown("odd".into())), "good");
        let status = message(&example(EventName::SystemStatusChanged));
        assert_eq!(status["attachments"][0]["color"], "warning");
        let error = message(&example(EventName::ErrorOccurred));
        assert_eq!(error["attachments"][0]["color"], "danger");
    }

    #[test]
    fn user_text_is_escaped() {
        let event = Event::from_slice(
            br#"{"event":"error_occurred","id":"evt_1","timestamp":1,"data":{"error_id":"e","type":"<!channel>","message":"a & b <@U123>"}}"#,
        )
        .unwrap();
        let body = message(&event);
        let text = body["attachments"][0]["text"].as_str().unwrap();
        assert_eq!(text, "*&lt;!channel&gt;* — a &amp; b &lt;@U123&gt;");
        assert!(!body.to_string().contains("<!channel>"));
    }

    #[test]
    fn debug_hides_the_webhook_path() {
        let config =
            SlackConfig::new("https://hooks.slack.com/services/T000/B000/XXXXSECRET").unwrap();
        let text = format!("{config:?}");
        assert!(!text.contains("XXXXSECRET"), "{text}");
        assert!(text.contains("hooks.slack.com"));
        let slack = Slack::new(config, RetrySettings::default()).unwrap();
        assert!(!format!("{slack:?}").contains("XXXXSECRET"));
        let error = SlackConfig::new("http://example.com/services/T/B/XXXXSECRET").unwrap_err();
        assert!(!error.to_string().contains("XXXXSECRET"));
    }
}
