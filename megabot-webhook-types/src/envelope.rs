//! An envelope's `id` and `timestamp` without its `data`: the fast read a verifier
//! makes to authenticate a delivery (design 4.3) before the event is parsed.

use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use crate::ParseError;

/// An event envelope's `id` and `timestamp`, read without parsing `data`: what a
/// verifier needs to authenticate a delivery before (or instead of) parsing its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeHead {
    /// The event id.
    pub id: String,
    /// The envelope's `timestamp` (Unix seconds).
    pub timestamp: i64,
}

impl EnvelopeHead {
    /// Reads `id` and `timestamp`: straight from the first bytes when the body starts
    /// as MegaBot writes it, else by scanning the envelope without parsing `data`
    /// (`event` must be a string; other keys are skipped; a repeated key is refused).
    pub fn read(body: &[u8]) -> Result<EnvelopeHead, ParseError> {
        if let Some((id, timestamp)) = canonical_prefix(body) {
            return Ok(EnvelopeHead {
                id: id.to_owned(),
                timestamp,
            });
        }
        let head: Head = serde_json::from_slice(body).map_err(ParseError::InvalidEnvelope)?;
        Ok(EnvelopeHead {
            id: head.id,
            timestamp: head.timestamp,
        })
    }
}

/// `{"event":"<name>","id":"<id>","timestamp":<digits>` followed by `,` or `}`,
/// with no whitespace and plain strings (no escapes, no control characters, valid
/// UTF-8): the id and the timestamp. `None` for anything else.
fn canonical_prefix(body: &[u8]) -> Option<(&str, i64)> {
    let rest = body.strip_prefix(br#"{"event":""#)?;
    let (name, rest) = plain_string(rest)?;
    // The name is not used: only check that it is UTF-8 (ASCII needs no more).
    if !name.is_ascii() {
        std::str::from_utf8(name).ok()?;
    }
    let rest = rest.strip_prefix(br#","id":""#)?;
    let (id, rest) = plain_string(rest)?;
    let id = std::str::from_utf8(id).ok()?;
    let rest = rest.strip_prefix(br#","timestamp":"#)?;
    // JSON has no leading zeros; 19 digits cover every i64.
    let (&first, mut rest) = rest.split_first()?;
    let mut seconds = i64::from(first.checked_sub(b'0').filter(|d| *d <= 9)?);
    let mut digits = 1;
    while let Some((&byte, tail)) = rest.split_first() {
        let Some(digit) = byte.checked_sub(b'0').filter(|d| *d <= 9) else {
            break;
        };
        if seconds == 0 || digits == 19 {
            return None;
        }
        seconds = seconds.checked_mul(10)?.checked_add(i64::from(digit))?;
        digits += 1;
        rest = tail;
    }
    matches!(rest.first(), Some(b',' | b'}')).then_some((id, seconds))
}

/// The bytes up to the next `"`, and what follows that quote; `None` when they hold
/// an escape or a control character (UTF-8 is the caller's to check).
fn plain_string(input: &[u8]) -> Option<(&[u8], &[u8])> {
    for (at, &byte) in input.iter().enumerate() {
        if byte == b'"' {
            return Some((&input[..at], &input[at + 1..]));
        }
        if byte == b'\\' || byte < 0x20 {
            return None;
        }
    }
    None
}

/// The envelope's `id` and `timestamp`; `event` must be a string, `data` may be any
/// JSON value and is not parsed.
struct Head {
    id: String,
    timestamp: i64,
}

impl<'de> serde::Deserialize<'de> for Head {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeadVisitor)
    }
}

struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a MegaBot event envelope {\"event\",\"id\",\"timestamp\",\"data\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        let mut event = false;
        let mut id: Option<String> = None;
        let mut timestamp: Option<i64> = None;
        let mut data = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "event" => {
                    once(event, "event")?;
                    map.next_value::<AnyString>()?;
                    event = true;
                }
                "id" => {
                    once(id.is_some(), "id")?;
                    id = Some(map.next_value()?);
                }
                "timestamp" => {
                    once(timestamp.is_some(), "timestamp")?;
                    timestamp = Some(map.next_value()?);
                }
                "data" => {
                    once(data, "data")?;
                    map.next_value::<IgnoredAny>()?;
                    data = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !event {
            return Err(de::Error::missing_field("event"));
        }
        Ok(Head {
            id: id.ok_or_else(|| de::Error::missing_field("id"))?,
            timestamp: timestamp.ok_or_else(|| de::Error::missing_field("timestamp"))?,
        })
    }
}

fn once<E: de::Error>(seen: bool, name: &'static str) -> Result<(), E> {
    if seen {
        Err(E::duplicate_field(name))
    } else {
        Ok(())
    }
}

/// Any JSON string, not kept (no allocation).
struct AnyString;

impl<'de> serde::Deserialize<'de> for AnyString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl Visitor<'_> for StrVisitor {
            type Value = AnyString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<AnyString, E> {
                Ok(AnyString)
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_and_scanned_bodies_give_the_same_head() {
        let canonical =
            br#"{"event":"error_occurred","id":"evt_1","timestamp":1700000000,"data":{}}"#;
        let spaced = br#"{"data": {"x": [1, 2]}, "timestamp": 1700000000, "id": "evt_1", "event": "error_occurred"}"#;
        let want = EnvelopeHead {
            id: "evt_1".to_owned(),
            timestamp: 1_700_000_000,
        };
        assert_eq!(EnvelopeHead::read(canonical).unwrap(), want);
        assert_eq!(EnvelopeHead::read(spaced).unwrap(), want);
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        for body in [
            &br#"{"id":"a","timestamp":1}"#[..],
            br#"{"event":5,"id":"a","timestamp":1}"#,
            br#"{"event":"e","id":"a","id":"b","timestamp":1}"#,
            br#"{"event":"e","timestamp":1}"#,
            br#"{"event":"e","id":"a","timestamp":"1"}"#,
            b"[]",
            b"",
        ] {
            assert!(
                matches!(
                    EnvelopeHead::read(body),
                    Err(ParseError::InvalidEnvelope(_))
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn non_canonical_prefixes_fall_back_to_the_scan() {
        // leading zero, escapes and 20 digits are not the fast path's
        assert!(canonical_prefix(br#"{"event":"e","id":"a","timestamp":01}"#).is_none());
        assert!(canonical_prefix(br#"{"event":"e","id":"a\"b","timestamp":1}"#).is_none());
        assert!(
            canonical_prefix(br#"{"event":"e","id":"a","timestamp":12345678901234567890}"#)
                .is_none()
        );
        let escaped = EnvelopeHead::read(br#"{"event":"e","id":"a\"b","timestamp":1}"#).unwrap();
        assert_eq!(escaped.id, "a\"b");
    }
}
