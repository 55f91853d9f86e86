//! One module per command.

pub(crate) mod sign;
pub(crate) mod verify;
