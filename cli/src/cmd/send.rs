//! `megabot-webhook send`: fire a correctly signed event at a route.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use megabot_webhook_sender::config::{
    EndpointConfig, SecretKeys, StandardWebhooksConfig, WebhooksConfig,
};
use megabot_webhook_sender::{
    Delivery, DestinationPolicy, EndpointReport, Sender, dead_letter_file_warning, redact_url,
};
use megabot_webhook_types::{EventName, examples};

use crate::error::CliError;
use crate::input::read_body;
use crate::secrets::SecretArgs;

/// Arguments of `send`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Where to deliver (`http://` only to loopback unless --allow-insecure-http).
    #[arg(long)]
    url: String,
    #[command(flatten)]
    secret: SecretArgs,
    /// Also sign with Standard Webhooks (`whsec_...`).
    #[arg(long, env = "MEGABOT_WEBHOOK_STANDARD_SECRET", hide_env_values = true)]
    standard_secret: Option<String>,
    /// Send the guide's example of this event with a fresh id and timestamp.
    #[arg(long, conflicts_with = "file", required_unless_present = "file")]
    event: Option<String>,
    /// Send this JSON envelope (`-`: stdin), key order kept, in the guide's compact form.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Attempts in all, the first included.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Allow `http://` to a host that is not loopback.
    #[arg(long)]
    allow_insecure_http: bool,
    /// Append the delivery to this JSON Lines file if it fails for good
    /// (created readable by its owner only). If it cannot be written the
    /// event is lost: said on stderr, exit code 3.
    #[arg(long)]
    dead_letters: Option<PathBuf>,
}

/// A fresh event id: `evt_` and hex digits from the clock, the process and a counter.
pub(crate) fn fresh_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("evt_{mixed:016x}{count:x}")
}

/// The guide's example of `name`, with a fresh id and the current time.
pub(crate) fn fresh_example(name: EventName) -> megabot_webhook_types::Event {
    let mut event = examples::example(name);
    event.id = fresh_id();
    event.timestamp = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0)
        .unwrap_or(event.timestamp);
    event
}

fn delivery(args: &SendArgs) -> Result<Delivery, CliError> {
    if let Some(name) = &args.event {
        let known = name.parse::<EventName>().map_err(|_| {
            let names: Vec<&str> = EventName::ALL.iter().map(|n| n.as_str()).collect();
            CliError::Usage(format!(
                "unknown event {name:?}; known events: {}",
                names.join(", ")
            ))
        })?;
        return Ok(Delivery::from_event(&fresh_example(known))?);
    }
    let body = read_body(args.file.as_deref())?;
    Ok(Delivery::from_json(&body)?)
}

/// A sender signing with `secrets` and no registered endpoint, under the
/// local tools' destination policy (loopback and global addresses; the
/// other special-purpose ranges are refused). `send`, `demo` and
/// `redeliver` use it.
pub(crate) fn sender_for(
    secrets: &[String],
    dead_letters: Option<&PathBuf>,
) -> Result<Sender, CliError> {
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::many(secrets.iter().cloned()));
        value
    };
    let mut builder = Sender::builder(config).destination_policy(DestinationPolicy::local_tools());
    if let Some(path) = dead_letters {
        builder = builder.dead_letter_file(path.clone());
    }
    Ok(builder.build()?.0)
}

/// The endpoint `send` delivers to.
pub(crate) fn endpoint_for(
    url: &str,
    standard_secret: Option<&str>,
    max_attempts: u32,
    allow_insecure_http: bool,
) -> EndpointConfig {
    let mut endpoint = EndpointConfig::new(url);
    endpoint.retry_policy.max_attempts = max_attempts;
    endpoint.allow_insecure_http = allow_insecure_http;
    if let Some(secret) = standard_secret {
        endpoint.standard_webhooks = Some({
            let mut value = StandardWebhooksConfig::default();
            value.enabled = true;
            value.secret = SecretKeys::one(secret);
            value.signing_key = None;
            value
        });
    }
    endpoint
}

/// What an SDK receiver said in its answer's body: `{"status":"duplicate"}`, or
/// `{"error": code, "message": ...}` on a refusal.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ReceiverAnswer {
    /// `duplicate`, `ok`, or the refusal's code (`signature_mismatch`, ...).
    pub(crate) code: Option<String>,
    /// The refusal's message.
    pub(crate) message: Option<String>,
}

impl ReceiverAnswer {
    /// Reads an answer body; anything that is not such JSON says nothing.
    pub(crate) fn parse(body: Option<&str>) -> ReceiverAnswer {
        let Some(value) = body.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        else {
            return ReceiverAnswer::default();
        };
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        ReceiverAnswer {
            code: text("error").or_else(|| text("status")),
            message: text("message"),
        }
    }

    fn is_duplicate(&self) -> bool {
        self.code.as_deref() == Some("duplicate")
    }
}

/// One line about a delivery's outcome: `delivered`, `duplicate` (the receiver had
/// handled this event id already) or `failed`, with the receiver's error code and
/// message when it refused.
pub(crate) fn describe(report: &EndpointReport) -> String {
    let status = report
        .final_status
        .map_or_else(|| "no answer".to_owned(), |s| format!("status {s}"));
    let answer = ReceiverAnswer::parse(
        report
            .attempts
            .last()
            .and_then(|a| a.response_body.as_deref()),
    );
    let attempts = report.attempts.len();
    let plural = if attempts == 1 { "" } else { "s" };
    let verdict = match (report.is_delivered(), answer.is_duplicate()) {
        (true, true) => "duplicate",
        (true, false) => "delivered",
        (false, _) => "failed",
    };
    let mut line = format!(
        "{verdict} {} {} to {}: {status}, {attempts} attempt{plural}, {} ms",
        report.event,
        report.delivery_id,
        redact_url(&report.url),
        report.duration.as_millis(),
    );
    if !report.is_delivered()
        && let Some(code) = &answer.code
    {
        line.push_str(&format!(", receiver said {code}"));
        if let Some(message) = &answer.message {
            line.push_str(&format!(": {message}"));
        }
    }
    if let Some(error) = &report.error {
        line.push_str(&format!(" ({error})"));
    }
    line
}

/// Exit code of `send` when the delivery failed and its dead letter could not
/// be written (documented in `send --help`).
pub(crate) const EXIT_LOST: u8 = 3;

pub(crate) async fn run(args: SendArgs) -> Result<ExitCode, CliError> {
    let delivery = delivery(&args)?;
    if let Some(warning) = args
        .dead_letters
        .as_deref()
        .and_then(dead_letter_file_warning)
    {
        eprintln!("warning: {warning}");
    }
    let standard = args.standard_secret.as_deref();
    let sender = sender_for(&args.secret.secrets, args.dead_letters.as_ref())?;
    let endpoint = endpoint_for(
        &args.url,
        standard,
        args.max_attempts,
        args.allow_insecure_http,
    );
    let report = sender.deliver_to(&endpoint, &delivery).await?;
    println!("{}", describe(&report));
    if let (Some(path), true) = (&args.dead_letters, report.dead_lettered) {
        println!("kept in {} for `megabot-webhook redeliver`", path.display());
    }
    if report.is_lost() {
        let path = args
            .dead_letters
            .as_deref()
            .map_or_else(String::new, |p| p.display().to_string());
        let why = report
            .dead_letter_error
            .as_deref()
            .unwrap_or("unknown error");
        println!(
            "lost {} {}: not delivered and not kept",
            report.event, report.delivery_id
        );
        eprintln!(
            "error: EVENT LOST: the delivery of {} {} failed and its dead letter could not be written to {path}: {why}",
            report.event, report.delivery_id
        );
        return Ok(ExitCode::from(EXIT_LOST));
    }
    Ok(if report.is_delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::ReceiverAnswer;

    #[test]
    fn receiver_answers_are_read_from_sdk_bodies_only() {
        let duplicate = ReceiverAnswer::parse(Some(r#"{"status":"duplicate"}"#));
        assert!(duplicate.is_duplicate());
        let refused = ReceiverAnswer::parse(Some(
            r#"{"error":"signature_mismatch","message":"signature mismatch"}"#,
        ));
        assert_eq!(refused.code.as_deref(), Some("signature_mismatch"));
        assert_eq!(refused.message.as_deref(), Some("signature mismatch"));
        for other in [None, Some("<html>"), Some("[]"), Some(r#"{"error":7}"#)] {
            assert_eq!(
                ReceiverAnswer::parse(other),
                ReceiverAnswer::default(),
                "{other:?}"
            );
        }
    }
}
