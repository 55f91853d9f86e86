//! The `--secret` flag every signing and verifying command shares.

use clap::Args;
use megabot_webhook_verify::Secret;

use crate::error::CliError;

/// `--secret S`, repeatable, or `MEGABOT_WEBHOOK_SECRET`; never shown in help or errors.
#[derive(Debug, Args)]
pub(crate) struct SecretArgs {
    /// The MegaBot secret; repeat it during key rotation.
    #[arg(
        long = "secret",
        value_name = "SECRET",
        env = "MEGABOT_WEBHOOK_SECRET",
        hide_env_values = true,
        required = true
    )]
    pub(crate) secrets: Vec<String>,
}

impl SecretArgs {
    /// The secrets, checked.
    pub(crate) fn parse(&self) -> Result<Vec<Secret>, CliError> {
        self.secrets
            .iter()
            .map(|s| Secret::new(s.as_str()).map_err(CliError::from))
            .collect()
    }
}
