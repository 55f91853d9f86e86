//! Runnable examples for the MegaBot webhook SDK: one minimal receiver per framework
//! (`receiver_axum`, `receiver_actix`, `receiver_warp`) and the forwarders.
