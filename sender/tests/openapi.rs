//! The OpenAPI 3.1 document (`api::openapi`, docs/design.md 9.10): it passes
//! `openapi-spec-validator` (Python, installed by scripts/test.sh), every webhook's
//! example validates against its payload schema, and the router serves exactly the
//! documented routes ([`api::ROUTES`]), each answering only statuses the document lists.
#![cfg(all(feature = "api", feature = "sqlite"))]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use megabot_webhook_sender::api::{self, ApiState, BODY_LIMIT, ROUTES, openapi};
use megabot_webhook_sender::config::WebhooksConfig;
use megabot_webhook_sender::dispatcher::{Dispatcher, SqliteStore};
use megabot_webhook_types::EventName;
use reqwest::Method;
use serde_json::Value;

const TOKEN: &str = "openapi-test-admin-token-0123456789abcdef";

#[test]
fn the_document_passes_openapi_spec_validator_and_its_examples_validate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("openapi.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&openapi::document()).unwrap(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_openapi.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&path)
        .output()
        .expect("python3 runs (scripts/test.sh installs it and openapi-spec-validator)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["examples"], EventName::ALL.len());
}

#[test]
fn the_document_lists_exactly_the_routes_with_the_bearer_scheme() {
    let doc = openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let mut served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    served.insert(("GET".to_owned(), openapi::OPENAPI_PATH.to_owned()));
    assert_eq!(documented, served);
    for route in ROUTES {
        let operation = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
        let statuses: Vec<u16> = operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(statuses, route.statuses, "{route:?}");
        // Every API route needs the token (the document-wide bearer requirement).
        assert!(operation.get("security").is_none(), "{route:?}");
        assert!(route.statuses.contains(&401) && route.statuses.contains(&413));
    }
    assert_eq!(doc["security"][0]["bearerAuth"], serde_json::json!([]));
    assert_eq!(
        doc["paths"][openapi::OPENAPI_PATH]["get"]["security"],
        serde_json::json!([])
    );
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "ep_missing")
}

/// The router itself, on loopback: each documented (method, path) is served (never the
/// fallback's `404 not_found` or `405`); every other method on those paths is `405`; and
/// what each route answers — without the token, with an oversized body, with `{}` — is a
/// status the document lists for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_serves_exactly_the_documented_routes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("store.sqlite3")).unwrap());
    let (dispatcher, _) = Dispatcher::builder(WebhooksConfig::default(), store)
        .build()
        .await
        .unwrap();
    let (state, _) = ApiState::new(Arc::new(dispatcher), TOKEN).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, api::router(state)).await;
    });
    let client = reqwest::Client::new();
    let send = |method: Method, path: &str, token: bool, body: Vec<u8>| {
        let mut request = client
            .request(method, format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body);
        if token {
            request = request.bearer_auth(TOKEN);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let bytes = response.bytes().await.unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (
                status,
                body["error"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    let paths: BTreeSet<&str> = ROUTES.iter().map(|r| r.path).collect();
    let mut seen = 0;
    for path in paths {
        for method in &methods {
            let route = ROUTES
                .iter()
                .find(|r| r.path == path && r.method == method.as_str());
            let url = concrete(path);
            let (status, code) = send(method.clone(), &url, true, b"{}".to_vec()).await;
            let Some(route) = route else {
                assert_eq!(
                    (status, code.as_str()),
                    (405, "method_not_allowed"),
                    "{method} {path}"
                );
                continue;
            };
            seen += 1;
            assert!(
                status != 405 && code != "not_found",
                "{method} {path}: {status} {code}"
            );
            assert!(
                route.statuses.contains(&status),
                "{method} {path}: {status} {code}"
            );
            let (status, _) = send(method.clone(), &url, false, b"{}".to_vec()).await;
            assert_eq!(status, 401, "{method} {path}");
            let big = vec![b' '; BODY_LIMIT + 1];
            let (status, code) = send(method.clone(), &url, true, big).await;
            assert_eq!(
                (status, code.as_str()),
                (413, "body_too_large"),
                "{method} {path}"
            );
        }
    }
    assert_eq!(seen, ROUTES.len());
    let (status, code) = send(Method::GET, "/api/nothing-here", true, Vec::new()).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    server.abort();
}
