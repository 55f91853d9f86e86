//! `megabot-webhook serve` with `MEGABOT_STORE_KEY` (design 9.7), as a child
//! process over loopback HTTP with a real SQLite file: a registered
//! endpoint's secret and header value are not in the file; the same key
//! loads it again (and its deliveries verify); another key, or none, leaves
//! it out with a warning and deletes nothing; a bad key exits 2 without
//! printing it.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{Listener, Serve, bin, publish, published_event_id};
use serde_json::{Value, json};

const TOKEN: &str = "store-key-test-admin-token-0123456789abc";
const SECRET: &str = "store_key_test_secret_5bd1";
const HEADER_VALUE: &str = "header-value-9f3e2a";
/// 32 bytes in base64, as `openssl rand -base64 32` prints them.
const KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const OTHER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn serve(store: &Path, key: Option<&str>) -> Serve {
    let mut command = bin();
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--allow-private-targets"])
        .arg("--store")
        .arg(store);
    match key {
        Some(key) => command.env("MEGABOT_STORE_KEY", key),
        None => command.env_remove("MEGABOT_STORE_KEY"),
    };
    Serve::spawn(command, TOKEN)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn endpoints(base: &str) -> Vec<Value> {
    let text = client()
        .get(format!("{base}/api/webhooks"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&text).unwrap();
    answer["endpoints"].as_array().unwrap().clone()
}

/// Every byte of the store's files (the database and its WAL).
fn store_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_endpoints_are_sealed_with_the_store_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("d.sqlite3");
    let mut listener = Listener::start(&["--secret", SECRET, "--json"]);

    let first = serve(&store, Some(KEY));
    let response = client()
        .post(format!("{}/api/webhooks", first.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(
            json!({"url": listener.url, "events": ["*"], "secret": SECRET,
            "headers": {"X-Api-Key": HEADER_VALUE}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let id = answer["endpoint"]["id"].as_str().unwrap().to_owned();
    assert!(first.terminate().success());
    let bytes = store_bytes(dir.path());
    assert!(contains(&bytes, &id), "the endpoint row is stored");
    assert!(contains(&bytes, "sealed:v1:"));
    assert!(!contains(&bytes, SECRET), "the secret is in the store file");
    assert!(
        !contains(&bytes, HEADER_VALUE),
        "a header value is in the store file"
    );

    // The same key: loaded, and its deliveries verify with the secret.
    let again = serve(&store, Some(KEY));
    let listed = endpoints(&again.base).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());
    let output = publish(&again.base, &["--event", "error_occurred"], Some(TOKEN));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}");
    let event_id = published_event_id(&stdout);
    let line = tokio::task::spawn_blocking(move || listener.next_line())
        .await
        .unwrap();
    let received: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_eq!(received["id"], event_id.as_str());
    assert!(again.terminate().success());

    // Another key, or none: left out with a warning, nothing deleted.
    for key in [Some(OTHER_KEY), None] {
        let other = serve(&store, key);
        assert!(endpoints(&other.base).await.is_empty());
        assert!(
            other.startup.contains(&format!("endpoint {id}"))
                && other
                    .startup
                    .contains("does not open with MEGABOT_STORE_KEY"),
            "{}",
            other.startup
        );
        assert!(!other.startup.contains(KEY) && !other.startup.contains(OTHER_KEY));
        assert!(other.terminate().success());
    }
    let back = serve(&store, Some(KEY));
    assert_eq!(endpoints(&back.base).await.len(), 1);
    assert!(back.terminate().success());
}

#[test]
fn a_store_key_that_is_not_32_bytes_of_base64_exits_2_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("d.sqlite3");
    for key in [
        "not-a-key-but-long-enough-to-notice",
        "AAECAwQFBgcICQoLDA0ODw==",
    ] {
        let output = bin()
            .args(["serve", "--addr", "127.0.0.1:0", "--store"])
            .arg(&store)
            .env("MEGABOT_ADMIN_TOKEN", TOKEN)
            .env("MEGABOT_STORE_KEY", key)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("MEGABOT_STORE_KEY") && stderr.contains("32 bytes in base64"),
            "{stderr}"
        );
        assert!(!stderr.contains(key), "{stderr}");
    }
    assert!(!store.exists(), "no store is opened with a bad key");
}
