//! Producing signature header values for both schemes.
//!
//! These are the values a sender puts in `X-MegaBot-Signature` and
//! `webhook-signature`; the verifier checks them with the same keyed state. Each scheme
//! signs and checks in its own module (`scheme/megabot.rs`, `scheme/standard.rs`); this
//! is their public path.

pub use crate::scheme::megabot::{megabot_signature, megabot_signatures};
pub use crate::scheme::standard::{
    standard_signature, standard_signatures, standard_v1a_signature, standard_v1a_signatures,
};
