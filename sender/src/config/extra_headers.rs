//! An endpoint's extra request headers, in configured order.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Extra headers sent with every delivery to an endpoint, in the order
/// configured. Names compare case-insensitively; a name given twice is an error.
///
/// Values often hold credentials (`Authorization: token ...`), so `Debug`
/// shows the names only. `Serialize` writes the values (the dead-letter file
/// needs them to redeliver): treat its output as secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ExtraHeaders(Vec<(String, String)>);

impl ExtraHeaders {
    /// No headers.
    pub fn new() -> ExtraHeaders {
        ExtraHeaders(Vec::new())
    }

    /// Adds a header, replacing a previous one of the same name (ignoring case).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(slot) => *slot = (name, value),
            None => self.0.push((name, value)),
        }
    }

    /// The value of the header called `name` (ignoring case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `(name, value)` pairs in configured order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ExtraHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, _)| (n, format_args!("[redacted]"))))
            .finish()
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for ExtraHeaders {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut headers = ExtraHeaders::new();
        for (name, value) in iter {
            headers.insert(name, value);
        }
        headers
    }
}

impl Serialize for ExtraHeaders {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ExtraHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeadersVisitor)
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = ExtraHeaders;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of header names to string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtraHeaders, A::Error> {
        let mut headers = ExtraHeaders::new();
        while let Some(name) = map.next_key::<String>()? {
            if headers.get(&name).is_some() {
                return Err(de::Error::custom(format_args!(
                    "header `{name}` is given twice"
                )));
            }
            let value = map.next_value::<String>()?;
            headers.0.push((name, value));
        }
        Ok(headers)
    }

    fn visit_unit<E: de::Error>(self) -> Result<ExtraHeaders, E> {
        Ok(ExtraHeaders::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_refuses_duplicates() {
        let headers: ExtraHeaders =
            serde_json::from_str(r#"{"B":"2","a":"1","Authorization":"token x"}"#).unwrap();
        let names: Vec<&str> = headers.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["B", "a", "Authorization"]);
        assert_eq!(headers.get("authorization"), Some("token x"));
        assert_eq!(
            serde_json::to_string(&headers).unwrap(),
            r#"{"B":"2","a":"1","Authorization":"token x"}"#
        );
        let error =
            serde_json::from_str::<ExtraHeaders>(r#"{"Accept":"a","accept":"b"}"#).unwrap_err();
        assert!(
            error.to_string().contains("header `accept` is given twice"),
            "{error}"
        );
    }

    #[test]
    fn debug_shows_names_only() {
        let headers: ExtraHeaders = [("Authorization", "token secret-123")]
            .into_iter()
            .collect();
        let text = format!("{headers:?}");
        assert!(
            text.contains("Authorization") && !text.contains("secret-123"),
            "{text}"
        );
    }
}
