// Over 600 lines: 461 lines of code; the rest is its unit tests, kept beside it.
//! The event envelope and its typed payload.

use chrono::{DateTime, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::data::{
    ChatMessageReceived, ChatMessageSent, DeploymentCompleted, ErrorOccurred, Key,
    LokiExecutionCompleted, LokiExecutionStarted, MemoryLessonLearned, SystemStatusChanged,
    ToolExecutionCompleted, ToolExecutionFailed, ToolExecutionStarted,
};
use crate::{EventName, ParseError, Platform, Severity, guide_json};

/// A MegaBot webhook event: `{"event":..,"id":..,"timestamp":..,"data":{..}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event id (`evt_...`), also the delivery id.
    pub id: String,
    /// When the event happened (integer unix seconds on the wire).
    pub timestamp: DateTime<Utc>,
    /// The event name and its typed `data`.
    pub payload: EventPayload,
}

/// The event name with its `data`, typed when the SDK knows the event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // events are built once and moved rarely; boxing costs an allocation per event
pub enum EventPayload {
    /// `chat_message_received`
    ChatMessageReceived(ChatMessageReceived),
    /// `chat_message_sent`
    ChatMessageSent(ChatMessageSent),
    /// `tool_execution_started`
    ToolExecutionStarted(ToolExecutionStarted),
    /// `tool_execution_completed`
    ToolExecutionCompleted(ToolExecutionCompleted),
    /// `tool_execution_failed`
    ToolExecutionFailed(ToolExecutionFailed),
    /// `system_status_changed`
    SystemStatusChanged(SystemStatusChanged),
    /// `error_occurred`
    ErrorOccurred(ErrorOccurred),
    /// `memory_lesson_learned`
    MemoryLessonLearned(MemoryLessonLearned),
    /// `loki_execution_started`
    LokiExecutionStarted(LokiExecutionStarted),
    /// `loki_execution_completed`
    LokiExecutionCompleted(LokiExecutionCompleted),
    /// `deployment_completed`
    DeploymentCompleted(DeploymentCompleted),
    /// An event name this SDK does not know, with its raw `data`.
    Unknown {
        /// The event name as sent.
        event: String,
        /// The raw `data` (`null` when the envelope had none).
        data: Value,
    },
    /// A known event whose `data` does not fit its struct (a field of another
    /// type, a required field missing). It still arrives: its signature was
    /// valid and the event must not be lost.
    Malformed {
        /// The event name.
        event: EventName,
        /// The raw `data` (`null` when the envelope had none).
        data: Value,
        /// Why the data did not fit.
        error: String,
    },
}

impl EventPayload {
    /// The event name as it appears on the wire.
    pub fn name(&self) -> &str {
        match self.known_name() {
            Some(name) => name.as_str(),
            None => match self {
                EventPayload::Unknown { event, .. } => event,
                _ => "",
            },
        }
    }

    /// The known event name, or `None` for [`EventPayload::Unknown`].
    pub fn known_name(&self) -> Option<EventName> {
        Some(match self {
            EventPayload::ChatMessageReceived(_) => EventName::ChatMessageReceived,
            EventPayload::ChatMessageSent(_) => EventName::ChatMessageSent,
            EventPayload::ToolExecutionStarted(_) => EventName::ToolExecutionStarted,
            EventPayload::ToolExecutionCompleted(_) => EventName::ToolExecutionCompleted,
            EventPayload::ToolExecutionFailed(_) => EventName::ToolExecutionFailed,
            EventPayload::SystemStatusChanged(_) => EventName::SystemStatusChanged,
            EventPayload::ErrorOccurred(_) => EventName::ErrorOccurred,
            EventPayload::MemoryLessonLearned(_) => EventName::MemoryLessonLearned,
            EventPayload::LokiExecutionStarted(_) => EventName::LokiExecutionStarted,
            EventPayload::LokiExecutionCompleted(_) => EventName::LokiExecutionCompleted,
            EventPayload::DeploymentCompleted(_) => EventName::DeploymentCompleted,
            EventPayload::Malformed { event, .. } => *event,
            EventPayload::Unknown { .. } => return None,
        })
    }

    /// Parses `data` for the event called `name`. Never fails: an unknown name
    /// gives [`EventPayload::Unknown`], data that does not fit gives
    /// [`EventPayload::Malformed`].
    pub fn from_raw(name: &str, data: &RawValue) -> EventPayload {
        let Some(known) = EventName::from_name(name) else {
            return EventPayload::Unknown {
                event: name.to_owned(),
                // Only `data` nested deeper than the JSON parser's limit (128) cannot be
                // a `Value`; `Event::from_slice` refuses such an envelope instead.
                data: raw_to_value(data).unwrap_or(Value::Null),
            };
        };
        match typed(known, data.get()) {
            Ok(payload) => payload,
            Err(error) => EventPayload::Malformed {
                event: known,
                // `null` when the data is nested too deeply to be a `Value` at all;
                // `error` then says so.
                data: raw_to_value(data).unwrap_or(Value::Null),
                error: error.to_string(),
            },
        }
    }

    /// The `data` as a JSON value.
    pub fn data_value(&self) -> Value {
        let result = match self {
            EventPayload::Unknown { data, .. } | EventPayload::Malformed { data, .. } => {
                return data.clone();
            }
            other => serde_json::to_value(DataRef(other)),
        };
        // Serialising these structs into a `Value` cannot fail: every key is a string.
        result.unwrap_or(Value::Null)
    }
}

/// The raw `data` as a [`Value`]. A RawValue is valid JSON by construction, so this only
/// fails for data nested deeper than serde_json's recursion limit (128).
fn raw_to_value(raw: &RawValue) -> Result<Value, serde_json::Error> {
    serde_json::from_str(raw.get())
}

/// The payload of an envelope read by [`Event::from_slice`]: as
/// [`EventPayload::from_raw`], except that the `data` of an unknown event that cannot be
/// kept as a [`Value`] (nested deeper than 128 levels) is an error rather than a silent
/// `null`. (A known event's data that deep is [`EventPayload::Malformed`] with the
/// parser's error.)
fn envelope_payload(name: &str, data: &RawValue) -> Result<EventPayload, serde_json::Error> {
    if EventName::from_name(name).is_none() {
        raw_to_value(data)?;
    }
    Ok(EventPayload::from_raw(name, data))
}

/// Refuses an empty delivery `id` (design 4.4: it cannot be deduplicated).
fn check_id<E: de::Error>(id: &str) -> Result<(), E> {
    if id.is_empty() {
        return Err(E::custom("`id` is empty"));
    }
    Ok(())
}

fn typed(name: EventName, json: &str) -> Result<EventPayload, serde_json::Error> {
    use serde_json::from_str;
    Ok(match name {
        EventName::ChatMessageReceived => EventPayload::ChatMessageReceived(from_str(json)?),
        EventName::ChatMessageSent => EventPayload::ChatMessageSent(from_str(json)?),
        EventName::ToolExecutionStarted => EventPayload::ToolExecutionStarted(from_str(json)?),
        EventName::ToolExecutionCompleted => EventPayload::ToolExecutionCompleted(from_str(json)?),
        EventName::ToolExecutionFailed => EventPayload::ToolExecutionFailed(from_str(json)?),
        EventName::SystemStatusChanged => EventPayload::SystemStatusChanged(from_str(json)?),
        EventName::ErrorOccurred => EventPayload::ErrorOccurred(from_str(json)?),
        EventName::MemoryLessonLearned => EventPayload::MemoryLessonLearned(from_str(json)?),
        EventName::LokiExecutionStarted => EventPayload::LokiExecutionStarted(from_str(json)?),
        EventName::LokiExecutionCompleted => EventPayload::LokiExecutionCompleted(from_str(json)?),
        EventName::DeploymentCompleted => EventPayload::DeploymentCompleted(from_str(json)?),
    })
}

impl Event {
    /// An event with this id, time and payload.
    pub fn new(id: impl Into<String>, timestamp: DateTime<Utc>, payload: EventPayload) -> Event {
        Event {
            id: id.into(),
            timestamp,
            payload,
        }
    }

    /// Parses a webhook body. Unknown names and data that does not fit its
    /// struct still parse (see [`EventPayload`]); only a body that is not an
    /// envelope at all is an error.
    pub fn from_slice(body: &[u8]) -> Result<Event, ParseError> {
        // One pass when `event` comes before `data` (as MegaBot sends it) and the
        // data fits its struct; anything else takes the general path, which gives the
        // same event or the error.
        if let Some(event) = single_pass(body) {
            return Ok(event);
        }
        serde_json::from_slice(body).map_err(ParseError::InvalidEnvelope)
    }

    /// The event name as it appears on the wire.
    pub fn name(&self) -> &str {
        self.payload.name()
    }

    /// The timestamp as integer unix seconds, as on the wire.
    pub fn unix_timestamp(&self) -> i64 {
        self.timestamp.timestamp()
    }

    /// `data.severity` of the events that carry one.
    pub fn severity(&self) -> Option<&Severity> {
        match &self.payload {
            EventPayload::SystemStatusChanged(d) => d.severity.as_ref(),
            EventPayload::ErrorOccurred(d) => d.severity.as_ref(),
            _ => None,
        }
    }

    /// `data.platform` of the events that carry one.
    pub fn platform(&self) -> Option<&Platform> {
        match &self.payload {
            EventPayload::ChatMessageReceived(d) => d.platform.as_ref(),
            EventPayload::ChatMessageSent(d) => d.platform.as_ref(),
            EventPayload::ToolExecutionStarted(d) => d.platform.as_ref(),
            EventPayload::LokiExecutionStarted(d) => d.platform.as_ref(),
            _ => None,
        }
    }

    /// The body MegaBot sends for this event: compact JSON, keys in the
    /// envelope's order, written exactly as the guide's Python signer
    /// (`json.dumps(payload, separators=(',', ':'))`) writes it.
    pub fn to_guide_json(&self) -> Vec<u8> {
        // Serialising an event cannot fail: keys are strings and every number is finite
        // (typed floats are `FiniteF64`, a `Value` holds no NaN).
        guide_json::to_vec(self).unwrap_or_default()
    }

    /// The whole envelope as a JSON value, keys in wire order.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Serialises only the `data` of a payload.
struct DataRef<'a>(&'a EventPayload);

impl serde::Serialize for DataRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            EventPayload::ChatMessageReceived(d) => d.serialize(s),
            EventPayload::ChatMessageSent(d) => d.serialize(s),
            EventPayload::ToolExecutionStarted(d) => d.serialize(s),
            EventPayload::ToolExecutionCompleted(d) => d.serialize(s),
            EventPayload::ToolExecutionFailed(d) => d.serialize(s),
            EventPayload::SystemStatusChanged(d) => d.serialize(s),
            EventPayload::ErrorOccurred(d) => d.serialize(s),
            EventPayload::MemoryLessonLearned(d) => d.serialize(s),
            EventPayload::LokiExecutionStarted(d) => d.serialize(s),
            EventPayload::LokiExecutionCompleted(d) => d.serialize(s),
            EventPayload::DeploymentCompleted(d) => d.serialize(s),
            EventPayload::Unknown { data, .. } | EventPayload::Malformed { data, .. } => {
                data.serialize(s)
            }
        }
    }
}

impl serde::Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut envelope = serializer.serialize_struct("Event", 4)?;
        envelope.serialize_field("event", self.name())?;
        envelope.serialize_field("id", &self.id)?;
        envelope.serialize_field("timestamp", &self.timestamp.timestamp())?;
        envelope.serialize_field("data", &DataRef(&self.payload))?;
        envelope.end()
    }
}

impl<'de> serde::Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a MegaBot event envelope {\"event\",\"id\",\"timestamp\",\"data\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let mut event: Option<String> = None;
        let mut id: Option<String> = None;
        let mut timestamp: Option<i64> = None;
        let mut data: Option<Box<RawValue>> = None;
        while let Some(Key(key)) = map.next_key()? {
            match key.as_ref() {
                "event" => set_once(&mut event, "event", map.next_value()?)?,
                "id" => set_once(&mut id, "id", map.next_value()?)?,
                "timestamp" => set_once(&mut timestamp, "timestamp", map.next_value()?)?,
                "data" => set_once(&mut data, "data", map.next_value()?)?,
                // Envelope fields a newer MegaBot may add are not part of the
                // typed event; the raw body is still there for whoever needs it.
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let event = event.ok_or_else(|| de::Error::missing_field("event"))?;
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        let seconds = timestamp.ok_or_else(|| de::Error::missing_field("timestamp"))?;
        let timestamp = DateTime::from_timestamp(seconds, 0).ok_or_else(|| {
            de::Error::custom(format_args!("timestamp {seconds} is out of range"))
        })?;
        check_id(&id)?;
        let payload = match data {
            Some(raw) => envelope_payload(&event, &raw),
            None => envelope_payload(&event, &Box::<RawValue>::default()),
        }
        .map_err(|error| de::Error::custom(format_args!("`data` cannot be read: {error}")))?;
        Ok(Event {
            id,
            timestamp,
            payload,
        })
    }
}

/// Parses `body` in one pass, typing `data` straight from the input once the event
/// name is known, and checks UTF-8 once for the whole body. `None` whenever the general path is needed: `data` before `event`,
/// data that does not fit its struct, or any error (the general path reports it).
fn single_pass(body: &[u8]) -> Option<Event> {
    // Checking UTF-8 once for the whole body is cheaper than string by string.
    let text = std::str::from_utf8(body).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let event = de::Deserializer::deserialize_map(&mut deserializer, SinglePassVisitor).ok()?;
    deserializer.end().ok()?;
    Some(event)
}

struct SinglePassVisitor;

impl<'de> Visitor<'de> for SinglePassVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a MegaBot event envelope with `event` before `data`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let mut event: Option<Key<'de>> = None;
        let mut id: Option<String> = None;
        let mut timestamp: Option<i64> = None;
        let mut payload: Option<EventPayload> = None;
        while let Some(Key(key)) = map.next_key()? {
            match key.as_ref() {
                "event" => set_once(&mut event, "event", map.next_value()?)?,
                "id" => set_once(&mut id, "id", map.next_value()?)?,
                "timestamp" => set_once(&mut timestamp, "timestamp", map.next_value()?)?,
                "data" => {
                    let Some(Key(name)) = &event else {
                        return Err(de::Error::custom("`data` before `event`"));
                    };
                    let seed = DataSeed(name.as_ref());
                    set_once(&mut payload, "data", map.next_value_seed(seed)?)?;
                }
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let (Some(Key(event)), Some(id), Some(seconds)) = (event, id, timestamp) else {
            return Err(de::Error::custom("incomplete envelope"));
        };
        check_id(&id)?;
        let timestamp = DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| de::Error::custom("timestamp out of range"))?;
        let payload = match payload {
            Some(payload) => payload,
            None => EventPayload::from_raw(&event, &Box::<RawValue>::default()),
        };
        Ok(Event {
            id,
            timestamp,
            payload,
        })
    }
}

/// Deserialises `data` for the event called `.0`: its struct for a known event, a
/// [`Value`] for an unknown one. Data that does not fit fails (the general path then
/// makes it [`EventPayload::Malformed`]).
struct DataSeed<'a>(&'a str);

impl<'de> de::DeserializeSeed<'de> for DataSeed<'_> {
    type Value = EventPayload;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<EventPayload, D::Error> {
        use serde::Deserialize as _;
        let Some(known) = EventName::from_name(self.0) else {
            return Ok(EventPayload::Unknown {
                event: self.0.to_owned(),
                data: Value::deserialize(d)?,
            });
        };
        Ok(match known {
            EventName::ChatMessageReceived => {
                EventPayload::ChatMessageReceived(ChatMessageReceived::deserialize(d)?)
            }
            EventName::ChatMessageSent => {
                EventPayload::ChatMessageSent(ChatMessageSent::deserialize(d)?)
            }
            EventName::ToolExecutionStarted => {
                EventPayload::ToolExecutionStarted(ToolExecutionStarted::deserialize(d)?)
            }
            EventName::ToolExecutionCompleted => {
                EventPayload::ToolExecutionCompleted(ToolExecutionCompleted::deserialize(d)?)
            }
            EventName::ToolExecutionFailed => {
                EventPayload::ToolExecutionFailed(ToolExecutionFailed::deserialize(d)?)
            }
            EventName::SystemStatusChanged => {
                EventPayload::SystemStatusChanged(SystemStatusChanged::deserialize(d)?)
            }
            EventName::ErrorOccurred => EventPayload::ErrorOccurred(ErrorOccurred::deserialize(d)?),
            EventName::MemoryLessonLearned => {
                EventPayload::MemoryLessonLearned(MemoryLessonLearned::deserialize(d)?)
            }
            EventName::LokiExecutionStarted => {
                EventPayload::LokiExecutionStarted(LokiExecutionStarted::deserialize(d)?)
            }
            EventName::LokiExecutionCompleted => {
                EventPayload::LokiExecutionCompleted(LokiExecutionCompleted::deserialize(d)?)
            }
            EventName::DeploymentCompleted => {
                EventPayload::DeploymentCompleted(DeploymentCompleted::deserialize(d)?)
            }
        })
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

#[cfg(test)]
mod tests {

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    /// Data nested deeper than the parser's limit is never a silent `null`: a known
    /// event's is `Malformed` with the parser's error, an unknown event's envelope is
    /// refused.
    #[test]
    fn deeply_nested_data_is_malformed_not_null() {
        for depth in [128, 129, 300] {
            let body = format!(
                r#"{{"event":"error_occurred","id":"evt_deep","timestamp":1700000000,"data":{{"message":"m","context":{}}}}}"#,
                nested(depth)
            );
            let event = Event::from_slice(body.as_bytes()).unwrap();
            match &event.payload {
                EventPayload::Malformed { error, .. } => {
                    assert!(error.contains("recursion limit"), "{error}");
                }
                other => panic!("depth {depth}: expected Malformed, got {other:?}"),
            }
            let body = format!(
                r#"{{"event":"brand_new_event","id":"evt_deep","timestamp":1700000000,"data":{}}}"#,
                nested(depth)
            );
            let error = Event::from_slice(body.as_bytes()).unwrap_err();
            assert!(error.to_string().contains("recursion limit"), "{error}");
        }
        // Within the limit, data arrives whole.
        let body = format!(
            r#"{{"event":"brand_new_event","id":"evt_ok","timestamp":1700000000,"data":{}}}"#,
            nested(100)
        );
        let event = Event::from_slice(body.as_bytes()).unwrap();
        assert!(!event.payload.data_value().is_null());
    }

    /// design 4.4: an empty `id` cannot be deduplicated and is refused.
    #[test]
    fn an_empty_id_is_refused() {
        for body in [
            r#"{"event":"error_occurred","id":"","timestamp":1700000000,"data":{}}"#,
            r#"{"data":{},"event":"error_occurred","id":"","timestamp":1700000000}"#,
        ] {
            let error = Event::from_slice(body.as_bytes()).unwrap_err();
            assert!(error.to_string().contains("`id` is empty"), "{error}");
        }
    }
    use super::*;

    const RECEIVED: &str = r#"{"event":"chat_message_received","id":"evt_1","timestamp":1640995200,"data":{"message_id":"m","platform":"telegram"}}"#;

    #[test]
    fn parses_a_known_event() {
        let event = Event::from_slice(RECEIVED.as_bytes()).unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.unix_timestamp(), 1640995200);
        let EventPayload::ChatMessageReceived(data) = &event.payload else {
            panic!("wrong variant: {event:?}");
        };
        assert_eq!(data.platform, Some(Platform::Telegram));
        assert_eq!(event.to_guide_json(), RECEIVED.as_bytes());
    }

    #[test]
    fn data_before_event_still_parses() {
        let body =
            r#"{"data":{"message_id":"m"},"timestamp":1,"id":"e","event":"chat_message_sent"}"#;
        let event = Event::from_slice(body.as_bytes()).unwrap();
        assert!(matches!(event.payload, EventPayload::ChatMessageSent(_)));
    }

    #[test]
    fn out_of_range_and_non_integer_timestamps_are_errors() {
        for ts in [
            "9223372036854775807",
            "-9223372036854775808",
            "1.5",
            "\"1\"",
            "1e3",
        ] {
            let body = format!(r#"{{"event":"x","id":"e","timestamp":{ts},"data":{{}}}}"#);
            let err = Event::from_slice(body.as_bytes()).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid event envelope"),
                "{ts}: {err}"
            );
        }
    }

    #[test]
    fn duplicate_envelope_keys_are_refused() {
        let body = r#"{"event":"x","id":"a","id":"b","timestamp":1,"data":{}}"#;
        assert!(Event::from_slice(body.as_bytes()).is_err());
    }

    #[test]
    fn single_pass_and_general_path_agree() {
        let mut bodies: Vec<Vec<u8>> = crate::examples::all()
            .iter()
            .map(Event::to_guide_json)
            .collect();
        bodies.extend(
            [
                r#"{"event":"brand_new","id":"e","timestamp":1,"data":{"a":[1,2.5,null]}}"#,
                r#"{"event":"error_occurred","id":"e","timestamp":1,"data":{"severity":5}}"#,
                r#"{"event":"error_occurred","id":"e","timestamp":1,"data":null}"#,
                r#"{"event":"chat_message_sent","id":"e","timestamp":1}"#,
                r#"{"event":"chat_message_sent","id":"e","timestamp":1,"data":{"message_id":"m","x":{}},"more":[]}"#,
                r#"{"event":"chat_message_sent","id":"e","timestamp":1,"data":{"message_id":"a","message_id":"b"}}"#,
            ]
            .map(|body| body.as_bytes().to_vec()),
        );
        for body in &bodies {
            let general: Event = serde_json::from_slice(body).unwrap();
            assert_eq!(Event::from_slice(body).unwrap(), general);
            if let Some(single) = single_pass(body) {
                assert_eq!(single, general);
            }
        }
        // Data that does not fit takes the general path.
        assert!(single_pass(bodies[bodies.len() - 5].as_slice()).is_none());
        assert!(single_pass(br#"{"data":{},"event":"x","id":"e","timestamp":1}"#).is_none());
        assert!(single_pass(b"{\"event\":\"x\",\"id\":\"\xff\",\"timestamp\":1}").is_none());
    }

    #[test]
    fn missing_data_is_null() {
        let body = r#"{"event":"brand_new","id":"e","timestamp":1}"#;
        let event = Event::from_slice(body.as_bytes()).unwrap();
        assert_eq!(
            event.payload,
            EventPayload::Unknown {
                event: "brand_new".into(),
                data: Value::Null
            }
        );
    }
}
