//! `megabot-webhook`: see a verified MegaBot delivery before writing code, fire
//! correctly signed events at a route, and find out why a signature does not match.

mod cmd;
mod error;
mod input;
mod receiver;
mod secrets;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// MegaBot webhooks from the command line.
#[derive(Debug, Parser)]
#[command(name = "megabot-webhook", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a verified receiver on axum, actix-web and warp, send every guide event and
    /// every failure mode through the sender, then run the dispatcher on a temporary SQLite
    /// file, register the receivers through its API, publish, restart it mid-run, and print
    /// what happened.
    #[command(after_help = "Example:\n  megabot-webhook demo")]
    Demo(cmd::demo::DemoArgs),
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
    /// Receive deliveries on a verified route and print each one.
    #[command(
        after_help = "Example:\n  megabot-webhook listen --secret your_webhook_secret --framework warp --json"
    )]
    Listen(cmd::listen::ListenArgs),
    /// Deliver one signed event, with retries, and report how it went.
    #[command(
        after_help = "Examples:\n  megabot-webhook send --url http://127.0.0.1:3000/webhook --secret s3cret --event tool_execution_failed\n  megabot-webhook send --url http://127.0.0.1:3000/webhook --secret s3cret --file event.json\n\nExit codes:\n  0  delivered\n  1  not delivered; kept in the --dead-letters file (or no file was given), or another error\n  2  usage error\n  3  not delivered and the dead letter could not be written: the event is LOST"
    )]
    Send(cmd::send::SendArgs),
    /// Load a mega-config.yaml and show its endpoints, subscriptions, filters and warnings.
    #[command(
        name = "check-config",
        after_help = "Example:\n  megabot-webhook check-config mega-config.yaml"
    )]
    CheckConfig(cmd::check_config::CheckConfigArgs),
    /// Deliver the records of a dead-letter file again.
    #[command(
        after_help = "Examples:\n  megabot-webhook redeliver --dead-letters webhook-dead-letters.jsonl --config mega-config.yaml\n  megabot-webhook redeliver --dead-letters webhook-dead-letters.jsonl --secret s3cret --to-recorded-url\n\nEach record's MAC is checked with the given secrets: tampered records, version-1 records (without --accept-unauthenticated), records for URLs that are not configured endpoints (without --to-recorded-url) and stale MegaBot-scheme letters (without --restamp) are not sent and stay in the file.\n\nExit codes: 0 every record delivered; 1 some record failed again or was refused (kept in the file), or another error; 2 usage error"
    )]
    Redeliver(cmd::redeliver::RedeliverArgs),
    /// Run the durable dispatcher and its registration API (token from MEGABOT_ADMIN_TOKEN).
    #[command(
        long_about = cmd::serve::SERVE_HELP,
        after_help = "Example:\n  MEGABOT_ADMIN_TOKEN=$(openssl rand -hex 32) megabot-webhook serve --allow-private-targets"
    )]
    Serve(cmd::serve::ServeArgs),
    /// Publish an event through a running `serve` and print its deliveries.
    #[command(
        after_help = "Examples:\n  megabot-webhook publish --event error_occurred\n  megabot-webhook publish --url http://127.0.0.1:3000 --file event.json"
    )]
    Publish(cmd::publish::PublishArgs),
    /// Print the JSON Schema of MegaBot's webhook bodies, or with --openapi the OpenAPI 3.1
    /// document of the webhooks and the registration API (as committed under schema/).
    #[command(
        after_help = "Examples:\n  megabot-webhook schema > megabot-webhook.schema.json\n  megabot-webhook schema --openapi > openapi.json"
    )]
    Schema(cmd::schema::SchemaArgs),
    /// Generate Standard Webhooks Ed25519 keys (`v1a`).
    #[command(after_help = "Example:\n  megabot-webhook keys generate")]
    Keys(cmd::keys::KeysArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Demo(args) => {
            let verbose = args.verbose;
            block_on_logged(cmd::demo::run(args), verbose)
        }
        Command::Sign(args) => cmd::sign::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Listen(args) => block_on(cmd::listen::run(args)),
        Command::Send(args) => block_on(cmd::send::run(args)),
        Command::CheckConfig(args) => cmd::check_config::run(args),
        Command::Redeliver(args) => block_on(cmd::redeliver::run(args)),
        Command::Serve(args) => block_on(cmd::serve::run(args)),
        Command::Publish(args) => block_on(cmd::publish::run(args)),
        Command::Keys(args) => cmd::keys::run(args),
        Command::Schema(args) => cmd::schema::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}

/// Logs the SDK's rejections (info and up) and everyone's warnings to stderr.
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = Targets::new()
        .with_target("megabot_webhook_adapters", LevelFilter::INFO)
        .with_target("megabot_webhook_verify", LevelFilter::INFO)
        .with_default(LevelFilter::WARN);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // A second initialisation (never the case in this binary) would only keep the first.
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init();
}

/// Runs an async command on a multi-threaded runtime, logging rejections to stderr.
fn block_on(
    command: impl std::future::Future<Output = Result<ExitCode, CliError>>,
) -> Result<ExitCode, CliError> {
    block_on_logged(command, true)
}

/// As [`block_on`], logging only when `log` is set.
fn block_on_logged(
    command: impl std::future::Future<Output = Result<ExitCode, CliError>>,
    log: bool,
) -> Result<ExitCode, CliError> {
    if log {
        init_logging();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(command)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
