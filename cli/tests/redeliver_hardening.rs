//! `redeliver` and `send --dead-letters` hardening, running the built binary
//! against the built `listen` on loopback: stale MegaBot-scheme letters,
//! lost dead letters, file permissions, passwords in printed URLs.

mod common;

use std::path::{Path, PathBuf};

use common::{Listener, run};

const SECRET: &str = "cli_hardening_secret";
const WHSEC: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "megabot-cli-{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `send --file -` of an envelope with `timestamp` to `url`, where nothing
/// listens: the delivery fails and is kept in `letters`.
fn send_to_nobody(url: &str, id: &str, timestamp: i64, letters: &Path, extra: &[&str]) {
    let body = format!(
        r#"{{"event":"error_occurred","id":"{id}","timestamp":{timestamp},"data":{{"severity":"error"}}}}"#
    );
    let letters = letters.to_string_lossy();
    let mut args = vec![
        "send",
        "--url",
        url,
        "--secret",
        SECRET,
        "--file",
        "-",
        "--max-attempts",
        "1",
        "--dead-letters",
        &letters,
    ];
    args.extend_from_slice(extra);
    let out = run(&args, body.as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn redeliver_refuses_stale_megabot_letters_and_restamps_on_request() {
    let dir = temp_dir("stale");
    let letters = dir.join("dead.jsonl");
    let letters_arg = letters.to_string_lossy().into_owned();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let old = chrono::Utc::now().timestamp() - 3_600;
    send_to_nobody(&url, "evt_stale_1", old, &letters, &[]);
    let kept = std::fs::read_to_string(&letters).unwrap();

    let mut listener = Listener::start_on(
        &format!("127.0.0.1:{port}"),
        &["--secret", SECRET, "--json"],
    );
    let args = [
        "redeliver",
        "--dead-letters",
        &letters_arg,
        "--secret",
        SECRET,
        "--to-recorded-url",
    ];
    let out = run(&args, b"");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("stale evt_stale_1"), "{stdout}");
    assert!(stdout.contains("300 s tolerance"), "{stdout}");
    assert!(stdout.contains("--restamp"), "{stdout}");
    let all = format!("{stdout}{}", text(&out.stderr));
    assert!(!all.contains("retrying"), "{all}");
    assert!(stdout.contains("0 of 1 delivered; 1 still in"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&letters).unwrap(),
        kept,
        "kept as it was"
    );

    let mut restamp = args.to_vec();
    restamp.push("--restamp");
    let out = run(&restamp, b"");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("restamped error_occurred evt_stale_1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("a new delivery of the same event id"),
        "{stdout}"
    );
    assert!(stdout.contains("1 of 1 delivered"), "{stdout}");
    // the listener verified it (fresh timestamp) and got the same event id
    let line: serde_json::Value = serde_json::from_str(&listener.next_line()).unwrap();
    assert_eq!(line["id"], "evt_stale_1");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn standard_webhooks_letters_are_never_stale() {
    let dir = temp_dir("standard");
    let letters = dir.join("dead.jsonl");
    let letters_arg = letters.to_string_lossy().into_owned();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let old = chrono::Utc::now().timestamp() - 3_600;
    send_to_nobody(
        &url,
        "evt_standard_1",
        old,
        &letters,
        &["--standard-secret", WHSEC],
    );
    let config = dir.join("mega-config.yaml");
    std::fs::write(
        &config,
        format!(
            "webhooks:\n  secret_key: \"{SECRET}\"\n  endpoints:\n    - url: \"{url}\"\n      standard_webhooks:\n        secret: \"{WHSEC}\"\n"
        ),
    )
    .unwrap();
    let mut listener = Listener::start_on(
        &format!("127.0.0.1:{port}"),
        &["--secret", SECRET, "--standard-secret", WHSEC, "--json"],
    );
    let out = run(
        &[
            "redeliver",
            "--dead-letters",
            &letters_arg,
            "--config",
            &config.to_string_lossy(),
        ],
        b"",
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        !stdout.contains("stale") && !stdout.contains("restamped"),
        "{stdout}"
    );
    assert!(stdout.contains("1 of 1 delivered"), "{stdout}");
    let line: serde_json::Value = serde_json::from_str(&listener.next_line()).unwrap();
    assert_eq!(line["id"], "evt_standard_1");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn send_says_loudly_when_the_dead_letter_cannot_be_written() {
    let dir = temp_dir("lost");
    let url = format!("http://127.0.0.1:{}/webhook", free_port());
    // a directory cannot be appended to
    let unwritable = dir.join("a-directory");
    std::fs::create_dir_all(&unwritable).unwrap();
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
            &unwritable.to_string_lossy(),
        ],
        b"",
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(stderr.contains("EVENT LOST"), "{stderr}");
    assert!(stderr.contains("could not be written"), "{stderr}");
    assert!(stdout.contains("lost error_occurred"), "{stdout}");
    assert!(!stdout.contains("kept in"), "{stdout}");
    // kept is exit code 1; the codes are documented
    let help = run(&["send", "--help"], b"");
    let help = text(&help.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(
        help.contains("3  not delivered and the dead letter could not be written"),
        "{help}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn dead_letter_files_are_created_0600_and_wider_ones_get_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("mode");
    let url = format!("http://127.0.0.1:{}/webhook", free_port());
    let fresh = dir.join("fresh.jsonl");
    let send = |file: &Path| {
        run(
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
                &file.to_string_lossy(),
            ],
            b"",
        )
    };
    let out = send(&fresh);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );

    let wide = dir.join("wide.jsonl");
    std::fs::write(&wide, "").unwrap();
    std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = send(&wide);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: dead-letter file") && stderr.contains("mode 644"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&wide).unwrap().lines().count(),
        1,
        "still kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn url_passwords_are_never_printed_by_check_config_send_or_redeliver() {
    const PASSWORD: &str = "hunter2-pa55";
    let dir = temp_dir("password");
    let port = free_port();
    let url = format!("http://bot:{PASSWORD}@127.0.0.1:{port}/webhook");
    let letters = dir.join("dead.jsonl");
    let letters_arg = letters.to_string_lossy().into_owned();
    let config = dir.join("mega-config.yaml");
    std::fs::write(
        &config,
        format!(
            "webhooks:\n  secret_key: \"{SECRET}\"\n  endpoints:\n    - url: \"{url}\"\n      retry_policy:\n        max_attempts: 1\n"
        ),
    )
    .unwrap();
    let mut outputs = Vec::new();
    let check = run(&["check-config", &config.to_string_lossy()], b"");
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    outputs.push(check);
    let send = run(
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
    assert_eq!(send.status.code(), Some(1), "{}", text(&send.stderr));
    outputs.push(send);
    for extra in [
        &["--to-recorded-url"][..],
        &["--config", &config.to_string_lossy()][..],
    ] {
        let mut args = vec![
            "redeliver",
            "--dead-letters",
            &letters_arg,
            "--secret",
            SECRET,
        ];
        args.extend_from_slice(extra);
        let out = run(&args, b"");
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        outputs.push(out);
    }
    let mut printed = String::new();
    for out in &outputs {
        printed.push_str(&text(&out.stdout));
        printed.push_str(&text(&out.stderr));
    }
    assert!(!printed.contains(PASSWORD), "{printed}");
    assert!(printed.contains("bot:***@127.0.0.1"), "{printed}");
    let _ = std::fs::remove_dir_all(&dir);
}
