//! The destination guard end to end. NETWORK RULE: packets go only to
//! loopback. Refusals are proven before connect (IP literals are checked
//! before the request; names go through injected resolvers, under the
//! reserved `.invalid` top-level domain, and are refused inside the
//! resolver), and no test resolves any name but these.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::http::StatusCode;
use megabot_webhook_sender::config::{EndpointConfig, SecretKeys, WebhooksConfig};
use megabot_webhook_sender::{
    AddressClass, ConfigLoader, DestinationPolicy, EndpointReport, MemoryDeadLetters, Outcome,
    RecordingSleeper, Resolver, Sender, StaticResolver, check_destination,
};
use megabot_webhook_types::{Event, EventName, examples};

/// A loopback receiver that counts the requests it gets.
struct Receiver {
    port: u16,
    count: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let app = Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { port, count, task }
    }

    fn requests(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// Answers each lookup with the next list of its script (the last repeats),
/// whatever the name, and counts lookups.
#[derive(Debug)]
struct ScriptedResolver {
    answers: Mutex<VecDeque<Vec<IpAddr>>>,
    lookups: AtomicUsize,
}

impl ScriptedResolver {
    fn new(answers: &[&[&str]]) -> Arc<ScriptedResolver> {
        Arc::new(ScriptedResolver {
            answers: Mutex::new(
                answers
                    .iter()
                    .map(|list| list.iter().map(|a| a.parse().unwrap()).collect())
                    .collect(),
            ),
            lookups: AtomicUsize::new(0),
        })
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Resolver for ScriptedResolver {
    async fn resolve(&self, name: &str) -> io::Result<Vec<SocketAddr>> {
        assert!(name.ends_with(".invalid"), "unexpected lookup of {name}");
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().unwrap();
        let answer = if answers.len() > 1 {
            answers.pop_front().unwrap_or_default()
        } else {
            answers.front().cloned().unwrap_or_default()
        };
        Ok(answer
            .into_iter()
            .map(|ip| SocketAddr::new(ip, 0))
            .collect())
    }
}

fn event() -> Event {
    examples::example(EventName::ErrorOccurred)
}

fn config(urls: &[&str]) -> WebhooksConfig {
    {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::one("s"));
        value.endpoints = urls
            .iter()
            .map(|url| {
                let mut endpoint = EndpointConfig::new(*url);
                // Refusals must not be retried: give them room to be.
                endpoint.retry_policy.max_attempts = 3;
                endpoint.allow_insecure_http = true;
                endpoint
            })
            .collect();
        value
    }
}

struct Built {
    sender: Sender,
    sleeper: Arc<RecordingSleeper>,
    dead_letters: Arc<MemoryDeadLetters>,
}

fn build(
    config: WebhooksConfig,
    policy: Option<DestinationPolicy>,
    resolver: Option<Arc<dyn Resolver>>,
) -> Built {
    let sleeper = Arc::new(RecordingSleeper::new());
    let dead_letters = Arc::new(MemoryDeadLetters::new());
    let mut builder = Sender::builder(config)
        .sleeper(sleeper.clone())
        .dead_letters(dead_letters.clone());
    if let Some(policy) = policy {
        builder = builder.destination_policy(policy);
    }
    if let Some(resolver) = resolver {
        builder = builder.resolver(resolver);
    }
    let (sender, _) = builder.build().unwrap();
    Built {
        sender,
        sleeper,
        dead_letters,
    }
}

async fn send_one(built: &Built) -> EndpointReport {
    let report = built.sender.send(&event()).await.unwrap();
    assert_eq!(report.deliveries.len(), 1, "{report:?}");
    report.deliveries.into_iter().next().unwrap()
}

/// A refusal: final after one attempt that sent nothing, no retry, no wait,
/// dead-lettered (so that it can be redelivered once the policy allows).
fn assert_refused(report: &EndpointReport, built: &Built, message: &str) {
    assert_eq!(report.outcome, Outcome::Refused, "{report:?}");
    assert_eq!(report.attempts.len(), 1, "{report:?}");
    assert_eq!(report.final_status, None);
    assert_eq!(report.error.as_deref(), Some(message));
    assert!(built.sleeper.delays().is_empty());
    assert!(report.dead_lettered, "{report:?}");
    assert!(!report.is_delivered());
    let _ = &built.dead_letters;
}

#[tokio::test]
async fn server_policy_refuses_loopback_before_any_request() {
    let receiver = Receiver::start().await;
    for url in [
        format!("http://127.0.0.1:{}/hook", receiver.port),
        format!("http://[::ffff:127.0.0.1]:{}/hook", receiver.port),
        // decimal 127.0.0.1, read by the url parser
        format!("http://2130706433:{}/hook", receiver.port),
        format!("http://0x7f.1:{}/hook", receiver.port),
    ] {
        let built = build(config(&[&url]), Some(DestinationPolicy::server()), None);
        let report = send_one(&built).await;
        let shown = if url.contains("::ffff") {
            "::ffff:127.0.0.1"
        } else {
            "127.0.0.1"
        };
        assert_refused(
            &report,
            &built,
            &format!("destination refused: {shown} is loopback"),
        );
        assert_eq!(built.dead_letters.len(), 1, "{url}");
        assert_eq!(built.sender.metrics().deliveries_total, 1);
    }
    assert_eq!(receiver.requests(), 0);
}

#[tokio::test]
async fn allow_private_targets_lifts_the_server_policy() {
    let receiver = Receiver::start().await;
    let url = format!("http://127.0.0.1:{}/hook", receiver.port);
    // from the config key
    let mut lifted = config(&[&url]);
    lifted.allow_private_targets = true;
    let built = build(lifted, Some(DestinationPolicy::server()), None);
    assert_eq!(send_one(&built).await.outcome, Outcome::Delivered);
    assert_eq!(receiver.requests(), 1);
    // from the policy
    let policy = DestinationPolicy::server().allow_private_targets(true);
    let built = build(config(&[&url]), Some(policy), None);
    assert_eq!(send_one(&built).await.outcome, Outcome::Delivered);
    assert_eq!(receiver.requests(), 2);
    // from allowed_targets, by range
    let mut listed = config(&[&url]);
    listed.allowed_targets = vec!["127.0.0.0/8".to_owned()];
    let built = build(listed, Some(DestinationPolicy::server()), None);
    assert_eq!(send_one(&built).await.outcome, Outcome::Delivered);
    assert_eq!(receiver.requests(), 3);
}

#[tokio::test]
async fn the_default_policy_delivers_to_loopback_and_localhost() {
    let receiver = Receiver::start().await;
    let built = build(
        config(&[&format!("http://127.0.0.1:{}/hook", receiver.port)]),
        None,
        None,
    );
    assert_eq!(send_one(&built).await.outcome, Outcome::Delivered);
    // `localhost` is the one name tests resolve (system resolver); the
    // receiver listens on 127.0.0.1 and `::1` is loopback too.
    let built = build(
        config(&[&format!("http://localhost:{}/hook", receiver.port)]),
        Some(DestinationPolicy::local_tools()),
        None,
    );
    assert_eq!(send_one(&built).await.outcome, Outcome::Delivered);
    assert_eq!(receiver.requests(), 2);
}

#[tokio::test]
async fn rebinding_to_a_private_address_is_refused_at_connect() {
    let receiver = Receiver::start().await;
    // Registration sees 127.0.0.1, the first delivery 10.0.0.1 (refused in
    // the resolver: no connection is made), the second 127.0.0.1 again.
    let resolver = ScriptedResolver::new(&[&["127.0.0.1"], &["10.0.0.1"], &["127.0.0.1"]]);
    let url = format!("http://hooks.rebind.invalid:{}/hook", receiver.port);
    let policy = DestinationPolicy::local_tools();
    let warnings = check_destination(&url, &policy, &*resolver).await.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let built = build(
        config(&[&url]),
        Some(policy),
        Some(resolver.clone() as Arc<dyn Resolver>),
    );
    let refused = send_one(&built).await;
    assert_refused(
        &refused,
        &built,
        "destination refused: hooks.rebind.invalid resolves to 10.0.0.1, which is private",
    );
    assert_eq!(receiver.requests(), 0);
    let delivered = send_one(&built).await;
    assert_eq!(delivered.outcome, Outcome::Delivered, "{delivered:?}");
    assert_eq!(receiver.requests(), 1);
    assert_eq!(resolver.lookups(), 3);
}

#[tokio::test]
async fn names_are_refused_under_the_server_policy() {
    let receiver = Receiver::start().await;
    let resolver =
        Arc::new(StaticResolver::new().with("loop.invalid", ["127.0.0.1".parse().unwrap()]));
    let url = format!("http://loop.invalid:{}/hook", receiver.port);
    let built = build(
        config(&[&url]),
        Some(DestinationPolicy::server()),
        Some(resolver.clone()),
    );
    let report = send_one(&built).await;
    assert_refused(
        &report,
        &built,
        "destination refused: loop.invalid resolves to 127.0.0.1, which is loopback",
    );
    assert_eq!(receiver.requests(), 0);
    let refusal = check_destination(&url, &DestinationPolicy::server(), &*resolver)
        .await
        .unwrap_err();
    assert_eq!(refusal.class(), Some(AddressClass::Loopback));
    // A name that does not resolve is a connection error, retried.
    let built = build(
        config(&[&format!("http://unknown.invalid:{}/hook", receiver.port)]),
        Some(DestinationPolicy::server()),
        Some(resolver),
    );
    let report = send_one(&built).await;
    assert_eq!(report.outcome, Outcome::Exhausted, "{report:?}");
    assert_eq!(report.attempts.len(), 3);
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .contains("no address for `unknown.invalid`"),
        "{report:?}"
    );
    assert_eq!(receiver.requests(), 0);
}

#[tokio::test]
async fn metadata_stays_refused_with_private_targets_unless_listed() {
    // Refusal only: nothing here ever connects.
    let resolver = Arc::new(StaticResolver::new().with(
        "metadata.invalid",
        [
            "169.254.169.254".parse().unwrap(),
            "fd00:ec2::254".parse().unwrap(),
        ],
    ));
    // End to end, only through the injected resolver (the name never reaches a real
    // lookup, and the guard refuses before any connection).
    let mut lifted = config(&["http://user:pa55word@metadata.invalid/latest/meta-data/"]);
    lifted.allow_private_targets = true;
    let built = build(
        lifted,
        Some(DestinationPolicy::server()),
        Some(resolver.clone()),
    );
    let report = built.sender.send(&event()).await.unwrap();
    assert_eq!(report.deliveries.len(), 1);
    for delivery in &report.deliveries {
        assert_eq!(delivery.outcome, Outcome::Refused, "{delivery:?}");
        assert_eq!(delivery.attempts.len(), 1);
        let error = delivery.error.as_deref().unwrap();
        assert!(error.ends_with("a cloud metadata address"), "{error}");
        assert!(
            !error.contains("pa55word") && !error.contains("user"),
            "{error}"
        );
    }
    // The literal forms of the address, as the check a delivery makes (a function:
    // nothing is sent to them).
    let private_allowed = DestinationPolicy::server().allow_private_targets(true);
    for url in [
        "http://user:pa55word@169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://0xa9fea9fe/latest/meta-data/",
    ] {
        let refused = check_destination(url, &private_allowed, &*resolver)
            .await
            .unwrap_err();
        assert_eq!(refused.class(), Some(AddressClass::CloudMetadata), "{url}");
        let error = refused.to_string();
        assert!(error.ends_with("a cloud metadata address"), "{error}");
        assert!(
            !error.contains("pa55word") && !error.contains("user"),
            "{error}"
        );
    }
    assert!(built.sleeper.delays().is_empty());
    // Listed by address in allowed_targets: allowed (checked, not connected).
    let loaded = ConfigLoader::with_env(|_| None)
        .load_str(
            "webhooks:\n  allow_private_targets: true\n  allowed_targets: [\"169.254.169.254\"]\n",
            "c.yaml",
        )
        .unwrap();
    assert!(loaded.config.allow_private_targets);
    let mut policy = DestinationPolicy::server().allow_private_targets(true);
    for target in &loaded.config.allowed_targets {
        policy = policy.allow_target(target.parse().unwrap());
    }
    assert!(policy.allows("169.254.169.254".parse().unwrap()));
    assert!(!policy.allows("fd00:ec2::254".parse().unwrap()));
    let url = "http://169.254.169.254/latest/meta-data/";
    assert!(check_destination(url, &policy, &*resolver).await.is_ok());
    let refused = check_destination(
        url,
        &DestinationPolicy::server().allow_private_targets(true),
        &*resolver,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.class(), Some(AddressClass::CloudMetadata));
    // The name resolves to both: refused while fd00:ec2::254 is not listed.
    let by_name = check_destination("http://metadata.invalid/", &policy, &*resolver)
        .await
        .unwrap_err();
    assert_eq!(
        by_name.to_string(),
        "destination refused: metadata.invalid resolves to fd00:ec2::254, which is a cloud metadata address"
    );
}
