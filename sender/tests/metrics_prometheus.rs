//! The metrics the sender reports through the `metrics` facade, read back
//! as Prometheus text from a `metrics-exporter-prometheus` recorder
//! installed for this test binary: a scripted dispatcher run on loopback
//! receivers (successes, retries, a 404 refusal, exhausted attempts, a
//! destination refused by the guard, stale deliveries), the queue gauges,
//! the `endpoint` label limit folding the rest into `other`, an endpoint
//! disabled by its health rule, and the in-memory `Sender`.
//!
//! A process has one global recorder: every test here shares it, and takes
//! [`SERIAL`] so that the unlabelled gauges are read undisturbed.

#![cfg(feature = "sqlite")]

mod common_dispatch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common_dispatch::{ManualClock, Receiver, always, config, endpoint, event, wait_for};
use megabot_webhook_sender::config::EndpointConfig;
use megabot_webhook_sender::dispatcher::{Dispatcher, SqliteStore};
use megabot_webhook_sender::{Sender, metric_names};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const LONG: Duration = Duration::from_secs(20);

/// One test at a time: the gauges have no labels.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The recorder of this process, installed once.
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".to_owned()),
                &[0.01, 0.1, 1.0, 10.0],
            )
            .unwrap()
            .install_recorder()
            .unwrap()
    })
}

/// The samples of a Prometheus text: name, labels, value.
struct Samples(Vec<(String, BTreeMap<String, String>, f64)>);

impl Samples {
    fn read() -> Samples {
        let text = recorder().render();
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap();
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').unwrap();
                    let labels = inner
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once("=\"").unwrap();
                            (key.to_owned(), value.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
            };
            samples.push((name, labels, value));
        }
        Samples(samples)
    }

    /// The value of the series with exactly these labels, 0 when absent.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0
            .iter()
            .find(|(n, l, _)| n == name && *l == wanted)
            .map_or(0.0, |(_, _, v)| *v)
    }

    /// Every label set of `name` holding `filter`, with its value.
    fn series(&self, name: &str, filter: &[(&str, &str)]) -> Vec<(BTreeMap<String, String>, f64)> {
        self.0
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && filter
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, l, v)| (l.clone(), *v))
            .collect()
    }

    /// Every label value of the sender's metrics.
    fn label_values(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _, _)| n.starts_with("megabot_webhook_"))
            .flat_map(|(_, l, _)| l.values().cloned())
            .collect()
    }
}

fn delivered(endpoint: &str) -> [(&str, &str); 3] {
    [
        ("endpoint", endpoint),
        ("outcome", "delivered"),
        ("reason", "none"),
    ]
}

fn dead<'a>(endpoint: &'a str, reason: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("endpoint", endpoint),
        ("outcome", "dead"),
        ("reason", reason),
    ]
}

fn attempts<'a>(endpoint: &'a str, outcome: &'a str) -> [(&'a str, &'a str); 2] {
    [("endpoint", endpoint), ("outcome", outcome)]
}

async fn dispatcher(
    endpoints: Vec<EndpointConfig>,
    clock: &ManualClock,
    dir: &tempfile::TempDir,
    limit: Option<usize>,
    disable_after: Option<Duration>,
) -> Dispatcher {
    let store = Arc::new(SqliteStore::open(dir.path().join("d.sqlite3")).unwrap());
    // Only the receivers' 127.0.0.1 is allowed: the rest of loopback (127.0.0.2) is
    // refused by the guard, so the refused endpoint is one that could only ever be
    // reached on loopback.
    let mut settings = config(endpoints);
    settings.allow_private_targets = false;
    settings.allowed_targets = vec!["127.0.0.1/32".to_owned()];
    let mut builder = Dispatcher::builder(settings, store)
        .clock(Arc::new(clock.clone()))
        .poll_interval(Duration::from_millis(10));
    if let Some(limit) = limit {
        builder = builder.metrics_endpoint_limit(limit);
    }
    if let Some(after) = disable_after {
        builder = builder.disable_after(after);
    }
    builder.build().await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_run_is_counted_by_endpoint_and_outcome() {
    let _serial = SERIAL.lock().await;
    recorder();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let ok = Receiver::start(always(200)).await;
    // 503 to each event's first arrival, 200 to the next.
    let flaky = Receiver::start(Arc::new(|_, nth| (if nth == 0 { 503 } else { 200 }, None))).await;
    let gone = Receiver::start(always(404)).await;
    let down = Receiver::start(always(500)).await;
    // Loopback outside the allowed 127.0.0.1: refused by the guard before any
    // connection (nothing is sent; nothing could leave the machine anyway).
    let mut refused = endpoint("http://127.0.0.2:9/hook", 3, 0.0);
    refused.allow_insecure_http = true;
    let dispatcher = dispatcher(
        vec![
            endpoint(&ok.url, 3, 0.0),
            endpoint(&flaky.url, 3, 0.0),
            endpoint(&gone.url, 3, 0.0),
            endpoint(&down.url, 2, 0.0),
            refused,
        ],
        &clock,
        &dir,
        None,
        None,
    )
    .await;
    let ids: Vec<String> = dispatcher.endpoints().into_iter().map(|e| e.0).collect();
    let [ok_id, flaky_id, gone_id, down_id, refused_id] = ids.as_slice() else {
        panic!("{ids:?}");
    };
    for id in ["evt_m1", "evt_m2"] {
        dispatcher
            .publish(&event(id, clock.now_unix()))
            .await
            .unwrap();
    }
    // Older than the receivers' tolerance: dead `stale`, never sent.
    dispatcher
        .publish(&event("evt_old", clock.now_unix() - 1_000))
        .await
        .unwrap();
    dispatcher.start();
    wait_for("every delivery ended", LONG, || async {
        let stats = dispatcher.stats().await.unwrap();
        stats.pending == 0 && stats.delivered + stats.dead == 15
    })
    .await;
    dispatcher.shutdown(Duration::from_secs(5)).await;

    let samples = Samples::read();
    let deliveries = metric_names::DELIVERIES;
    assert_eq!(deliveries, "megabot_webhook_deliveries_total");
    for id in ids.iter() {
        assert_eq!(samples.get(deliveries, &dead(id, "stale")), 1.0, "{id}");
    }
    assert_eq!(samples.get(deliveries, &delivered(ok_id)), 2.0);
    assert_eq!(samples.get(deliveries, &delivered(flaky_id)), 2.0);
    assert_eq!(samples.get(deliveries, &dead(gone_id, "rejected")), 2.0);
    assert_eq!(samples.get(deliveries, &dead(down_id, "exhausted")), 2.0);
    assert_eq!(
        samples.get(deliveries, &dead(refused_id, "destination_refused")),
        2.0
    );
    for id in [gone_id, down_id, refused_id] {
        assert_eq!(samples.get(deliveries, &delivered(id)), 0.0, "{id}");
    }

    let tries = "megabot_webhook_attempts_total";
    assert_eq!(samples.get(tries, &attempts(ok_id, "ok")), 2.0);
    assert_eq!(
        samples.get(tries, &attempts(flaky_id, "retryable_status")),
        2.0
    );
    assert_eq!(samples.get(tries, &attempts(flaky_id, "ok")), 2.0);
    assert_eq!(samples.get(tries, &attempts(gone_id, "rejected")), 2.0);
    assert_eq!(
        samples.get(tries, &attempts(down_id, "retryable_status")),
        4.0
    );
    assert_eq!(
        samples.get(tries, &attempts(refused_id, "destination_refused")),
        2.0
    );
    assert_eq!(samples.series(tries, &[("endpoint", refused_id)]).len(), 1);

    let retries = "megabot_webhook_retries_total";
    assert_eq!(samples.get(retries, &[("endpoint", ok_id)]), 0.0);
    assert_eq!(samples.get(retries, &[("endpoint", flaky_id)]), 2.0);
    assert_eq!(samples.get(retries, &[("endpoint", gone_id)]), 0.0);
    assert_eq!(samples.get(retries, &[("endpoint", down_id)]), 2.0);

    // A histogram in seconds: one sample per attempt.
    let latency = "megabot_webhook_attempt_duration_seconds_count";
    assert_eq!(samples.get(latency, &[("endpoint", ok_id)]), 2.0);
    assert_eq!(samples.get(latency, &[("endpoint", down_id)]), 4.0);
    assert_eq!(
        samples
            .series(
                "megabot_webhook_attempt_duration_seconds_bucket",
                &[("endpoint", flaky_id)]
            )
            .len(),
        5,
        "4 bounds and +Inf"
    );

    // Ids of endpoints only: never a URL, a delivery id or an event id.
    for value in samples.label_values() {
        assert!(
            !value.contains("http") && !value.contains("127.0.0."),
            "{value}"
        );
        assert!(
            !value.starts_with("dlv_") && !value.starts_with("evt_"),
            "{value}"
        );
    }

    // The queue gauges, read from the store.
    dispatcher.refresh_gauges().await;
    let samples = Samples::read();
    assert_eq!(samples.get("megabot_webhook_queue_depth", &[]), 0.0);
    assert_eq!(
        samples.get("megabot_webhook_oldest_pending_age_seconds", &[]),
        0.0
    );
    assert_eq!(samples.get("megabot_webhook_endpoints_disabled", &[]), 0.0);
    dispatcher
        .publish(&event("evt_m3", clock.now_unix()))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60));
    dispatcher
        .publish(&event("evt_m4", clock.now_unix()))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(30));
    dispatcher.refresh_gauges().await;
    let samples = Samples::read();
    assert_eq!(samples.get("megabot_webhook_queue_depth", &[]), 10.0);
    assert_eq!(
        samples.get("megabot_webhook_oldest_pending_age_seconds", &[]),
        90.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_past_the_limit_are_summed_as_other() {
    let _serial = SERIAL.lock().await;
    recorder();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let mut receivers = Vec::new();
    for _ in 0..4 {
        receivers.push(Receiver::start(always(200)).await);
    }
    let endpoints = receivers.iter().map(|r| endpoint(&r.url, 1, 0.0)).collect();
    let dispatcher = dispatcher(endpoints, &clock, &dir, Some(2), None).await;
    let ids: BTreeSet<String> = dispatcher.endpoints().into_iter().map(|e| e.0).collect();
    for i in 0..3 {
        dispatcher
            .publish(&event(&format!("evt_l{i}"), clock.now_unix()))
            .await
            .unwrap();
    }
    dispatcher.start();
    wait_for("12 deliveries", LONG, || async {
        dispatcher.stats().await.unwrap().delivered == 12
    })
    .await;
    dispatcher.shutdown(Duration::from_secs(5)).await;
    let samples = Samples::read();
    let series = samples.series(
        "megabot_webhook_deliveries_total",
        &[("outcome", "delivered")],
    );
    let ours: Vec<_> = series
        .iter()
        .filter(|(l, _)| ids.contains(&l["endpoint"]))
        .collect();
    assert_eq!(ours.len(), 2, "{series:?}");
    assert!(ours.iter().all(|(_, v)| *v == 3.0), "{series:?}");
    assert_eq!(
        samples.get("megabot_webhook_deliveries_total", &delivered("other")),
        6.0
    );
    assert_eq!(
        samples.get("megabot_webhook_attempts_total", &attempts("other", "ok")),
        6.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_disabled_by_its_health_rule_is_counted() {
    let _serial = SERIAL.lock().await;
    recorder();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let down = Receiver::start(always(500)).await;
    let dispatcher = dispatcher(
        vec![endpoint(&down.url, 1, 0.0)],
        &clock,
        &dir,
        None,
        Some(Duration::ZERO),
    )
    .await;
    let id = dispatcher.endpoints()[0].0.clone();
    dispatcher.start();
    // The first failure starts the failing period; the second, past
    // `disable_after` (zero), disables the endpoint.
    for (i, dead_rows) in [(1, 1), (2, 2)] {
        dispatcher
            .publish(&event(&format!("evt_d{i}"), clock.now_unix()))
            .await
            .unwrap();
        wait_for("a dead delivery", LONG, || async {
            dispatcher.stats().await.unwrap().dead == dead_rows
        })
        .await;
    }
    assert!(dispatcher.is_disabled(&id));
    // A disabled endpoint's deliveries are dead at publish.
    dispatcher
        .publish(&event("evt_d3", clock.now_unix()))
        .await
        .unwrap();
    dispatcher.refresh_gauges().await;
    dispatcher.shutdown(Duration::from_secs(5)).await;
    let samples = Samples::read();
    assert_eq!(
        samples.get(
            "megabot_webhook_endpoint_disabled_total",
            &[("endpoint", &id)]
        ),
        1.0
    );
    assert_eq!(samples.get("megabot_webhook_endpoints_disabled", &[]), 1.0);
    let deliveries = "megabot_webhook_deliveries_total";
    assert_eq!(samples.get(deliveries, &dead(&id, "exhausted")), 2.0);
    assert_eq!(
        samples.get(deliveries, &dead(&id, "endpoint_disabled")),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_memory_sender_reports_the_same_names() {
    let _serial = SERIAL.lock().await;
    recorder();
    let ok = Receiver::start(always(200)).await;
    let gone = Receiver::start(always(404)).await;
    let flaky = Receiver::start(Arc::new(|_, nth| (if nth == 0 { 429 } else { 200 }, None))).await;
    let settings = config(vec![
        endpoint(&ok.url, 3, 0.0),
        endpoint(&gone.url, 3, 0.0),
        endpoint(&flaky.url, 3, 0.0),
    ]);
    let (sender, _) = Sender::builder(settings)
        .sleeper(Arc::new(megabot_webhook_sender::RecordingSleeper::new()))
        .build()
        .unwrap();
    let report = sender
        .send(&event("evt_s1", chrono::Utc::now().timestamp()))
        .await
        .unwrap();
    assert_eq!(report.deliveries.len(), 3);
    let samples = Samples::read();
    let labels: Vec<String> = report
        .deliveries
        .iter()
        .map(|d| d.endpoint.unwrap().to_string())
        .collect();
    assert_eq!(labels, ["endpoint-1", "endpoint-2", "endpoint-3"]);
    let deliveries = "megabot_webhook_deliveries_total";
    let tries = "megabot_webhook_attempts_total";
    assert_eq!(samples.get(deliveries, &delivered("endpoint-1")), 1.0);
    assert_eq!(
        samples.get(deliveries, &dead("endpoint-2", "rejected")),
        1.0
    );
    assert_eq!(samples.get(tries, &attempts("endpoint-1", "ok")), 1.0);
    assert_eq!(samples.get(tries, &attempts("endpoint-2", "rejected")), 1.0);
    assert_eq!(samples.get(deliveries, &delivered("endpoint-3")), 1.0);
    assert_eq!(
        samples.get(tries, &attempts("endpoint-3", "retryable_status")),
        1.0
    );
    assert_eq!(samples.get(tries, &attempts("endpoint-3", "ok")), 1.0);
    assert_eq!(
        samples.get(
            "megabot_webhook_retries_total",
            &[("endpoint", "endpoint-3")]
        ),
        1.0
    );
    assert_eq!(
        samples.get(
            "megabot_webhook_retries_total",
            &[("endpoint", "endpoint-1")]
        ),
        0.0
    );
    assert_eq!(sender.metrics().retries_total, 1);
}
