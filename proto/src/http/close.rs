//! Why a connection cannot carry another message after this one.

use std::fmt;

/// The reason a connection must be closed after the current exchange.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent `Connection: close`.
    ConnectionClose,
    /// The peer speaks HTTP/1.0 and did not ask for keep-alive.
    Http10,
    /// The response body ends only when the connection does.
    CloseDelimitedBody,
    /// The request carried both `Content-Length` and `Transfer-Encoding`; RFC 9112 §6.1
    /// requires closing after answering it, as it may be a smuggling attempt.
    AmbiguousFraming,
    /// The server answered 101 Switching Protocols; the connection no longer speaks HTTP/1.1.
    SwitchingProtocols,
}

impl CloseReason {
    /// A short explanation for logs.
    pub fn explain(&self) -> &'static str {
        match self {
            CloseReason::ConnectionClose => "peer sent connection: close",
            CloseReason::Http10 => "http/1.0 without keep-alive",
            CloseReason::CloseDelimitedBody => "body is delimited by closing the connection",
            CloseReason::AmbiguousFraming => {
                "request had both content-length and transfer-encoding"
            }
            CloseReason::SwitchingProtocols => "peer switched protocols",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explain())
    }
}
