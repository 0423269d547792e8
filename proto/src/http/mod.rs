//! HTTP, transport-neutral: the request and response types every driver shares, and an
//! incremental HTTP/1.1 codec for the drivers that own their sockets.
//!
//! Provider request builders produce a [`Request`]; a driver sends it however it can
//! (ureq, its own socket with this module's codec, the browser's fetch) and feeds the
//! [`ResponseHead`] and body bytes back to the core.

mod headers;

pub use headers::Headers;

/// An HTTP method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// Any other token, as received.
    Other(String),
}

impl Method {
    /// The method as it appears on the request line.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(m) => m,
        }
    }

    /// The method named by a request-line token (case-sensitive, as HTTP defines it).
    pub fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        }
    }
}

/// A complete outgoing request: what a provider builder produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The absolute URL (`https://api.anthropic.com/v1/messages`).
    pub url: String,
    /// Headers, in order; `host` and `content-length` are added by the codec.
    pub headers: Headers,
    /// The body; empty for none.
    pub body: Vec<u8>,
}

/// The status line and headers of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The reason phrase, as sent (may be empty).
    pub reason: String,
    /// The headers, in order.
    pub headers: Headers,
}

impl ResponseHead {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}
