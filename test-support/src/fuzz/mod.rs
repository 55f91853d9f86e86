//! The checks the fuzz targets in `../fuzz` run, one function per target.
//!
//! Each function takes the fuzzer's raw bytes, drives one input path of the SDK, and
//! panics when a property does not hold (a panic is what the fuzzer reports). The
//! corpus replay tests (`tests/fuzz_corpus.rs`) call the same functions on every file of
//! `fuzz/corpus/<target>/`, so the corpus is checked on stable in CI.
//!
//! | target | function |
//! |---|---|
//! | `megabot_signature_header` | [`megabot_signature_header`] |
//! | `standard_headers` | [`standard_headers`] |
//! | `verify_request` | [`verify_request`] |
//! | `event_parse` | [`event_parse`] |
//! | `guide_json` | [`guide_json`] |
//! | `config_load` | [`config_load`] |
//! | `dead_letter_record` | [`dead_letter_record`] |
//! | `standard_v1a_keys` | [`standard_v1a_keys`] |
//! | `standard_v1a_header` | [`standard_v1a_header`] |

use chrono::{DateTime, Utc};
use megabot_webhook_verify::{Secret, StandardSecret};

mod events;
mod sender;
mod signatures;

pub use events::{event_parse, guide_json};
pub use sender::{CONFIG_ENV, config_load, dead_letter_record, dead_letter_record_authentic};
pub use signatures::{
    V1A_SEED, megabot_signature_header, standard_headers, standard_v1a_header,
    standard_v1a_header_accepts, standard_v1a_keys, verify_request, verify_request_accepts,
};

/// A fuzz target's check: panics when a property does not hold for the input.
pub type Check = fn(&[u8]);

/// Every fuzz target, by name, with the function it runs.
pub const TARGETS: &[(&str, Check)] = &[
    ("megabot_signature_header", megabot_signature_header),
    ("standard_headers", standard_headers),
    ("verify_request", verify_request),
    ("event_parse", event_parse),
    ("guide_json", guide_json),
    ("config_load", config_load),
    ("dead_letter_record", dead_letter_record),
    ("standard_v1a_keys", standard_v1a_keys),
    ("standard_v1a_header", standard_v1a_header),
];

/// The MegaBot secrets the targets use (two: key rotation).
pub const MEGABOT_SECRETS: [&str; 2] = ["your_webhook_secret", "next_webhook_secret"];

/// The Standard Webhooks secret the targets use (the specification's example).
pub const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The clock of the targets that check freshness (unix seconds).
pub const NOW: i64 = 1_640_995_300;

fn megabot_secrets() -> [Secret; 2] {
    MEGABOT_SECRETS.map(|secret| Secret::new(secret).expect("valid secret"))
}

fn standard_secret() -> StandardSecret {
    StandardSecret::parse(STANDARD_SECRET).expect("valid secret")
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).expect("in range")
}

/// True when `token` is one of `header`'s entries as the verifier splits them.
fn has_entry(header: &str, token: &str) -> bool {
    header.split_ascii_whitespace().any(|entry| entry == token)
}
