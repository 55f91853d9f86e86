//! `megabot-webhook sign`: the headers a delivery of a body carries.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args};
use megabot_webhook_types::{Event, headers};
use megabot_webhook_verify::{Secret, StandardSecret, StandardSigningKey, sign};

use crate::error::CliError;
use crate::input::read_body;

/// Arguments of `sign`.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("standard").multiple(true).args(["standard_secret", "signing_key"])
))]
pub(crate) struct SignArgs {
    /// The MegaBot secret; repeat it during key rotation. Required unless a Standard
    /// Webhooks secret or signing key is given.
    #[arg(
        long = "secret",
        value_name = "SECRET",
        env = "MEGABOT_WEBHOOK_SECRET",
        hide_env_values = true,
        required_unless_present = "standard"
    )]
    secrets: Vec<String>,
    /// Also sign with Standard Webhooks (`whsec_...`).
    #[arg(long, env = "MEGABOT_WEBHOOK_STANDARD_SECRET", hide_env_values = true)]
    standard_secret: Option<String>,
    /// Also sign with Standard Webhooks `v1a` (Ed25519 secret key `whsk_...`).
    #[arg(
        long,
        value_name = "WHSK",
        env = "MEGABOT_WEBHOOK_SIGNING_KEY",
        hide_env_values = true
    )]
    signing_key: Option<String>,
    /// `webhook-id` for Standard Webhooks [default: the body's `id`].
    #[arg(long, requires = "standard")]
    id: Option<String>,
    /// `webhook-timestamp` for Standard Webhooks [default: now].
    #[arg(long, requires = "standard", allow_negative_numbers = true)]
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
    let secrets = args
        .secrets
        .iter()
        .map(|s| Secret::new(s.as_str()).map_err(CliError::from))
        .collect::<Result<Vec<_>, _>>()?;
    let standard = args
        .standard_secret
        .as_deref()
        .map(StandardSecret::parse)
        .transpose()?;
    let signing_key = args
        .signing_key
        .as_deref()
        .map(StandardSigningKey::parse)
        .transpose()?;
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
    if !secrets.is_empty() {
        line(
            headers::SIGNATURE,
            &sign::megabot_signatures(&secrets, body),
        );
    }
    if let Some(event) = &event {
        line(headers::EVENT, event.name());
        line(headers::DELIVERY, &event.id);
        line(headers::TIMESTAMP, &event.unix_timestamp().to_string());
    }
    if standard.is_some() || signing_key.is_some() {
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
        let mut entries = Vec::new();
        if let Some(secret) = &standard {
            entries.push(sign::standard_signature(secret, &id, timestamp, body));
        }
        if let Some(key) = &signing_key {
            entries.push(sign::standard_v1a_signature(key, &id, timestamp, body));
        }
        line(headers::WEBHOOK_SIGNATURE, &entries.join(" "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"event":"chat_message_received","id":"evt_123456","timestamp":1640995200,"data":{"message_id":"msg_789","platform":"telegram","user_id":"user_123","username":"john_doe","content":"Hello MegaBot!","attachments":[],"metadata":{"chat_id":"chat_456","platform_specific":{"message_thread_id":"thread_789"}}}}"#;

    fn args(standard: Option<&str>) -> SignArgs {
        SignArgs {
            secrets: vec!["your_webhook_secret".into()],
            standard_secret: standard.map(str::to_owned),
            signing_key: None,
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
    fn a_signing_key_alone_prints_the_v1a_headers() {
        use megabot_webhook_verify::signature::verify_standard_v1a_signature;
        let key = StandardSigningKey::from_seed(&[5; 32]);
        let mut args = args(None);
        args.secrets.clear();
        args.signing_key = Some(key.to_whsk_string().to_string());
        let out = header_lines(&args, BODY, 0).unwrap();
        assert!(!out.contains("X-MegaBot-Signature"), "{out}");
        assert!(out.contains("webhook-id: evt_123456\n"), "{out}");
        assert!(out.contains("webhook-timestamp: 1640995200\n"));
        let signature = out
            .lines()
            .find_map(|l| l.strip_prefix("webhook-signature: "))
            .unwrap();
        assert!(signature.starts_with("v1a,") && !signature.contains(' '));
        let index = verify_standard_v1a_signature(
            &[key.public_key()],
            "evt_123456",
            1_640_995_200,
            signature,
            BODY,
        )
        .unwrap();
        assert_eq!(index, 0);
        // Beside a whsec: both entries.
        args.standard_secret = Some("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
        let out = header_lines(&args, BODY, 0).unwrap();
        assert!(out.contains("webhook-signature: v1,"), "{out}");
        assert!(out.contains(" v1a,"), "{out}");
        // A bad key is refused without echoing it.
        args.signing_key = Some("whsk_c2VjcmV0LW5vdC1hLWtleQ==".into());
        let error = header_lines(&args, BODY, 0).unwrap_err().to_string();
        assert!(!error.contains("c2VjcmV0"), "{error}");
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
