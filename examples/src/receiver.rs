//! Configuration and the handler body shared by the minimal receivers.
//!
//! | variable | meaning |
//! |---|---|
//! | `MEGABOT_WEBHOOK_SECRET` | the endpoint's MegaBot secret (required unless the next one is set) |
//! | `MEGABOT_WEBHOOK_STANDARD_SECRET` | a Standard Webhooks secret, `whsec_<base64>` (optional) |
//! | `MEGABOT_WEBHOOK_ADDR` | the address to listen on, default `127.0.0.1:3000` |

use std::error::Error;
use std::net::SocketAddr;

use megabot_webhook_adapters::Webhook;
use megabot_webhook_types::EventPayload;
use megabot_webhook_verify::{Secret, StandardSecret, Verifier};

/// The listen address used when `MEGABOT_WEBHOOK_ADDR` is not set.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// Builds the verifier from `MEGABOT_WEBHOOK_SECRET` and
/// `MEGABOT_WEBHOOK_STANDARD_SECRET`, with the default tolerance, body limit and
/// in-memory replay guard.
pub fn verifier_from_env() -> Result<Verifier, Box<dyn Error>> {
    let mut builder = Verifier::builder();
    let megabot = non_empty_var("MEGABOT_WEBHOOK_SECRET");
    let standard = non_empty_var("MEGABOT_WEBHOOK_STANDARD_SECRET");
    if megabot.is_none() && standard.is_none() {
        return Err("set MEGABOT_WEBHOOK_SECRET (or MEGABOT_WEBHOOK_STANDARD_SECRET)".into());
    }
    if let Some(secret) = megabot {
        builder = builder.megabot_secret(Secret::new(secret)?);
    }
    if let Some(secret) = standard {
        builder = builder.standard_secret(StandardSecret::parse(&secret)?);
    }
    Ok(builder.build()?)
}

/// The address from `MEGABOT_WEBHOOK_ADDR`, or [`DEFAULT_ADDR`].
pub fn addr_from_env() -> Result<SocketAddr, Box<dyn Error>> {
    let addr = non_empty_var("MEGABOT_WEBHOOK_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    addr.parse()
        .map_err(|error| format!("MEGABOT_WEBHOOK_ADDR={addr:?}: {error}").into())
}

/// Logs to stderr at `info` level (the adapters log every refused delivery there).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// What every receiver does with a delivery: log it. Returns whether it was handled
/// (the receivers answer 204 then; anything else would make MegaBot retry).
pub fn handle(hook: &Webhook) -> bool {
    let event = hook.event();
    match &event.payload {
        EventPayload::ErrorOccurred(error) => tracing::warn!(
            id = hook.delivery_id(),
            error = error.message.as_deref().unwrap_or(""),
            "MegaBot reported an error"
        ),
        EventPayload::Unknown { event, data } => tracing::info!(
            id = hook.delivery_id(),
            event = event.as_str(),
            %data,
            "event this SDK does not know yet"
        ),
        _ => tracing::info!(
            id = hook.delivery_id(),
            event = event.name(),
            scheme = %hook.scheme(),
            "webhook received"
        ),
    }
    true
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
