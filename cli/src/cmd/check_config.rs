//! `megabot-webhook check-config`: load a mega-config.yaml and show what it does.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use megabot_webhook_sender::config::{EndpointConfig, WebhooksConfig};
use megabot_webhook_sender::{ConfigLoader, known_events_matching, redact_url};

use crate::error::CliError;

/// Arguments of `check-config`.
#[derive(Debug, Args)]
pub(crate) struct CheckConfigArgs {
    /// The config file (its `webhooks:` section is read).
    path: PathBuf,
}

pub(crate) fn run(args: CheckConfigArgs) -> Result<ExitCode, CliError> {
    let loaded = match ConfigLoader::new().load_file(&args.path) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(1));
        }
    };
    print!("{}", summary(&loaded.config));
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(config: &WebhooksConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "webhooks: {}, {} endpoint{}, signing secret{}",
        if config.enabled {
            "enabled"
        } else {
            "disabled"
        },
        config.endpoints.len(),
        if config.endpoints.len() == 1 { "" } else { "s" },
        match &config.secret_key {
            Some(keys) => format!(": {} configured (not shown)", keys.len()),
            None => ": none".into(),
        }
    );
    for (index, endpoint) in config.endpoints.iter().enumerate() {
        endpoint_summary(&mut out, index, endpoint);
    }
    out
}

fn endpoint_summary(out: &mut String, index: usize, endpoint: &EndpointConfig) {
    let _ = writeln!(out, "\n[{}] {}", index + 1, redact_url(&endpoint.url));
    for pattern in &endpoint.events {
        let matched: Vec<&str> = known_events_matching(pattern)
            .iter()
            .map(|n| n.as_str())
            .collect();
        let what = if matched.is_empty() {
            "no known event".to_owned()
        } else {
            matched.join(", ")
        };
        let _ = writeln!(out, "    events   {pattern:<28} -> {what}");
    }
    let filters = &endpoint.filters;
    if !filters.platforms.is_empty() {
        let _ = writeln!(
            out,
            "    filter   platforms: {}",
            filters.platforms.join(", ")
        );
    }
    if !filters.users.is_empty() {
        let _ = writeln!(out, "    filter   users: {}", filters.users.join(", "));
    }
    if let Some(severity) = &filters.min_severity {
        let _ = writeln!(out, "    filter   min_severity: {severity}");
    }
    for content in &filters.content_filters {
        let _ = writeln!(out, "    filter   content: {content:?}");
    }
    if let Some(window) = &filters.time_window {
        let _ = writeln!(
            out,
            "    filter   time_window: {:02}:00-{:02}:00 {}",
            window.start_hour, window.end_hour, window.timezone
        );
    }
    let retry = &endpoint.retry_policy;
    let _ = writeln!(
        out,
        "    retry    {} attempts, initial {} s, x{}, max {} s{}",
        retry.max_attempts,
        retry.initial_delay,
        retry.backoff_multiplier,
        retry.max_delay,
        if retry.jitter { ", jitter" } else { "" }
    );
    let names: Vec<&str> = endpoint.headers.iter().map(|(name, _)| name).collect();
    if !names.is_empty() {
        let _ = writeln!(out, "    headers  {} (values not shown)", names.join(", "));
    }
    if let Some(standard) = endpoint.standard_webhooks.as_ref().filter(|s| s.enabled) {
        let schemes = match (standard.secret.is_empty(), standard.signing_key.is_some()) {
            (false, true) => "Standard Webhooks (v1 + v1a)",
            (true, true) => "Standard Webhooks (v1a)",
            _ => "Standard Webhooks",
        };
        let _ = writeln!(out, "    signing  MegaBot + {schemes}");
    }
}
