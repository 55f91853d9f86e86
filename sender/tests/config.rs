//! Loading `mega-config.yaml`: the guide's example (as printed and corrected),
//! and errors that name the file, line and key.

use std::path::PathBuf;

use megabot_webhook_sender::Error;
use megabot_webhook_sender::config::{ContentFilter, EndpointConfig, SecretKeys, WebhooksConfig};
use megabot_webhook_sender::{ConfigLoader, Sender};
use megabot_webhook_types::Severity;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

/// The variables the guide's config uses, and nothing else.
fn loader() -> ConfigLoader {
    ConfigLoader::with_env(|name| match name {
        "WEBHOOK_SECRET_KEY" => Some("guide-secret-value".to_owned()),
        "GITHUB_TOKEN" => Some("ghp_guide_token_value".to_owned()),
        _ => None,
    })
}

fn load_error(name: &str) -> String {
    let error = loader().load_file(path(name)).unwrap_err();
    assert_eq!(error.code(), "invalid_config", "{error}");
    let text = error.to_string();
    for secret in ["guide-secret-value", "ghp_guide_token_value"] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
    text
}

fn expect_error(name: &str, position_key_message: &str) {
    let text = load_error(name);
    assert_eq!(
        text,
        format!("{}:{position_key_message}", path(name).display())
    );
}

#[test]
fn the_guides_config_as_printed_fails_at_the_misindented_line() {
    expect_error(
        "guide_as_printed.yaml",
        "13:6: webhooks.endpoints: invalid yaml: while parsing a block collection, did not find expected '-' indicator (check the indentation of this line)",
    );
    let error = loader()
        .load_file(path("guide_as_printed.yaml"))
        .unwrap_err();
    let Error::Config(error) = error else {
        panic!("not a config error: {error}")
    };
    assert_eq!((error.line(), error.column()), (Some(13), Some(6)));
    assert_eq!(error.key(), "webhooks.endpoints");
}

#[test]
fn the_guides_config_corrected_loads_with_warnings_for_unknown_events() {
    let loaded = loader().load_file(path("guide_corrected.yaml")).unwrap();
    let config = &loaded.config;
    assert!(config.enabled);
    let urls: Vec<&str> = config.endpoints.iter().map(|e| e.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://api.github.com/repos/owner/repo/dispatches",
            "https://hooks.slack.com/services/YOUR_SLACK_WEBHOOK_URL",
            "https://your-monitoring-service.com/webhook"
        ]
    );
    let github = &config.endpoints[0];
    assert_eq!(
        github.headers.get("Authorization"),
        Some("token ghp_guide_token_value")
    );
    assert_eq!(
        github.headers.get("Accept"),
        Some("application/vnd.github.v3+json")
    );
    assert_eq!(config.endpoints[1].filters.platforms, ["slack"]);
    assert_eq!(config.endpoints[1].filters.users, ["admin_user"]);
    assert_eq!(config.endpoints[2].events, ["*"]);
    assert_eq!(config.endpoints[2].retry_policy.max_attempts, 5);
    assert_eq!(config.endpoints[2].retry_policy.max_delay, 300.0);
    let secret = config
        .secret_key
        .as_ref()
        .and_then(|k| k.iter().next())
        .map(megabot_webhook_sender::config::SecretString::expose);
    assert_eq!(secret, Some("guide-secret-value"));

    let file = path("guide_corrected.yaml").display().to_string();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            format!(
                "{file}:16:16: webhooks.endpoints[1].events[0]: pattern `chat_message` matches no known event (did you mean `chat_message_received`?)"
            ),
            format!(
                "{file}:16:32: webhooks.endpoints[1].events[1]: pattern `tool_executed` matches no known event (did you mean `tool_execution_started`?)"
            ),
        ]
    );
    // Debug of the whole config shows no secret.
    let debug = format!("{loaded:?}");
    assert!(
        !debug.contains("guide-secret-value") && !debug.contains("ghp_guide_token_value"),
        "{debug}"
    );
}

#[test]
fn the_guides_filter_and_retry_examples_load() {
    let filters = loader().load_file(path("guide_filters.yaml")).unwrap();
    let endpoint = &filters.config.endpoints[0];
    assert_eq!(endpoint.filters.min_severity, Some(Severity::Warning));
    assert_eq!(
        endpoint.filters.content_filters,
        [
            ContentFilter::Contains {
                field: "error.message".into(),
                value: "database".into()
            },
            ContentFilter::Regex {
                field: "data.tool_name".into(),
                pattern: "^deploy_".into()
            }
        ]
    );
    assert!(filters.warnings.is_empty(), "{:?}", filters.warnings);
    let retry = loader().load_file(path("guide_retry.yaml")).unwrap();
    let policies: Vec<(u32, f64, f64, f64)> = retry
        .config
        .endpoints
        .iter()
        .map(|e| {
            let p = e.retry_policy;
            (
                p.max_attempts,
                p.backoff_multiplier,
                p.initial_delay,
                p.max_delay,
            )
        })
        .collect();
    assert_eq!(policies, [(10, 1.5, 0.5, 300.0), (2, 1.0, 1.0, 300.0)]);
}

#[test]
fn every_setting_with_variables_and_defaults() {
    let loaded =
        ConfigLoader::with_env(|name| (name == "WEBHOOK_SECRET_KEY").then(|| "k".to_owned()))
            .load_file(path("full.yaml"))
            .unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    assert_eq!(config.secret_key.as_ref().map(SecretKeys::len), Some(2));
    let first = &config.endpoints[0];
    assert_eq!(first.url, "https://monitoring.example.com/webhook");
    assert_eq!(first.headers.get("authorization"), Some("Bearer none"));
    assert_eq!(first.retry_policy.max_attempts, 7);
    assert!(first.retry_policy.jitter);
    assert_eq!(first.timeout, 2.5);
    assert_eq!(
        first
            .filters
            .time_window
            .as_ref()
            .map(|w| w.timezone.as_str()),
        Some("Europe/Berlin")
    );
    assert!(first.standard_webhooks.as_ref().is_some_and(|s| s.enabled));
    assert!(config.endpoints[1].allow_insecure_http);
    // The same config builds a sender.
    let (sender, _) = Sender::new(config).unwrap();
    assert_eq!(sender.endpoints().len(), 2);
}

#[test]
fn unknown_keys_suggest_the_right_one() {
    expect_error(
        "unknown_key.yaml",
        "6:7: webhooks.endpoints[0].retry_polcy: unknown key `retry_polcy` (did you mean `retry_policy`?)",
    );
    expect_error(
        "unknown_filter_key.yaml",
        "6:9: webhooks.endpoints[0].filters.platform: unknown key `platform` (did you mean `platforms`?)",
    );
}

#[test]
fn missing_variables_are_named() {
    let error =
        ConfigLoader::with_env(|name| (name == "WEBHOOK_SECRET_KEY").then(|| "k".to_owned()))
            .load_file(path("missing_variable.yaml"))
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:6:24: webhooks.endpoints[0].headers.Authorization: environment variable `GITHUB_TOKEN` is not set (use `${{GITHUB_TOKEN:-default}}` for a default)",
            path("missing_variable.yaml").display()
        )
    );
    let no_env = ConfigLoader::with_env(|_| None)
        .load_file(path("guide_corrected.yaml"))
        .unwrap_err();
    assert!(
        no_env.to_string().ends_with(":6:15: webhooks.secret_key: environment variable `WEBHOOK_SECRET_KEY` is not set (use `${WEBHOOK_SECRET_KEY:-default}` for a default)"),
        "{no_env}"
    );
}

#[test]
fn bad_urls_and_policies() {
    expect_error(
        "bad_url.yaml",
        "5:12: webhooks.endpoints[1].url: http:// is only allowed to a loopback host: use https://, or set `allow_insecure_http: true`",
    );
    expect_error(
        "bad_max_attempts.yaml",
        "6:23: webhooks.endpoints[0].retry_policy.max_attempts: max_attempts must be at least 1 (it counts every attempt, the first included)",
    );
    expect_error(
        "bad_multiplier.yaml",
        "6:29: webhooks.endpoints[0].retry_policy.backoff_multiplier: backoff_multiplier must be at least 1, not 0.5",
    );
    expect_error(
        "bad_delays.yaml",
        "6:24: webhooks.endpoints[0].retry_policy.initial_delay: initial_delay (10 s) is greater than max_delay (5 s)",
    );
}

#[test]
fn a_missing_file_is_named() {
    let error = loader().load_file(path("no_such_file.yaml")).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "{}: cannot read the file: ",
            path("no_such_file.yaml").display()
        )),
        "{text}"
    );
}

#[test]
fn endpoints_registered_at_runtime_are_checked_the_same_way() {
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::one("s"));
        value
    };
    let (sender, _) = Sender::new(config).unwrap();
    let cases = [
        (
            "http://example.com/hook",
            None,
            "endpoint.url: http:// is only allowed to a loopback host",
        ),
        (
            "https://e.com",
            Some(0),
            "endpoint.retry_policy.max_attempts: max_attempts must be at least 1",
        ),
    ];
    for (url, attempts, message) in cases {
        let mut endpoint = EndpointConfig::new(url);
        if let Some(attempts) = attempts {
            endpoint.retry_policy.max_attempts = attempts;
        }
        let error = sender.add_endpoint(endpoint).unwrap_err();
        assert!(error.to_string().starts_with(message), "{error}");
    }
    // The guide's registration body, as JSON.
    let registration: EndpointConfig = serde_json::from_str(
        r#"{"url": "https://your-service.com/webhook", "events": ["chat_message", "tool_result"],
            "secret": "your_webhook_secret", "filters": {"platforms": ["telegram", "discord"], "min_severity": "info"}}"#,
    )
    .unwrap();
    let (id, warnings) = sender.add_endpoint(registration).unwrap();
    let warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "endpoint.events[0]: pattern `chat_message` matches no known event (did you mean `chat_message_received`?)",
            "endpoint.events[1]: pattern `tool_result` matches no known event"
        ]
    );
    assert_eq!(sender.endpoints().len(), 1);
    assert_eq!(
        sender.remove_endpoint(id).map(|e| e.url),
        Some("https://your-service.com/webhook".to_owned())
    );
    assert!(sender.endpoints().is_empty());
    assert!(sender.remove_endpoint(id).is_none());
}
