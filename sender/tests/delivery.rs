// Over 600 lines: one delivery scenario per test (retries, final statuses,
// Retry-After, timeouts, redirects, dead letters, redelivery) over the same scripted
// loopback server.
//! Delivery against loopback servers with scripted answers: retries, final
//! statuses, `Retry-After`, timeouts, redirects, dead letters, redelivery.
//! In every case the event is either delivered or in the dead-letter file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use megabot_webhook_sender::config::{
    EndpointConfig, SecretKeys, StandardWebhooksConfig, WebhooksConfig,
};
use megabot_webhook_sender::{
    Clock, Delivery, EndpointReport, FixedClock, FixedRandom, Outcome, RecordingSleeper, Sender,
    read_dead_letters,
};
use megabot_webhook_types::{Event, EventName, examples};
use megabot_webhook_verify::{Scheme, Secret, StandardSecret, StandardSigningKey, Verifier, sign};

const SECRET: &str = "your_webhook_secret";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// ---------------------------------------------------------------- test server

/// What the server answers to one request.
#[derive(Debug, Clone)]
enum Reply {
    Status(u16),
    RetryAfter(u16, String),
    /// Never answers (within the test's time).
    Hang,
    /// `302 Found` to another path of the same server.
    Redirect,
}

/// A request as the server received it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct ServerState {
    script: Vec<Reply>,
    received: Mutex<Vec<Received>>,
}

/// A loopback server answering from a script; the last reply repeats.
struct TestServer {
    url: String,
    state: Arc<ServerState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    async fn start(script: Vec<Reply>) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ServerState {
            script,
            received: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(answer).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer {
            url: format!("http://{addr}/webhook"),
            state,
            task,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

async fn answer(
    State(state): State<Arc<ServerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let index = {
        let mut received = state.received.lock().unwrap();
        received.push(Received {
            path: uri.path().to_owned(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: body.to_vec(),
            at: Instant::now(),
        });
        received.len() - 1
    };
    let reply = state
        .script
        .get(index)
        .or(state.script.last())
        .cloned()
        .unwrap_or(Reply::Status(200));
    let status = |code: u16| StatusCode::from_u16(code).unwrap();
    match reply {
        Reply::Status(code) => (status(code), format!("answer {code}")).into_response(),
        Reply::RetryAfter(code, after) => {
            (status(code), [(header::RETRY_AFTER, after)], "busy").into_response()
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::OK.into_response()
        }
        Reply::Redirect => (
            StatusCode::FOUND,
            [(header::LOCATION, "/elsewhere")],
            "moved",
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------- helpers

struct Setup {
    sender: Sender,
    sleeper: Arc<RecordingSleeper>,
    dead_letters: PathBuf,
    _dir: tempfile::TempDir,
}

fn setup(endpoints: Vec<EndpointConfig>, clock: Option<Arc<dyn Clock>>) -> Setup {
    setup_with(endpoints, clock, SecretKeys::one(SECRET), None)
}

fn setup_with(
    endpoints: Vec<EndpointConfig>,
    clock: Option<Arc<dyn Clock>>,
    secret_key: SecretKeys,
    jitter: Option<f64>,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let dead_letters = dir.path().join("dead-letters.jsonl");
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(secret_key);
        value.endpoints = endpoints;
        value
    };
    let sleeper = Arc::new(RecordingSleeper::new());
    let mut builder = Sender::builder(config)
        .sleeper(sleeper.clone())
        .dead_letter_file(&dead_letters);
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    if let Some(random) = jitter {
        builder = builder.random(Arc::new(FixedRandom(random)));
    }
    let (sender, warnings) = builder.build().unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    Setup {
        sender,
        sleeper,
        dead_letters,
        _dir: dir,
    }
}

fn endpoint(url: &str) -> EndpointConfig {
    EndpointConfig::new(url)
}

fn endpoint_with_attempts(url: &str, attempts: u32) -> EndpointConfig {
    let mut e = EndpointConfig::new(url);
    e.retry_policy.max_attempts = attempts;
    e
}

fn event() -> Event {
    examples::example(EventName::ErrorOccurred)
}

fn secs(list: &[f64]) -> Vec<Duration> {
    list.iter().map(|s| Duration::from_secs_f64(*s)).collect()
}

async fn send_one(setup: &Setup, event: &Event) -> EndpointReport {
    let report = setup.sender.send(event).await.unwrap();
    assert_eq!(report.deliveries.len(), 1, "{report:?}");
    report.deliveries.into_iter().next().unwrap()
}

/// Either the endpoint accepted the event, or the dead-letter file holds it
/// with everything needed to send it again: never lost.
fn assert_not_lost(report: &EndpointReport, dead_letters: &Path, delivery: &Delivery) {
    let letters = if dead_letters.exists() {
        read_dead_letters(dead_letters).unwrap()
    } else {
        Vec::new()
    };
    let in_file = letters.iter().any(|letter| {
        letter.id == delivery.id()
            && letter.event == delivery.event()
            && letter.timestamp == delivery.timestamp()
            && letter.url == report.url
            && letter.body.as_deref().map(str::as_bytes) == Some(delivery.body())
            && letter.delivery().unwrap().body() == delivery.body()
    });
    if report.is_delivered() {
        assert!(!in_file, "delivered and dead-lettered: {report:?}");
        assert!(!report.dead_lettered);
    } else {
        assert!(in_file, "lost: {report:?} not in {letters:?}");
        assert!(
            report.dead_lettered && report.dead_letter_error.is_none(),
            "{report:?}"
        );
    }
}

fn megabot_verifier(secret: &str) -> Verifier {
    Verifier::builder()
        .megabot_secret(Secret::new(secret).unwrap())
        .schemes(&[Scheme::MegaBot])
        .build()
        .unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).unwrap()
}

/// Checks one received request against the delivery: body, the five
/// headers, and the MegaBot signature (through the SDK's own verifier).
fn assert_wire_format(request: &Received, delivery: &Delivery) {
    assert_eq!(request.path, "/webhook");
    assert_eq!(request.body, delivery.body());
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("user-agent"), Some("MegaBot-Webhook/1.0"));
    assert_eq!(request.header("x-megabot-event"), Some(delivery.event()));
    assert_eq!(request.header("x-megabot-delivery"), Some(delivery.id()));
    assert_eq!(
        request.header("x-megabot-timestamp"),
        Some(delivery.timestamp().to_string().as_str())
    );
    let signature = request.header("x-megabot-signature").unwrap();
    assert_eq!(
        signature,
        sign::megabot_signature(&Secret::new(SECRET).unwrap(), delivery.body())
    );
    assert!(
        signature[7..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
    let verified = megabot_verifier(SECRET)
        .verify_at(&request.headers, &request.body, at(delivery.timestamp()))
        .unwrap();
    assert_eq!(verified.delivery.delivery_id, delivery.id());
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn status_500_then_200_is_delivered_in_two_attempts() {
    let server = TestServer::start(vec![Reply::Status(500), Reply::Status(200)]).await;
    let setup = setup(vec![endpoint(&server.url)], None);
    let event = event();
    let delivery = Delivery::from_event(&event).unwrap();
    let report = send_one(&setup, &event).await;
    assert_eq!(report.outcome, Outcome::Delivered);
    assert_eq!(report.statuses(), [Some(500), Some(200)]);
    assert_eq!(report.final_status, Some(200));
    assert_eq!(report.error, None);
    assert_eq!(
        report.attempts[0].error.as_deref(),
        Some("endpoint answered 500")
    );
    assert_eq!(
        report.attempts[0].response_body.as_deref(),
        Some("answer 500")
    );
    assert_eq!(report.attempts[0].wait_after, Some(Duration::from_secs(1)));
    assert_eq!(setup.sleeper.delays(), secs(&[1.0]));
    let received = server.received();
    assert_eq!(received.len(), 2);
    for request in &received {
        assert_wire_format(request, &delivery);
    }
    assert_not_lost(&report, &setup.dead_letters, &delivery);
    assert!(!setup.dead_letters.exists());
    let metrics = setup.sender.metrics();
    assert_eq!(
        (
            metrics.deliveries_total,
            metrics.deliveries_success,
            metrics.retries_total
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_capped_at_max_delay() {
    let now = at(1_700_000_000);
    let date = httpdate::fmt_http_date(std::time::SystemTime::from(
        now + chrono::Duration::seconds(120),
    ));
    let cases = [
        (Reply::RetryAfter(503, "7".into()), 300.0, 7.0),
        (Reply::RetryAfter(503, "86400".into()), 30.0, 30.0),
        (Reply::RetryAfter(503, date), 300.0, 120.0),
        (Reply::RetryAfter(429, "3".into()), 300.0, 3.0),
        // a receiver's "another copy is in flight" answer (design 4.4)
        (Reply::RetryAfter(409, "5".into()), 300.0, 5.0),
        (Reply::RetryAfter(503, "not a number".into()), 300.0, 1.0),
    ];
    for (reply, max_delay, expected_wait) in cases {
        let server = TestServer::start(vec![reply.clone(), Reply::Status(200)]).await;
        let mut config = endpoint(&server.url);
        config.retry_policy.max_delay = max_delay;
        let setup = setup(vec![config], Some(Arc::new(FixedClock(now))));
        let event = event();
        let report = send_one(&setup, &event).await;
        assert_eq!(report.outcome, Outcome::Delivered, "{reply:?}");
        assert_eq!(setup.sleeper.delays(), secs(&[expected_wait]), "{reply:?}");
        assert_eq!(server.received().len(), 2);
        assert_not_lost(
            &report,
            &setup.dead_letters,
            &Delivery::from_event(&event).unwrap(),
        );
    }
}

#[tokio::test]
async fn status_429_and_408_are_retried() {
    for (script, delays) in [
        (vec![Reply::Status(429), Reply::Status(200)], vec![1.0]),
        (
            vec![Reply::Status(408), Reply::Status(408), Reply::Status(202)],
            vec![1.0, 2.0],
        ),
        (
            vec![Reply::Status(502), Reply::Status(504), Reply::Status(204)],
            vec![1.0, 2.0],
        ),
    ] {
        let server = TestServer::start(script.clone()).await;
        let setup = setup(vec![endpoint(&server.url)], None);
        let event = event();
        let report = send_one(&setup, &event).await;
        assert_eq!(report.outcome, Outcome::Delivered, "{script:?}");
        assert_eq!(report.attempts.len(), script.len());
        assert_eq!(setup.sleeper.delays(), secs(&delays));
        assert_not_lost(
            &report,
            &setup.dead_letters,
            &Delivery::from_event(&event).unwrap(),
        );
    }
}

#[tokio::test]
async fn status_404_and_410_are_final_and_dead_lettered() {
    for status in [404, 410, 400, 401] {
        let server = TestServer::start(vec![Reply::Status(status), Reply::Status(200)]).await;
        let setup = setup(vec![endpoint(&server.url)], None);
        let event = event();
        let delivery = Delivery::from_event(&event).unwrap();
        let report = send_one(&setup, &event).await;
        assert_eq!(report.outcome, Outcome::Rejected, "{status}");
        assert_eq!(report.statuses(), [Some(status)]);
        assert_eq!(report.error, Some(format!("endpoint answered {status}")));
        assert!(setup.sleeper.delays().is_empty());
        assert_eq!(server.received().len(), 1);
        assert_not_lost(&report, &setup.dead_letters, &delivery);
        let letters = read_dead_letters(&setup.dead_letters).unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(
            (letters[0].attempts, letters[0].last_status),
            (1, Some(status))
        );
        assert_eq!(letters[0].last_error, format!("endpoint answered {status}"));
    }
}

#[tokio::test]
async fn connection_refused_is_retried_then_dead_lettered() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let setup = setup(vec![endpoint_with_attempts(&url, 3)], None);
    let event = event();
    let report = send_one(&setup, &event).await;
    assert_eq!(report.outcome, Outcome::Exhausted);
    assert_eq!(report.statuses(), [None, None, None]);
    for attempt in &report.attempts {
        let error = attempt.error.as_deref().unwrap();
        assert!(error.starts_with("connection failed"), "{error}");
        assert!(
            !error.contains(&port.to_string()) || !error.contains("http://"),
            "url leaked: {error}"
        );
    }
    assert_eq!(setup.sleeper.delays(), secs(&[1.0, 2.0]));
    assert_not_lost(
        &report,
        &setup.dead_letters,
        &Delivery::from_event(&event).unwrap(),
    );
    assert_eq!(
        read_dead_letters(&setup.dead_letters).unwrap()[0].attempts,
        3
    );
}

#[tokio::test]
async fn a_hanging_server_times_out_then_is_dead_lettered() {
    let server = TestServer::start(vec![Reply::Hang]).await;
    let mut config = endpoint_with_attempts(&server.url, 2);
    config.timeout = 0.3;
    let setup = setup(vec![config], None);
    let event = event();
    let started = Instant::now();
    let report = send_one(&setup, &event).await;
    let elapsed = started.elapsed();
    assert_eq!(report.outcome, Outcome::Exhausted);
    assert_eq!(report.statuses(), [None, None]);
    for attempt in &report.attempts {
        assert_eq!(attempt.error.as_deref(), Some("timed out after 300 ms"));
        assert!(
            attempt.duration >= Duration::from_millis(300),
            "{attempt:?}"
        );
    }
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    assert_eq!(server.received().len(), 2);
    assert_eq!(setup.sleeper.delays(), secs(&[1.0]));
    assert_not_lost(
        &report,
        &setup.dead_letters,
        &Delivery::from_event(&event).unwrap(),
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = TestServer::start(vec![Reply::Redirect, Reply::Status(200)]).await;
    let setup = setup(vec![endpoint(&server.url)], None);
    let event = event();
    let report = send_one(&setup, &event).await;
    assert_eq!(report.outcome, Outcome::Rejected);
    assert_eq!(report.final_status, Some(302));
    let received = server.received();
    assert_eq!(received.len(), 1, "the redirect was followed: {received:?}");
    assert_eq!(received[0].path, "/webhook");
    assert_not_lost(
        &report,
        &setup.dead_letters,
        &Delivery::from_event(&event).unwrap(),
    );
}

#[tokio::test]
async fn backoff_waits_are_exact_with_and_without_jitter() {
    // Defaults: 5 attempts, waits 1, 2, 4, 8 s.
    let server = TestServer::start(vec![Reply::Status(500)]).await;
    let setup = setup(vec![endpoint(&server.url)], None);
    let event = event();
    let report = send_one(&setup, &event).await;
    assert_eq!(report.outcome, Outcome::Exhausted);
    assert_eq!(report.attempts.len(), 5);
    assert_eq!(setup.sleeper.delays(), secs(&[1.0, 2.0, 4.0, 8.0]));
    assert_eq!(report.error.as_deref(), Some("endpoint answered 500"));
    assert_not_lost(
        &report,
        &setup.dead_letters,
        &Delivery::from_event(&event).unwrap(),
    );
    assert_eq!(setup.sender.metrics().retries_total, 4);

    // Capped at max_delay.
    let mut capped = endpoint_with_attempts(&server.url, 4);
    capped.retry_policy.initial_delay = 100.0;
    capped.retry_policy.backoff_multiplier = 3.0;
    capped.retry_policy.max_delay = 250.0;
    let setup = self::setup(vec![capped], None);
    send_one(&setup, &event).await;
    assert_eq!(setup.sleeper.delays(), secs(&[100.0, 250.0, 250.0]));

    // The guide's critical-service policy: 0.5 s times 1.5 per attempt.
    let mut guide = endpoint_with_attempts(&server.url, 4);
    guide.retry_policy.initial_delay = 0.5;
    guide.retry_policy.backoff_multiplier = 1.5;
    let setup = self::setup(vec![guide], None);
    send_one(&setup, &event).await;
    assert_eq!(setup.sleeper.delays(), secs(&[0.5, 0.75, 1.125]));

    // Jitter draws from the upper half of each wait.
    let mut jittered = endpoint_with_attempts(&server.url, 4);
    jittered.retry_policy.jitter = true;
    let setup = setup_with(vec![jittered], None, SecretKeys::one(SECRET), Some(0.5));
    send_one(&setup, &event).await;
    assert_eq!(setup.sleeper.delays(), secs(&[0.75, 1.5, 3.0]));
}

/// A clock that moves on a minute each time it is read.
#[derive(Debug)]
struct SteppingClock(Mutex<i64>);

impl Clock for SteppingClock {
    fn now(&self) -> DateTime<Utc> {
        let mut seconds = self.0.lock().unwrap();
        *seconds += 60;
        at(*seconds)
    }
}

#[tokio::test]
async fn standard_webhooks_headers_are_signed_afresh_on_every_attempt() {
    let server = TestServer::start(vec![
        Reply::Status(500),
        Reply::Status(503),
        Reply::Status(200),
    ])
    .await;
    let mut config = endpoint(&server.url);
    config.standard_webhooks = Some({
        let mut value = StandardWebhooksConfig::default();
        value.enabled = true;
        value.secret = SecretKeys::one(WHSEC);
        value.signing_key = None;
        value
    });
    let setup = setup(
        vec![config],
        Some(Arc::new(SteppingClock(Mutex::new(1_700_000_000)))),
    );
    let event = event();
    let delivery = Delivery::from_event(&event).unwrap();
    let report = send_one(&setup, &event).await;
    assert_eq!(report.outcome, Outcome::Delivered);
    let received = server.received();
    assert_eq!(received.len(), 3);
    let standard = StandardSecret::parse(WHSEC).unwrap();
    let verifier = Verifier::builder()
        .standard_secret(standard.clone())
        .schemes(&[Scheme::StandardWebhooks])
        .build()
        .unwrap();
    let mut timestamps = Vec::new();
    for request in &received {
        assert_wire_format(request, &delivery);
        assert_eq!(request.header("webhook-id"), Some(delivery.id()));
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            request.header("webhook-signature").unwrap(),
            sign::standard_signature(&standard, delivery.id(), timestamp, delivery.body())
        );
        let verified = verifier
            .verify_at(&request.headers, &request.body, at(timestamp))
            .unwrap();
        assert_eq!(verified.delivery.scheme, Scheme::StandardWebhooks);
        timestamps.push(timestamp);
    }
    assert!(timestamps.windows(2).all(|w| w[0] < w[1]), "{timestamps:?}");
    let signatures: Vec<&str> = received
        .iter()
        .map(|r| r.header("webhook-signature").unwrap())
        .collect();
    assert!(signatures[0] != signatures[1] && signatures[1] != signatures[2]);
    assert_not_lost(&report, &setup.dead_letters, &delivery);
}

#[tokio::test]
async fn v1a_loopback_signed_with_whsk_verified_with_whpk_on_every_attempt() {
    let server = TestServer::start(vec![Reply::Status(500), Reply::Status(200)]).await;
    let key = StandardSigningKey::from_seed(&[42; 32]);
    let mut config = endpoint(&server.url);
    config.standard_webhooks = Some({
        let mut value = StandardWebhooksConfig::default();
        value.enabled = true;
        value.secret = SecretKeys::one(WHSEC);
        value.signing_key = Some(key.to_whsk_string().as_str().into());
        value
    });
    let setup = setup(
        vec![config],
        Some(Arc::new(SteppingClock(Mutex::new(1_700_000_000)))),
    );
    let event = event();
    let delivery = Delivery::from_event(&event).unwrap();
    let report = send_one(&setup, &event).await;
    assert_eq!(report.outcome, Outcome::Delivered);
    let received = server.received();
    assert_eq!(received.len(), 2);
    // The receiver holds only the public key: nothing that can sign.
    let receiver = Verifier::builder()
        .standard_public_key(key.public_key().to_whpk_string().parse().unwrap())
        .build()
        .unwrap();
    let wrong = Verifier::builder()
        .standard_public_key(StandardSigningKey::from_seed(&[43; 32]).public_key())
        .build()
        .unwrap();
    let mut signatures = Vec::new();
    for request in &received {
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        let signature = request.header("webhook-signature").unwrap();
        let entries: Vec<&str> = signature.split(' ').collect();
        assert_eq!(entries.len(), 2, "{signature}");
        assert!(entries[0].starts_with("v1,") && entries[1].starts_with("v1a,"));
        let verified = receiver
            .verify_at(&request.headers, &request.body, at(timestamp))
            .unwrap();
        assert_eq!(verified.delivery.scheme, Scheme::StandardWebhooks);
        assert!(verified.delivery.asymmetric);
        assert_eq!(verified.delivery.delivery_id, delivery.id());
        assert_eq!(
            wrong
                .verify_at(&request.headers, &request.body, at(timestamp))
                .unwrap_err()
                .code(),
            "signature_mismatch"
        );
        signatures.push(signature.to_owned());
    }
    assert_ne!(signatures[0], signatures[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_slow_endpoint_never_delays_another() {
    let slow = TestServer::start(vec![Reply::Hang]).await;
    let fast = TestServer::start(vec![Reply::Status(200)]).await;
    let mut slow_config = endpoint_with_attempts(&slow.url, 1);
    slow_config.timeout = 2.0;
    let setup = setup(vec![slow_config, endpoint(&fast.url)], None);
    let event = event();
    let started = Instant::now();
    let report = setup.sender.send(&event).await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    let [slow_report, fast_report] = &report.deliveries[..] else {
        panic!("{report:?}")
    };
    assert_eq!(slow_report.outcome, Outcome::Exhausted);
    assert_eq!(fast_report.outcome, Outcome::Delivered);
    assert!(
        fast_report.duration < Duration::from_secs(1),
        "{:?}",
        fast_report.duration
    );
    let fast_arrival = fast.received()[0].at.duration_since(started);
    assert!(fast_arrival < Duration::from_secs(1), "{fast_arrival:?}");
    let delivery = Delivery::from_event(&event).unwrap();
    assert_not_lost(slow_report, &setup.dead_letters, &delivery);
    assert_not_lost(fast_report, &setup.dead_letters, &delivery);
}

#[tokio::test]
async fn key_rotation_sends_one_lowercase_entry_per_secret() {
    let server = TestServer::start(vec![Reply::Status(200)]).await;
    let setup = setup_with(
        vec![endpoint(&server.url)],
        None,
        SecretKeys::many(["new_secret", SECRET]),
        None,
    );
    let event = event();
    let report = send_one(&setup, &event).await;
    assert!(report.is_delivered());
    let request = &server.received()[0];
    let value = request.header("x-megabot-signature").unwrap();
    let entries: Vec<&str> = value.split(' ').collect();
    assert_eq!(entries.len(), 2);
    for entry in &entries {
        let hex = entry.strip_prefix("sha256=").unwrap();
        assert_eq!(hex.len(), 64);
        assert_eq!(hex, hex.to_ascii_lowercase());
    }
    // A receiver that only knows the old secret still accepts it.
    megabot_verifier(SECRET)
        .verify_at(&request.headers, &request.body, at(event.unix_timestamp()))
        .unwrap();
    megabot_verifier("new_secret")
        .verify_at(&request.headers, &request.body, at(event.unix_timestamp()))
        .unwrap();
    assert!(
        megabot_verifier("another")
            .verify_at(&request.headers, &request.body, at(event.unix_timestamp()))
            .is_err()
    );
}

#[tokio::test]
async fn metrics_total_the_reports() {
    let flaky = TestServer::start(vec![Reply::Status(500), Reply::Status(200)]).await;
    let gone = TestServer::start(vec![Reply::Status(410)]).await;
    let setup = setup(vec![endpoint(&flaky.url), endpoint(&gone.url)], None);
    let event = event();
    let report = setup.sender.send(&event).await.unwrap();
    assert!(!report.all_delivered());
    assert_eq!(report.failures().count(), 1);
    let metrics = setup.sender.metrics();
    assert_eq!(metrics.deliveries_total, 2);
    assert_eq!(metrics.deliveries_success, 1);
    assert_eq!(metrics.deliveries_failed, 1);
    assert_eq!(metrics.retries_total, 1);
    assert_eq!(metrics.success_rate, 0.5);
    let durations: Vec<Duration> = report.deliveries.iter().map(|d| d.duration).collect();
    assert_eq!(
        metrics.average_delivery_time,
        (durations[0] + durations[1]) / 2
    );
    assert_eq!(metrics.p95_delivery_time, durations[0].max(durations[1]));
    let delivery = Delivery::from_event(&event).unwrap();
    for report in &report.deliveries {
        assert_not_lost(report, &setup.dead_letters, &delivery);
    }
}

#[tokio::test]
async fn endpoints_added_and_removed_while_running() {
    let first = TestServer::start(vec![Reply::Status(200)]).await;
    let second = TestServer::start(vec![Reply::Status(200)]).await;
    let setup = setup(vec![endpoint(&first.url)], None);
    let first_id = setup.sender.endpoints()[0].0;
    let mut added = endpoint(&second.url);
    added.events = vec!["error_*".into()];
    let (second_id, warnings) = setup.sender.add_endpoint(added).unwrap();
    assert!(warnings.is_empty());
    let event = event();
    let report = setup.sender.send(&event).await.unwrap();
    let ids: Vec<_> = report.deliveries.iter().map(|d| d.endpoint).collect();
    assert_eq!(ids, [Some(first_id), Some(second_id)]);
    assert!(report.all_delivered());
    assert!(setup.sender.remove_endpoint(first_id).is_some());
    let report = setup.sender.send(&event).await.unwrap();
    assert_eq!(report.deliveries.len(), 1);
    assert_eq!(report.deliveries[0].endpoint, Some(second_id));
    assert_eq!((first.received().len(), second.received().len()), (1, 2));
    // An event the added endpoint does not subscribe to reaches no one.
    let other = examples::example(EventName::ChatMessageSent);
    let report = setup.sender.send(&other).await.unwrap();
    assert!(report.deliveries.is_empty());
    assert_eq!(report.skipped.len(), 1);
}

#[tokio::test]
async fn deliver_to_and_raw_bodies_for_the_cli() {
    let server = TestServer::start(vec![Reply::Status(200)]).await;
    let setup = setup(Vec::new(), None);
    // A user's file, sent byte for byte.
    let raw =
        br#"{"event": "error_occurred", "id": "evt_raw_1", "timestamp": 1640995205, "data": {}}"#;
    let delivery =
        Delivery::new("error_occurred", "evt_raw_1", 1_640_995_205, raw.to_vec()).unwrap();
    let mut config = endpoint(&server.url);
    config.secret = Some(SecretKeys::one("cli-secret"));
    let report = setup.sender.deliver_to(&config, &delivery).await.unwrap();
    assert!(report.is_delivered());
    assert_eq!(report.endpoint, None);
    let request = &server.received()[0];
    assert_eq!(request.body, raw);
    assert_eq!(
        request.header("x-megabot-signature"),
        Some(sign::megabot_signature(&Secret::new("cli-secret").unwrap(), raw).as_str())
    );
    let bad = setup
        .sender
        .deliver_to(&endpoint("http://example.com/x"), &delivery)
        .await
        .unwrap_err();
    assert!(
        bad.to_string().starts_with("endpoint.url: http://"),
        "{bad}"
    );
}

#[tokio::test]
async fn redelivery_from_the_dead_letter_file() {
    // Three 503s exhaust the first delivery; the endpoint then recovers.
    let server = TestServer::start(vec![
        Reply::Status(503),
        Reply::Status(503),
        Reply::Status(503),
        Reply::Status(200),
    ])
    .await;
    let broken = TestServer::start(vec![Reply::Status(500)]).await;
    let mut recovering = endpoint_with_attempts(&server.url, 3);
    recovering.headers.insert("Authorization", "token abc");
    let event = event();
    // now is the event's time: the MegaBot-scheme letter is not stale
    let setup = setup(
        vec![recovering, endpoint_with_attempts(&broken.url, 2)],
        Some(Arc::new(FixedClock(event.timestamp))),
    );
    let delivery = Delivery::from_event(&event).unwrap();
    let report = setup.sender.send(&event).await.unwrap();
    for report in &report.deliveries {
        assert_eq!(report.outcome, Outcome::Exhausted);
        assert_not_lost(report, &setup.dead_letters, &delivery);
    }
    let letters = read_dead_letters(&setup.dead_letters).unwrap();
    assert_eq!(letters.len(), 2);
    let recovering_letter = letters.iter().find(|l| l.url == server.url).unwrap();
    assert_eq!(
        recovering_letter.headers.get("Authorization"),
        Some("token abc")
    );

    let redelivery = setup.sender.redeliver(&setup.dead_letters).await.unwrap();
    assert_eq!(redelivery.results.len(), 2);
    assert_eq!(redelivery.delivered(), 1);
    assert_eq!(redelivery.still_failed, 1);
    let received = server.received();
    assert_eq!(received.len(), 4);
    assert_wire_format(&received[3], &delivery);
    assert_eq!(received[3].header("authorization"), Some("token abc"));
    // The file now holds only the delivery that failed again, with all its attempts.
    let left = read_dead_letters(&setup.dead_letters).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].url, broken.url);
    assert_eq!(left[0].attempts, 4);
    assert_eq!(
        left[0].body.as_deref().map(str::as_bytes),
        Some(delivery.body())
    );
    let dir_entries: Vec<String> = std::fs::read_dir(setup.dead_letters.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dir_entries, ["dead-letters.jsonl"]);

    // A file with a broken line is left as it was.
    let broken_file = setup.dead_letters.with_file_name("broken.jsonl");
    std::fs::write(&broken_file, "{\"not\":\"a record\"}\n").unwrap();
    let error = setup.sender.redeliver(&broken_file).await.unwrap_err();
    assert_eq!(error.code(), "dead_letter");
    assert_eq!(
        std::fs::read_to_string(&broken_file).unwrap(),
        "{\"not\":\"a record\"}\n"
    );
    assert!(
        setup
            .sender
            .redeliver(setup.dead_letters.with_file_name("none.jsonl"))
            .await
            .is_err()
    );
}
