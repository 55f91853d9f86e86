//! The `receiver_axum` binary over loopback HTTP: a delivery it handles and one it
//! refuses show up in the Prometheus text it serves at `/metrics`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use megabot_webhook_verify::{Secret, sign};

const SECRET: &str = "receiver_axum_test_secret";

/// The running binary; killed on drop.
struct Receiver {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `receiver_axum` on 127.0.0.1 with a port of the system's choosing, read from
/// its "listening" log line.
fn start() -> Receiver {
    let mut child = Command::new(env!("CARGO_BIN_EXE_receiver_axum"))
        .env_clear()
        .env("MEGABOT_WEBHOOK_SECRET", SECRET)
        .env("MEGABOT_WEBHOOK_ADDR", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("receiver_axum starts");
    let stderr = child.stderr.take().unwrap();
    let (sender, addrs) = mpsc::channel();
    std::thread::spawn(move || {
        // Reads every line (the pipe must not fill up), reporting the listen address.
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("addr=").nth(1)
                && line.contains("listening")
            {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                let _ = sender.send(addr.parse::<SocketAddr>());
            }
        }
    });
    let mut receiver = Receiver {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    match addrs.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(addr)) => receiver.addr = addr,
        other => panic!("no listen address logged: {other:?}"),
    }
    receiver
}

/// One HTTP/1.1 exchange on a fresh connection: (status, body).
fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn post(addr: SocketAddr, signature: &str, body: &[u8]) -> u16 {
    let head = format!(
        "POST /webhook HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\nx-megabot-signature: {signature}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    exchange(addr, &head, body).0
}

#[test]
fn handled_and_refused_deliveries_are_in_the_prometheus_text() {
    let receiver = start();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = format!(
        r#"{{"event":"conversation_started","id":"evt_receiver_axum","timestamp":{now},"data":{{}}}}"#
    );
    let signature = sign::megabot_signature(&Secret::new(SECRET).unwrap(), body.as_bytes());
    assert_eq!(post(receiver.addr, &signature, body.as_bytes()), 204);
    let wrong = format!("sha256={}", "0".repeat(64));
    assert_eq!(post(receiver.addr, &wrong, body.as_bytes()), 401);

    let (status, text) = exchange(
        receiver.addr,
        &format!(
            "GET /metrics HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
            receiver.addr
        ),
        b"",
    );
    assert_eq!(status, 200, "{text}");
    for line in [
        r#"megabot_webhook_receiver_requests_total{outcome="ok",scheme="megabot"} 1"#,
        r#"megabot_webhook_receiver_requests_total{outcome="signature_mismatch",scheme="megabot"} 1"#,
        r#"megabot_webhook_receiver_handler_duration_seconds_count{outcome="ok"} 1"#,
        r#"megabot_webhook_receiver_verify_duration_seconds_count{scheme="megabot"} 2"#,
        r#"megabot_webhook_receiver_body_size_bytes_count 2"#,
        "# TYPE megabot_webhook_receiver_verify_duration_seconds histogram",
        "# HELP megabot_webhook_receiver_requests_total ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "missing {line:?} in:\n{text}"
        );
    }
    // Buckets as the example sets them; never an id in a label.
    assert!(
        text.contains(r#"megabot_webhook_receiver_body_size_bytes_bucket{le="1024"} 2"#),
        "{text}"
    );
    assert!(!text.contains("evt_receiver_axum"), "{text}");
}
