//! `megabot-webhook listen`: a receiver that answers as design 4.5 says.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_verify::{Secret, StandardPublicKey, StandardSecret, Verifier};

use crate::error::CliError;
use crate::receiver::{self, Framework};

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
    /// A Standard Webhooks Ed25519 public key (`whpk_...`) that checks `v1a` entries
    /// (repeatable). When a delivery has a `v1a` entry, `v1a` decides.
    #[arg(
        long = "standard-public-key",
        value_name = "WHPK",
        env = "MEGABOT_WEBHOOK_STANDARD_PUBLIC_KEY"
    )]
    standard_public_keys: Vec<String>,
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
    /// Forward each verified, claimed delivery as `POST URL` (the decoded body, the
    /// delivery's headers less hop-by-hop ones); the app's answer becomes `listen`'s.
    #[arg(long = "forward-to", value_name = "URL")]
    forward_to: Option<String>,
    /// Seconds the app may take to answer a forwarded delivery (then `504`).
    #[arg(
        long = "forward-timeout",
        value_name = "SECONDS",
        default_value_t = 120
    )]
    forward_timeout: u64,
}

/// The most of the app's answer body `listen` passes on (design 9.12).
const FORWARD_BODY_LIMIT: usize = 64 * 1024;

/// Headers never forwarded: hop-by-hop ones (RFC 9110 7.6.1), those describing the
/// transport encoding and length of the original body, and `host` (the app's own).
const NOT_FORWARDED: [&str; 12] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-encoding",
    "content-length",
    "host",
];

/// Forwards verified deliveries to an app (design 9.12).
#[derive(Debug, Clone)]
struct Forwarder {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl Forwarder {
    fn new(url: &str, timeout: Duration) -> Result<Forwarder, CliError> {
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|parsed| matches!(parsed.scheme(), "http" | "https") && parsed.has_host())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "invalid --forward-to {url:?}: give an http:// or https:// url"
                ))
            })?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(|e| CliError::Usage(format!("cannot build the forwarding client: {e}")))?;
        Ok(Forwarder {
            client,
            url: parsed,
        })
    }

    /// Sends the delivery to the app and turns its answer into `listen`'s.
    async fn forward(&self, hook: &Webhook) -> receiver::Answer {
        let connection_listed: Vec<String> = hook
            .headers()
            .iter()
            .filter(|(name, _)| name == "connection")
            .flat_map(|(_, value)| value.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .collect();
        let mut request = self
            .client
            .post(self.url.clone())
            .body(hook.body().to_vec());
        for (name, value) in hook.headers() {
            if NOT_FORWARDED.contains(&name.as_str()) || connection_listed.contains(name) {
                continue;
            }
            request = request.header(name.as_str(), value.as_str());
        }
        match request.send().await {
            Ok(response) => answer_from(response).await,
            Err(error) if error.is_timeout() => {
                failure(504, "forward_timeout", "the app did not answer in time")
            }
            Err(_) => failure(502, "forward_failed", "the app could not be reached"),
        }
    }
}

/// The app's status, content type and up to [`FORWARD_BODY_LIMIT`] bytes of its body.
async fn answer_from(mut response: reqwest::Response) -> receiver::Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    // The status is the app's outcome; a body cut short is passed on as it is.
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = FORWARD_BODY_LIMIT - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= FORWARD_BODY_LIMIT {
            break;
        }
    }
    receiver::Answer {
        status,
        content_type,
        body,
    }
}

fn failure(status: u16, code: &str, message: &str) -> receiver::Answer {
    receiver::Answer {
        status,
        content_type: Some("application/json".to_owned()),
        body: serde_json::json!({ "error": code, "message": message })
            .to_string()
            .into_bytes(),
    }
}

/// A verifier for the given secrets and tolerance.
pub(crate) fn build_verifier(
    secrets: &[String],
    standard_secrets: &[String],
    tolerance: u64,
) -> Result<Verifier, CliError> {
    build_verifier_with_public_keys(secrets, standard_secrets, &[], tolerance)
}

/// A verifier for the given secrets, Standard Webhooks public keys and tolerance.
pub(crate) fn build_verifier_with_public_keys(
    secrets: &[String],
    standard_secrets: &[String],
    public_keys: &[String],
    tolerance: u64,
) -> Result<Verifier, CliError> {
    let mut builder = Verifier::builder().tolerance(Duration::from_secs(tolerance));
    for secret in secrets {
        builder = builder.megabot_secret(Secret::new(secret.as_str())?);
    }
    for secret in standard_secrets {
        builder = builder.standard_secret(StandardSecret::parse(secret)?);
    }
    for key in public_keys {
        builder = builder.standard_public_key(StandardPublicKey::parse(key)?);
    }
    if secrets.is_empty() && standard_secrets.is_empty() && public_keys.is_empty() {
        return Err(CliError::Usage(
            "give at least one --secret, --standard-secret or --standard-public-key (or set MEGABOT_WEBHOOK_SECRET)"
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
        "{green}verified{reset} {} {} {dim}at {} via {} ({} {}){reset}\n  {dim}{data}{reset}",
        event.name(),
        event.id,
        event.timestamp.format("%Y-%m-%d %H:%M:%S UTC"),
        hook.scheme(),
        if hook.verified().delivery.asymmetric {
            "v1a public key"
        } else {
            "secret"
        },
        hook.secret_index() + 1,
    )
}

pub(crate) async fn run(args: ListenArgs) -> Result<ExitCode, CliError> {
    receiver::validate_path(&args.path)?;
    let forwarder = args
        .forward_to
        .as_deref()
        .map(|url| Forwarder::new(url, Duration::from_secs(args.forward_timeout)))
        .transpose()?;
    if let Some(url) = &args.forward_to {
        // design 9.3: like `send`, forwarding reaches loopback and global addresses only
        // (checked once at start; the app is the operator's own).
        use megabot_webhook_sender::{DestinationPolicy, SystemResolver, check_destination};
        let warnings = check_destination(url, &DestinationPolicy::local_tools(), &SystemResolver)
            .await
            .map_err(|refusal| CliError::Usage(format!("--forward-to: {refusal}")))?;
        for warning in warnings {
            eprintln!("warning: --forward-to: {warning}");
        }
    }
    let verifier = build_verifier_with_public_keys(
        &args.secrets,
        &args.standard_secrets,
        &args.standard_public_keys,
        args.tolerance,
    )?;
    let json = args.json;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let print = move |hook: &Webhook| {
        let line = if json {
            json_line(hook)
        } else {
            human_line(hook, colour)
        };
        let mut out = std::io::stdout().lock();
        // A closed stdout must not fail the delivery: the event was received.
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    let running = match forwarder {
        None => {
            let handler: receiver::Handler = Arc::new(move |hook: &Webhook| {
                print(hook);
                200
            });
            receiver::start(args.framework, args.addr, &args.path, verifier, handler).await?
        }
        Some(forwarder) => {
            let forwarder = Arc::new(forwarder);
            let handler: receiver::AsyncHandler = Arc::new(move |hook: Webhook| {
                print(&hook);
                let forwarder = Arc::clone(&forwarder);
                Box::pin(async move { forwarder.forward(&hook).await })
            });
            receiver::start_async(args.framework, args.addr, &args.path, verifier, handler).await?
        }
    };
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
