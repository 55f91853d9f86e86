//! The JSON Schema (2020-12) of the event envelope and of every event's `data`, generated
//! from this crate's types with `schemars` (feature `schema`, docs/design.md 9.10).
//!
//! The schema describes what arrives typed: a document validates exactly when
//! [`Event::from_slice`](crate::Event::from_slice) accepts it and its payload is not
//! [`EventPayload::Malformed`](crate::EventPayload::Malformed). An event name this SDK
//! does not know validates on the envelope alone; a known one validates its `data`
//! against its struct (required fields required, unknown fields allowed, the open enums
//! as strings with their known values listed). The `data` structs' schemas are derived;
//! the envelope (a hand-written parser) and the open enums are written here.
//!
//! JSON Schema sees the JSON data model, not the text, so a few lexical forms are outside
//! this equivalence: duplicate keys (refused by the parser), integers written with a
//! fraction or an exponent (`1.0`, `1e3`: the parser wants an integer literal), numbers
//! beyond the range of `f64`, unpaired surrogate escapes, and data nested deeper than
//! the parser's limit of 128 levels.
//!
//! ```
//! let schema = megabot_webhook_types::schema::json_schema();
//! assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
//! assert!(schema["$defs"]["ToolExecutionFailedEvent"].is_object());
//! ```

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::EventName;
use crate::data::{
    ChatMessageReceived, ChatMessageSent, DeploymentCompleted, ErrorOccurred,
    LokiExecutionCompleted, LokiExecutionStarted, MemoryLessonLearned, SystemStatusChanged,
    ToolExecutionCompleted, ToolExecutionFailed, ToolExecutionStarted,
};

/// The JSON Schema dialect of every schema here.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The definition name of the envelope every event shares.
pub const ENVELOPE: &str = "EventEnvelope";

/// The definition name of an event this SDK does not know.
pub const UNKNOWN_EVENT: &str = "UnknownEvent";

/// The definition name of the envelope of the event `name`: its `data` struct's name
/// followed by `Event` (`ToolExecutionFailedEvent`).
pub fn event_definition(name: EventName) -> String {
    format!("{}Event", data_definition(name))
}

/// The definition name of the `data` of the event `name` (`ToolExecutionFailed`).
pub fn data_definition(name: EventName) -> Cow<'static, str> {
    match name {
        EventName::ChatMessageReceived => ChatMessageReceived::schema_name(),
        EventName::ChatMessageSent => ChatMessageSent::schema_name(),
        EventName::ToolExecutionStarted => ToolExecutionStarted::schema_name(),
        EventName::ToolExecutionCompleted => ToolExecutionCompleted::schema_name(),
        EventName::ToolExecutionFailed => ToolExecutionFailed::schema_name(),
        EventName::SystemStatusChanged => SystemStatusChanged::schema_name(),
        EventName::ErrorOccurred => ErrorOccurred::schema_name(),
        EventName::MemoryLessonLearned => MemoryLessonLearned::schema_name(),
        EventName::LokiExecutionStarted => LokiExecutionStarted::schema_name(),
        EventName::LokiExecutionCompleted => LokiExecutionCompleted::schema_name(),
        EventName::DeploymentCompleted => DeploymentCompleted::schema_name(),
    }
}

/// A reference to the `data` schema of `name`, adding it (and what it uses) to the
/// generator's definitions.
fn data_ref(generator: &mut SchemaGenerator, name: EventName) -> Schema {
    match name {
        EventName::ChatMessageReceived => generator.subschema_for::<ChatMessageReceived>(),
        EventName::ChatMessageSent => generator.subschema_for::<ChatMessageSent>(),
        EventName::ToolExecutionStarted => generator.subschema_for::<ToolExecutionStarted>(),
        EventName::ToolExecutionCompleted => generator.subschema_for::<ToolExecutionCompleted>(),
        EventName::ToolExecutionFailed => generator.subschema_for::<ToolExecutionFailed>(),
        EventName::SystemStatusChanged => generator.subschema_for::<SystemStatusChanged>(),
        EventName::ErrorOccurred => generator.subschema_for::<ErrorOccurred>(),
        EventName::MemoryLessonLearned => generator.subschema_for::<MemoryLessonLearned>(),
        EventName::LokiExecutionStarted => generator.subschema_for::<LokiExecutionStarted>(),
        EventName::LokiExecutionCompleted => generator.subschema_for::<LokiExecutionCompleted>(),
        EventName::DeploymentCompleted => generator.subschema_for::<DeploymentCompleted>(),
    }
}

/// Every named schema, each referring to the others as `#{definitions_path}/{name}`:
/// [`ENVELOPE`], one envelope per known event ([`event_definition`]), [`UNKNOWN_EVENT`],
/// then the `data` structs and the types they use. `definitions_path` is a JSON pointer:
/// `/$defs` for a JSON Schema document, `/components/schemas` for OpenAPI.
pub fn definitions(definitions_path: &str) -> Map<String, Value> {
    let settings = SchemaSettings::draft2020_12().with(|settings| {
        settings.definitions_path = definitions_path.to_owned().into();
        settings.meta_schema = None;
    });
    let mut generator = SchemaGenerator::new(settings);
    let reference = |name: &str| format!("#{definitions_path}/{name}");
    let mut out = Map::new();
    out.insert(ENVELOPE.to_owned(), envelope());
    for name in EventName::ALL {
        let data = data_ref(&mut generator, *name).to_value();
        out.insert(
            event_definition(*name),
            json!({
                "description": format!(
                    "The `{name}` event: its envelope, with `data` of the type `{}`.",
                    data_definition(*name)
                ),
                "$ref": reference(ENVELOPE),
                "properties": {
                    "event": {"const": name.as_str()},
                    "data": data,
                },
                "required": ["data"],
            }),
        );
    }
    let known: Vec<&str> = EventName::ALL.iter().map(|name| name.as_str()).collect();
    out.insert(
        UNKNOWN_EVENT.to_owned(),
        json!({
            "description": "An event this version of the SDK does not know (a newer MegaBot's): \
                it is valid on its envelope alone, and its `data` can be any JSON value (or absent).",
            "$ref": reference(ENVELOPE),
            "properties": {
                "event": {"not": {"enum": known}},
            },
        }),
    );
    for (name, mut schema) in generator.take_definitions(true) {
        bound_unsigned(&mut schema);
        out.insert(name, schema);
    }
    out
}

/// The schema of the envelope, hand-written as its parser is (`Event`'s `Deserialize`).
fn envelope() -> Value {
    json!({
        "description": "A MegaBot webhook event: `{\"event\", \"id\", \"timestamp\", \"data\"}`. \
            Envelope fields a newer MegaBot adds are allowed (and ignored).",
        "type": "object",
        "required": ["event", "id", "timestamp"],
        "properties": {
            "event": {
                "description": "The event name, such as `tool_execution_failed`. A name this SDK \
                    does not know is allowed: its `data` is then not checked.",
                "type": "string",
            },
            "id": {
                "description": "The event id (`evt_...`), also the delivery id and the receivers' \
                    replay key: never empty.",
                "type": "string",
                "minLength": 1,
            },
            "timestamp": {
                "description": "When the event happened: integer unix seconds (within the range \
                    of dates the SDK represents).",
                "type": "integer",
                "minimum": DateTime::<Utc>::MIN_UTC.timestamp(),
                "maximum": DateTime::<Utc>::MAX_UTC.timestamp(),
            },
            "data": {
                "description": "The event's data: an object of the event's type for a known \
                    event (required then); any JSON value for an unknown event.",
            },
        },
    })
}

/// The JSON Schema document of a webhook body: any known event's envelope with its typed
/// `data`, or an unknown event's envelope; every named schema under `$defs`.
pub fn json_schema() -> Value {
    let mut one_of: Vec<Value> = EventName::ALL
        .iter()
        .map(|name| json!({"$ref": format!("#/$defs/{}", event_definition(*name))}))
        .collect();
    one_of.push(json!({"$ref": format!("#/$defs/{UNKNOWN_EVENT}")}));
    json!({
        "$schema": DIALECT,
        "title": "MegaBot webhook event",
        "description": "The body of a MegaBot webhook delivery, generated from the Rust types of \
            megabot-webhook-types. A body validates exactly when the SDK's parser reads it as a \
            typed event (or as an event it does not know). Unknown fields are allowed everywhere; \
            the open enums list their known values and allow others.",
        "oneOf": one_of,
        "$defs": definitions("/$defs"),
    })
}

/// `maximum` for every `uint64` (schemars writes only `minimum`): a larger integer does
/// not fit and the parser refuses it.
fn bound_unsigned(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str) == Some("uint64") {
                map.insert("maximum".to_owned(), Value::from(u64::MAX));
            }
            map.values_mut().for_each(bound_unsigned);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_unsigned),
        _ => {}
    }
}

/// A doc comment's lines (`#[doc]` values) as one text.
fn doc_text(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// The schema of an open enum: a string, with the known values (and what each means)
/// listed, and any other string allowed.
pub(crate) fn open_enum_schema(doc: &[&str], values: &[(&str, &[&str])]) -> Schema {
    let known: Vec<String> = values
        .iter()
        .map(|(text, doc)| {
            let meaning = doc_text(doc);
            if meaning.is_empty() {
                format!("`{text}`")
            } else {
                format!("`{text}` ({})", meaning.trim_end_matches('.'))
            }
        })
        .collect();
    let description = format!(
        "{}\n\nKnown values: {}. Other values are allowed: a newer MegaBot's value is kept as sent.",
        doc_text(doc),
        known.join(", ")
    );
    let names: Vec<&str> = values.iter().map(|(text, _)| *text).collect();
    let schema = json!({
        "description": description,
        "type": "string",
        "anyOf": [
            {"description": "A value this version of the SDK knows.", "enum": names},
            {"description": "Any other value.", "type": "string"},
        ],
    });
    // The value above is an object, which is always a schema.
    Schema::try_from(schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_an_envelope_and_a_data_definition() {
        let defs = definitions("/$defs");
        for name in EventName::ALL {
            let event = &defs[&event_definition(*name)];
            assert_eq!(event["properties"]["event"]["const"], name.as_str());
            let data = event["properties"]["data"]["$ref"].as_str().unwrap();
            let data = data.strip_prefix("#/$defs/").unwrap();
            assert_eq!(data, data_definition(*name));
            assert_eq!(defs[data]["type"], "object", "{name}");
        }
        for name in [
            "Platform",
            "Severity",
            "ExecutionStatus",
            "SystemStatus",
            "MessageType",
        ] {
            assert_eq!(defs[name]["type"], "string", "{name}");
            assert!(defs[name]["anyOf"][0]["enum"].is_array(), "{name}");
        }
    }

    #[test]
    fn required_fields_names_and_docs_come_from_the_types() {
        let defs = definitions("/components/schemas");
        let error = &defs["ErrorOccurred"];
        assert_eq!(error["required"], json!(["error_id"]));
        // `error_type` is `type` on the wire.
        assert!(error["properties"]["type"].is_object());
        assert!(error["properties"].get("error_type").is_none());
        assert!(error["properties"].get("extra").is_none());
        assert!(
            error["properties"]["message"]["description"]
                .as_str()
                .unwrap()
                .contains("The error message")
        );
        assert_eq!(
            error["properties"]["severity"]["anyOf"][0]["$ref"],
            "#/components/schemas/Severity"
        );
        let failed = &defs["ToolExecutionFailed"];
        assert_eq!(failed["required"], json!(["execution_id", "tool_name"]));
        let loki = &defs["LokiExecutionStarted"];
        assert_eq!(
            loki["properties"]["estimated_tasks"]["maximum"],
            json!(u64::MAX)
        );
    }

    #[test]
    fn open_enums_list_their_values_with_their_meaning() {
        let defs = definitions("/$defs");
        let platform = defs["Platform"]["description"].as_str().unwrap();
        assert!(platform.contains("`telegram` (Telegram)"), "{platform}");
        assert!(platform.contains("Other values are allowed"), "{platform}");
        assert_eq!(
            defs["Severity"]["anyOf"][0]["enum"],
            json!(["debug", "info", "warning", "error", "critical"])
        );
    }

    #[test]
    fn the_document_is_stable() {
        assert_eq!(json_schema(), json_schema());
        assert_eq!(
            json_schema()["oneOf"].as_array().unwrap().len(),
            EventName::ALL.len() + 1
        );
    }
}
