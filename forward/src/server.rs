//! Settings every forwarder shares, and serving one.

use std::net::SocketAddr;
use std::sync::Arc;

use megabot_webhook_verify::{Secret, StandardSecret, Verifier};
use tokio::net::TcpListener;

use super::{Env, Error, Forwarder, RetrySettings, Selection, Target, router};

/// The listen address when `FORWARDER_ADDR` is unset.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// What every forwarder reads from the environment.
///
/// | variable | meaning |
/// |---|---|
/// | `MEGABOT_WEBHOOK_SECRET` | the MegaBot-scheme secret deliveries are signed with (required unless the next is set) |
/// | `MEGABOT_WEBHOOK_STANDARD_SECRET` | a Standard Webhooks `whsec_...` secret (optional) |
/// | `FORWARDER_ADDR` | listen address, default `127.0.0.1:3000` |
/// | `FORWARD_EVENTS`, `FORWARD_FILTERS`, `FORWARD_PLATFORMS`, `FORWARD_USERS`, `FORWARD_MIN_SEVERITY` | which events: see [`Selection::from_env`] |
/// | `FORWARD_MAX_ATTEMPTS`, `FORWARD_INITIAL_DELAY`, `FORWARD_BACKOFF_MULTIPLIER`, `FORWARD_MAX_DELAY`, `FORWARD_JITTER`, `FORWARD_TIMEOUT`, `FORWARD_BUDGET` | retries towards the target: see [`RetrySettings::from_env`] |
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen for MegaBot.
    pub addr: SocketAddr,
    /// Checks MegaBot's signatures.
    pub verifier: Verifier,
    /// Which events are forwarded.
    pub selection: Selection,
    /// Retries towards the target.
    pub retry: RetrySettings,
}

impl Settings {
    /// Reads the shared settings; `default_events` are the forwarder's
    /// subscription when `FORWARD_EVENTS` is unset.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnv`] without a secret, [`Error::InvalidConfig`] or
    /// [`Error::Verifier`] for a bad value.
    pub fn from_env(env: &Env, default_events: &[&str]) -> Result<Settings, Error> {
        let addr = env.parse_or(
            "FORWARDER_ADDR",
            DEFAULT_ADDR
                .parse()
                .unwrap_or_else(|_| unreachable!("the default address parses")),
        )?;
        let mut builder = Verifier::builder();
        let megabot = env.get("MEGABOT_WEBHOOK_SECRET");
        let standard = env.get("MEGABOT_WEBHOOK_STANDARD_SECRET");
        if megabot.is_none() && standard.is_none() {
            return Err(Error::MissingEnv {
                name: "MEGABOT_WEBHOOK_SECRET",
            });
        }
        if let Some(secret) = megabot {
            builder = builder.megabot_secret(Secret::new(secret)?);
        }
        if let Some(secret) = standard {
            builder = builder.standard_secret(StandardSecret::parse(&secret)?);
        }
        Ok(Settings {
            addr,
            verifier: builder.build()?,
            selection: Selection::from_env(env, default_events)?,
            retry: RetrySettings::from_env(env)?,
        })
    }
}

/// Serves `forwarder` on `listener` until Ctrl-C (or SIGTERM on Unix), then
/// lets in-flight deliveries finish.
///
/// # Errors
///
/// [`Error::Io`] when serving fails.
pub async fn serve<T: Target>(
    listener: TcpListener,
    verifier: Verifier,
    forwarder: Forwarder<T>,
) -> Result<(), Error> {
    let app = router(verifier, Arc::new(forwarder));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!(target: "megabot_forwarder", "shutting down");
}

/// Reads the settings from `env`, builds the target and serves until shutdown.
///
/// # Errors
///
/// Any configuration error, or [`Error::Io`] when the address cannot be bound.
pub async fn run<T, F>(env: &Env, default_events: &[&str], make_target: F) -> Result<(), Error>
where
    T: Target,
    F: FnOnce(&Env, &RetrySettings) -> Result<T, Error>,
{
    let settings = Settings::from_env(env, default_events)?;
    let target = make_target(env, &settings.retry)?;
    let listener = TcpListener::bind(settings.addr).await?;
    let patterns: Vec<&str> = settings.selection.patterns().collect();
    tracing::info!(
        target: "megabot_forwarder",
        addr = %listener.local_addr()?, upstream = target.name(), events = ?patterns,
        "forwarding MegaBot webhooks from POST /webhook"
    );
    serve(
        listener,
        settings.verifier,
        Forwarder::new(target, settings.selection),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_need_a_secret_and_parse_the_rest() {
        let error = Settings::from_env(
            &Env::from_pairs([("FORWARDER_ADDR", "127.0.0.1:1")]),
            &["*"],
        )
        .unwrap_err();
        assert!(matches!(
            error,
            Error::MissingEnv {
                name: "MEGABOT_WEBHOOK_SECRET"
            }
        ));
        let settings = Settings::from_env(
            &Env::from_pairs([
                ("MEGABOT_WEBHOOK_SECRET", "s3cret-value"),
                ("FORWARD_MAX_ATTEMPTS", "2"),
            ]),
            &["error_occurred"],
        )
        .unwrap();
        assert_eq!(settings.addr.to_string(), DEFAULT_ADDR);
        assert_eq!(settings.retry.policy.max_attempts, 2);
        assert_eq!(
            settings.selection.patterns().collect::<Vec<_>>(),
            ["error_occurred"]
        );
        assert!(!format!("{settings:?}").contains("s3cret-value"));
        let error = Settings::from_env(
            &Env::from_pairs([
                ("MEGABOT_WEBHOOK_SECRET", "s"),
                ("FORWARDER_ADDR", "nowhere"),
            ]),
            &["*"],
        )
        .unwrap_err();
        assert!(error.to_string().contains("FORWARDER_ADDR"), "{error}");
    }
}
