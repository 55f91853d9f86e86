//! Datadog: an event per MegaBot event, plus metrics for tool durations and
//! errors.
//!
//! - **Events**: `POST {api}/api/v1/events` with header `DD-API-KEY` and
//!   `title` (`MegaBot <event>`, ≤ 100 characters), `text` (a summary line and
//!   the event's `data` as indented JSON, ≤ 4000 characters — longer text is
//!   cut and ends with [`TRUNCATION_MARKER`]), `alert_type` (`error` for
//!   error/critical, `warning` for warning, else `info`; see
//!   [`effective_severity`]), `aggregation_key` (the
//!   event id, ≤ 100), `tags` (`source:megabot`, `event:<name>`) and
//!   `date_happened` when the event is recent enough for Datadog to accept it
//!   (18 hours back, 2 hours ahead).
//! - **Metrics**: `POST {api}/api/v2/series`, body
//!   `{"series":[{"metric":..,"type":..,"points":[{"timestamp":..,"value":..}],"tags":[..]}]}`:
//!   `megabot.tool_execution.duration` (gauge, type 3, seconds) from
//!   `tool_execution_completed`'s `result.duration` with `tool:` and `status:`
//!   tags; `megabot.errors.count` (count, type 1, value 1) from
//!   `error_occurred` with `error_type:` and `severity:` tags (`unknown` when
//!   missing). Points use the event's time when it is within Datadog's window
//!   (one hour back, ten minutes ahead), else the time of forwarding.
//! - **Site**: `DD_SITE` — one of Datadog's sites ([`SITES`]): `datadoghq.com`
//!   (`us1`), `us3.datadoghq.com`, `us5.datadoghq.com`, `datadoghq.eu` (`eu1`),
//!   `ddog-gov.com` (`us1-fed`), `us2.ddog-gov.com` (`us2-fed`),
//!   `ap1.datadoghq.com`, `ap2.datadoghq.com` → `https://api.{site}`; anything
//!   else is a config error. `202 Accepted` (any 2xx) is success;
//!   `429` honours `Retry-After` / `X-RateLimit-Reset`; other 4xx are final.
//!
//! When the event was accepted but the metric failed, MegaBot's retry sends
//! only the metric (the forwarder remembers delivered parts per event id).
//! The API key is never logged.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use megabot_webhook_sender::config::SecretString;
use megabot_webhook_types::{Event, EventPayload, Severity};
use reqwest::Url;
use serde_json::{Value, json};

use super::progress::Progress;
use super::retry::AttemptError;
use super::text::truncate_chars;
use super::upstream::{self, Reply};
use super::{Delivered, Env, Error, Retrier, RetrySettings, Target, effective_severity, summarize};

/// The events the Datadog forwarder subscribes to when `FORWARD_EVENTS` is
/// unset: all of them (the guide's monitoring endpoint).
pub const DEFAULT_EVENTS: &[&str] = &["*"];

/// Datadog's limit on an event's `text`, in characters.
pub const MAX_TEXT: usize = 4000;

/// Datadog's limit on an event's `title`, in characters.
pub const MAX_TITLE: usize = 100;

/// Datadog's limit on an event's `aggregation_key`, in characters.
pub const MAX_AGGREGATION_KEY: usize = 100;

/// The most characters of one tag.
pub const MAX_TAG: usize = 200;

/// What ends an event text that was cut to [`MAX_TEXT`].
pub const TRUNCATION_MARKER: &str = "\n… [truncated by the MegaBot forwarder]";

/// The v2 series type of a gauge.
pub const GAUGE: u8 = 3;

/// The v2 series type of a count.
pub const COUNT: u8 = 1;

/// The `interval` (seconds) sent with a count: the v2 series API needs one for
/// every count or rate series. Each MegaBot error is one count of 1 at its
/// own timestamp; 10 s is DogStatsD's flush interval, so `.as_rate()` reads the
/// same as for agent-submitted counts.
pub const COUNT_INTERVAL_SECS: u64 = 10;

/// Where events and metrics go, and the key that lets them in.
#[derive(Clone)]
pub struct DatadogConfig {
    api_key: SecretString,
    base_url: Url,
}

impl DatadogConfig {
    /// A config for `site` (see [`site_url`]) with `api_key`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for an empty key or an invalid site.
    pub fn new(api_key: impl Into<SecretString>, site: &str) -> Result<DatadogConfig, Error> {
        let api_key = api_key.into();
        if api_key.is_empty() {
            return Err(Error::invalid("DD_API_KEY", "is empty"));
        }
        if reqwest::header::HeaderValue::from_str(api_key.expose()).is_err() {
            return Err(Error::invalid(
                "DD_API_KEY",
                "holds characters a header cannot carry",
            ));
        }
        Ok(DatadogConfig {
            api_key,
            base_url: site_url(site)?,
        })
    }

    /// Sends to `base_url` instead of the site's API (a local stand-in).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] unless `https://` or `http://` to loopback.
    pub fn with_base_url(mut self, base_url: &str) -> Result<DatadogConfig, Error> {
        self.base_url = upstream::target_url("DATADOG_API_URL", base_url, false)?;
        Ok(self)
    }

    /// Reads `DD_API_KEY` (required), `DD_SITE` (default `datadoghq.com`) and
    /// `DATADOG_API_URL` (overrides the site's API URL, for stand-ins).
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnv`] or [`Error::InvalidConfig`].
    pub fn from_env(env: &Env) -> Result<DatadogConfig, Error> {
        let site = env
            .get("DD_SITE")
            .unwrap_or_else(|| "datadoghq.com".to_owned());
        let config = DatadogConfig::new(env.require("DD_API_KEY")?, &site)?;
        match env.get("DATADOG_API_URL") {
            Some(url) => config.with_base_url(&url),
            None => Ok(config),
        }
    }

    /// The API's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }
}

impl fmt::Debug for DatadogConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatadogConfig")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

/// Datadog's sites: (site name, site parameter). The API of each is
/// `https://api.{parameter}/`. From Datadog's "Getting Started with Datadog
/// Sites" (docs.datadoghq.com/getting_started/site/).
pub const SITES: &[(&str, &str)] = &[
    ("us1", "datadoghq.com"),
    ("us3", "us3.datadoghq.com"),
    ("us5", "us5.datadoghq.com"),
    ("eu1", "datadoghq.eu"),
    ("us1-fed", "ddog-gov.com"),
    ("us2-fed", "us2.ddog-gov.com"),
    ("ap1", "ap1.datadoghq.com"),
    ("ap2", "ap2.datadoghq.com"),
];

/// The API URL of a Datadog site, given as its site parameter
/// (`us5.datadoghq.com`, `datadoghq.eu`), its name (`us5`, `eu1`, also `eu`
/// and `gov`), or its app URL (`https://app.datadoghq.eu`). Only the sites in
/// [`SITES`] are accepted: the API key goes to this host, so an unknown or
/// misspelt site is a config error rather than a guess (there is no `us2`
/// site, for one; `us2-fed` is `us2.ddog-gov.com`).
///
/// ```
/// use megabot_webhook_forward::datadog::site_url;
///
/// assert_eq!(site_url("datadoghq.com")?.as_str(), "https://api.datadoghq.com/");
/// assert_eq!(site_url("datadoghq.eu")?.as_str(), "https://api.datadoghq.eu/");
/// assert_eq!(site_url("us5")?.as_str(), "https://api.us5.datadoghq.com/");
/// assert_eq!(site_url("ap1.datadoghq.com")?.as_str(), "https://api.ap1.datadoghq.com/");
/// assert!(site_url("us2").is_err());
/// # Ok::<(), megabot_webhook_forward::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidConfig`] naming `DD_SITE` and listing the sites, for any
/// other value.
pub fn site_url(site: &str) -> Result<Url, Error> {
    let given = site.trim().trim_end_matches('/').to_ascii_lowercase();
    let bare = given
        .strip_prefix("https://")
        .or_else(|| given.strip_prefix("http://"))
        .unwrap_or(&given);
    let bare = bare
        .strip_prefix("app.")
        .or_else(|| bare.strip_prefix("api."))
        .unwrap_or(bare);
    let name = match bare {
        "eu" => "eu1",
        "gov" => "us1-fed",
        // The app of US1, US3 and US5 is served from the site parameter itself.
        "us1.datadoghq.com" => "us1",
        other => other,
    };
    let Some((_, parameter)) = SITES.iter().find(|(n, p)| *n == name || *p == name) else {
        let known: Vec<String> = SITES.iter().map(|(n, p)| format!("{p} ({n})")).collect();
        let shown: String = site.trim().chars().take(100).collect();
        return Err(Error::invalid(
            "DD_SITE",
            format!(
                "`{shown}` is not a Datadog site; use one of {} (docs.datadoghq.com/getting_started/site/)",
                known.join(", ")
            ),
        ));
    };
    Url::parse(&format!("https://api.{parameter}/"))
        .map_err(|e| Error::invalid("DD_SITE", e.to_string()))
}

/// The Datadog `alert_type` of a severity.
pub fn alert_type(severity: &Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::Error => "error",
        Severity::Warning => "warning",
        _ => "info",
    }
}

/// The body of `POST /api/v1/events` for `event`, forwarded at `now`.
pub fn event_body(event: &Event, now: DateTime<Utc>) -> Value {
    let summary = summarize(event);
    let data = serde_json::to_string_pretty(&event.payload.data_value()).unwrap_or_default();
    let text = format!(
        "{}: {}\n\nEvent ID: {}\n\n{data}",
        summary.title,
        summary.plain_text(),
        event.id
    );
    let mut body = json!({
        "title": truncate_chars(&format!("MegaBot {}", event.name()), MAX_TITLE, "…"),
        "text": truncate_chars(&text, MAX_TEXT, TRUNCATION_MARKER),
        "alert_type": alert_type(&effective_severity(event)),
        "aggregation_key": truncate_chars(&event.id, MAX_AGGREGATION_KEY, ""),
        "tags": [tag("source", "megabot"), tag("event", event.name())],
    });
    let age = now.timestamp() - event.unix_timestamp();
    if (-2 * 3600..=18 * 3600).contains(&age) {
        body["date_happened"] = json!(event.unix_timestamp());
    }
    body
}

/// The body of `POST /api/v2/series` for `event`, when it carries a metric.
pub fn series_body(event: &Event, now: DateTime<Utc>) -> Option<Value> {
    let age = now.timestamp() - event.unix_timestamp();
    let timestamp = if (-600..=3600 - 60).contains(&age) {
        event.unix_timestamp()
    } else {
        now.timestamp()
    };
    let series = match &event.payload {
        EventPayload::ToolExecutionCompleted(d) => {
            let seconds = d.duration_seconds().filter(|s| s.is_finite())?;
            let status = d.status.as_ref().map_or("success", |s| s.as_str());
            json!({
                "metric": "megabot.tool_execution.duration",
                "type": GAUGE,
                "unit": "second",
                "points": [{"timestamp": timestamp, "value": seconds}],
                "tags": [tag("tool", &d.tool_name), tag("status", status), tag("source", "megabot")],
            })
        }
        EventPayload::ErrorOccurred(d) => json!({
            "metric": "megabot.errors.count",
            "type": COUNT,
            "interval": COUNT_INTERVAL_SECS,
            "points": [{"timestamp": timestamp, "value": 1}],
            "tags": [
                tag("error_type", d.error_type.as_deref().unwrap_or("unknown")),
                tag("severity", d.severity.as_ref().map_or("unknown", Severity::as_str)),
                tag("source", "megabot"),
            ],
        }),
        _ => return None,
    };
    Some(json!({ "series": [series] }))
}

fn tag(key: &str, value: &str) -> String {
    truncate_chars(&format!("{key}:{value}"), MAX_TAG, "")
}

/// The Datadog forwarder.
#[derive(Debug)]
pub struct Datadog {
    config: DatadogConfig,
    client: reqwest::Client,
    retry: RetrySettings,
    progress: Progress,
}

impl Datadog {
    /// A forwarder to `config` with `retry`.
    ///
    /// # Errors
    ///
    /// [`Error::Client`] when the HTTP client cannot be built.
    pub fn new(config: DatadogConfig, retry: RetrySettings) -> Result<Datadog, Error> {
        Ok(Datadog {
            client: upstream::client(retry.attempt_timeout)?,
            config,
            retry,
            progress: Progress::default(),
        })
    }

    /// [`DatadogConfig::from_env`] and [`Datadog::new`].
    ///
    /// # Errors
    ///
    /// As those.
    pub fn from_env(env: &Env, retry: &RetrySettings) -> Result<Datadog, Error> {
        Datadog::new(DatadogConfig::from_env(env)?, *retry)
    }

    async fn post(&self, url: &Url, body: &str) -> Result<Reply, AttemptError> {
        let mut api_key = reqwest::header::HeaderValue::from_str(self.config.api_key.expose())
            .map_err(|_| AttemptError::Stop {
                status: 0,
                reason: "the api key holds characters a header cannot carry".to_owned(),
            })?;
        api_key.set_sensitive(true);
        let request = self
            .client
            .post(url.clone())
            .header("DD-API-KEY", api_key)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.to_owned());
        let reply = upstream::send(request).await?;
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        let now = Utc::now();
        Err(match reply.default_failure(now) {
            AttemptError::Retry { reason, wait: None } if reply.status == 429 => {
                // Datadog's own rate-limit header: seconds until the window resets.
                let wait = reply
                    .header("x-ratelimit-reset")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                AttemptError::Retry { reason, wait }
            }
            other => other,
        })
    }

    async fn part(
        &self,
        retrier: &Retrier,
        event: &Event,
        part: &'static str,
        path: &[&str],
        body: &Value,
    ) -> Result<u32, Error> {
        if self.progress.is_done(&event.id, part) {
            return Ok(0);
        }
        let url = upstream::join(&self.config.base_url, path);
        let body = body.to_string();
        let (_, attempts) = retrier.run(|_| self.post(&url, &body)).await?;
        self.progress.mark(&event.id, part);
        Ok(attempts)
    }
}

impl Target for Datadog {
    fn name(&self) -> &'static str {
        "datadog"
    }

    async fn deliver(&self, event: &Event) -> Result<Delivered, Error> {
        let now = Utc::now();
        let retrier = Retrier::new(self.name(), &self.retry);
        let mut attempts = self
            .part(
                &retrier,
                event,
                "event",
                &["api", "v1", "events"],
                &event_body(event, now),
            )
            .await?;
        let mut detail = None;
        if let Some(series) = series_body(event, now) {
            attempts += self
                .part(&retrier, event, "metric", &["api", "v2", "series"], &series)
                .await?;
            detail = series["series"][0]["metric"]
                .as_str()
                .map(|m| format!("metric {m}"));
        }
        self.progress.forget(&event.id);
        Ok(Delivered { attempts, detail })
    }
}

#[cfg(test)]
mod tests {
    use megabot_webhook_types::EventName;
    use megabot_webhook_types::examples::example;

    use super::*;

    fn at(unix: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(unix, 0).unwrap()
    }

    #[test]
    fn guide_error_event_and_metric() {
        let event = example(EventName::ErrorOccurred);
        let now = at(event.unix_timestamp() + 5);
        let body = event_body(&event, now);
        assert_eq!(body["title"], "MegaBot error_occurred");
        assert_eq!(body["alert_type"], "error");
        assert_eq!(body["aggregation_key"], "evt_123462");
        assert_eq!(
            body["tags"],
            json!(["source:megabot", "event:error_occurred"])
        );
        assert_eq!(body["date_happened"], 1640995205);
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .contains("\"provider\": \"anthropic\"")
        );
        let series = series_body(&event, now).unwrap();
        assert_eq!(
            series,
            json!({"series": [{"metric": "megabot.errors.count", "type": 1, "interval": 10,
                "points": [{"timestamp": 1640995205, "value": 1}],
                "tags": ["error_type:LLMProviderError", "severity:error", "source:megabot"]}]})
        );
    }

    #[test]
    fn guide_tool_duration_gauge() {
        let event = example(EventName::ToolExecutionCompleted);
        let series = series_body(&event, at(event.unix_timestamp())).unwrap();
        let s = &series["series"][0];
        assert_eq!(s["metric"], "megabot.tool_execution.duration");
        assert_eq!(s["type"], 3);
        assert_eq!(s["points"][0]["value"], 28.5);
        assert_eq!(s["tags"][0], "tool:run_tests");
        assert_eq!(s["tags"][1], "status:success");
        assert!(series_body(&example(EventName::ChatMessageSent), Utc::now()).is_none());
    }

    #[test]
    fn old_events_use_datadogs_windows() {
        let event = example(EventName::ErrorOccurred);
        let now = at(event.unix_timestamp() + 2 * 86_400);
        assert!(event_body(&event, now).get("date_happened").is_none());
        let series = series_body(&event, now).unwrap();
        assert_eq!(
            series["series"][0]["points"][0]["timestamp"],
            now.timestamp()
        );
    }

    #[test]
    fn alert_types_and_limits() {
        assert_eq!(alert_type(&Severity::Critical), "error");
        assert_eq!(alert_type(&Severity::Warning), "warning");
        assert_eq!(alert_type(&Severity::Debug), "info");
        let status = event_body(&example(EventName::SystemStatusChanged), Utc::now());
        assert_eq!(status["alert_type"], "warning");
        let failed = event_body(&example(EventName::ToolExecutionFailed), Utc::now());
        assert_eq!(failed["alert_type"], "error");

        let long = format!(
            r#"{{"event":"{}","id":"{}","timestamp":1,"data":{{"blob":"{}"}}}}"#,
            "e".repeat(300),
            "i".repeat(300),
            "x".repeat(10_000)
        );
        let body = event_body(&Event::from_slice(long.as_bytes()).unwrap(), Utc::now());
        let text = body["text"].as_str().unwrap();
        assert_eq!(text.chars().count(), MAX_TEXT);
        assert!(text.ends_with(TRUNCATION_MARKER));
        assert_eq!(body["title"].as_str().unwrap().chars().count(), MAX_TITLE);
        assert_eq!(
            body["aggregation_key"].as_str().unwrap().chars().count(),
            MAX_AGGREGATION_KEY
        );
        assert!(body["tags"][1].as_str().unwrap().chars().count() <= MAX_TAG);
    }

    #[test]
    fn sites_and_secrets() {
        assert_eq!(
            site_url("eu").unwrap().as_str(),
            "https://api.datadoghq.eu/"
        );
        assert_eq!(
            site_url("ddog-gov.com").unwrap().as_str(),
            "https://api.ddog-gov.com/"
        );
        assert_eq!(
            site_url("https://app.datadoghq.com/").unwrap().as_str(),
            "https://api.datadoghq.com/"
        );
        assert!(site_url("evil.com/x").is_err());
        assert!(site_url("").is_err());
        for (site, host) in [
            ("us3", "api.us3.datadoghq.com"),
            ("us5.datadoghq.com", "api.us5.datadoghq.com"),
            ("EU", "api.datadoghq.eu"),
            ("ap1", "api.ap1.datadoghq.com"),
            ("ap2.datadoghq.com", "api.ap2.datadoghq.com"),
            ("us1-fed", "api.ddog-gov.com"),
            ("us2-fed", "api.us2.ddog-gov.com"),
            ("https://us5.datadoghq.com/", "api.us5.datadoghq.com"),
            ("app.datadoghq.com", "api.datadoghq.com"),
        ] {
            assert_eq!(site_url(site).unwrap().host_str(), Some(host), "{site}");
        }
        // No guessing: a misspelt or unknown site would send the key elsewhere.
        for site in [
            "us2",
            "us2.datadoghq.com",
            "us4",
            "datadoghq.co",
            "evil.com",
        ] {
            let error = site_url(site).unwrap_err();
            let text = error.to_string();
            assert!(text.starts_with("invalid DD_SITE:"), "{text}");
            assert!(text.contains("us5.datadoghq.com (us5)"), "{text}");
        }
        let config = DatadogConfig::new("abcdef0123456789", "us3").unwrap();
        assert_eq!(config.base_url().as_str(), "https://api.us3.datadoghq.com/");
        assert!(!format!("{config:?}").contains("abcdef0123456789"));
        let env = Env::from_pairs([
            ("DD_API_KEY", "k"),
            ("DATADOG_API_URL", "http://127.0.0.1:9/"),
        ]);
        assert_eq!(
            DatadogConfig::from_env(&env).unwrap().base_url().as_str(),
            "http://127.0.0.1:9/"
        );
        assert!(matches!(
            DatadogConfig::from_env(&Env::from_pairs([("DD_SITE", "eu")])),
            Err(Error::MissingEnv { name: "DD_API_KEY" })
        ));
    }
}
