//! Deserializes the config schema from a positioned YAML tree, so that every
//! error knows the line, column and dotted key it is about, and unknown keys
//! and values come with a "did you mean".

use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, Error as _, IntoDeserializer, Visitor};

use super::yaml::{Node, NodeKind, Pos};
use crate::diagnostic::{index_key, join_key};
use crate::suggest;

/// A deserialization error, placed at the innermost node it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeError {
    pub(crate) message: String,
    pub(crate) site: Option<(Pos, String)>,
}

impl DeError {
    /// Places the error at `pos` and `key` unless a deeper node already did.
    fn locate(mut self, pos: Pos, key: &str) -> DeError {
        if self.site.is_none() {
            self.site = Some((pos, key.to_owned()));
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DeError {
            message: message.to_string(),
            site: None,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let message = match suggest::did_you_mean(field, expected.iter().copied()) {
            Some(candidate) => format!("unknown key `{field}` (did you mean `{candidate}`?)"),
            None => format!("unknown key `{field}`; expected one of {}", list(expected)),
        };
        DeError::custom(message)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::custom(format!(
            "unknown value `{variant}`{}; expected one of {}",
            suggest::hint(variant, expected.iter().copied()),
            list(expected)
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::custom(format!("missing key `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::custom(format!("key `{field}` is given twice"))
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deserializes `T` from `node`, whose dotted key is `key`.
pub(crate) fn from_node<'de, T: de::Deserialize<'de>>(
    node: &Node,
    key: &str,
) -> Result<T, DeError> {
    T::deserialize(NodeDeserializer { node, key }).map_err(|e| e.locate(node.pos, key))
}

/// A serde deserializer over one node.
struct NodeDeserializer<'a> {
    node: &'a Node,
    key: &'a str,
}

impl NodeDeserializer<'_> {
    /// The text of a string that may stand for a number or a boolean.
    fn coercible_text(&self) -> Option<&str> {
        match &self.node.kind {
            NodeKind::Str { value, plain: true } => Some(value.trim()),
            _ => None,
        }
    }

    fn locate(&self, error: DeError) -> DeError {
        error.locate(self.node.pos, self.key)
    }
}

macro_rules! coerce_number {
    ($($method:ident => $ty:ty, $visit:ident;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                if let Some(text) = self.coercible_text() {
                    if let Ok(number) = text.parse::<$ty>() {
                        return visitor.$visit(number).map_err(|e| self.locate(e));
                    }
                }
                self.deserialize_any(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Int(i) => visitor.visit_i64(*i),
            NodeKind::UInt(u) => visitor.visit_u64(*u),
            NodeKind::Float(f) => visitor.visit_f64(*f),
            NodeKind::Str { value, .. } => visitor.visit_str(value),
            NodeKind::Seq(items) => visitor.visit_seq(SeqReader {
                items: items.iter().enumerate(),
                key: self.key,
            }),
            NodeKind::Map(entries) => visitor.visit_map(MapReader {
                entries: entries.iter(),
                key: self.key,
                pending: None,
            }),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.coercible_text() {
            Some("true") => visitor.visit_bool(true).map_err(|e| self.locate(e)),
            Some("false") => visitor.visit_bool(false).map_err(|e| self.locate(e)),
            _ => self.deserialize_any(visitor),
        }
    }

    coerce_number! {
        deserialize_i8 => i64, visit_i64;
        deserialize_i16 => i64, visit_i64;
        deserialize_i32 => i64, visit_i64;
        deserialize_i64 => i64, visit_i64;
        deserialize_u8 => u64, visit_u64;
        deserialize_u16 => u64, visit_u64;
        deserialize_u32 => u64, visit_u64;
        deserialize_u64 => u64, visit_u64;
        deserialize_f32 => f64, visit_f64;
        deserialize_f64 => f64, visit_f64;
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.scalar_text() {
            Some(text) => visitor.visit_str(text).map_err(|e| self.locate(e)),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            NodeKind::Null => visitor.visit_none().map_err(|e| self.locate(e)),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.node.scalar_text() {
            Some(text) => {
                let variant: StrDeserializer<'_, DeError> = text.into_deserializer();
                visitor.visit_enum(variant).map_err(|e| self.locate(e))
            }
            None => Err(self.locate(DeError::custom(format!(
                "expected a string, found {}",
                self.node.type_name()
            )))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
    }
}

struct SeqReader<'a, I> {
    items: I,
    key: &'a str,
}

impl<'de, 'a, I> de::SeqAccess<'de> for SeqReader<'a, I>
where
    I: Iterator<Item = (usize, &'a Node)>,
{
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((index, node)) = self.items.next() else {
            return Ok(None);
        };
        let key = index_key(self.key, index);
        seed.deserialize(NodeDeserializer { node, key: &key })
            .map(Some)
            .map_err(|e| e.locate(node.pos, &key))
    }
}

struct MapReader<'a, I> {
    entries: I,
    key: &'a str,
    pending: Option<(&'a Node, String)>,
}

impl<'de, 'a, I> de::MapAccess<'de> for MapReader<'a, I>
where
    I: Iterator<Item = &'a (Node, Node)>,
{
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key_node, value)) = self.entries.next() else {
            return Ok(None);
        };
        let child = join_key(self.key, key_node.scalar_text().unwrap_or("?"));
        let key = seed
            .deserialize(NodeDeserializer {
                node: key_node,
                key: &child,
            })
            .map_err(|e| e.locate(key_node.pos, &child))?;
        self.pending = Some((value, child));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((node, key)) = self.pending.take() else {
            return Err(DeError::custom("value requested before its key"));
        };
        seed.deserialize(NodeDeserializer { node, key: &key })
            .map_err(|e| e.locate(node.pos, &key))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{EndpointConfig, RetryPolicy, WebhooksConfig};

    use super::super::yaml::parse;
    use super::*;

    fn load<T: for<'de> de::Deserialize<'de>>(yaml: &str) -> Result<T, DeError> {
        from_node(&parse(yaml).unwrap(), "root")
    }

    fn site(error: &DeError) -> (u64, u64, &str) {
        let (pos, key) = error.site.as_ref().unwrap();
        (pos.line, pos.column, key.as_str())
    }

    #[test]
    fn unknown_key_is_placed_on_the_key_with_a_suggestion() {
        let error = load::<EndpointConfig>("url: https://e.com\nretry_polcy:\n  max_attempts: 3\n")
            .unwrap_err();
        assert_eq!(site(&error), (2, 1, "root.retry_polcy"));
        assert_eq!(
            error.message,
            "unknown key `retry_polcy` (did you mean `retry_policy`?)"
        );
        let error = load::<EndpointConfig>("url: u\ncolour: red\n").unwrap_err();
        assert!(
            error
                .message
                .starts_with("unknown key `colour`; expected one of `url`, `events`"),
            "{}",
            error.message
        );
    }

    #[test]
    fn type_errors_are_placed_on_the_value() {
        let error = load::<RetryPolicy>("max_attempts: many\n").unwrap_err();
        assert_eq!(site(&error), (1, 15, "root.max_attempts"));
        assert!(error.message.contains("expected u32"), "{}", error.message);
        let error =
            load::<WebhooksConfig>("endpoints:\n  - url: a\n  - events: [x]\n").unwrap_err();
        assert_eq!(site(&error), (3, 5, "root.endpoints[1]"));
        assert_eq!(error.message, "missing key `url`");
    }

    #[test]
    fn content_filter_errors_name_the_filter() {
        let error = load::<EndpointConfig>(
            "url: u\nfilters:\n  content_filters:\n    - type: contain\n      field: a\n      value: b\n",
        )
        .unwrap_err();
        assert_eq!(site(&error).2, "root.filters.content_filters[0].type");
        assert!(
            error.message.contains("(did you mean `contains`?)"),
            "{}",
            error.message
        );
        let error = load::<EndpointConfig>(
            "url: u\nfilters:\n  content_filters:\n    - type: regex\n      field: a\n",
        )
        .unwrap_err();
        assert_eq!(site(&error), (4, 7, "root.filters.content_filters[0]"));
        assert_eq!(error.message, "a regex filter needs a `pattern`");
    }

    #[test]
    fn scalars_are_strings_where_strings_are_wanted() {
        let endpoint: EndpointConfig =
            load("url: u\nheaders:\n  X-Version: 2.10\n  X-Flag: true\n").unwrap();
        assert_eq!(endpoint.headers.get("X-Version"), Some("2.10"));
        assert_eq!(endpoint.headers.get("X-Flag"), Some("true"));
    }

    #[test]
    fn plain_strings_coerce_to_numbers_quoted_ones_do_not() {
        let mut node = parse("max_attempts: \"3\"\n").unwrap();
        assert!(from_node::<RetryPolicy>(&node, "p").is_err());
        if let NodeKind::Map(entries) = &mut node.kind {
            entries[0].1.kind = NodeKind::Str {
                value: "3".into(),
                plain: true,
            };
        }
        assert_eq!(
            from_node::<RetryPolicy>(&node, "p").unwrap().max_attempts,
            3
        );
    }
}
