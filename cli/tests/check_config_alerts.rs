//! `check-config` with the guide's `webhook_alerts`: rules and channels are
//! shown, the Slack webhook URL's path and the SMTP credentials are not.

mod common;

use common::bin;

const SLACK_URL: &str = "https://hooks.slack.com/services/T0AAA/B0BBB/sl4ckS3cretT0ken";
const SMTP_PASSWORD: &str = "smtp-Pa55word-xyz";

#[test]
fn check_config_shows_alerts_with_credentials_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mega-config.yaml");
    std::fs::write(
        &path,
        r#"webhooks:
  secret_key: "${WEBHOOK_SECRET_KEY}"
  endpoints:
    - url: "https://your-service.com/webhook"
      events: ["error_occurred"]

# Alert configuration (the guide's, with an SMTP server for the email channel)
webhook_alerts:
  enabled: true
  failure_threshold: 0.95  # Alert if success rate drops below 95%
  delivery_timeout_threshold: 30  # Alert if delivery takes longer than 30s

  channels:
    - type: "slack"
      webhook_url: "${SLACK_ALERT_WEBHOOK}"
      message: "Webhook delivery failure detected"

    - type: "email"
      recipients: ["admin@megabot.ai"]
      subject: "MegaBot Webhook Alert"
      smtp_host: smtp.megabot.ai
      smtp_username: alerts
      smtp_password: "${SMTP_PASSWORD}"
      from: "alerts@megabot.ai"

    - type: "email"
      recipients: ["oncall@megabot.ai"]
"#,
    )
    .unwrap();
    let out = bin()
        .args(["check-config", &path.to_string_lossy()])
        .env("WEBHOOK_SECRET_KEY", "k")
        .env("SLACK_ALERT_WEBHOOK", SLACK_URL)
        .env("SMTP_PASSWORD", SMTP_PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for expected in [
        "webhook_alerts: enabled, 3 channels (2 active)",
        "rule     success rate below 95% over 300 s (judged from 10 deliveries), per endpoint",
        "rule     a delivery over 30 s from publish to outcome",
        "rule     an endpoint disabled by its health rule",
        "cooldown 900 s between alerts",
        "channel  [1] slack: https://hooks.slack.com/… (path not shown)",
        "message: \"Webhook delivery failure detected\"",
        "channel  [2] email: to admin@megabot.ai",
        "smtp smtp.megabot.ai:587, starttls, credentials set (not shown)",
        "channel  [3] email (inactive): to oncall@megabot.ai",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(
        stderr.contains(
            "webhook_alerts.channels[2]: email channel without `smtp_host`: it is inactive"
        ),
        "{stderr}"
    );
    for secret in ["sl4ckS3cretT0ken", "T0AAA", SMTP_PASSWORD] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} shown:\n{stdout}{stderr}"
        );
    }
}
