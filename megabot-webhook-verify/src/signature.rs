//! Signature-only checks: parse a signature header and compare, in constant time,
//! every well-formed entry against every configured secret.
//!
//! [`Verifier`](crate::Verifier) uses these and then parses the body and checks
//! freshness; call them directly to check a signature over content that is not an
//! event envelope (test vectors, the CLI). Each scheme signs and checks in its own module
//! (`scheme/megabot.rs`, `scheme/standard.rs`); this is their public path.

pub use crate::scheme::megabot::verify_megabot_signature;
pub use crate::scheme::standard::{
    has_v1a_entry, verify_standard_signature, verify_standard_v1a_signature,
};
