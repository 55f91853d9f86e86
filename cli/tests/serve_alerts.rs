//! `serve --config` with `webhook_alerts`: the alert engine runs, and dead
//! deliveries of a failing config endpoint raise one Slack alert (to a
//! loopback stand-in) whose text names the endpoint and the rate.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use common::bin;

const TOKEN: &str = "serve-alerts-admin-token-0123456789abcdef";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn slack(State(seen): State<Arc<Mutex<Vec<String>>>>, body: Bytes) -> &'static str {
    seen.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    "ok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_alert_engine_from_the_config() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slack_url = format!(
        "http://{}/services/T/B/tok3n",
        listener.local_addr().unwrap()
    );
    let app = Router::new().fallback(slack).with_state(seen.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // An endpoint on a closed port: every delivery goes dead after one attempt.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mega-config.yaml");
    std::fs::write(
        &config,
        format!(
            "webhooks:\n  secret_key: s\n  endpoints:\n    - url: \"{dead_url}\"\n      events: [\"*\"]\n      retry_policy:\n        max_attempts: 1\n\
             webhook_alerts:\n  failure_threshold: 0.95\n  min_samples: 2\n  channels:\n    - type: slack\n      webhook_url: \"${{SLACK_ALERT_WEBHOOK}}\"\n      message: \"Webhook delivery failure detected\"\n"
        ),
    )
    .unwrap();
    let mut child = bin()
        .args(["serve", "--addr", "127.0.0.1:0", "--allow-private-targets"])
        .arg("--store")
        .arg(dir.path().join("d.sqlite3"))
        .arg("--config")
        .arg(&config)
        .env("MEGABOT_ADMIN_TOKEN", TOKEN)
        .env("SLACK_ALERT_WEBHOOK", &slack_url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let child = Killed(child);
    let mut head = String::new();
    let mut base = None;
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap_or(0) > 0 {
        head.push_str(&line);
        if let Some(rest) = line.strip_prefix("serving the webhook API on ") {
            base = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
        line.clear();
    }
    let base = base.unwrap_or_else(|| panic!("serve did not start: {head}"));
    assert!(head.contains("alerting to slack[0] (127.0.0.1)"), "{head}");
    assert!(!head.contains("tok3n"), "{head}");
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    for _ in 0..2 {
        let out = bin()
            .args(["publish", "--url", &base, "--event", "error_occurred"])
            .env("MEGABOT_ADMIN_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no alert reached the slack stand-in"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body: serde_json::Value = serde_json::from_str(&seen.lock().unwrap()[0]).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("Webhook delivery failure detected: endpoint cfg_0_")
            && text.ends_with(
                ": success rate 0.0% (0 of 2 deliveries delivered) over the last 300 s, below 95%"
            ),
        "{text}"
    );
    drop(child);
    let rest = rest.join().unwrap();
    assert!(!rest.contains("tok3n") && !rest.contains(TOKEN), "{rest}");
    server.abort();
}
