//! Typed MegaBot webhook events.
