//! `megabot-webhook redeliver`: send a dead-letter file again.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use megabot_webhook_sender::{ConfigLoader, DestinationPolicy, Sender};

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
    /// A mega-config.yaml whose endpoints and secrets sign the records.
    #[arg(long)]
    config: Option<PathBuf>,
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
    let report = sender.redeliver(&args.dead_letters).await?;
    for result in &report.results {
        match result {
            Ok(delivery) => println!("{}", describe(delivery)),
            Err(why) => println!("skipped: {why}"),
        }
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
