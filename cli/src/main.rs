//! `megabot-webhook`: see a verified MegaBot delivery before writing code, fire
//! correctly signed events at a route, and find out why a signature does not match.

mod cmd;
mod error;
mod input;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// MegaBot webhooks from the command line.
#[derive(Debug, Parser)]
#[command(name = "megabot-webhook", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the headers a delivery of a body carries.
    #[command(
        after_help = "Example:\n  megabot-webhook sign --secret your_webhook_secret event.json"
    )]
    Sign(cmd::sign::SignArgs),
    /// Check a signature over a body and say precisely why it does not match.
    #[command(
        after_help = "Example:\n  megabot-webhook verify --secret your_webhook_secret \\\n    --signature sha256=8611d142... --ignore-timestamp body.json"
    )]
    Verify(cmd::verify::VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Sign(args) => cmd::sign::run(args),
        Command::Verify(args) => cmd::verify::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
