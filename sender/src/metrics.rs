//! Delivery totals, as the guide's `WebhookMetrics`, and the metrics the
//! sender reports through the `metrics` facade (docs/design.md section 8):
//! the names, the outcome codes, and the `endpoint` label limited to
//! `metrics_endpoint_limit` endpoints (the rest summed as `other`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use metrics::SharedString;

use super::report::{EndpointReport, Outcome};

/// How many recent delivery times the p95 is computed over.
const WINDOW: usize = 10_000;

/// Totals over every delivery (one event to one endpoint) since the sender
/// started, as the guide's `WebhookMetrics.get_stats()`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MetricsSnapshot {
    /// Deliveries finished.
    pub deliveries_total: u64,
    /// Deliveries an endpoint accepted.
    pub deliveries_success: u64,
    /// Deliveries that failed (and went to the dead-letter sink).
    pub deliveries_failed: u64,
    /// Attempts after the first, over all deliveries.
    pub retries_total: u64,
    /// `deliveries_success / deliveries_total`, 0 when there were none.
    pub success_rate: f64,
    /// Mean delivery time (first attempt to end, waits included).
    pub average_delivery_time: Duration,
    /// 95th percentile delivery time (nearest rank) over the last 10,000 deliveries.
    pub p95_delivery_time: Duration,
}

/// The running totals, and the facade's `endpoint` labels.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    state: Mutex<State>,
    labels: EndpointLabels,
}

#[derive(Debug, Default)]
struct State {
    total: u64,
    success: u64,
    failed: u64,
    retries: u64,
    time_sum: Duration,
    recent: VecDeque<Duration>,
}

impl Metrics {
    /// Totals with the `endpoint` label limited to `limit` endpoints.
    pub(crate) fn with_endpoint_limit(limit: usize) -> Metrics {
        Metrics {
            state: Mutex::default(),
            labels: EndpointLabels::new(limit),
        }
    }

    /// Counts one finished delivery, and reports it (and its attempts)
    /// through the facade.
    pub(crate) fn record(&self, report: &EndpointReport) {
        self.report(report);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.total += 1;
        if report.is_delivered() {
            state.success += 1;
        } else {
            state.failed += 1;
        }
        state.retries += u64::from(report.retries());
        state.time_sum = state.time_sum.saturating_add(report.duration);
        if state.recent.len() == WINDOW {
            state.recent.pop_front();
        }
        state.recent.push_back(report.duration);
    }

    /// Reports a finished delivery through the facade: its attempts, its
    /// retries and its outcome, under the endpoint's label (`other` for a
    /// delivery to an unregistered endpoint).
    fn report(&self, report: &EndpointReport) {
        let endpoint = match report.endpoint {
            Some(id) => self.labels.label(&id.to_string()),
            None => SharedString::const_str(OTHER),
        };
        let last = report.attempts.len();
        for (index, attempt) in report.attempts.iter().enumerate() {
            let refused = report.outcome == Outcome::Refused && index + 1 == last;
            let outcome = attempt_outcome(attempt.status, attempt.error.as_deref(), refused);
            record_attempt(&endpoint, outcome, attempt.attempt, attempt.duration);
        }
        let reason = match report.outcome {
            Outcome::Delivered => None,
            Outcome::Rejected => Some(REASON_REJECTED),
            Outcome::Refused => Some(REASON_DESTINATION_REFUSED),
            _ => Some(REASON_EXHAUSTED),
        };
        record_outcome(&endpoint, reason, 1);
    }

    /// The totals now.
    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.total == 0 {
            return MetricsSnapshot::default();
        }
        let mut sorted: Vec<Duration> = state.recent.iter().copied().collect();
        sorted.sort_unstable();
        // Nearest rank: the smallest time at or above 95 % of the samples.
        let rank = (sorted.len() * 95).div_ceil(100).max(1);
        let p95 = sorted.get(rank - 1).copied().unwrap_or_default();
        let count = u32::try_from(state.total).unwrap_or(u32::MAX);
        #[allow(clippy::cast_precision_loss)] // counts far below 2^53
        let success_rate = state.success as f64 / state.total as f64;
        MetricsSnapshot {
            deliveries_total: state.total,
            deliveries_success: state.success,
            deliveries_failed: state.failed,
            retries_total: state.retries,
            success_rate,
            average_delivery_time: state.time_sum / count,
            p95_delivery_time: p95,
        }
    }
}

/// The names of the metrics the sender reports through the `metrics`
/// facade (docs/design.md section 8 lists them with their labels).
pub mod names {
    /// Counter: deliveries ended, by `endpoint`, `outcome` (`delivered` or
    /// `dead`) and `reason` (`none`, or the dead reason code).
    pub const DELIVERIES: &str = "megabot_webhook_deliveries_total";
    /// Counter: attempts, by `endpoint` and `outcome` (an attempt outcome code).
    pub const ATTEMPTS: &str = "megabot_webhook_attempts_total";
    /// Counter: attempts after a delivery's first, by `endpoint`.
    pub const RETRIES: &str = "megabot_webhook_retries_total";
    /// Histogram (seconds): how long each attempt took, by `endpoint`.
    pub const ATTEMPT_DURATION: &str = "megabot_webhook_attempt_duration_seconds";
    /// Gauge: pending deliveries in the dispatcher's store.
    pub const QUEUE_DEPTH: &str = "megabot_webhook_queue_depth";
    /// Gauge (seconds): how long the oldest pending delivery has waited
    /// (since it was published or redelivered); 0 when none is pending.
    pub const OLDEST_PENDING_AGE: &str = "megabot_webhook_oldest_pending_age_seconds";
    /// Gauge: endpoints disabled by their health rule now.
    pub const ENDPOINTS_DISABLED: &str = "megabot_webhook_endpoints_disabled";
    /// Counter: endpoints disabled by their health rule, by `endpoint`.
    pub const ENDPOINT_DISABLED: &str = "megabot_webhook_endpoint_disabled_total";
}

/// The default of `metrics_endpoint_limit`: endpoints with a label of their
/// own; the others are summed under `endpoint="other"`.
pub const DEFAULT_METRICS_ENDPOINT_LIMIT: usize = 100;

/// The `endpoint` label of the endpoints past the limit (and of deliveries
/// to an unregistered endpoint).
pub(crate) const OTHER: &str = "other";

const REASON_NONE: &str = "none";
const REASON_REJECTED: &str = "rejected";
const REASON_EXHAUSTED: &str = "exhausted";
const REASON_DESTINATION_REFUSED: &str = "destination_refused";

/// The `endpoint` label values: the first `limit` endpoint ids seen get
/// their own, every later one is `other`. Ids only (never a URL).
#[derive(Debug)]
pub(crate) struct EndpointLabels {
    limit: usize,
    admitted: RwLock<HashMap<Box<str>, Arc<str>>>,
}

impl Default for EndpointLabels {
    fn default() -> Self {
        EndpointLabels::new(DEFAULT_METRICS_ENDPOINT_LIMIT)
    }
}

impl EndpointLabels {
    pub(crate) fn new(limit: usize) -> EndpointLabels {
        EndpointLabels {
            limit,
            admitted: RwLock::new(HashMap::new()),
        }
    }

    /// The label of endpoint `id`.
    pub(crate) fn label(&self, id: &str) -> SharedString {
        let found = self
            .admitted
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned();
        if let Some(label) = found {
            return SharedString::from_shared(label);
        }
        let mut admitted = self
            .admitted
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(label) = admitted.get(id) {
            return SharedString::from_shared(label.clone());
        }
        if admitted.len() >= self.limit {
            return SharedString::const_str(OTHER);
        }
        let label: Arc<str> = Arc::from(id);
        admitted.insert(Box::from(id), label.clone());
        SharedString::from_shared(label)
    }
}

/// The stable code of an attempt's outcome (the `outcome` label of
/// [`names::ATTEMPTS`]): `ok` (2xx), `conflict` (409, a copy in flight at the
/// receiver), `retryable_status` (408, 429, 5xx), `rejected` (any other
/// status: final), `timeout`, `connection_failed` (no answer), or
/// `destination_refused` (the destination guard refused the address:
/// nothing was sent).
pub(crate) fn attempt_outcome(
    status: Option<u16>,
    error: Option<&str>,
    refused: bool,
) -> &'static str {
    if refused {
        return "destination_refused";
    }
    match status {
        Some(200..=299) => "ok",
        Some(409) => "conflict",
        Some(408 | 429 | 500..=599) => "retryable_status",
        Some(_) => "rejected",
        None if error.is_some_and(|e| e.starts_with(crate::attempts::TIMED_OUT)) => "timeout",
        None => "connection_failed",
    }
}

/// Reports one attempt: its outcome, a retry when it is not the first, and
/// its duration.
pub(crate) fn record_attempt(
    endpoint: &SharedString,
    outcome: &'static str,
    number: u32,
    duration: Duration,
) {
    metrics::counter!(names::ATTEMPTS, "endpoint" => endpoint.clone(), "outcome" => outcome)
        .increment(1);
    if number > 1 {
        metrics::counter!(names::RETRIES, "endpoint" => endpoint.clone()).increment(1);
    }
    metrics::histogram!(names::ATTEMPT_DURATION, "endpoint" => endpoint.clone())
        .record(duration.as_secs_f64());
}

/// The label of a dead reason: the known codes without an allocation.
fn reason_label(reason: &str) -> SharedString {
    const KNOWN: [&str; 8] = [
        REASON_EXHAUSTED,
        REASON_REJECTED,
        "stale",
        REASON_DESTINATION_REFUSED,
        "endpoint_disabled",
        "endpoint_deleted",
        "invalid",
        "imported",
    ];
    match KNOWN.iter().find(|known| **known == reason) {
        Some(known) => SharedString::const_str(known),
        None => SharedString::from(reason.to_owned()),
    }
}

/// Reports `count` deliveries ended: delivered (`reason` `None`) or dead
/// with `reason`.
pub(crate) fn record_outcome(endpoint: &SharedString, reason: Option<&str>, count: u64) {
    if count == 0 {
        return;
    }
    let (outcome, reason) = match reason {
        None => ("delivered", SharedString::const_str(REASON_NONE)),
        Some(reason) => ("dead", reason_label(reason)),
    };
    metrics::counter!(
        names::DELIVERIES,
        "endpoint" => endpoint.clone(),
        "outcome" => outcome,
        "reason" => reason
    )
    .increment(count);
}

#[cfg(test)]
mod tests {
    use super::super::report::{AttemptReport, Outcome};
    use super::*;

    fn report(delivered: bool, attempts: u32, millis: u64) -> EndpointReport {
        EndpointReport {
            endpoint: None,
            url: "https://e".into(),
            event: "e".into(),
            delivery_id: "i".into(),
            outcome: if delivered {
                Outcome::Delivered
            } else {
                Outcome::Exhausted
            },
            attempts: (1..=attempts)
                .map(|attempt| AttemptReport {
                    attempt,
                    status: Some(500),
                    error: None,
                    duration: Duration::ZERO,
                    retry_after: None,
                    wait_after: None,
                    response_body: None,
                })
                .collect(),
            final_status: None,
            error: None,
            duration: Duration::from_millis(millis),
            dead_lettered: false,
            dead_letter_error: None,
        }
    }

    #[test]
    fn totals_rate_mean_and_p95() {
        let metrics = Metrics::default();
        assert_eq!(metrics.snapshot(), MetricsSnapshot::default());
        for millis in 1..=100 {
            metrics.record(&report(
                millis % 4 != 0,
                1 + u32::from(millis % 10 == 0),
                millis,
            ));
        }
        let stats = metrics.snapshot();
        assert_eq!(stats.deliveries_total, 100);
        assert_eq!(stats.deliveries_success, 75);
        assert_eq!(stats.deliveries_failed, 25);
        assert_eq!(stats.retries_total, 10);
        assert_eq!(stats.success_rate, 0.75);
        assert_eq!(stats.average_delivery_time, Duration::from_micros(50_500));
        assert_eq!(stats.p95_delivery_time, Duration::from_millis(95));
    }

    #[test]
    fn endpoint_labels_stop_at_the_limit() {
        let labels = EndpointLabels::new(2);
        assert_eq!(labels.label("cfg_0_a").as_ref(), "cfg_0_a");
        assert_eq!(labels.label("ep_b").as_ref(), "ep_b");
        assert_eq!(labels.label("ep_c").as_ref(), OTHER);
        // Admitted ones keep their label; later ones stay `other`.
        assert_eq!(labels.label("cfg_0_a").as_ref(), "cfg_0_a");
        assert_eq!(labels.label("ep_c").as_ref(), OTHER);
        assert_eq!(EndpointLabels::new(0).label("ep_a").as_ref(), OTHER);
        assert_eq!(
            EndpointLabels::default().limit,
            DEFAULT_METRICS_ENDPOINT_LIMIT
        );
    }

    #[test]
    fn attempt_outcome_codes() {
        let timed_out = format!("{} 10000 ms", crate::attempts::TIMED_OUT);
        for (status, error, refused, code) in [
            (Some(200), None, false, "ok"),
            (Some(204), None, false, "ok"),
            (Some(409), Some("endpoint answered 409"), false, "conflict"),
            (Some(408), None, false, "retryable_status"),
            (Some(429), None, false, "retryable_status"),
            (Some(503), None, false, "retryable_status"),
            (Some(404), None, false, "rejected"),
            (Some(302), None, false, "rejected"),
            (None, Some(timed_out.as_str()), false, "timeout"),
            (
                None,
                Some("connection failed: refused"),
                false,
                "connection_failed",
            ),
            (None, None, false, "connection_failed"),
            (None, Some("refused"), true, "destination_refused"),
        ] {
            assert_eq!(
                attempt_outcome(status, error, refused),
                code,
                "{status:?} {error:?}"
            );
        }
    }

    #[test]
    fn reason_labels() {
        assert_eq!(reason_label("stale").as_ref(), "stale");
        assert_eq!(
            reason_label("endpoint_deleted").as_ref(),
            "endpoint_deleted"
        );
        assert_eq!(reason_label("something_new").as_ref(), "something_new");
    }

    #[test]
    fn one_sample() {
        let metrics = Metrics::default();
        metrics.record(&report(true, 1, 7));
        assert_eq!(
            metrics.snapshot().p95_delivery_time,
            Duration::from_millis(7)
        );
        assert_eq!(metrics.snapshot().success_rate, 1.0);
    }
}
