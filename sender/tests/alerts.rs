// Over 600 lines: one alerting scenario per test (threshold, cool-down, resolution,
// channels) over the same injected clock, loopback Slack stand-in and SMTP server.
//! The alert engine (design 9.6), loopback only, time from an injected
//! clock: a failure rate crossing the threshold sends exactly one Slack alert
//! (to a loopback stand-in, the exact request checked) and one e-mail (to a
//! real SMTP server, Python's `aiosmtpd`); recovery sends "resolved"; the
//! cool-down holds a second alert back; a restart on the same SQLite file
//! neither repeats nor forgets an open incident; a dead or hanging channel
//! does not delay deliveries; the guide's `webhook_alerts` loads as printed.

#![cfg(all(feature = "sqlite", feature = "alerts-email"))]

mod common_dispatch;
#[cfg(feature = "redis")]
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use common_dispatch::{ManualClock, Receiver, always, config, endpoint, event, wait_for};
use megabot_webhook_sender::alerts::AlertEngine;
use megabot_webhook_sender::config::AlertsConfig;
use megabot_webhook_sender::dispatcher::{
    DeliveryOutcome, DeliveryState, DeliveryStore, Dispatcher, IncidentRecord, SqliteStore,
};
use megabot_webhook_sender::{Clock, ConfigLoader, DestinationPolicy};

const WAIT: Duration = Duration::from_secs(20);
const SLACK_PATH: &str = "/services/T000/B000/XXXXsecretXXXX";

// ---------------------------------------------------------------- stand-ins

/// One request the Slack stand-in received.
#[derive(Debug, Clone)]
struct SlackRequest {
    method: Method,
    path: String,
    content_type: Option<String>,
    body: serde_json::Value,
}

/// A loopback Slack incoming webhook that records every request.
struct SlackStandIn {
    url: String,
    seen: Arc<Mutex<Vec<SlackRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlackStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SlackStandIn {
    async fn start() -> SlackStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(record).with_state(seen.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlackStandIn {
            url: format!("http://{addr}{SLACK_PATH}"),
            seen,
            task,
        }
    }

    fn requests(&self) -> Vec<SlackRequest> {
        self.seen.lock().unwrap().clone()
    }

    fn texts(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.body["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

async fn record(
    State(seen): State<Arc<Mutex<Vec<SlackRequest>>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    seen.lock().unwrap().push(SlackRequest {
        method,
        path: uri.path().to_owned(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    });
    "ok"
}

/// One message the SMTP server accepted.
#[derive(Debug, Clone)]
struct Mail {
    mail_from: String,
    rcpt_tos: Vec<String>,
    headers: HashMap<String, String>,
    body: String,
}

/// A real SMTP server: `aiosmtpd` on 127.0.0.1 and a free port.
struct SmtpServer {
    port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is needed (scripts/test.sh installs it with aiosmtpd)");
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).expect(
            "the SMTP server did not start: is aiosmtpd installed (requirements-test.txt)?",
        );
        let port: serde_json::Value = serde_json::from_str(&first).unwrap();
        let port = u16::try_from(port["port"].as_u64().unwrap()).unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sink = mails.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let value: serde_json::Value = serde_json::from_str(&line).unwrap();
                let data = value["data"]
                    .as_str()
                    .unwrap_or_default()
                    .replace("\r\n", "\n");
                let (head, body) = data.split_once("\n\n").unwrap_or((&data, ""));
                let headers = head
                    .lines()
                    .filter_map(|l| l.split_once(": "))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                    .collect();
                sink.lock().unwrap().push(Mail {
                    mail_from: value["mail_from"].as_str().unwrap_or_default().to_owned(),
                    rcpt_tos: value["rcpt_tos"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                    headers,
                    body: body.to_owned(),
                });
            }
        });
        let _ = std::io::stdout().flush();
        SmtpServer {
            port,
            child,
            stdin,
            mails,
        }
    }

    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------- helpers

fn alerts(yaml: &str, vars: &[(&str, &str)]) -> AlertsConfig {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let loaded = ConfigLoader::with_env(move |name| vars.get(name).cloned())
        .load_str(yaml, "mega-config.yaml")
        .unwrap();
    loaded.alerts.expect("a webhook_alerts section")
}

fn slack_yaml(extra: &str) -> String {
    format!(
        "webhook_alerts:\n  failure_threshold: 0.95\n  window: 300\n  min_samples: 10\n  cooldown: 900\n  channels:\n    - type: slack\n      webhook_url: \"${{SLACK_ALERT_WEBHOOK}}\"\n      message: \"Webhook delivery failure detected\"\n{extra}"
    )
}

async fn engine(
    config: AlertsConfig,
    store: Arc<dyn DeliveryStore>,
    clock: &ManualClock,
) -> AlertEngine {
    AlertEngine::builder(config, store)
        .clock(Arc::new(clock.clone()))
        .channel_retry(3, Duration::from_millis(20))
        .channel_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap()
}

/// `n` outcomes of `ep_test` at the clock's now, published a second before.
async fn outcomes(engine: &AlertEngine, clock: &ManualClock, n: usize, delivered: bool, tag: &str) {
    let now = clock.now_unix();
    for i in 0..n {
        let at = chrono::DateTime::from_timestamp(now, 0).unwrap();
        let published = chrono::DateTime::from_timestamp(now - 1, 0).unwrap();
        let state = if delivered {
            DeliveryState::Delivered
        } else {
            DeliveryState::Dead
        };
        engine
            .record(&DeliveryOutcome::new(
                format!("dlv_{tag}_{i}"),
                "ep_test",
                state,
                published,
                at,
            ))
            .await;
    }
}

fn open(incidents: &[IncidentRecord]) -> Vec<&IncidentRecord> {
    incidents
        .iter()
        .filter(|i| i.resolved_at.is_none())
        .collect()
}

const RAISED: &str = "Webhook delivery failure detected: endpoint ep_test: success rate 0.0% (0 of 10 deliveries delivered) over the last 300 s, below 95%";
const RESOLVED: &str = "[resolved] Webhook delivery failure detected: endpoint ep_test: success rate back at or above 95% for 300 s";

// ---------------------------------------------------------------- tests

/// Ten dead outcomes: one Slack alert (exact request) and one e-mail through
/// a real SMTP server; more failures add nothing; recovery for a whole window
/// sends "resolved" on both; failing again within the cool-down stays
/// silent until the cool-down ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_rate_alerts_once_on_slack_and_email_then_resolves_within_the_cooldown() {
    let slack = SlackStandIn::start().await;
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn DeliveryStore> =
        Arc::new(SqliteStore::open(dir.path().join("store.sqlite3")).unwrap());
    let clock = ManualClock::new();
    let yaml = slack_yaml(&format!(
        "    - type: email\n      recipients: [\"admin@megabot.ai\", \"Ops <ops@megabot.ai>\"]\n      subject: \"MegaBot Webhook Alert\"\n      smtp_host: 127.0.0.1\n      smtp_port: {}\n      smtp_tls: none\n      from: \"MegaBot Alerts <alerts@megabot.ai>\"\n",
        smtp.port
    ));
    let config = alerts(&yaml, &[("SLACK_ALERT_WEBHOOK", &slack.url)]);
    let engine = engine(config, store.clone(), &clock).await;
    assert_eq!(engine.channels().len(), 2, "{:?}", engine.channels());

    // Nine failures: below min_samples.
    outcomes(&engine, &clock, 9, false, "a").await;
    assert!(engine.incidents().await.is_empty());
    // The tenth crosses the threshold.
    outcomes(&engine, &clock, 1, false, "b").await;
    wait_for("the slack alert", WAIT, || async {
        !slack.requests().is_empty()
    })
    .await;
    wait_for("the alert email", WAIT, || async {
        !smtp.mails().is_empty()
    })
    .await;
    let request = &slack.requests()[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, SLACK_PATH);
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    assert_eq!(request.body, serde_json::json!({ "text": RAISED }));
    let mail = &smtp.mails()[0];
    assert_eq!(mail.mail_from, "alerts@megabot.ai");
    assert_eq!(mail.rcpt_tos, ["admin@megabot.ai", "ops@megabot.ai"]);
    assert_eq!(mail.headers["subject"], "MegaBot Webhook Alert");
    assert!(
        mail.headers["from"].contains("MegaBot Alerts")
            && mail.headers["from"].contains("<alerts@megabot.ai>"),
        "{:?}",
        mail.headers
    );
    assert!(
        mail.headers["to"].contains("admin@megabot.ai"),
        "{:?}",
        mail.headers
    );
    assert!(
        mail.body.contains("endpoint ep_test: success rate 0.0%"),
        "{}",
        mail.body
    );
    let raised_at = clock.now();
    let stored = store.incidents().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].rule, "failure_rate");
    assert_eq!(stored[0].alerted_at, Some(raised_at));

    // Still failing a minute later: the same incident, no second alert.
    clock.advance(Duration::from_secs(60));
    outcomes(&engine, &clock, 20, false, "c").await;
    engine.evaluate().await;

    // Recovery: the failures leave the window at +360 s, then the rule must
    // hold for a whole window (300 s).
    clock.advance(Duration::from_secs(10));
    outcomes(&engine, &clock, 30, true, "d").await;
    clock.advance(Duration::from_secs(290));
    engine.evaluate().await; // the failures of +60 s are still in the window
    clock.advance(Duration::from_secs(299));
    engine.evaluate().await;
    assert!(
        open(&engine.incidents().await).len() == 1,
        "not yet resolved"
    );
    clock.advance(Duration::from_secs(1));
    engine.evaluate().await;
    assert!(open(&engine.incidents().await).is_empty());
    wait_for("the resolved messages", WAIT, || async {
        slack.requests().len() >= 2 && smtp.mails().len() >= 2
    })
    .await;
    // In order, on each channel: nothing between the alert and "resolved".
    assert_eq!(slack.texts(), [RAISED, RESOLVED]);
    assert_eq!(
        smtp.mails()[1].headers["subject"],
        "[resolved] MegaBot Webhook Alert"
    );
    assert!(
        smtp.mails()[1].body.starts_with("[resolved] "),
        "{}",
        smtp.mails()[1].body
    );

    // Failing again within the cool-down (900 s from the alert): an incident, no alert...
    clock.advance(Duration::from_secs(10));
    assert!(clock.now() < raised_at + chrono::Duration::seconds(900));
    outcomes(&engine, &clock, 10, false, "e").await;
    assert_eq!(open(&engine.incidents().await).len(), 1);
    let until_cooldown = (raised_at + chrono::Duration::seconds(900) - clock.now())
        .to_std()
        .unwrap();
    clock.advance(until_cooldown - Duration::from_secs(1));
    outcomes(&engine, &clock, 10, false, "f").await;
    engine.evaluate().await;
    // ...until the cool-down is over, the incident still open.
    clock.advance(Duration::from_secs(1));
    engine.evaluate().await;
    let alerted_at = clock.now();
    wait_for("the alert after the cool-down", WAIT, || async {
        slack.requests().len() >= 3 && smtp.mails().len() >= 3
    })
    .await;
    let texts = slack.texts();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[2].starts_with("Webhook delivery failure detected: endpoint ep_test: success rate 0.0% (0 of 20 deliveries"), "{}", texts[2]);
    let incidents = engine.incidents().await;
    assert_eq!(open(&incidents)[0].alerted_at, Some(alerted_at));
    engine.shutdown(Duration::from_secs(5)).await;
    assert_eq!(slack.requests().len(), 3);
    assert_eq!(smtp.mails().len(), 3);
}

/// An open, alerted incident survives a restart on the same SQLite file: the
/// new engine does not alert again for it, and sends "resolved" when it
/// recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_neither_repeats_nor_forgets_an_open_incident() {
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let clock = ManualClock::new();
    let config = alerts(&slack_yaml(""), &[("SLACK_ALERT_WEBHOOK", &slack.url)]);
    {
        let store: Arc<dyn DeliveryStore> = Arc::new(SqliteStore::open(&path).unwrap());
        let first = engine(config.clone(), store, &clock).await;
        outcomes(&first, &clock, 10, false, "a").await;
        wait_for("the alert", WAIT, || async { slack.requests().len() == 1 }).await;
        first.shutdown(Duration::from_secs(5)).await;
    }
    clock.advance(Duration::from_secs(30));
    let store: Arc<dyn DeliveryStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let kept = store.incidents().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].resolved_at.is_none());
    let second = engine(config, store.clone(), &clock).await;
    assert_eq!(open(&second.incidents().await).len(), 1, "not forgotten");
    // Still failing after the restart: not repeated.
    outcomes(&second, &clock, 10, false, "b").await;
    second.evaluate().await;
    // Recovery, a window after the last failure.
    clock.advance(Duration::from_secs(301));
    second.evaluate().await;
    clock.advance(Duration::from_secs(300));
    second.evaluate().await;
    wait_for("resolved", WAIT, || async { slack.requests().len() >= 2 }).await;
    second.shutdown(Duration::from_secs(5)).await;
    assert_eq!(slack.texts(), [RAISED, RESOLVED]);
    let stored = store.incidents().await.unwrap();
    assert!(stored[0].resolved_at.is_some());
}

/// The dispatcher's hook: dead deliveries of a failing endpoint raise the
/// failure-rate alert and its disable raises another, while every channel
/// is dead (a closed port) or hangs (accepts, never answers): deliveries to
/// a healthy endpoint all complete meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_or_hanging_channels_do_not_delay_deliveries() {
    // A channel that hangs: accepts connections and never answers.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_url = format!("http://{}/hook", hanging.local_addr().unwrap());
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let held = accepted.clone();
    let hang_task = tokio::spawn(async move {
        while let Ok((stream, _)) = hanging.accept().await {
            held.lock().unwrap().push(stream);
        }
    });
    // A channel on a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);

    let failing = Receiver::start(always(500)).await;
    let healthy = Receiver::start(always(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn DeliveryStore> =
        Arc::new(SqliteStore::open(dir.path().join("store.sqlite3")).unwrap());
    let clock = ManualClock::at(chrono::Utc::now());
    let yaml = "webhook_alerts:\n  failure_threshold: 0.95\n  min_samples: 5\n  channels:\n    - type: slack\n      webhook_url: ${HANGING}\n    - type: slack\n      webhook_url: ${CLOSED}\n";
    let config = alerts(yaml, &[("HANGING", &hanging_url), ("CLOSED", &closed_url)]);
    let engine = AlertEngine::builder(config, store.clone())
        .clock(Arc::new(clock.clone()))
        .channel_retry(3, Duration::from_millis(50))
        .channel_timeout(Duration::from_secs(3_600))
        .build()
        .await
        .unwrap();
    engine.start();
    let (dispatcher, _) = Dispatcher::builder(
        config_with(vec![
            endpoint(&failing.url, 1, 1.0),
            endpoint(&healthy.url, 1, 1.0),
        ]),
        store.clone(),
    )
    .clock(Arc::new(clock.clone()))
    .destination_policy(DestinationPolicy::server().allow_private_targets(true))
    .poll_interval(Duration::from_millis(10))
    .disable_after(Duration::from_secs(60))
    .observer(engine.observer())
    .build()
    .await
    .unwrap();
    let ids: Vec<String> = dispatcher
        .endpoints()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    dispatcher.start();
    let now = clock.now_unix();
    for i in 0..6 {
        dispatcher
            .publish(&event(&format!("evt_fail_{i}"), now))
            .await
            .unwrap();
    }
    wait_for("the failure-rate incident", WAIT, || async {
        engine
            .incidents()
            .await
            .iter()
            .any(|i| i.rule == "failure_rate")
    })
    .await;
    // A minute of failures later, the failing endpoint is disabled.
    clock.advance(Duration::from_secs(61));
    dispatcher
        .publish(&event("evt_fail_last", clock.now_unix()))
        .await
        .unwrap();
    wait_for("the failure-rate and disabled incidents", WAIT, || async {
        let incidents = engine.incidents().await;
        ["failure_rate", "endpoint_disabled"].iter().all(|rule| {
            incidents
                .iter()
                .any(|i| i.rule == *rule && i.endpoint_id == ids[0])
        })
    })
    .await;
    wait_for("the hanging channel to be called", WAIT, || async {
        !accepted.lock().unwrap().is_empty()
    })
    .await;
    // The hanging channel holds its alert; deliveries go on regardless.
    for i in 0..40 {
        dispatcher
            .publish(&event(&format!("evt_ok_{i}"), now))
            .await
            .unwrap();
    }
    wait_for("every healthy delivery", WAIT, || async {
        healthy.handled_count() == 47
    })
    .await;
    assert_eq!(
        accepted.lock().unwrap().len(),
        1,
        "the hanging channel is still on its first try"
    );
    let incidents = engine.incidents().await;
    assert!(
        incidents.iter().all(|i| i.endpoint_id == ids[0]),
        "{incidents:?}"
    );
    dispatcher.shutdown(Duration::from_secs(5)).await;
    engine.shutdown(Duration::from_millis(100)).await;
    hang_task.abort();
}

fn config_with(
    endpoints: Vec<megabot_webhook_sender::config::EndpointConfig>,
) -> megabot_webhook_sender::config::WebhooksConfig {
    let mut endpoints = endpoints;
    for e in &mut endpoints {
        e.events = vec!["*".to_owned()];
    }
    config(endpoints)
}

/// The guide's `webhook_alerts` as printed: it loads; its email channel (no
/// SMTP server) is inactive with a warning placed on it; a file with only
/// this section loads too (for endpoints registered through the API).
#[test]
fn the_guides_alert_yaml_loads_as_printed() {
    let guide = r#"# Alert configuration
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
"#;
    let secret_url = "https://hooks.slack.com/services/T0/B0/s3cr3tT0ken";
    let loader = ConfigLoader::with_env(move |name| {
        (name == "SLACK_ALERT_WEBHOOK").then(|| secret_url.to_owned())
    });
    let with_webhooks = format!(
        "webhooks:\n  enabled: true\n  secret_key: k\n  endpoints:\n    - url: https://your-service.com/webhook\n      events: [\"error_occurred\"]\n\n{guide}"
    );
    for (text, line) in [(guide.to_owned(), 12), (with_webhooks, 19)] {
        let loaded = loader.load_str(&text, "mega-config.yaml").unwrap();
        let alerts = loaded.alerts.unwrap();
        assert!(alerts.enabled);
        assert_eq!(alerts.failure_threshold, Some(0.95));
        assert_eq!(alerts.delivery_timeout_threshold, Some(30.0));
        assert_eq!(
            (alerts.window, alerts.min_samples, alerts.cooldown),
            (300.0, 10, 900.0)
        );
        assert_eq!(alerts.channels.len(), 2);
        assert_eq!(
            alerts.channels[0]
                .webhook_url
                .as_ref()
                .map(megabot_webhook_sender::config::SecretString::expose),
            Some(secret_url)
        );
        assert!(alerts.channels[0].is_active());
        assert!(!alerts.channels[1].is_active());
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(&format!(
                "mega-config.yaml:{line}:7: webhook_alerts.channels[1]: email channel without `smtp_host`: it is inactive"
            )),
            "{warnings:?}"
        );
        assert!(!format!("{alerts:?}").contains("s3cr3tT0ken"));
    }
    // Typos are errors with a "did you mean", and a missing variable is named.
    let typo = guide.replace("failure_threshold", "failure_treshold");
    let error = loader
        .load_str(&typo, "mega-config.yaml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "mega-config.yaml:4:3: webhook_alerts.failure_treshold: unknown key `failure_treshold` (did you mean `failure_threshold`?)"
    );
    let error = ConfigLoader::with_env(|_| None)
        .load_str(guide, "mega-config.yaml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "mega-config.yaml:9:20: webhook_alerts.channels[0].webhook_url: environment variable `SLACK_ALERT_WEBHOOK` is not set (use `${SLACK_ALERT_WEBHOOK:-default}` for a default)"
    );
    // A misspelt section is not silently ignored.
    let loaded = loader
        .load_str(
            &guide.replace("webhook_alerts:", "webhooks: {}\nwebhook_alert:"),
            "c.yaml",
        )
        .unwrap();
    assert!(loaded.alerts.is_none());
    assert!(
        loaded.warnings.iter().any(|w| w.to_string().contains("top-level key `webhook_alert` is not read by the sender (did you mean `webhook_alerts`?)")),
        "{:?}",
        loaded.warnings
    );
    // A bad value never echoes the expanded URL.
    let error =
        ConfigLoader::with_env(|_| Some("http://hooks.example.com/T/s3cr3tT0ken".to_owned()))
            .load_str(guide, "mega-config.yaml")
            .unwrap_err()
            .to_string();
    assert!(
        error.contains("http:// is only allowed to a loopback host"),
        "{error}"
    );
    assert!(!error.contains("s3cr3tT0ken"), "{error}");
}

/// The SQLite store keeps incidents by endpoint and rule.
#[tokio::test]
async fn sqlite_store_keeps_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let clock = ManualClock::new();
    let incident = IncidentRecord {
        endpoint_id: "ep_1".to_owned(),
        rule: "failure_rate".to_owned(),
        opened_at: clock.now(),
        last_violation_at: clock.now(),
        alerted_at: None,
        resolved_at: None,
        detail: "d".to_owned(),
    };
    {
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.incidents().await.unwrap().is_empty());
        store.put_incident(&incident).await.unwrap();
        let mut changed = incident.clone();
        changed.alerted_at = Some(clock.now());
        store.put_incident(&changed).await.unwrap();
        let mut other = incident.clone();
        other.rule = "endpoint_disabled".to_owned();
        store.put_incident(&other).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let kept = store.incidents().await.unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].rule, "endpoint_disabled");
    assert_eq!(kept[1].alerted_at, Some(clock.now()));
    assert!(
        store
            .delete_incident("ep_1", "endpoint_disabled")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_incident("ep_1", "endpoint_disabled")
            .await
            .unwrap()
    );
    assert_eq!(store.incidents().await.unwrap().len(), 1);
}

/// The same restart on a real `redis-server` (loopback): the incident kept in
/// Redis is not alerted again by a second engine, which resolves it; the
/// store keeps incidents by endpoint and rule.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_restart_neither_repeats_nor_forgets_an_open_incident() {
    use megabot_webhook_sender::dispatcher::RedisStore;

    let server = megabot_webhook_test_support::RedisServer::start();
    let slack = SlackStandIn::start().await;
    let clock = ManualClock::new();
    let config = alerts(&slack_yaml(""), &[("SLACK_ALERT_WEBHOOK", &slack.url)]);
    {
        let store: Arc<dyn DeliveryStore> =
            Arc::new(RedisStore::connect(&server.url()).await.unwrap());
        assert!(store.incidents().await.unwrap().is_empty());
        let first = engine(config.clone(), store, &clock).await;
        outcomes(&first, &clock, 10, false, "a").await;
        wait_for("the alert", WAIT, || async { slack.requests().len() == 1 }).await;
        first.shutdown(Duration::from_secs(5)).await;
    }
    let store: Arc<dyn DeliveryStore> = Arc::new(RedisStore::connect(&server.url()).await.unwrap());
    let kept = store.incidents().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].endpoint_id.as_str(), kept[0].rule.as_str()),
        ("ep_test", "failure_rate")
    );
    assert_eq!(kept[0].alerted_at, Some(clock.now()));
    clock.advance(Duration::from_secs(30));
    let second = engine(config, store.clone(), &clock).await;
    outcomes(&second, &clock, 10, false, "b").await;
    clock.advance(Duration::from_secs(301));
    second.evaluate().await;
    wait_for("resolved", WAIT, || async { slack.requests().len() >= 2 }).await;
    second.shutdown(Duration::from_secs(5)).await;
    assert_eq!(slack.texts(), [RAISED, RESOLVED]);
    assert!(store.incidents().await.unwrap()[0].resolved_at.is_some());
    // The store forgets an incident by endpoint and rule.
    let second_store = store.clone();
    assert!(
        second_store
            .delete_incident("ep_test", "failure_rate")
            .await
            .unwrap()
    );
    assert!(
        !second_store
            .delete_incident("ep_test", "failure_rate")
            .await
            .unwrap()
    );
    assert!(second_store.incidents().await.unwrap().is_empty());
}
