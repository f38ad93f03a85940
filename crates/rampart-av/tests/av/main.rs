//! The antivirus clients against real clamd and c-icap processes (started per test by
//! `rampart_test_support::antivirus`, on loopback and in temp dirs).

// Helpers outside `#[test]` functions panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cache;
mod clamd;
mod common;
mod icap;
mod scanner;
