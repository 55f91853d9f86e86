//! What the workspace's tests share (not published):
//!
//! - [`RedisServer`]: a throw-away `redis-server` per test, on loopback;
//! - [`fuzz`] (feature `fuzz`): the checks the fuzz targets in `../fuzz` run, one
//!   function per target, shared with the corpus replay test (`tests/fuzz_corpus.rs`),
//!   so the corpus is checked on stable in CI.

#[cfg(feature = "fuzz")]
pub mod fuzz;
mod redis_server;

pub use redis_server::RedisServer;
