// Over 600 lines: the dashboard's scenarios over loopback (login and cookies,
// redirects, CSRF, escaping, headers, the window's numbers), one per test, sharing the
// SQLite and server fixtures of this file.
//! The dashboard's router over real loopback HTTP, merged with the API's,
//! on a SQLite file whose rows the tests write themselves (the dispatcher's
//! workers are not started, so rows stay as written): login and cookies,
//! redirects, CSRF, escaping, headers, the window's numbers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use super::*;
use crate::DestinationPolicy;
use crate::api::{self, ApiState};
use crate::config::{EndpointConfig, SecretKeys, WebhooksConfig};
use crate::dispatcher::{DeliveryRecord, Dispatcher, SqliteStore};

/// A cookie (if any) and a form.
type Attempt<'a> = (Option<&'a str>, Vec<(&'a str, &'a str)>);

const TOKEN: &str = "dashboard-test-admin-token-0123456789";
const HOSTILE: &str = "<script>alert(1)</script>";

/// A clock the tests move.
#[derive(Debug, Clone)]
struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += TimeDelta::from_std(by).unwrap();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// 2026-11-30 10:30:20 UTC.
fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-30T10:30:20Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct Board {
    base: String,
    client: reqwest::Client,
    dispatcher: Arc<Dispatcher>,
    clock: ManualClock,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Board {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Board {
    async fn start() -> Board {
        Board::start_with(|d| d).await
    }

    async fn start_with(configure: impl FnOnce(Dashboard) -> Dashboard) -> Board {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("d.sqlite3")).unwrap());
        let clock = ManualClock(Arc::new(Mutex::new(start_time())));
        let (dispatcher, _) = Dispatcher::builder(WebhooksConfig::default(), store)
            .clock(Arc::new(clock.clone()))
            .destination_policy(DestinationPolicy::server().allow_private_targets(true))
            .build()
            .await
            .unwrap();
        let dispatcher = Arc::new(dispatcher);
        let (state, _) = ApiState::new(dispatcher.clone(), TOKEN).await.unwrap();
        let dashboard = configure(Dashboard::new(state.clone()).clock(Arc::new(clock.clone())));
        let app = api::router(state).merge(dashboard.router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Board {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            dispatcher,
            clock,
            _dir: dir,
            server,
        }
    }

    async fn add_endpoint(&self, id: &str, url: &str) {
        let mut config = EndpointConfig::new(url);
        config.secret = Some(SecretKeys::one("endpoint-signing-secret"));
        config
            .headers
            .insert("X-Api-Key", "header-value-never-shown");
        self.dispatcher.add_endpoint(id, config).await.unwrap();
    }

    /// Stores a row of `endpoint` published `ago` before now, in `state`,
    /// ended `took` after publish.
    async fn row(
        &self,
        id: &str,
        endpoint: &str,
        event: &str,
        state: DeliveryState,
        ago: Duration,
        took: Duration,
    ) {
        let created = self.clock.now() - TimeDelta::from_std(ago).unwrap();
        let record = DeliveryRecord {
            id: format!("dlv_{:011x}{id}", created.timestamp_millis()),
            event_id: format!("evt_{id}"),
            event_name: event.to_owned(),
            event_timestamp: created.timestamp(),
            body: format!(
                r#"{{"event":"error_occurred","id":"evt_{id}","timestamp":{},"data":{{}}}}"#,
                created.timestamp()
            )
            .into_bytes(),
            endpoint_id: endpoint.to_owned(),
            state,
            attempts: u32::from(state != DeliveryState::Pending),
            created_at: created,
            updated_at: created + TimeDelta::from_std(took).unwrap(),
            next_attempt_at: created,
            lease_owner: None,
            lease_expires_at: None,
            dead_reason: (state == DeliveryState::Dead).then(|| "exhausted".to_owned()),
            last_status: (state == DeliveryState::Dead).then_some(500),
            last_error: (state == DeliveryState::Dead).then(|| format!("HTTP 500: {HOSTILE}")),
            conflict_since: None,
            restamped_from: None,
        };
        self.dispatcher.store().insert(vec![record]).await.unwrap();
    }

    async fn delivery_id(&self, suffix: &str) -> String {
        let page = self
            .dispatcher
            .list(&crate::dispatcher::DeliveryQuery::default())
            .await
            .unwrap();
        page.deliveries
            .iter()
            .find(|d| d.id.ends_with(suffix))
            .unwrap()
            .id
            .clone()
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> (StatusCode, HeaderMap, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("{COOKIE_NAME}={cookie}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(form));
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("{COOKIE_NAME}={cookie}"));
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    /// Logs in; the session cookie's value.
    async fn login(&self) -> String {
        let (status, headers, _) = self.post(LOGIN_PATH, None, &[("token", TOKEN)], &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let cookie = headers[SET_COOKIE].to_str().unwrap();
        let value = cookie
            .strip_prefix(&format!("{COOKIE_NAME}="))
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        value.to_owned()
    }

    /// The CSRF token of the dashboard's forms.
    async fn csrf(&self, cookie: &str) -> String {
        let (status, _, body) = self.get("/", Some(cookie)).await;
        assert_eq!(status, StatusCode::OK);
        let at = body.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
        body[at..at + 64].to_owned()
    }
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form_body(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    char::from(b).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn assert_secure_headers(headers: &HeaderMap, what: &str) {
    assert_eq!(
        headers["content-security-policy"], CONTENT_SECURITY_POLICY,
        "{what}"
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}");
    assert!(csp.contains("default-src 'none'"), "{what}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{what}"
    );
    assert_eq!(headers["cache-control"], "no-store", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
}

#[tokio::test]
async fn without_a_session_the_page_redirects_to_the_login_form() {
    let board = Board::start().await;
    let (status, headers, _) = board.get("/", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], LOGIN_PATH);
    assert_secure_headers(&headers, "redirect");
    // A made-up or malformed cookie is no session either.
    for cookie in ["0".repeat(64), "nope".to_owned(), TOKEN.to_owned()] {
        let (status, headers, _) = board.get("/", Some(&cookie)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{cookie}");
        assert_eq!(headers[LOCATION], LOGIN_PATH);
    }
    let (status, headers, body) = board.get(LOGIN_PATH, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_secure_headers(&headers, "login form");
    assert!(
        body.contains(r#"<form method="post" action="/dashboard/login">"#),
        "{body}"
    );
    assert!(body.contains(r#"name="viewport""#), "{body}");
    assert!(!body.contains("<script"), "{body}");
    // The API still needs its bearer token: the merge keeps its fallback.
    let (status, _, _) = board.get("/api/webhooks", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_wrong_token_fails_and_the_right_one_sets_a_strict_http_only_cookie() {
    let board = Board::start().await;
    let wrong = "wrong-token-wrong-token-wrong-token-0000";
    for token in [wrong, "", &TOKEN[1..]] {
        let (status, headers, body) = board.post(LOGIN_PATH, None, &[("token", token)], &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
        assert!(headers.get(SET_COOKIE).is_none());
        assert!(body.contains("not the admin token"), "{body}");
        assert!(
            token.is_empty() || !body.contains(token),
            "the token is not echoed"
        );
        assert_secure_headers(&headers, "refused login");
    }
    let (status, headers, _) = board.post(LOGIN_PATH, None, &[("token", TOKEN)], &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/");
    assert_secure_headers(&headers, "login");
    let cookie = headers[SET_COOKIE].to_str().unwrap();
    let attributes: Vec<&str> = cookie.split("; ").collect();
    assert!(attributes.contains(&"HttpOnly"), "{cookie}");
    assert!(attributes.contains(&"SameSite=Strict"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(attributes.contains(&"Max-Age=43200"), "{cookie}");
    assert!(!attributes.contains(&"Secure"), "plain HTTP: {cookie}");
    assert!(!cookie.contains(TOKEN), "the admin token is not the cookie");
    let value = attributes[0].strip_prefix("megabot_dashboard=").unwrap();
    assert_eq!(value.len(), 64);
    let (status, headers, body) = board.get("/", Some(value)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_secure_headers(&headers, "dashboard");
    assert!(!body.contains(TOKEN), "the admin token is never shown");
    // Logged in, the login form sends to the dashboard.
    let (status, headers, _) = board.get(LOGIN_PATH, Some(value)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/");
    // Behind a TLS proxy, the cookie is Secure.
    let (_, headers, _) = board
        .post(
            LOGIN_PATH,
            None,
            &[("token", TOKEN)],
            &[("x-forwarded-proto", "https")],
        )
        .await;
    let cookie = headers[SET_COOKIE].to_str().unwrap();
    assert!(cookie.split("; ").any(|a| a == "Secure"), "{cookie}");
}

#[tokio::test]
async fn secure_cookies_can_be_forced() {
    let board = Board::start_with(|d| d.secure_cookies(true)).await;
    let (_, headers, _) = board.post(LOGIN_PATH, None, &[("token", TOKEN)], &[]).await;
    let cookie = headers[SET_COOKIE].to_str().unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn sessions_expire_and_end_at_logout() {
    let board = Board::start().await;
    let cookie = board.login().await;
    board
        .clock
        .advance(DEFAULT_SESSION_TTL - Duration::from_secs(1));
    let csrf = board.csrf(&cookie).await;
    board.clock.advance(Duration::from_secs(1));
    let (status, headers, _) = board.get("/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "expired");
    assert_eq!(headers[LOCATION], LOGIN_PATH);

    let cookie = board.login().await;
    let csrf_2 = board.csrf(&cookie).await;
    assert_ne!(csrf, csrf_2, "one CSRF token per session");
    let (status, _, _) = board
        .post(LOGOUT_PATH, Some(&cookie), &[("csrf", &csrf)], &[])
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another session's CSRF token"
    );
    let (status, headers, _) = board
        .post(LOGOUT_PATH, Some(&cookie), &[("csrf", &csrf_2)], &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], LOGIN_PATH);
    assert!(headers[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let (status, _, _) = board.get("/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "logged out");
}

#[tokio::test]
async fn redeliver_needs_the_sessions_csrf_token() {
    let board = Board::start().await;
    board
        .add_endpoint("ep_one", "http://127.0.0.1:9/hook")
        .await;
    board
        .row(
            "a",
            "ep_one",
            "error_occurred",
            DeliveryState::Dead,
            Duration::from_secs(30),
            Duration::from_secs(1),
        )
        .await;
    let id = board.delivery_id("a").await;
    let cookie = board.login().await;
    let csrf = board.csrf(&cookie).await;
    let other = board.login().await;
    let other_csrf = board.csrf(&other).await;
    let zeros = "0".repeat(64);
    let refused: [Attempt<'_>; 6] = [
        (None, vec![("delivery", &id), ("csrf", &csrf)]),
        (Some(&cookie), vec![("delivery", &id)]),
        (Some(&cookie), vec![("delivery", &id), ("csrf", "")]),
        (
            Some(&cookie),
            vec![("delivery", &id), ("csrf", &csrf[..63])],
        ),
        (
            Some(&cookie),
            vec![("delivery", &id), ("csrf", &other_csrf)],
        ),
        (Some(&cookie), vec![("delivery", &id), ("csrf", &zeros)]),
    ];
    for (cookie, form) in &refused {
        let (status, headers, body) = board.post(REDELIVER_PATH, *cookie, form, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{cookie:?} {form:?}");
        assert_secure_headers(&headers, "forbidden");
        assert!(body.contains("expired"), "{body}");
    }
    let record = board.dispatcher.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state, DeliveryState::Dead, "nothing was redelivered");

    let (status, headers, _) = board
        .post(
            REDELIVER_PATH,
            Some(&cookie),
            &[("delivery", &id), ("csrf", &csrf)],
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/");
    let record = board.dispatcher.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state, DeliveryState::Pending);
    let (_, _, body) = board.get("/", Some(&cookie)).await;
    assert!(
        body.contains(&format!("Delivery {id} is pending again.")),
        "{body}"
    );
    let (_, _, body) = board.get("/", Some(&cookie)).await;
    assert!(!body.contains("pending again"), "the notice shows once");

    // Not dead any more, or unknown: an error notice, nothing changed.
    let (status, _, _) = board
        .post(
            REDELIVER_PATH,
            Some(&cookie),
            &[("delivery", &id), ("csrf", &csrf)],
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, body) = board.get("/", Some(&cookie)).await;
    assert!(
        body.contains("is pending: only dead deliveries are redelivered"),
        "{body}"
    );
    board
        .post(
            REDELIVER_PATH,
            Some(&cookie),
            &[("delivery", HOSTILE), ("csrf", &csrf)],
            &[],
        )
        .await;
    let (_, _, body) = board.get("/", Some(&cookie)).await;
    assert!(
        body.contains("There is no delivery &lt;script&gt;"),
        "{body}"
    );
    assert!(!body.contains("<script"), "{body}");
}

#[tokio::test]
async fn what_registrants_and_endpoints_control_is_escaped() {
    let board = Board::start().await;
    let url =
        format!("http://user:url-password@127.0.0.1:9/{HOSTILE}?q=\"><img src=x onerror=alert(2)>");
    board.add_endpoint("ep_hostile", &url).await;
    board
        .add_endpoint(
            "ep_raw",
            &format!("http://127.0.0.1:9/{HOSTILE}/\"onmouseover=\"alert(3)"),
        )
        .await;
    board
        .row(
            "h",
            "ep_hostile",
            HOSTILE,
            DeliveryState::Dead,
            Duration::from_secs(90),
            Duration::from_secs(2),
        )
        .await;
    let cookie = board.login().await;
    let (status, _, body) = board.get("/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("<script"), "{body}");
    assert!(!body.contains("<img"), "{body}");
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(
        body.contains("HTTP 500: &lt;script&gt;"),
        "the error text: {body}"
    );
    assert!(
        !body.contains("url-password"),
        "a URL password is hidden: {body}"
    );
    assert!(!body.contains("header-value-never-shown"), "{body}");
    assert!(!body.contains("endpoint-signing-secret"), "{body}");
    assert!(!body.contains("style="), "no inline style: {body}");
    // A URL without a password is shown as registered, escaped.
    assert!(
        body.contains("http://127.0.0.1:9/&lt;script&gt;alert(1)&lt;/script&gt;/&quot;onmouseover=&quot;alert(3)"),
        "{body}"
    );
    assert!(!body.contains("\"onmouseover"), "{body}");
}

#[tokio::test]
async fn the_page_shows_the_windows_numbers_chart_and_failures() {
    let board = Board::start().await;
    board.add_endpoint("ep_a", "http://127.0.0.1:9/a").await;
    board.add_endpoint("ep_b", "http://127.0.0.1:9/b").await;
    let s = Duration::from_secs;
    // ep_a: 3 delivered (0.1 s, 0.2 s, 4 s to delivery), 1 dead, 1 pending.
    board
        .row(
            "1",
            "ep_a",
            "error_occurred",
            DeliveryState::Delivered,
            s(300),
            Duration::from_millis(100),
        )
        .await;
    board
        .row(
            "2",
            "ep_a",
            "error_occurred",
            DeliveryState::Delivered,
            s(290),
            Duration::from_millis(200),
        )
        .await;
    board
        .row(
            "3",
            "ep_a",
            "error_occurred",
            DeliveryState::Delivered,
            s(10),
            s(4),
        )
        .await;
    board
        .row(
            "4",
            "ep_a",
            "error_occurred",
            DeliveryState::Dead,
            s(10),
            s(1),
        )
        .await;
    board
        .row(
            "5",
            "ep_a",
            "error_occurred",
            DeliveryState::Pending,
            s(5),
            s(0),
        )
        .await;
    // Older than the hour: left out of the window.
    board
        .row(
            "6",
            "ep_a",
            "error_occurred",
            DeliveryState::Dead,
            s(2 * 3_600),
            s(1),
        )
        .await;
    let cookie = board.login().await;
    let (_, _, body) = board.get("/", Some(&cookie)).await;
    assert!(
        body.contains(r#"data-endpoint-id="ep_a" data-delivered="3" data-dead="1" data-pending="1" data-disabled="false""#),
        "{body}"
    );
    assert!(
        body.contains(
            r#"data-endpoint-id="ep_b" data-delivered="0" data-dead="0" data-pending="0""#
        ),
        "{body}"
    );
    assert!(body.contains("75.0 %"), "success rate: {body}");
    assert!(body.contains("4.0 s"), "p95 of 0.1, 0.2, 4 s: {body}");
    assert!(body.contains("the last 60 minutes"), "{body}");
    // The chart: 60 minutes, ending with now's (10:30).
    assert_eq!(body.matches(r#"<g class="minute""#).count(), 60, "{body}");
    assert!(
        body.contains(r#"data-minute="10:25" data-delivered="2" data-dead="0" data-pending="0""#),
        "{body}"
    );
    assert!(
        body.contains(r#"data-minute="10:30" data-delivered="1" data-dead="1" data-pending="1""#),
        "{body}"
    );
    assert!(body.contains(r#"<svg id="chart""#), "{body}");
    // Failures: the window's dead one only, with its redeliver form.
    assert_eq!(body.matches("<tr data-delivery-id=").count(), 1, "{body}");
    let dead = board.delivery_id("4").await;
    assert!(
        body.contains(&format!(r#"<tr data-delivery-id="{dead}">"#)),
        "{body}"
    );
    assert!(
        body.contains(&format!(r#"name="delivery" value="{dead}""#)),
        "{body}"
    );
    assert!(body.contains("Kept: <strong>1</strong> pending · <strong>3</strong> delivered · <strong>2</strong> dead"), "{body}");
}

#[tokio::test]
async fn a_busy_hour_narrows_the_window() {
    let board = Board::start().await;
    board.add_endpoint("ep_a", "http://127.0.0.1:9/a").await;
    // More than MAX_ROWS deliveries 20 minutes ago, a few in the last 5.
    let now = board.clock.now();
    let old = now - TimeDelta::minutes(20);
    let rows: Vec<DeliveryRecord> = (0..summary::MAX_ROWS + 1)
        .map(|n| DeliveryRecord {
            id: format!("dlv_{:011x}{n:06x}00000000", old.timestamp_millis()),
            event_id: format!("evt_{n}"),
            event_name: "error_occurred".to_owned(),
            event_timestamp: old.timestamp(),
            body: b"{}".to_vec(),
            endpoint_id: "ep_a".to_owned(),
            state: DeliveryState::Delivered,
            attempts: 1,
            created_at: old,
            updated_at: old,
            next_attempt_at: old,
            lease_owner: None,
            lease_expires_at: None,
            dead_reason: None,
            last_status: None,
            last_error: None,
            conflict_since: None,
            restamped_from: None,
        })
        .collect();
    board.dispatcher.store().insert(rows).await.unwrap();
    board
        .row(
            "r",
            "ep_a",
            "error_occurred",
            DeliveryState::Dead,
            Duration::from_secs(60),
            Duration::from_secs(1),
        )
        .await;
    let cookie = board.login().await;
    let (_, _, body) = board.get("/", Some(&cookie)).await;
    assert!(body.contains("the last 15 minutes"), "{body}");
    assert_eq!(body.matches(r#"<g class="minute""#).count(), 15);
    assert!(
        body.contains(r#"data-endpoint-id="ep_a" data-delivered="0" data-dead="1""#),
        "{body}"
    );
}

#[tokio::test]
async fn the_stylesheet_is_served_with_the_same_headers() {
    let board = Board::start().await;
    let (status, headers, body) = board.get(STYLESHEET_PATH, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/css; charset=utf-8");
    assert_secure_headers(&headers, "stylesheet");
    assert!(body.contains("#chart"));
}
