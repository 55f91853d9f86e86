//! [`FiniteF64`]: the only way a float enters an event's typed `data`.

use std::fmt;

use crate::ParseError;

/// A finite `f64` (never NaN or an infinity).
///
/// JSON has no NaN or Infinity, and the guide's Python signer would write
/// them as `NaN`/`Infinity`, which no JSON parser reads back (see
/// docs/design.md section 3, "Body bytes"). Typed event fields that hold a
/// float use this type, so an event that could not be sent cannot be built:
/// [`FiniteF64::new`] refuses the value up front, with an error naming it.
///
/// ```
/// use megabot_webhook_types::data::{FiniteF64, MemoryLessonLearned};
///
/// let lesson = MemoryLessonLearned {
///     lesson_id: "lesson_1".into(),
///     confidence: Some(FiniteF64::new(0.92)?),
///     ..Default::default()
/// };
/// assert_eq!(lesson.confidence.map(FiniteF64::get), Some(0.92));
/// assert!(FiniteF64::new(f64::NAN).is_err());
/// # Ok::<(), megabot_webhook_types::ParseError>(())
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, PartialOrd)]
pub struct FiniteF64(f64);

impl FiniteF64 {
    /// `value`, when it is finite.
    ///
    /// # Errors
    ///
    /// [`ParseError::NonFiniteNumber`] for NaN and the infinities.
    pub fn new(value: f64) -> Result<FiniteF64, ParseError> {
        if value.is_finite() {
            Ok(FiniteF64(value))
        } else {
            Err(ParseError::NonFiniteNumber(value))
        }
    }

    /// The value.
    #[must_use]
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for FiniteF64 {
    type Error = ParseError;

    fn try_from(value: f64) -> Result<FiniteF64, ParseError> {
        FiniteF64::new(value)
    }
}

impl From<FiniteF64> for f64 {
    fn from(value: FiniteF64) -> f64 {
        value.0
    }
}

impl fmt::Display for FiniteF64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl serde::Serialize for FiniteF64 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for FiniteF64 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // serde_json never yields a non-finite number (it refuses `NaN` and
        // overflowing literals); another deserializer might.
        let value = f64::deserialize(deserializer)?;
        FiniteF64::new(value).map_err(serde::de::Error::custom)
    }
}

/// A JSON number, described as `f64` is (JSON has no NaN or Infinity anyway).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for FiniteF64 {
    fn inline_schema() -> bool {
        <f64 as schemars::JsonSchema>::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <f64 as schemars::JsonSchema>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <f64 as schemars::JsonSchema>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::MemoryLessonLearned;
    use crate::{Event, EventPayload};

    #[test]
    fn non_finite_values_are_refused_with_a_clear_error() {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let error = FiniteF64::new(value).unwrap_err();
            assert!(
                matches!(error, ParseError::NonFiniteNumber(v) if v.to_bits() == value.to_bits())
            );
            assert!(error.to_string().contains("not a finite number"), "{error}");
            assert!(FiniteF64::try_from(value).is_err());
        }
        assert_eq!(
            FiniteF64::new(-0.0).map(FiniteF64::get).unwrap().to_bits(),
            (-0.0f64).to_bits()
        );
        assert_eq!(f64::from(FiniteF64::new(1e308).unwrap()), 1e308);
    }

    #[test]
    fn a_built_event_with_a_float_writes_python_bytes() {
        let payload = EventPayload::MemoryLessonLearned(MemoryLessonLearned {
            lesson_id: "l1".into(),
            confidence: Some(FiniteF64::new(1e16).unwrap()),
            ..Default::default()
        });
        let event = Event::new("evt_1", chrono::DateTime::UNIX_EPOCH, payload);
        assert_eq!(
            event.to_guide_json(),
            br#"{"event":"memory_lesson_learned","id":"evt_1","timestamp":0,"data":{"lesson_id":"l1","confidence":1e+16}}"#
        );
    }

    #[test]
    fn parsing_keeps_finite_numbers_and_refuses_others() {
        let lesson: MemoryLessonLearned =
            serde_json::from_str(r#"{"lesson_id":"l","confidence":0.5}"#).unwrap();
        assert_eq!(lesson.confidence, Some(FiniteF64::new(0.5).unwrap()));
        assert!(serde_json::from_str::<FiniteF64>("1e400").is_err());
        assert!(serde_json::from_str::<FiniteF64>("NaN").is_err());
        let refused =
            <FiniteF64 as serde::Deserialize>::deserialize(serde::de::value::F64Deserializer::<
                serde::de::value::Error,
            >::new(f64::INFINITY))
            .unwrap_err();
        assert!(
            refused.to_string().contains("not a finite number"),
            "{refused}"
        );
    }
}
