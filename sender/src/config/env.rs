//! `${VAR}` and `${VAR:-default}` expansion in config values.
//!
//! - `${NAME}`: the variable's value; an unset variable is an error.
//! - `${NAME:-default}`: the value, or `default` when the variable is unset or
//!   empty (as in the shell). The default is taken literally and ends at the
//!   first `}`.
//! - `$${` writes a literal `${`; any other `$` is kept as it is.
//!
//! `NAME` is `[A-Za-z_][A-Za-z0-9_]*`. Only values are expanded, never keys.
//! Values are never shown in messages: only variable names.

use super::yaml::{Node, NodeKind, Pos};
use crate::diagnostic::{index_key, join_key};

/// Looks a variable up (the process environment, or a map in tests).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// `${NAME}` with `NAME` unset.
    Missing(String),
    /// A `${` without its `}`.
    Unterminated,
    /// `${...}` whose inside is not `NAME` or `NAME:-default`.
    Invalid(String),
}

impl ExpandError {
    pub(crate) fn message(&self) -> String {
        match self {
            ExpandError::Missing(name) => {
                format!(
                    "environment variable `{name}` is not set (use `${{{name}:-default}}` for a default)"
                )
            }
            ExpandError::Unterminated => "`${` without a closing `}`".to_owned(),
            ExpandError::Invalid(inside) => format!(
                "invalid variable reference `${{{inside}}}`: expected `${{NAME}}` or `${{NAME:-default}}`"
            ),
        }
    }
}

/// Expands every reference in `input`. `Ok(None)` when there is none, so
/// that unchanged values are not copied.
#[cfg(test)]
pub(crate) fn expand(input: &str, env: EnvLookup<'_>) -> Result<Option<String>, ExpandError> {
    expand_collecting(input, env, &mut Vec::new())
}

/// Expands every reference in `input` (`Ok(None)` when there is none),
/// pushing each variable's substituted value onto `values`.
fn expand_collecting(
    input: &str,
    env: EnvLookup<'_>,
    values: &mut Vec<String>,
) -> Result<Option<String>, ExpandError> {
    if !input.contains("${") {
        return Ok(None);
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or(ExpandError::Unterminated)?;
            let value = resolve(&tail[..end], env)?;
            out.push_str(&value);
            values.push(value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}

fn resolve(inside: &str, env: EnvLookup<'_>) -> Result<String, ExpandError> {
    let (name, default) = match inside.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inside, None),
    };
    if !is_name(name) {
        return Err(ExpandError::Invalid(inside.to_owned()));
    }
    match (env(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_owned()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(ExpandError::Missing(name.to_owned())),
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An expansion error placed in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeError {
    pub(crate) pos: Pos,
    pub(crate) key: String,
    pub(crate) message: String,
}

/// Expands every string value under `node` (whose key is `key`). An expanded
/// value may then stand for a number or a boolean (`max_attempts: ${N}`).
#[cfg(test)]
pub(crate) fn expand_tree(node: &mut Node, key: &str, env: EnvLookup<'_>) -> Result<(), TreeError> {
    expand_tree_collecting(node, key, env, &mut Vec::new())
}

/// As `expand_tree`, pushing every value that came from an expansion (each
/// variable's value and each whole expanded string) onto `values`, so that
/// later messages can redact them.
pub(crate) fn expand_tree_collecting(
    node: &mut Node,
    key: &str,
    env: EnvLookup<'_>,
    values: &mut Vec<String>,
) -> Result<(), TreeError> {
    let pos = node.pos;
    match &mut node.kind {
        NodeKind::Str { value, plain } => {
            match expand_collecting(value, env, values) {
                Ok(Some(expanded)) => {
                    values.push(expanded.clone());
                    *value = expanded;
                    *plain = true;
                }
                Ok(None) => {}
                Err(error) => {
                    return Err(TreeError {
                        pos,
                        key: key.to_owned(),
                        message: error.message(),
                    });
                }
            }
            Ok(())
        }
        NodeKind::Seq(items) => items.iter_mut().enumerate().try_for_each(|(i, item)| {
            expand_tree_collecting(item, &index_key(key, i), env, values)
        }),
        NodeKind::Map(entries) => entries.iter_mut().try_for_each(|(k, v)| {
            let child = join_key(key, k.scalar_text().unwrap_or("?"));
            expand_tree_collecting(v, &child, env, values)
        }),
        _ => Ok(()),
    }
}

/// `message` with every whole-token occurrence of each of `values` (those
/// that came from `${VAR}` expansions) replaced by `[redacted]`. A token
/// boundary is any character that is not alphanumeric or `_`, so that a
/// short value such as `5` is not cut out of `50`.
pub(crate) fn redact_values(message: &str, values: &[String]) -> String {
    let mut sorted: Vec<&str> = values
        .iter()
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .collect();
    sorted.sort_by_key(|v| std::cmp::Reverse(v.len()));
    sorted.dedup();
    let mut out = message.to_owned();
    for value in sorted {
        let word = |c: char| c.is_alphanumeric() || c == '_';
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        let mut before: Option<char> = None;
        while let Some(at) = rest.find(value) {
            let prev = rest[..at].chars().next_back().or(before);
            let next = rest[at + value.len()..].chars().next();
            let starts_word = value.chars().next().is_some_and(word);
            let ends_word = value.chars().next_back().is_some_and(word);
            let bounded =
                !((starts_word && prev.is_some_and(word)) || (ends_word && next.is_some_and(word)));
            if bounded {
                result.push_str(&rest[..at]);
                result.push_str("[redacted]");
                before = Some(']');
                rest = &rest[at + value.len()..];
            } else {
                let step = at + rest[at..].chars().next().map_or(1, char::len_utf8);
                result.push_str(&rest[..step]);
                before = rest[..step].chars().next_back();
                rest = &rest[step..];
            }
        }
        result.push_str(rest);
        out = result;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("abc".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_references() {
        let cases = [
            ("token ${TOKEN}", "token abc"),
            ("${TOKEN}${TOKEN}", "abcabc"),
            ("${MISSING:-fallback}", "fallback"),
            ("${EMPTY:-fallback}", "fallback"),
            ("${TOKEN:-fallback}", "abc"),
            ("${MISSING:-}", ""),
            ("${MISSING:-a:-b}", "a:-b"),
            ("cost: $5 ${TOKEN}", "cost: $5 abc"),
            ("$${TOKEN} ${TOKEN}", "${TOKEN} abc"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                expand(input, &env).unwrap().as_deref(),
                Some(expected),
                "{input}"
            );
        }
        assert_eq!(expand("no references", &env).unwrap(), None);
        assert_eq!(expand("cost: $5", &env).unwrap(), None);
        assert_eq!(
            expand("end ${TOKEN} $", &env).unwrap().as_deref(),
            Some("end abc $")
        );
        assert_eq!(expand("${EMPTY}", &env).unwrap().as_deref(), Some(""));
    }

    #[test]
    fn errors_name_the_variable_never_a_value() {
        assert_eq!(
            expand("${NOPE}", &env),
            Err(ExpandError::Missing("NOPE".into()))
        );
        assert_eq!(expand("${TOKEN", &env), Err(ExpandError::Unterminated));
        assert_eq!(
            expand("${1X}", &env),
            Err(ExpandError::Invalid("1X".into()))
        );
        assert_eq!(
            expand("${A-b}", &env),
            Err(ExpandError::Invalid("A-b".into()))
        );
        assert_eq!(
            expand("${}", &env),
            Err(ExpandError::Invalid(String::new()))
        );
        let message = ExpandError::Missing("WEBHOOK_SECRET_KEY".into()).message();
        assert!(
            message.starts_with("environment variable `WEBHOOK_SECRET_KEY` is not set"),
            "{message}"
        );
    }

    #[test]
    fn expanded_values_are_redacted_as_whole_tokens() {
        let values = vec!["sk_live_42".to_owned(), "5".to_owned(), String::new()];
        assert_eq!(
            redact_values(
                r#"invalid type: string "sk_live_42", expected u32"#,
                &values
            ),
            r#"invalid type: string "[redacted]", expected u32"#
        );
        assert_eq!(
            redact_values("must be at most 50, not 5", &values),
            "must be at most 50, not [redacted]"
        );
        assert_eq!(redact_values("xsk_live_42", &values), "xsk_live_42");
    }

    #[test]
    fn tree_errors_carry_position_and_key() {
        let mut node = super::super::yaml::parse("a:\n  b: [x, \"${NOPE}\"]\n").unwrap();
        let error = expand_tree(&mut node, "", &env).unwrap_err();
        assert_eq!(error.key, "a.b[1]");
        assert_eq!((error.pos.line, error.pos.column), (2, 10));
    }
}
