//! Length limits on text sent to targets and on text received from them.

/// `text` cut to at most `max` characters (Unicode scalar values), ending with
/// `marker` when cut. The result, marker included, is never longer than `max`.
///
/// ```
/// use megabot_webhook_forward::truncate_chars;
///
/// assert_eq!(truncate_chars("short", 10, "…"), "short");
/// assert_eq!(truncate_chars("0123456789abc", 10, "…"), "012345678…");
/// ```
pub fn truncate_chars(text: &str, max: usize, marker: &str) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let marker_len = marker.chars().count();
    if marker_len >= max {
        return marker.chars().take(max).collect();
    }
    let mut out: String = text.chars().take(max - marker_len).collect();
    out.push_str(marker);
    out
}

#[cfg(any(
    feature = "slack",
    feature = "datadog",
    feature = "github",
    feature = "gitlab"
))]
/// Text received from a target (an error body), made safe for a log line and
/// an answer: control characters become spaces, runs of whitespace collapse,
/// and at most `max` characters are kept.
pub(crate) fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
    }
    truncate_chars(out.trim_end(), max, "…")
}

/// `snake_case_name` as `Snake Case Name`.
pub(crate) fn title_case(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_keeps_the_limit() {
        let text = "é".repeat(50);
        let cut = truncate_chars(&text, 10, "[cut]");
        assert_eq!(cut, format!("{}[cut]", "é".repeat(5)));
        assert_eq!(cut.chars().count(), 10);
        assert_eq!(truncate_chars("abcdef", 2, "[cut]"), "[c");
        assert_eq!(truncate_chars("", 0, "x"), "");
    }

    #[cfg(any(
        feature = "slack",
        feature = "datadog",
        feature = "github",
        feature = "gitlab"
    ))]
    #[test]
    fn sanitize_collapses_and_caps() {
        assert_eq!(sanitize("  invalid_payload\n", 100), "invalid_payload");
        assert_eq!(sanitize("a\r\n\tb\u{0}c", 100), "a b c");
        assert_eq!(sanitize(&"x".repeat(500), 10).chars().count(), 10);
    }

    #[test]
    fn titles() {
        assert_eq!(title_case("tool_execution_failed"), "Tool Execution Failed");
        assert_eq!(title_case("_odd__name_"), "Odd Name");
    }
}
