//! `megabot-webhook check-config`: load a mega-config.yaml and show what it does.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use megabot_webhook_sender::config::{
    AlertChannelConfig, AlertChannelKind, AlertsConfig, EndpointConfig, WebhooksConfig,
};
use megabot_webhook_sender::{ConfigLoader, known_events_matching, redact_url};

use crate::error::CliError;

/// Arguments of `check-config`.
#[derive(Debug, Args)]
pub(crate) struct CheckConfigArgs {
    /// The config file (its `webhooks:` and `webhook_alerts:` sections are read).
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
    if let Some(alerts) = &loaded.alerts {
        print!("{}", alerts_summary(alerts));
    }
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

/// The alert rules and channels; webhook URLs show their host only and
/// credentials are never shown.
fn alerts_summary(alerts: &AlertsConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nwebhook_alerts: {}, {} channel{} ({} active)",
        if alerts.enabled {
            "enabled"
        } else {
            "disabled"
        },
        alerts.channels.len(),
        if alerts.channels.len() == 1 { "" } else { "s" },
        alerts.channels.iter().filter(|c| c.is_active()).count()
    );
    if let Some(threshold) = alerts.failure_threshold {
        let _ = writeln!(
            out,
            "    rule     success rate below {}% over {} s (judged from {} deliveries), per endpoint",
            (threshold * 1000.0).round() / 10.0,
            alerts.window,
            alerts.min_samples
        );
    }
    if let Some(seconds) = alerts.delivery_timeout_threshold {
        let _ = writeln!(
            out,
            "    rule     a delivery over {seconds} s from publish to outcome"
        );
    }
    let _ = writeln!(out, "    rule     an endpoint disabled by its health rule");
    let _ = writeln!(
        out,
        "    cooldown {} s between alerts of one endpoint and rule; resolved after {} s without a breach",
        alerts.cooldown, alerts.window
    );
    for (index, channel) in alerts.channels.iter().enumerate() {
        channel_summary(&mut out, index, channel);
    }
    out
}

fn channel_summary(out: &mut String, index: usize, channel: &AlertChannelConfig) {
    let state = if channel.is_active() {
        ""
    } else {
        " (inactive)"
    };
    match channel.kind {
        AlertChannelKind::Slack => {
            let target = channel
                .webhook_url
                .as_ref()
                .and_then(|url| reqwest::Url::parse(url.expose()).ok())
                .map(|url| {
                    format!(
                        "{}://{}/… (path not shown)",
                        url.scheme(),
                        url.host_str().unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| "(not shown)".to_owned());
            let _ = writeln!(out, "    channel  [{}] slack{state}: {target}", index + 1);
            if let Some(message) = &channel.message {
                let _ = writeln!(out, "             message: {message:?}");
            }
        }
        AlertChannelKind::Email => {
            let _ = writeln!(
                out,
                "    channel  [{}] email{state}: to {}",
                index + 1,
                channel.recipients.join(", ")
            );
            if let Some(subject) = &channel.subject {
                let _ = writeln!(out, "             subject: {subject:?}");
            }
            match &channel.smtp_host {
                Some(host) => {
                    let tls = channel.smtp_tls.unwrap_or_default();
                    let port = channel.smtp_port.unwrap_or_else(|| tls.default_port());
                    let _ = writeln!(
                        out,
                        "             smtp {host}:{port}, {}{}",
                        tls.as_str(),
                        if channel.smtp_password.is_some() {
                            ", credentials set (not shown)"
                        } else {
                            ", no credentials"
                        }
                    );
                    if let Some(from) = &channel.from {
                        let _ = writeln!(out, "             from: {from}");
                    }
                }
                None => {
                    let _ = writeln!(out, "             no smtp_host: not sent");
                }
            }
        }
        _ => {
            let _ = writeln!(out, "    channel  [{}] (unknown kind)", index + 1);
        }
    }
}
