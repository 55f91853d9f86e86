//! Every guide example parses into its typed variant and is written back
//! byte-identical to the guide's compact form.

use std::path::PathBuf;

use megabot_webhook_types::{Event, EventName, EventPayload};
use serde_json::Value;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/events");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    assert_eq!(out.len(), 10, "the guide has ten example events");
    out
}

/// The guide's compact form, computed without our writer: the fixtures are ASCII
/// and hold no floats that serde_json and Python write differently.
fn compact(pretty: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::from_slice::<Value>(pretty).unwrap()).unwrap()
}

#[test]
fn every_fixture_parses_into_its_typed_variant() {
    for (name, bytes) in fixtures() {
        let event = Event::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(event.name(), name);
        let known = EventName::from_name(&name).unwrap_or_else(|| panic!("{name} is not known"));
        assert_eq!(event.payload.known_name(), Some(known), "{name}");
        assert!(
            !matches!(
                event.payload,
                EventPayload::Unknown { .. } | EventPayload::Malformed { .. }
            ),
            "{name} parsed as {:?}",
            event.payload
        );
        let extras = typed_extras(&event);
        assert!(
            extras.is_empty(),
            "{name}: fields {extras:?} of the guide are not typed fields"
        );
    }
}

fn typed_extras(event: &Event) -> Vec<(String, Value)> {
    let extra = match &event.payload {
        EventPayload::ChatMessageReceived(d) => &d.extra,
        EventPayload::ChatMessageSent(d) => &d.extra,
        EventPayload::ToolExecutionStarted(d) => &d.extra,
        EventPayload::ToolExecutionCompleted(d) => &d.extra,
        EventPayload::ToolExecutionFailed(d) => &d.extra,
        EventPayload::SystemStatusChanged(d) => &d.extra,
        EventPayload::ErrorOccurred(d) => &d.extra,
        EventPayload::MemoryLessonLearned(d) => &d.extra,
        EventPayload::LokiExecutionStarted(d) => &d.extra,
        EventPayload::LokiExecutionCompleted(d) => &d.extra,
        EventPayload::DeploymentCompleted(d) => &d.extra,
        _ => return Vec::new(),
    };
    extra.clone().into_iter().collect()
}

#[test]
fn every_fixture_round_trips_byte_identical() {
    for (name, bytes) in fixtures() {
        let event = Event::from_slice(&bytes).unwrap();
        let written = event.to_guide_json();
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&compact(&bytes)),
            "{name}"
        );
        // and the compact form parses to the same event again
        assert_eq!(Event::from_slice(&written).unwrap(), event, "{name}");
    }
}

#[test]
fn typed_fields_hold_the_guide_values() {
    let bytes = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/events/tool_execution_failed.json"),
    )
    .unwrap();
    let event = Event::from_slice(&bytes).unwrap();
    let EventPayload::ToolExecutionFailed(data) = &event.payload else {
        panic!("{:?}", event.payload)
    };
    assert_eq!(data.tool_name, "deploy_app");
    let error = data.error.as_ref().unwrap();
    assert_eq!(error.error_type.as_deref(), Some("DeploymentError"));
    assert_eq!(
        error.message.as_deref(),
        Some("Failed to connect to database")
    );
    assert_eq!(event.unix_timestamp(), 1640995210);
}
