//! Reading a body of known framing from caller-owned input, whichever way the input is
//! split, and noticing whether the connection's end is a proper end of the body.

use super::chunked::ChunkedDecoder;
use super::error::Error;
use super::framing::Framing;
use super::limits::Limits;

#[derive(Debug, Clone)]
enum State {
    NoBody,
    Length { expected: u64, received: u64 },
    Chunked(ChunkedDecoder),
    Close { received: u64, ended: bool },
}

/// Decodes one message body.
///
/// Feed it the bytes after the head with [`decode`](Self::decode); it consumes only the
/// body's bytes, so what is left belongs to the next message (pipelining). When the
/// connection ends, call [`finish_eof`](Self::finish_eof).
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    framing: Framing,
    state: State,
    max_body: Option<u64>,
}

impl BodyDecoder {
    /// A decoder for a body with this framing, bounded by `limits.max_body_bytes`,
    /// `max_chunk_line_bytes`, and `max_head_bytes` (for trailers).
    pub fn new(framing: Framing, limits: &Limits) -> BodyDecoder {
        let state = match framing {
            Framing::NoBody => State::NoBody,
            Framing::ContentLength(expected) => State::Length {
                expected,
                received: 0,
            },
            Framing::Chunked => State::Chunked(ChunkedDecoder::new(
                limits.max_chunk_line_bytes,
                limits.max_head_bytes,
                limits.max_body_bytes,
            )),
            Framing::CloseDelimited => State::Close {
                received: 0,
                ended: false,
            },
        };
        BodyDecoder {
            framing,
            state,
            max_body: limits.max_body_bytes,
        }
    }

    /// The framing this decoder follows.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Appends body data from `input` to `out` and returns how many bytes of `input` it
    /// consumed; bytes after the end of the body are left alone.
    ///
    /// A `Content-Length` over the body limit fails on the first call, before any byte.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        let max_body = self.max_body;
        match &mut self.state {
            State::NoBody => Ok(0),
            State::Length { expected, received } => {
                if let Some(limit) = max_body.filter(|limit| *expected > *limit) {
                    return Err(Error::BodyTooLarge { limit });
                }
                let left = expected.saturating_sub(*received);
                let take = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                out.extend_from_slice(&input[..take]);
                *received = received.saturating_add(take as u64);
                Ok(take)
            }
            State::Chunked(chunked) => chunked.decode(input, out),
            State::Close { received, ended } => {
                if *ended {
                    return Ok(0);
                }
                let total = received.saturating_add(input.len() as u64);
                if let Some(limit) = max_body.filter(|limit| total > *limit) {
                    return Err(Error::BodyTooLarge { limit });
                }
                out.extend_from_slice(input);
                *received = total;
                Ok(input.len())
            }
        }
    }

    /// Whether the whole body has been decoded. A close-delimited body is done only after
    /// [`finish_eof`](Self::finish_eof).
    pub fn is_done(&self) -> bool {
        match &self.state {
            State::NoBody => true,
            State::Length { expected, received } => received == expected,
            State::Chunked(chunked) => chunked.is_done(),
            State::Close { ended, .. } => *ended,
        }
    }

    /// Body bytes decoded so far.
    pub fn received(&self) -> u64 {
        match &self.state {
            State::NoBody => 0,
            State::Length { received, .. } | State::Close { received, .. } => *received,
            State::Chunked(chunked) => chunked.received(),
        }
    }

    /// Tells the decoder the connection ended: fine for a close-delimited or finished
    /// body, [`Error::UnexpectedEof`] for a short `Content-Length` or unfinished chunked one.
    pub fn finish_eof(&mut self) -> Result<(), Error> {
        if let State::Close { ended, .. } = &mut self.state {
            *ended = true;
        }
        if self.is_done() {
            return Ok(());
        }
        let expected = match self.state {
            State::Length { expected, .. } => Some(expected),
            _ => None,
        };
        Err(Error::UnexpectedEof {
            received: self.received(),
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(framing: Framing, input: &[u8]) -> (Result<usize, Error>, Vec<u8>, BodyDecoder) {
        let mut body = BodyDecoder::new(framing, &Limits::default());
        let mut out = Vec::new();
        let used = body.decode(input, &mut out);
        (used, out, body)
    }

    #[test]
    fn content_length_stops_at_its_length() {
        let (used, out, mut body) = decode(Framing::ContentLength(5), b"helloHTTP/1.1");
        assert_eq!((used, out.as_slice()), (Ok(5), &b"hello"[..]));
        assert!(body.is_done());
        assert_eq!(body.finish_eof(), Ok(()));
    }

    #[test]
    fn short_content_length_is_unexpected_eof() {
        let (used, _, mut body) = decode(Framing::ContentLength(10), b"hel");
        assert_eq!(used, Ok(3));
        assert!(!body.is_done());
        assert_eq!(
            body.finish_eof(),
            Err(Error::UnexpectedEof {
                received: 3,
                expected: Some(10)
            })
        );
    }

    #[test]
    fn chunked_body_through_the_decoder() {
        let (used, out, mut body) = decode(Framing::Chunked, b"2\r\nhi\r\n0\r\n\r\n");
        assert_eq!((used, out.as_slice()), (Ok(12), &b"hi"[..]));
        assert_eq!(body.finish_eof(), Ok(()));

        let (_, _, mut body) = decode(Framing::Chunked, b"2\r\nhi\r\n");
        assert_eq!(
            body.finish_eof(),
            Err(Error::UnexpectedEof {
                received: 2,
                expected: None
            })
        );
    }

    #[test]
    fn close_delimited_ends_at_eof() {
        let (used, out, mut body) = decode(Framing::CloseDelimited, b"all of it");
        assert_eq!((used, out.as_slice()), (Ok(9), &b"all of it"[..]));
        assert!(!body.is_done());
        assert_eq!(body.finish_eof(), Ok(()));
        assert!(body.is_done());
        assert_eq!(body.received(), 9);
    }

    #[test]
    fn no_body_consumes_nothing() {
        let (used, out, body) = decode(Framing::NoBody, b"HTTP/1.1 200 OK\r\n");
        assert_eq!((used, out.len()), (Ok(0), 0));
        assert!(body.is_done());
    }

    #[test]
    fn body_limit_applies_to_every_framing() {
        let limits = Limits {
            max_body_bytes: Some(4),
            ..Limits::default()
        };
        let too_large = Err(Error::BodyTooLarge { limit: 4 });
        let mut out = Vec::new();
        let mut body = BodyDecoder::new(Framing::ContentLength(5), &limits);
        assert_eq!(body.decode(b"", &mut out), too_large);
        let mut body = BodyDecoder::new(Framing::CloseDelimited, &limits);
        assert_eq!(body.decode(b"1234", &mut out), Ok(4));
        assert_eq!(body.decode(b"5", &mut out), too_large);
        let mut body = BodyDecoder::new(Framing::Chunked, &limits);
        assert_eq!(body.decode(b"5\r\n", &mut out), too_large);
        let mut body = BodyDecoder::new(Framing::ContentLength(4), &limits);
        assert_eq!(body.decode(b"1234", &mut out), Ok(4));
    }
}
