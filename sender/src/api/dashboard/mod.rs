//! The dashboard (docs/design.md sections 8 "Dashboard" and 9.7): `GET /`
//! shows the endpoints with their health, success rate, p95 time to
//! delivery and disabled state, a chart of deliveries per minute by
//! outcome, and the recent dead deliveries with a redeliver button.
//! Rendered on the server (HTML and inline SVG, no script), behind the
//! admin token.
//!
//! | Route | What it does |
//! |---|---|
//! | `GET /` | The dashboard; without a session, `303` to the login form |
//! | `GET /dashboard/login` | The login form |
//! | `POST /dashboard/login` | `token=<admin token>` (form): opens a session (`303` to `/`), or `401` |
//! | `POST /dashboard/redeliver` | `delivery=<id>&csrf=<token>` (form): redelivers a dead delivery, `303` to `/`; `403` without a session or with a wrong CSRF token |
//! | `POST /dashboard/logout` | `csrf=<token>` (form): ends the session |
//! | `GET /dashboard/style.css` | The stylesheet |
//!
//! **Sessions.** The admin token is compared in constant time (as the
//! API's bearer check) and never stored in the cookie: a login opens a
//! session with a random 256-bit token, kept in memory for
//! [`DEFAULT_SESSION_TTL`] (a restart logs everyone out), and the cookie
//! [`COOKIE_NAME`] holds that token, `HttpOnly; SameSite=Strict; Path=/`.
//! It is also `Secure` when [`Dashboard::secure_cookies`] is set or the
//! request came through a proxy saying `X-Forwarded-Proto: https`: `serve`
//! listens on plain HTTP (loopback by default), where a `Secure` cookie
//! would not be sent back by every browser. Each session has its own CSRF
//! token, in a hidden field of every form and compared in constant time.
//!
//! **Headers.** Every answer carries [`CONTENT_SECURITY_POLICY`] (no
//! script at all, styles from the stylesheet route only,
//! `frame-ancestors 'none'`), `X-Frame-Options: DENY`,
//! `Cache-Control: no-store`, `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`. Everything registrants or endpoints
//! control (URLs, event names and ids, error texts) is escaped by `maud`;
//! URL passwords are hidden, and secrets and header values are never read.
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn run(state: megabot_webhook_sender::api::ApiState) {
//! use megabot_webhook_sender::api::{self, dashboard};
//! let app = api::router(state.clone()).merge(dashboard::router(state));
//! # let _ = app;
//! # }
//! ```

mod page;
mod session;
mod summary;
#[cfg(all(test, feature = "sqlite"))]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY as CSP_HEADER, CONTENT_TYPE, COOKIE, LOCATION,
    REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::Markup;
use serde::Deserialize;

use super::ApiState;
use crate::clock::{Clock, SystemClock};
use crate::dispatcher::DeliveryState;
use session::{Flash, Sessions};

/// How long a dashboard session lasts: 12 hours.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(12 * 3_600);

/// The session cookie's name.
pub const COOKIE_NAME: &str = "megabot_dashboard";

/// The `Content-Security-Policy` of every dashboard answer: nothing but
/// the stylesheet (same origin) loads, forms post to the same origin only,
/// no page may frame it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const LOGIN_PATH: &str = "/dashboard/login";
const LOGOUT_PATH: &str = "/dashboard/logout";
const REDELIVER_PATH: &str = "/dashboard/redeliver";
const STYLESHEET_PATH: &str = "/dashboard/style.css";
const STYLESHEET: &str = include_str!("style.css");
/// Ends the session cookie (at logout).
const CLEAR_COOKIE: &str = "megabot_dashboard=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";

/// The largest form body taken.
const FORM_LIMIT: usize = 16 << 10;

/// Builds the dashboard's router.
pub struct Dashboard {
    api: ApiState,
    clock: Arc<dyn Clock>,
    secure_cookies: bool,
    session_ttl: Duration,
}

impl fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dashboard")
            .field("api", &self.api)
            .field("secure_cookies", &self.secure_cookies)
            .field("session_ttl", &self.session_ttl)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// The dashboard over the API's dispatcher and admin token.
    pub fn new(api: ApiState) -> Dashboard {
        Dashboard {
            api,
            clock: Arc::new(SystemClock),
            secure_cookies: false,
            session_ttl: DEFAULT_SESSION_TTL,
        }
    }

    /// The clock: session expiry and the window shown.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Always mark the session cookie `Secure` (when the dashboard is
    /// reached over HTTPS only). Without it, the cookie is `Secure` when the
    /// request says `X-Forwarded-Proto: https`.
    #[must_use]
    pub fn secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// How long a session lasts (default [`DEFAULT_SESSION_TTL`]).
    #[must_use]
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// The routes (see the [module](self) docs), with no fallback, so that
    /// it merges with [`api::router`](super::router).
    pub fn router(self) -> Router {
        let board = Board {
            api: self.api,
            clock: self.clock,
            sessions: Arc::new(Sessions::new(self.session_ttl)),
            secure_cookies: self.secure_cookies,
        };
        Router::new()
            .route("/", get(index))
            .route(LOGIN_PATH, get(login_form).post(login))
            .route(LOGOUT_PATH, post(logout))
            .route(REDELIVER_PATH, post(redeliver))
            .route(STYLESHEET_PATH, get(stylesheet))
            .layer(DefaultBodyLimit::max(FORM_LIMIT))
            .layer(axum::middleware::map_response(security_headers))
            .with_state(board)
    }
}

/// The dashboard's routes with the defaults: [`Dashboard::new`]`(api).router()`.
pub fn router(api: ApiState) -> Router {
    Dashboard::new(api).router()
}

#[derive(Clone)]
struct Board {
    api: ApiState,
    clock: Arc<dyn Clock>,
    sessions: Arc<Sessions>,
    secure_cookies: bool,
}

impl Board {
    /// The session token of the request's cookie, when its session is open.
    fn session(&self, headers: &HeaderMap) -> Option<(String, session::SessionView)> {
        let now = self.clock.now();
        cookie_values(headers).find_map(|token| {
            self.sessions
                .get(&token, now)
                .map(|session| (token, session))
        })
    }

    fn set_cookie(&self, headers: &HeaderMap, token: &str) -> Option<HeaderValue> {
        let secure = self.secure_cookies || forwarded_https(headers);
        HeaderValue::from_str(&format!(
            "{COOKIE_NAME}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
            self.sessions.ttl().as_secs(),
            if secure { "; Secure" } else { "" }
        ))
        .ok()
    }
}

/// Every value of a cookie named [`COOKIE_NAME`] in the request.
fn cookie_values(headers: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE_NAME).then(|| value.trim_matches('"').to_owned())
        })
}

fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CSP_HEADER,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn html(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

fn see_other(location: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

fn forbidden() -> Response {
    html(
        StatusCode::FORBIDDEN,
        page::message(
            "Forbidden",
            "This form has expired or did not come from the dashboard: reload the dashboard and try again.",
        ),
    )
}

/// `GET /`.
async fn index(State(board): State<Board>, headers: HeaderMap) -> Response {
    let Some((token, session)) = board.session(&headers) else {
        return see_other(LOGIN_PATH);
    };
    let message = board.sessions.take_flash(&token);
    match summary::read(board.api.dispatcher(), board.clock.now()).await {
        Ok(summary) => html(
            StatusCode::OK,
            page::dashboard(&summary, &session.csrf, message.as_ref()),
        ),
        Err(error) => {
            tracing::warn!(code = error.code(), %error, "the dashboard cannot read the store");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                page::message(
                    "Store unavailable",
                    &format!(
                        "The delivery store cannot be read now ({}): reload in a moment.",
                        error.code()
                    ),
                ),
            )
        }
    }
}

/// `GET /dashboard/login`.
async fn login_form(State(board): State<Board>, headers: HeaderMap) -> Response {
    if board.session(&headers).is_some() {
        return see_other("/");
    }
    html(StatusCode::OK, page::login(None))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
}

/// `POST /dashboard/login`.
async fn login(
    State(board): State<Board>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return html(
            StatusCode::BAD_REQUEST,
            page::login(Some("Send the admin token with the form.")),
        );
    };
    if !board.api.inner.token.matches(form.token.trim().as_bytes()) {
        tracing::warn!("dashboard login refused: not the admin token");
        return html(
            StatusCode::UNAUTHORIZED,
            page::login(Some("That is not the admin token.")),
        );
    }
    let cookie = board
        .sessions
        .create(board.clock.now())
        .and_then(|token| board.set_cookie(&headers, &token));
    let Some(cookie) = cookie else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            page::message(
                "No session",
                "No random session token could be made: try again.",
            ),
        );
    };
    tracing::info!("dashboard session opened");
    let mut response = see_other("/");
    response.headers_mut().insert(SET_COOKIE, cookie);
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The session token of a form post whose CSRF token is right.
fn checked_session(
    board: &Board,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Option<(String, session::SessionView)> {
    let csrf = csrf?;
    let (token, session) = board.session(headers)?;
    board
        .sessions
        .check_csrf(&token, csrf, board.clock.now())
        .then_some((token, session))
}

/// `POST /dashboard/logout`.
async fn logout(
    State(board): State<Board>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let csrf = form.ok().map(|Form(f)| f.csrf);
    let Some((token, _)) = checked_session(&board, &headers, csrf.as_deref()) else {
        return forbidden();
    };
    board.sessions.remove(&token);
    let mut response = see_other(LOGIN_PATH);
    response
        .headers_mut()
        .insert(SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
    response
}

#[derive(Deserialize)]
struct RedeliverForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    delivery: String,
}

/// `POST /dashboard/redeliver`.
async fn redeliver(
    State(board): State<Board>,
    headers: HeaderMap,
    form: Result<Form<RedeliverForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    let Some((token, _)) = checked_session(&board, &headers, Some(&form.csrf)) else {
        return forbidden();
    };
    let flash = redeliver_one(&board, form.delivery.trim()).await;
    board.sessions.set_flash(&token, flash);
    see_other("/")
}

async fn redeliver_one(board: &Board, id: &str) -> Flash {
    let error = |text: String| Flash { error: true, text };
    let dispatcher = board.api.dispatcher();
    let record = match dispatcher.get(id).await {
        Ok(Some(record)) => record,
        Ok(None) => return error(format!("There is no delivery {id}.")),
        Err(e) => return error(format!("The store failed ({}): try again.", e.code())),
    };
    if record.state != DeliveryState::Dead {
        return error(format!(
            "Delivery {id} is {}: only dead deliveries are redelivered.",
            record.state
        ));
    }
    match dispatcher.redeliver(id).await {
        Ok(Some(pending)) if pending == id => {
            tracing::info!(delivery = id, "redelivered from the dashboard");
            Flash {
                error: false,
                text: format!("Delivery {id} is pending again."),
            }
        }
        Ok(Some(pending)) => {
            tracing::info!(delivery = id, redelivery = %pending, "redelivered from the dashboard with a new timestamp");
            Flash {
                error: false,
                text: format!(
                    "Delivery {id} was stale: it is redelivered as {pending}, with a new timestamp."
                ),
            }
        }
        Ok(None) => error(format!(
            "Delivery {id} is no longer dead: only dead deliveries are redelivered."
        )),
        Err(e) => error(format!("The store failed ({}): try again.", e.code())),
    }
}

/// `GET /dashboard/style.css`.
async fn stylesheet() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET).into_response()
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("a=1; megabot_dashboard=abc ; b=2"),
        );
        headers.append(
            COOKIE,
            HeaderValue::from_static("megabot_dashboard=\"def\""),
        );
        headers.append(COOKIE, HeaderValue::from_static("megabot_dashboardx=no"));
        let values: Vec<String> = cookie_values(&headers).collect();
        assert_eq!(values, ["abc", "def"]);
    }

    #[test]
    fn the_cleared_cookie_is_ours() {
        assert!(CLEAR_COOKIE.starts_with(&format!("{COOKIE_NAME}=;")));
    }

    #[test]
    fn https_is_read_from_the_proxy_header() {
        let mut headers = HeaderMap::new();
        assert!(!forwarded_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS, http"));
        assert!(forwarded_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert!(!forwarded_https(&headers));
    }
}
