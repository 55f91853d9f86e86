// Over 600 lines: 439 lines of code; the rest is its unit tests, kept beside it.
//! The alert rules as a state machine over injected times (design 9.6): no
//! I/O here, so windows, cool-downs and resolutions are tested exactly.
//! The engine feeds it outcomes and ticks, and carries out its [`Effects`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::dispatcher::{DeliveryOutcome, DeliveryState, IncidentRecord, dead_reason};

/// The rule an incident is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AlertRule {
    /// The success rate over the window fell below `failure_threshold`.
    FailureRate,
    /// A delivery took longer than `delivery_timeout_threshold` from publish
    /// to its outcome.
    SlowDelivery,
    /// The endpoint was disabled by its health rule.
    EndpointDisabled,
}

impl AlertRule {
    /// `failure_rate`, `slow_delivery` or `endpoint_disabled` (as stored).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertRule::FailureRate => "failure_rate",
            AlertRule::SlowDelivery => "slow_delivery",
            AlertRule::EndpointDisabled => "endpoint_disabled",
        }
    }

    /// The rule named `text`.
    pub fn parse(text: &str) -> Option<AlertRule> {
        match text {
            "failure_rate" => Some(AlertRule::FailureRate),
            "slow_delivery" => Some(AlertRule::SlowDelivery),
            "endpoint_disabled" => Some(AlertRule::EndpointDisabled),
            _ => None,
        }
    }
}

impl fmt::Display for AlertRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an alert opens or closes an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertState {
    /// A rule is broken.
    Raised,
    /// The rule held again for a whole window.
    Resolved,
}

/// One alert, as handed to every channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Alert {
    /// Raised or resolved.
    pub state: AlertState,
    /// Which rule.
    pub rule: AlertRule,
    /// The endpoint's id.
    pub endpoint_id: String,
    /// What happened, in one line (no secret, no URL).
    pub text: String,
    /// When (the engine's clock).
    pub at: DateTime<Utc>,
}

/// The numbers of the rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limits {
    pub(crate) failure_threshold: Option<f64>,
    pub(crate) slow_after: Option<Duration>,
    pub(crate) window: Duration,
    pub(crate) min_samples: u32,
    pub(crate) cooldown: Duration,
}

/// What the engine must do after a step: alerts to send, incidents to
/// store and to forget.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Effects {
    pub(crate) alerts: Vec<Alert>,
    pub(crate) put: Vec<IncidentRecord>,
    pub(crate) delete: Vec<(String, String)>,
}

type Key = (String, AlertRule);

/// The rules' state: each endpoint's window of outcomes and the incidents.
#[derive(Debug)]
pub(crate) struct Rules {
    limits: Limits,
    /// Incidents opened before this time (a restart) resolve a window after
    /// it at the earliest.
    started_at: DateTime<Utc>,
    /// `(outcome time, delivered)` by endpoint, oldest first.
    windows: HashMap<String, VecDeque<(DateTime<Utc>, bool)>>,
    incidents: HashMap<Key, IncidentRecord>,
    /// The `last_violation_at` last stored, to store it only now and then.
    stored_violation: HashMap<Key, DateTime<Utc>>,
}

impl Rules {
    pub(crate) fn new(
        limits: Limits,
        started_at: DateTime<Utc>,
        kept: Vec<IncidentRecord>,
    ) -> Rules {
        let mut incidents = HashMap::new();
        let mut stored_violation = HashMap::new();
        for incident in kept {
            if let Some(rule) = AlertRule::parse(&incident.rule) {
                let key = (incident.endpoint_id.clone(), rule);
                stored_violation.insert(key.clone(), incident.last_violation_at);
                incidents.insert(key, incident);
            }
        }
        Rules {
            limits,
            started_at,
            windows: HashMap::new(),
            incidents,
            stored_violation,
        }
    }

    /// The incidents, open and resolved-but-remembered, by endpoint and rule.
    pub(crate) fn incidents(&self) -> Vec<IncidentRecord> {
        let mut all: Vec<IncidentRecord> = self.incidents.values().cloned().collect();
        all.sort_by(|a, b| (&a.endpoint_id, &a.rule).cmp(&(&b.endpoint_id, &b.rule)));
        all
    }

    /// Endpoints with an open `endpoint_disabled` incident.
    pub(crate) fn disabled_endpoints(&self) -> Vec<String> {
        self.incidents
            .iter()
            .filter(|((_, rule), incident)| {
                *rule == AlertRule::EndpointDisabled && incident.resolved_at.is_none()
            })
            .map(|((endpoint, _), _)| endpoint.clone())
            .collect()
    }

    /// A delivery reached its outcome.
    pub(crate) fn outcome(&mut self, outcome: &DeliveryOutcome, now: DateTime<Utc>) -> Effects {
        let mut effects = Effects::default();
        // Deliveries that were never attempted because the endpoint is
        // disabled or deleted are the disabled rule's business, not the rate's.
        let unattempted = outcome.state == DeliveryState::Dead
            && matches!(
                outcome.dead_reason.as_deref(),
                Some(dead_reason::ENDPOINT_DISABLED | dead_reason::ENDPOINT_DELETED)
            );
        if unattempted {
            return effects;
        }
        if let Some(slow_after) = self.limits.slow_after {
            let latency = outcome.latency();
            if latency > slow_after {
                let detail = format!(
                    "endpoint {}: delivery {} took {} s from publish to {}, over the {} s threshold",
                    outcome.endpoint_id,
                    outcome.delivery_id,
                    seconds(latency),
                    outcome.state,
                    seconds(slow_after)
                );
                self.violation(
                    &outcome.endpoint_id,
                    AlertRule::SlowDelivery,
                    outcome.at.max(now),
                    detail,
                    &mut effects,
                );
            }
        }
        if self.limits.failure_threshold.is_some() {
            let window = self.windows.entry(outcome.endpoint_id.clone()).or_default();
            // Kept in time order even when outcomes arrive slightly out of it.
            let at = outcome.at;
            let index = window.partition_point(|(t, _)| *t <= at);
            window.insert(index, (at, outcome.state == DeliveryState::Delivered));
            self.check_rate(&outcome.endpoint_id, now, &mut effects);
        }
        effects
    }

    /// An endpoint was disabled, or is still disabled.
    pub(crate) fn disabled(&mut self, endpoint_id: &str, now: DateTime<Utc>) -> Effects {
        let mut effects = Effects::default();
        let detail = format!(
            "endpoint {endpoint_id} disabled: every attempt failed for disable_after; \
             its new deliveries go to the dead letters until it is enabled again"
        );
        self.violation(
            endpoint_id,
            AlertRule::EndpointDisabled,
            now,
            detail,
            &mut effects,
        );
        effects
    }

    /// Slides the windows, raises alerts the cool-down held back, resolves
    /// incidents whose rule held for a whole window and forgets resolved
    /// ones past their cool-down.
    pub(crate) fn evaluate(&mut self, now: DateTime<Utc>) -> Effects {
        let mut effects = Effects::default();
        let endpoints: Vec<String> = self.windows.keys().cloned().collect();
        for endpoint in endpoints {
            self.check_rate(&endpoint, now, &mut effects);
            if self.windows.get(&endpoint).is_some_and(VecDeque::is_empty) {
                self.windows.remove(&endpoint);
            }
        }
        let window = self.limits.window;
        let cooldown = self.limits.cooldown;
        let mut keys: Vec<Key> = self.incidents.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let Some(incident) = self.incidents.get_mut(&key) else {
                continue;
            };
            if incident.resolved_at.is_none() {
                let held_since = incident.last_violation_at.max(self.started_at);
                if elapsed(held_since, now) >= window {
                    incident.resolved_at = Some(now);
                    if alerted(incident) {
                        effects.alerts.push(Alert {
                            state: AlertState::Resolved,
                            rule: key.1,
                            endpoint_id: key.0.clone(),
                            text: resolved_text(&self.limits, &key.0, key.1),
                            at: now,
                        });
                    }
                    effects.put.push(incident.clone());
                } else {
                    raise_if_due(incident, key.1, cooldown, now, &mut effects);
                }
            } else if incident
                .alerted_at
                .is_none_or(|t| elapsed(t, now) >= cooldown)
            {
                self.incidents.remove(&key);
                self.stored_violation.remove(&key);
                effects
                    .delete
                    .push((key.0.clone(), key.1.as_str().to_owned()));
            }
        }
        effects
    }

    /// Judges the success rate of `endpoint`'s window at `now`.
    fn check_rate(&mut self, endpoint: &str, now: DateTime<Utc>, effects: &mut Effects) {
        let Some(threshold) = self.limits.failure_threshold else {
            return;
        };
        let Some(window) = self.windows.get_mut(endpoint) else {
            return;
        };
        let window_len = self.limits.window;
        while window
            .front()
            .is_some_and(|(t, _)| elapsed(*t, now) > window_len)
        {
            window.pop_front();
        }
        let total = window.len();
        let delivered = window.iter().filter(|(_, ok)| *ok).count();
        let min_samples = usize::try_from(self.limits.min_samples).unwrap_or(usize::MAX);
        if total == 0 || total < min_samples {
            return;
        }
        // Counts of outcomes in one window are far below 2^52.
        #[allow(clippy::cast_precision_loss)]
        let rate = delivered as f64 / total as f64;
        if rate < threshold {
            let detail = format!(
                "endpoint {endpoint}: success rate {:.1}% ({delivered} of {total} deliveries delivered) \
                 over the last {} s, below {}%",
                rate * 100.0,
                seconds(window_len),
                percent(threshold)
            );
            self.violation(endpoint, AlertRule::FailureRate, now, detail, effects);
        }
    }

    /// The rule is broken at `now`: opens an incident (alerting unless the
    /// cool-down holds it back) or notes that the open one goes on.
    fn violation(
        &mut self,
        endpoint: &str,
        rule: AlertRule,
        now: DateTime<Utc>,
        detail: String,
        effects: &mut Effects,
    ) {
        let key = (endpoint.to_owned(), rule);
        let cooldown = self.limits.cooldown;
        match self.incidents.get_mut(&key) {
            Some(incident) if incident.resolved_at.is_none() => {
                if now > incident.last_violation_at {
                    incident.last_violation_at = now;
                }
                // An alert held back by the cool-down tells the latest figures.
                if !alerted(incident) {
                    incident.detail = detail;
                }
                // Stored now and then (a tenth of the window), not at every outcome.
                let stored = self.stored_violation.get(&key).copied();
                let due = stored.is_none_or(|t| {
                    elapsed(t, incident.last_violation_at) >= self.limits.window / 10
                });
                if due {
                    self.stored_violation
                        .insert(key.clone(), incident.last_violation_at);
                    effects.put.push(incident.clone());
                }
            }
            previous => {
                // The last alert of this endpoint and rule carries over, for
                // the cool-down.
                let alerted_at = previous.and_then(|p| p.alerted_at);
                let mut incident = IncidentRecord {
                    endpoint_id: endpoint.to_owned(),
                    rule: rule.as_str().to_owned(),
                    opened_at: now,
                    last_violation_at: now,
                    alerted_at,
                    resolved_at: None,
                    detail,
                };
                tracing::warn!(
                    endpoint = %endpoint,
                    rule = rule.as_str(),
                    detail = %incident.detail,
                    "webhook alert incident opened"
                );
                if !raise_if_due(&mut incident, rule, cooldown, now, effects) {
                    effects.put.push(incident.clone());
                }
                self.stored_violation.insert(key.clone(), now);
                self.incidents.insert(key, incident);
            }
        }
    }
}

/// Whether the open `incident` has had its alert.
fn alerted(incident: &IncidentRecord) -> bool {
    incident.alerted_at.is_some_and(|t| t >= incident.opened_at)
}

/// Raises the alert of an open incident not yet alerted once the cool-down
/// since the last alert of its endpoint and rule is over; returns whether it
/// did (and queued the incident to be stored).
fn raise_if_due(
    incident: &mut IncidentRecord,
    rule: AlertRule,
    cooldown: Duration,
    now: DateTime<Utc>,
    effects: &mut Effects,
) -> bool {
    if alerted(incident)
        || incident
            .alerted_at
            .is_some_and(|t| elapsed(t, now) < cooldown)
    {
        return false;
    }
    incident.alerted_at = Some(now);
    effects.alerts.push(Alert {
        state: AlertState::Raised,
        rule,
        endpoint_id: incident.endpoint_id.clone(),
        text: incident.detail.clone(),
        at: now,
    });
    effects.put.push(incident.clone());
    true
}

fn resolved_text(limits: &Limits, endpoint: &str, rule: AlertRule) -> String {
    let window = seconds(limits.window);
    match rule {
        AlertRule::FailureRate => format!(
            "endpoint {endpoint}: success rate back at or above {}% for {window} s",
            limits.failure_threshold.map_or_else(String::new, percent)
        ),
        AlertRule::SlowDelivery => format!(
            "endpoint {endpoint}: no delivery slower than {} s for {window} s",
            limits.slow_after.map_or_else(String::new, seconds)
        ),
        AlertRule::EndpointDisabled => {
            format!("endpoint {endpoint}: enabled again for {window} s")
        }
    }
}

/// `to - from`, zero when negative.
fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or_default()
}

/// `300`, or `1.5` for a fraction.
pub(crate) fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        duration.as_secs().to_string()
    } else {
        format!("{:.1}", duration.as_secs_f64())
    }
}

/// `95`, or `99.5` for a fraction.
fn percent(ratio: f64) -> String {
    let value = ratio * 100.0;
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const T0: i64 = 1_700_000_000;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(T0 + seconds, 0).unwrap()
    }

    fn limits() -> Limits {
        Limits {
            failure_threshold: Some(0.95),
            slow_after: Some(Duration::from_secs(30)),
            window: Duration::from_secs(300),
            min_samples: 10,
            cooldown: Duration::from_secs(900),
        }
    }

    fn outcome(n: u32, ok: bool, published: i64, done: i64) -> DeliveryOutcome {
        DeliveryOutcome::new(
            format!("dlv_{n}"),
            "ep_1",
            if ok {
                DeliveryState::Delivered
            } else {
                DeliveryState::Dead
            },
            at(published),
            at(done),
        )
    }

    fn raised(effects: &Effects) -> Vec<(AlertState, AlertRule)> {
        effects.alerts.iter().map(|a| (a.state, a.rule)).collect()
    }

    #[test]
    fn rate_needs_min_samples_then_alerts_once() {
        let mut rules = Rules::new(limits(), at(0), Vec::new());
        // 9 failures: below min_samples, nothing.
        for n in 0..9 {
            let effects = rules.outcome(&outcome(n, false, 0, 1), at(1));
            assert!(effects.alerts.is_empty());
        }
        let effects = rules.outcome(&outcome(9, false, 0, 1), at(1));
        assert_eq!(
            raised(&effects),
            [(AlertState::Raised, AlertRule::FailureRate)]
        );
        assert_eq!(
            effects.alerts[0].text,
            "endpoint ep_1: success rate 0.0% (0 of 10 deliveries delivered) over the last 300 s, below 95%"
        );
        assert_eq!(effects.put.len(), 1);
        // More failures: the same incident, no second alert.
        for n in 10..40 {
            assert!(
                rules
                    .outcome(&outcome(n, false, 1, 2), at(2))
                    .alerts
                    .is_empty()
            );
        }
        assert!(rules.evaluate(at(100)).alerts.is_empty());
    }

    #[test]
    fn resolves_after_a_whole_window_and_cooldown_holds_the_next_alert() {
        let mut rules = Rules::new(limits(), at(0), Vec::new());
        for n in 0..10 {
            rules.outcome(&outcome(n, false, 0, 10), at(10));
        }
        // Successes from t=20: the failures leave the window at t=310;
        // from then the rate holds, and it resolves a window later.
        for n in 10..30 {
            assert!(
                rules
                    .outcome(&outcome(n, true, 20, 20), at(20))
                    .alerts
                    .is_empty()
            );
        }
        assert!(
            rules.evaluate(at(310)).alerts.is_empty(),
            "still failing at 310"
        );
        assert!(rules.evaluate(at(311)).alerts.is_empty(), "held for 0 s");
        assert!(rules.evaluate(at(609)).alerts.is_empty(), "held for 299 s");
        let effects = rules.evaluate(at(610));
        assert_eq!(
            raised(&effects),
            [(AlertState::Resolved, AlertRule::FailureRate)]
        );
        assert_eq!(
            effects.alerts[0].text,
            "endpoint ep_1: success rate back at or above 95% for 300 s"
        );
        // Fails again at 700, within the cool-down of the alert at 10: no alert...
        for n in 30..40 {
            assert!(
                rules
                    .outcome(&outcome(n, false, 700, 700), at(700))
                    .alerts
                    .is_empty()
            );
        }
        assert!(rules.evaluate(at(909)).alerts.is_empty());
        // ...until the cool-down ends with the incident still open.
        for n in 40..50 {
            rules.outcome(&outcome(n, false, 905, 905), at(905));
        }
        let effects = rules.evaluate(at(910));
        assert_eq!(
            raised(&effects),
            [(AlertState::Raised, AlertRule::FailureRate)]
        );
    }

    #[test]
    fn an_incident_resolved_before_its_alert_stays_silent() {
        let mut limits = limits();
        limits.cooldown = Duration::from_secs(10_000);
        let mut rules = Rules::new(limits, at(0), Vec::new());
        for n in 0..10 {
            rules.outcome(&outcome(n, false, 0, 0), at(0));
        }
        rules.evaluate(at(700));
        for n in 10..20 {
            assert!(
                rules
                    .outcome(&outcome(n, false, 800, 800), at(800))
                    .alerts
                    .is_empty()
            );
        }
        assert!(
            rules.evaluate(at(1_500)).alerts.is_empty(),
            "not alerted, so no resolved"
        );
        assert!(rules.incidents().iter().all(|i| i.resolved_at.is_some()));
    }

    #[test]
    fn slow_deliveries_and_unattempted_ones() {
        let mut rules = Rules::new(limits(), at(0), Vec::new());
        assert!(
            rules
                .outcome(&outcome(1, true, 0, 30), at(30))
                .alerts
                .is_empty()
        );
        let effects = rules.outcome(&outcome(2, true, 0, 31), at(31));
        assert_eq!(
            raised(&effects),
            [(AlertState::Raised, AlertRule::SlowDelivery)]
        );
        assert_eq!(
            effects.alerts[0].text,
            "endpoint ep_1: delivery dlv_2 took 31 s from publish to delivered, over the 30 s threshold"
        );
        let mut dead = outcome(3, false, 0, 100);
        dead.dead_reason = Some(dead_reason::ENDPOINT_DISABLED.to_owned());
        assert_eq!(rules.outcome(&dead, at(100)), Effects::default());
        assert!(rules.evaluate(at(330)).alerts.is_empty());
        let effects = rules.evaluate(at(331));
        assert_eq!(
            raised(&effects),
            [(AlertState::Resolved, AlertRule::SlowDelivery)]
        );
    }

    #[test]
    fn disabled_endpoints_and_restarts() {
        let mut rules = Rules::new(limits(), at(0), Vec::new());
        let effects = rules.disabled("ep_2", at(5));
        assert_eq!(
            raised(&effects),
            [(AlertState::Raised, AlertRule::EndpointDisabled)]
        );
        assert_eq!(rules.disabled_endpoints(), ["ep_2"]);
        let kept = rules.incidents();
        // A restart at 100: the open incident is neither repeated nor forgotten.
        let mut rules = Rules::new(limits(), at(100), kept);
        assert!(rules.disabled("ep_2", at(101)).alerts.is_empty());
        assert!(
            rules.evaluate(at(400)).alerts.is_empty(),
            "a window from the last violation"
        );
        let effects = rules.evaluate(at(401));
        assert_eq!(
            raised(&effects),
            [(AlertState::Resolved, AlertRule::EndpointDisabled)]
        );
        // Forgotten once the cool-down of its alert is over.
        assert!(rules.evaluate(at(904)).delete.is_empty());
        assert_eq!(
            rules.evaluate(at(905)).delete,
            [("ep_2".to_owned(), "endpoint_disabled".to_owned())]
        );
        assert!(rules.incidents().is_empty());
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(seconds(Duration::from_secs(300)), "300");
        assert_eq!(seconds(Duration::from_millis(1_500)), "1.5");
        assert_eq!(percent(0.95), "95");
        assert_eq!(percent(0.995), "99.5");
        for rule in [
            AlertRule::FailureRate,
            AlertRule::SlowDelivery,
            AlertRule::EndpointDisabled,
        ] {
            assert_eq!(AlertRule::parse(rule.as_str()), Some(rule));
        }
    }
}
