//! `megabot-webhook publish`: publish an event through a running `serve`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use megabot_webhook_sender::Delivery;
use megabot_webhook_types::EventName;

use crate::cmd::send::fresh_example;
use crate::cmd::serve::admin_token;
use crate::error::CliError;
use crate::input::read_body;

/// Arguments of `publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The running `megabot-webhook serve`.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Publish the guide's example of this event with a fresh id and timestamp.
    #[arg(long, conflicts_with = "file", required_unless_present = "file")]
    event: Option<String>,
    /// Publish this JSON envelope (`-`: stdin) as it is.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Print the server's JSON answer instead of one line per delivery.
    #[arg(long)]
    json: bool,
}

fn body(args: &PublishArgs) -> Result<Vec<u8>, CliError> {
    if let Some(name) = &args.event {
        let known = name.parse::<EventName>().map_err(|_| {
            let names: Vec<&str> = EventName::ALL.iter().map(|n| n.as_str()).collect();
            CliError::Usage(format!(
                "unknown event {name:?}; known events: {}",
                names.join(", ")
            ))
        })?;
        return Ok(Delivery::from_event(&fresh_example(known))?.body().to_vec());
    }
    read_body(args.file.as_deref())
}

pub(crate) async fn run(args: PublishArgs) -> Result<ExitCode, CliError> {
    let token = admin_token()?;
    let body = body(&args)?;
    let endpoint = format!("{}/api/events", args.url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot set up the http client: {e}")))?;
    let response = client
        .post(&endpoint)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| CliError::Usage(format!("cannot reach {endpoint}: {}", e.without_url())))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if !status.is_success() {
        let code = answer["error"].as_str().unwrap_or("unknown");
        let message = answer["message"].as_str().unwrap_or("no message");
        let field = answer["field"]
            .as_str()
            .map(|f| format!(" (field `{f}`)"))
            .unwrap_or_default();
        eprintln!("error: the server refused the event: {status}: {code}: {message}{field}");
        return Ok(ExitCode::from(1));
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(out, "{answer}");
    } else {
        let event_id = answer["event_id"].as_str().unwrap_or("?");
        let verb = if answer["created"] == true {
            "published"
        } else {
            "already published"
        };
        let deliveries = answer["deliveries"].as_array().cloned().unwrap_or_default();
        let _ = writeln!(
            out,
            "{verb} {event_id}: {} deliver{}",
            deliveries.len(),
            if deliveries.len() == 1 { "y" } else { "ies" }
        );
        for delivery in &deliveries {
            let _ = writeln!(
                out,
                "  {} -> {} {}",
                delivery["id"].as_str().unwrap_or("?"),
                delivery["endpoint_id"].as_str().unwrap_or("?"),
                delivery["status"].as_str().unwrap_or("?"),
            );
        }
    }
    for warning in answer["warnings"].as_array().into_iter().flatten() {
        eprintln!(
            "warning: {}: {}",
            warning["field"].as_str().unwrap_or(""),
            warning["message"].as_str().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}
