//! The client side: encode a [`Request`], then decode its response head and pick the body
//! decoder for it.

use super::body::BodyDecoder;
use super::close::CloseReason;
use super::error::Error;
use super::field::{all_or_nothing, has_token, is_token, write_field, write_fields_except};
use super::framing::{response_framing, Framing};
use super::head::{parse_status_head, StatusHead};
use super::limits::Limits;
use super::url::Url;
use super::{Method, Request, ResponseHead, Version};

/// Appends the request's bytes to `out`: request line with the URL's path and query,
/// `Host`, the request's headers, `Content-Length`, then the body.
///
/// The codec owns `Host`, `Content-Length` and `Transfer-Encoding`: such headers in the
/// request are not sent. `Content-Length` is written when there is a body, and always for
/// POST, PUT and PATCH. On error `out` is left as it was.
pub fn encode_request(request: &Request, out: &mut Vec<u8>) -> Result<(), Error> {
    let url = Url::parse(&request.url)?;
    let method = request.method.as_str();
    if !is_token(method) {
        return Err(Error::InvalidMethod);
    }
    all_or_nothing(out, |out| {
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(url.target().as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        write_field("Host", &url.authority(), out)?;
        write_fields_except(
            &request.headers,
            &["host", "content-length", "transfer-encoding"],
            out,
        )?;
        let method_sends_body =
            matches!(request.method, Method::Post | Method::Put | Method::Patch);
        if !request.body.is_empty() || method_sends_body {
            write_field("Content-Length", &request.body.len().to_string(), out)?;
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&request.body);
        Ok(())
    })
}

/// What the decoder learned from the final head.
#[derive(Debug, Clone, Copy)]
struct Final {
    version: Version,
    framing: Framing,
    close: Option<CloseReason>,
}

/// Decodes the response to one request.
///
/// Call [`decode_head`](Self::decode_head) with everything received so far until it
/// returns a head, then decode the rest with [`body_decoder`](Self::body_decoder).
#[derive(Debug, Clone)]
pub struct ResponseDecoder {
    method: Method,
    limits: Limits,
    last: Option<Final>,
}

impl ResponseDecoder {
    /// A decoder for the response to a request made with `method` (a HEAD response has no
    /// body), with default [`Limits`].
    pub fn new(method: Method) -> ResponseDecoder {
        ResponseDecoder::with_limits(method, Limits::default())
    }

    /// A decoder with explicit limits.
    pub fn with_limits(method: Method, limits: Limits) -> ResponseDecoder {
        ResponseDecoder {
            method,
            limits,
            last: None,
        }
    }

    /// Decodes the final response head at the start of `input`.
    ///
    /// Returns `None`, consuming nothing, until a whole final head is present; interim 1xx
    /// heads (100 Continue, 103 Early Hints) before it are skipped and counted in the bytes
    /// consumed. 101 Switching Protocols is returned as final. Fails on a malformed head,
    /// a head over the limits, or unusable body framing (conflicting `Content-Length`).
    pub fn decode_head(&mut self, input: &[u8]) -> Result<Option<(usize, ResponseHead)>, Error> {
        let mut offset = 0;
        loop {
            let rest = input.get(offset..).unwrap_or_default();
            let budget = self.limits.max_head_bytes.saturating_sub(offset);
            let Some(parsed) = parse_status_head(rest, budget, &self.limits)? else {
                return Ok(None);
            };
            offset = offset.saturating_add(parsed.used);
            if (100..200).contains(&parsed.status) && parsed.status != 101 {
                continue;
            }
            let framing = response_framing(&self.method, parsed.status, &parsed.headers)?;
            self.last = Some(Final {
                version: parsed.version,
                framing,
                close: close_reason(&parsed, framing),
            });
            let head = ResponseHead {
                status: parsed.status,
                reason: parsed.reason,
                headers: parsed.headers,
            };
            return Ok(Some((offset, head)));
        }
    }

    /// The body decoder for the last decoded head; `None` before a head was decoded.
    pub fn body_decoder(&self) -> Option<BodyDecoder> {
        self.last
            .map(|last| BodyDecoder::new(last.framing, &self.limits))
    }

    /// Why the connection must close after this response, or `None` if it can be reused
    /// once the body has been read; `None` before a head was decoded.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.last.and_then(|last| last.close)
    }

    /// The HTTP version of the last decoded head.
    pub fn version(&self) -> Option<Version> {
        self.last.map(|last| last.version)
    }
}

fn close_reason(head: &StatusHead, framing: Framing) -> Option<CloseReason> {
    if head.status == 101 {
        Some(CloseReason::SwitchingProtocols)
    } else if has_token(&head.headers, "connection", "close") {
        Some(CloseReason::ConnectionClose)
    } else if head.version == Version::Http10
        && !has_token(&head.headers, "connection", "keep-alive")
    {
        Some(CloseReason::Http10)
    } else if framing == Framing::CloseDelimited {
        Some(CloseReason::CloseDelimitedBody)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;

    fn request(method: Method, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
        Request {
            method,
            url: url.into(),
            headers: headers.iter().copied().collect(),
            body: body.to_vec(),
        }
    }

    fn encoded(request: &Request) -> Result<String, Error> {
        let mut out = Vec::new();
        encode_request(request, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn encodes_a_post_with_body() {
        let r = request(
            Method::Post,
            "https://api.anthropic.com/v1/messages?beta=true",
            &[
                ("x-api-key", "k"),
                ("Host", "evil"),
                ("content-length", "999"),
            ],
            b"{\"a\":1}",
        );
        assert_eq!(
            encoded(&r).unwrap(),
            "POST /v1/messages?beta=true HTTP/1.1\r\nHost: api.anthropic.com\r\n\
             x-api-key: k\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        );
    }

    #[test]
    fn content_length_only_with_a_body_or_for_methods_that_send_one() {
        let get = request(Method::Get, "http://localhost:11434", &[], b"");
        assert_eq!(
            encoded(&get).unwrap(),
            "GET / HTTP/1.1\r\nHost: localhost:11434\r\n\r\n"
        );
        let put = request(Method::Put, "http://[::1]:8080/x", &[], b"");
        assert_eq!(
            encoded(&put).unwrap(),
            "PUT /x HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Length: 0\r\n\r\n"
        );
        let delete = request(Method::Delete, "https://h/a", &[], b"1");
        assert_eq!(
            encoded(&delete).unwrap(),
            "DELETE /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n1"
        );
    }

    #[test]
    fn encoding_errors_leave_out_untouched() {
        let mut out = b"before".to_vec();
        let bad_header = request(Method::Get, "http://h/", &[("X", "a\r\nB: c")], b"");
        assert_eq!(
            encode_request(&bad_header, &mut out),
            Err(Error::InvalidHeaderField { name: "X".into() })
        );
        let bad_method = request(Method::Other("GE T".into()), "http://h/", &[], b"");
        assert_eq!(
            encode_request(&bad_method, &mut out),
            Err(Error::InvalidMethod)
        );
        let bad_url = request(Method::Get, "ftp://h/", &[], b"");
        assert_eq!(
            encode_request(&bad_url, &mut out),
            Err(Error::InvalidUrl(crate::http::UrlError::UnsupportedScheme))
        );
        assert_eq!(out, b"before");
    }

    /// Decodes a whole response for `method`: head, then the body in one go.
    fn decode(
        method: Method,
        input: &[u8],
    ) -> Result<(usize, ResponseHead, Vec<u8>, BodyDecoder), Error> {
        let mut decoder = ResponseDecoder::new(method);
        let (head_len, head) = decoder.decode_head(input)?.expect("whole head");
        let mut body = decoder.body_decoder().expect("after a head");
        let mut data = Vec::new();
        let body_len = body.decode(&input[head_len..], &mut data)?;
        Ok((head_len + body_len, head, data, body))
    }

    const CONTENT_LENGTH: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}";

    #[test]
    fn every_strict_prefix_of_a_head_consumes_nothing() {
        let head_len = CONTENT_LENGTH.len() - 7;
        let mut decoder = ResponseDecoder::new(Method::Get);
        for end in 0..head_len {
            assert_eq!(
                decoder.decode_head(&CONTENT_LENGTH[..end]),
                Ok(None),
                "{end}"
            );
            assert!(decoder.body_decoder().is_none());
        }
        let (used, head) = decoder
            .decode_head(&CONTENT_LENGTH[..head_len])
            .unwrap()
            .unwrap();
        assert_eq!(used, head_len);
        assert_eq!(
            head,
            ResponseHead {
                status: 200,
                reason: "OK".into(),
                headers: [
                    ("Content-Type", "application/json"),
                    ("Content-Length", "7")
                ]
                .into_iter()
                .collect::<Headers>(),
            }
        );
        assert_eq!(decoder.version(), Some(Version::Http11));
    }

    #[test]
    fn content_length_body() {
        let (used, _, data, body) = decode(Method::Get, CONTENT_LENGTH).unwrap();
        assert_eq!(
            (used, data.as_slice()),
            (CONTENT_LENGTH.len(), &b"{\"a\":1}"[..])
        );
        assert!(body.is_done());
        assert_eq!(body.framing(), Framing::ContentLength(7));
    }

    #[test]
    fn interim_responses_are_skipped() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\n\
            HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
            HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        let interim_len = 25 + 59;
        let mut decoder = ResponseDecoder::new(Method::Post);
        assert_eq!(decoder.decode_head(&input[..interim_len]), Ok(None));
        assert_eq!(decoder.decode_head(&input[..interim_len + 10]), Ok(None));
        let (used, head) = decoder.decode_head(input).unwrap().unwrap();
        assert_eq!((used, head.status), (input.len() - 2, 201));
        assert_eq!(head.headers.get("link"), None);
    }

    #[test]
    fn interim_heads_count_toward_the_head_limit() {
        let limits = Limits {
            max_head_bytes: 40,
            ..Limits::default()
        };
        let mut decoder = ResponseDecoder::with_limits(Method::Get, limits);
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(
            decoder.decode_head(input),
            Err(Error::HeadTooLarge { limit: 40 })
        );
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        4;foo=bar\r\nWiki\r\n\
        7\r\npedia i\r\n\
        B ; x\r\nn \r\nchunks.\r\n\
        0\r\nExpires: never\r\n\r\n";

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let (used, head, data, body) = decode(Method::Get, CHUNKED).unwrap();
        assert_eq!(used, CHUNKED.len());
        assert_eq!(data, b"Wikipedia in \r\nchunks.");
        assert!(body.is_done());
        assert_eq!(head.headers.get("expires"), None);
    }

    #[test]
    fn chunked_response_split_at_every_byte() {
        for split in 0..=CHUNKED.len() {
            let mut decoder = ResponseDecoder::new(Method::Get);
            let mut buffer = CHUNKED[..split].to_vec();
            let mut data = Vec::new();
            let head = match decoder.decode_head(&buffer).unwrap() {
                Some((used, _)) => {
                    buffer.drain(..used);
                    true
                }
                None => false,
            };
            buffer.extend_from_slice(&CHUNKED[split..]);
            if !head {
                let (used, _) = decoder.decode_head(&buffer).unwrap().unwrap();
                buffer.drain(..used);
            }
            let mut body = decoder.body_decoder().unwrap();
            let used = body.decode(&buffer, &mut data).unwrap();
            assert_eq!(used, buffer.len(), "split at {split}");
            assert_eq!(data, b"Wikipedia in \r\nchunks.", "split at {split}");
            assert!(body.is_done());
        }
    }

    #[test]
    fn bad_chunks_are_typed_errors() {
        let bad_size = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert_eq!(
            decode(Method::Get, bad_size).err(),
            Some(Error::InvalidChunkSize)
        );
        let no_crlf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc";
        assert_eq!(
            decode(Method::Get, no_crlf).err(),
            Some(Error::ChunkMissingCrlf)
        );
    }

    #[test]
    fn close_delimited_body_ends_at_eof_and_closes() {
        let input = b"HTTP/1.1 200 OK\r\n\r\nevery byte until close";
        let (used, _, data, mut body) = decode(Method::Get, input).unwrap();
        assert_eq!(
            (used, data.as_slice()),
            (input.len(), &b"every byte until close"[..])
        );
        assert!(!body.is_done());
        assert_eq!(body.finish_eof(), Ok(()));
        let mut decoder = ResponseDecoder::new(Method::Get);
        decoder.decode_head(input).unwrap();
        assert_eq!(
            decoder.close_reason(),
            Some(CloseReason::CloseDelimitedBody)
        );
    }

    #[test]
    fn close_reasons() {
        let reason = |input: &[u8]| {
            let mut decoder = ResponseDecoder::new(Method::Get);
            decoder.decode_head(input).unwrap().unwrap();
            decoder.close_reason()
        };
        assert_eq!(
            reason(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n"),
            Some(CloseReason::ConnectionClose)
        );
        assert_eq!(
            reason(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
            Some(CloseReason::Http10)
        );
        assert_eq!(
            reason(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"),
            None
        );
        assert_eq!(reason(b"HTTP/1.1 204 No Content\r\n\r\n"), None);
        assert_eq!(
            reason(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
            Some(CloseReason::SwitchingProtocols)
        );
    }

    #[test]
    fn head_204_and_304_have_no_body() {
        let next = b"HTTP/1.1 200 OK\r\n";
        let cases: [(Method, &[u8]); 3] = [
            (
                Method::Head,
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
            ),
            (
                Method::Get,
                b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
            ),
            (
                Method::Get,
                b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            ),
        ];
        for (method, head) in cases {
            let input = [head, next].concat();
            let (used, _, data, body) = decode(method, &input).unwrap();
            assert_eq!((used, data.len()), (head.len(), 0));
            assert_eq!(body.framing(), Framing::NoBody);
            assert!(body.is_done());
        }
    }

    #[test]
    fn conflicting_content_length_is_rejected_at_the_head() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
        let mut decoder = ResponseDecoder::new(Method::Get);
        assert_eq!(
            decoder.decode_head(input),
            Err(Error::ConflictingContentLength)
        );
    }

    #[test]
    fn a_huge_header_line_fails_as_soon_as_it_passes_the_limit() {
        let limit = Limits::default().max_head_bytes;
        let mut input = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        input.resize(10 * 1024 * 1024, b'a');
        let mut decoder = ResponseDecoder::new(Method::Get);
        assert_eq!(decoder.decode_head(&input[..limit]), Ok(None));
        assert_eq!(
            decoder.decode_head(&input[..limit + 1]),
            Err(Error::HeadTooLarge { limit })
        );
        assert_eq!(
            decoder.decode_head(&input),
            Err(Error::HeadTooLarge { limit })
        );
    }

    #[test]
    fn too_many_headers() {
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..101 {
            input.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        let mut decoder = ResponseDecoder::new(Method::Get);
        assert_eq!(
            decoder.decode_head(&input),
            Err(Error::TooManyHeaders { limit: 100 })
        );
    }

    #[test]
    fn garbage_and_http2_are_rejected() {
        let mut decoder = ResponseDecoder::new(Method::Get);
        assert!(matches!(
            decoder.decode_head(b"garbage\r\n\r\n"),
            Err(Error::InvalidHead(_))
        ));
        // An HTTP/2 server answers with a SETTINGS frame.
        assert!(matches!(
            decoder.decode_head(b"\x00\x00\x12\x04\x00\x00\x00\x00\x00"),
            Err(Error::InvalidHead(_))
        ));
        assert_eq!(
            decoder.decode_head(b"HTTP/2 200\r\n\r\n"),
            Err(Error::UnsupportedVersion)
        );
    }
}
