//! One delivery to one endpoint: signed attempts with retries (design 6).

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::RETRY_AFTER;

use super::clock::{Clock, RandomSource, Sleeper};
use super::dead_letter::DeadLetter;
use super::delivery::Delivery;
use super::destination::{DestinationPolicy, Refusal};
use super::endpoint::CompiledEndpoint;
use super::registry::EndpointId;
use super::report::{AttemptReport, EndpointReport, Outcome};
use super::retry::{self, Verdict};
use super::signed_headers::RequestSigner;

/// How the error of an attempt that timed out starts (the metrics tell
/// timeouts from other failures by it).
pub(crate) const TIMED_OUT: &str = "timed out after";

/// How much of an endpoint's answer a report keeps.
const RESPONSE_SNIPPET: usize = 1024;

/// What deliveries run with.
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    pub(crate) client: reqwest::Client,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    pub(crate) random: Arc<dyn RandomSource>,
    pub(crate) policy: Arc<DestinationPolicy>,
}

/// Why an attempt got no answer.
enum Failure {
    /// The destination guard refused the address: nothing was sent.
    Refused(Refusal),
    /// The request failed (connection, timeout...).
    Request(reqwest::Error),
}

/// The guard's refusal behind a failed request (the client's resolver
/// refused every address of the name), if that is why it failed.
fn find_refusal(error: &reqwest::Error) -> Option<&Refusal> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        source = cause.source();
    }
    None
}

/// Delivers `delivery` to `endpoint` with retries. Never fails: the report
/// says what happened, and a failed delivery comes with its dead letter.
pub(crate) async fn deliver(
    runtime: &Runtime,
    endpoint: &CompiledEndpoint,
    id: Option<EndpointId>,
    delivery: &Delivery,
) -> (EndpointReport, Option<DeadLetter>) {
    let started = Instant::now();
    let signer = RequestSigner {
        delivery,
        configured: &endpoint.headers,
        megabot: &endpoint.megabot_secrets,
        standard: &endpoint.standard_secrets,
        standard_signing_key: endpoint.standard_signing_key.as_ref(),
    };
    let policy = &endpoint.policy;
    let max_delay = retry::seconds(policy.max_delay);
    let max_attempts = policy.max_attempts.max(1);
    let mut attempts = Vec::new();
    let mut outcome = Outcome::Exhausted;
    for attempt in 1..=max_attempts {
        let (mut report, verdict) =
            send_attempt(runtime, endpoint, &signer, delivery, attempt, max_delay).await;
        let last = attempt == max_attempts;
        match verdict {
            Verdict::Delivered => outcome = Outcome::Delivered,
            Verdict::Refused => outcome = Outcome::Refused,
            Verdict::Final => outcome = Outcome::Rejected,
            Verdict::Retry if last => outcome = Outcome::Exhausted,
            Verdict::Retry => {
                let wait = report.retry_after.unwrap_or_else(|| {
                    let delay = retry::backoff_delay(policy, attempt);
                    if policy.jitter {
                        retry::with_jitter(delay, runtime.random.next_f64())
                    } else {
                        delay
                    }
                });
                report.wait_after = Some(wait);
                tracing::debug!(
                    event = delivery.event(),
                    id = delivery.id(),
                    attempt,
                    status = report.status,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "webhook attempt failed, retrying"
                );
                attempts.push(report);
                runtime.sleeper.sleep(wait).await;
                continue;
            }
        }
        attempts.push(report);
        break;
    }
    let last = attempts.last();
    let final_status = last.and_then(|a| a.status);
    let error = match outcome {
        Outcome::Delivered => None,
        _ => last.and_then(|a| a.error.clone()),
    };
    let report = EndpointReport {
        endpoint: id,
        url: endpoint.config.url.clone(),
        event: delivery.event().to_owned(),
        delivery_id: delivery.id().to_owned(),
        outcome,
        final_status,
        error: error.clone(),
        duration: started.elapsed(),
        dead_lettered: false,
        dead_letter_error: None,
        attempts,
    };
    let letter = (outcome != Outcome::Delivered).then(|| {
        tracing::warn!(
            event = delivery.event(),
            id = delivery.id(),
            host = endpoint.url.host_str().unwrap_or(""),
            attempts = report.attempts.len(),
            status = final_status,
            "webhook delivery failed"
        );
        DeadLetter::new(
            endpoint,
            delivery,
            runtime.clock.now().timestamp(),
            u32::try_from(report.attempts.len()).unwrap_or(u32::MAX),
            final_status,
            error.unwrap_or_default(),
        )
    });
    (report, letter)
}

/// One signed attempt of `delivery` to `endpoint`, numbered `attempt`:
/// the request, its answer's status, `Retry-After` (capped at `max_delay`)
/// and body snippet, and what the answer means. Shared by [`deliver`] and
/// the durable dispatcher, so both follow the same rules.
pub(crate) async fn send_attempt(
    runtime: &Runtime,
    endpoint: &CompiledEndpoint,
    signer: &RequestSigner<'_>,
    delivery: &Delivery,
    attempt: u32,
    max_delay: Duration,
) -> (AttemptReport, Verdict) {
    let attempt_started = Instant::now();
    let mut report = AttemptReport {
        attempt,
        status: None,
        error: None,
        duration: Duration::ZERO,
        retry_after: None,
        wait_after: None,
        response_body: None,
    };
    // An IP literal is checked here: the client resolves (and so guards) names only.
    let result = match runtime.policy.check_url(&endpoint.url) {
        Err(refusal) => Err(Failure::Refused(refusal)),
        Ok(()) => {
            let headers = signer.headers(runtime.clock.now().timestamp());
            runtime
                .client
                .post(endpoint.url.clone())
                .headers(headers)
                .timeout(endpoint.timeout)
                .body(delivery.body().to_vec())
                .send()
                .await
                .map_err(|error| match find_refusal(&error) {
                    Some(refusal) => Failure::Refused(refusal.clone()),
                    None => Failure::Request(error),
                })
        }
    };
    let verdict = match result {
        Ok(response) => {
            let status = response.status().as_u16();
            report.status = Some(status);
            report.retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry::parse_retry_after(v, runtime.clock.now(), max_delay));
            report.response_body = read_snippet(response).await;
            let verdict = retry::classify_status(status);
            if verdict != Verdict::Delivered {
                report.error = Some(format!("endpoint answered {status}"));
            }
            verdict
        }
        Err(Failure::Refused(refusal)) => {
            report.error = Some(refusal.to_string());
            Verdict::Refused
        }
        Err(Failure::Request(error)) => {
            report.error = Some(describe(error, endpoint.timeout));
            Verdict::Retry
        }
    };
    report.duration = attempt_started.elapsed();
    (report, verdict)
}

/// The start of the answer's body; the rest is dropped.
async fn read_snippet(mut response: reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < RESPONSE_SNIPPET {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    if bytes.is_empty() {
        return None;
    }
    bytes.truncate(RESPONSE_SNIPPET);
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// A one-line description of a failed request, without its URL (which may
/// hold a token).
fn describe(error: reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("{TIMED_OUT} {} ms", timeout.as_millis());
    }
    let error = error.without_url();
    let mut text = if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !cause_text.is_empty() && !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
