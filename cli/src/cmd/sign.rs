//! `megabot-webhook sign`: the headers a delivery of a body carries.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use megabot_webhook_types::{Event, headers};
use megabot_webhook_verify::{StandardSecret, sign};

use crate::error::CliError;
use crate::input::read_body;
use crate::secrets::SecretArgs;

/// Arguments of `sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    secret: SecretArgs,
    /// Also sign with Standard Webhooks (`whsec_...`).
    #[arg(long, env = "MEGABOT_WEBHOOK_STANDARD_SECRET", hide_env_values = true)]
    standard_secret: Option<String>,
    /// `webhook-id` for Standard Webhooks [default: the body's `id`].
    #[arg(long, requires = "standard_secret")]
    id: Option<String>,
    /// `webhook-timestamp` for Standard Webhooks [default: now].
    #[arg(long, requires = "standard_secret", allow_negative_numbers = true)]
    timestamp: Option<i64>,
    /// The body, signed byte for byte as given (`-` or nothing: stdin).
    file: Option<PathBuf>,
}

pub(crate) fn run(args: SignArgs) -> Result<ExitCode, CliError> {
    let body = read_body(args.file.as_deref())?;
    print!(
        "{}",
        header_lines(&args, &body, chrono::Utc::now().timestamp())?
    );
    Ok(ExitCode::SUCCESS)
}

fn header_lines(args: &SignArgs, body: &[u8], now: i64) -> Result<String, CliError> {
    let secrets = args.secret.parse()?;
    let event = Event::from_slice(body).ok();
    if event.is_none() {
        eprintln!("note: the body is not a MegaBot event envelope; signing it anyway");
    }
    let mut out = String::new();
    let mut line = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
    };
    line(headers::CONTENT_TYPE, headers::CONTENT_TYPE_JSON);
    line(headers::USER_AGENT, headers::USER_AGENT_VALUE);
    line(
        headers::SIGNATURE,
        &sign::megabot_signatures(&secrets, body),
    );
    if let Some(event) = &event {
        line(headers::EVENT, event.name());
        line(headers::DELIVERY, &event.id);
        line(headers::TIMESTAMP, &event.unix_timestamp().to_string());
    }
    if let Some(standard) = &args.standard_secret {
        let secret = StandardSecret::parse(standard)?;
        let id = match (&args.id, &event) {
            (Some(id), _) => id.clone(),
            (None, Some(event)) => event.id.clone(),
            (None, None) => {
                return Err(CliError::Usage(
                    "--id is required when the body is not an event with an id".into(),
                ));
            }
        };
        let timestamp = args.timestamp.unwrap_or(now);
        line(headers::WEBHOOK_ID, &id);
        line(headers::WEBHOOK_TIMESTAMP, &timestamp.to_string());
        line(
            headers::WEBHOOK_SIGNATURE,
            &sign::standard_signature(&secret, &id, timestamp, body),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"event":"chat_message_received","id":"evt_123456","timestamp":1640995200,"data":{"message_id":"msg_789","platform":"telegram","user_id":"user_123","username":"john_doe","content":"Hello MegaBot!","attachments":[],"metadata":{"chat_id":"chat_456","platform_specific":{"message_thread_id":"thread_789"}}}}"#;

    fn args(standard: Option<&str>) -> SignArgs {
        SignArgs {
            secret: SecretArgs {
                secrets: vec!["your_webhook_secret".into()],
            },
            standard_secret: standard.map(str::to_owned),
            id: None,
            timestamp: Some(1640995200),
            file: None,
        }
    }

    #[test]
    fn prints_the_guide_signature_and_the_event_headers() {
        let out = header_lines(&args(None), BODY, 0).unwrap();
        assert!(out.contains(
            "X-MegaBot-Signature: sha256=8611d14240261606fe0447f38dbef83e210e479162b7805709c743116be8d9ed\n"
        ), "{out}");
        assert!(out.contains("X-MegaBot-Event: chat_message_received\n"));
        assert!(out.contains("X-MegaBot-Delivery: evt_123456\n"));
        assert!(out.contains("X-MegaBot-Timestamp: 1640995200\n"));
        assert!(!out.contains("webhook-"));
    }

    #[test]
    fn standard_headers_use_the_body_id_by_default() {
        let out = header_lines(
            &args(Some("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")),
            BODY,
            0,
        )
        .unwrap();
        assert!(out.contains("webhook-id: evt_123456\n"), "{out}");
        assert!(out.contains("webhook-timestamp: 1640995200\n"));
        assert!(out.contains("webhook-signature: v1,"));
    }

    #[test]
    fn a_non_event_body_needs_an_id_for_standard_webhooks() {
        let err = header_lines(
            &args(Some("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")),
            b"hello",
            0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("--id is required"));
    }
}
