//! The dashboard's HTML, written with `maud` (every interpolated value is
//! escaped), and its chart as inline SVG. No script, no inline style: the
//! stylesheet is served at [`STYLESHEET_PATH`](super::STYLESHEET_PATH).

use std::time::Duration;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::session::Flash;
use super::summary::{Counts, EndpointRow, FailureRow, Health, Minute, Summary};
use super::{LOGIN_PATH, LOGOUT_PATH, REDELIVER_PATH, STYLESHEET_PATH};

/// The chart's size in SVG user units (it scales to the page's width).
const CHART_WIDTH: f64 = 720.0;
const CHART_HEIGHT: f64 = 220.0;
const CHART_LEFT: f64 = 44.0;
const CHART_RIGHT: f64 = 24.0;
const CHART_TOP: f64 = 10.0;
const CHART_BOTTOM: f64 = 26.0;

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) }
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body { (body) }
        }
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn short_time(at: DateTime<Utc>) -> String {
    at.format("%H:%M").to_string()
}

fn flash(message: Option<&Flash>) -> Markup {
    html! {
        @if let Some(message) = message {
            @if message.error {
                p.flash.error role="alert" { (message.text) }
            } @else {
                p.flash.notice role="status" { (message.text) }
            }
        }
    }
}

/// The login form; `error` after a wrong token.
pub(super) fn login(error: Option<&str>) -> Markup {
    layout(
        "Log in · MegaBot webhooks",
        html! {
            main.login {
                h1 { "MegaBot webhooks" }
                p { "The dashboard needs the admin token (" code { "MEGABOT_ADMIN_TOKEN" } ")." }
                @if let Some(error) = error {
                    p.flash.error role="alert" { (error) }
                }
                form method="post" action=(LOGIN_PATH) {
                    label for="token" { "Admin token" }
                    input #token type="password" name="token" autocomplete="current-password"
                        required autofocus;
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

/// A short page for a refused or failed request.
pub(super) fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        html! {
            main.login {
                h1 { (title) }
                p { (text) }
                p { a href="/" { "Back to the dashboard" } }
            }
        },
    )
}

fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(rate) => format!("{:.1} %", rate * 100.0),
        None => "—".to_owned(),
    }
}

fn latency(duration: Option<Duration>) -> String {
    match duration {
        None => "—".to_owned(),
        Some(d) if d < Duration::from_secs(1) => format!("{} ms", d.as_millis()),
        Some(d) if d < Duration::from_secs(120) => format!("{:.1} s", d.as_secs_f64()),
        Some(d) => format!("{} min", d.as_secs() / 60),
    }
}

fn health(health: Health) -> Markup {
    html! {
        @match health {
            Health::Healthy => span.badge.ok { "healthy" },
            Health::Failing(since) => span.badge.warn title=(format!("failing every attempt since {}", time(since))) {
                "failing since " (short_time(since))
            },
            Health::Disabled(since) => span.badge.bad title=(since.map(|s| format!("disabled at {}", time(s))).unwrap_or_default()) {
                "disabled"
            },
        }
    }
}

fn endpoint_row(row: &EndpointRow) -> Markup {
    let rate = row.counts.success_rate();
    html! {
        tr data-endpoint-id=(row.id) data-delivered=(row.counts.delivered)
            data-dead=(row.counts.dead) data-pending=(row.counts.pending)
            data-disabled=(matches!(row.health, Health::Disabled(_))) {
            td {
                code.id { (row.id) }
                br;
                span.url { (row.url) }
            }
            td { (health(row.health)) }
            td.num {
                (percent(rate))
                @if let Some(rate) = rate {
                    br;
                    meter min="0" max="1" low="0.9" high="0.99" optimum="1" value=(format!("{rate:.3}")) {}
                }
            }
            td.num { (latency(row.p95)) }
            td.num { (row.counts.delivered) }
            td.num { (row.counts.dead) }
            td.num { (row.counts.pending) }
        }
    }
}

fn failure_row(row: &FailureRow, csrf: &str) -> Markup {
    html! {
        tr data-delivery-id=(row.id) {
            td { (short_time(row.at)) }
            td {
                code.id { (row.id) }
                br;
                span.muted { "to " code { (row.endpoint_id) } }
            }
            td {
                (row.event)
                br;
                code.muted { (row.event_id) }
            }
            td {
                (row.reason)
                @if let Some(status) = row.last_status { " · HTTP " (status) }
                " · " (row.attempts) @if row.attempts == 1 { " attempt" } @else { " attempts" }
                @if let Some(error) = &row.error {
                    br;
                    span.muted { (error) }
                }
            }
            td {
                form method="post" action=(REDELIVER_PATH) data-delivery-id=(row.id) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="delivery" value=(row.id);
                    button type="submit" { "Redeliver" }
                }
            }
        }
    }
}

/// A "nice" upper bound of the chart's scale: 1, 2 or 5 times a power of ten.
fn nice_ceiling(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let candidate = step.saturating_mul(factor);
            if candidate >= max || candidate == u64::MAX {
                return candidate.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

#[allow(clippy::cast_precision_loss)]
fn as_f64(n: u64) -> f64 {
    n as f64
}

/// Deliveries per minute by outcome: stacked bars, delivered at the bottom.
pub(super) fn chart(minutes: &[Minute]) -> Markup {
    let top = nice_ceiling(minutes.iter().map(|m| m.counts.total()).max().unwrap_or(0));
    let plot_width = CHART_WIDTH - CHART_LEFT - CHART_RIGHT;
    let plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM;
    let base = CHART_TOP + plot_height;
    let slot = plot_width / as_f64(minutes.len().max(1) as u64);
    let bar = (slot * 0.8).max(1.0);
    let scale = |n: u64| plot_height * as_f64(n) / as_f64(top);
    let label_every = match minutes.len() {
        0..=5 => 1,
        6..=15 => 5,
        _ => 10,
    };
    let total: u64 = minutes.iter().map(|m| m.counts.total()).sum();
    // Gridlines at 0, the middle (when a whole number) and the top.
    let mut gridlines = vec![(0.0, 0)];
    if top.is_multiple_of(2) {
        gridlines.push((0.5, top / 2));
    }
    gridlines.push((1.0, top));
    let summary = format!(
        "Deliveries per minute by outcome over {} minutes: {total} in all",
        minutes.len()
    );
    html! {
        svg #chart viewBox=(format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}")) role="img"
            aria-label=(summary) preserveAspectRatio="xMidYMid meet" {
            title { (summary) }
            @for (fraction, label) in &gridlines {
                @let y = base - plot_height * fraction;
                line.grid x1=(CHART_LEFT) x2=(CHART_WIDTH - CHART_RIGHT)
                    y1=(format!("{y:.1}")) y2=(format!("{y:.1}")) {}
                text.axis x=(CHART_LEFT - 6.0) y=(format!("{:.1}", y + 4.0)) text-anchor="end" { (label) }
            }
            @for (index, minute) in minutes.iter().enumerate() {
                @let x = CHART_LEFT + slot * as_f64(index as u64) + (slot - bar) / 2.0;
                @let counts = minute.counts;
                g.minute data-minute=(short_time(minute.start)) data-delivered=(counts.delivered)
                    data-dead=(counts.dead) data-pending=(counts.pending) {
                    title {
                        (short_time(minute.start)) " UTC: " (counts.delivered) " delivered, "
                        (counts.dead) " dead, " (counts.pending) " pending"
                    }
                    // A transparent full-height slot, so that the title shows on hover anywhere.
                    rect.hover x=(format!("{:.1}", CHART_LEFT + slot * as_f64(index as u64))) y=(CHART_TOP)
                        width=(format!("{slot:.1}")) height=(format!("{plot_height:.1}")) {}
                    @for (class, count, below) in stack(counts) {
                        @if count > 0 {
                            rect class=(class) x=(format!("{x:.1}"))
                                y=(format!("{:.1}", base - scale(below + count)))
                                width=(format!("{bar:.1}"))
                                height=(format!("{:.1}", scale(count))) {}
                        }
                    }
                }
                @if (minutes.len() - 1 - index).is_multiple_of(label_every) {
                    text.axis x=(format!("{:.1}", x + bar / 2.0)) y=(format!("{:.1}", CHART_HEIGHT - 8.0))
                        text-anchor="middle" { (short_time(minute.start)) }
                }
            }
        }
    }
}

/// The segments of a bar: class, count, and the count below it.
fn stack(counts: Counts) -> [(&'static str, u64, u64); 3] {
    [
        ("delivered", counts.delivered, 0),
        ("dead", counts.dead, counts.delivered),
        ("pending", counts.pending, counts.delivered + counts.dead),
    ]
}

/// The dashboard.
pub(super) fn dashboard(summary: &Summary, csrf: &str, message: Option<&Flash>) -> Markup {
    let window = if summary.window_minutes == 1 {
        "the last minute".to_owned()
    } else {
        format!("the last {} minutes", summary.window_minutes)
    };
    layout(
        "MegaBot webhooks",
        html! {
            header {
                h1 { "MegaBot webhooks" }
                form.logout method="post" action=(LOGOUT_PATH) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Log out" }
                }
            }
            main {
                (flash(message))
                p.totals #totals {
                    "Kept: " strong { (summary.totals.pending) } " pending · "
                    strong { (summary.totals.delivered) } " delivered · "
                    strong { (summary.totals.dead) } " dead · "
                    strong { (summary.in_flight) } " in flight"
                }
                section #endpoints {
                    h2 { "Endpoints" }
                    p.note {
                        "Deliveries published in " (window) " (by their state now). "
                        "p95: publish to delivered, retries included."
                        @if summary.truncated {
                            " Only the first " (super::summary::MAX_ROWS) " deliveries of the window were read."
                        }
                    }
                    @if summary.endpoints.is_empty() {
                        p.empty { "No endpoints: register one with " code { "POST /api/webhooks" } "." }
                    } @else {
                        div.scroll {
                            table {
                                thead {
                                    tr {
                                        th { "Endpoint" }
                                        th { "Health" }
                                        th.num { "Success" }
                                        th.num { "p95" }
                                        th.num { "Delivered" }
                                        th.num { "Dead" }
                                        th.num { "Pending" }
                                    }
                                }
                                tbody {
                                    @for row in &summary.endpoints { (endpoint_row(row)) }
                                }
                            }
                        }
                        @if summary.more_endpoints > 0 {
                            p.note { (summary.more_endpoints) " more endpoints not shown." }
                        }
                    }
                }
                section #activity {
                    h2 { "Deliveries per minute" }
                    p.note {
                        (summary.window.delivered) " delivered, " (summary.window.dead) " dead, "
                        (summary.window.pending) " pending in " (window) " (times in UTC)."
                    }
                    div.chart { (chart(&summary.minutes)) }
                    ul.legend {
                        li { span.swatch.delivered {} "delivered" }
                        li { span.swatch.dead {} "dead" }
                        li { span.swatch.pending {} "pending" }
                    }
                }
                section #failures {
                    h2 { "Recent failures" }
                    @if summary.failures.is_empty() {
                        p.empty { "No dead deliveries in " (window) "." }
                    } @else {
                        div.scroll {
                            table {
                                thead {
                                    tr {
                                        th { "Died" }
                                        th { "Delivery" }
                                        th { "Event" }
                                        th { "Why" }
                                        th { span.visually-hidden { "Action" } }
                                    }
                                }
                                tbody {
                                    @for row in &summary.failures { (failure_row(row, csrf)) }
                                }
                            }
                        }
                        @if summary.more_failures > 0 {
                            p.note {
                                (summary.more_failures) " older dead deliveries of the window are not listed: "
                                code { "GET /api/deliveries?status=dead" } "."
                            }
                        }
                    }
                }
            }
            footer {
                p.note { "Read at " (time(summary.now)) "; reload to refresh." }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_nice() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(200), 200);
        assert_eq!(nice_ceiling(201), 500);
        assert_eq!(nice_ceiling(u64::MAX), u64::MAX);
    }

    #[test]
    fn latencies_read_well() {
        assert_eq!(latency(None), "—");
        assert_eq!(latency(Some(Duration::from_millis(42))), "42 ms");
        assert_eq!(latency(Some(Duration::from_millis(1_500))), "1.5 s");
        assert_eq!(latency(Some(Duration::from_secs(600))), "10 min");
        assert_eq!(percent(Some(0.5)), "50.0 %");
        assert_eq!(percent(None), "—");
    }

    #[test]
    fn the_chart_stacks_outcomes() {
        let start = DateTime::parse_from_rfc3339("2026-11-30T09:20:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let minutes = [
            Minute {
                start,
                counts: Counts {
                    delivered: 3,
                    dead: 1,
                    pending: 0,
                },
            },
            Minute {
                start: start + chrono::TimeDelta::minutes(1),
                counts: Counts::default(),
            },
        ];
        let svg = chart(&minutes).into_string();
        assert!(svg.starts_with("<svg id=\"chart\""), "{svg}");
        assert_eq!(svg.matches("<rect class=\"delivered\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("<rect class=\"dead\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("<rect class=\"pending\"").count(), 0, "{svg}");
        assert!(
            svg.contains("09:20 UTC: 3 delivered, 1 dead, 0 pending"),
            "{svg}"
        );
        assert!(!svg.contains("style="), "no inline style: {svg}");
        // Every SVG element is closed explicitly (HTML parses `<rect>` as an open element).
        assert_eq!(svg.matches("<rect").count(), svg.matches("</rect>").count());
    }
}
