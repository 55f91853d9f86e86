//! `send`, `check-config`, `redeliver` and `demo`, running the built binary.

mod common;

use std::path::PathBuf;

use common::{Listener, run};

const SECRET: &str = "cli_send_secret";

fn data(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn send_file_round_trips_every_fixture_through_listen() {
    let mut listener =
        Listener::start(&["--secret", SECRET, "--json", "--tolerance", "2000000000"]);
    for (name, compact) in common::fixtures() {
        let path = data(&format!("events/{name}.json"));
        let out = run(
            &[
                "send",
                "--url",
                &listener.url,
                "--secret",
                SECRET,
                "--file",
                &path,
            ],
            b"",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.starts_with(&format!("delivered {name} ")),
            "{stdout}"
        );
        assert!(stdout.contains("status 200, 1 attempt"), "{stdout}");
        let line: serde_json::Value = serde_json::from_str(&listener.next_line()).unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&compact).unwrap();
        assert_eq!(line["event"], sent["event"]);
        assert_eq!(line["id"], sent["id"]);
        assert_eq!(line["data"], sent["data"], "{name}");
    }
}

#[test]
fn send_event_uses_a_fresh_id_and_time_and_both_schemes() {
    let whsec = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let mut listener = Listener::start(&[
        "--secret",
        SECRET,
        "--standard-secret",
        whsec,
        "--json",
        "--framework",
        "warp",
    ]);
    let out = run(
        &[
            "send",
            "--url",
            &listener.url,
            "--secret",
            SECRET,
            "--event",
            "tool_execution_failed",
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let line: serde_json::Value = serde_json::from_str(&listener.next_line()).unwrap();
    assert_eq!(line["scheme"], "megabot");
    assert_ne!(line["id"], "evt_123460", "a fresh id");
    let age = chrono::Utc::now().timestamp() - line["timestamp"].as_i64().unwrap();
    assert!((0..60).contains(&age), "fresh timestamp, {age} s old");

    let out = run(
        &[
            "send",
            "--url",
            &listener.url,
            "--secret",
            SECRET,
            "--standard-secret",
            whsec,
            "--event",
            "deployment_completed",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    let line: serde_json::Value = serde_json::from_str(&listener.next_line()).unwrap();
    assert_eq!(line["scheme"], "standard-webhooks");
    assert_eq!(line["data"]["url"], "https://my-app.vercel.app");

    let out = run(
        &[
            "send",
            "--url",
            &listener.url,
            "--secret",
            "wrong",
            "--event",
            "error_occurred",
            "--max-attempts",
            "1",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("status 401"));

    let out = run(
        &[
            "send",
            "--url",
            &listener.url,
            "--secret",
            SECRET,
            "--event",
            "no_such_event",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known events: chat_message_received"));
}

#[test]
fn redeliver_sends_the_dead_letters_once_the_receiver_is_up() {
    let dir = std::env::temp_dir().join(format!("megabot-cli-redeliver-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let letters = dir.join("dead.jsonl");
    let letters_arg = letters.to_string_lossy().into_owned();
    // nothing listens here: the delivery fails and is kept
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let out = run(
        &[
            "send",
            "--url",
            &url,
            "--secret",
            SECRET,
            "--event",
            "error_occurred",
            "--max-attempts",
            "1",
            "--dead-letters",
            &letters_arg,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&letters).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        !text.contains(SECRET),
        "dead letters hold no signing secret"
    );

    let record: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(record["v"], 2, "{text}");
    // the receiver comes up where the letter was headed (records are
    // authenticated: moving one to another URL makes it `tampered`)
    let mut listener = Listener::start_on(
        &format!("127.0.0.1:{port}"),
        &["--secret", SECRET, "--json"],
    );
    assert_eq!(listener.url, url);
    // no --config: the recorded URL is no configured endpoint's
    let refused = run(
        &[
            "redeliver",
            "--dead-letters",
            &letters_arg,
            "--secret",
            SECRET,
        ],
        b"",
    );
    let refused_out = String::from_utf8_lossy(&refused.stdout);
    assert_eq!(refused.status.code(), Some(1), "{refused_out}");
    assert!(refused_out.contains("unknown_endpoint"), "{refused_out}");
    assert_eq!(std::fs::read_to_string(&letters).unwrap(), text, "kept");
    let out = run(
        &[
            "redeliver",
            "--dead-letters",
            &letters_arg,
            "--secret",
            SECRET,
            "--to-recorded-url",
        ],
        b"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 of 1 delivered; 0 still in"), "{stdout}");
    let line: serde_json::Value = serde_json::from_str(&listener.next_line()).unwrap();
    assert_eq!(line["id"], record["id"]);
    assert_eq!(std::fs::read_to_string(&letters).unwrap_or_default(), "");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `check-config` on a test config, with or without the variables the guide's config uses.
fn check_config(path: &str, with_env: bool) -> std::process::Output {
    let mut command = common::bin();
    command.args(["check-config", &data(path)]);
    if with_env {
        command
            .env("WEBHOOK_SECRET_KEY", "x")
            .env("GITHUB_TOKEN", "y");
    } else {
        command
            .env_remove("WEBHOOK_SECRET_KEY")
            .env_remove("GITHUB_TOKEN");
    }
    command.output().unwrap()
}

#[test]
fn check_config_shows_endpoints_and_names_file_line_and_key() {
    let out = check_config("config/guide_corrected.yaml", true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("3 endpoints"), "{stdout}");
    assert!(stdout.contains("[2] https://hooks.slack.com/services/YOUR_SLACK_WEBHOOK_URL"));
    assert!(stdout.contains("filter   platforms: slack"));
    assert!(!stdout.contains("token y"), "header values are not shown");
    assert!(
        stderr.contains("pattern `chat_message` matches no known event"),
        "{stderr}"
    );

    let out = check_config("config/guide_as_printed.yaml", true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("guide_as_printed.yaml:13:"), "{stderr}");
    assert!(stderr.contains("indentation"), "{stderr}");

    let out = check_config("config/unknown_key.yaml", true);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("unknown_key.yaml:6:7: webhooks.endpoints[0].retry_polcy: unknown key `retry_polcy` (did you mean `retry_policy`?)"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let out = check_config("config/unknown_key.yaml", false);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("environment variable `WEBHOOK_SECRET_KEY` is not set")
    );
}

#[test]
fn demo_exits_zero_with_every_outcome_as_spec_says() {
    let out = run(&["demo"], b"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("81 deliveries on 3 framework(s): 81 as the design says, 0 not."),
        "{stdout}"
    );
    for row in [
        "tampered body",
        "stale timestamp",
        "replayed delivery",
        "handler fails, then retry",
        "unknown event",
    ] {
        assert_eq!(stdout.matches(row).count(), 3, "{row} on each framework");
    }
    assert!(!stdout.contains("!!"));
    // The sending side (design 9.17): the dispatcher, the API, a restart.
    assert!(
        stdout.contains(
            "11 events published, restarted after 5: 33 of 33 deliveries handled once, 0 not."
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Delivery log: 33 delivered. /api/stats: 0 pending, 33 delivered, 0 dead."),
        "{stdout}"
    );
}

#[test]
fn send_says_duplicate_and_prints_the_receivers_refusal() {
    let listener = Listener::start(&["--secret", SECRET, "--tolerance", "2000000000"]);
    let path = data("events/error_occurred.json");
    let send = |secret: &str| {
        let out = run(
            &[
                "send",
                "--url",
                &listener.url,
                "--secret",
                secret,
                "--file",
                &path,
                "--max-attempts",
                "1",
            ],
            b"",
        );
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, first) = send(SECRET);
    assert_eq!(code, Some(0), "{first}");
    assert!(first.starts_with("delivered error_occurred "), "{first}");
    // the same event id again: the receiver answers `200 {"status":"duplicate"}`
    let (code, again) = send(SECRET);
    assert_eq!(code, Some(0), "{again}");
    assert!(again.starts_with("duplicate error_occurred "), "{again}");
    // the wrong secret: the receiver's code and message are shown
    let (code, refused) = send("not_the_secret");
    assert_eq!(code, Some(1), "{refused}");
    assert!(refused.starts_with("failed error_occurred "), "{refused}");
    assert!(
        refused.contains("receiver said signature_mismatch: signature mismatch"),
        "{refused}"
    );
}
