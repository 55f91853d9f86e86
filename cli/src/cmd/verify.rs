//! `megabot-webhook verify`: check a signature and say precisely why it fails.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use megabot_webhook_types::{guide_json, headers};
use megabot_webhook_verify::{Error, Secret, Verifier, dangerous, signature};

use crate::error::CliError;
use crate::input::read_body;
use crate::secrets::SecretArgs;

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    secret: SecretArgs,
    /// The `X-MegaBot-Signature` value as received.
    #[arg(long, allow_hyphen_values = true)]
    signature: String,
    /// The clock, in unix seconds, to check the body's timestamp against [default: now].
    #[arg(
        long,
        conflicts_with = "ignore_timestamp",
        allow_negative_numbers = true
    )]
    now: Option<i64>,
    /// Check only the signature, not the timestamp's freshness.
    #[arg(long)]
    ignore_timestamp: bool,
    /// Accepted age (and lead) of the body's timestamp, in seconds.
    #[arg(long, default_value_t = 300)]
    tolerance: u64,
    /// The body exactly as received (`-` or nothing: stdin).
    file: Option<PathBuf>,
}

pub(crate) fn run(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let body = read_body(args.file.as_deref())?;
    let now = match args.now {
        Some(seconds) => DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| CliError::Usage(format!("--now {seconds} is out of range")))?,
        None => Utc::now(),
    };
    match check(&args, &body, now)? {
        Ok(summary) => {
            println!("valid");
            eprintln!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            println!("invalid: {reason}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `Ok(Ok(summary))` when valid, `Ok(Err(reason))` when not.
fn check(
    args: &VerifyArgs,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Result<String, String>, CliError> {
    let secrets = args.secret.parse()?;
    let mut builder = Verifier::builder().tolerance(Duration::from_secs(args.tolerance));
    for secret in &secrets {
        builder = builder.megabot_secret(secret.clone());
    }
    if args.ignore_timestamp {
        builder = dangerous::ignore_timestamp(builder);
    }
    let verifier = builder.build()?;
    let header = [(headers::SIGNATURE, args.signature.as_str())];
    Ok(match verifier.verify_at(&header[..], body, now) {
        Ok(verified) => Ok(format!(
            "{} {} signed with secret {} of {}",
            verified.event.name(),
            verified.event.id,
            verified.delivery.secret_index + 1,
            secrets.len()
        )),
        Err(error) => Err(explain(&error, &secrets, &args.signature, body)),
    })
}

/// Turns a verification error into the precise reason a person needs.
fn explain(error: &Error, secrets: &[Secret], header: &str, body: &[u8]) -> String {
    match error {
        Error::MissingSignature => "missing signature: the --signature value is empty".into(),
        Error::MalformedSignature => {
            format!("malformed signature header: {}", malformed_reason(header))
        }
        Error::SignatureMismatch => mismatch_reason(secrets, header, body),
        Error::TimestampTooOld { .. } | Error::TimestampTooNew { .. } => format!(
            "signature valid, but {error}; the sender's clock or a delayed retry? (--now or --ignore-timestamp to check the signature alone)"
        ),
        Error::InvalidEnvelope { .. } => {
            format!("signature valid, but the body is not a MegaBot event: {error}")
        }
        other => other.to_string(),
    }
}

fn malformed_reason(header: &str) -> String {
    let entries: Vec<&str> = header.split_whitespace().collect();
    if entries.is_empty() {
        return "it holds only white space".into();
    }
    let reasons: Vec<String> = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| format!("entry {}: {}", index + 1, entry_problem(entry)))
        .collect();
    format!(
        "no entry is sha256=<64 hex digits> ({})",
        reasons.join("; ")
    )
}

fn entry_problem(entry: &str) -> String {
    let Some((scheme, digits)) = entry.split_once('=') else {
        return if entry.len() == 64 && entry.bytes().all(|b| b.is_ascii_hexdigit()) {
            "64 hex digits without the sha256= prefix".into()
        } else {
            "no sha256= prefix".into()
        };
    };
    if scheme != "sha256" {
        // the scheme name is not secret; cut it short in case it is garbage
        let shown: String = scheme.chars().take(16).collect();
        return format!("algorithm {shown:?} instead of sha256");
    }
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return format!("{bad:?} is not a hex digit");
    }
    format!("{} hex digits instead of 64", digits.len())
}

fn mismatch_reason(secrets: &[Secret], header: &str, body: &[u8]) -> String {
    let matches =
        |bytes: &[u8]| signature::verify_megabot_signature(secrets, header, bytes).is_ok();
    let trimmed = body.trim_ascii();
    if trimmed.len() != body.len() && matches(trimmed) {
        return "the body has leading or trailing white space (a newline?) that was not signed"
            .into();
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Ok(compact) = guide_json::to_vec(&value)
        && compact != body
        && matches(&compact)
    {
        return "body re-serialised: the signature matches MegaBot's compact form of this JSON \
                        (no spaces, non-ASCII as \\uXXXX), not these bytes; verify the raw body exactly \
                        as received, before any JSON parsing"
                    .into();
    }
    let secrets_word = if secrets.len() == 1 {
        "this secret"
    } else {
        "any of these secrets"
    };
    format!(
        "signature mismatch: not signed with {secrets_word} (wrong secret?), or the body changed after signing"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"event":"chat_message_received","id":"evt_123456","timestamp":1640995200,"data":{"message_id":"msg_789","platform":"telegram","user_id":"user_123","username":"john_doe","content":"Hello MegaBot!","attachments":[],"metadata":{"chat_id":"chat_456","platform_specific":{"message_thread_id":"thread_789"}}}}"#;
    const SIG: &str = "sha256=8611d14240261606fe0447f38dbef83e210e479162b7805709c743116be8d9ed";

    fn args(signature: &str) -> VerifyArgs {
        VerifyArgs {
            secret: SecretArgs {
                secrets: vec!["your_webhook_secret".into()],
            },
            signature: signature.into(),
            now: None,
            ignore_timestamp: false,
            tolerance: 300,
            file: None,
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn reason(args: &VerifyArgs, body: &str, now: i64) -> String {
        check(args, body.as_bytes(), at(now)).unwrap().unwrap_err()
    }

    #[test]
    fn valid_at_the_body_time() {
        let ok = check(&args(SIG), BODY.as_bytes(), at(1640995200))
            .unwrap()
            .unwrap();
        assert!(ok.contains("evt_123456"), "{ok}");
    }

    #[test]
    fn stale_is_told_apart_from_a_bad_signature() {
        let why = reason(&args(SIG), BODY, 1640995200 + 3600);
        assert!(
            why.starts_with("signature valid, but timestamp too old"),
            "{why}"
        );
        let mut ignore = args(SIG);
        ignore.ignore_timestamp = true;
        assert!(check(&ignore, BODY.as_bytes(), at(0)).unwrap().is_ok());
    }

    #[test]
    fn wrong_secret() {
        let mut wrong = args(SIG);
        wrong.secret.secrets = vec!["not_the_secret".into()];
        let why = reason(&wrong, BODY, 1640995200);
        assert!(
            why.starts_with("signature mismatch: not signed with this secret"),
            "{why}"
        );
    }

    #[test]
    fn reserialised_body() {
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(BODY).unwrap())
                .unwrap();
        let why = reason(&args(SIG), &pretty, 1640995200);
        assert!(why.starts_with("body re-serialised"), "{why}");
    }

    #[test]
    fn trailing_newline() {
        let why = reason(&args(SIG), &format!("{BODY}\n"), 1640995200);
        assert!(why.contains("white space"), "{why}");
    }

    #[test]
    fn malformed_headers_say_what_is_wrong() {
        let cases = [
            (&SIG[7..], "without the sha256= prefix"),
            (
                "sha1=8611d14240261606fe0447f38dbef83e210e479162b7805709c743116be8d9ed",
                "algorithm \"sha1\"",
            ),
            (&SIG[..SIG.len() - 1], "63 hex digits"),
            (
                "sha256=8611d14240261606fe0447f38dbef83e210e479162b7805709c743116be8d9eg",
                "'g' is not a hex digit",
            ),
        ];
        for (header, expected) in cases {
            let why = reason(&args(header), BODY, 1640995200);
            assert!(
                why.starts_with("malformed signature header"),
                "{header}: {why}"
            );
            assert!(why.contains(expected), "{header}: {why}");
        }
    }
}
