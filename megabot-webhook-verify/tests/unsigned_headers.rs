//! `X-MegaBot-Event`, `-Delivery` and `-Timestamp` are unsigned: the verifier takes the
//! values from the body and logs a warning when the headers disagree.

mod common;

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use common::{at, body};
use megabot_webhook_verify::sign::megabot_signature;
use megabot_webhook_verify::{Secret, Verifier};
use tracing::field::{Field, Visit};
use tracing::span;

/// A minimal subscriber that records every event as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = Line(format!("{} ", event.metadata().level()));
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

#[test]
fn disagreeing_headers_are_logged_and_ignored() {
    let secret = Secret::new("your_webhook_secret").unwrap();
    let verifier = Verifier::builder()
        .megabot_secret(secret.clone())
        .build()
        .unwrap();
    let body = body("evt_real", "1640995200");
    let signature = megabot_signature(&secret, &body);

    let capture = Capture::default();
    let agreeing = [
        ("X-MegaBot-Signature", signature.as_str()),
        ("X-MegaBot-Event", "error_occurred"),
        ("X-MegaBot-Delivery", "evt_real"),
        ("X-MegaBot-Timestamp", "1640995200"),
    ];
    let lying = [
        ("X-MegaBot-Signature", signature.as_str()),
        ("X-MegaBot-Event", "chat_message_received"),
        ("X-MegaBot-Delivery", "evt_forged"),
        ("X-MegaBot-Timestamp", "1"),
    ];
    let (quiet, loud) = tracing::subscriber::with_default(capture.clone(), || {
        let quiet = verifier
            .verify_at(&agreeing, &body, at(1_640_995_200))
            .unwrap();
        let agreeing_lines = capture.0.lock().unwrap().len();
        let loud = verifier
            .verify_at(&lying, &body, at(1_640_995_200))
            .unwrap();
        assert_eq!(agreeing_lines, 0, "agreeing headers logged something");
        (quiet, loud)
    });
    assert_eq!(quiet, loud, "unsigned headers changed the result");
    assert_eq!(loud.delivery.delivery_id, "evt_real");
    assert_eq!(loud.event.name(), "error_occurred");
    assert_eq!(loud.delivery.signed_at, at(1_640_995_200));

    let lines = capture.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for (line, header) in lines.iter().zip([
        "X-MegaBot-Event",
        "X-MegaBot-Delivery",
        "X-MegaBot-Timestamp",
    ]) {
        assert!(line.starts_with("WARN "), "{line}");
        assert!(line.contains(header), "{line}");
        assert!(
            !line.contains("your_webhook_secret") && !line.contains(&signature[7..]),
            "{line}"
        );
    }
}
