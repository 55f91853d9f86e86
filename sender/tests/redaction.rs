//! Secrets are never echoed: values from `${VAR}` expansions are redacted in
//! config errors and warnings, and URL passwords in `Debug` of config types
//! and reports.

use std::sync::Arc;

use megabot_webhook_sender::config::{EndpointConfig, SecretKeys, WebhooksConfig};
use megabot_webhook_sender::{
    ConfigLoader, Delivery, RecordingSleeper, RedeliverOptions, Sender, redact_url,
};

const PASSWORD: &str = "pa55w0rd-XYZ";

fn loader() -> ConfigLoader {
    ConfigLoader::with_env(|name: &str| match name {
        "WEBHOOK_SECRET_KEY" => Some("s3cret".to_owned()),
        "TIMEOUT" => Some("sk_live_51HxTOPSECRET".to_owned()),
        "ATTEMPTS" => Some("ghp_AAAAsecretBBBB".to_owned()),
        "PATTERN" => Some("tok_SECRET_pattern".to_owned()),
        _ => None,
    })
}

#[test]
fn expanded_values_of_the_wrong_type_are_not_in_errors() {
    for (yaml, secret) in [
        (
            "webhooks:\n  secret_key: ${WEBHOOK_SECRET_KEY}\n  endpoints:\n    - url: https://example.com/x\n      timeout: \"${TIMEOUT}\"\n",
            "sk_live_51HxTOPSECRET",
        ),
        (
            "webhooks:\n  secret_key: ${WEBHOOK_SECRET_KEY}\n  endpoints:\n    - url: https://example.com/x\n      retry_policy:\n        max_attempts: ${ATTEMPTS}\n",
            "ghp_AAAAsecretBBBB",
        ),
        (
            "webhooks:\n  secret_key: ${WEBHOOK_SECRET_KEY}\n  endpoints:\n    - url: https://example.com/x\n      allow_insecure_http: ${PATTERN}\n",
            "tok_SECRET_pattern",
        ),
    ] {
        let error = loader().load_str(yaml, "mega-config.yaml").unwrap_err();
        let text = format!("{error} {error:?}");
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("mega-config.yaml:"), "{text}");
    }
    // a warning (a pattern that matches no known event) redacts it too
    let yaml = "webhooks:\n  secret_key: ${WEBHOOK_SECRET_KEY}\n  endpoints:\n    - url: https://example.com/x\n      events: [\"${PATTERN}\"]\n";
    let loaded = loader().load_str(yaml, "mega-config.yaml").unwrap();
    assert!(!loaded.warnings.is_empty());
    for warning in &loaded.warnings {
        let text = format!("{warning} {warning:?}");
        assert!(!text.contains("tok_SECRET_pattern"), "{text}");
    }
}

#[tokio::test]
async fn url_passwords_are_not_in_debug_of_config_and_reports() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://bot:{PASSWORD}@127.0.0.1:{port}/hook");
    assert_eq!(
        redact_url(&url),
        format!("http://bot:***@127.0.0.1:{port}/hook")
    );
    let mut endpoint = EndpointConfig::new(url.clone());
    endpoint.retry_policy.max_attempts = 1;
    endpoint.events = vec!["tool_execution_failed".into()];
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::one("s3cret"));
        value.endpoints = vec![endpoint.clone()];
        value
    };
    let debug = format!("{endpoint:?} {endpoint:#?} {config:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains("bot:***@127.0.0.1"), "{debug}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dead.jsonl");
    let (sender, _) = Sender::builder(config)
        .sleeper(Arc::new(RecordingSleeper::new()))
        .dead_letter_file(file.clone())
        .build()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let body = |event: &str| {
        format!(r#"{{"event":"{event}","id":"evt_pw","timestamp":{now},"data":{{}}}}"#)
    };
    // subscribed: sent, fails (nothing listens), kept; not subscribed: skipped
    let sent = sender
        .send_delivery(&Delivery::from_json(body("tool_execution_failed").as_bytes()).unwrap())
        .await;
    let skipped = sender
        .send_delivery(&Delivery::from_json(body("error_occurred").as_bytes()).unwrap())
        .await;
    assert_eq!((sent.deliveries.len(), skipped.skipped.len()), (1, 1));
    let redelivery = sender
        .redeliver_with(&file, &RedeliverOptions::new())
        .await
        .unwrap();
    assert_eq!(redelivery.results.len(), 1);
    let debug = format!(
        "{sent:?} {sent:#?} {skipped:?} {redelivery:?} {:?}",
        std::fs::read_to_string(&file)
            .ok()
            .and_then(|text| megabot_webhook_sender::DeadLetter::from_json_line(text.trim()).ok())
    );
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains("bot:***@127.0.0.1"), "{debug}");
}
