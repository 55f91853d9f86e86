//! One module per command.

pub(crate) mod check_config;
pub(crate) mod demo;
pub(crate) mod keys;
pub(crate) mod listen;
pub(crate) mod publish;
pub(crate) mod redeliver;
pub(crate) mod schema;
pub(crate) mod send;
pub(crate) mod serve;
pub(crate) mod sign;
pub(crate) mod verify;
