//! The GitHub forwarder against a stand-in of GitHub's `repository_dispatch`
//! API, over loopback HTTP.

mod common_forward;

use chrono::Utc;
use common_forward::{
    Reply, StandIn, deliver, fresh, quick_retry, send_with_sender, spawn_run, start_forwarder,
    with_data,
};
use megabot_webhook_forward::github::{GitHub, GitHubConfig, MAX_BODY_BYTES, MAX_TOP_LEVEL_KEYS};
use megabot_webhook_forward::{Selection, github};
use megabot_webhook_types::EventName;
use serde_json::json;

const TOKEN: &str = "github_pat_test_0123456789";
const DISPATCHES: &str = "/repos/octo-org/hello-world/dispatches";

async fn github_stand_in() -> StandIn {
    StandIn::start(Reply::new(204, "")).await
}

fn github(stand_in: &StandIn, max_attempts: u32) -> GitHub {
    let config = GitHubConfig::new(TOKEN, "octo-org/hello-world")
        .unwrap()
        .with_api_url(&stand_in.url)
        .unwrap();
    GitHub::new(config, quick_retry(max_attempts)).unwrap()
}

#[tokio::test]
async fn a_deployment_becomes_a_repository_dispatch() {
    let stand_in = github_stand_in().await;
    let url = start_forwarder(github(&stand_in, 3), Selection::all()).await;
    let event = fresh(EventName::DeploymentCompleted);

    let answer = deliver(&url, &event).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, DISPATCHES);
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.github+json")
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request
            .header("user-agent")
            .is_some_and(|ua| !ua.is_empty())
    );

    let body = request.json();
    assert_eq!(
        body,
        json!({
            "event_type": "deployment_completed",
            "client_payload": {
                "event": "deployment_completed",
                "id": event.id,
                "timestamp": event.unix_timestamp(),
                "data": event.payload.data_value(),
                // The guide's workflow reads `client_payload.url`.
                "url": "https://my-app.vercel.app",
            }
        })
    );
}

#[tokio::test]
async fn an_error_carries_the_message_the_guides_workflow_reads() {
    let stand_in = github_stand_in().await;
    let url = start_forwarder(github(&stand_in, 3), Selection::all()).await;
    assert_eq!(
        deliver(&url, &fresh(EventName::ErrorOccurred)).await.status,
        200
    );
    let body = stand_in.requests()[0].json();
    assert_eq!(body["event_type"], "error_occurred");
    assert_eq!(
        body["client_payload"]["error"]["message"],
        "Anthropic API rate limit exceeded"
    );
    assert!(body["client_payload"].as_object().unwrap().len() <= MAX_TOP_LEVEL_KEYS);
}

#[tokio::test]
async fn a_big_event_is_trimmed_below_64_kb_and_says_so() {
    let stand_in = github_stand_in().await;
    let url = start_forwarder(github(&stand_in, 1), Selection::all()).await;
    let big = json!({
        "execution_id": "exec_big",
        "tool_name": "dump_logs",
        "status": "success",
        "result": {"duration": 1.5},
        "output": "x".repeat(150_000),
        "metadata": {"lines": "y".repeat(40_000)},
    });
    let event = with_data(&fresh(EventName::ToolExecutionCompleted), big);
    assert!(event.to_guide_json().len() > 2 * MAX_BODY_BYTES);

    let answer = deliver(&url, &event).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let request = &stand_in.requests()[0];
    assert!(
        request.body.len() < MAX_BODY_BYTES,
        "{} bytes",
        request.body.len()
    );
    let body = request.json();
    let payload = body["client_payload"].as_object().unwrap();
    assert!(payload.len() <= MAX_TOP_LEVEL_KEYS);
    let data = &payload["data"];
    assert_eq!(data["megabot_trimmed"], true);
    assert_eq!(data["megabot_dropped_fields"], json!(["output"]));
    assert_eq!(data["megabot_dropped_count"], 1);
    // What fits is kept.
    assert_eq!(data["tool_name"], "dump_logs");
    assert_eq!(data["metadata"]["lines"].as_str().unwrap().len(), 40_000);
    assert_eq!(payload["id"], event.id.as_str());
}

/// GitHub refuses some payloads under 64 KB with `422 client_payload is too
/// large`: the forwarder trims to half the refused size and sends again.
#[tokio::test]
async fn too_large_for_github_is_trimmed_and_sent_again() {
    let stand_in = github_stand_in().await;
    stand_in.script([Reply::new(
        422,
        r#"{"message":"client_payload is too large.","documentation_url":"https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event"}"#,
    )]);
    let url = start_forwarder(github(&stand_in, 3), Selection::all()).await;
    let data = json!({
        "execution_id": "exec_55k",
        "tool_name": "dump_logs",
        "output": "x".repeat(40_000),
        "metadata": {"lines": "y".repeat(15_000)},
    });
    let event = with_data(&fresh(EventName::ToolExecutionCompleted), data);

    let answer = deliver(&url, &event).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["attempts"], 2);
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        [422, 204]
    );
    // The first went out whole: it is under our 64 KB limit.
    let first = requests[0].json();
    assert!(requests[0].body.len() > 50_000 && requests[0].body.len() < MAX_BODY_BYTES);
    assert!(
        first["client_payload"]["data"]
            .get("megabot_trimmed")
            .is_none()
    );
    assert_eq!(
        first["client_payload"]["data"]["output"]
            .as_str()
            .unwrap()
            .len(),
        40_000
    );
    // The second is under half of the first, the largest field dropped, the
    // rest of the request unchanged.
    let second = requests[1].json();
    assert!(
        requests[1].body.len() < requests[0].body.len() / 2,
        "{} then {} bytes",
        requests[0].body.len(),
        requests[1].body.len()
    );
    let data = &second["client_payload"]["data"];
    assert_eq!(data["megabot_trimmed"], true);
    assert_eq!(data["megabot_dropped_fields"], json!(["output"]));
    assert_eq!(data["metadata"]["lines"].as_str().unwrap().len(), 15_000);
    assert_eq!(second["event_type"], "tool_execution_completed");
    assert_eq!(second["client_payload"]["id"], event.id.as_str());
    assert_eq!(requests[1].path, DISPATCHES);
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    // A payload GitHub still finds too large once trimmed to the floor: final.
    let stand_in = github_stand_in().await;
    let too_large = Reply::new(422, r#"{"message":"client_payload is too large."}"#);
    stand_in.script(std::iter::repeat_n(too_large, 10));
    let url = start_forwarder(github(&stand_in, 3), Selection::all()).await;
    let answer = deliver(&url, &event).await;
    assert_eq!(answer.status, 422, "{answer:?}");
    let sizes: Vec<usize> = stand_in.requests().iter().map(|r| r.body.len()).collect();
    assert!(sizes.len() >= 2, "{sizes:?}");
    assert!(sizes.windows(2).all(|w| w[1] < w[0]), "{sizes:?}");
    assert!(
        sizes[sizes.len() - 1] / 2 < github::MIN_TRIMMED_BYTES,
        "{sizes:?}"
    );
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains("client_payload is too large"), "{message}");
}

#[tokio::test]
async fn a_failing_github_is_retried_then_megabots_retry_dispatches_exactly_once() {
    let stand_in = github_stand_in().await;
    stand_in.script([Reply::new(502, "Bad Gateway"), Reply::new(500, "")]);
    let url = start_forwarder(github(&stand_in, 2), Selection::all()).await;
    let event = fresh(EventName::ErrorOccurred);

    let report = send_with_sender(&url, &event, 3, 100).await;
    assert!(report.is_delivered(), "{report:?}");
    let statuses: Vec<Option<u16>> = report.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(502), Some(200)]);
    assert_eq!(
        stand_in
            .requests()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        [502, 500, 204]
    );
    assert_eq!(stand_in.successes().len(), 1);
}

#[tokio::test]
async fn not_found_and_unprocessable_are_final() {
    for (status, text) in [
        (
            404,
            r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}"#,
        ),
        (
            422,
            r#"{"message":"Invalid request.\n\nNo subschema in \"anyOf\" matched."}"#,
        ),
    ] {
        let stand_in = github_stand_in().await;
        stand_in.script([Reply::new(status, text)]);
        let url = start_forwarder(github(&stand_in, 3), Selection::all()).await;
        let answer = deliver(&url, &fresh(EventName::DeploymentCompleted)).await;
        assert_eq!(answer.status, 422, "{answer:?}");
        let message = answer.body["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("github refused the request ({status}): ")),
            "{message}"
        );
        assert!(!message.contains(TOKEN));
        assert_eq!(stand_in.requests().len(), 1);
    }
}

#[tokio::test]
async fn rate_limits_wait_for_the_reset_or_are_passed_on() {
    let stand_in = github_stand_in().await;
    let reset = Utc::now().timestamp() + 1;
    stand_in.script([Reply::new(403, r#"{"message":"API rate limit exceeded"}"#)
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", reset.to_string())]);
    let url = start_forwarder(github(&stand_in, 3), Selection::all()).await;
    let answer = deliver(&url, &fresh(EventName::ErrorOccurred)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // the retry came at the reset instant, not before (wall clock, whatever second
    // boundary the first attempt fell on)
    assert!(Utc::now().timestamp_millis() >= reset * 1000);
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 2);

    // Longer than the policy allows: MegaBot is told when to come back.
    stand_in.script([Reply::new(429, "").header("retry-after", "60")]);
    let answer = deliver(&url, &fresh(EventName::ErrorOccurred)).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.retry_after.as_deref(), Some("60"));
    assert_eq!(stand_in.requests().len(), 3);
}

#[tokio::test]
async fn run_reads_its_settings_from_the_environment() {
    let stand_in = github_stand_in().await;
    let binary = spawn_run(
        github::DEFAULT_EVENTS,
        GitHub::from_env,
        &[
            ("GITHUB_TOKEN", TOKEN.to_owned()),
            ("GITHUB_REPOSITORY", "octo-org/hello-world".to_owned()),
            ("GITHUB_API_URL", stand_in.url.clone()),
        ],
    )
    .await;
    // Default events: the guide's workflow types.
    let answer = deliver(&binary.url, &fresh(EventName::ChatMessageSent)).await;
    assert_eq!(answer.body["status"], "ignored");
    let answer = deliver(&binary.url, &fresh(EventName::DeploymentCompleted)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, DISPATCHES);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}
