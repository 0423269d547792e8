//! The one error type of the HTTP codec: each variant names the rule the bytes broke.

use std::fmt;

use super::url::UrlError;

/// A violation of HTTP/1.1 framing or of a configured limit.
///
/// Decoders that return an error leave the connection in an unknown state: the caller
/// answers (a server with [`status_for`](super::status_for)) and closes it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The head (status or request line plus headers) grew past the limit before it ended.
    HeadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The head has more header lines than allowed.
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The head is not valid HTTP/1.x; carries httparse's description.
    InvalidHead(String),
    /// The version is not HTTP/1.0 or HTTP/1.1 (an HTTP/2 preface lands here).
    UnsupportedVersion,
    /// An HTTP/1.1 request has no `Host` header, or more than one.
    InvalidHostHeader,
    /// A `Content-Length` value is not a decimal number that fits in 64 bits.
    InvalidContentLength,
    /// Several `Content-Length` values disagree.
    ConflictingContentLength,
    /// `Transfer-Encoding` names a coding other than a single `chunked`.
    UnsupportedTransferEncoding,
    /// A chunk-size line is not hex digits, optional extensions and CRLF, or overflows.
    InvalidChunkSize,
    /// A chunk-size line is longer than allowed.
    ChunkLineTooLong {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// Chunk data, a trailer line or the final chunk is not followed by CRLF.
    ChunkMissingCrlf,
    /// The trailer section after the last chunk grew past the limit.
    TrailersTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body is, or announces that it will be, larger than allowed.
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The connection ended before the body did.
    UnexpectedEof {
        /// Body bytes received before the end.
        received: u64,
        /// The announced length, for a `Content-Length` body; `None` for chunked.
        expected: Option<u64>,
    },
    /// The URL is not an absolute `http://` or `https://` URL this codec can send.
    InvalidUrl(UrlError),
    /// A method is not an HTTP token.
    InvalidMethod,
    /// A header to encode has a name that is not a token or a value with CR, LF or controls.
    InvalidHeaderField {
        /// The header name, as given.
        name: String,
    },
    /// A status to encode is not a three-digit code.
    InvalidStatus(u16),
    /// A reason phrase to encode contains CR, LF or control characters.
    InvalidReason,
    /// A response with this status (1xx, 204, 304) must not carry a body.
    BodyNotAllowed {
        /// The status code.
        status: u16,
    },
    /// An SSE event name or id contains CR, LF (or, for an id, NUL), which would end the field.
    InvalidSseField {
        /// `"event"` or `"id"`.
        field: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::HeadTooLarge { limit } => write!(f, "http head larger than {limit} bytes"),
            Error::TooManyHeaders { limit } => write!(f, "more than {limit} headers"),
            Error::InvalidHead(why) => write!(f, "invalid http head: {why}"),
            Error::UnsupportedVersion => f.write_str("unsupported http version"),
            Error::InvalidHostHeader => f.write_str("http/1.1 request without exactly one host"),
            Error::InvalidContentLength => f.write_str("invalid content-length"),
            Error::ConflictingContentLength => f.write_str("conflicting content-length values"),
            Error::UnsupportedTransferEncoding => f.write_str("unsupported transfer-encoding"),
            Error::InvalidChunkSize => f.write_str("invalid chunk size line"),
            Error::ChunkLineTooLong { limit } => {
                write!(f, "chunk size line longer than {limit} bytes")
            }
            Error::ChunkMissingCrlf => f.write_str("chunk not followed by crlf"),
            Error::TrailersTooLarge { limit } => write!(f, "trailers larger than {limit} bytes"),
            Error::BodyTooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            Error::UnexpectedEof {
                received,
                expected: Some(expected),
            } => write!(
                f,
                "connection closed after {received} of {expected} body bytes"
            ),
            Error::UnexpectedEof {
                received,
                expected: None,
            } => write!(
                f,
                "connection closed inside a chunked body after {received} bytes"
            ),
            Error::InvalidUrl(why) => write!(f, "invalid url: {why}"),
            Error::InvalidMethod => f.write_str("invalid method"),
            Error::InvalidHeaderField { name } => write!(f, "invalid header field {name:?}"),
            Error::InvalidStatus(status) => write!(f, "invalid status code {status}"),
            Error::InvalidReason => f.write_str("invalid reason phrase"),
            Error::BodyNotAllowed { status } => {
                write!(f, "a {status} response must not have a body")
            }
            Error::InvalidSseField { field } => {
                write!(f, "sse {field} contains a line break")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Error {
        Error::InvalidUrl(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_short_and_lowercase() {
        assert_eq!(
            Error::HeadTooLarge { limit: 65536 }.to_string(),
            "http head larger than 65536 bytes"
        );
        assert_eq!(
            Error::UnexpectedEof {
                received: 3,
                expected: Some(10)
            }
            .to_string(),
            "connection closed after 3 of 10 body bytes"
        );
        assert_eq!(
            Error::InvalidUrl(UrlError::UnsupportedScheme).to_string(),
            "invalid url: scheme is not http or https"
        );
    }
}
