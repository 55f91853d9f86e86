//! Constant-time verification and signing of MegaBot and Standard Webhooks deliveries,
//! with a replay guard.
//!
//! A [`Verifier`] checks a delivery's raw body and headers in design 4.3's order — body
//! size, signature (constant time, every entry against every configured secret), event
//! envelope, freshness — and yields a [`Verified`] event whose id, name and timestamp
//! all come from authenticated data. [`Verifier::claim`] then takes the delivery id in
//! the [`ReplayGuard`] so that a retried delivery runs exactly once. The same secrets
//! sign deliveries through [`sign`]. The core depends on no web framework and no `http`
//! crate; adapters implement [`Headers`] for their header map.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use chrono::DateTime;
//! use megabot_webhook_verify::{Scheme, Secret, Verifier, sign};
//!
//! let verifier = Verifier::builder()
//!     .megabot_secret(Secret::new("your_webhook_secret")?)
//!     .tolerance(Duration::from_secs(300))
//!     .build()?;
//!
//! let body = br#"{"event":"error_occurred","id":"evt_123462","timestamp":1640995205,"data":{"error_id":"err_789","type":"LLMProviderError","message":"rate limit","severity":"error"}}"#;
//! let signature = sign::megabot_signature(&Secret::new("your_webhook_secret")?, body);
//! let headers = [("X-MegaBot-Signature", signature.as_str())];
//!
//! let now = DateTime::from_timestamp(1_640_995_210, 0).expect("valid time");
//! let verified = verifier.verify_at(&headers, body, now)?;
//! assert_eq!(verified.delivery.scheme, Scheme::MegaBot);
//! assert_eq!(verified.delivery.delivery_id, "evt_123462");
//! assert_eq!(verified.event.name(), "error_occurred");
//!
//! // A changed byte, or a clock 10 minutes later, is refused.
//! let mut tampered = body.to_vec();
//! tampered[10] ^= 1;
//! assert_eq!(verifier.verify_at(&headers, &tampered, now).unwrap_err().code(), "signature_mismatch");
//! let later = DateTime::from_timestamp(1_640_995_805, 0).expect("valid time");
//! assert_eq!(verifier.verify_at(&headers, body, later).unwrap_err().status(), 401);
//! # Ok::<(), megabot_webhook_verify::Error>(())
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `redis` | no | `RedisReplayGuard`: a Redis [`ReplayGuard`] shared by receivers on several instances (needs a Tokio runtime) |
//!
//! # Modules
//!
//! - [`sign`]: signature header values for both schemes.
//! - [`signature`]: signature-only checks over arbitrary content.
//! - [`replay`]: the [`ReplayGuard`] trait, [`Claim`], [`ClaimOutcome`] and the in-memory
//!   store ([`replay::memory`]).
//! - [`dangerous`]: options that weaken verification (skipping the timestamp check).
//!
//! # Re-exports
//!
//! [`Verifier`], [`VerifierBuilder`], [`Verified`], [`Authenticated`], [`Secret`], [`StandardSecret`],
//! [`StandardSigningKey`], [`StandardPublicKey`],
//! [`Scheme`], [`Headers`], [`Error`], [`ReplayGuard`], [`Claim`], [`ClaimOutcome`],
//! [`MemoryReplayGuard`], the defaults [`DEFAULT_TOLERANCE`], [`DEFAULT_MAX_BODY_SIZE`],
//! [`DEFAULT_REPLAY_CAPACITY`] and [`DEFAULT_IN_FLIGHT_TTL`], and the event type [`Event`] from `megabot-webhook-types`.

mod builder;
pub mod dangerous;
mod error;
mod freshness;
mod headers;
mod keys;
pub mod replay;
mod scheme;
mod secret;
pub mod sign;
pub mod signature;
mod verified;
mod verifier;

pub use builder::{
    DEFAULT_MAX_BODY_SIZE, DEFAULT_REPLAY_CAPACITY, DEFAULT_TOLERANCE, VerifierBuilder,
};
pub use error::Error;
pub use headers::Headers;
pub use keys::{StandardPublicKey, StandardSigningKey};
pub use megabot_webhook_types::Event;
pub use replay::memory::MemoryReplayGuard;
#[cfg(feature = "redis")]
pub use replay::redis::{
    DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT, RedisReplayGuard, RedisReplayGuardBuilder,
    RedisStoreError,
};
pub use replay::{Claim, ClaimOutcome, DEFAULT_IN_FLIGHT_TTL, ReplayGuard};
pub use scheme::Scheme;
pub use secret::{Secret, StandardSecret};
pub use verified::{Authenticated, Verified};
pub use verifier::Verifier;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
