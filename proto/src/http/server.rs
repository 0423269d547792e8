//! The server side, decoding: request heads and the body decoder for each, one request
//! after another on the same buffer (pipelining).

use super::body::BodyDecoder;
use super::close::CloseReason;
use super::error::Error;
use super::field::has_token;
use super::framing::{request_framing, Framing};
use super::head::parse_request_line;
use super::headers::Headers;
use super::limits::Limits;
use super::{Method, Version};

/// A decoded request line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target as sent: usually path and query (`/v1/chat?x=1`).
    pub target: String,
    /// The HTTP version.
    pub version: Version,
    /// The headers, in order.
    pub headers: Headers,
}

impl RequestHead {
    /// The target up to `?`.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The query after `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// Whether the client waits for `100 Continue` before sending the body
    /// (`Expect: 100-continue` on HTTP/1.1; HTTP/1.0 clients never wait).
    pub fn expects_continue(&self) -> bool {
        self.version == Version::Http11 && has_token(&self.headers, "expect", "100-continue")
    }

    /// How the body is delimited; a request without length headers has none.
    pub fn framing(&self) -> Result<Framing, Error> {
        request_framing(&self.headers)
    }

    /// Why the connection must close after answering this request, if it must.
    pub fn close_reason(&self) -> Option<CloseReason> {
        if has_token(&self.headers, "connection", "close") {
            Some(CloseReason::ConnectionClose)
        } else if self.version == Version::Http10
            && !has_token(&self.headers, "connection", "keep-alive")
        {
            Some(CloseReason::Http10)
        } else if self.headers.contains("content-length")
            && self.headers.contains("transfer-encoding")
        {
            Some(CloseReason::AmbiguousFraming)
        } else {
            None
        }
    }
}

/// Decodes requests arriving on one connection.
///
/// For each request: [`decode_head`](Self::decode_head) until it returns a head, answer
/// `100 Continue` if [`RequestHead::expects_continue`], read the body with
/// [`body_decoder`](Self::body_decoder), respond, and start again on the leftover bytes
/// unless [`RequestHead::close_reason`] says otherwise.
#[derive(Debug, Clone, Default)]
pub struct RequestDecoder {
    limits: Limits,
}

impl RequestDecoder {
    /// A decoder with these limits; set `max_body_bytes` to refuse large uploads.
    pub fn new(limits: Limits) -> RequestDecoder {
        RequestDecoder { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Decodes the request head at the start of `input`.
    ///
    /// Returns `None`, consuming nothing, until the whole head is present. Besides a
    /// malformed or oversized head, it fails on a missing `Host` (HTTP/1.1), unusable
    /// framing, and a `Content-Length` over `max_body_bytes`, so an upload that is too large
    /// is refused before its first byte is read. Empty lines before the request line are
    /// skipped.
    pub fn decode_head(&self, input: &[u8]) -> Result<Option<(usize, RequestHead)>, Error> {
        let Some(line) = parse_request_line(input, self.limits.max_head_bytes, &self.limits)?
        else {
            return Ok(None);
        };
        let head = RequestHead {
            method: Method::from_token(&line.method),
            target: line.target,
            version: line.version,
            headers: line.headers,
        };
        if head.version == Version::Http11 && head.headers.get_all("host").count() != 1 {
            return Err(Error::InvalidHostHeader);
        }
        if let (Framing::ContentLength(length), Some(limit)) =
            (head.framing()?, self.limits.max_body_bytes)
        {
            if length > limit {
                return Err(Error::BodyTooLarge { limit });
            }
        }
        Ok(Some((line.used, head)))
    }

    /// The decoder for the body of `head`, bounded by the limits.
    pub fn body_decoder(&self, head: &RequestHead) -> Result<BodyDecoder, Error> {
        Ok(BodyDecoder::new(head.framing()?, &self.limits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::status_for;

    fn decode_one(
        decoder: &RequestDecoder,
        input: &[u8],
    ) -> Result<(usize, RequestHead, Vec<u8>), Error> {
        let (head_len, head) = decoder.decode_head(input)?.expect("whole head");
        let mut body = decoder.body_decoder(&head)?;
        let mut data = Vec::new();
        let body_len = body.decode(&input[head_len..], &mut data)?;
        assert!(body.is_done());
        Ok((head_len + body_len, head, data))
    }

    const GET: &[u8] =
        b"GET /v1/models?limit=5 HTTP/1.1\r\nHost: localhost:8080\r\nAccept: */*\r\n\r\n";

    #[test]
    fn decodes_a_request_head() {
        let decoder = RequestDecoder::default();
        for end in 0..GET.len() {
            assert_eq!(decoder.decode_head(&GET[..end]), Ok(None), "{end}");
        }
        let (used, head) = decoder.decode_head(GET).unwrap().unwrap();
        assert_eq!(used, GET.len());
        assert_eq!(
            head,
            RequestHead {
                method: Method::Get,
                target: "/v1/models?limit=5".into(),
                version: Version::Http11,
                headers: [("Host", "localhost:8080"), ("Accept", "*/*")]
                    .into_iter()
                    .collect(),
            }
        );
        assert_eq!((head.path(), head.query()), ("/v1/models", Some("limit=5")));
        assert_eq!(head.framing(), Ok(Framing::NoBody));
        assert_eq!(head.close_reason(), None);
        assert!(!head.expects_continue());
    }

    #[test]
    fn pipelined_requests_decode_one_after_the_other() {
        let first = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
        let second = b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
            3\r\nbye\r\n0\r\n\r\n";
        let buffer = [&first[..], second, GET].concat();
        let decoder = RequestDecoder::default();

        let (used1, head1, body1) = decode_one(&decoder, &buffer).unwrap();
        assert_eq!(used1, first.len());
        assert_eq!(
            (head1.target.as_str(), body1.as_slice()),
            ("/a", &b"hello"[..])
        );
        let (used2, head2, body2) = decode_one(&decoder, &buffer[used1..]).unwrap();
        assert_eq!(used2, second.len());
        assert_eq!(
            (head2.target.as_str(), body2.as_slice()),
            ("/b", &b"bye"[..])
        );
        let (used3, head3, body3) = decode_one(&decoder, &buffer[used1 + used2..]).unwrap();
        assert_eq!(
            (used3, head3.method, body3.len()),
            (GET.len(), Method::Get, 0)
        );
    }

    #[test]
    fn body_over_the_limit_is_rejected_from_content_length() {
        let decoder = RequestDecoder::new(Limits {
            max_body_bytes: Some(1024),
            ..Limits::default()
        });
        let head = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n";
        let error = decoder.decode_head(head).unwrap_err();
        assert_eq!(error, Error::BodyTooLarge { limit: 1024 });
        assert_eq!(status_for(&error), 413);
        let fits = b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\n\r\n";
        assert!(decoder.decode_head(fits).unwrap().is_some());
    }

    #[test]
    fn expect_100_continue_is_reported() {
        let decoder = RequestDecoder::default();
        let input =
            b"PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
        let (used, head) = decoder.decode_head(input).unwrap().unwrap();
        assert_eq!(used, input.len());
        assert!(head.expects_continue());
        let old = b"PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        let (_, head) = decoder.decode_head(old).unwrap().unwrap();
        assert!(!head.expects_continue());
        assert_eq!(head.close_reason(), Some(CloseReason::Http10));
    }

    #[test]
    fn an_oversized_upload_waiting_for_100_continue_is_refused_instead() {
        // The head alone decides: the server answers 413 and never sends `100 Continue`.
        let decoder = RequestDecoder::new(Limits {
            max_body_bytes: Some(10),
            ..Limits::default()
        });
        let input = b"POST /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\
            Content-Length: 11\r\n\r\n";
        for end in 0..input.len() {
            assert_eq!(decoder.decode_head(&input[..end]), Ok(None), "{end}");
        }
        let error = decoder.decode_head(input).unwrap_err();
        assert_eq!(error, Error::BodyTooLarge { limit: 10 });
        let mut out = Vec::new();
        crate::http::encode_error_response(status_for(&error), &mut out).unwrap();
        assert!(out.starts_with(b"HTTP/1.1 413 Content Too Large\r\n"));
    }

    #[test]
    fn framing_rules_for_requests() {
        let decoder = RequestDecoder::default();
        let both = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\
            Transfer-Encoding: chunked\r\n\r\n";
        let (_, head) = decoder.decode_head(both).unwrap().unwrap();
        assert_eq!(head.framing(), Ok(Framing::Chunked));
        assert_eq!(head.close_reason(), Some(CloseReason::AmbiguousFraming));

        let gzip = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n";
        let error = decoder.decode_head(gzip).unwrap_err();
        assert_eq!(error, Error::UnsupportedTransferEncoding);
        assert_eq!(status_for(&error), 501);

        let no_host = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(decoder.decode_head(no_host), Err(Error::InvalidHostHeader));
        let two_hosts = b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
        assert_eq!(
            decoder.decode_head(two_hosts),
            Err(Error::InvalidHostHeader)
        );
        let close = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n";
        let (_, head) = decoder.decode_head(close).unwrap().unwrap();
        assert_eq!(head.close_reason(), Some(CloseReason::ConnectionClose));
    }

    #[test]
    fn garbage_and_http2_preface_are_rejected() {
        let decoder = RequestDecoder::default();
        let error = decoder
            .decode_head(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .unwrap_err();
        assert_eq!(error, Error::UnsupportedVersion);
        assert_eq!(status_for(&error), 505);
        // A TLS ClientHello sent to a plain-text port.
        assert!(matches!(
            decoder.decode_head(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            Err(Error::InvalidHead(_))
        ));
        assert!(matches!(
            decoder.decode_head(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"),
            Err(Error::InvalidHead(_))
        ));
    }

    #[test]
    fn request_head_limits() {
        let decoder = RequestDecoder::new(Limits {
            max_head_bytes: 40,
            max_headers: 2,
            ..Limits::default()
        });
        assert_eq!(
            decoder.decode_head(b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            Err(Error::HeadTooLarge { limit: 40 })
        );
        assert_eq!(
            decoder.decode_head(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n"),
            Err(Error::TooManyHeaders { limit: 2 })
        );
    }
}
