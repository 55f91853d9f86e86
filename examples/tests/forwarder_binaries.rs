//! The forwarder binaries start from their environment and serve `GET /health`,
//! or exit 1 naming what is missing. (What they forward is tested in
//! `megabot-webhook-forward`, through the same `run`.)

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills (by its own handle) the binary on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command(exe: &str, port: u16, envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(exe);
    command
        .env_clear()
        .env("FORWARDER_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// `GET /health` over loopback: the status line, if the server answered.
fn health(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_owned)
}

fn assert_serves(exe: &str, envs: &[(&str, &str)]) {
    let port = free_port();
    let mut envs = envs.to_vec();
    envs.push(("MEGABOT_WEBHOOK_SECRET", "binary_test_secret"));
    let _running = Running(command(exe, port, &envs).spawn().unwrap());
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(status) = health(port) {
            assert_eq!(status, "HTTP/1.1 200 OK", "{exe}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{exe} did not answer GET /health on port {port}");
}

#[test]
fn each_forwarder_binary_serves_from_its_environment() {
    assert_serves(
        env!("CARGO_BIN_EXE_slack_forwarder"),
        &[("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/hook")],
    );
    assert_serves(
        env!("CARGO_BIN_EXE_datadog_forwarder"),
        &[
            ("DD_API_KEY", "k"),
            ("DATADOG_API_URL", "http://127.0.0.1:9/"),
        ],
    );
    assert_serves(
        env!("CARGO_BIN_EXE_github_forwarder"),
        &[
            ("GITHUB_TOKEN", "t"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_API_URL", "http://127.0.0.1:9/"),
        ],
    );
    assert_serves(
        env!("CARGO_BIN_EXE_gitlab_forwarder"),
        &[
            ("GITLAB_TRIGGER_TOKEN", "t"),
            ("GITLAB_PROJECT_ID", "1"),
            ("GITLAB_API_URL", "http://127.0.0.1:9/"),
        ],
    );
}

#[test]
fn a_bad_setting_exits_1_and_says_which() {
    let output = command(
        env!("CARGO_BIN_EXE_datadog_forwarder"),
        free_port(),
        &[
            ("MEGABOT_WEBHOOK_SECRET", "s"),
            ("DD_API_KEY", "dd-secret-key"),
            ("DD_SITE", "us2"),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid DD_SITE"), "{stderr}");
    assert!(!stderr.contains("dd-secret-key"), "{stderr}");

    let output = command(env!("CARGO_BIN_EXE_slack_forwarder"), free_port(), &[])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MEGABOT_WEBHOOK_SECRET"), "{stderr}");
}
