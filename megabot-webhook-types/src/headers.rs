//! Header names and fixed header values of a MegaBot delivery (design 3).
//!
//! Only the signature headers are trusted: `X-MegaBot-Event`, `-Delivery` and
//! `-Timestamp` are not covered by the MegaBot signature, so receivers take the
//! same values from the verified body instead.

/// `X-MegaBot-Signature`: `sha256=<64 hex>`, several entries separated by spaces during key rotation.
pub const SIGNATURE: &str = "X-MegaBot-Signature";
/// `X-MegaBot-Event`: the event name (unsigned, informational).
pub const EVENT: &str = "X-MegaBot-Event";
/// `X-MegaBot-Delivery`: the event id (unsigned, informational).
pub const DELIVERY: &str = "X-MegaBot-Delivery";
/// `X-MegaBot-Timestamp`: the event's unix seconds (unsigned, informational).
pub const TIMESTAMP: &str = "X-MegaBot-Timestamp";
/// `User-Agent` header name.
pub const USER_AGENT: &str = "User-Agent";
/// The `User-Agent` value MegaBot sends.
pub const USER_AGENT_VALUE: &str = "MegaBot-Webhook/1.0";
/// `Content-Type` header name.
pub const CONTENT_TYPE: &str = "Content-Type";
/// The `Content-Type` value of every delivery.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// Standard Webhooks `webhook-id`: the event id, part of the signed content.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Standard Webhooks `webhook-timestamp`: the attempt's unix seconds, part of the signed content.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks `webhook-signature`: space-separated `v1,<base64>` entries.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
