//! A YAML document as a tree whose every node knows its line and column,
//! parsed with `serde-saphyr` (maintained, panic-free, with parsing budgets).

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::diagnostic::{index_key, join_key};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: u64,
    pub(crate) column: u64,
}

impl Pos {
    /// The start of the document.
    pub(crate) const START: Pos = Pos { line: 1, column: 1 };

    fn from_location(location: Location) -> Pos {
        if location.line() == 0 {
            Pos::START
        } else {
            Pos {
                line: location.line(),
                column: location.column().max(1),
            }
        }
    }
}

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) kind: NodeKind,
    pub(crate) pos: Pos,
    /// The source text of a scalar that is not a string (`5`, `true`, `1.0`),
    /// used when a string is wanted there.
    pub(crate) raw: Option<String>,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str {
        value: String,
        /// Written without quotes, so it may stand for a number or a boolean.
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a string scalar, or the source text of another scalar.
    pub(crate) fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str { value, .. } => Some(value),
            NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::UInt(_) | NodeKind::Float(_) => {
                self.raw.as_deref()
            }
            _ => None,
        }
    }

    /// The value of `key` in a mapping node.
    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<&(Node, Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.scalar_text() == Some(key)),
            _ => None,
        }
    }

    /// A short description of the node's type, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) | NodeKind::UInt(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str { .. } => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error with its position and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

/// Parses a whole YAML document. An empty document is a null node.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    };
    let raw: Option<Spanned<RawNode>> =
        serde_saphyr::from_str_with_options(text, options).map_err(|error| syntax_error(&error))?;
    Ok(match raw {
        Some(spanned) => convert(spanned, text),
        None => Node {
            kind: NodeKind::Null,
            pos: Pos::START,
            raw: None,
        },
    })
}

fn syntax_error(error: &serde_saphyr::Error) -> SyntaxError {
    let pos = error.location().map_or(Pos::START, Pos::from_location);
    let mut message = error.without_snippet().to_string();
    // The position is reported separately.
    let suffix = format!(" at line {}, column {}", pos.line, pos.column);
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_owned();
    }
    if let Some(stripped) = message.strip_prefix("error: ") {
        message = stripped.to_owned();
    }
    let prefix = format!("line {} column {}: ", pos.line, pos.column);
    if let Some(stripped) = message.strip_prefix(&prefix) {
        message = stripped.to_owned();
    }
    SyntaxError { pos, message }
}

/// The text a location's span covers, when byte offsets are known.
fn source_text(text: &str, location: Location) -> Option<String> {
    let span = location.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    text.get(start..start.checked_add(len)?).map(str::to_owned)
}

fn convert(spanned: Spanned<RawNode>, text: &str) -> Node {
    let pos = Pos::from_location(spanned.referenced);
    let defined_text = || source_text(text, spanned.defined);
    let (kind, raw) = match spanned.value {
        RawNode::Null => (NodeKind::Null, None),
        RawNode::Bool(b) => (NodeKind::Bool(b), defined_text()),
        RawNode::Int(i) => (NodeKind::Int(i), defined_text()),
        RawNode::UInt(u) => (NodeKind::UInt(u), defined_text()),
        RawNode::Float(f) => (NodeKind::Float(f), defined_text()),
        RawNode::Str(value) => {
            let plain = defined_text()
                .and_then(|t| t.chars().next())
                .is_some_and(|c| c != '"' && c != '\'');
            (NodeKind::Str { value, plain }, None)
        }
        RawNode::Seq(items) => (
            NodeKind::Seq(items.into_iter().map(|i| convert(i, text)).collect()),
            None,
        ),
        RawNode::Map(entries) => (
            NodeKind::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (convert(k, text), convert(v, text)))
                    .collect(),
            ),
            None,
        ),
    };
    Node { kind, pos, raw }
}

/// The tree as `serde-saphyr` hands it over.
enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<RawNode>, Spanned<RawNode>)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawNodeVisitor)
    }
}

struct RawNodeVisitor;

impl<'de> Visitor<'de> for RawNodeVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawNode, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
        Ok(RawNode::UInt(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawNode, E> {
        i64::try_from(v)
            .map(RawNode::Int)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawNode, E> {
        u64::try_from(v)
            .map(RawNode::UInt)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::Str(v))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<RawNode, E> {
        Err(E::custom("binary values are not supported"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(RawNode::Map(entries))
    }
}

/// Whether a syntax error's message is about indentation.
pub(crate) fn looks_like_indentation(message: &str) -> bool {
    [
        "indent",
        "block",
        "did not find expected",
        "mapping values are not allowed",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// The dotted key of the mappings enclosing `line`, judged by indentation
/// (for syntax errors, where no tree exists).
pub(crate) fn key_near(text: &str, line: u64) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(index) = usize::try_from(line).ok().and_then(|l| l.checked_sub(1)) else {
        return String::new();
    };
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let mut limit = lines.get(index).map_or(0, |l| indent(l));
    let mut keys = Vec::new();
    for candidate in lines.iter().take(index).rev() {
        let trimmed = candidate.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || indent(candidate) >= limit {
            continue;
        }
        limit = indent(candidate);
        if !trimmed.starts_with('-')
            && let Some((key, _)) = trimmed.split_once(':')
        {
            keys.push(
                key.trim()
                    .trim_matches(|c| c == '"' || c == '\'')
                    .to_owned(),
            );
        }
        if limit == 0 {
            break;
        }
    }
    keys.reverse();
    keys.join(".")
}

/// Where each dotted key's value is, for placing errors found after
/// deserialization.
pub(crate) struct PositionIndex {
    positions: HashMap<String, Pos>,
}

impl PositionIndex {
    pub(crate) fn build(node: &Node, key: &str) -> PositionIndex {
        let mut positions = HashMap::new();
        fn walk(node: &Node, key: &str, positions: &mut HashMap<String, Pos>) {
            positions.insert(key.to_owned(), node.pos);
            match &node.kind {
                NodeKind::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, &index_key(key, i), positions);
                    }
                }
                NodeKind::Map(entries) => {
                    for (k, v) in entries {
                        let child = join_key(key, k.scalar_text().unwrap_or("?"));
                        // An empty value (`secret_key:`) has no position of its own.
                        let value_pos = if v.kind == NodeKind::Null {
                            k.pos
                        } else {
                            v.pos
                        };
                        positions.insert(child.clone(), value_pos);
                        walk(v, &child, positions);
                        positions.insert(child, value_pos);
                    }
                }
                _ => {}
            }
        }
        walk(node, key, &mut positions);
        PositionIndex { positions }
    }

    /// The position of `key`, or of its nearest ancestor present in the file
    /// (a defaulted setting is placed at its section).
    pub(crate) fn find(&self, key: &str) -> Pos {
        let mut key = key;
        loop {
            if let Some(pos) = self.positions.get(key) {
                return *pos;
            }
            match key.rfind(['.', '[']) {
                Some(cut) => key = &key[..cut],
                None => return Pos::START,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_scalars() {
        let node = parse("a: 1\nb:\n  - 'x'\n  - y\nc: true\nd: 1.50\ne: yes\n").unwrap();
        let (key, value) = node.get("a").unwrap();
        assert_eq!(key.pos, Pos { line: 1, column: 1 });
        assert_eq!(value.kind, NodeKind::UInt(1));
        assert_eq!(value.scalar_text(), Some("1"));
        let (_, list) = node.get("b").unwrap();
        let NodeKind::Seq(items) = &list.kind else {
            panic!("{list:?}")
        };
        assert_eq!(items[0].pos, Pos { line: 3, column: 5 });
        assert!(matches!(&items[0].kind, NodeKind::Str { plain: false, .. }));
        assert!(matches!(&items[1].kind, NodeKind::Str { plain: true, .. }));
        assert_eq!(node.get("c").unwrap().1.kind, NodeKind::Bool(true));
        assert_eq!(node.get("d").unwrap().1.scalar_text(), Some("1.50"));
        // Only true and false are booleans: `yes` stays a string.
        assert!(
            matches!(&node.get("e").unwrap().1.kind, NodeKind::Str { value, .. } if value == "yes")
        );
    }

    #[test]
    fn empty_documents_are_null() {
        for text in ["", "# only a comment\n", "---\n"] {
            assert_eq!(parse(text).unwrap().kind, NodeKind::Null, "{text:?}");
        }
    }

    #[test]
    fn syntax_errors_have_a_position_and_a_bare_message() {
        let error = parse("a:\n  - x\n  b: 1\n").unwrap_err();
        assert_eq!(error.pos.line, 3, "{error:?}");
        assert!(!error.message.contains("line 3"), "{error:?}");
        let duplicate = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(duplicate.pos.line, 2);
        assert!(duplicate.message.contains("duplicate"), "{duplicate:?}");
    }

    #[test]
    fn key_near_follows_indentation() {
        let text = "webhooks:\n  endpoints:\n    - url: a\n      headers:\n        A: b\n\n     - url: c\n";
        assert_eq!(key_near(text, 7), "webhooks.endpoints");
        assert_eq!(key_near(text, 5), "webhooks.endpoints.headers");
        assert_eq!(key_near(text, 1), "");
    }
}
