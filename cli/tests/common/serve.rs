//! A `megabot-webhook serve` child process for the CLI's tests.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::bin;

/// `megabot-webhook publish --url base <args>`, with `MEGABOT_ADMIN_TOKEN=token` or
/// without the variable.
pub fn publish(base: &str, args: &[&str], token: Option<&str>) -> std::process::Output {
    let mut command = bin();
    command.args(["publish", "--url", base]).args(args);
    match token {
        Some(token) => command.env("MEGABOT_ADMIN_TOKEN", token),
        None => command.env_remove("MEGABOT_ADMIN_TOKEN"),
    };
    command.stdin(Stdio::null()).output().unwrap()
}

/// The event id a successful `publish` printed (`published evt_…: …`).
pub fn published_event_id(stdout: &str) -> String {
    assert!(stdout.starts_with("published evt_"), "{stdout}");
    stdout
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_owned()
}

/// A running `serve` on a loopback port; killed on drop.
pub struct Serve {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// What it printed to stderr up to its address (warnings at start).
    pub startup: String,
}

impl Serve {
    /// Starts `serve --addr 127.0.0.1:0 --allow-private-targets --store <store> <args>`
    /// with `MEGABOT_ADMIN_TOKEN=token` and waits (at most 60 s) for its address. Its
    /// stderr is read to the end on a thread, and the token must never be in it.
    pub fn start(store: &Path, token: &str, args: &[&str]) -> Serve {
        let mut command = bin();
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--allow-private-targets"])
            .arg("--store")
            .arg(store)
            .args(args);
        Serve::spawn(command, token)
    }

    /// Starts `command` (a `serve` command line) with `MEGABOT_ADMIN_TOKEN=token`, as
    /// [`Serve::start`].
    pub fn spawn(mut command: Command, token: &str) -> Serve {
        let mut child = command
            .env("MEGABOT_ADMIN_TOKEN", token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().unwrap();
        let (found, address) = std::sync::mpsc::channel();
        let token = token.to_owned();
        std::thread::spawn(move || {
            let mut stderr = BufReader::new(stderr);
            let mut seen = String::new();
            let mut line = String::new();
            loop {
                line.clear();
                if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                    let _ = found.send(Err(seen));
                    return;
                }
                seen.push_str(&line);
                if let Some(rest) = line.strip_prefix("serving the webhook API on ") {
                    let base = rest.split_whitespace().next().unwrap().to_owned();
                    let _ = found.send(Ok((base, seen.clone())));
                    break;
                }
            }
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            assert!(
                !seen.contains(&token) && !rest.contains(&token),
                "serve printed the admin token"
            );
        });
        let (base, startup) = match address.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(started)) => started,
            Ok(Err(seen)) => panic!("serve did not start: {seen}"),
            Err(_) => panic!("serve printed no address in 60 s"),
        };
        Serve {
            child: Some(child),
            base,
            startup,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM, then the exit status (at most 30 s later).
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`: a crash.
    pub fn crash(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        let _ = child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
