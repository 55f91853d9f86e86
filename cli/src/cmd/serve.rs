//! `megabot-webhook serve`: the durable dispatcher and its registration API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use megabot_webhook_sender::alerts::AlertEngine;
use megabot_webhook_sender::api::{self, ApiState, MIN_ADMIN_TOKEN_LEN};
use megabot_webhook_sender::config::WebhooksConfig;
use megabot_webhook_sender::dispatcher::{
    DeliveryStore, Dispatcher, RedisStore, SqliteStore, StoreKey,
};
use megabot_webhook_sender::{ConfigLoader, DestinationPolicy};

use crate::error::CliError;
use crate::receiver::{HEADER_READ_TIMEOUT, LimitedListener, MAX_CONNECTIONS};

/// The environment variable holding the admin token.
pub(crate) const TOKEN_VAR: &str = "MEGABOT_ADMIN_TOKEN";

/// The environment variable holding the key that seals registered endpoints
/// in the store (optional).
pub(crate) const STORE_KEY_VAR: &str = "MEGABOT_STORE_KEY";

/// The long help of `serve`: a complete local session.
pub(crate) const SERVE_HELP: &str = "\
Runs the durable dispatcher (SQLite file by default, or Redis) and its
registration API. Every /api route needs `Authorization: Bearer $MEGABOT_ADMIN_TOKEN`;
the token comes only from the environment and must be at least 32 characters.
Endpoints of --config are read-only through the API; registered ones are kept
in the store and come back at the next start; with MEGABOT_STORE_KEY set (32 bytes
in base64, `openssl rand -base64 32`) their secrets and header values are
stored encrypted (XChaCha20-Poly1305). Ctrl-C or SIGTERM lets attempts in
flight finish (up to --shutdown-deadline) and keeps everything else stored.

Routes: POST/GET /api/webhooks, GET/PATCH/DELETE /api/webhooks/{id},
POST /api/webhooks/{id}/enable, POST /api/events, GET /api/deliveries,
GET /api/deliveries/{id}, POST /api/deliveries/{id}/redeliver,
POST /api/deliveries/redeliver, GET /api/stats, GET /metrics; GET / is the dashboard
(log in with the token); and without a token GET /openapi.json, the OpenAPI 3.1
document of these routes and of the webhooks.

GET /metrics answers the dispatcher's metrics in Prometheus text format; like
/api, it needs `Authorization: Bearer $MEGABOT_ADMIN_TOKEN` (Prometheus:
`authorization: {credentials_file: ...}` in the scrape config).

A complete local session (loopback only, hence --allow-private-targets):

  # 1. the dispatcher and its API
  export MEGABOT_ADMIN_TOKEN=$(openssl rand -hex 32)
  megabot-webhook serve --allow-private-targets --store ./megabot-dispatcher.sqlite3

  # 2. in a second terminal: a verified receiver
  megabot-webhook listen --secret your_webhook_secret --addr 127.0.0.1:4000

  # 3. in a third (same MEGABOT_ADMIN_TOKEN): register the receiver
  curl -X POST http://127.0.0.1:3000/api/webhooks \\
    -H \"Authorization: Bearer ${MEGABOT_ADMIN_TOKEN}\" \\
    -H \"Content-Type: application/json\" \\
    -d '{\"url\": \"http://127.0.0.1:4000/webhook\",
         \"events\": [\"error_occurred\", \"tool_execution_*\"],
         \"secret\": \"your_webhook_secret\"}'

  # 4. publish an event: the listener prints it once verified
  megabot-webhook publish --event error_occurred

  # 5. the delivery log
  curl -H \"Authorization: Bearer ${MEGABOT_ADMIN_TOKEN}\" http://127.0.0.1:3000/api/deliveries";

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A mega-config.yaml whose `webhooks:` endpoints are served too (read-only through the API)
    /// and whose `webhook_alerts:`, if enabled, run the alert engine.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the API listens.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// The store: a SQLite file (one `serve` at a time), or a `redis://` URL shared by several.
    #[arg(long, default_value = "./megabot-dispatcher.sqlite3")]
    store: String,
    /// Allow loopback, private and link-local destinations (not cloud metadata): for local testing.
    #[arg(long)]
    allow_private_targets: bool,
    /// On Ctrl-C or SIGTERM, how long attempts in flight may finish, in seconds.
    #[arg(long, default_value_t = 10)]
    shutdown_deadline: u64,
    /// How long a delivery being attempted stays claimed by this instance, in seconds
    /// (renewed every third of it while the attempt runs). When an instance is killed,
    /// the others take its deliveries over once their leases expire: a shorter lease
    /// means a faster takeover and more store writes.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    lease: u64,
}

/// The admin token from the environment: exit 2 when missing or short.
/// Never printed.
pub(crate) fn admin_token() -> Result<String, CliError> {
    match std::env::var(TOKEN_VAR) {
        Ok(token) if token.chars().count() >= MIN_ADMIN_TOKEN_LEN => Ok(token),
        Ok(_) => Err(CliError::Usage(format!(
            "{TOKEN_VAR} is shorter than {MIN_ADMIN_TOKEN_LEN} characters; use a long random token, such as `openssl rand -hex 32`"
        ))),
        Err(_) => Err(CliError::Usage(format!(
            "set {TOKEN_VAR} to the admin token (at least {MIN_ADMIN_TOKEN_LEN} characters, such as `openssl rand -hex 32`)"
        ))),
    }
}

/// The store key from the environment, if set: exit 2 when it is not 32
/// bytes of base64. Never printed.
fn store_key() -> Result<Option<StoreKey>, CliError> {
    match std::env::var(STORE_KEY_VAR) {
        Ok(text) if !text.trim().is_empty() => {
            StoreKey::from_base64(&text).map(Some).map_err(|_| {
                CliError::Usage(format!(
                    "{STORE_KEY_VAR} must be 32 bytes in base64, such as `openssl rand -base64 32`"
                ))
            })
        }
        _ => Ok(None),
    }
}

fn is_redis(store: &str) -> bool {
    store.starts_with("redis://") || store.starts_with("rediss://")
}

async fn open_store(store: &str) -> Result<Arc<dyn DeliveryStore>, CliError> {
    if is_redis(store) {
        Ok(Arc::new(RedisStore::connect(store).await?))
    } else {
        Ok(Arc::new(SqliteStore::open(store)?))
    }
}

/// The store as shown: a Redis URL without its password.
fn store_label(store: &str) -> String {
    match reqwest::Url::parse(store) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("****"));
            url.to_string()
        }
        _ => store.to_owned(),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Upper bounds of the `_seconds` histograms' buckets (an attempt times out
/// after 10 s by default).
const SECONDS_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the Prometheus recorder as the process's `metrics` recorder and
/// answers `GET /metrics` with its text, behind the admin token.
fn metrics_router(state: &ApiState) -> Result<axum::Router, CliError> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| CliError::Usage(format!("cannot set up the metrics: {e}")))?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let render = move || {
        let text = handle.render();
        async move {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                text,
            )
        }
    };
    Ok(axum::Router::new()
        .route("/metrics", axum::routing::get(render))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::require_admin_token,
        )))
}

/// The API's routes, the dashboard, `/metrics`, and `GET /openapi.json` (the OpenAPI document, as `schema --openapi`
/// prints it) without a token: it is a public description and holds no secret.
fn app(state: ApiState, metrics: axum::Router) -> axum::Router {
    let document = axum::body::Bytes::from(crate::cmd::schema::render(&api::openapi::document()));
    axum::Router::new()
        .route(
            api::openapi::OPENAPI_PATH,
            axum::routing::get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document,
                    )
                }
            }),
        )
        .merge(api::router(state.clone()))
        .merge(api::dashboard::router(state))
        .merge(metrics)
}

pub(crate) async fn run(args: ServeArgs) -> Result<ExitCode, CliError> {
    let token = admin_token()?;
    let store_key = store_key()?;
    let (config, alerts) = match &args.config {
        Some(path) => {
            let loaded = ConfigLoader::new().load_file(path)?;
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            (loaded.config, loaded.alerts)
        }
        None => (WebhooksConfig::default(), None),
    };
    let store = open_store(&args.store).await?;
    let policy = DestinationPolicy::server().allow_private_targets(args.allow_private_targets);
    let mut builder = Dispatcher::builder(config, store.clone())
        .destination_policy(policy)
        .lease(Duration::from_secs(args.lease));
    if let Some(key) = store_key {
        builder = builder.store_key(key);
    }
    // The config's `webhook_alerts` (design 9.6): told of every final outcome.
    let alert_engine = match alerts.filter(|alerts| alerts.enabled) {
        Some(alerts) => {
            let engine = AlertEngine::builder(alerts, store).build().await?;
            builder = builder.observer(engine.observer());
            let channels = engine.channels();
            eprintln!(
                "alerting to {}",
                if channels.is_empty() {
                    "the log only".to_owned()
                } else {
                    channels.join(", ")
                }
            );
            Some(engine)
        }
        None => None,
    };
    let (dispatcher, warnings) = builder.build().await?;
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let dispatcher = Arc::new(dispatcher);
    // The registered endpoints first, so that their pending deliveries find them.
    let (state, warnings) = ApiState::new(dispatcher.clone(), &token).await?;
    drop(token);
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let metrics = metrics_router(&state)?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.addr)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.addr)))?;
    dispatcher.start();
    if let Some(engine) = &alert_engine {
        engine.start();
    }
    // Several instances may share a Redis store: registrations made through
    // the others are picked up every few seconds.
    let sync = is_redis(&args.store).then(|| state.spawn_sync(Duration::from_secs(5)));
    eprintln!(
        "serving the webhook API on http://{addr} (store {}, {} endpoints{}); Ctrl-C to stop",
        store_label(&args.store),
        dispatcher.endpoints().len(),
        if dispatcher.destination_policy().private_targets_allowed() {
            ", private targets allowed"
        } else {
            ""
        }
    );
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    let mut server_stop = stopped.clone();
    let mut server = tokio::spawn(async move {
        // design 9.8: the request head within 10 s; at most 4 096 connections, those
        // beyond closed at once.
        let listener = LimitedListener::new(listener, MAX_CONNECTIONS, HEADER_READ_TIMEOUT);
        axum::serve(listener, app(state, metrics))
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    tokio::select! {
        () = stop_signal() => {}
        ended = &mut server => {
            // The API stopped on its own: stop the dispatcher cleanly too.
            dispatcher.shutdown(Duration::from_secs(args.shutdown_deadline)).await;
            let why = match ended {
                Ok(Err(error)) => error.to_string(),
                Ok(Ok(())) => "it stopped".to_owned(),
                Err(error) => error.to_string(),
            };
            return Err(CliError::Usage(format!("the API server failed: {why}")));
        }
    }
    eprintln!(
        "stopping: attempts in flight may finish for up to {} s",
        args.shutdown_deadline
    );
    let _ = stopping.send(true);
    if let Some(sync) = sync {
        sync.abort();
    }
    let deadline = Duration::from_secs(args.shutdown_deadline);
    dispatcher.shutdown(deadline).await;
    if let Some(engine) = &alert_engine {
        engine.shutdown(Duration::from_secs(5)).await;
    }
    // Open API connections get a moment to finish their request.
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    eprintln!("stopped; undelivered deliveries stay stored for the next start");
    Ok(ExitCode::SUCCESS)
}
