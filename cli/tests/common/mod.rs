//! Running the built `megabot-webhook` binary.

#![allow(dead_code, unreachable_pub, unused_imports)]

mod serve;

pub use serve::{Serve, publish, published_event_id};

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_megabot-webhook"))
}

/// Runs the binary with `args` and `stdin`.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .env_remove("MEGABOT_WEBHOOK_SECRET")
        .env_remove("MEGABOT_WEBHOOK_STANDARD_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn megabot-webhook");
    // a command that fails before reading stdin closes it early: that is not a test failure
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// The guide's example events, compact, by name.
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/events");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let value: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            (
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                megabot_webhook_types::guide_json::to_vec(&value).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A running `listen` process; killed on drop.
pub struct Listener {
    child: Child,
    pub url: String,
    stdout: BufReader<ChildStdout>,
}

impl Listener {
    /// Starts `megabot-webhook listen --addr 127.0.0.1:0 <args>` and waits for its address.
    pub fn start(args: &[&str]) -> Listener {
        Listener::start_on("127.0.0.1:0", args)
    }

    /// Starts `megabot-webhook listen --addr <addr> <args>` and waits for its address.
    pub fn start_on(addr: &str, args: &[&str]) -> Listener {
        let mut child = bin()
            .arg("listen")
            .args(["--addr", addr])
            .args(args)
            .env_remove("MEGABOT_WEBHOOK_SECRET")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn listen");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut url = None;
        let mut line = String::new();
        while Instant::now() < deadline {
            line.clear();
            if stderr.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(rest) = line.strip_prefix("listening on ") {
                url = Some(rest.split_whitespace().next().unwrap().to_owned());
                break;
            }
        }
        let url = url.unwrap_or_else(|| panic!("listen did not start: {line}"));
        // keep draining stderr so the child never blocks on a full pipe
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = stderr.read_to_end(&mut sink);
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Listener { child, url, stdout }
    }

    /// The process id of the `listen` child.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line (blocking).
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
