//! The registration and events API (design 7 and 9.2): an axum [`Router`]
//! that MegaBot-side code mounts, and that `megabot-webhook serve` runs.
//!
//! Every route needs `Authorization: Bearer <admin token>` (compared in
//! constant time; `401` with `WWW-Authenticate: Bearer` otherwise). Errors
//! are `{"error", "message", "field"}`, with the offending field named;
//! request bodies are capped at [`BODY_LIMIT`] (`413`).
//!
//! | Route | What it does |
//! |---|---|
//! | `POST /api/webhooks` | Registers an endpoint (the guide's body: `url`, `events`, `secret`, `filters`, optional `retry_policy`, `headers`): `201 {"endpoint", "warnings"}` |
//! | `GET /api/webhooks` | Lists the endpoints (`?cursor=&limit=`, limit ≤ 500) |
//! | `GET /api/webhooks/{id}` | One endpoint |
//! | `PATCH /api/webhooks/{id}` | A JSON merge patch of a registered endpoint |
//! | `DELETE /api/webhooks/{id}` | Deletes a registered endpoint; its pending deliveries go `dead` (`endpoint_deleted`) |
//! | `POST /api/webhooks/{id}/enable` | Re-enables an endpoint disabled by its health rule |
//! | `POST /api/events` | Publishes a full event envelope: `202 {"deliveries"}`, `200` for an event id already published, `503` when the store cannot take it |
//! | `GET /api/deliveries` | The delivery log (`?endpoint=&event=&status=&since=&until=&cursor=&limit=`) |
//! | `GET /api/deliveries/{id}` | One delivery and its attempts |
//! | `POST /api/deliveries/{id}/redeliver` | Redelivers a dead delivery |
//! | `POST /api/deliveries/redeliver` | Redelivers the dead deliveries a filter selects |
//! | `GET /api/stats` | The guide's `get_stats` figures (`total_deliveries`, `success_rate`, `average_delivery_time`, `total_retries`) over the store's retention, and counts by state |
//!
//! The dashboard's routes (`GET /` and `/dashboard/…`) are a second router,
//! [`dashboard::router`], to merge with this one.
//!
//! [`openapi::document`] describes these routes and the webhooks MegaBot sends as an
//! OpenAPI 3.1 document (`megabot-webhook serve` answers it at `GET /openapi.json`).
//!
//! Ids: `ep_…` for registered endpoints (kept in the store, reloaded by
//! [`ApiState::new`]), `cfg_…` for the config file's (read-only here, but
//! for `enable`), `dlv_…` for deliveries. Secrets and header values are
//! never returned (`has_secret`, `header_names`), nor a URL's password.
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use megabot_webhook_sender::api::{self, ApiState};
//! use megabot_webhook_sender::config::WebhooksConfig;
//! use megabot_webhook_sender::dispatcher::{Dispatcher, SqliteStore};
//!
//! let store = Arc::new(SqliteStore::open("megabot-dispatcher.sqlite3")?);
//! let (dispatcher, _) = Dispatcher::builder(WebhooksConfig::default(), store).build().await?;
//! let dispatcher = Arc::new(dispatcher);
//! // Loads the registered endpoints: before `start`, so that their pending
//! // deliveries find them.
//! let token = std::env::var("MEGABOT_ADMIN_TOKEN")?;
//! let (state, _warnings) = ApiState::new(dispatcher.clone(), &token).await?;
//! dispatcher.start();
//! let app = axum::Router::new().merge(api::router(state));
//! # let _ = app;
//! # Ok(()) }
//! ```

mod auth;
pub mod dashboard;
mod deliveries;
mod error;
mod events;
pub mod openapi;
mod webhooks;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::dispatcher::Dispatcher;
use crate::{ConfigError, Error, Warning};

pub use auth::{MIN_ADMIN_TOKEN_LEN, require_token as require_admin_token};

use auth::AdminToken;
use error::ApiError;

/// The largest request body: 1 MiB (the largest event receivers take) and a
/// margin, so that an event just over 1 MiB is published with a warning.
pub const BODY_LIMIT: usize = (1 << 20) + (64 << 10);

/// A body declared over [`BODY_LIMIT`] but at most this long is read and
/// dropped before the `413` answer, so that a client still sending it reads
/// the answer instead of a reset connection; a longer one is answered at
/// once and the connection closed.
const DRAIN_LIMIT: u64 = 8 << 20;

/// One route of [`router`]: its method, its path (`{id}` for the path parameter) and every
/// status it can answer, ascending. The OpenAPI document ([`openapi::document`]) is built
/// from [`ROUTES`], and a test checks that the router serves exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Route {
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path, `{id}` standing for the path parameter.
    pub path: &'static str,
    /// Every status the route can answer, ascending: its successes, `400` (a bad body,
    /// query or path), `401` (the token), `403` (a read-only endpoint), `404` (no such
    /// endpoint or delivery), `409` (not dead), `413` (the body limit, on every route),
    /// `500` (an internal error), `503` (the store).
    pub statuses: &'static [u16],
}

const fn route(method: &'static str, path: &'static str, statuses: &'static [u16]) -> Route {
    Route {
        method,
        path,
        statuses,
    }
}

/// Every route [`router`] serves (see the [module](self) docs).
pub const ROUTES: &[Route] = &[
    route("POST", "/api/webhooks", &[201, 400, 401, 413, 500, 503]),
    route("GET", "/api/webhooks", &[200, 400, 401, 413]),
    route("GET", "/api/webhooks/{id}", &[200, 400, 401, 404, 413]),
    route(
        "PATCH",
        "/api/webhooks/{id}",
        &[200, 400, 401, 403, 404, 413, 500, 503],
    ),
    route(
        "DELETE",
        "/api/webhooks/{id}",
        &[200, 400, 401, 403, 404, 413, 503],
    ),
    route(
        "POST",
        "/api/webhooks/{id}/enable",
        &[200, 400, 401, 404, 413, 503],
    ),
    route("POST", "/api/events", &[200, 202, 400, 401, 413, 500, 503]),
    route("GET", "/api/deliveries", &[200, 400, 401, 413, 503]),
    route(
        "GET",
        "/api/deliveries/{id}",
        &[200, 400, 401, 404, 413, 503],
    ),
    route(
        "POST",
        "/api/deliveries/{id}/redeliver",
        &[202, 400, 401, 404, 409, 413, 503],
    ),
    route(
        "POST",
        "/api/deliveries/redeliver",
        &[202, 400, 401, 413, 503],
    ),
    route("GET", "/api/stats", &[200, 401, 413, 503]),
];

/// What the API's handlers share: the dispatcher and the admin token.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    dispatcher: Arc<Dispatcher>,
    token: AdminToken,
    /// Serialises registrations, patches, deletions and syncs; holds the
    /// stored document of every registered endpoint loaded here.
    edit: tokio::sync::Mutex<HashMap<String, String>>,
}

impl fmt::Debug for ApiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiState")
            .field("dispatcher", &self.inner.dispatcher)
            .field("token", &self.inner.token)
            .finish()
    }
}

impl ApiState {
    /// The API over `dispatcher`, guarded by `admin_token` (at least
    /// [`MIN_ADMIN_TOKEN_LEN`] characters; only a keyed digest of it is
    /// kept). Adds the endpoints registered earlier (kept in the store) to
    /// the dispatcher: call it before [`Dispatcher::start`], so that their
    /// pending deliveries find them. A stored endpoint that no longer loads
    /// is left out with a warning.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a short token (key `admin_token`; the message
    /// never holds the token), [`Error::Store`].
    pub async fn new(
        dispatcher: Arc<Dispatcher>,
        admin_token: &str,
    ) -> Result<(ApiState, Vec<Warning>), Error> {
        let token = AdminToken::new(admin_token).ok_or_else(|| {
            Error::from(ConfigError::new(
                "admin_token",
                format!("the admin token must be at least {MIN_ADMIN_TOKEN_LEN} characters"),
            ))
        })?;
        let state = ApiState {
            inner: Arc::new(Inner {
                dispatcher,
                token,
                edit: tokio::sync::Mutex::new(HashMap::new()),
            }),
        };
        let warnings = state.sync().await?;
        Ok((state, warnings))
    }

    /// Brings this instance's registered endpoints in line with the store:
    /// adds those registered (or patched) through another instance sharing
    /// it (a Redis store) and forgets those deleted there. [`ApiState::new`]
    /// does it once; [`ApiState::spawn_sync`] keeps doing it.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn sync(&self) -> Result<Vec<Warning>, Error> {
        let mut loaded = self.inner.edit.lock().await;
        webhooks::sync_registered(&self.inner.dispatcher, &mut loaded).await
    }

    /// Runs [`ApiState::sync`] every `every` on the current Tokio runtime
    /// (for several instances sharing one Redis store), until aborted.
    pub fn spawn_sync(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match state.sync().await {
                    Ok(warnings) => {
                        for warning in warnings {
                            tracing::warn!(%warning, "webhook endpoint sync");
                        }
                    }
                    Err(error) => {
                        tracing::warn!(code = error.code(), %error, "webhook endpoints cannot be synced from the store");
                    }
                }
            }
        })
    }

    /// The dispatcher.
    pub fn dispatcher(&self) -> &Arc<Dispatcher> {
        &self.inner.dispatcher
    }
}

/// The API's routes ([`ROUTES`], see the [module](self) docs), every one behind the
/// admin token, bodies capped at [`BODY_LIMIT`]; unknown routes answer a
/// JSON `404`.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/webhooks", post(webhooks::create).get(webhooks::list))
        .route(
            "/api/webhooks/{id}",
            get(webhooks::show)
                .patch(webhooks::patch)
                .delete(webhooks::delete),
        )
        .route("/api/webhooks/{id}/enable", post(webhooks::enable))
        .route("/api/events", post(events::publish))
        .route("/api/deliveries", get(deliveries::list))
        .route(
            "/api/deliveries/redeliver",
            post(deliveries::redeliver_bulk),
        )
        .route("/api/deliveries/{id}", get(deliveries::show))
        .route(
            "/api/deliveries/{id}/redeliver",
            post(deliveries::redeliver_one),
        )
        .route("/api/stats", get(deliveries::stats))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(refuse_oversized))
        .with_state(state)
}

/// Answers a body declared over [`BODY_LIMIT`] with `413` (field `body`)
/// before anything else, after reading and dropping it when it is at most
/// [`DRAIN_LIMIT`] long (within 10 s), and closes the connection.
async fn refuse_oversized(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(declared) = declared.filter(|&n| n > BODY_LIMIT as u64) else {
        return next.run(request).await;
    };
    if declared <= DRAIN_LIMIT {
        use http_body_util::BodyExt as _;
        let mut body = request.into_body();
        let drain = async {
            let mut read = 0u64;
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, |data| data.len() as u64);
                if read > DRAIN_LIMIT {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
    }
    let mut response = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body is over the limit of {BODY_LIMIT} bytes"),
    )
    .at("body")
    .into_response();
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take this method",
    )
}
