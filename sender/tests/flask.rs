//! The guide's own Flask receiver (`verify_webhook_signature`, run with Flask
//! from requirements-test.txt) accepts the sender's deliveries: every fixture
//! and generated unicode / float payloads. It refuses what it should: a wrong
//! secret, a body with spaces, and two signature entries (which is why the
//! sender sends exactly one by default).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use megabot_webhook_sender::config::{EndpointConfig, SecretKeys, WebhooksConfig};
use megabot_webhook_sender::{Delivery, MemoryDeadLetters, Outcome, RecordingSleeper, Sender};
use megabot_webhook_types::Event;
use serde_json::{Map, Value, json};

/// The Flask app on a free loopback port, killed when dropped.
struct Flask {
    child: Child,
    url: String,
    base: String,
}

impl Drop for Flask {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Flask {
    fn start() -> Flask {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/flask_guide_receiver.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "python3 must be installed (scripts/test.sh installs it and requirements-test.txt)",
            );
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("the flask receiver did not start within 30 s");
            }
        };
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "the flask receiver did not start (is flask installed? pip install -r requirements-test.txt): {line:?} {status:?}"
            );
        };
        Flask {
            child,
            url: format!("http://127.0.0.1:{port}/webhook"),
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

fn sender(url: &str, secrets: SecretKeys) -> (Sender, Arc<MemoryDeadLetters>) {
    let mut endpoint = EndpointConfig::new(url);
    endpoint.retry_policy.max_attempts = 1;
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(secrets);
        value.endpoints = vec![endpoint];
        value
    };
    let dead_letters = Arc::new(MemoryDeadLetters::new());
    let (sender, _) = Sender::builder(config)
        .sleeper(Arc::new(RecordingSleeper::new()))
        .dead_letters(dead_letters.clone())
        .build()
        .unwrap();
    (sender, dead_letters)
}

fn fixtures() -> Vec<Event> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../megabot-webhook-types/tests/data/events");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 10);
    paths
        .iter()
        .map(|p| Event::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// Deterministic payloads full of escapes, non-ASCII text and awkward floats.
fn generated(count: u64) -> Vec<Value> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let texts = [
        "café",
        "😀 emoji",
        "日本語",
        "\u{2028}\u{2029}",
        "quote \" backslash \\ slash /",
        "tab\tnew\nline\r",
        "\u{1}\u{1f}\u{7f}",
        "\u{feff}bom",
        "naïve résumé",
        "𝄞 clef",
        "",
    ];
    let floats = [
        1e16,
        1e-5,
        100.0,
        28.5,
        0.1 + 0.2,
        5e-324,
        1.5e300,
        -0.0,
        123_456.789,
        1e22,
        0.0001,
    ];
    (0..count)
        .map(|n| {
            let mut data = Map::new();
            let pick = |r: u64, len: usize| usize::try_from(r % len as u64).unwrap();
            data.insert("content".into(), json!(texts[pick(next(), texts.len())]));
            data.insert("ratio".into(), json!(floats[pick(next(), floats.len())]));
            data.insert(
                texts[pick(next(), texts.len())].to_owned() + "key",
                json!({"nested": [floats[pick(next(), floats.len())], texts[pick(next(), texts.len())], f64::from_bits(next() >> 2)]}),
            );
            json!({"event": "generated_event", "id": format!("evt_flask_{n}"), "timestamp": 1_640_995_200 + n, "data": data})
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_flask_verifier_accepts_our_deliveries() {
    let flask = Flask::start();
    let (sender, dead_letters) = sender(&flask.url, SecretKeys::one("your_webhook_secret"));
    let mut ids = Vec::new();
    for event in fixtures() {
        let report = sender.send(&event).await.unwrap();
        assert_eq!(report.deliveries.len(), 1);
        let delivery = &report.deliveries[0];
        assert_eq!(
            delivery.outcome,
            Outcome::Delivered,
            "{}: {delivery:?}",
            event.name()
        );
        assert_eq!(delivery.final_status, Some(200));
        ids.push(event.id.clone());
    }
    for payload in generated(150) {
        let delivery = Delivery::from_value(payload.clone()).unwrap();
        assert!(delivery.body().is_ascii());
        let report = sender.send_delivery(&delivery).await;
        let result = &report.deliveries[0];
        assert_eq!(
            result.outcome,
            Outcome::Delivered,
            "payload {payload}: {result:?}"
        );
        ids.push(delivery.id().to_owned());
    }
    assert!(dead_letters.is_empty());
    // The receiver processed each event exactly once, in order.
    let text = reqwest::get(format!("{}/received", flask.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let received: Vec<String> = serde_json::from_str(&text).unwrap();
    assert_eq!(received, ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_flask_verifier_refuses_what_it_should() {
    let flask = Flask::start();
    let event = fixtures().remove(0);

    // A wrong secret.
    let (wrong, dead_letters) = sender(&flask.url, SecretKeys::one("not_the_secret"));
    let report = wrong.send(&event).await.unwrap();
    assert_eq!(report.deliveries[0].outcome, Outcome::Rejected);
    assert_eq!(report.deliveries[0].final_status, Some(401));
    assert_eq!(dead_letters.len(), 1);

    // The right secret over a body with spaces: the guide re-serialises before it checks.
    let (right, _) = sender(&flask.url, SecretKeys::one("your_webhook_secret"));
    let spaced = serde_json::to_string_pretty(&event.to_value()).unwrap();
    let delivery = Delivery::new(
        event.name(),
        event.id.clone(),
        event.unix_timestamp(),
        spaced.into_bytes(),
    )
    .unwrap();
    let report = right.send_delivery(&delivery).await;
    assert_eq!(report.deliveries[0].final_status, Some(401));
    // The same event in the guide's compact form passes.
    let report = right.send(&event).await.unwrap();
    assert_eq!(report.deliveries[0].final_status, Some(200));

    // Two signature entries (key rotation) are more than the guide's verifier understands.
    let (rotating, _) = sender(
        &flask.url,
        SecretKeys::many(["your_webhook_secret", "next_secret"]),
    );
    let report = rotating.send(&event).await.unwrap();
    assert_eq!(report.deliveries[0].final_status, Some(401));
}
