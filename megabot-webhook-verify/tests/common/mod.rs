//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use chrono::{DateTime, Utc};

/// The clock at `secs` unix seconds.
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("time in range")
}

/// A valid `error_occurred` envelope with this id and timestamp (any JSON number text).
pub fn body(id: &str, timestamp: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"error_occurred","id":"{id}","timestamp":{timestamp},"data":{{"error_id":"err_1","type":"LLMProviderError","message":"rate limit","severity":"error"}}}}"#
    )
    .into_bytes()
}

/// `(name, value)` header pairs from string slices.
pub fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}
