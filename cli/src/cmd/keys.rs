//! `megabot-webhook keys generate`: a new Standard Webhooks Ed25519 key pair (`v1a`).

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use megabot_webhook_verify::StandardSigningKey;
use zeroize::Zeroizing;

use crate::error::CliError;

/// Arguments of `keys`.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a new secret key (`whsk_...`, for the sender's `signing_key`) and its
    /// public key (`whpk_...`, for receivers), one per line.
    Generate,
}

/// The warning printed on stderr (never the key itself).
const WARNING: &str = "warning: the first line is a secret key: keep it secret (store it like a password); give receivers only the whpk_ public key";

pub(crate) fn run(args: KeysArgs) -> Result<ExitCode, CliError> {
    match args.command {
        KeysCommand::Generate => generate(),
    }
}

fn generate() -> Result<ExitCode, CliError> {
    let key = new_key()?;
    let lines = Zeroizing::new(output(&key));
    eprintln!("{WARNING}");
    let mut out = std::io::stdout().lock();
    out.write_all(lines.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Usage(format!("cannot write to stdout: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// A key from 32 bytes of the operating system's randomness.
fn new_key() -> Result<StandardSigningKey, CliError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut_slice())
        .map_err(|e| CliError::Usage(format!("cannot read system randomness: {e}")))?;
    Ok(StandardSigningKey::from_seed(&seed))
}

/// `whsk_...` then `whpk_...`, each on its own line.
fn output(key: &StandardSigningKey) -> String {
    format!(
        "{}\n{}\n",
        key.to_whsk_string().as_str(),
        key.public_key().to_whpk_string()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use megabot_webhook_verify::StandardPublicKey;

    #[test]
    fn generated_keys_are_fresh_and_their_lines_parse() {
        let first = new_key().unwrap();
        let second = new_key().unwrap();
        assert_ne!(first.public_key(), second.public_key());
        let text = output(&first);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let secret = StandardSigningKey::parse(lines[0]).unwrap();
        let public = StandardPublicKey::parse(lines[1]).unwrap();
        assert_eq!(secret.public_key(), public);
        assert_eq!(public, first.public_key());
        assert!(!WARNING.contains("whsk_"));
    }
}
