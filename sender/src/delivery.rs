//! What is sent: the body bytes and the envelope fields the headers carry.

use std::fmt;
use std::sync::{Arc, OnceLock};

use megabot_webhook_types::{Event, guide_json};
use serde_json::Value;

use crate::Error;

/// One event ready to send: its name, id and timestamp (for the
/// `X-MegaBot-*` and `webhook-*` headers) and the exact body bytes.
///
/// ```
/// use megabot_webhook_sender::Delivery;
///
/// // A user's JSON file, key order kept, written in the guide's compact form.
/// let delivery = Delivery::from_json(br#"{"event": "x_happened", "id": "evt_1",
///     "timestamp": 1640995200, "data": {"b": 1.0, "a": "caf\u00e9"}}"#)?;
/// assert_eq!(delivery.event(), "x_happened");
/// assert_eq!(
///     delivery.body(),
///     br#"{"event":"x_happened","id":"evt_1","timestamp":1640995200,"data":{"b":1.0,"a":"caf\u00e9"}}"#
/// );
/// # Ok::<(), megabot_webhook_sender::Error>(())
/// ```
#[derive(Clone)]
pub struct Delivery {
    event: String,
    id: String,
    timestamp: i64,
    body: Arc<[u8]>,
    /// The body as JSON, read on first use (only filters need it: a delivery taken from a
    /// store for its next attempt is sent without it).
    envelope: Arc<OnceLock<Value>>,
}

impl Delivery {
    /// A delivery of `body` exactly as given, announced as event `event` with
    /// id `id` and unix `timestamp`. Filters look at the body when it is a
    /// JSON object, at the three given fields otherwise.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDelivery`] when the name or id is empty or not
    /// printable ASCII (they travel in headers).
    pub fn new(
        event: impl Into<String>,
        id: impl Into<String>,
        timestamp: i64,
        body: impl Into<Vec<u8>>,
    ) -> Result<Delivery, Error> {
        let event = event.into();
        let id = id.into();
        check_header_text("event name", &event)?;
        check_header_text("event id", &id)?;
        let body: Vec<u8> = body.into();
        Ok(Delivery {
            event,
            id,
            timestamp,
            body: body.into(),
            envelope: Arc::default(),
        })
    }

    /// The delivery MegaBot makes for `event`: the body is the envelope
    /// written as the guide's `json.dumps(payload, separators=(',', ':'))`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDelivery`] when the event cannot be written or its
    /// name or id cannot travel in a header.
    pub fn from_event(event: &Event) -> Result<Delivery, Error> {
        let body = guide_json::to_vec(event)
            .map_err(|e| invalid(format!("cannot write the event: {e}")))?;
        let mut delivery = Delivery::new(
            event.name(),
            event.id.clone(),
            event.unix_timestamp(),
            Vec::new(),
        )?;
        delivery.body = body.into();
        delivery.envelope = Arc::new(OnceLock::from(event.to_value()));
        Ok(delivery)
    }

    /// A delivery of an event envelope given as JSON text (a user's file),
    /// re-written in the guide's compact form with its key order kept.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDelivery`] when the text is not JSON, not an object, or
    /// lacks a string `event`, a string `id` or an integer `timestamp`.
    pub fn from_json(json: &[u8]) -> Result<Delivery, Error> {
        let value: Value = serde_json::from_slice(json)
            .map_err(|e| invalid(format!("body is not valid json: {e}")))?;
        Delivery::from_value(value)
    }

    /// As [`Delivery::from_json`], from a parsed value.
    ///
    /// # Errors
    ///
    /// As [`Delivery::from_json`].
    pub fn from_value(value: Value) -> Result<Delivery, Error> {
        let Value::Object(map) = &value else {
            return Err(invalid("body is not a json object".to_owned()));
        };
        let event = map
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("body has no string `event`".to_owned()))?;
        let id = map
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("body has no string `id`".to_owned()))?;
        let timestamp = map
            .get("timestamp")
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid("body has no integer `timestamp`".to_owned()))?;
        let body = guide_json::to_vec(&value)
            .map_err(|e| invalid(format!("cannot write the body: {e}")))?;
        let mut delivery = Delivery::new(event, id, timestamp, Vec::new())?;
        delivery.body = body.into();
        delivery.envelope = Arc::new(OnceLock::from(value));
        Ok(delivery)
    }

    /// The event name (`X-MegaBot-Event`).
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The event id (`X-MegaBot-Delivery`, `webhook-id`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The event's unix seconds (`X-MegaBot-Timestamp`).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The exact bytes sent and signed.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The envelope as JSON, for filters: the body when it is a JSON object, else the
    /// three given fields.
    pub fn envelope(&self) -> &Value {
        self.envelope
            .get_or_init(|| match serde_json::from_slice::<Value>(&self.body) {
                Ok(value @ Value::Object(_)) => value,
                _ => serde_json::json!({"event": self.event, "id": self.id, "timestamp": self.timestamp}),
            })
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("event", &self.event)
            .field("id", &self.id)
            .field("timestamp", &self.timestamp)
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidDelivery { message }
}

/// Names and ids travel in headers: printable ASCII, not empty.
fn check_header_text(what: &str, text: &str) -> Result<(), Error> {
    if text.is_empty() {
        return Err(invalid(format!("{what} is empty")));
    }
    if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) || text.trim() != text {
        return Err(invalid(format!(
            "{what} must be printable ascii without surrounding spaces"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_event_writes_guide_bytes() {
        let body = br#"{"event":"error_occurred","id":"evt_9","timestamp":5,"data":{"message":"\u00e9","x":1e+16}}"#;
        let event = Event::from_slice(body).unwrap();
        let delivery = Delivery::from_event(&event).unwrap();
        assert_eq!(delivery.body(), body);
        assert_eq!(
            (delivery.event(), delivery.id(), delivery.timestamp()),
            ("error_occurred", "evt_9", 5)
        );
        assert_eq!(delivery.envelope()["data"]["message"], "é");
    }

    #[test]
    fn raw_bodies_are_sent_as_given() {
        let delivery = Delivery::new("custom", "evt_2", 7, b"not json".to_vec()).unwrap();
        assert_eq!(delivery.body(), b"not json");
        assert_eq!(delivery.envelope()["event"], "custom");
        let spaced = Delivery::new(
            "e",
            "i",
            1,
            br#"{"event": "e", "data": {"platform": "slack"}}"#.to_vec(),
        )
        .unwrap();
        assert_eq!(spaced.envelope()["data"]["platform"], "slack");
        assert_eq!(
            spaced.body(),
            br#"{"event": "e", "data": {"platform": "slack"}}"#
        );
    }

    #[test]
    fn refuses_what_cannot_travel_in_headers() {
        for (event, id) in [
            ("", "i"),
            ("e", ""),
            ("bad\nname", "i"),
            ("e", "caf\u{e9}"),
            (" e", "i"),
        ] {
            let error = Delivery::new(event, id, 1, Vec::new()).unwrap_err();
            assert_eq!(error.code(), "invalid_delivery", "{event:?} {id:?}");
        }
        for json in [
            &b"[1]"[..],
            b"{\"event\":\"e\",\"id\":\"i\"}",
            b"{\"event\":1,\"id\":\"i\",\"timestamp\":1}",
            b"{",
        ] {
            assert!(Delivery::from_json(json).is_err());
        }
    }
}
