//! One struct per event's `data` object.
//!
//! Every struct keeps the fields it does not know in `extra` (in arrival
//! order), so a newer MegaBot's added fields survive a parse and a re-serialise.
//! Fields the guide shows as open-ended (`metadata`, `parameters`, `result`,
//! `details`, `context`, `platform_specific`) are [`serde_json::Value`]s; a
//! float is a [`FiniteF64`], so no event holds a NaN or an infinity.

mod chat;
mod deployment;
mod error;
mod finite;
mod loki;
mod memory;
mod system;
mod tool;

pub use chat::{ChatMessageReceived, ChatMessageSent};
pub use deployment::DeploymentCompleted;
pub use error::ErrorOccurred;
pub use finite::FiniteF64;
pub use loki::{LokiExecutionCompleted, LokiExecutionStarted, LokiSummary};
pub use memory::MemoryLessonLearned;
pub use system::SystemStatusChanged;
pub use tool::{ToolError, ToolExecutionCompleted, ToolExecutionFailed, ToolExecutionStarted};

use std::borrow::Cow;

/// A map key that borrows from the input when it can.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Defines a `data` struct with a direct (buffer-free) `Deserialize`, a
/// `Serialize` that writes the fields in the guide's order, skips absent
/// optional fields and appends unknown ones.
///
/// Fields are `"json_name" => rust_name: req Type` (required) or
/// `"json_name" => rust_name: opt Type` (an `Option<Type>`).
macro_rules! event_data {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $json:literal => $field:ident : $kind:ident $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[cfg_attr(feature = "schema", schemars(rename = $json))]
                pub $field: $crate::data::event_data!(@ty $kind $ty),
            )+
            /// Fields this version of the SDK does not know, in arrival order.
            #[cfg_attr(feature = "schema", schemars(skip))]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("the data object of ", stringify!($name)))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        $( let mut $field: Option<$crate::data::event_data!(@ty $kind $ty)> = None; )+
                        let mut extra = serde_json::Map::new();
                        while let Some($crate::data::Key(key)) = map.next_key()? {
                            match key.as_ref() {
                                $( $json => {
                                    if $field.is_some() {
                                        return Err(serde::de::Error::duplicate_field($json));
                                    }
                                    $field = Some(map.next_value()?);
                                } )+
                                _ => {
                                    let value = map.next_value()?;
                                    extra.insert(key.into_owned(), value);
                                }
                            }
                        }
                        Ok($name {
                            $( $field: $crate::data::event_data!(@finish $kind $field $json), )+
                            extra,
                        })
                    }
                }
                deserializer.deserialize_map(Visitor)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                $( $crate::data::event_data!(@ser $kind map self $field $json); )+
                for (key, value) in &self.extra {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    };
    (@ty req $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@finish req $field:ident $json:literal) => {
        $field.ok_or_else(|| serde::de::Error::missing_field($json))?
    };
    (@finish opt $field:ident $json:literal) => { $field.flatten() };
    (@ser req $map:ident $self:ident $field:ident $json:literal) => {
        $map.serialize_entry($json, &$self.$field)?
    };
    (@ser opt $map:ident $self:ident $field:ident $json:literal) => {
        if let Some(value) = &$self.$field {
            $map.serialize_entry($json, value)?;
        }
    };
}

pub(crate) use event_data;
