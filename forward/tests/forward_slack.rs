//! The Slack forwarder against a stand-in of Slack's incoming webhooks, over
//! loopback HTTP.

mod common_forward;

use std::time::Duration;

use common_forward::{
    Reply, StandIn, deliver, fresh, quick_retry, send_with_sender, spawn_run, start_forwarder,
};
use megabot_webhook_forward::slack::{Slack, SlackConfig};
use megabot_webhook_forward::{Selection, slack};
use megabot_webhook_sender::config::Filters;
use megabot_webhook_types::EventName;
use serde_json::json;
use tokio::time::Instant;

const HOOK_PATH: &str = "/services/T000/B000/XXXXXXXX";

async fn slack_stand_in() -> StandIn {
    StandIn::start(Reply::new(200, "ok")).await
}

fn slack(stand_in: &StandIn, max_attempts: u32) -> Slack {
    let config = SlackConfig::new(&format!("{}{HOOK_PATH}", stand_in.url)).unwrap();
    Slack::new(config, quick_retry(max_attempts)).unwrap()
}

#[tokio::test]
async fn a_signed_guide_event_becomes_one_slack_message() {
    let stand_in = slack_stand_in().await;
    let url = start_forwarder(slack(&stand_in, 3), Selection::all()).await;
    let event = fresh(EventName::ToolExecutionFailed);

    let answer = deliver(&url, &event).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body,
        json!({"status": "forwarded", "target": "slack", "attempts": 1})
    );

    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, HOOK_PATH);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request
            .header("user-agent")
            .unwrap()
            .starts_with("megabot-webhook-forwarder/")
    );

    let body = request.json();
    let ts = event.unix_timestamp();
    assert_eq!(
        body["text"],
        "🚨 Tool Execution Failed: deploy_app failed: Failed to connect to database"
    );
    let attachments = body["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    let attachment = &attachments[0];
    assert_eq!(attachment["color"], "danger");
    assert_eq!(attachment["title"], "🚨 Tool Execution Failed");
    assert_eq!(
        attachment["text"],
        "*deploy_app* failed: Failed to connect to database"
    );
    assert_eq!(attachment["ts"], ts);
    assert!(
        attachment["fallback"]
            .as_str()
            .is_some_and(|f| !f.is_empty())
    );
    let fields = attachment["fields"].as_array().unwrap();
    let field = |title: &str| {
        fields
            .iter()
            .find(|f| f["title"] == title)
            .unwrap_or_else(|| panic!("no field {title}: {fields:?}"))["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let date = field("Timestamp");
    assert!(
        date.starts_with(&format!("<!date^{ts}^{{date_short_pretty}} {{time}}|"))
            && date.ends_with(" UTC>"),
        "{date}"
    );
    assert_eq!(field("Event ID"), event.id);
    assert_eq!(field("Error type"), "DeploymentError");
    // Not the guide's `<@ts|..>`, which Slack reads as a user mention.
    assert!(!request.text().contains("<@"));
}

#[tokio::test]
async fn severity_picks_the_colour() {
    let stand_in = slack_stand_in().await;
    let url = start_forwarder(slack(&stand_in, 1), Selection::all()).await;
    for (name, color) in [
        (EventName::SystemStatusChanged, "warning"),
        (EventName::DeploymentCompleted, "good"),
    ] {
        assert_eq!(deliver(&url, &fresh(name)).await.status, 200);
        let last = stand_in.requests().pop().unwrap();
        assert_eq!(last.json()["attachments"][0]["color"], color, "{name}");
    }
}

#[tokio::test]
async fn a_failing_slack_is_retried_then_megabots_retry_delivers_exactly_once() {
    let stand_in = slack_stand_in().await;
    // The forwarder tries twice; both fail. MegaBot's retry then finds Slack back.
    stand_in.script([Reply::new(500, "internal_error"), Reply::new(503, "")]);
    let url = start_forwarder(slack(&stand_in, 2), Selection::all()).await;
    let event = fresh(EventName::DeploymentCompleted);

    let report = send_with_sender(&url, &event, 3, 200).await;
    assert!(report.is_delivered(), "{report:?}");
    let statuses: Vec<Option<u16>> = report.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(502), Some(200)]);
    assert!(
        report.attempts[0]
            .response_body
            .as_deref()
            .unwrap()
            .contains("upstream_unavailable")
    );

    let requests = stand_in.requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 503, 200]
    );
    assert_eq!(stand_in.successes().len(), 1);

    // The delivery is done: a late duplicate sends nothing more.
    let again = deliver(&url, &event).await;
    assert_eq!(
        (again.status, again.body),
        (200, json!({"status": "duplicate"}))
    );
    assert_eq!(stand_in.requests().len(), 3);
}

#[tokio::test]
async fn permanent_refusals_surface_slacks_error_code_and_are_not_retried() {
    for (status, code) in [
        (400, "invalid_payload"),
        (403, "action_prohibited"),
        (404, "no_service"),
        (410, "channel_is_archived"),
    ] {
        let stand_in = slack_stand_in().await;
        stand_in.script([Reply::new(status, code)]);
        let url = start_forwarder(slack(&stand_in, 3), Selection::all()).await;
        let answer = deliver(&url, &fresh(EventName::ErrorOccurred)).await;
        assert_eq!(answer.status, 422, "{status}: {answer:?}");
        assert_eq!(answer.body["error"], "upstream_rejected");
        let message = answer.body["message"].as_str().unwrap();
        assert_eq!(
            message,
            format!("slack refused the request ({status}): {code}")
        );
        assert_eq!(stand_in.requests().len(), 1, "{status} must not be retried");
    }
}

#[tokio::test]
async fn rate_limited_messages_wait_for_retry_after() {
    let stand_in = slack_stand_in().await;
    stand_in.script([Reply::new(429, "rate_limited").header("retry-after", "2")]);
    let url = start_forwarder(slack(&stand_in, 3), Selection::all()).await;

    let answer = deliver(&url, &fresh(EventName::ErrorOccurred)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_millis(1990), "waited only {gap:?}");

    // A wait beyond the policy's max_delay is passed on to MegaBot instead.
    stand_in.script([Reply::new(429, "rate_limited").header("retry-after", "30")]);
    let answer = deliver(&url, &fresh(EventName::ErrorOccurred)).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.retry_after.as_deref(), Some("30"));
    assert_eq!(stand_in.requests().len(), 3);
}

#[tokio::test]
async fn a_burst_of_five_is_queued_one_second_apart() {
    let stand_in = slack_stand_in().await;
    let url = start_forwarder(slack(&stand_in, 1), Selection::all()).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            deliver(&url, &fresh(EventName::ToolExecutionFailed)).await
        }));
    }
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let elapsed = started.elapsed();
    let mut arrivals: Vec<Instant> = stand_in.requests().iter().map(|r| r.at).collect();
    assert_eq!(arrivals.len(), 5, "none dropped");
    arrivals.sort();
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(990), "messages {gap:?} apart");
    }
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

#[tokio::test]
async fn unsubscribed_and_filtered_events_are_ignored_without_a_request() {
    let stand_in = slack_stand_in().await;
    let filters: Filters = serde_json::from_value(json!({"min_severity": "critical"})).unwrap();
    let selection = Selection::new(["error_occurred", "tool_execution_*"], &filters).unwrap();
    let url = start_forwarder(slack(&stand_in, 1), selection).await;

    let answer = deliver(&url, &fresh(EventName::ChatMessageSent)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({"status": "ignored", "reason": "not subscribed"})
    );
    // The guide's error is `error`, below `critical`.
    let answer = deliver(&url, &fresh(EventName::ErrorOccurred)).await;
    assert_eq!(
        answer.body,
        json!({"status": "ignored", "reason": "filtered out by min_severity"})
    );
    assert!(stand_in.requests().is_empty());

    // A bad signature never reaches the selection or Slack.
    let event = fresh(EventName::ErrorOccurred);
    let response = reqwest::Client::new()
        .post(&url)
        .header("x-megabot-signature", format!("sha256={}", "0".repeat(64)))
        .body(event.to_guide_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(stand_in.requests().is_empty());
}

#[tokio::test]
async fn run_reads_its_settings_from_the_environment() {
    let stand_in = slack_stand_in().await;
    let binary = spawn_run(
        slack::DEFAULT_EVENTS,
        Slack::from_env,
        &[
            ("SLACK_WEBHOOK_URL", format!("{}{HOOK_PATH}", stand_in.url)),
            ("FORWARD_EVENTS", "deployment_completed".to_owned()),
        ],
    )
    .await;
    let answer = deliver(&binary.url, &fresh(EventName::DeploymentCompleted)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = deliver(&binary.url, &fresh(EventName::ErrorOccurred)).await;
    assert_eq!(answer.body["status"], "ignored");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, HOOK_PATH);
    assert_eq!(
        requests[0].json()["attachments"][0]["title"],
        "✅ Deployment Completed"
    );
}

#[tokio::test]
async fn a_queue_longer_than_the_budget_hands_the_event_back_to_megabot() {
    let stand_in = slack_stand_in().await;
    let mut retry = quick_retry(1);
    retry.budget = Duration::from_millis(1500);
    let config = SlackConfig::new(&format!("{}{HOOK_PATH}", stand_in.url)).unwrap();
    let url = start_forwarder(Slack::new(config, retry).unwrap(), Selection::all()).await;

    let events: Vec<_> = (0..3).map(|_| fresh(EventName::ErrorOccurred)).collect();
    let mut tasks = Vec::new();
    for event in events.clone() {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { deliver(&url, &event).await }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().status);
    }
    statuses.sort_unstable();
    // Two fit in the budget (at 0 s and 1 s); the third would wait 2 s.
    assert_eq!(statuses, [200, 200, 502]);
    assert_eq!(stand_in.requests().len(), 2);

    // MegaBot's retry of the one handed back goes through; each was sent once.
    for event in &events {
        let answer = deliver(&url, event).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 3);
    let mut ids: Vec<String> = requests
        .iter()
        .map(|r| {
            r.json()["attachments"][0]["fields"][1]["value"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    let mut expected: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    expected.sort();
    assert_eq!(ids, expected);
}
