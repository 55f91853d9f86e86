//! The CLI's error type: one clear line, never a secret.

use std::path::PathBuf;
use std::process::ExitCode;

/// Why a command could not do its job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CliError {
    /// A file or stdin could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// What was read (`-` for stdin).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The SDK refused something (a secret, a verifier setting).
    #[error("{0}")]
    Sdk(#[from] megabot_webhook_verify::Error),
    /// The sender refused something (a config, a dead-letter file, a delivery).
    #[error("{0}")]
    Sender(#[from] megabot_webhook_sender::Error),
    /// Arguments that do not fit together.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// The process exit code for this error: 2 for usage, 1 otherwise.
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            _ => ExitCode::from(1),
        }
    }
}
