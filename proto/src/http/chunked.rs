//! The chunked transfer coding (RFC 9112 §7.1): a byte-at-a-time decoder for the framing,
//! so it buffers nothing and every split of the input decodes alike, and the encoder.
//!
//! Chunk extensions and trailer fields are read and dropped. Line ends must be CRLF.

use super::error::Error;

/// Where the decoder is inside the chunked framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex size; `digits` is false until the first digit.
    Size { size: u64, digits: bool },
    /// After the size: optional whitespace before `;` or CR.
    AfterSize { size: u64 },
    /// Inside `;name=value` extensions, which are skipped.
    Extension { size: u64 },
    /// Saw CR at the end of the size line.
    SizeLf { size: u64 },
    /// Copying chunk data.
    Data { remaining: u64 },
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// Saw CR at the end of a trailer line.
    TrailerLf,
    /// Saw CR of the final empty line.
    FinalLf,
    /// The body is complete.
    Done,
}

/// Decodes a chunked body into its data.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: State,
    line_bytes: usize,
    trailer_bytes: usize,
    received: u64,
    max_line: usize,
    max_trailers: usize,
    max_body: Option<u64>,
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub(crate) fn new(max_line: usize, max_trailers: usize, max_body: Option<u64>) -> Self {
        ChunkedDecoder {
            state: State::Size {
                size: 0,
                digits: false,
            },
            line_bytes: 0,
            trailer_bytes: 0,
            received: 0,
            max_line,
            max_trailers,
            max_body,
        }
    }

    /// Whether the last chunk and trailers have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Data bytes decoded so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Appends chunk data from `input` to `out`; returns the bytes of `input` consumed,
    /// which is all of it unless the body ends inside it.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        let mut used = 0;
        while let Some(rest) = input.get(used..).filter(|r| !r.is_empty()) {
            match self.state {
                State::Done => break,
                State::Data { remaining } => {
                    let take = rest
                        .len()
                        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    out.extend_from_slice(&rest[..take]);
                    used += take;
                    // take <= remaining, and take fits in u64 because it fits in usize.
                    let left = remaining.saturating_sub(take as u64);
                    self.received = self.received.saturating_add(take as u64);
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining: left }
                    };
                }
                _ => {
                    self.step(rest[0])?;
                    used += 1;
                }
            }
        }
        Ok(used)
    }

    /// Advances the framing by one byte outside chunk data.
    fn step(&mut self, byte: u8) -> Result<(), Error> {
        self.state = match self.state {
            State::Size { size, digits } => {
                self.count_line_byte()?;
                match (hex_value(byte), byte) {
                    (Some(d), _) => State::Size {
                        size: size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(d))
                            .ok_or(Error::InvalidChunkSize)?,
                        digits: true,
                    },
                    (None, b' ' | b'\t') if digits => State::AfterSize { size },
                    (None, b';') if digits => State::Extension { size },
                    (None, b'\r') if digits => State::SizeLf { size },
                    _ => return Err(Error::InvalidChunkSize),
                }
            }
            State::AfterSize { size } => {
                self.count_line_byte()?;
                match byte {
                    b' ' | b'\t' => State::AfterSize { size },
                    b';' => State::Extension { size },
                    b'\r' => State::SizeLf { size },
                    _ => return Err(Error::InvalidChunkSize),
                }
            }
            State::Extension { size } => {
                self.count_line_byte()?;
                match byte {
                    b'\r' => State::SizeLf { size },
                    b'\n' => return Err(Error::InvalidChunkSize),
                    _ => State::Extension { size },
                }
            }
            State::SizeLf { size } => {
                if byte != b'\n' {
                    return Err(Error::InvalidChunkSize);
                }
                self.line_bytes = 0;
                if size == 0 {
                    State::TrailerStart
                } else {
                    self.check_body_limit(size)?;
                    State::Data { remaining: size }
                }
            }
            State::DataCr => match byte {
                b'\r' => State::DataLf,
                _ => return Err(Error::ChunkMissingCrlf),
            },
            State::DataLf => match byte {
                b'\n' => State::Size {
                    size: 0,
                    digits: false,
                },
                _ => return Err(Error::ChunkMissingCrlf),
            },
            State::TrailerStart => {
                self.count_trailer_byte()?;
                match byte {
                    b'\r' => State::FinalLf,
                    b'\n' => return Err(Error::ChunkMissingCrlf),
                    _ => State::Trailer,
                }
            }
            State::Trailer => {
                self.count_trailer_byte()?;
                match byte {
                    b'\r' => State::TrailerLf,
                    b'\n' => return Err(Error::ChunkMissingCrlf),
                    _ => State::Trailer,
                }
            }
            State::TrailerLf | State::FinalLf if byte != b'\n' => {
                return Err(Error::ChunkMissingCrlf)
            }
            State::TrailerLf => {
                self.count_trailer_byte()?;
                State::TrailerStart
            }
            State::FinalLf => State::Done,
            // `decode` never steps in these states; staying put keeps this total.
            state @ (State::Data { .. } | State::Done) => state,
        };
        Ok(())
    }

    fn count_line_byte(&mut self) -> Result<(), Error> {
        self.line_bytes = self.line_bytes.saturating_add(1);
        if self.line_bytes > self.max_line {
            return Err(Error::ChunkLineTooLong {
                limit: self.max_line,
            });
        }
        Ok(())
    }

    fn count_trailer_byte(&mut self) -> Result<(), Error> {
        self.trailer_bytes = self.trailer_bytes.saturating_add(1);
        if self.trailer_bytes > self.max_trailers {
            return Err(Error::TrailersTooLarge {
                limit: self.max_trailers,
            });
        }
        Ok(())
    }

    /// Rejects a chunk that would take the body past the limit before reading it.
    fn check_body_limit(&self, size: u64) -> Result<(), Error> {
        match self.max_body {
            Some(limit) if self.received.saturating_add(size) > limit => {
                Err(Error::BodyTooLarge { limit })
            }
            _ => Ok(()),
        }
    }
}

fn hex_value(byte: u8) -> Option<u64> {
    char::from(byte).to_digit(16).map(u64::from)
}

/// Appends `data` as one chunk; empty data appends nothing, since an empty chunk would end
/// the body (use [`encode_last_chunk`] for that).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk, `0\r\n\r\n`, which ends a chunked body without trailers.
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder() -> ChunkedDecoder {
        ChunkedDecoder::new(4096, 65536, None)
    }

    fn decode_all(input: &[u8]) -> Result<(usize, Vec<u8>, bool), Error> {
        let mut d = decoder();
        let mut out = Vec::new();
        let used = d.decode(input, &mut out)?;
        Ok((used, out, d.is_done()))
    }

    const WITH_EXTENSIONS_AND_TRAILERS: &[u8] = b"5;name=\"v; x\"\r\nhello\r\n\
        7 ; a=b\r\n, world\r\n\
        0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\nNEXT";

    #[test]
    fn decodes_extensions_and_trailers_and_stops_at_the_end() {
        let (used, out, done) = decode_all(WITH_EXTENSIONS_AND_TRAILERS).unwrap();
        assert_eq!(out, b"hello, world");
        assert!(done);
        assert_eq!(used, WITH_EXTENSIONS_AND_TRAILERS.len() - b"NEXT".len());
    }

    #[test]
    fn every_split_gives_the_same_body() {
        let input = WITH_EXTENSIONS_AND_TRAILERS;
        let body_end = input.len() - 4;
        for split in 0..=input.len() {
            let mut d = decoder();
            let mut out = Vec::new();
            let a = d.decode(&input[..split], &mut out).unwrap();
            let b = d.decode(&input[a..], &mut out).unwrap();
            assert_eq!(out, b"hello, world", "split at {split}");
            assert_eq!(a + b, body_end, "split at {split}");
            assert!(d.is_done());
        }
        let mut d = decoder();
        let mut out = Vec::new();
        let mut used = 0;
        for byte in input.chunks(1) {
            used += d.decode(byte, &mut out).unwrap();
        }
        assert_eq!((out.as_slice(), used), (&b"hello, world"[..], body_end));
    }

    #[test]
    fn bad_size_lines() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b";ext\r\n",
            b"5 x\r\n",
            b"5\rX",
            b"5\n",
            b"5;ext\n",
            b"-5\r\n",
            b"10000000000000000\r\n",
        ] {
            assert_eq!(decode_all(bad), Err(Error::InvalidChunkSize), "{bad:?}");
        }
    }

    #[test]
    fn missing_crlf_after_data_or_trailers() {
        for bad in [
            &b"3\r\nabcX"[..],
            b"3\r\nabc\rX",
            b"3\r\nabc\n",
            b"0\r\n\n",
            b"0\r\nX: y\n",
            b"0\r\nX: y\rz",
            b"0\r\n\rX",
        ] {
            assert_eq!(decode_all(bad), Err(Error::ChunkMissingCrlf), "{bad:?}");
        }
    }

    #[test]
    fn limits_lines_trailers_and_body() {
        let mut d = ChunkedDecoder::new(8, 65536, None);
        assert_eq!(
            d.decode(b"1;aaaaaaaaaaaa", &mut Vec::new()),
            Err(Error::ChunkLineTooLong { limit: 8 })
        );
        let mut d = ChunkedDecoder::new(4096, 10, None);
        assert_eq!(
            d.decode(b"0\r\nX-Long: aaaaaaaaaa", &mut Vec::new()),
            Err(Error::TrailersTooLarge { limit: 10 })
        );
        let mut d = ChunkedDecoder::new(4096, 65536, Some(5));
        let mut out = Vec::new();
        assert_eq!(d.decode(b"3\r\nabc\r\n", &mut out), Ok(8));
        assert_eq!(
            d.decode(b"3\r\n", &mut out),
            Err(Error::BodyTooLarge { limit: 5 })
        );
    }

    #[test]
    fn encoder_round_trips() {
        let mut out = Vec::new();
        encode_chunk(b"hello, world!!!!!", &mut out);
        encode_chunk(b"", &mut out);
        encode_last_chunk(&mut out);
        assert_eq!(out, b"11\r\nhello, world!!!!!\r\n0\r\n\r\n");
        assert_eq!(decode_all(&out).unwrap().1, b"hello, world!!!!!");
    }
}
