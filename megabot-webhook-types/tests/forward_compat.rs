//! A newer MegaBot never makes a verified event fail to parse.

use megabot_webhook_types::{
    Event, EventName, EventPayload, ExecutionStatus, MessageType, Platform, Severity, SystemStatus,
};
use serde_json::json;

fn parse(value: serde_json::Value) -> Event {
    Event::from_slice(&serde_json::to_vec(&value).unwrap()).expect("must parse")
}

#[test]
fn an_added_field_parses_and_is_kept_in_order() {
    let event = parse(
        json!({"event":"chat_message_received","id":"e","timestamp":1,
        "data":{"message_id":"m","reactions":["+1"],"platform":"slack"}}),
    );
    let EventPayload::ChatMessageReceived(data) = &event.payload else {
        panic!()
    };
    assert_eq!(data.extra.get("reactions"), Some(&json!(["+1"])));
    assert_eq!(data.platform, Some(Platform::Slack));
    // the added field survives a re-serialise
    assert_eq!(event.to_value()["data"]["reactions"], json!(["+1"]));
}

#[test]
fn added_envelope_fields_are_ignored() {
    let event = parse(
        json!({"event":"chat_message_sent","id":"e","timestamp":1,"version":2,"data":{"message_id":"m"}}),
    );
    assert!(matches!(event.payload, EventPayload::ChatMessageSent(_)));
}

#[test]
fn new_enum_values_parse() {
    let event = parse(
        json!({"event":"system_status_changed","id":"e","timestamp":1,
        "data":{"old_status":"healthy","new_status":"melting","severity":"emergency"}}),
    );
    let EventPayload::SystemStatusChanged(data) = &event.payload else {
        panic!()
    };
    assert_eq!(data.old_status, Some(SystemStatus::Healthy));
    assert_eq!(data.new_status, Some(SystemStatus::Other("melting".into())));
    assert_eq!(data.severity, Some(Severity::Unknown("emergency".into())));

    let event = parse(json!({"event":"chat_message_sent","id":"e","timestamp":1,
        "data":{"message_id":"m","platform":"matrix","message_type":"poll"}}));
    let EventPayload::ChatMessageSent(data) = &event.payload else {
        panic!()
    };
    assert_eq!(data.platform, Some(Platform::Other("matrix".into())));
    assert_eq!(data.message_type, Some(MessageType::Other("poll".into())));

    let event = parse(
        json!({"event":"loki_execution_completed","id":"e","timestamp":1,
        "data":{"execution_id":"x","status":"partially_done"}}),
    );
    let EventPayload::LokiExecutionCompleted(data) = &event.payload else {
        panic!()
    };
    assert_eq!(
        data.status,
        Some(ExecutionStatus::Other("partially_done".into()))
    );
}

#[test]
fn a_new_event_name_arrives_as_unknown_with_its_data() {
    let event =
        parse(json!({"event":"plugin_installed","id":"e","timestamp":1,"data":{"plugin":"x"}}));
    assert_eq!(event.name(), "plugin_installed");
    assert_eq!(
        event.payload,
        EventPayload::Unknown {
            event: "plugin_installed".into(),
            data: json!({"plugin":"x"})
        }
    );
    assert_eq!(event.to_value()["data"], json!({"plugin":"x"}));
}

#[test]
fn data_that_no_longer_fits_arrives_as_malformed_with_the_raw_json_and_the_reason() {
    let data = json!({"execution_id":"x","tool_name":"t","result":{},"output":42});
    let event =
        parse(json!({"event":"tool_execution_completed","id":"e","timestamp":1,"data":data}));
    let EventPayload::Malformed {
        event: name,
        data: raw,
        error,
    } = &event.payload
    else {
        panic!("{:?}", event.payload)
    };
    assert_eq!(*name, EventName::ToolExecutionCompleted);
    assert_eq!(raw, &data);
    assert!(error.contains("invalid type"), "{error}");
    assert_eq!(event.name(), "tool_execution_completed");
    // the raw data is written back unchanged
    assert_eq!(event.to_value()["data"], data);

    let missing =
        parse(json!({"event":"error_occurred","id":"e","timestamp":1,"data":{"message":"no id"}}));
    let EventPayload::Malformed { error, .. } = &missing.payload else {
        panic!()
    };
    assert!(error.contains("missing field `error_id`"), "{error}");
}

#[test]
fn a_body_that_is_not_an_envelope_is_an_error() {
    for body in [
        &b"[]"[..],
        b"{}",
        b"not json",
        b"{\"event\":1,\"id\":\"e\",\"timestamp\":1}",
        b"",
    ] {
        let err = Event::from_slice(body).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid event envelope"),
            "{err}"
        );
    }
}
