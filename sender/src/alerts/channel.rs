//! Alert channels: Slack incoming webhooks and (feature `alerts-email`)
//! SMTP. Each channel runs on its own task behind a bounded queue, retries a
//! failed send a few times with backoff, and logs failures without a secret
//! or a URL: a slow or dead channel never slows deliveries or the others.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::rules::{Alert, AlertState};
use crate::Error;
use crate::config::{AlertChannelConfig, AlertChannelKind, SecretString, check_webhook_url};
use crate::diagnostic::ConfigError;

/// The default first line of a Slack alert.
pub(crate) const DEFAULT_SLACK_MESSAGE: &str = "Webhook delivery alert";

/// How channels send and retry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendPolicy {
    /// Tries per alert (at least 1).
    pub(crate) attempts: u32,
    /// The wait after the first failure; doubled after each.
    pub(crate) backoff: Duration,
    /// The longest one send may take.
    pub(crate) timeout: Duration,
    /// Alerts waiting per channel before new ones are dropped.
    pub(crate) queue: usize,
}

/// One way of sending an alert.
pub(crate) enum Transport {
    Slack(Slack),
    #[cfg(feature = "alerts-email")]
    Email(super::email::Email),
}

impl Transport {
    async fn send(&self, alert: &Alert) -> Result<(), String> {
        match self {
            Transport::Slack(slack) => slack.send(alert).await,
            #[cfg(feature = "alerts-email")]
            Transport::Email(email) => email.send(alert).await,
        }
    }
}

/// Builds the transport of each active channel of `channels` (keyed
/// `webhook_alerts.channels[i]`); inactive ones are skipped.
pub(crate) fn build_transports(
    channels: &[AlertChannelConfig],
    policy: SendPolicy,
) -> Result<Vec<(String, Transport)>, Error> {
    let mut transports = Vec::new();
    for (index, channel) in channels.iter().enumerate() {
        if !channel.is_active() {
            continue;
        }
        let key = format!("webhook_alerts.channels[{index}]");
        let invalid = |message: String| Error::from(ConfigError::new(key.clone(), message));
        match channel.kind {
            AlertChannelKind::Slack => {
                let url = channel
                    .webhook_url
                    .as_ref()
                    .ok_or_else(|| invalid("a slack channel needs `webhook_url`".to_owned()))?;
                let slack =
                    Slack::new(url, channel.message.clone(), policy.timeout).map_err(invalid)?;
                transports.push((
                    format!("slack[{index}] ({})", slack.host),
                    Transport::Slack(slack),
                ));
            }
            AlertChannelKind::Email => {
                #[cfg(feature = "alerts-email")]
                {
                    let email =
                        super::email::Email::new(channel, policy.timeout).map_err(invalid)?;
                    transports.push((
                        format!("email[{index}] ({})", email.label()),
                        Transport::Email(email),
                    ));
                }
            }
        }
    }
    Ok(transports)
}

/// A channel's queue and task.
pub(crate) struct ChannelTask {
    pub(crate) label: String,
    pub(crate) queue: mpsc::Sender<Arc<Alert>>,
    pub(crate) handle: JoinHandle<()>,
}

impl fmt::Debug for ChannelTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelTask")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Starts the task of one channel.
pub(crate) fn spawn(label: String, transport: Transport, policy: SendPolicy) -> ChannelTask {
    let (queue, mut alerts) = mpsc::channel::<Arc<Alert>>(policy.queue.max(1));
    let task_label = label.clone();
    let handle = tokio::spawn(async move {
        while let Some(alert) = alerts.recv().await {
            send_with_retries(&task_label, &transport, &alert, policy).await;
        }
    });
    ChannelTask {
        label,
        queue,
        handle,
    }
}

async fn send_with_retries(label: &str, transport: &Transport, alert: &Alert, policy: SendPolicy) {
    let attempts = policy.attempts.max(1);
    let mut wait = policy.backoff;
    for attempt in 1..=attempts {
        let result = match tokio::time::timeout(policy.timeout, transport.send(alert)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no answer within {} s",
                super::rules::seconds(policy.timeout)
            )),
        };
        match result {
            Ok(()) => {
                tracing::info!(channel = label, endpoint = %alert.endpoint_id, rule = alert.rule.as_str(), "webhook alert sent");
                return;
            }
            Err(error) if attempt < attempts => {
                tracing::warn!(channel = label, attempt, %error, "webhook alert channel failed; retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            Err(error) => {
                tracing::error!(
                    channel = label,
                    attempts,
                    %error,
                    endpoint = %alert.endpoint_id,
                    rule = alert.rule.as_str(),
                    "webhook alert not sent: the channel failed every try"
                );
            }
        }
    }
}

/// The text of an alert after a channel's own first words.
pub(crate) fn alert_text(prefix: &str, alert: &Alert) -> String {
    match alert.state {
        AlertState::Raised => format!("{prefix}: {}", alert.text),
        AlertState::Resolved => format!("[resolved] {prefix}: {}", alert.text),
    }
}

/// A request error with its causes, without the URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A Slack incoming webhook: `POST {"text": ...}`.
pub(crate) struct Slack {
    url: reqwest::Url,
    host: String,
    message: String,
    client: reqwest::Client,
}

impl Slack {
    fn new(
        url: &SecretString,
        message: Option<String>,
        timeout: Duration,
    ) -> Result<Slack, String> {
        let url = check_webhook_url(url.expose())?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot set up the http client: {}", e.without_url()))?;
        Ok(Slack {
            url,
            host,
            message: message.unwrap_or_else(|| DEFAULT_SLACK_MESSAGE.to_owned()),
            client,
        })
    }

    /// Errors never hold the URL (its path is the credential).
    async fn send(&self, alert: &Alert) -> Result<(), String> {
        let body = serde_json::json!({ "text": alert_text(&self.message, alert) });
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("slack answered {}", status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::AlertRule;

    fn alert(state: AlertState) -> Alert {
        Alert {
            state,
            rule: AlertRule::FailureRate,
            endpoint_id: "ep_1".to_owned(),
            text: "endpoint ep_1: what happened".to_owned(),
            at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn texts() {
        assert_eq!(
            alert_text("Webhook failure", &alert(AlertState::Raised)),
            "Webhook failure: endpoint ep_1: what happened"
        );
        assert_eq!(
            alert_text("Webhook failure", &alert(AlertState::Resolved)),
            "[resolved] Webhook failure: endpoint ep_1: what happened"
        );
    }

    #[tokio::test]
    async fn slack_errors_never_show_the_url() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let url = SecretString::new(format!(
            "http://127.0.0.1:{port}/services/T9/B9/s3cretT0ken"
        ));
        let slack = Slack::new(&url, None, Duration::from_secs(5)).unwrap();
        let error = slack.send(&alert(AlertState::Raised)).await.unwrap_err();
        assert!(
            !error.contains("s3cretT0ken") && !error.contains("/services"),
            "{error}"
        );
        assert!(error.contains("error sending request"), "{error}");
        let refused = Slack::new(
            &SecretString::new("http://hooks.example.com/s3cretT0ken"),
            None,
            Duration::from_secs(5),
        );
        assert!(refused.is_err_and(|e| !e.contains("s3cretT0ken")));
    }
}
