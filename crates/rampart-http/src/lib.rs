//! The edge's HTTP-layer safety logic, kept apart from the server that uses it.
//!
//! What it holds:
//! - [`h1`]: a byte-level HTTP/1 framing guard that sees every request head and body frame
//!   before hyper does, and refuses the smuggling shapes hyper normalises away
//!   (REFERENCE §1);
//! - [`h2`]: an HTTP/2 frame guard that caps SETTINGS, PING, WINDOW_UPDATE and other
//!   control-frame floods hyper does not limit (REFERENCE §2);
//! - [`io`]: [`GuardedIo`], the thin tokio adapter that feeds a connection's bytes to those
//!   guards, and its [`Ledger`] of per-request verdicts;
//! - [`url`]: request-target normalisation (decode once, resolve dot segments, refuse
//!   ambiguous encodings, re-encode canonically);
//! - [`client_ip`]: who the client is, from the socket, `X-Forwarded-For`, `Forwarded` or
//!   the PROXY protocol, trusting headers only from configured proxies;
//! - [`proxy_protocol`]: PROXY protocol v1/v2 parsing and the replaying [`PrefixedIo`];
//! - [`iplist`]: CIDR sets, list files, hot reloading and allow/deny policies;
//! - [`feeds`]: threat-intelligence feed formats, update checks and the swapped copy.
//!
//! What it does not do: no listening, no TLS, no HTTP serving, no responses. The guards
//! are pure state machines (feed bytes, get decisions; time is passed in); the edge
//! decides what a violation turns into (a 400, a closed connection, an audit record).

pub mod client_ip;
pub mod config;
pub mod feeds;
pub mod h1;
pub mod h2;
pub mod io;
pub mod iplist;
pub mod proxy_protocol;
pub mod url;

pub use client_ip::{ClientIp, ClientIpConfig, ClientIpResolver, IpSource};
pub use config::ConfigError;
pub use h1::{FramingViolation, H1Config, H1Guard, H1Limits, HeadVerdict};
pub use h2::{H2Config, H2Guard, H2Limits, H2Violation};
pub use io::{GuardLimits, GuardedIo, Ledger, Protocol, Violation};
pub use iplist::{
    Cidr, IpDecision, IpListError, IpListWatcher, IpLists, IpPolicy, IpPolicyConfig, IpSet,
    ReloadEvent,
};
pub use proxy_protocol::{
    PrefixedIo, ProxyError, ProxyHeader, parse_proxy_header, read_proxy_header,
};
pub use url::{Normalized, UrlError, normalize_target};
