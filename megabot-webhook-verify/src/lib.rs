//! Verification of MegaBot webhook deliveries.
