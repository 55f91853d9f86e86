//! Typed MegaBot webhook events: the envelope, one struct per event's `data`,
//! header names, and the JSON writer that produces MegaBot's exact body bytes.
//!
//! This crate is serde only: no I/O, no crypto. Verification lives in
//! `megabot-webhook-verify`, framework integration in `megabot-webhook-adapters`.
//!
//! # Example
//!
//! ```
//! use megabot_webhook_types::{Event, EventPayload, Severity};
//!
//! let body = br#"{"event":"error_occurred","id":"evt_123462","timestamp":1640995205,
//!   "data":{"error_id":"err_789","type":"LLMProviderError","message":"rate limit","severity":"error"}}"#;
//! let event = Event::from_slice(body)?;
//! match &event.payload {
//!     EventPayload::ErrorOccurred(error) => {
//!         assert_eq!(error.error_type.as_deref(), Some("LLMProviderError"));
//!         assert!(error.severity >= Some(Severity::Warning));
//!     }
//!     EventPayload::Unknown { event, .. } => println!("newer event {event}"),
//!     other => println!("{}", other.name()),
//! }
//! assert_eq!(event.timestamp.timestamp(), 1640995205);
//! # Ok::<(), megabot_webhook_types::ParseError>(())
//! ```
//!
//! # Forward compatibility
//!
//! A newer MegaBot never breaks a receiver: unknown fields are kept in each
//! struct's `extra`, unknown enum values in an `Other`/`Unknown` variant,
//! unknown event names arrive as [`EventPayload::Unknown`], and a known event
//! whose `data` no longer fits its struct arrives as
//! [`EventPayload::Malformed`] with the raw JSON and the reason.
//!
//! # Modules
//!
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `schema` | no | [`schema`]: the JSON Schema (2020-12) of the envelope and every event's `data`, generated from these types with `schemars` (docs/design.md 9.10) |

pub mod data;
mod envelope;
mod error;
mod event;
mod event_name;
pub mod examples;
pub mod guide_json;
pub mod headers;
mod open_enum;
mod platform;
#[cfg(feature = "schema")]
pub mod schema;
mod severity;
mod status;

pub use envelope::EnvelopeHead;
pub use error::ParseError;
pub use event::{Event, EventPayload};
pub use event_name::EventName;
pub use platform::Platform;
pub use severity::Severity;
pub use status::{ExecutionStatus, MessageType, SystemStatus};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
