//! The typed phases a request goes through: connection -> head -> body -> response.
//!
//! A check is written against one phase type. [`BufferedRequest`] can only be built by
//! [`crate::body::read_bounded`], so a body check cannot run on an unbounded body.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;

use crate::id::RequestId;

/// What is known when a connection arrives, before any HTTP is read.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The peer address as seen on the socket.
    pub peer: SocketAddr,
    /// The local address the connection arrived on.
    pub local: SocketAddr,
    /// TLS facts, absent on plaintext listeners.
    pub tls: Option<TlsFacts>,
    /// State the checks keep for the life of the connection (the edge's screening keeps
    /// the client's clean cookie values and referers here).
    pub extensions: http::Extensions,
}

/// TLS facts of a connection.
#[derive(Debug, Clone, Default)]
pub struct TlsFacts {
    /// Negotiated version, e.g. `TLSv1_3`.
    pub version: String,
    /// Server name the client asked for.
    pub sni: Option<String>,
    /// Negotiated application protocol.
    pub alpn: Option<String>,
}

/// The request head, with the facts every check may need.
#[derive(Debug)]
pub struct RequestHead {
    /// Method, URI, version and headers as received (after header hygiene).
    pub parts: http::request::Parts,
    /// The request id minted by the edge.
    pub request_id: RequestId,
    /// The client's address: the socket peer, or what a trusted proxy reported.
    pub client_ip: IpAddr,
    /// The connection the request arrived on.
    pub connection: Arc<Connection>,
}

/// A request whose body was read completely within its limits.
#[derive(Debug)]
pub struct BufferedRequest {
    /// The head.
    pub head: RequestHead,
    pub(crate) body: Bytes,
}

impl BufferedRequest {
    /// The complete body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Takes the request apart again, e.g. to forward it.
    pub fn into_parts(self) -> (RequestHead, Bytes) {
        (self.head, self.body)
    }
}

/// The backend's response head, before its body streams to the client.
#[derive(Debug)]
pub struct ResponseHead {
    /// Status and headers from the backend.
    pub parts: http::response::Parts,
    /// The request id of the exchange.
    pub request_id: RequestId,
}

/// Marker for the types a [`crate::Check`] can inspect; gives each phase its name in logs.
pub trait Phase: Send + Sync + 'static {
    /// The phase's name in logs and metrics.
    const NAME: &'static str;
}

impl Phase for Connection {
    const NAME: &'static str = "connection";
}
impl Phase for RequestHead {
    const NAME: &'static str = "head";
}
impl Phase for BufferedRequest {
    const NAME: &'static str = "body";
}
impl Phase for ResponseHead {
    const NAME: &'static str = "response";
}
