//! `listen` over real loopback HTTP, on every framework.

mod common;

use common::Listener;
use megabot_webhook_verify::{Secret, sign};

const SECRET: &str = "listen_test_secret";

fn post(url: &str, body: &[u8], signature: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("X-MegaBot-Signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

#[test]
fn json_lines_for_every_fixture_on_every_framework() {
    let secret = Secret::new(SECRET).unwrap();
    for framework in ["axum", "actix-web", "warp"] {
        // the guide's timestamps are from 2022: accept them for this test
        let mut listener = Listener::start(&[
            "--secret",
            SECRET,
            "--framework",
            framework,
            "--json",
            "--tolerance",
            "2000000000",
        ]);
        for (name, body) in common::fixtures() {
            let signature = sign::megabot_signature(&secret, &body);
            assert_eq!(
                post(&listener.url, &body, &signature).0,
                200,
                "{framework} {name}"
            );
            let line = listener.next_line();
            let parsed: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let original: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(parsed["scheme"], "megabot");
            assert_eq!(parsed["event"], original["event"], "{framework} {name}");
            assert_eq!(parsed["id"], original["id"]);
            assert_eq!(parsed["timestamp"], original["timestamp"]);
            assert_eq!(parsed["data"], original["data"]);
            let keys: Vec<_> = parsed.as_object().unwrap().keys().cloned().collect();
            assert_eq!(keys, ["scheme", "event", "id", "timestamp", "data"]);
            // a replay is answered but prints nothing
            let (status, answer) = post(&listener.url, &body, &signature);
            assert_eq!(
                (status, answer.as_str()),
                (200, r#"{"status":"duplicate"}"#)
            );
        }
        let (status, answer) = post(&listener.url, b"{}", "sha256=00");
        assert_eq!(status, 401, "{framework}");
        assert!(
            answer.contains("\"error\":\"malformed_signature\""),
            "{answer}"
        );
    }
}

/// A route path that is not a literal `/...` path is a usage error (exit 2) with a
/// clear message, on every framework; axum used to panic on it.
#[test]
fn invalid_paths_are_usage_errors() {
    for framework in ["axum", "actix-web", "warp"] {
        for path in ["webhook", "", "/*x", "/a/:b"] {
            let output = common::run(
                &[
                    "listen",
                    "--secret",
                    SECRET,
                    "--addr",
                    "127.0.0.1:0",
                    "--framework",
                    framework,
                    "--path",
                    path,
                ],
                b"",
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{framework} {path:?}: {stderr}"
            );
            assert!(stderr.contains("invalid --path"), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}

/// A loopback app for `--forward-to`: counts its calls, sleeps for the forwarded
/// `x-test-delay-ms` header, and answers 201 with what it saw.
struct App {
    url: String,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl App {
    fn start() -> App {
        use std::sync::atomic::Ordering;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&calls);
        let addr = runtime.block_on(async move {
            let app = axum::Router::new().route(
                "/app",
                axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                    let counted = std::sync::Arc::clone(&counted);
                    async move {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let delay = headers
                            .get("x-test-delay-ms")
                            .and_then(|value| value.to_str().ok())
                            .and_then(|value| value.parse().ok())
                            .unwrap_or(0);
                        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                        let seen = serde_json::json!({
                            "app": true,
                            "signed": headers.contains_key("x-megabot-signature"),
                            "body_len": body.len(),
                            "hop_by_hop": headers.contains_key("connection")
                                || headers.contains_key("content-encoding"),
                        });
                        (
                            axum::http::StatusCode::CREATED,
                            [("content-type", "application/json")],
                            seen.to_string(),
                        )
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            addr
        });
        App {
            url: format!("http://{addr}/app"),
            calls,
            _runtime: runtime,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Posts a signed delivery with extra headers and a client timeout: `None` when the
/// attempt timed out.
fn post_with(
    url: &str,
    body: &[u8],
    extra: &[(&str, &str)],
    timeout: std::time::Duration,
) -> Option<(u16, String)> {
    let secret = Secret::new(SECRET).unwrap();
    let signature = sign::megabot_signature(&secret, body);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
            .unwrap()
            .post(url)
            .header("content-type", "application/json")
            .header("connection", "keep-alive")
            .header("X-MegaBot-Signature", signature)
            .body(body.to_vec());
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    })
}

fn delivery(id: &str) -> Vec<u8> {
    let now = chrono::Utc::now().timestamp();
    format!(r#"{{"event":"error_occurred","id":"{id}","timestamp":{now},"data":{{}}}}"#)
        .into_bytes()
}

/// design 9.4 + 9.12: a slow app runs once per delivery even when the sender's attempt
/// times out: the retry gets 409 while it runs and `200 duplicate` after; the app's
/// answer (status and body) is `listen`'s; on every framework.
#[test]
fn forward_to_runs_a_slow_app_once_per_delivery_on_every_framework() {
    use std::time::{Duration, Instant};
    for framework in ["axum", "actix-web", "warp"] {
        let app = App::start();
        let listener = Listener::start(&[
            "--secret",
            SECRET,
            "--framework",
            framework,
            "--forward-to",
            &app.url,
        ]);
        // A quick delivery: the app's status and body come back.
        let body = delivery(&format!("evt_fwd_quick_{framework}"));
        let (status, answer) =
            post_with(&listener.url, &body, &[], Duration::from_secs(30)).unwrap();
        assert_eq!(status, 201, "{framework}: {answer}");
        let seen: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(seen["app"], true, "{answer}");
        assert_eq!(seen["signed"], true, "{answer}");
        assert_eq!(seen["hop_by_hop"], false, "{answer}");
        assert_eq!(seen["body_len"], body.len(), "{answer}");
        assert_eq!(app.calls(), 1);

        // A slow one whose first attempt times out.
        let body = delivery(&format!("evt_fwd_slow_{framework}"));
        let slow = [("x-test-delay-ms", "1500")];
        let started = Instant::now();
        assert!(
            post_with(&listener.url, &body, &slow, Duration::from_millis(200)).is_none(),
            "{framework}: the first attempt must time out"
        );
        std::thread::sleep(Duration::from_millis(200));
        let (status, answer) =
            post_with(&listener.url, &body, &slow, Duration::from_secs(30)).unwrap();
        assert_eq!(status, 409, "{framework}: {answer}");
        let answer = loop {
            let (status, answer) =
                post_with(&listener.url, &body, &slow, Duration::from_secs(30)).unwrap();
            if status == 200 {
                break answer;
            }
            assert_eq!(status, 409, "{framework}: {answer}");
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{framework}: stuck"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(answer, r#"{"status":"duplicate"}"#, "{framework}");
        assert_eq!(
            app.calls(),
            2,
            "{framework}: the slow app ran more than once"
        );
    }
}

/// design 9.12: an unreachable app is `502 forward_failed`, a slow one `504
/// forward_timeout`; both release the claim, so the retry runs again.
#[test]
fn forward_failures_are_502_and_504_and_release_the_claim() {
    use std::time::Duration;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/app", closed.local_addr().unwrap());
    drop(closed);
    let listener = Listener::start(&["--secret", SECRET, "--forward-to", &dead_url]);
    let body = delivery("evt_fwd_dead");
    for _ in 0..2 {
        let (status, answer) =
            post_with(&listener.url, &body, &[], Duration::from_secs(30)).unwrap();
        assert_eq!(status, 502, "{answer}");
        assert!(answer.contains(r#""error":"forward_failed""#), "{answer}");
    }
    drop(listener);

    let app = App::start();
    let listener = Listener::start(&[
        "--secret",
        SECRET,
        "--forward-to",
        &app.url,
        "--forward-timeout",
        "1",
    ]);
    let body = delivery("evt_fwd_slow_app");
    let slow = [("x-test-delay-ms", "1500")];
    for calls in 1..=2 {
        let (status, answer) =
            post_with(&listener.url, &body, &slow, Duration::from_secs(30)).unwrap();
        assert_eq!(status, 504, "{answer}");
        assert!(answer.contains(r#""error":"forward_timeout""#), "{answer}");
        assert_eq!(app.calls(), calls, "released: the retry runs again");
    }
}
