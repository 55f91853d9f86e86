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
