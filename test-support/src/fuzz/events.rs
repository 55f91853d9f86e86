//! The event targets: parsing a body, and the guide-compatible JSON writer.

use megabot_webhook_types::{Event, EventPayload, guide_json as writer};
use serde_json::Value;

/// Event parsing: the input is a body.
///
/// Checks that parsing never panics and that a parsed event round-trips: its guide
/// JSON is ASCII, parses back to the same event, equals [`Event::to_value`] as a JSON
/// value, and is a fixed point of parse-then-write.
pub fn event_parse(data: &[u8]) {
    let Ok(event) = Event::from_slice(data) else {
        return;
    };
    let written = event.to_guide_json();
    assert!(written.is_ascii());
    let again = Event::from_slice(&written).expect("written events parse");
    match (&event.payload, &again.payload) {
        // Data that did not fit may fit once rewritten (a duplicate key collapsed):
        // the raw data must survive all the same.
        (EventPayload::Malformed { data, .. }, payload) => {
            assert_eq!(&payload.data_value(), data);
            assert_eq!((&again.id, again.timestamp), (&event.id, event.timestamp));
        }
        _ => assert_eq!(again, event),
    }
    let value: Value = serde_json::from_slice(&written).expect("valid JSON");
    assert_eq!(value, event.to_value());
    // From the first rewrite on, parse-then-write changes nothing (the first may
    // reorder data fields into the guide's order, or collapse duplicate keys).
    let rewritten = again.to_guide_json();
    let third = Event::from_slice(&rewritten).expect("rewritten events parse");
    assert_eq!(third, again);
    assert_eq!(third.to_guide_json(), rewritten, "not a fixed point");
}

/// The guide-compatible JSON writer: the input is any JSON document.
///
/// Checks that the writer's output is ASCII, parses back to the same value, and is a
/// fixed point (writing the parsed output again gives the same bytes).
pub fn guide_json(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let written = writer::to_vec(&value).expect("a JSON value always serialises");
    assert!(written.is_ascii());
    let parsed: Value = serde_json::from_slice(&written).unwrap_or_else(|error| {
        panic!(
            "writer output does not parse: {error}: {}",
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(parsed, value, "{}", String::from_utf8_lossy(&written));
    let rewritten = writer::to_vec(&parsed).expect("serialises");
    assert_eq!(rewritten, written, "not a fixed point");
}
