//! The GitLab forwarder against a stand-in of GitLab's pipeline trigger API,
//! over loopback HTTP.

mod common_forward;

use std::time::Duration;

use common_forward::{
    Recorded, Reply, StandIn, deliver, fresh, quick_retry, send_with_sender, spawn_run,
    start_forwarder,
};
use megabot_webhook_forward::gitlab::{GitLab, GitLabConfig};
use megabot_webhook_forward::{Selection, gitlab};
use megabot_webhook_types::EventName;
use serde_json::json;

const TOKEN: &str = "glptt-test-0123456789abcdef";
const TRIGGER: &str = "/api/v4/projects/megabot%2Fdeploy-target/trigger/pipeline";
const CREATED: &str =
    r#"{"id":4242,"status":"created","web_url":"https://gitlab.example.com/p/-/pipelines/4242"}"#;

async fn gitlab_stand_in() -> StandIn {
    StandIn::start(Reply::new(201, CREATED)).await
}

fn gitlab(stand_in: &StandIn, max_attempts: u32) -> GitLab {
    let config = GitLabConfig::new(TOKEN, "megabot/deploy-target", "release")
        .unwrap()
        .with_api_url(&stand_in.url)
        .unwrap();
    GitLab::new(config, quick_retry(max_attempts)).unwrap()
}

fn form(request: &Recorded) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&request.body).expect("a urlencoded form")
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_deployment_triggers_the_guides_pipeline() {
    let stand_in = gitlab_stand_in().await;
    let url = start_forwarder(gitlab(&stand_in, 3), Selection::all()).await;
    let event = fresh(EventName::DeploymentCompleted);

    let answer = deliver(&url, &event).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, TRIGGER);
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = form(request);
    assert_eq!(field(&form, "token"), Some(TOKEN));
    assert_eq!(field(&form, "ref"), Some("release"));
    assert_eq!(
        field(&form, "variables[MEGABOT_EVENT]"),
        Some("deployment_completed")
    );
    assert_eq!(
        field(&form, "variables[MEGABOT_EVENT_ID]"),
        Some(event.id.as_str())
    );
    assert_eq!(
        field(&form, "variables[MEGABOT_DEPLOY_TRIGGER]"),
        Some("true")
    );
    assert_eq!(
        field(&form, "variables[MEGABOT_DEPLOY_URL]"),
        Some("https://my-app.vercel.app")
    );
    assert_eq!(field(&form, "variables[MEGABOT_VERSION]"), Some("1.4.0"));
    assert_eq!(
        field(&form, "variables[MEGABOT_ENVIRONMENT]"),
        Some("production")
    );
}

#[tokio::test]
async fn other_events_run_a_pipeline_without_the_deploy_trigger() {
    let stand_in = gitlab_stand_in().await;
    let url = start_forwarder(gitlab(&stand_in, 3), Selection::all()).await;
    assert_eq!(
        deliver(&url, &fresh(EventName::ErrorOccurred)).await.status,
        200
    );
    let form = form(&stand_in.requests()[0]);
    assert_eq!(
        field(&form, "variables[MEGABOT_EVENT]"),
        Some("error_occurred")
    );
    assert_eq!(field(&form, "variables[MEGABOT_DEPLOY_TRIGGER]"), None);
    assert_eq!(field(&form, "variables[MEGABOT_DEPLOY_URL]"), None);
}

#[tokio::test]
async fn a_failing_gitlab_is_retried_then_megabots_retry_triggers_exactly_once() {
    let stand_in = gitlab_stand_in().await;
    stand_in.script([
        Reply::new(500, r#"{"message":"500 Internal Server Error"}"#),
        Reply::new(503, ""),
    ]);
    let url = start_forwarder(gitlab(&stand_in, 2), Selection::all()).await;
    let event = fresh(EventName::DeploymentCompleted);

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
        [500, 503, 201]
    );
    assert_eq!(stand_in.successes().len(), 1);
}

#[tokio::test]
async fn an_unknown_ref_is_final_and_rate_limits_are_honoured() {
    let stand_in = gitlab_stand_in().await;
    stand_in.script([Reply::new(
        400,
        r#"{"message":{"base":["Reference not found"]}}"#,
    )]);
    let url = start_forwarder(gitlab(&stand_in, 3), Selection::all()).await;
    let answer = deliver(&url, &fresh(EventName::DeploymentCompleted)).await;
    assert_eq!(answer.status, 422, "{answer:?}");
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains("Reference not found"), "{message}");
    assert!(!message.contains(TOKEN));
    assert_eq!(stand_in.requests().len(), 1);

    stand_in.script([Reply::new(429, "Retry later").header("retry-after", "1")]);
    let answer = deliver(&url, &fresh(EventName::DeploymentCompleted)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body,
        json!({"status": "forwarded", "target": "gitlab", "attempts": 2})
    );
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests[2].at - requests[1].at >= Duration::from_millis(990));
}

#[tokio::test]
async fn run_reads_its_settings_from_the_environment() {
    let stand_in = gitlab_stand_in().await;
    let binary = spawn_run(
        gitlab::DEFAULT_EVENTS,
        GitLab::from_env,
        &[
            ("GITLAB_TRIGGER_TOKEN", TOKEN.to_owned()),
            ("GITLAB_PROJECT_ID", "42".to_owned()),
            ("GITLAB_API_URL", stand_in.url.clone()),
        ],
    )
    .await;
    // Default events: deployment_completed only.
    let answer = deliver(&binary.url, &fresh(EventName::ErrorOccurred)).await;
    assert_eq!(answer.body["status"], "ignored");
    let answer = deliver(&binary.url, &fresh(EventName::DeploymentCompleted)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let requests = stand_in.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/api/v4/projects/42/trigger/pipeline");
    assert_eq!(field(&form(&requests[0]), "ref"), Some("main"));
}
