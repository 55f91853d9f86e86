//! Runnable examples for the MegaBot webhook SDK.
//!
//! Minimal receivers, one per framework — run with the secret in the environment:
//!
//! ```text
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret cargo run -p megabot-webhook-examples --bin receiver_axum
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret cargo run -p megabot-webhook-examples --bin receiver_actix
//! MEGABOT_WEBHOOK_SECRET=your_webhook_secret cargo run -p megabot-webhook-examples --bin receiver_warp
//! ```
//!
//! Each listens on `MEGABOT_WEBHOOK_ADDR` (default `127.0.0.1:3000`) and serves
//! `POST /webhook`. This library holds what they share: [`receiver`].

pub mod forward;
pub mod receiver;
