// Over 600 lines: the shared table of webhook cases, one entry a case, that every
// framework's test file runs; one table keeps the frameworks held to the same cases.
//! The shared table of webhook cases, run over real loopback HTTP against each framework.
//!
//! Over 600 lines because it is the table: every case lives here once, so the three
//! frameworks run exactly the same cases.
//!
//! Each framework's test file provides a `start` function (verifier + recorder → the
//! address of a fresh server on 127.0.0.1:0 serving `POST /webhook`) and expands
//! [`webhook_cases!`], which is the table: one `#[tokio::test]` per case. Every case
//! asserts the status, the body and how often the handler ran.

#![allow(dead_code, unreachable_pub)] // each test binary uses what its framework needs

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_types::EventPayload;
use megabot_webhook_verify::{
    Claim, ClaimOutcome, ReplayGuard, Scheme, Secret, StandardSecret, Verifier, sign,
};
use serde_json::{Value, json};

/// The MegaBot-scheme secret the servers hold.
pub const SECRET: &str = "test_webhook_secret";
/// The raw key of the Standard Webhooks secret the servers hold.
pub const STANDARD_KEY: &[u8] = b"standard-webhooks-test-key-32byt";

/// Starts a server for `verifier` whose `/webhook` handler is `recorder.handle`.
pub type Start = fn(Verifier, Arc<Recorder>) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>>;

/// What the handler does on a call.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// Answer 200.
    Succeed,
    /// Answer 500.
    Fail,
    /// Panic.
    Panic,
    /// Sleep, then answer 200.
    SleepThenSucceed(Duration),
}

/// One handler call as the handler saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub delivery_id: String,
    pub name: String,
    pub kind: &'static str,
    pub scheme: Scheme,
    pub secret_index: usize,
    pub body: Vec<u8>,
}

/// The test handler: counts calls, records what it saw and follows a script of actions
/// (default: succeed).
#[derive(Debug, Default)]
pub struct Recorder {
    calls: AtomicUsize,
    script: Mutex<VecDeque<Action>>,
    default: Mutex<Option<Action>>,
    seen: Mutex<Vec<Seen>>,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    /// Runs `actions` on the next calls, then `Succeed`.
    pub fn script(actions: &[Action]) -> Arc<Recorder> {
        let recorder = Recorder::default();
        recorder.script.lock().unwrap().extend(actions);
        Arc::new(recorder)
    }

    /// Runs `action` on every call.
    pub fn always(action: Action) -> Arc<Recorder> {
        let recorder = Recorder::default();
        *recorder.default.lock().unwrap() = Some(action);
        Arc::new(recorder)
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The handler: returns the HTTP status to answer (or panics).
    pub async fn handle(&self, hook: Webhook) -> u16 {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let kind = match &hook.event().payload {
            EventPayload::Unknown { .. } => "unknown",
            EventPayload::Malformed { .. } => "malformed",
            _ => "typed",
        };
        self.seen.lock().unwrap().push(Seen {
            delivery_id: hook.delivery_id().to_owned(),
            name: hook.event().name().to_owned(),
            kind,
            scheme: hook.scheme(),
            secret_index: hook.secret_index(),
            body: hook.body().to_vec(),
        });
        let action = self.script.lock().unwrap().pop_front();
        let action = action.or(*self.default.lock().unwrap());
        match action.unwrap_or(Action::Succeed) {
            Action::Succeed => 200,
            Action::Fail => 500,
            Action::Panic => panic!("test handler panics on purpose"),
            Action::SleepThenSucceed(duration) => {
                tokio::time::sleep(duration).await;
                200
            }
        }
    }
}

/// The verifier every server uses: both schemes, default 1 MiB cap and 300 s tolerance.
pub fn verifier() -> Verifier {
    Verifier::builder()
        .megabot_secret(Secret::new(SECRET).unwrap())
        .standard_secret(StandardSecret::from_bytes(STANDARD_KEY).unwrap())
        .build()
        .unwrap()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A compact envelope body.
pub fn envelope(event: &str, id: &str, timestamp: i64, data: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "event": event, "id": id, "timestamp": timestamp, "data": data }))
        .unwrap()
}

/// Every fixture of `megabot-webhook-types`, compacted, with a fresh timestamp and a
/// unique id: (event name, body).
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../megabot-webhook-types/tests/data/events"
    );
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "fixtures missing in {dir}");
    paths
        .iter()
        .enumerate()
        .map(|(index, path)| {
            let mut value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            value["timestamp"] = json!(now());
            value["id"] = json!(format!("evt_fixture_{index}"));
            let name = value["event"].as_str().unwrap().to_owned();
            (name, serde_json::to_vec(&value).unwrap())
        })
        .collect()
}

/// MegaBot-scheme headers for `body`, signed with `secret`.
pub fn megabot_headers(secret: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        (
            "x-megabot-signature",
            sign::megabot_signature(&Secret::new(secret).unwrap(), body),
        ),
    ]
}

/// Standard Webhooks headers for `body`.
pub fn standard_headers(id: &str, timestamp: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    let secret = StandardSecret::from_bytes(STANDARD_KEY).unwrap();
    vec![
        ("content-type", "application/json".to_owned()),
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            sign::standard_signature(&secret, id, timestamp, body),
        ),
    ]
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// An answer from the server.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

impl Answer {
    /// Asserts an error answer: status, and a body of exactly `error` and `message`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        let object = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {self:?}"));
        assert_eq!(object.len(), 2, "{self:?}");
        assert_eq!(object["error"], code, "{self:?}");
        assert!(
            object["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{self:?}"
        );
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json"),
            "{self:?}"
        );
    }

    /// Asserts `200 {"status":"duplicate"}`.
    #[track_caller]
    pub fn assert_duplicate(&self) {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.body, json!({ "status": "duplicate" }), "{self:?}");
    }

    /// Asserts the handler's own 200 answer.
    #[track_caller]
    pub fn assert_handled(&self) {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.body, json!({ "handled": true }), "{self:?}");
    }
}

/// The handler's answer body for `status` (what the framework handlers send).
pub fn handler_body(status: u16) -> String {
    if status == 200 {
        r#"{"handled":true}"#.to_owned()
    } else {
        r#"{"handled":false}"#.to_owned()
    }
}

/// A loopback client for one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    pub addr: SocketAddr,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            url: format!("http://{addr}/webhook"),
            addr,
        }
    }

    pub async fn post(&self, headers: &[(&str, String)], body: impl Into<reqwest::Body>) -> Answer {
        let mut request = self.http.post(&self.url).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        let retry_after = header("retry-after");
        let content_type = header("content-type");
        let bytes = response.bytes().await.expect("response body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            retry_after,
            content_type,
            body,
        }
    }

    /// Posts `body` as a chunked stream of `chunk`-byte pieces (no `Content-Length`).
    pub async fn post_chunked(
        &self,
        headers: &[(&str, String)],
        body: Vec<u8>,
        chunk: usize,
    ) -> Answer {
        let pieces: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(chunk)
            .map(|piece| Ok(Bytes::copy_from_slice(piece)))
            .collect();
        let stream = futures_util::stream::iter(pieces);
        self.post(headers, reqwest::Body::wrap_stream(stream)).await
    }
}

async fn serve(start: Start, recorder: &Arc<Recorder>) -> Client {
    Client::new(start(verifier(), Arc::clone(recorder)).await)
}

// ---- the cases ----

pub async fn fixtures_are_accepted(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let fixtures = fixtures();
    for (_, body) in &fixtures {
        client
            .post(&megabot_headers(SECRET, body), body.clone())
            .await
            .assert_handled();
    }
    assert_eq!(recorder.calls(), fixtures.len());
    let seen = recorder.seen();
    for ((name, body), seen) in fixtures.iter().zip(&seen) {
        assert_eq!(&seen.name, name);
        assert_eq!(seen.kind, "typed", "{name}");
        assert_eq!(seen.scheme, Scheme::MegaBot);
        assert_eq!(&seen.body, body);
    }
}

pub async fn tampered_body_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope(
        "error_occurred",
        "evt_tampered",
        now(),
        json!({"message": "a"}),
    );
    let headers = megabot_headers(SECRET, &body);
    let tampered = String::from_utf8(body).unwrap().replace("\"a\"", "\"b\"");
    client
        .post(&headers, tampered)
        .await
        .assert_error(401, "signature_mismatch");
    assert_eq!(recorder.calls(), 0);
}

pub async fn wrong_secret_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_wrong_secret", now(), json!({}));
    client
        .post(&megabot_headers("not_the_secret", &body), body)
        .await
        .assert_error(401, "signature_mismatch");
    assert_eq!(recorder.calls(), 0);
}

pub async fn missing_signature_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_unsigned", now(), json!({}));
    let headers = [("content-type", "application/json".to_owned())];
    client
        .post(&headers, body)
        .await
        .assert_error(401, "missing_signature");
    assert_eq!(recorder.calls(), 0);
}

pub async fn malformed_signature_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_malformed", now(), json!({}));
    for value in ["sha256=not-hex", "md5=0123", "sha256=abcd"] {
        let headers = [("x-megabot-signature", value.to_owned())];
        client
            .post(&headers, body.clone())
            .await
            .assert_error(401, "malformed_signature");
    }
    assert_eq!(recorder.calls(), 0);
}

pub async fn stale_and_future_timestamps_are_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let stale = envelope("error_occurred", "evt_stale", now() - 301 - 5, json!({}));
    client
        .post(&megabot_headers(SECRET, &stale), stale)
        .await
        .assert_error(401, "timestamp_too_old");
    let future = envelope("error_occurred", "evt_future", now() + 301 + 5, json!({}));
    client
        .post(&megabot_headers(SECRET, &future), future)
        .await
        .assert_error(401, "timestamp_too_new");
    // The same for Standard Webhooks' signed attempt timestamp.
    let body = envelope("error_occurred", "evt_std_stale", now(), json!({}));
    let headers = standard_headers("msg_stale", now() - 400, &body);
    client
        .post(&headers, body)
        .await
        .assert_error(401, "timestamp_too_old");
    assert_eq!(recorder.calls(), 0);
}

pub async fn standard_webhooks_delivery_is_accepted(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope(
        "tool_execution_started",
        "evt_std",
        now(),
        json!({"tool_name": "x"}),
    );
    let headers = standard_headers("msg_std_1", now(), &body);
    client.post(&headers, body.clone()).await.assert_handled();
    // Replay key is webhook-id: the same id again is a duplicate.
    client.post(&headers, body).await.assert_duplicate();
    assert_eq!(recorder.calls(), 1);
    let seen = &recorder.seen()[0];
    assert_eq!(seen.scheme, Scheme::StandardWebhooks);
    assert_eq!(seen.secret_index, 0);
    assert_eq!(seen.delivery_id, "msg_std_1");
}

pub async fn replay_after_success_is_a_duplicate(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_replay", now(), json!({}));
    let headers = megabot_headers(SECRET, &body);
    client.post(&headers, body.clone()).await.assert_handled();
    client.post(&headers, body.clone()).await.assert_duplicate();
    client.post(&headers, body).await.assert_duplicate();
    assert_eq!(recorder.calls(), 1);
}

pub async fn failed_handler_lets_the_retry_run(start: Start) {
    let recorder = Recorder::script(&[Action::Fail]);
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_retry", now(), json!({}));
    let headers = megabot_headers(SECRET, &body);
    let first = client.post(&headers, body.clone()).await;
    assert_eq!(first.status, 500, "{first:?}");
    assert_eq!(first.body, json!({ "handled": false }));
    client.post(&headers, body.clone()).await.assert_handled();
    assert_eq!(recorder.calls(), 2);
    client.post(&headers, body).await.assert_duplicate();
    assert_eq!(recorder.calls(), 2);
}

pub async fn panicking_handler_lets_the_retry_run(start: Start) {
    let recorder = Recorder::script(&[Action::Panic]);
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_panic", now(), json!({}));
    let headers = megabot_headers(SECRET, &body);
    client
        .post(&headers, body.clone())
        .await
        .assert_error(500, "handler_panicked");
    client.post(&headers, body.clone()).await.assert_handled();
    assert_eq!(recorder.calls(), 2);
    client.post(&headers, body).await.assert_duplicate();
    assert_eq!(recorder.calls(), 2);
}

pub async fn concurrent_copies_run_once(start: Start) {
    let recorder = Recorder::always(Action::SleepThenSucceed(Duration::from_millis(200)));
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_concurrent", now(), json!({}));
    let headers = megabot_headers(SECRET, &body);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let client = client.clone();
            let headers = headers.clone();
            let body = body.clone();
            tokio::spawn(async move { client.post(&headers, body).await })
        })
        .collect();
    let mut handled = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.status {
            200 if answer.body == json!({ "handled": true }) => handled += 1,
            200 => answer.assert_duplicate(),
            _ => {
                answer.assert_error(409, "replay_in_flight");
                assert!(answer.retry_after.is_some(), "{answer:?}");
            }
        }
    }
    assert_eq!(handled, 1);
    assert_eq!(recorder.calls(), 1);
}

/// A body one byte over the default 1 MiB cap.
fn oversized() -> Vec<u8> {
    let padding = "x".repeat(1_048_576);
    envelope(
        "error_occurred",
        "evt_big",
        now(),
        json!({ "padding": padding }),
    )
}

/// The refusal comes from `Content-Length` alone, before any of the body is read: the
/// client sends the head only (a client still writing the body may see the closed
/// connection instead of the answer, so the test does not write it).
pub async fn oversized_body_with_content_length_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = oversized();
    let signature = sign::megabot_signature(&Secret::new(SECRET).unwrap(), &body);
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nx-megabot-signature: {signature}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let answer = raw_exchange(client.addr, &head, b"").await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""error":"body_too_large""#), "{answer}");
    assert_eq!(recorder.calls(), 0);
}

pub async fn oversized_chunked_body_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = oversized();
    client
        .post_chunked(&megabot_headers(SECRET, &body), body, 16 * 1024)
        .await
        .assert_error(413, "body_too_large");
    assert_eq!(recorder.calls(), 0);
}

pub async fn chunked_body_is_accepted(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope(
        "error_occurred",
        "evt_chunked",
        now(),
        json!({"message": "m".repeat(5000)}),
    );
    client
        .post_chunked(&megabot_headers(SECRET, &body), body.clone(), 1000)
        .await
        .assert_handled();
    assert_eq!(recorder.calls(), 1);
    assert_eq!(recorder.seen()[0].body, body);
}

pub async fn gzip_body_is_accepted(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope(
        "error_occurred",
        "evt_gzip",
        now(),
        json!({"message": "z".repeat(10_000)}),
    );
    let mut headers = megabot_headers(SECRET, &body);
    headers.push(("content-encoding", "gzip".to_owned()));
    let wire = gzip(&body);
    assert!(wire.len() < body.len() / 10);
    client.post(&headers, wire.clone()).await.assert_handled();
    client
        .post_chunked(&headers, wire, 100)
        .await
        .assert_duplicate();
    assert_eq!(recorder.calls(), 1);
    assert_eq!(
        recorder.seen()[0].body,
        body,
        "the handler sees the decoded bytes"
    );
}

pub async fn gzip_bomb_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    // 64 MiB of zeros compress to about 64 KiB: far under the cap on the wire.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 1 << 17);
    let headers = [
        ("content-encoding", "gzip".to_owned()),
        ("x-megabot-signature", format!("sha256={}", "0".repeat(64))),
    ];
    client
        .post(&headers, bomb)
        .await
        .assert_error(413, "body_too_large");
    assert_eq!(recorder.calls(), 0);
}

pub async fn unsupported_encoding_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_br", now(), json!({}));
    let mut headers = megabot_headers(SECRET, &body);
    headers.push(("content-encoding", "br".to_owned()));
    client
        .post(&headers, body)
        .await
        .assert_error(415, "unsupported_encoding");
    assert_eq!(recorder.calls(), 0);
}

pub async fn unknown_event_reaches_the_handler(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope(
        "quantum_flux_detected",
        "evt_unknown",
        now(),
        json!({"level": 9}),
    );
    client
        .post(&megabot_headers(SECRET, &body), body)
        .await
        .assert_handled();
    assert_eq!(recorder.calls(), 1);
    let seen = &recorder.seen()[0];
    assert_eq!(seen.kind, "unknown");
    assert_eq!(seen.name, "quantum_flux_detected");
}

pub async fn signed_non_envelope_is_a_bad_request(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = br#"{"hello":"world"}"#.to_vec();
    client
        .post(&megabot_headers(SECRET, &body), body)
        .await
        .assert_error(400, "invalid_envelope");
    assert_eq!(recorder.calls(), 0);
}

/// A replay store that is always unreachable.
#[derive(Debug)]
struct UnreachableStore;

#[async_trait::async_trait]
impl ReplayGuard for UnreachableStore {
    async fn claim(
        &self,
        _: &str,
        _: chrono::DateTime<chrono::Utc>,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<ClaimOutcome, megabot_webhook_verify::Error> {
        Err(megabot_webhook_verify::Error::replay_store_unavailable(
            std::io::Error::other("connection refused"),
        ))
    }
    async fn complete(
        &self,
        _: &Claim,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), megabot_webhook_verify::Error> {
        unreachable!("nothing is ever claimed")
    }
    async fn release(&self, _: &Claim) -> Result<(), megabot_webhook_verify::Error> {
        unreachable!("nothing is ever claimed")
    }
}

pub async fn store_outage_fails_closed(start: Start) {
    let recorder = Recorder::new();
    let verifier = Verifier::builder()
        .megabot_secret(Secret::new(SECRET).unwrap())
        .replay_guard(Arc::new(UnreachableStore))
        .build()
        .unwrap();
    let client = Client::new(start(verifier, Arc::clone(&recorder)).await);
    let body = envelope("error_occurred", "evt_outage", now(), json!({}));
    let answer = client.post(&megabot_headers(SECRET, &body), body).await;
    answer.assert_error(503, "replay_store_unavailable");
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
    assert_eq!(recorder.calls(), 0);
}

/// Sends `head` and `body` on a raw connection, closes its write half (after `pause`)
/// and reads the whole answer.
pub async fn raw_exchange(addr: SocketAddr, head: &str, body: &[u8]) -> String {
    raw_exchange_paused(addr, head, body, Duration::ZERO).await
}

/// [`raw_exchange`], closing the write half only `pause` after the body was sent.
pub async fn raw_exchange_paused(
    addr: SocketAddr,
    head: &str,
    body: &[u8],
    pause: Duration,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    tokio::time::sleep(pause).await;
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// A body shorter than its `Content-Length` (the client ended the connection early)
/// is `400 body_truncated`, even when what arrived is authentic (design 9.8).
pub async fn truncated_body_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_truncated", now(), json!({}));
    let signature = sign::megabot_signature(&Secret::new(SECRET).unwrap(), &body);
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nx-megabot-signature: {signature}\r\ncontent-length: {}\r\n\r\n",
        body.len() + 10
    );
    // The connection ends with the body, or a moment after it.
    for pause in [Duration::ZERO, Duration::from_millis(300)] {
        let answer = raw_exchange_paused(client.addr, &head, &body, pause).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{pause:?}: {answer}");
        assert!(
            answer.contains(r#""error":"body_truncated""#),
            "{pause:?}: {answer}"
        );
    }
    assert_eq!(recorder.calls(), 0);
}

/// An authentic envelope with an empty `id` cannot be deduplicated: 400.
pub async fn empty_id_is_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "", now(), json!({}));
    client
        .post(&megabot_headers(SECRET, &body), body)
        .await
        .assert_error(400, "invalid_envelope");
    assert_eq!(recorder.calls(), 0);
}

/// Repeated signature headers are refused (401 `repeated_signature_header`), whatever
/// the lines hold and in whichever order; the handler never runs.
pub async fn repeated_signature_headers_are_refused(start: Start) {
    let recorder = Recorder::new();
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_repeated", now(), json!({}));
    let valid = sign::megabot_signature(&Secret::new(SECRET).unwrap(), &body);
    let wrong = format!("sha256={}", "0".repeat(64));
    for pair in [
        [valid.clone(), wrong.clone()],
        [wrong.clone(), valid.clone()],
        [valid.clone(), valid.clone()],
    ] {
        let headers = [
            ("x-megabot-signature", pair[0].clone()),
            ("X-MegaBot-Signature", pair[1].clone()),
        ];
        client
            .post(&headers, body.clone())
            .await
            .assert_error(401, "repeated_signature_header");
    }
    let mut headers = standard_headers("msg_repeated", now(), &body);
    let signature = headers[3].1.clone();
    headers.push(("webhook-signature", signature));
    client
        .post(&headers, body.clone())
        .await
        .assert_error(401, "repeated_signature_header");
    assert_eq!(recorder.calls(), 0);
    // One line each: accepted.
    client
        .post(&megabot_headers(SECRET, &body), body)
        .await
        .assert_handled();
}

/// The client gives up while the handler runs (design 9.4): the started handler runs to
/// completion anyway, a retry meanwhile gets `409`, and once the handler succeeded a
/// retry gets `200 duplicate`. The handler runs exactly once.
pub async fn started_handler_runs_to_completion(start: Start) {
    let recorder = Recorder::script(&[Action::SleepThenSucceed(Duration::from_millis(1500))]);
    let client = serve(start, &recorder).await;
    let body = envelope("error_occurred", "evt_dropped", now(), json!({}));
    let headers = megabot_headers(SECRET, &body);
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut request = impatient.post(client.url.clone()).body(body.clone());
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    let started = std::time::Instant::now();
    assert!(
        request.send().await.is_err(),
        "the first request must time out"
    );
    // Give the server a moment to notice the disconnect (and, before design 9.4, to
    // cancel the handler and release the claim).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let retry = client.post(&headers, body.clone()).await;
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "the retry came too late"
    );
    retry.assert_error(409, "replay_in_flight");
    assert!(retry.retry_after.is_some(), "{retry:?}");
    let answer = loop {
        let answer = client.post(&headers, body.clone()).await;
        if answer.status == 200 {
            break answer;
        }
        answer.assert_error(409, "replay_in_flight");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "delivery stuck in flight"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    answer.assert_duplicate();
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(recorder.calls(), 1);
}

/// The table: one test per case, for the framework whose `start` is given.
macro_rules! webhook_cases {
    ($start:path) => {
        webhook_cases!(@cases $start,
            fixtures_are_accepted,
            tampered_body_is_refused,
            wrong_secret_is_refused,
            missing_signature_is_refused,
            malformed_signature_is_refused,
            stale_and_future_timestamps_are_refused,
            standard_webhooks_delivery_is_accepted,
            replay_after_success_is_a_duplicate,
            failed_handler_lets_the_retry_run,
            panicking_handler_lets_the_retry_run,
            concurrent_copies_run_once,
            oversized_body_with_content_length_is_refused,
            oversized_chunked_body_is_refused,
            chunked_body_is_accepted,
            gzip_body_is_accepted,
            gzip_bomb_is_refused,
            unsupported_encoding_is_refused,
            unknown_event_reaches_the_handler,
            signed_non_envelope_is_a_bad_request,
            store_outage_fails_closed,
            started_handler_runs_to_completion,
            repeated_signature_headers_are_refused,
            empty_id_is_refused,
            truncated_body_is_refused,
        );
    };
    (@cases $start:path, $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                common::$case($start).await;
            }
        )*
    };
}
