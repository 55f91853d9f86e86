//! "Did you mean" suggestions for unknown keys, values and event names.

/// The candidate closest to `word`, if one is close enough to be a likely typo,
/// or else the one sharing the longest start with it when that start is most
/// of `word` (`chat_message` → `chat_message_received`).
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let word_lower = word.to_ascii_lowercase();
    let word_len = word_lower.chars().count();
    let limit = (word_len / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    let mut prefixed: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let candidate_lower = candidate.to_ascii_lowercase();
        if candidate_lower == word_lower {
            return Some(candidate);
        }
        let distance = levenshtein(&word_lower, &candidate_lower);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
        let common = word_lower
            .chars()
            .zip(candidate_lower.chars())
            .take_while(|(a, b)| a == b)
            .count();
        if common >= 4 && common * 3 >= word_len * 2 && prefixed.is_none_or(|(c, _)| common > c) {
            prefixed = Some((common, candidate));
        }
    }
    best.or(prefixed).map(|(_, c)| c)
}

/// ` (did you mean `x`?)` or an empty string.
pub(crate) fn hint<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match did_you_mean(word, candidates) {
        Some(candidate) => format!(" (did you mean `{candidate}`?)"),
        None => String::new(),
    }
}

/// Edit distance in characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos_and_prefixes() {
        let fields = [
            "url",
            "events",
            "headers",
            "filters",
            "retry_policy",
            "secret",
        ];
        assert_eq!(did_you_mean("retry_polcy", fields), Some("retry_policy"));
        assert_eq!(did_you_mean("event", fields), Some("events"));
        assert_eq!(did_you_mean("Headers", fields), Some("headers"));
        assert_eq!(did_you_mean("colour", fields), None);
        let events = [
            "chat_message_received",
            "chat_message_sent",
            "tool_execution_failed",
        ];
        assert_eq!(
            did_you_mean("chat_message", events),
            Some("chat_message_received")
        );
        assert_eq!(
            did_you_mean("tool_execution_faild", events),
            Some("tool_execution_failed")
        );
        assert_eq!(hint("xyz", events), "");
        assert_eq!(hint("evnts", fields), " (did you mean `events`?)");
    }

    #[test]
    fn distance() {
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("ü", "u"), 1);
    }
}
