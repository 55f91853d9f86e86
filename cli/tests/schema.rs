//! `megabot-webhook schema [--openapi]` prints exactly the files committed under `schema/`
//! (scripts/check_schema.sh makes CI fail when they are stale), and `serve` answers the
//! same OpenAPI document at `GET /openapi.json` without a token while `/api` still needs
//! one (docs/design.md 9.10).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{bin, run};

const TOKEN: &str = "schema-test-admin-token-0123456789abcdef";

fn committed(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schema")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn schema_prints_the_committed_files() {
    for (args, file) in [
        (&["schema"][..], "megabot-webhook.schema.json"),
        (&["schema", "--openapi"][..], "openapi.json"),
    ] {
        let output = run(args, b"");
        assert!(output.status.success(), "{args:?}");
        let printed = String::from_utf8(output.stdout).unwrap();
        assert!(
            printed == committed(file),
            "schema/{file} is stale: run `bash scripts/check_schema.sh --write`"
        );
        let document: serde_json::Value = serde_json::from_str(&printed).unwrap();
        assert!(document.is_object());
    }
}

/// A running `serve`; killed on drop.
struct Serve {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let store: PathBuf = dir.path().join("store.sqlite3");
    let mut child = bin()
        .args(["serve", "--addr", "127.0.0.1:0", "--store"])
        .arg(&store)
        .env("MEGABOT_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = String::new();
    let mut base = None;
    while Instant::now() < deadline {
        line.clear();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(rest) = line.strip_prefix("serving the webhook API on ") {
            base = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
    }
    let base = base.unwrap_or_else(|| panic!("serve did not start: {line}"));
    // Keep reading stderr so that serve never blocks on it.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
    });
    Serve {
        child,
        base,
        _dir: dir,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn serve_answers_the_openapi_document_without_a_token() {
    let serve = serve();
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/openapi.json", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(response.text().await.unwrap(), committed("openapi.json"));
    // The API itself still needs the token.
    let response = client
        .get(format!("{}/api/webhooks", serve.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = client
        .get(format!("{}/api/webhooks", serve.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}
