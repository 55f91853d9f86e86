//! The Datadog forwarder against a stand-in of Datadog's events and metrics
//! APIs, over loopback HTTP.

mod common_forward;

use std::time::Duration;

use common_forward::{
    Recorded, Reply, StandIn, deliver, fresh, quick_retry, send_with_sender, spawn_run,
    start_forwarder, with_data,
};
use megabot_webhook_forward::datadog::{Datadog, DatadogConfig, MAX_TEXT, TRUNCATION_MARKER};
use megabot_webhook_forward::{Selection, datadog};
use megabot_webhook_types::EventName;
use serde_json::json;

const API_KEY: &str = "dd-test-api-key-0123456789";
const EVENTS: &str = "/api/v1/events";
const SERIES: &str = "/api/v2/series";

async fn datadog_stand_in() -> StandIn {
    StandIn::start(Reply::new(202, r#"{"status":"ok"}"#)).await
}

fn datadog(stand_in: &StandIn, max_attempts: u32) -> Datadog {
    let config = DatadogConfig::new(API_KEY, "datadoghq.com")
        .unwrap()
        .with_base_url(&stand_in.url)
        .unwrap();
    Datadog::new(config, quick_retry(max_attempts)).unwrap()
}

fn assert_datadog_request(request: &Recorded, path: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, path);
    assert_eq!(request.header("dd-api-key"), Some(API_KEY));
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn an_error_becomes_a_datadog_event_and_an_error_count() {
    let stand_in = datadog_stand_in().await;
    let url = start_forwarder(datadog(&stand_in, 3), Selection::all()).await;
    let event = fresh(EventName::ErrorOccurred);

    let answer = deliver(&url, &event).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 2);

    assert_datadog_request(&requests[0], EVENTS);
    let body = requests[0].json();
    assert_eq!(body["title"], "MegaBot error_occurred");
    assert_eq!(body["alert_type"], "error");
    assert_eq!(body["aggregation_key"], event.id.as_str());
    assert_eq!(
        body["tags"],
        json!(["source:megabot", "event:error_occurred"])
    );
    assert_eq!(body["date_happened"], event.unix_timestamp());
    let text = body["text"].as_str().unwrap();
    assert!(text.chars().count() <= MAX_TEXT);
    assert!(text.contains("Anthropic API rate limit exceeded"), "{text}");

    assert_datadog_request(&requests[1], SERIES);
    assert_eq!(
        requests[1].json(),
        json!({"series": [{
            "metric": "megabot.errors.count",
            "type": 1,
            "interval": 10,
            "points": [{"timestamp": event.unix_timestamp(), "value": 1}],
            "tags": ["error_type:LLMProviderError", "severity:error", "source:megabot"],
        }]})
    );
}

#[tokio::test]
async fn a_completed_tool_becomes_an_info_event_and_a_duration_gauge() {
    let stand_in = datadog_stand_in().await;
    let url = start_forwarder(datadog(&stand_in, 3), Selection::all()).await;
    let event = fresh(EventName::ToolExecutionCompleted);
    assert_eq!(deliver(&url, &event).await.status, 200);

    let requests = stand_in.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].json()["alert_type"], "info");
    let series = requests[1].json();
    let series = &series["series"][0];
    assert_eq!(series["metric"], "megabot.tool_execution.duration");
    assert_eq!(series["type"], 3);
    // A gauge takes no interval; only counts and rates need one.
    assert!(series.get("interval").is_none(), "{series}");
    assert_eq!(
        series["points"],
        json!([{"timestamp": event.unix_timestamp(), "value": 28.5}])
    );
    assert_eq!(series["tags"][0], "tool:run_tests");
    assert_eq!(series["tags"][1], "status:success");

    // Events without a metric send only the Datadog event.
    assert_eq!(
        deliver(&url, &fresh(EventName::SystemStatusChanged))
            .await
            .status,
        200
    );
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].path, EVENTS);
    assert_eq!(requests[2].json()["alert_type"], "warning");
}

#[tokio::test]
async fn long_text_is_truncated_to_4000_characters_with_a_marker() {
    let stand_in = datadog_stand_in().await;
    let url = start_forwarder(datadog(&stand_in, 1), Selection::all()).await;
    let event = with_data(
        &fresh(EventName::ToolExecutionFailed),
        json!({"execution_id": "exec_9", "tool_name": "deploy_app",
               "error": {"message": "boom"}, "partial_output": "log line\n".repeat(3_000)}),
    );
    assert_eq!(deliver(&url, &event).await.status, 200);
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    let body = requests[0].json();
    let text = body["text"].as_str().unwrap();
    assert_eq!(text.chars().count(), MAX_TEXT);
    assert!(text.ends_with(TRUNCATION_MARKER));
    assert!(text.starts_with("🚨 Tool Execution Failed: deploy_app failed: boom"));
    assert_eq!(body["alert_type"], "error");
}

#[tokio::test]
async fn a_failing_metrics_api_is_retried_and_megabots_retry_sends_only_the_missing_part() {
    let stand_in = datadog_stand_in().await;
    // The event is accepted; the metric fails twice (the forwarder's attempts).
    stand_in.script([
        Reply::new(202, r#"{"status":"ok"}"#),
        Reply::new(500, r#"{"errors":["Internal Server Error"]}"#),
        Reply::new(503, ""),
    ]);
    let url = start_forwarder(datadog(&stand_in, 2), Selection::all()).await;
    let event = fresh(EventName::ErrorOccurred);

    let report = send_with_sender(&url, &event, 3, 100).await;
    assert!(report.is_delivered(), "{report:?}");
    let statuses: Vec<Option<u16>> = report.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(502), Some(200)]);

    let paths: Vec<String> = stand_in.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, [EVENTS, SERIES, SERIES, SERIES]);
    let successes = stand_in.successes();
    assert_eq!(successes.iter().filter(|r| r.path == EVENTS).count(), 1);
    assert_eq!(successes.iter().filter(|r| r.path == SERIES).count(), 1);
}

#[tokio::test]
async fn a_bad_api_key_is_final_and_rate_limits_wait_for_the_reset() {
    let stand_in = datadog_stand_in().await;
    stand_in.script([Reply::new(403, r#"{"errors":["Forbidden"]}"#)]);
    let url = start_forwarder(datadog(&stand_in, 3), Selection::all()).await;
    let answer = deliver(&url, &fresh(EventName::SystemStatusChanged)).await;
    assert_eq!(answer.status, 422, "{answer:?}");
    assert_eq!(
        answer.body["message"],
        r#"datadog refused the request (403): {"errors":["Forbidden"]}"#
    );
    assert_eq!(stand_in.requests().len(), 1);

    stand_in.script([
        Reply::new(429, r#"{"errors":["Too many requests"]}"#).header("x-ratelimit-reset", "1")
    ]);
    let answer = deliver(&url, &fresh(EventName::SystemStatusChanged)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 3);
    let gap = requests[2].at - requests[1].at;
    assert!(gap >= Duration::from_millis(990), "waited only {gap:?}");
}

#[tokio::test]
async fn run_reads_its_settings_from_the_environment() {
    let stand_in = datadog_stand_in().await;
    let binary = spawn_run(
        datadog::DEFAULT_EVENTS,
        Datadog::from_env,
        &[
            ("DD_API_KEY", API_KEY.to_owned()),
            ("DD_SITE", "datadoghq.eu".to_owned()),
            ("DATADOG_API_URL", stand_in.url.clone()),
            ("FORWARD_MIN_SEVERITY", "warning".to_owned()),
        ],
    )
    .await;
    let answer = deliver(&binary.url, &fresh(EventName::ChatMessageReceived)).await;
    assert_eq!(
        answer.body,
        json!({"status": "ignored", "reason": "filtered out by min_severity"})
    );
    let answer = deliver(&binary.url, &fresh(EventName::ErrorOccurred)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 2);
    assert_datadog_request(&requests[0], EVENTS);
    assert_datadog_request(&requests[1], SERIES);
}

#[tokio::test]
async fn an_unknown_site_is_a_config_error_before_anything_is_sent() {
    let env = megabot_webhook_forward::Env::from_pairs([
        ("MEGABOT_WEBHOOK_SECRET", "s"),
        ("DD_API_KEY", API_KEY),
        ("DD_SITE", "us2"),
        ("FORWARDER_ADDR", "127.0.0.1:0"),
    ]);
    let error = megabot_webhook_forward::run(&env, datadog::DEFAULT_EVENTS, Datadog::from_env)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "invalid_config");
    let text = error.to_string();
    assert!(
        text.starts_with("invalid DD_SITE: `us2` is not a Datadog site"),
        "{text}"
    );
    assert!(text.contains("us2.ddog-gov.com (us2-fed)"), "{text}");
    assert!(!text.contains(API_KEY));
}
