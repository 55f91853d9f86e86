//! `sign` and `verify` as a person runs them.

mod common;

use common::run;

const SECRET: &str = "your_webhook_secret";

fn compact(name: &str) -> Vec<u8> {
    common::fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap()
        .1
}

fn signature_of(body: &[u8]) -> String {
    let out = run(&["sign", "--secret", SECRET, "-"], body);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("X-MegaBot-Signature: "))
        .unwrap()
        .to_owned()
}

#[test]
fn sign_prints_one_header_per_line_matching_the_vectors() {
    let body = compact("chat_message_received");
    let out = run(&["sign", "--secret", SECRET], &body);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "Content-Type: application/json\nUser-Agent: MegaBot-Webhook/1.0\n\
         X-MegaBot-Signature: sha256=8611d14240261606fe0447f38dbef83e210e479162b7805709c743116be8d9ed\n\
         X-MegaBot-Event: chat_message_received\nX-MegaBot-Delivery: evt_123456\nX-MegaBot-Timestamp: 1640995200\n"
    );
    let out = run(
        &[
            "sign",
            "--secret",
            SECRET,
            "--standard-secret",
            "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "--id",
            "msg_1",
            "--timestamp",
            "1640995201",
        ],
        &body,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("webhook-id: msg_1\nwebhook-timestamp: 1640995201\nwebhook-signature: v1,"),
        "{stdout}"
    );
}

#[test]
fn verify_says_valid_or_the_precise_reason() {
    let body = compact("tool_execution_failed");
    let sig = signature_of(&body);
    let verify = |sig: &str, extra: &[&str], body: &[u8]| {
        let mut args = vec!["verify", "--secret", SECRET, "--signature", sig];
        args.extend_from_slice(extra);
        let out = run(&args, body);
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    assert_eq!(
        verify(&sig, &["--now", "1640995210"], &body),
        (Some(0), "valid\n".into())
    );
    assert_eq!(
        verify(&sig, &["--ignore-timestamp"], &body),
        (Some(0), "valid\n".into())
    );

    let (code, out) = verify(&sig, &[], &body);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("invalid: signature valid, but timestamp too old"),
        "{out}"
    );

    let (code, out) = verify(&sig, &["--now", "1640995210"], b"{\"tampered\":1}");
    assert_eq!(code, Some(1));
    assert!(out.starts_with("invalid: signature mismatch"), "{out}");

    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&body).unwrap())
            .unwrap();
    let (code, out) = verify(&sig, &["--now", "1640995210"], &pretty);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("invalid: body re-serialised"), "{out}");

    let (code, out) = verify(&sig[7..], &["--now", "1640995210"], &body);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("invalid: malformed signature header"),
        "{out}"
    );

    let out = run(
        &[
            "verify",
            "--secret",
            "zz_unusual_secret",
            "--signature",
            &sig,
            "--now",
            "1640995210",
        ],
        &body,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("wrong secret"), "{stdout}");
    // the secrets never appear in what the tool prints
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        !stdout.contains("zz_unusual") && !stderr.contains("zz_unusual"),
        "{stdout}{stderr}"
    );
}

#[test]
fn usage_errors_are_one_line_and_exit_non_zero() {
    let out = run(
        &[
            "verify",
            "--secret",
            "s",
            "--signature",
            "x",
            "--now",
            "1",
            "--ignore-timestamp",
        ],
        b"{}",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["sign", "--secret", ""], b"{}");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}
