//! The ICAP (RFC 3507) antivirus client.
//!
//! The protocol parts (`proto` encoding, [`response`] parsing, [`options`]) do no I/O;
//! [`IcapClient`] drives them over TCP. Only a 204 means clean: a 200 is a finding, and any
//! other status, a malformed answer or a deadline is a [`crate::ScanError`].

mod client;
mod conn;
pub mod options;
pub(crate) mod proto;
pub mod response;
mod url;

pub use client::IcapClient;
pub use options::IcapOptions;
pub use response::{IcapResponse, MODIFIED_BY_ICAP};
pub use url::{IcapUrl, IcapUrlError};
