//! axum, actix-web and warp integration for verified, exactly-once MegaBot webhooks.

#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a framework feature the shared plumbing (body reading, claims) has no caller;
// it is still compiled and unit-tested.
#![cfg_attr(
    not(any(feature = "axum", feature = "actix-web", feature = "warp")),
    allow(dead_code)
)]

#[cfg(feature = "actix-web")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix-web")))]
pub mod actix_web;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod decode;
mod error;
pub mod headers;
mod idempotency;
mod read;
mod receive;
mod response;
mod trace;
#[cfg(feature = "warp")]
#[cfg_attr(docsrs, doc(cfg(feature = "warp")))]
pub mod warp;
mod webhook;

pub use error::Error;
pub use megabot_webhook_verify::{Scheme, Verified, Verifier};
pub use response::ErrorResponse;
pub use webhook::Webhook;
