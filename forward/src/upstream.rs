//! Talking HTTP to a target: the client, target URLs, reading answers with a
//! cap, and the waits targets ask for.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Url};

use super::Error;
use super::retry::AttemptError;
use super::text::sanitize;
use megabot_webhook_sender::parse_retry_after;

/// The `User-Agent` of every request to a target (GitHub requires one).
pub const USER_AGENT: &str = concat!("megabot-webhook-forwarder/", env!("CARGO_PKG_VERSION"));

/// The most bytes of a target's answer that are read.
const MAX_ANSWER: usize = 16 * 1024;

/// The most characters of a target's error text that are kept.
const MAX_REASON: usize = 300;

/// An HTTP client for targets: the given per-request timeout, no redirects
/// (a redirected POST would lose its body or leak a token), rustls.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| Error::Client(e.to_string()))
}

/// Parses a target's base URL from setting `name`: `https://`, or `http://`
/// to a loopback host (local stand-ins, tests). `secret` keeps the value out
/// of the error (a Slack webhook URL is a credential).
pub(crate) fn target_url(name: &'static str, text: &str, secret: bool) -> Result<Url, Error> {
    let shown = |reason: &str| {
        if secret {
            Error::invalid(name, reason.to_owned())
        } else {
            Error::invalid(name, format!("`{}`: {reason}", text.trim()))
        }
    };
    let url = Url::parse(text.trim()).map_err(|e| shown(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(shown("credentials in the url are not allowed"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(shown("must be https:// (http:// only to a loopback host)")),
        _ => Err(shown("must be an https:// url")),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(any(feature = "datadog", feature = "github", feature = "gitlab"))]
/// `base` with `segments` appended to its path, each percent-encoded.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

#[cfg(feature = "slack")]
/// A URL as it may appear in logs: scheme and host only.
pub(crate) fn redacted(url: &Url) -> String {
    format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("?"))
}

/// A target's answer: status, headers and up to 16 KiB of body text.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Reply {
    /// The body text made safe for logs and answers (at most 300 characters),
    /// or the status's reason phrase when the body is empty.
    pub(crate) fn reason(&self) -> String {
        let text = sanitize(&self.text, MAX_REASON);
        if text.is_empty() {
            reqwest::StatusCode::from_u16(self.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no reason given")
                .to_owned()
        } else {
            text
        }
    }

    /// The text of header `name`, if present and valid.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The wait a `Retry-After` header asks for (delay-seconds or an HTTP date).
    pub(crate) fn retry_after(&self, now: DateTime<Utc>) -> Option<Duration> {
        parse_retry_after(self.header("retry-after")?, now, Duration::MAX)
    }

    #[cfg(any(feature = "github", feature = "gitlab"))]
    /// The wait until the unix time in header `name` (GitHub's
    /// `x-ratelimit-reset`, GitLab's `RateLimit-Reset`).
    pub(crate) fn wait_until_epoch(&self, name: &str, now: DateTime<Utc>) -> Option<Duration> {
        let reset: i64 = self.header(name)?.trim().parse().ok()?;
        // Until the reset instant itself, not a whole number of seconds from `now`
        // (which would retry up to a second early).
        let millis = reset
            .saturating_mul(1000)
            .saturating_sub(now.timestamp_millis())
            .max(0);
        Some(Duration::from_millis(millis.unsigned_abs()))
    }

    /// The standard retry verdict: 408, 429 and 5xx are retried (honouring
    /// `Retry-After`), anything else is final.
    pub(crate) fn default_failure(&self, now: DateTime<Utc>) -> AttemptError {
        match self.status {
            408 | 429 | 500..=599 => AttemptError::Retry {
                reason: format!("{} {}", self.status, self.reason()),
                wait: self.retry_after(now),
            },
            status => AttemptError::Stop {
                status,
                reason: self.reason(),
            },
        }
    }
}

/// Sends `request` and reads the answer. Connection errors and timeouts are
/// [`AttemptError::Retry`]; their text never holds the URL (it may be a
/// credential).
pub(crate) async fn send(request: RequestBuilder) -> Result<Reply, AttemptError> {
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ANSWER - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_ANSWER {
                    break;
                }
            }
            Ok(None) => break,
            // A broken body after a status line: the status still decides.
            Err(_) => break,
        }
    }
    Ok(Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn transport(error: reqwest::Error) -> AttemptError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    AttemptError::Retry {
        reason: kind.to_owned(),
        wait: None,
    }
}

#[cfg(any(feature = "github", feature = "gitlab"))]
/// A token must be non-empty and fit in a header.
pub(crate) fn check_token(
    name: &'static str,
    token: &megabot_webhook_sender::config::SecretString,
) -> Result<(), Error> {
    if token.is_empty() {
        return Err(Error::invalid(name, "is empty"));
    }
    if !token.expose().bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            name,
            "holds characters a header cannot carry",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn reply(status: u16, headers: &[(&'static str, &str)], text: &str) -> Reply {
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
    fn urls() {
        assert!(target_url("X", "https://hooks.slack.com/services/a", true).is_ok());
        assert!(target_url("X", "http://127.0.0.1:9/x", false).is_ok());
        assert!(target_url("X", "http://localhost/x", false).is_ok());
        assert!(target_url("X", "http://[::1]:8/", false).is_ok());
        let error = target_url("X", "http://example.com/secret-path", true).unwrap_err();
        assert!(!error.to_string().contains("secret-path"), "{error}");
        assert!(target_url("X", "ftp://example.com", false).is_err());
        assert!(target_url("X", "https://u:p@example.com", false).is_err());
        assert!(target_url("X", "not a url", false).is_err());
    }

    #[cfg(any(feature = "datadog", feature = "github", feature = "gitlab"))]
    #[test]
    fn joined_urls() {
        let base = Url::parse("https://api.github.com/").unwrap();
        assert_eq!(
            join(&base, &["repos", "o", "r", "dispatches"]).as_str(),
            "https://api.github.com/repos/o/r/dispatches"
        );
        let prefixed = Url::parse("http://127.0.0.1:1/gitlab").unwrap();
        assert_eq!(
            join(&prefixed, &["api", "v4", "projects", "group/project"]).as_str(),
            "http://127.0.0.1:1/gitlab/api/v4/projects/group%2Fproject"
        );
    }

    #[cfg(feature = "slack")]
    #[test]
    fn redacted_urls() {
        assert_eq!(
            redacted(&Url::parse("https://hooks.slack.com/services/T/B/X").unwrap()),
            "https://hooks.slack.com/…"
        );
    }

    #[test]
    fn waits() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
        assert_eq!(
            parse_retry_after(" 7 ", now, Duration::MAX),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now, Duration::MAX),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now, Duration::MAX), None);
    }

    #[cfg(any(feature = "github", feature = "gitlab"))]
    #[test]
    fn waits_until_a_reset() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
        let r = reply(
            403,
            &[("x-ratelimit-reset", &(now.timestamp() + 42).to_string())],
            "",
        );
        assert_eq!(
            r.wait_until_epoch("x-ratelimit-reset", now),
            Some(Duration::from_secs(42))
        );
        let past = reply(403, &[("x-ratelimit-reset", "5")], "");
        assert_eq!(
            past.wait_until_epoch("x-ratelimit-reset", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn verdicts_and_reasons() {
        let now = Utc::now();
        assert_eq!(
            reply(429, &[("retry-after", "3")], "slow down").default_failure(now),
            AttemptError::Retry {
                reason: "429 slow down".into(),
                wait: Some(Duration::from_secs(3))
            }
        );
        assert!(matches!(
            reply(502, &[], "").default_failure(now),
            AttemptError::Retry { wait: None, .. }
        ));
        assert_eq!(
            reply(400, &[], "invalid_payload\n").default_failure(now),
            AttemptError::Stop {
                status: 400,
                reason: "invalid_payload".into()
            }
        );
        assert_eq!(reply(404, &[], "").reason(), "Not Found");
    }
}
