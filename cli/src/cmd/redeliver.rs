//! `megabot-webhook redeliver`: send a dead-letter file again.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use megabot_webhook_sender::{
    ConfigLoader, DestinationPolicy, RedeliverOptions, Redelivery, Sender,
    dead_letter_file_warning, redact_url,
};

use crate::cmd::send::describe;
use crate::error::CliError;

/// Arguments of `redeliver`.
#[derive(Debug, Args)]
pub(crate) struct RedeliverArgs {
    /// The JSON Lines dead-letter file; records that fail again stay in it.
    #[arg(long)]
    dead_letters: PathBuf,
    /// The MegaBot secret to sign with (or give --config).
    #[arg(
        long = "secret",
        env = "MEGABOT_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    secrets: Vec<String>,
    /// A mega-config.yaml whose endpoints and secrets sign the records;
    /// records are sent only to its endpoints (see --to-recorded-url).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also send version-1 records, which carry no MAC and so cannot be
    /// told from forged ones.
    #[arg(long)]
    accept_unauthenticated: bool,
    /// Send a record whose URL is no configured endpoint's to the URL as
    /// recorded (its MAC is checked with --secret / the config's secret_key).
    #[arg(long)]
    to_recorded_url: bool,
    /// Re-stamp the envelope `timestamp` of stale MegaBot-scheme-only letters
    /// (older than the receivers' 300 s tolerance) with now: a new delivery
    /// of the same event id. Without it they are not sent and stay in the file.
    #[arg(long)]
    restamp: bool,
}

pub(crate) async fn run(args: RedeliverArgs) -> Result<ExitCode, CliError> {
    let sender = match (&args.config, args.secrets.is_empty()) {
        (Some(path), _) => {
            let loaded = ConfigLoader::new().load_file(path)?;
            // The local tools' destination policy, widened by the config's
            // `allow_private_targets` / `allowed_targets`.
            Sender::builder(loaded.config)
                .destination_policy(DestinationPolicy::local_tools())
                .build()?
                .0
        }
        (None, false) => crate::cmd::send::sender_for(&args.secrets, None)?,
        (None, true) => {
            return Err(CliError::Usage(
                "give --secret (or MEGABOT_WEBHOOK_SECRET) or --config to sign the redeliveries"
                    .into(),
            ));
        }
    };
    if let Some(warning) = dead_letter_file_warning(&args.dead_letters) {
        eprintln!("warning: {warning}");
    }
    let options = RedeliverOptions::new()
        .accept_unauthenticated(args.accept_unauthenticated)
        .to_recorded_url(args.to_recorded_url)
        .restamp(args.restamp);
    let report = sender.redeliver_with(&args.dead_letters, &options).await?;
    if report.recovered > 0 {
        println!(
            "recovered {} record(s) an interrupted redelivery had left beside {}",
            report.recovered,
            report.file.display()
        );
    }
    for result in &report.results {
        match result {
            Redelivery::Attempted { report, restamped } => {
                if let Some(now) = restamped {
                    println!(
                        "restamped {} {}: envelope timestamp set to {now}, a new delivery of the same event id",
                        report.event, report.delivery_id
                    );
                }
                println!("{}", describe(report));
            }
            Redelivery::Refused { id, url, reason } => {
                println!("{} {id} to {}: {reason}", reason.code(), redact_url(url));
            }
            _ => println!("skipped: unknown outcome"),
        }
    }
    let tampered = report.refused("tampered");
    if tampered > 0 {
        eprintln!(
            "warning: {tampered} tampered record(s) refused and kept in {}",
            report.file.display()
        );
    }
    println!(
        "{} of {} delivered; {} still in {}",
        report.delivered(),
        report.results.len(),
        report.still_failed,
        report.file.display()
    );
    Ok(if report.still_failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
