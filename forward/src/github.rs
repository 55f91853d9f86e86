// Over 600 lines: 473 lines of code; the rest is its unit tests, kept beside it.
//! GitHub `repository_dispatch`: a workflow run per event.
//!
//! The request is `POST {api}/repos/{owner}/{repo}/dispatches` with
//! `Accept: application/vnd.github+json`, `Authorization: Bearer <token>`,
//! `X-GitHub-Api-Version: 2022-11-28` and a `User-Agent`, and the body
//!
//! ```json
//! {"event_type": "deployment_completed",
//!  "client_payload": {"event": "deployment_completed", "id": "evt_123466",
//!                     "timestamp": 1640995600, "data": {...},
//!                     "url": "https://my-app.vercel.app"}}
//! ```
//!
//! `event_type` is the event name (cut to 100 characters) — the workflow's
//! `on.repository_dispatch.types` and `github.event.action`. The payload
//! carries the whole envelope (`event`, `id`, `timestamp`, `data`), plus two
//! shortcuts the guide's workflow reads:
//!
//! | workflow expression | holds |
//! |---|---|
//! | `github.event.client_payload.data.*` | the event's `data` |
//! | `github.event.client_payload.url` | `deployment_completed`'s `data.url` |
//! | `github.event.client_payload.error.message` | `error_occurred`'s `data.message`, `tool_execution_failed`'s `data.error.message` (with `error.type`) |
//!
//! GitHub allows at most 10 top-level keys in `client_payload` (this uses at
//! most 6) and less than 64 KB in all. A bigger event keeps its smaller `data`
//! fields: the largest are dropped until it fits, and `data` then holds
//! `"megabot_trimmed": true` with the names of the dropped fields
//! (`megabot_dropped_fields`, `megabot_dropped_count`); a warning is logged.
//!
//! GitHub's own limit is at times below 64 KB: its `422` "client_payload is
//! too large" trims the payload to half of the refused body's size and sends
//! it again (down to [`MIN_TRIMMED_BYTES`]), within the same retry budget.
//!
//! `204 No Content` (any 2xx) is success; `404`, other `422`s (and other 4xx)
//! are final; `403`/`429` rate limits honour `retry-after`, else
//! `x-ratelimit-reset` when `x-ratelimit-remaining` is `0`, else wait a minute
//! (GitHub's advice for secondary limits). The token is never logged.

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use megabot_webhook_sender::config::SecretString;
use megabot_webhook_types::Event;
use reqwest::Url;
use serde_json::{Map, Value, json};

use super::retry::AttemptError;
use super::text::truncate_chars;
use super::upstream::{self, Reply};
use super::{Delivered, Env, Error, Retrier, RetrySettings, Target};

/// The events the GitHub forwarder subscribes to when `FORWARD_EVENTS` is
/// unset: the guide's workflow `types`.
pub const DEFAULT_EVENTS: &[&str] = &["deployment_completed", "error_occurred"];

/// GitHub's default API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version requested.
pub const API_VERSION: &str = "2022-11-28";

/// GitHub's limit on `event_type`, in characters.
pub const MAX_EVENT_TYPE: usize = 100;

/// GitHub's limit on `client_payload`'s top-level keys.
pub const MAX_TOP_LEVEL_KEYS: usize = 10;

/// The request body stays below this many bytes (GitHub: under 64 KB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The most characters of a shortcut value (`url`, `error.message`) and of
/// the envelope's `event` and `id` inside the payload.
const MAX_SHORT: usize = 1024;

/// Room kept for the trimming markers.
const MARKER_ROOM: usize = 4 * 1024;

/// How many dropped field names are listed.
const MAX_LISTED: usize = 20;

/// The smallest body a `client_payload is too large` answer trims to; below
/// it the refusal is final.
pub const MIN_TRIMMED_BYTES: usize = 8 * 1024;

/// Which repository receives the dispatches, and the token that may.
#[derive(Clone)]
pub struct GitHubConfig {
    token: SecretString,
    owner: String,
    repo: String,
    api_url: Url,
}

impl GitHubConfig {
    /// A config for `owner/repo` (`repository`) with `token` (a fine-grained
    /// token with "Contents: write", or a classic `repo` token).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for an empty token or a malformed repository.
    pub fn new(token: impl Into<SecretString>, repository: &str) -> Result<GitHubConfig, Error> {
        let token = token.into();
        upstream::check_token("GITHUB_TOKEN", &token)?;
        let (owner, repo) = repository
            .trim()
            .split_once('/')
            .filter(|(o, r)| valid_name(o) && valid_name(r))
            .ok_or_else(|| {
                Error::invalid(
                    "GITHUB_REPOSITORY",
                    format!("`{}` is not `owner/repo`", repository.trim()),
                )
            })?;
        Ok(GitHubConfig {
            token,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            api_url: upstream::target_url("GITHUB_API_URL", DEFAULT_API_URL, false)?,
        })
    }

    /// Sends to `api_url` instead of `https://api.github.com` (GitHub
    /// Enterprise Server's `https://HOST/api/v3`, or a local stand-in).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] unless `https://` or `http://` to loopback.
    pub fn with_api_url(mut self, api_url: &str) -> Result<GitHubConfig, Error> {
        self.api_url = upstream::target_url("GITHUB_API_URL", api_url, false)?;
        Ok(self)
    }

    /// Reads `GITHUB_TOKEN`, `GITHUB_REPOSITORY` (`owner/repo`; both
    /// required) and `GITHUB_API_URL` (default `https://api.github.com`).
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnv`] or [`Error::InvalidConfig`].
    pub fn from_env(env: &Env) -> Result<GitHubConfig, Error> {
        let config = GitHubConfig::new(
            env.require("GITHUB_TOKEN")?,
            &env.require("GITHUB_REPOSITORY")?,
        )?;
        match env.get("GITHUB_API_URL") {
            Some(url) => config.with_api_url(&url),
            None => Ok(config),
        }
    }

    /// The dispatches endpoint.
    pub fn dispatches_url(&self) -> Url {
        upstream::join(
            &self.api_url,
            &["repos", &self.owner, &self.repo, "dispatches"],
        )
    }
}

impl fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubConfig")
            .field("token", &self.token)
            .field("repository", &format_args!("{}/{}", self.owner, self.repo))
            .field("api_url", &self.api_url.as_str())
            .finish()
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The `repository_dispatch` body for `event`, trimmed to GitHub's limits.
///
/// ```
/// use megabot_webhook_forward::github::dispatch_body;
/// use megabot_webhook_types::{EventName, examples::example};
///
/// let body = dispatch_body(&example(EventName::DeploymentCompleted));
/// assert_eq!(body["event_type"], "deployment_completed");
/// assert_eq!(body["client_payload"]["url"], "https://my-app.vercel.app");
/// assert_eq!(body["client_payload"]["data"]["version"], "1.4.0");
/// ```
pub fn dispatch_body(event: &Event) -> Value {
    dispatch_body_within(event, MAX_BODY_BYTES)
}

/// [`dispatch_body`] trimmed to stay below `limit` bytes instead of
/// [`MAX_BODY_BYTES`] (the retry after GitHub's `client_payload is too large`).
pub fn dispatch_body_within(event: &Event, limit: usize) -> Value {
    let mut payload = client_payload(event);
    let size = body_size(event, &payload);
    if size >= limit {
        let data = payload.remove("data").unwrap_or(Value::Null);
        let others = size - json_len(&data);
        let room = limit.saturating_sub(others + MARKER_ROOM);
        let (trimmed, dropped) = trim_data(data, room);
        tracing::warn!(
            target: "megabot_forwarder",
            id = %event.id, event = event.name(), bytes = size, limit, dropped_fields = dropped,
            "event too big for repository_dispatch; largest data fields dropped"
        );
        payload.insert("data".to_owned(), trimmed);
    }
    json!({
        "event_type": truncate_chars(event.name(), MAX_EVENT_TYPE, ""),
        "client_payload": Value::Object(payload),
    })
}

/// `client_payload` before trimming: the envelope plus the guide's shortcuts
/// (read from the JSON `data`, so they are there even when the data does not
/// fit this SDK's struct).
fn client_payload(event: &Event) -> Map<String, Value> {
    let data = event.payload.data_value();
    let short = |path: &[&str]| {
        string_at(&data, path).map(|text| json!(truncate_chars(text, MAX_SHORT, "…")))
    };
    let error = |prefix: &[&str]| {
        let mut error = Map::new();
        for field in ["type", "message"] {
            let path: Vec<&str> = prefix.iter().copied().chain([field]).collect();
            if let Some(value) = short(&path) {
                error.insert(field.to_owned(), value);
            }
        }
        Value::Object(error)
    };
    let mut shortcuts = Map::new();
    match event.name() {
        "deployment_completed" => {
            if let Some(url) = short(&["url"]) {
                shortcuts.insert("url".into(), url);
            }
        }
        "error_occurred" => {
            shortcuts.insert("error".into(), error(&[]));
        }
        "tool_execution_failed" => {
            shortcuts.insert("error".into(), error(&["error"]));
        }
        _ => {}
    }
    let mut payload = Map::new();
    payload.insert(
        "event".into(),
        json!(truncate_chars(event.name(), MAX_SHORT, "")),
    );
    payload.insert("id".into(), json!(truncate_chars(&event.id, MAX_SHORT, "")));
    payload.insert("timestamp".into(), json!(event.unix_timestamp()));
    payload.insert("data".into(), data);
    payload.extend(shortcuts);
    debug_assert!(payload.len() <= MAX_TOP_LEVEL_KEYS);
    payload
}

/// The string at `path` inside `value`, if there is one.
pub(crate) fn string_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

fn body_size(event: &Event, payload: &Map<String, Value>) -> usize {
    let body = json!({
        "event_type": truncate_chars(event.name(), MAX_EVENT_TYPE, ""),
        "client_payload": payload,
    });
    json_len(&body)
}

fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// `data` cut to about `room` bytes: the largest fields of an object are
/// dropped first; anything else is replaced by a note. Returns the new data
/// and how many fields were dropped.
fn trim_data(data: Value, room: usize) -> (Value, usize) {
    let original = json_len(&data);
    let Value::Object(fields) = data else {
        return (note(original), 0);
    };
    // Each field costs its key and value plus `"":,` (4 bytes).
    let mut sizes: Vec<(String, usize)> = fields
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                json_len(&Value::String(k.clone())) + json_len(v) + 2,
            )
        })
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut total = original;
    let mut dropped = Vec::new();
    for (key, size) in sizes {
        if total <= room {
            break;
        }
        total = total.saturating_sub(size);
        dropped.push(key);
    }
    let mut kept = fields;
    for key in &dropped {
        kept.remove(key);
    }
    let count = dropped.len();
    kept.insert("megabot_trimmed".into(), Value::Bool(true));
    kept.insert(
        "megabot_dropped_fields".into(),
        Value::Array(
            dropped
                .iter()
                .take(MAX_LISTED)
                .map(|k| Value::String(truncate_chars(k, 100, "…")))
                .collect(),
        ),
    );
    kept.insert("megabot_dropped_count".into(), json!(count));
    let trimmed = Value::Object(kept);
    if json_len(&trimmed) >= room + MARKER_ROOM {
        return (note(original), count);
    }
    (trimmed, count)
}

fn note(original: usize) -> Value {
    json!({
        "megabot_trimmed": true,
        "megabot_note": format!("data ({original} bytes) exceeded GitHub's repository_dispatch size limit and was removed"),
    })
}

/// The GitHub forwarder.
#[derive(Debug)]
pub struct GitHub {
    config: GitHubConfig,
    client: reqwest::Client,
    retry: RetrySettings,
}

impl GitHub {
    /// A forwarder to `config` with `retry`.
    ///
    /// # Errors
    ///
    /// [`Error::Client`] when the HTTP client cannot be built.
    pub fn new(config: GitHubConfig, retry: RetrySettings) -> Result<GitHub, Error> {
        Ok(GitHub {
            client: upstream::client(retry.attempt_timeout)?,
            config,
            retry,
        })
    }

    /// [`GitHubConfig::from_env`] and [`GitHub::new`].
    ///
    /// # Errors
    ///
    /// As those.
    pub fn from_env(env: &Env, retry: &RetrySettings) -> Result<GitHub, Error> {
        GitHub::new(GitHubConfig::from_env(env)?, *retry)
    }

    async fn attempt(&self, url: &Url, body: &str) -> Result<Reply, AttemptError> {
        let mut authorization = reqwest::header::HeaderValue::from_str(&format!(
            "Bearer {}",
            self.config.token.expose()
        ))
        .map_err(|_| AttemptError::Stop {
            status: 401,
            reason: "the token cannot be sent in a header".to_owned(),
        })?;
        authorization.set_sensitive(true);
        let request = self
            .client
            .post(url.clone())
            .header("accept", "application/vnd.github+json")
            .header("authorization", authorization)
            .header("x-github-api-version", API_VERSION)
            .header("content-type", "application/json")
            .body(body.to_owned());
        let reply = upstream::send(request).await?;
        if (200..300).contains(&reply.status) {
            return Ok(reply);
        }
        Err(failure(&reply))
    }
}

/// GitHub's rate-limit rules on top of the standard verdict.
fn failure(reply: &Reply) -> AttemptError {
    let now = Utc::now();
    if matches!(reply.status, 403 | 429) {
        let exhausted = reply.header("x-ratelimit-remaining").map(str::trim) == Some("0");
        let wait = reply.retry_after(now).or_else(|| {
            exhausted
                .then(|| reply.wait_until_epoch("x-ratelimit-reset", now))
                .flatten()
        });
        let limited = reply.status == 429
            || wait.is_some()
            || exhausted
            || reply.text.to_ascii_lowercase().contains("rate limit");
        if limited {
            return AttemptError::Retry {
                reason: format!("{} rate limited: {}", reply.status, reply.reason()),
                wait: Some(wait.unwrap_or(Duration::from_secs(60))),
            };
        }
    }
    reply.default_failure(now)
}

impl Target for GitHub {
    fn name(&self) -> &'static str {
        "github"
    }

    async fn deliver(&self, event: &Event) -> Result<Delivered, Error> {
        let url = self.config.dispatches_url();
        let retrier = Retrier::new(self.name(), &self.retry);
        let mut body = dispatch_body(event).to_string();
        let mut earlier = 0;
        loop {
            let error = match retrier.run(|_| self.attempt(&url, &body)).await {
                Ok((_, attempts)) => {
                    return Ok(Delivered {
                        attempts: earlier + attempts,
                        detail: (earlier > 0).then(|| format!("trimmed to {} bytes", body.len())),
                    });
                }
                Err(error) => error,
            };
            // GitHub's own size limit is below the documented 64 KB at times:
            // trim to half of what it refused and try again, within the budget.
            let smaller = body.len() / 2;
            match error {
                Error::Rejected {
                    status: 422,
                    ref reason,
                    attempts,
                    ..
                } if is_too_large(reason) && smaller >= MIN_TRIMMED_BYTES => {
                    tracing::warn!(
                        target: "megabot_forwarder",
                        id = %event.id, event = event.name(), bytes = body.len(), limit = smaller,
                        "github refused the payload as too large; trimming further"
                    );
                    earlier += attempts;
                    body = dispatch_body_within(event, smaller).to_string();
                }
                other => return Err(other.with_earlier_attempts(earlier)),
            }
        }
    }
}

/// GitHub's answer to a payload above its limit: `422` with
/// `{"message":"client_payload is too large."}`.
fn is_too_large(reason: &str) -> bool {
    reason.to_ascii_lowercase().contains("too large")
}

#[cfg(test)]
mod tests {
    use megabot_webhook_types::EventName;
    use megabot_webhook_types::examples::example;
    use reqwest::header::HeaderMap;

    use super::*;

    #[test]
    fn guide_error_payload_matches_the_workflow() {
        let body = dispatch_body(&example(EventName::ErrorOccurred));
        assert_eq!(body["event_type"], "error_occurred");
        let payload = &body["client_payload"];
        assert_eq!(
            payload["error"]["message"],
            "Anthropic API rate limit exceeded"
        );
        assert_eq!(payload["id"], "evt_123462");
        assert_eq!(payload["timestamp"], 1640995205);
        assert_eq!(payload["data"]["error_id"], "err_789");
        let failed = dispatch_body(&example(EventName::ToolExecutionFailed));
        assert_eq!(
            failed["client_payload"]["error"]["message"],
            "Failed to connect to database"
        );
        for name in EventName::ALL {
            let body = dispatch_body(&example(*name));
            assert!(body["client_payload"].as_object().unwrap().len() <= MAX_TOP_LEVEL_KEYS);
        }
    }

    #[test]
    fn shortcuts_survive_data_that_does_not_fit_the_struct() {
        let event = Event::from_slice(
            br#"{"event":"deployment_completed","id":"e","timestamp":1,"data":{"url":"https://x.example","version":2}}"#,
        )
        .unwrap();
        assert!(matches!(
            event.payload,
            megabot_webhook_types::EventPayload::Malformed { .. }
        ));
        let body = dispatch_body(&event);
        assert_eq!(body["client_payload"]["url"], "https://x.example");
        assert_eq!(body["client_payload"]["data"]["version"], 2);
    }

    fn big_event(fields: &[(&str, usize)]) -> Event {
        let data: Map<String, Value> = fields
            .iter()
            .map(|(k, n)| ((*k).to_owned(), json!("x".repeat(*n))))
            .collect();
        let body = json!({"event": "tool_execution_completed", "id": "evt_big", "timestamp": 1,
            "data": {"execution_id": "exec_1", "tool_name": "dump", "output": "o".repeat(200_000),
                     "metadata": data}});
        Event::from_slice(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn big_payloads_are_trimmed_largest_first() {
        let event = big_event(&[("a", 10)]);
        let body = dispatch_body(&event);
        assert!(json_len(&body) < MAX_BODY_BYTES);
        let data = &body["client_payload"]["data"];
        assert_eq!(data["megabot_trimmed"], true);
        assert_eq!(data["megabot_dropped_fields"], json!(["output"]));
        assert_eq!(data["tool_name"], "dump");
        assert_eq!(data["metadata"]["a"], "xxxxxxxxxx");
    }

    #[test]
    fn unknown_events_with_huge_or_odd_data_still_fit() {
        let many: Map<String, Value> = (0..20_000)
            .map(|i| (format!("k{i}"), json!("v".repeat(40))))
            .collect();
        let body = json!({"event": "x".repeat(5000), "id": "evt_1", "timestamp": 1, "data": many});
        let event = Event::from_slice(body.to_string().as_bytes()).unwrap();
        let out = dispatch_body(&event);
        assert!(json_len(&out) < MAX_BODY_BYTES);
        assert_eq!(
            out["event_type"].as_str().unwrap().chars().count(),
            MAX_EVENT_TYPE
        );
        assert_eq!(out["client_payload"]["data"]["megabot_trimmed"], true);

        let array = json!({"event": "e", "id": "i", "timestamp": 1, "data": ["y".repeat(100_000)]});
        let out = dispatch_body(&Event::from_slice(array.to_string().as_bytes()).unwrap());
        assert!(json_len(&out) < MAX_BODY_BYTES);
        assert!(
            out["client_payload"]["data"]["megabot_note"]
                .as_str()
                .unwrap()
                .contains("size limit")
        );
    }

    fn reply(status: u16, headers: &[(&'static str, String)], text: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        Reply {
            status,
            headers: map,
            text: text.to_owned(),
        }
    }

    #[test]
    fn rate_limits_and_final_statuses() {
        let reset = (Utc::now().timestamp() + 30).to_string();
        let primary = failure(&reply(
            403,
            &[
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset),
            ],
            "{\"message\":\"API rate limit exceeded\"}",
        ));
        let AttemptError::Retry {
            wait: Some(wait), ..
        } = primary
        else {
            panic!("{primary:?}")
        };
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
        assert_eq!(
            failure(&reply(429, &[("retry-after", "7".into())], "")),
            AttemptError::Retry {
                reason: "429 rate limited: Too Many Requests".into(),
                wait: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            failure(&reply(403, &[], "You have exceeded a secondary rate limit")),
            AttemptError::Retry { wait: Some(w), .. } if w == Duration::from_secs(60)
        ));
        assert!(matches!(
            failure(&reply(
                403,
                &[],
                "{\"message\":\"Resource not accessible by integration\"}"
            )),
            AttemptError::Stop { status: 403, .. }
        ));
        for status in [404, 422, 401] {
            assert!(matches!(
                failure(&reply(status, &[], "")),
                AttemptError::Stop { .. }
            ));
        }
        assert!(matches!(
            failure(&reply(502, &[], "")),
            AttemptError::Retry { wait: None, .. }
        ));
    }

    #[test]
    fn config() {
        let config = GitHubConfig::new("ghp_secretvalue", "octo/hello-world").unwrap();
        assert_eq!(
            config.dispatches_url().as_str(),
            "https://api.github.com/repos/octo/hello-world/dispatches"
        );
        assert!(!format!("{config:?}").contains("ghp_secretvalue"));
        assert!(GitHubConfig::new("t", "octo").is_err());
        assert!(GitHubConfig::new("t", "octo/..").is_err());
        assert!(GitHubConfig::new("t", "a/b/c").is_err());
        assert!(GitHubConfig::new("bad token", "a/b").is_err());
        let env = Env::from_pairs([
            ("GITHUB_TOKEN", "t"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_API_URL", "http://127.0.0.1:5/api/v3"),
        ]);
        assert_eq!(
            GitHubConfig::from_env(&env)
                .unwrap()
                .dispatches_url()
                .as_str(),
            "http://127.0.0.1:5/api/v3/repos/o/r/dispatches"
        );
    }
}
