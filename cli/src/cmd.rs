//! One module per command.

pub(crate) mod listen;
pub(crate) mod sign;
pub(crate) mod verify;
