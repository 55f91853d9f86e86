//! `megabot-webhook schema [--openapi]` prints exactly the files committed under `schema/`
//! (scripts/check_schema.sh makes CI fail when they are stale), and `serve` answers the
//! same OpenAPI document at `GET /openapi.json` without a token while `/api` still needs
//! one (docs/design.md 9.10).

mod common;

use std::path::Path;

use common::{Serve, bin, run};

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

/// `serve` on a temporary store (kept as long as the `serve`), without
/// `--allow-private-targets`.
fn serve() -> (Serve, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = bin();
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--store"])
        .arg(dir.path().join("store.sqlite3"));
    (Serve::spawn(command, TOKEN), dir)
}

#[tokio::test(flavor = "current_thread")]
async fn serve_answers_the_openapi_document_without_a_token() {
    let (serve, _dir) = serve();
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
