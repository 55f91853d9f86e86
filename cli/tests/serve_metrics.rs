//! `megabot-webhook serve`'s `GET /metrics` as a child process over real
//! loopback HTTP: the admin token is required, and after an event
//! published to a `listen` receiver (200) and a loopback server answering
//! 404, the Prometheus text holds the deliveries and attempts by endpoint
//! id and outcome, the attempt latency histogram and the queue gauges;
//! `/api/stats` answers the guide's `get_stats` figures.

mod common;

use std::time::{Duration, Instant};

use common::{Listener, Serve};
use serde_json::{Value, json};

const TOKEN: &str = "metrics-test-admin-token-0123456789abcdef";
const SECRET: &str = "metrics_test_secret";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn register(base: &str, url: &str) -> String {
    let response = client()
        .post(format!("{base}/api/webhooks"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({"url": url, "events": ["*"], "secret": SECRET}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    answer["endpoint"]["id"].as_str().unwrap().to_owned()
}

/// The value of the sample `name` whose labels include `labels`, if any.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(series, _)| {
            let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
            series_name == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, value)| value.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_and_count_deliveries_by_endpoint_and_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(&dir.path().join("d.sqlite3"), TOKEN, &[]);
    let metrics_url = format!("{}/metrics", serve.base);

    // The admin token, as /api.
    let anonymous = client().get(&metrics_url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = client()
        .get(&metrics_url)
        .bearer_auth("not-the-admin-token-0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // A receiver that verifies (200), and one that answers 404 (final).
    let listener = Listener::start(&["--secret", SECRET]);
    let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone_url = format!("http://{}/hook", gone.local_addr().unwrap());
    let gone_server = tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::NOT_FOUND });
        let _ = axum::serve(gone, app).await;
    });
    let ok_id = register(&serve.base, &listener.url).await;
    let gone_id = register(&serve.base, &gone_url).await;

    let published = client()
        .post(format!("{}/api/events", serve.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(
            json!({"event": "error_occurred", "id": "evt_cli_metrics",
                "timestamp": chrono::Utc::now().timestamp(),
                "data": {"severity": "error", "message": "boom"}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 202);

    let deadline = Instant::now() + Duration::from_secs(30);
    let (text, content_type) = loop {
        let response = client()
            .get(&metrics_url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = response.text().await.unwrap();
        let ended = |id: &str, outcome: &str| {
            sample(
                &text,
                "megabot_webhook_deliveries_total",
                &[("endpoint", id), ("outcome", outcome)],
            )
        };
        if ended(&ok_id, "delivered").is_some() && ended(&gone_id, "dead").is_some() {
            break (text, content_type);
        }
        assert!(Instant::now() < deadline, "no delivery counted: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let deliveries = "megabot_webhook_deliveries_total";
    assert_eq!(
        sample(
            &text,
            deliveries,
            &[
                ("endpoint", &ok_id),
                ("outcome", "delivered"),
                ("reason", "none")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            deliveries,
            &[
                ("endpoint", &gone_id),
                ("outcome", "dead"),
                ("reason", "rejected")
            ]
        ),
        Some(1.0)
    );
    let attempts = "megabot_webhook_attempts_total";
    assert_eq!(
        sample(&text, attempts, &[("endpoint", &ok_id), ("outcome", "ok")]),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            attempts,
            &[("endpoint", &gone_id), ("outcome", "rejected")]
        ),
        Some(1.0)
    );
    // Histograms in seconds, with buckets.
    assert!(
        text.contains("# TYPE megabot_webhook_attempt_duration_seconds histogram"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "megabot_webhook_attempt_duration_seconds_count",
            &[("endpoint", &ok_id)]
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            "megabot_webhook_attempt_duration_seconds_bucket",
            &[("endpoint", &ok_id), ("le", "+Inf")]
        ) == Some(1.0),
        "{text}"
    );
    // The queue gauges (set at start, refreshed every 5 s).
    assert!(
        sample(&text, "megabot_webhook_queue_depth", &[]).is_some(),
        "{text}"
    );
    assert!(
        sample(&text, "megabot_webhook_oldest_pending_age_seconds", &[]).is_some(),
        "{text}"
    );
    // No URL or secret in the text.
    assert!(
        !text.contains("127.0.0.1") && !text.contains(SECRET),
        "{text}"
    );

    let stats = client()
        .get(format!("{}/api/stats", serve.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let stats: Value = serde_json::from_str(&stats.text().await.unwrap()).unwrap();
    assert_eq!(stats["total_deliveries"], 2, "{stats}");
    assert_eq!(stats["success_rate"], 0.5, "{stats}");
    assert_eq!(stats["total_retries"], 0, "{stats}");
    assert!(stats["average_delivery_time"].as_f64().unwrap() >= 0.0);
    gone_server.abort();
}
