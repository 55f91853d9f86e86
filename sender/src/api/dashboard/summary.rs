//! What the dashboard shows, read from the store over a bounded window
//! (docs/design.md section 8, "Dashboard"): per-endpoint counts, success
//! rate and p95 time to delivery, deliveries per minute by outcome, and the
//! recent dead deliveries.
//!
//! The window is the last hour, narrowed (15, 5, then 1 minute) when it
//! holds more than [`MAX_ROWS`] deliveries, so that a page load reads a
//! bounded number of rows. Deliveries count in the minute they were
//! published, with the state they have now.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};

use crate::Error;
use crate::dispatcher::{
    DeliveryQuery, DeliveryRecord, DeliveryState, Dispatcher, EndpointHealth, StoreStats,
};

/// The windows tried, in minutes, longest first.
pub(super) const WINDOWS: [u32; 4] = [60, 15, 5, 1];
/// The most deliveries one page load reads for its window.
pub(super) const MAX_ROWS: usize = 5_000;
/// The most dead deliveries listed.
pub(super) const MAX_FAILURES: usize = 25;
/// The most endpoints listed.
pub(super) const MAX_ENDPOINTS: usize = 200;
/// The page size of the reads (small: rows carry their bodies).
const PAGE: usize = 100;
/// The longest error text shown for a failure.
const MAX_ERROR_CHARS: usize = 300;

/// An endpoint's health as the dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Health {
    /// No failure since its last success.
    Healthy,
    /// Failing every attempt since then.
    Failing(DateTime<Utc>),
    /// Disabled by its health rule (since then, when known).
    Disabled(Option<DateTime<Utc>>),
}

/// Outcome counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// Delivered.
    pub(super) delivered: u64,
    /// Dead.
    pub(super) dead: u64,
    /// Still pending.
    pub(super) pending: u64,
}

impl Counts {
    fn add(&mut self, state: DeliveryState) {
        match state {
            DeliveryState::Delivered => self.delivered += 1,
            DeliveryState::Dead => self.dead += 1,
            DeliveryState::Pending => self.pending += 1,
        }
    }

    /// All of them.
    pub(super) fn total(&self) -> u64 {
        self.delivered + self.dead + self.pending
    }

    /// Delivered over ended (delivered or dead); `None` when none ended.
    pub(super) fn success_rate(&self) -> Option<f64> {
        let ended = self.delivered + self.dead;
        #[allow(clippy::cast_precision_loss)]
        (ended > 0).then(|| self.delivered as f64 / ended as f64)
    }
}

/// One endpoint's row.
#[derive(Debug, Clone)]
pub(super) struct EndpointRow {
    /// `cfg_…` or `ep_…`.
    pub(super) id: String,
    /// Its URL, password hidden.
    pub(super) url: String,
    /// Its health.
    pub(super) health: Health,
    /// Its deliveries in the window.
    pub(super) counts: Counts,
    /// The 95th percentile of publish → delivered over its delivered ones.
    pub(super) p95: Option<Duration>,
}

/// One dead delivery.
#[derive(Debug, Clone)]
pub(super) struct FailureRow {
    /// `dlv_…`.
    pub(super) id: String,
    /// The event name.
    pub(super) event: String,
    /// The event id.
    pub(super) event_id: String,
    /// The endpoint's id.
    pub(super) endpoint_id: String,
    /// Attempts made.
    pub(super) attempts: u32,
    /// The last answer's status.
    pub(super) last_status: Option<u16>,
    /// Why it is dead.
    pub(super) reason: String,
    /// The last error, shortened.
    pub(super) error: Option<String>,
    /// When it died.
    pub(super) at: DateTime<Utc>,
}

/// One minute of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Minute {
    /// Its start.
    pub(super) start: DateTime<Utc>,
    /// Deliveries published in it, by state now.
    pub(super) counts: Counts,
}

/// Everything one page shows.
#[derive(Debug, Clone)]
pub(super) struct Summary {
    /// When it was read.
    pub(super) now: DateTime<Utc>,
    /// The window, in minutes.
    pub(super) window_minutes: u32,
    /// Even the shortest window held more than [`MAX_ROWS`] deliveries:
    /// only the first of them were read.
    pub(super) truncated: bool,
    /// Every delivery kept, by state.
    pub(super) totals: StoreStats,
    /// Attempts in flight in this instance.
    pub(super) in_flight: usize,
    /// The window's counts over every endpoint.
    pub(super) window: Counts,
    /// The endpoints (at most [`MAX_ENDPOINTS`]).
    pub(super) endpoints: Vec<EndpointRow>,
    /// Endpoints left out.
    pub(super) more_endpoints: usize,
    /// The chart, oldest minute first.
    pub(super) minutes: Vec<Minute>,
    /// The latest dead deliveries of the window, newest first.
    pub(super) failures: Vec<FailureRow>,
    /// Dead deliveries of the window not listed.
    pub(super) more_failures: u64,
}

/// The start of `now`'s minute.
fn minute_of(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(TimeDelta::minutes(1)).unwrap_or(time)
}

/// The first minute of a window of `minutes` ending with `now`'s minute.
fn window_start(now: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    minute_of(now)
        .checked_sub_signed(TimeDelta::minutes(i64::from(minutes.max(1) - 1)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A list cursor just before the deliveries published at `time`.
///
/// Delivery ids begin `dlv_` and 11 hex digits of their publish time in
/// unix milliseconds (`Shared::new_record` in the dispatcher), so ids
/// after this one were published at or after `time`: the stores then read
/// from there on (by primary key in SQLite, by lexical range in Redis)
/// instead of from the oldest row. The `since` filter still applies.
fn cursor_at(time: DateTime<Utc>) -> String {
    format!("dlv_{:011x}", time.timestamp_millis().max(0))
}

/// The aggregates of one window, built page by page (rows are dropped as
/// they are counted).
#[derive(Default)]
struct Tally {
    rows: usize,
    window: Counts,
    by_endpoint: HashMap<String, (Counts, Vec<u64>)>,
    minutes: Vec<Counts>,
    failures: VecDeque<FailureRow>,
    dead: u64,
}

impl Tally {
    fn new(minutes: u32) -> Tally {
        Tally {
            minutes: vec![Counts::default(); minutes as usize],
            ..Tally::default()
        }
    }

    fn add(&mut self, record: &DeliveryRecord, start: DateTime<Utc>) {
        self.rows += 1;
        self.window.add(record.state);
        let (counts, latencies) = self
            .by_endpoint
            .entry(record.endpoint_id.clone())
            .or_default();
        counts.add(record.state);
        if record.state == DeliveryState::Delivered {
            let millis = (record.updated_at - record.created_at).num_milliseconds();
            latencies.push(u64::try_from(millis).unwrap_or(0));
        }
        let minute = (record.created_at - start).num_minutes();
        if let Some(slot) = usize::try_from(minute)
            .ok()
            .and_then(|m| self.minutes.get_mut(m))
        {
            slot.add(record.state);
        }
        if record.state == DeliveryState::Dead {
            self.dead += 1;
            if self.failures.len() == MAX_FAILURES {
                self.failures.pop_front();
            }
            self.failures.push_back(failure_row(record));
        }
    }
}

fn failure_row(record: &DeliveryRecord) -> FailureRow {
    let error = record.last_error.as_ref().map(|e| {
        if e.chars().count() > MAX_ERROR_CHARS {
            let mut short: String = e.chars().take(MAX_ERROR_CHARS).collect();
            short.push('…');
            short
        } else {
            e.clone()
        }
    });
    FailureRow {
        id: record.id.clone(),
        event: record.event_name.clone(),
        event_id: record.event_id.clone(),
        endpoint_id: record.endpoint_id.clone(),
        attempts: record.attempts,
        last_status: record.last_status,
        reason: record.dead_reason.clone().unwrap_or_default(),
        error,
        at: record.updated_at,
    }
}

/// The 95th percentile (nearest rank) of `values`, sorted in place.
pub(super) fn p95(values: &mut [u64]) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    // ceil(0.95 n) - 1, in integers.
    let rank = (values.len() * 95).div_ceil(100);
    values.get(rank.saturating_sub(1)).copied()
}

/// Reads the deliveries published since `start`, at most [`MAX_ROWS`] of
/// them; `true` when that was all of them.
async fn tally_since(
    dispatcher: &Dispatcher,
    start: DateTime<Utc>,
    minutes: u32,
) -> Result<(Tally, bool), Error> {
    let mut tally = Tally::new(minutes);
    let mut query = DeliveryQuery {
        since: Some(start),
        cursor: Some(cursor_at(start)),
        limit: PAGE,
        ..DeliveryQuery::default()
    };
    loop {
        let page = dispatcher.list(&query).await?;
        for record in &page.deliveries {
            tally.add(record, start);
        }
        match page.next_cursor {
            None => return Ok((tally, true)),
            Some(_) if tally.rows >= MAX_ROWS => return Ok((tally, false)),
            Some(cursor) => query.cursor = Some(cursor),
        }
    }
}

/// Reads what the page shows at `now`.
pub(super) async fn read(dispatcher: &Dispatcher, now: DateTime<Utc>) -> Result<Summary, Error> {
    let totals = dispatcher.stats().await?;
    let mut index = 0;
    let (mut tally, window_minutes, start, truncated) = loop {
        let minutes = WINDOWS[index];
        let start = window_start(now, minutes);
        let (tally, complete) = tally_since(dispatcher, start, minutes).await?;
        index += 1;
        if complete || index == WINDOWS.len() {
            break (tally, minutes, start, !complete);
        }
    };

    let all = dispatcher.endpoints();
    let more_endpoints = all.len().saturating_sub(MAX_ENDPOINTS);
    let mut endpoints = Vec::with_capacity(all.len().min(MAX_ENDPOINTS));
    for (id, url) in all.into_iter().take(MAX_ENDPOINTS) {
        let stored = dispatcher.store().health(&id).await?;
        let health = health_of(dispatcher.is_disabled(&id), stored);
        let (counts, mut latencies) = tally.by_endpoint.remove(&id).unwrap_or_default();
        endpoints.push(EndpointRow {
            url: super::super::webhooks::redact_url(&url),
            id,
            health,
            counts,
            p95: p95(&mut latencies).map(Duration::from_millis),
        });
    }
    let minutes = tally
        .minutes
        .iter()
        .enumerate()
        .map(|(offset, counts)| Minute {
            start: start + TimeDelta::minutes(i64::try_from(offset).unwrap_or(0)),
            counts: *counts,
        })
        .collect();
    let failures: Vec<FailureRow> = tally.failures.into_iter().rev().collect();
    Ok(Summary {
        now,
        window_minutes,
        truncated,
        totals,
        in_flight: dispatcher.in_flight(),
        window: tally.window,
        endpoints,
        more_endpoints,
        minutes,
        more_failures: tally.dead.saturating_sub(failures.len() as u64),
        failures,
    })
}

fn health_of(disabled: bool, stored: EndpointHealth) -> Health {
    if disabled {
        Health::Disabled(stored.disabled_at)
    } else if let Some(since) = stored.failing_since {
        Health::Failing(since)
    } else {
        Health::Healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_the_nearest_rank() {
        assert_eq!(p95(&mut []), None);
        assert_eq!(p95(&mut [7]), Some(7));
        let mut values: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(p95(&mut values), Some(95));
        let mut values: Vec<u64> = (1..=20).collect();
        assert_eq!(p95(&mut values), Some(19));
        let mut values = vec![5, 1, 1000];
        assert_eq!(p95(&mut values), Some(1000));
    }

    #[test]
    fn windows_start_on_a_minute() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T10:42:37.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            window_start(now, 60).to_rfc3339(),
            "2026-11-30T09:43:00+00:00"
        );
        assert_eq!(
            window_start(now, 1).to_rfc3339(),
            "2026-11-30T10:42:00+00:00"
        );
    }

    #[test]
    fn the_cursor_sorts_before_ids_of_its_millisecond() {
        let time = DateTime::from_timestamp_millis(1_764_499_357_123).unwrap();
        let cursor = cursor_at(time);
        let id_then = format!("dlv_{:011x}{:06x}{:08x}", 1_764_499_357_123_i64, 0, 0);
        let id_before = format!(
            "dlv_{:011x}{:06x}{:08x}",
            1_764_499_357_122_i64,
            0xff_ffff,
            u32::MAX
        );
        assert!(id_then.as_str() > cursor.as_str());
        assert!(id_before.as_str() < cursor.as_str());
    }

    #[test]
    fn counts_and_rates() {
        let mut counts = Counts::default();
        assert_eq!(counts.success_rate(), None);
        counts.add(DeliveryState::Pending);
        assert_eq!(counts.success_rate(), None);
        counts.add(DeliveryState::Delivered);
        counts.add(DeliveryState::Delivered);
        counts.add(DeliveryState::Delivered);
        counts.add(DeliveryState::Dead);
        assert_eq!(counts.success_rate(), Some(0.75));
        assert_eq!(counts.total(), 5);
    }

    #[test]
    fn health_prefers_disabled() {
        let t = DateTime::from_timestamp(1, 0).unwrap();
        let stored = EndpointHealth {
            failing_since: Some(t),
            disabled_at: Some(t),
        };
        assert_eq!(health_of(true, stored), Health::Disabled(Some(t)));
        assert_eq!(health_of(false, stored), Health::Failing(t));
        assert_eq!(health_of(false, EndpointHealth::default()), Health::Healthy);
    }
}
