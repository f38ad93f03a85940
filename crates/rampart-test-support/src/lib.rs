//! Fixtures for Rampart's tests: a fresh PKI per test, backends that echo, stall or
//! stream, tier processes with their logs and memory, and clients for HTTP/1.1 (also
//! raw bytes) and HTTP/2 over TLS. Everything binds 127.0.0.1 ephemeral ports.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod antivirus;
pub mod backend;
pub mod client;
pub mod idp;
pub mod pki;
pub mod process;
pub mod redis;
pub mod stack;
