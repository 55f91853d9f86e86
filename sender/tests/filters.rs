//! Filters and subscriptions, table-tested against the guide's fixtures.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use megabot_webhook_sender::Sender;
use megabot_webhook_sender::config::{EndpointConfig, Filters, SecretKeys, WebhooksConfig};
use megabot_webhook_sender::{
    Delivery, EventFilter, FilterKind, FixedClock, SkipReason, Subscription, pattern_matches,
};
use megabot_webhook_types::Event;
use serde_json::{Value, json};

/// Every fixture as (file stem, delivery), sorted by stem.
fn fixtures() -> Vec<(String, Delivery)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../megabot-webhook-types/tests/data/events");
    let mut fixtures: Vec<(String, Delivery)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let event = Event::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            (stem, Delivery::from_event(&event).unwrap())
        })
        .collect();
    fixtures.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(fixtures.len(), 10, "fixtures in {}", dir.display());
    fixtures
}

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 15, 12, 0, 0).unwrap()
}

const ALL: &[&str] = &[
    "chat_message_received",
    "chat_message_sent",
    "error_occurred",
    "loki_execution_completed",
    "loki_execution_started",
    "memory_lesson_learned",
    "system_status_changed",
    "tool_execution_completed",
    "tool_execution_failed",
    "tool_execution_started",
];

fn passing(filters: Value, now: DateTime<Utc>) -> Vec<String> {
    let filters: Filters = serde_json::from_value(filters).unwrap();
    let filter = EventFilter::new(&filters).unwrap();
    fixtures()
        .into_iter()
        .filter(|(_, delivery)| filter.matches(delivery.envelope(), now))
        .map(|(stem, _)| stem)
        .collect()
}

#[test]
fn filters_against_the_fixtures() {
    let table: Vec<(Value, &[&str])> = vec![
        (json!({}), ALL),
        (
            json!({"platforms": ["telegram"]}),
            &["chat_message_received", "chat_message_sent"],
        ),
        (
            json!({"platforms": ["web", "telegram"]}),
            &[
                "chat_message_received",
                "chat_message_sent",
                "loki_execution_started",
                "tool_execution_started",
            ],
        ),
        (json!({"platforms": ["slack"]}), &[]),
        (
            json!({"users": ["user_123"]}),
            &[
                "chat_message_received",
                "loki_execution_started",
                "tool_execution_started",
            ],
        ),
        (json!({"users": ["john_doe"]}), &["chat_message_received"]),
        (json!({"users": ["admin_user"]}), &[]),
        (json!({"min_severity": "debug"}), ALL),
        (json!({"min_severity": "info"}), ALL),
        (
            json!({"min_severity": "warning"}),
            &["error_occurred", "system_status_changed"],
        ),
        (json!({"min_severity": "error"}), &["error_occurred"]),
        (json!({"min_severity": "critical"}), &[]),
        (
            json!({"content_filters": [{"type": "contains", "field": "error.message", "value": "database"}]}),
            &["tool_execution_failed"],
        ),
        (
            json!({"content_filters": [{"type": "regex", "field": "data.tool_name", "pattern": "^deploy_"}]}),
            &["tool_execution_failed"],
        ),
        (
            json!({"content_filters": [{"type": "regex", "field": "event", "pattern": "^tool_execution_"}]}),
            &[
                "tool_execution_completed",
                "tool_execution_failed",
                "tool_execution_started",
            ],
        ),
        (
            json!({"content_filters": [{"type": "contains", "field": "id", "value": "evt_12346"}]}),
            &[
                "error_occurred",
                "loki_execution_completed",
                "loki_execution_started",
                "memory_lesson_learned",
                "system_status_changed",
                "tool_execution_failed",
            ],
        ),
        (
            json!({"content_filters": [{"type": "regex", "field": "timestamp", "pattern": "^16409952[01][0-9]$"}]}),
            &[
                "chat_message_received",
                "chat_message_sent",
                "error_occurred",
                "loki_execution_started",
                "memory_lesson_learned",
                "system_status_changed",
                "tool_execution_failed",
                "tool_execution_started",
            ],
        ),
        (
            json!({"content_filters": [{"type": "contains", "field": "result.duration", "value": "28.5"}]}),
            &["tool_execution_completed"],
        ),
        (
            json!({"content_filters": [{"type": "regex", "field": "metadata.retry_eligible", "pattern": "^true$"}]}),
            &["error_occurred"],
        ),
        (
            json!({"content_filters": [{"type": "contains", "field": "tags.1", "value": "database"}]}),
            &["memory_lesson_learned"],
        ),
        (
            json!({"content_filters": [{"type": "contains", "field": "no.such.field", "value": ""}]}),
            &[],
        ),
        (
            json!({"content_filters": [
                {"type": "contains", "field": "metadata.chat_id", "value": "chat_"},
                {"type": "regex", "field": "data.content", "pattern": "(?i)hello"}]}),
            &["chat_message_received"],
        ),
        (
            json!({"platforms": ["web"], "users": ["user_123"],
                   "content_filters": [{"type": "regex", "field": "tool_name", "pattern": "tests$"}]}),
            &["tool_execution_started"],
        ),
        // The guide's whole filter example lets none of its own examples through.
        (
            json!({"platforms": ["telegram", "discord"], "users": ["admin_user", "moderator_user"],
                   "min_severity": "warning",
                   "content_filters": [{"type": "contains", "field": "error.message", "value": "database"},
                                       {"type": "regex", "field": "data.tool_name", "pattern": "^deploy_"}],
                   "time_window": {"start_hour": 9, "end_hour": 17, "timezone": "UTC"}}),
            &[],
        ),
    ];
    for (filters, expected) in table {
        assert_eq!(
            passing(filters.clone(), noon()),
            expected,
            "filters {filters}"
        );
    }
}

#[test]
fn time_windows_including_one_that_wraps_past_midnight_in_a_non_utc_zone() {
    let at = |y, mo, d, h, mi| Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
    let office = json!({"time_window": {"start_hour": 9, "end_hour": 17, "timezone": "UTC"}});
    // 22:00 to 06:00 Tokyo time (UTC+9, no DST) is 13:00 to 21:00 UTC.
    let tokyo_night =
        json!({"time_window": {"start_hour": 22, "end_hour": 6, "timezone": "Asia/Tokyo"}});
    // 09:00 to 17:00 New York: 13:00 UTC is 09:00 in July (EDT) but 08:00 in January (EST).
    let new_york =
        json!({"time_window": {"start_hour": 9, "end_hour": 17, "timezone": "America/New_York"}});
    let until_midnight =
        json!({"time_window": {"start_hour": 18, "end_hour": 24, "timezone": "Europe/Berlin"}});
    let table = [
        (&office, at(2024, 1, 15, 8, 59), false),
        (&office, at(2024, 1, 15, 9, 0), true),
        (&office, at(2024, 1, 15, 16, 59), true),
        (&office, at(2024, 1, 15, 17, 0), false),
        (&tokyo_night, at(2024, 1, 15, 12, 59), false),
        (&tokyo_night, at(2024, 1, 15, 13, 0), true),
        (&tokyo_night, at(2024, 1, 15, 15, 30), true),
        (&tokyo_night, at(2024, 1, 15, 20, 59), true),
        (&tokyo_night, at(2024, 1, 15, 21, 0), false),
        (&tokyo_night, at(2024, 1, 16, 3, 0), false),
        (&new_york, at(2024, 7, 1, 13, 0), true),
        (&new_york, at(2024, 1, 15, 13, 0), false),
        (&new_york, at(2024, 1, 15, 14, 0), true),
        (&until_midnight, at(2024, 1, 15, 16, 59), false),
        (&until_midnight, at(2024, 1, 15, 17, 0), true),
        (&until_midnight, at(2024, 1, 15, 22, 59), true),
        (&until_midnight, at(2024, 1, 15, 23, 0), false),
    ];
    for (filters, now, expected) in table {
        let got = passing(filters.clone(), now);
        let want: &[&str] = if expected { ALL } else { &[] };
        assert_eq!(got, want, "{filters} at {now}");
    }
}

#[test]
fn subscriptions_against_the_fixtures() {
    let table: Vec<(&[&str], &[&str], usize)> = vec![
        (&["*"], ALL, 0),
        (
            &["tool_execution_*"],
            &[
                "tool_execution_completed",
                "tool_execution_failed",
                "tool_execution_started",
            ],
            0,
        ),
        (&["chat_message_received"], &["chat_message_received"], 0),
        (
            &["*_completed"],
            &["loki_execution_completed", "tool_execution_completed"],
            0,
        ),
        (
            &["loki_*", "error_occurred"],
            &[
                "error_occurred",
                "loki_execution_completed",
                "loki_execution_started",
            ],
            0,
        ),
        (
            &["*message*"],
            &["chat_message_received", "chat_message_sent"],
            0,
        ),
        // The guide's names that are not events: nothing, and a warning each.
        (&["chat_message", "tool_executed"], &[], 2),
        (&[], &[], 1),
    ];
    for (patterns, expected, warnings) in table {
        let (subscription, found) = Subscription::new(patterns).unwrap();
        let got: Vec<String> = fixtures()
            .into_iter()
            .filter(|(_, d)| subscription.matches(d.event()))
            .map(|(stem, _)| stem)
            .collect();
        assert_eq!(got, expected, "patterns {patterns:?}");
        assert_eq!(found.len(), warnings, "{patterns:?}: {found:?}");
        for (stem, delivery) in fixtures() {
            assert_eq!(stem, delivery.event());
            let any = patterns
                .iter()
                .any(|p| pattern_matches(p, delivery.event()));
            assert_eq!(any, expected.contains(&stem.as_str()));
        }
    }
}

#[tokio::test]
async fn the_sender_applies_subscriptions_and_filters_before_sending() {
    let endpoint = |events: &[&str], filters: Value| {
        let mut e = EndpointConfig::new("http://127.0.0.1:9/never-contacted");
        e.events = events.iter().map(|s| (*s).to_owned()).collect();
        e.filters = serde_json::from_value(filters).unwrap();
        e
    };
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::one("s"));
        value.endpoints = vec![
            endpoint(&["chat_*"], json!({})),
            endpoint(&["*"], json!({"platforms": ["discord"]})),
            endpoint(&["error_occurred"], json!({"min_severity": "critical"})),
        ];
        value
    };
    let (sender, _) = Sender::builder(config)
        .clock(Arc::new(FixedClock(noon())))
        .build()
        .unwrap();
    let ids: Vec<_> = sender.endpoints().into_iter().map(|(id, _)| id).collect();
    let by_name = |name: &str| {
        fixtures()
            .into_iter()
            .find(|(stem, _)| stem == name)
            .unwrap()
            .1
    };

    let report = sender
        .send_delivery(&by_name("tool_execution_failed"))
        .await;
    assert!(report.deliveries.is_empty());
    let reasons: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.endpoint, s.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (ids[0], SkipReason::NotSubscribed),
            (ids[1], SkipReason::Filtered(FilterKind::Platforms)),
            (ids[2], SkipReason::NotSubscribed)
        ]
    );
    let report = sender.send_delivery(&by_name("error_occurred")).await;
    let reasons: Vec<_> = report.skipped.iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        [
            SkipReason::NotSubscribed,
            SkipReason::Filtered(FilterKind::Platforms),
            SkipReason::Filtered(FilterKind::MinSeverity)
        ]
    );
    assert_eq!(sender.metrics().deliveries_total, 0);
}
