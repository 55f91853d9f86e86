//! `megabot-webhook listen`: a receiver that answers as SPEC 4.5 says.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_verify::{Secret, StandardSecret, Verifier};

use crate::error::CliError;
use crate::serve::{self, Framework};

/// Arguments of `listen`.
#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// The MegaBot secret (repeat during key rotation: any may match).
    #[arg(
        long = "secret",
        env = "MEGABOT_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    secrets: Vec<String>,
    /// A Standard Webhooks secret (`whsec_...`; repeatable).
    #[arg(
        long = "standard-secret",
        env = "MEGABOT_WEBHOOK_STANDARD_SECRET",
        hide_env_values = true
    )]
    standard_secrets: Vec<String>,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// The route that receives deliveries.
    #[arg(long, default_value = "/webhook")]
    path: String,
    /// The web framework to serve with.
    #[arg(long, value_enum, default_value = "axum")]
    framework: Framework,
    /// Accepted age (and lead) of a delivery's timestamp, in seconds.
    #[arg(long, default_value_t = 300)]
    tolerance: u64,
    /// Print each verified, non-duplicate delivery as one JSON line on stdout.
    #[arg(long)]
    json: bool,
}

/// A verifier for the given secrets and tolerance.
pub(crate) fn build_verifier(
    secrets: &[String],
    standard_secrets: &[String],
    tolerance: u64,
) -> Result<Verifier, CliError> {
    let mut builder = Verifier::builder().tolerance(Duration::from_secs(tolerance));
    for secret in secrets {
        builder = builder.megabot_secret(Secret::new(secret.as_str())?);
    }
    for secret in standard_secrets {
        builder = builder.standard_secret(StandardSecret::parse(secret)?);
    }
    if secrets.is_empty() && standard_secrets.is_empty() {
        return Err(CliError::Usage(
            "give at least one --secret or --standard-secret (or set MEGABOT_WEBHOOK_SECRET)"
                .into(),
        ));
    }
    Ok(builder.build()?)
}

/// The `--json` line for a delivery.
pub(crate) fn json_line(hook: &Webhook) -> String {
    let event = hook.event();
    let mut line = serde_json::Map::new();
    line.insert("scheme".into(), hook.scheme().as_str().into());
    line.insert("event".into(), event.name().into());
    line.insert("id".into(), event.id.as_str().into());
    line.insert("timestamp".into(), event.unix_timestamp().into());
    line.insert("data".into(), event.payload.data_value());
    serde_json::Value::Object(line).to_string()
}

fn human_line(hook: &Webhook, colour: bool) -> String {
    let event = hook.event();
    let mut data = event.payload.data_value().to_string();
    if data.len() > 120 {
        let cut = (0..=117)
            .rev()
            .find(|i| data.is_char_boundary(*i))
            .unwrap_or(0);
        data.truncate(cut);
        data.push_str("...");
    }
    let (green, dim, reset) = if colour {
        ("\x1b[32m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    format!(
        "{green}verified{reset} {} {} {dim}at {} via {} (secret {}){reset}\n  {dim}{data}{reset}",
        event.name(),
        event.id,
        event.timestamp.format("%Y-%m-%d %H:%M:%S UTC"),
        hook.scheme(),
        hook.secret_index() + 1,
    )
}

pub(crate) async fn run(args: ListenArgs) -> Result<ExitCode, CliError> {
    serve::validate_path(&args.path)?;
    let verifier = build_verifier(&args.secrets, &args.standard_secrets, args.tolerance)?;
    let json = args.json;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let handler: serve::Handler = Arc::new(move |hook: &Webhook| {
        let line = if json {
            json_line(hook)
        } else {
            human_line(hook, colour)
        };
        let mut out = std::io::stdout().lock();
        // A closed stdout must not fail the delivery: the event was received.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
        200
    });
    let running = serve::start(args.framework, args.addr, &args.path, verifier, handler).await?;
    eprintln!(
        "listening on http://{}{} ({}); Ctrl-C to stop",
        running.addr,
        args.path,
        args.framework.as_str()
    );
    tokio::select! {
        result = running.wait() => result?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}
