//! Delivery totals, as the guide's `WebhookMetrics`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use super::report::EndpointReport;

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

/// The running totals.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    state: Mutex<State>,
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
    /// Counts one finished delivery.
    pub(crate) fn record(&self, report: &EndpointReport) {
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
