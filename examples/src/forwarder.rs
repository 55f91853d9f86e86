//! What the forwarder binaries share: logging, then
//! [`megabot_webhook_forward::run`] with the process environment.

use std::process::ExitCode;

use megabot_webhook_forward::{Env, Error, RetrySettings, Target, run};

/// The whole life of a forwarder binary: logging (`RUST_LOG`, default
/// `info`), settings from the process environment, the target built by
/// `make_target`, listening, serving. Errors are logged and give exit code 1.
pub async fn run_main<T, F>(default_events: &[&str], make_target: F) -> ExitCode
where
    T: Target,
    F: FnOnce(&Env, &RetrySettings) -> Result<T, Error>,
{
    init_tracing();
    match run(&Env::process(), default_events, make_target).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(target: "megabot_forwarder", "{error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr at the level in `RUST_LOG` (`error`, `warn`, `info`,
/// `debug`, `trace`; default `info`).
fn init_tracing() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| {
            v.trim()
                .parse::<tracing_subscriber::filter::LevelFilter>()
                .ok()
        })
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .try_init();
}
