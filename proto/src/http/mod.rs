//! HTTP, transport-neutral: the request and response types every driver shares, and an
//! incremental HTTP/1.1 codec for the drivers that own their sockets.
//!
//! Provider request builders produce a [`Request`]; a driver sends it however it can
//! (ureq, its own socket with this module's codec, the browser's fetch) and feeds the
//! [`ResponseHead`] and body bytes back to the core.
//!
//! The codec does no I/O and keeps no buffer of its own: the caller appends what it reads
//! to its buffer, hands the codec a slice, and drops the bytes the codec says it consumed.
//! Decoders consume nothing until a whole head is present, and every limit ([`Limits`])
//! fails as soon as it is passed.
//!
//! - **Client**: [`encode_request`] → write the bytes → [`ResponseDecoder::decode_head`]
//!   on what has arrived (1xx interim heads are skipped) → [`ResponseDecoder::body_decoder`]
//!   → [`BodyDecoder::decode`] until [`BodyDecoder::is_done`], or [`BodyDecoder::finish_eof`]
//!   when the connection ends → reuse the connection unless
//!   [`ResponseDecoder::close_reason`] says why not.
//! - **Server**: [`RequestDecoder::decode_head`] → [`encode_continue`] if
//!   [`RequestHead::expects_continue`] → [`RequestDecoder::body_decoder`] → respond with
//!   [`encode_response`], or [`encode_sse_head`] then [`encode_sse_event`]s on a
//!   close-delimited stream → next request from the leftover bytes. A decode error is
//!   answered with [`encode_error_response`]`(`[`status_for`]`(&error))` and a close.
//!
//! A POST whose response arrives chunked:
//!
//! ```
//! use cm_proto::http::{encode_request, Headers, Method, Request, ResponseDecoder};
//!
//! let request = Request {
//!     method: Method::Post,
//!     url: "https://api.example.com/v1/messages".into(),
//!     headers: [("content-type", "application/json")].into_iter().collect::<Headers>(),
//!     body: b"{}".to_vec(),
//! };
//! let mut sent = Vec::new();
//! encode_request(&request, &mut sent)?;
//! assert_eq!(
//!     sent,
//!     b"POST /v1/messages HTTP/1.1\r\n\
//!       Host: api.example.com\r\n\
//!       content-type: application/json\r\n\
//!       Content-Length: 2\r\n\
//!       \r\n\
//!       {}"
//! );
//!
//! let received = b"HTTP/1.1 200 OK\r\n\
//!     Transfer-Encoding: chunked\r\n\
//!     \r\n\
//!     5;ext=1\r\nhello\r\n\
//!     0\r\n\r\n";
//! let mut response = ResponseDecoder::new(Method::Post);
//!
//! // Half a head: nothing is consumed, read more.
//! assert_eq!(response.decode_head(&received[..20])?, None);
//!
//! let (head_len, head) = response.decode_head(received)?.expect("the whole head is here");
//! assert_eq!((head_len, head.status), (47, 200));
//!
//! let mut body = response.body_decoder().expect("a head was decoded");
//! let mut data = Vec::new();
//! let body_len = body.decode(&received[head_len..], &mut data)?;
//! assert_eq!((body_len, data.as_slice()), (21, &b"hello"[..]));
//! assert!(body.is_done());
//! assert_eq!(head_len + body_len, received.len());
//! assert_eq!(response.close_reason(), None); // the connection can be reused
//! # Ok::<(), cm_proto::http::Error>(())
//! ```

mod body;
mod chunked;
mod client;
mod close;
mod error;
mod event_stream;
mod field;
mod framing;
mod head;
mod headers;
mod limits;
mod reply;
mod server;
mod url;

pub use body::BodyDecoder;
pub use chunked::{encode_chunk, encode_last_chunk};
pub use client::{encode_request, ResponseDecoder};
pub use close::CloseReason;
pub use error::Error;
pub use event_stream::{encode_sse_comment, encode_sse_event, encode_sse_head};
pub use framing::Framing;
pub use headers::Headers;
pub use limits::Limits;
pub use reply::{
    encode_continue, encode_error_response, encode_response, reason_phrase, status_for,
};
pub use server::{RequestDecoder, RequestHead};
pub use url::{Scheme, Url, UrlError};

/// The HTTP/1.x version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0: connections close after each exchange unless keep-alive is asked for.
    Http10,
    /// HTTP/1.1.
    Http11,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Marsaglia's xorshift64: enough randomness to wander through the decoders' states.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A plausible message (start line, headers, blank line, body pieces) with a few random
    /// bytes overwritten, so inputs reach the header, framing and body paths.
    fn random_message(rng: &mut XorShift) -> Vec<u8> {
        const START: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.0 200 OK\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 204 No Content\r\n",
            b"GET / HTTP/1.1\r\n",
            b"POST /x?y HTTP/1.1\r\n",
        ];
        const HEADERS: &[&[u8]] = &[
            b"Host: h\r\n",
            b"Content-Length: 5\r\n",
            b"Content-Length: 7\r\n",
            b"Content-Length: 99999999999999999999\r\n",
            b"Transfer-Encoding: chunked\r\n",
            b"Transfer-Encoding: gzip\r\n",
            b"Connection: close\r\n",
            b"Expect: 100-continue\r\n",
            b"X-A: b\r\n",
        ];
        const BODY: &[&[u8]] = &[
            b"5\r\nhello\r\n",
            b"3;ext=\"v\"\r\nabc\r\n",
            b"0\r\n\r\n",
            b"0\r\nTrailer: x\r\n\r\n",
            b"ffffffffffffffffff\r\n",
            b"hello",
            b"\r\n",
        ];
        let mut out = START[rng.below(START.len())].to_vec();
        for _ in 0..rng.below(5) {
            out.extend_from_slice(HEADERS[rng.below(HEADERS.len())]);
        }
        out.extend_from_slice(b"\r\n");
        for _ in 0..rng.below(5) {
            out.extend_from_slice(BODY[rng.below(BODY.len())]);
        }
        for _ in 0..rng.below(3) {
            let at = rng.below(out.len());
            out[at] = rng.next() as u8;
        }
        out
    }

    /// Runs every decoder over `input` split at `split`; any result is fine, a panic is not.
    /// Returns how many heads decoded, to show the input reached past the first line.
    fn exercise(input: &[u8], split: usize, limits: Limits) -> usize {
        let mut heads = 0;
        let split = split.min(input.len());
        let mut response = ResponseDecoder::with_limits(Method::Get, limits);
        let _ = response.decode_head(&input[..split]);
        if let Ok(Some((used, _))) = response.decode_head(input) {
            heads += 1;
            if let Some(mut body) = response.body_decoder() {
                let mut out = Vec::new();
                let rest = &input[used..];
                let first = body.decode(&rest[..split.min(rest.len())], &mut out);
                if let Ok(n) = first {
                    let _ = body.decode(&rest[n..], &mut out);
                }
                let _ = body.finish_eof();
                assert!(out.len() <= rest.len());
            }
        }

        let requests = RequestDecoder::new(limits);
        let mut offset = 0;
        while let Ok(Some((used, head))) = requests.decode_head(&input[offset..]) {
            let Ok(mut body) = requests.body_decoder(&head) else {
                break;
            };
            heads += 1;
            offset += used;
            match body.decode(&input[offset..], &mut Vec::new()) {
                Ok(n) if body.is_done() => offset += n,
                _ => break,
            }
        }

        for framing in [
            Framing::NoBody,
            Framing::ContentLength(7),
            Framing::Chunked,
            Framing::CloseDelimited,
        ] {
            let mut body = BodyDecoder::new(framing, &limits);
            let mut out = Vec::new();
            if let Ok(n) = body.decode(&input[..split], &mut out) {
                let _ = body.decode(&input[n..], &mut out);
            }
            let _ = body.finish_eof();
        }
        let _ = Url::parse(&String::from_utf8_lossy(input));
        heads
    }

    #[test]
    fn decoders_never_panic_on_random_input() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let tight = Limits {
            max_head_bytes: 48,
            max_headers: 2,
            max_body_bytes: Some(4),
            max_chunk_line_bytes: 6,
        };
        let mut heads = 0;
        for _ in 0..500 {
            let input = random_message(&mut rng);
            let split = rng.below(input.len() + 1);
            heads += exercise(&input, split, Limits::default());
            heads += exercise(&input, split, tight);
        }
        assert!(heads >= 100, "only {heads} random inputs got past the head");
        for _ in 0..200 {
            let input: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            exercise(&input, rng.below(input.len() + 1), Limits::default());
        }
    }
}
