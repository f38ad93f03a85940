//! End-to-end scenarios: a client talks to the edge, the edge to the inner tier over
//! mutual-TLS gRPC, the inner to a backend — all real processes and sockets on
//! 127.0.0.1 ephemeral ports, with fresh rcgen certificates per test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod aborts;
mod adminlogin;
mod alerts;
mod antivirus;
mod auth;
mod balance;
mod common;
mod dashboard;
mod docs;
mod failures;
mod feeds;
mod h3;
mod hygiene;
mod identity;
mod inspection;
mod large;
mod lifecycle;
mod linkmode;
mod memory;
mod metrics;
mod openapi;
mod ops;
mod passthrough;
mod protections;
mod push;
mod ratelimit;
mod reload;
mod response;
mod rulemode;
mod tls;
mod undocumented;
mod up;
mod versioning;
mod xsd;
