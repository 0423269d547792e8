//! Server-Sent Events (`text/event-stream`) parsing, incremental and sans-IO.
//!
//! Bytes go in through [`Parser::feed`] in chunks of any size; complete [`Event`]s come out.
//! Any chunking of the same stream gives the same events (offsets included), because the
//! parser keeps an unfinished line, a CR that may be half of a CRLF, and a split byte-order
//! mark across calls. A pending event is dispatched only by a blank line; at the end of the
//! input, [`Parser::finish`] decides whether an unterminated event counts. Parsing follows the
//! WHATWG "Parsing an event stream" rules, with a cap on the size of one event.
//!
//! ```
//! use cm_proto::sse::Parser;
//!
//! let mut parser = Parser::new();
//! let mut events = Vec::new();
//! parser.feed(b"event: ping\r\ndata: {\"a\"", &mut events).unwrap();
//! assert!(events.is_empty()); // the event is not complete yet
//! parser.feed(b":1}\r\n\r\ndata: cut off", &mut events).unwrap();
//! assert_eq!(parser.finish(false), None); // no blank line: not dispatched
//!
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].event, "ping");
//! assert_eq!(events[0].data, "{\"a\":1}");
//! assert_eq!(events[0].offset, 0);
//! assert_eq!(parser.offset(), 0); // `finish` readied the parser for a new stream
//! ```

use std::fmt;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event type; `message` when the stream named none.
    pub event: String,
    /// The data lines joined with `\n`.
    pub data: String,
    /// The last event id in force when the event was dispatched.
    pub id: String,
    /// Byte offset in the stream of the event's first line.
    pub offset: u64,
}

/// Why the parser could not go on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// One event (the bytes of its lines, terminators excluded) grew past the size cap.
    EventTooLarge {
        /// The cap in bytes.
        limit: usize,
        /// Byte offset in the stream of the oversized event's first line.
        offset: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EventTooLarge { limit, offset } => {
                write!(f, "sse event at byte {offset} is larger than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Default cap on one event: 16 MiB.
const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// An incremental `text/event-stream` parser for one stream at a time.
///
/// After [`Error::EventTooLarge`] the parser stays failed: every later [`feed`](Self::feed)
/// returns the same error and consumes nothing, and [`finish`](Self::finish) dispatches
/// nothing. Events completed before the oversized one were already pushed to `out`. Memory
/// stays bounded by about the cap: an oversized line is rejected before it is buffered.
#[derive(Debug, Clone)]
pub struct Parser {
    max_event_size: usize,
    /// Bytes consumed so far (the BOM included).
    offset: u64,
    /// How many bytes of a leading BOM have been matched; `None` once decided.
    bom_matched: Option<usize>,
    /// The previous line ended with CR, so a directly following LF belongs to it.
    after_cr: bool,
    /// Bytes of the line not yet terminated (only when it spans `feed` calls).
    line: Vec<u8>,
    /// Offset of the first byte of the line in `line`.
    line_offset: u64,
    /// Offset of the first line of the pending block, if a block has started.
    block_offset: Option<u64>,
    /// Bytes of the completed lines of the pending block.
    block_len: usize,
    data: String,
    event_type: String,
    /// The last-event-ID buffer, set by `id` fields.
    id_buffer: String,
    /// The stream's last event ID, set from `id_buffer` at each blank line.
    last_event_id: String,
    retry_ms: Option<u64>,
    failed: Option<Error>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

impl Parser {
    /// A parser that accepts events of up to 16 MiB.
    pub fn new() -> Parser {
        Parser::with_max_event_size(DEFAULT_MAX_EVENT_SIZE)
    }

    /// A parser that rejects an event whose lines add up to more than `bytes` bytes.
    pub fn with_max_event_size(bytes: usize) -> Parser {
        Parser {
            max_event_size: bytes,
            offset: 0,
            bom_matched: Some(0),
            after_cr: false,
            line: Vec::new(),
            line_offset: 0,
            block_offset: None,
            block_len: 0,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            retry_ms: None,
            failed: None,
        }
    }

    /// Parses the next chunk of the stream, pushing every event it completes onto `out`.
    ///
    /// The whole chunk is consumed unless the parser fails; see [`Parser`] for what happens
    /// after an error.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<Event>) -> Result<(), Error> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let base = self.offset;
        let mut i = self.skip_bom(input);
        loop {
            if self.after_cr {
                match input.get(i) {
                    None => break,
                    Some(b'\n') => i += 1,
                    Some(_) => {}
                }
                self.after_cr = false;
            }
            let rest = &input[i..];
            if rest.is_empty() {
                break;
            }
            if self.line.is_empty() {
                self.line_offset = base.saturating_add(i as u64);
            }
            let end = find_line_end(rest);
            if let Err(error) = self.check_size(end.unwrap_or(rest.len())) {
                self.offset = base.saturating_add(i as u64);
                return Err(error);
            }
            let Some(end) = end else {
                self.line.extend_from_slice(rest);
                i = input.len();
                break;
            };
            if self.line.is_empty() {
                self.process_line(&rest[..end], self.line_offset, out);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..end]);
                self.process_line(&line, self.line_offset, out);
                line.clear();
                self.line = line;
            }
            self.after_cr = rest[end] == b'\r';
            i += end + 1;
        }
        self.offset = base.saturating_add(i as u64);
        Ok(())
    }

    /// Ends the stream and readies the parser for a new one.
    ///
    /// With `dispatch_pending` false (what the WHATWG rules say), an event not closed by a
    /// blank line is discarded; with true, an unterminated last line is taken as complete and
    /// the pending event is dispatched as if a blank line followed. Offsets and BOM detection
    /// restart at 0; [`last_event_id`](Self::last_event_id) and
    /// [`retry_ms`](Self::retry_ms) are kept, as a reconnect needs them.
    pub fn finish(&mut self, dispatch_pending: bool) -> Option<Event> {
        let mut dispatched = None;
        if dispatch_pending && self.failed.is_none() {
            let mut out = Vec::new();
            let mut line = std::mem::take(&mut self.line);
            if let Some(matched) = self.bom_matched {
                // A stream shorter than a BOM that began like one: those bytes are content.
                line.splice(0..0, BOM[..matched].iter().copied());
            }
            if !line.is_empty() {
                self.process_line(&line, self.line_offset, &mut out);
            }
            self.dispatch(&mut out);
            dispatched = out.pop();
        }
        let last_event_id = std::mem::take(&mut self.last_event_id);
        let retry_ms = self.retry_ms;
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        *self = Parser {
            line,
            last_event_id: last_event_id.clone(),
            id_buffer: last_event_id,
            retry_ms,
            ..Parser::with_max_event_size(self.max_event_size)
        };
        dispatched
    }

    /// The stream's last event ID as of the latest blank line (what a reconnect sends as
    /// `Last-Event-ID`); empty until an `id` field is seen.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the stream asked for with `retry`, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Bytes of the stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Drops a BOM at offset 0 (it may arrive split) and returns where content starts.
    fn skip_bom(&mut self, input: &[u8]) -> usize {
        let Some(mut matched) = self.bom_matched else {
            return 0;
        };
        let mut i = 0;
        while matched < BOM.len() {
            let Some(&byte) = input.get(i) else {
                self.bom_matched = Some(matched);
                return i;
            };
            if byte != BOM[matched] {
                // Not a BOM: the bytes held back so far start the first line. They are
                // neither CR nor LF, so they belong to a line that starts at offset 0.
                self.line.extend_from_slice(&BOM[..matched]);
                self.line_offset = 0;
                self.bom_matched = None;
                return i;
            }
            matched += 1;
            i += 1;
        }
        self.bom_matched = None;
        i
    }

    /// Fails if a line of `line_len` more bytes would push the pending event over the cap.
    fn check_size(&mut self, line_len: usize) -> Result<(), Error> {
        let total = self
            .block_len
            .saturating_add(self.line.len())
            .saturating_add(line_len);
        if total <= self.max_event_size {
            return Ok(());
        }
        let error = Error::EventTooLarge {
            limit: self.max_event_size,
            offset: self.block_offset.unwrap_or(self.line_offset),
        };
        self.line = Vec::new();
        self.data = String::new();
        self.event_type = String::new();
        self.failed = Some(error.clone());
        Err(error)
    }

    fn process_line(&mut self, line: &[u8], line_offset: u64, out: &mut Vec<Event>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if self.block_offset.is_none() {
            self.block_offset = Some(line_offset);
        }
        self.block_len = self.block_len.saturating_add(line.len());
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return, // comment
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field_name(name) {
            Field::Data => {
                self.data.reserve(value.len() + 1);
                push_lossy(&mut self.data, value);
                self.data.push('\n');
            }
            Field::Event => {
                self.event_type.clear();
                push_lossy(&mut self.event_type, value);
            }
            Field::Id if !value.contains(&0) => {
                self.id_buffer.clear();
                push_lossy(&mut self.id_buffer, value);
            }
            Field::Retry if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let ms = value.iter().fold(0u64, |ms, &digit| {
                    ms.saturating_mul(10)
                        .saturating_add(u64::from(digit - b'0'))
                });
                self.retry_ms = Some(ms);
            }
            _ => {}
        }
    }

    /// The WHATWG dispatch steps, run on a blank line.
    fn dispatch(&mut self, out: &mut Vec<Event>) {
        let offset = self.block_offset.take().unwrap_or(self.line_offset);
        self.block_len = 0;
        // Most streams never send an id: skip the comparison (a libc call) then.
        if !(self.id_buffer.is_empty() && self.last_event_id.is_empty())
            && self.last_event_id != self.id_buffer
        {
            self.last_event_id.clone_from(&self.id_buffer);
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event = if self.event_type.is_empty() {
            String::from("message")
        } else {
            std::mem::take(&mut self.event_type)
        };
        out.push(Event {
            event,
            data,
            id: self.last_event_id.clone(),
            offset,
        });
    }
}

/// The field names the parser acts on; every other name is ignored (rule 8).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Data,
    Event,
    Id,
    Retry,
    Other,
}

/// Classifies a field name, case-sensitively, with fixed-size compares (no `memcmp`
/// call per line on the hot path).
fn field_name(name: &[u8]) -> Field {
    match *name {
        [b'i', b'd'] => Field::Id,
        [b'd', b'a', b't', b'a'] => Field::Data,
        [b'e', b'v', b'e', b'n', b't'] => Field::Event,
        [b'r', b'e', b't', b'r', b'y'] => Field::Retry,
        _ => Field::Other,
    }
}

/// Appends `bytes` as UTF-8, invalid sequences as U+FFFD (rule 1); valid input, the
/// usual case, takes the fast validator and no copy beyond the append.
fn push_lossy(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Index of the first CR or LF, scanning eight bytes at a time.
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const LFS: u64 = ONES * b'\n' as u64;
    const CRS: u64 = ONES * b'\r' as u64;
    let mut words = bytes.chunks_exact(8);
    let mut start = 0;
    for word in &mut words {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        let x = u64::from_le_bytes(le);
        let (lf, cr) = (x ^ LFS, x ^ CRS);
        // A byte of `lf`/`cr` is zero where `x` has LF/CR. The lowest flagged byte is exact
        // (borrows only create false flags above a true zero byte).
        let zeros = ((lf.wrapping_sub(ONES) & !lf) | (cr.wrapping_sub(ONES) & !cr)) & HIGHS;
        if zeros != 0 {
            return Some(start + (zeros.trailing_zeros() / 8) as usize);
        }
        start += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|p| start + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: &str, data: &str, id: &str, offset: u64) -> Event {
        Event {
            event: event.to_owned(),
            data: data.to_owned(),
            id: id.to_owned(),
            offset,
        }
    }

    fn message(data: &str, offset: u64) -> Event {
        event("message", data, "", offset)
    }

    /// Feeds `chunks` one after the other, then ends the stream the WHATWG way.
    fn parse_chunks(chunks: &[&[u8]]) -> Vec<Event> {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        assert_eq!(parser.finish(false), None);
        out
    }

    fn parse(input: &[u8]) -> Vec<Event> {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser.feed(input, &mut out).unwrap();
        out
    }

    /// Everything observable after feeding `chunks` and ending the stream with `finish(true)`.
    fn observe(chunks: &[&[u8]]) -> (Vec<Event>, String, Option<u64>, u64, Option<Event>) {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        let id = parser.last_event_id().to_owned();
        let (retry, offset) = (parser.retry_ms(), parser.offset());
        (out, id, retry, offset, parser.finish(true))
    }

    fn assert_every_chunking_agrees(input: &[u8]) {
        let whole = observe(&[input]);
        assert_eq!(whole.3, input.len() as u64);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(observe(&bytes), whole, "byte by byte: {input:?}");
        for a in 0..=input.len() {
            let (head, tail) = input.split_at(a);
            assert_eq!(observe(&[head, tail]), whole, "split at {a}: {input:?}");
            if input.len() <= 64 {
                for b in a..=input.len() {
                    let three = [&input[..a], &input[a..b], &input[b..]];
                    assert_eq!(observe(&three), whole, "split at {a}, {b}: {input:?}");
                }
            }
        }
    }

    #[test]
    fn rule_1_invalid_utf8_decodes_to_replacement_characters() {
        let events = parse(b"event: a\xFFb\ndata: x\xC3(\xE2\x82y\n\n");
        assert_eq!(events, [event("a\u{FFFD}b", "x\u{FFFD}(\u{FFFD}y", "", 0)]);
    }

    #[test]
    fn rule_1_multi_byte_character_split_across_chunks_is_kept_whole() {
        let events = parse_chunks(&[
            b"data: caf\xC3",
            b"\xA9 \xE2\x82",
            b"\xAC \xF0\x9F",
            b"\x98\x80\n\n",
        ]);
        assert_eq!(events, [message("café € 😀", 0)]);
    }

    #[test]
    fn rule_2_bom_at_offset_zero_is_dropped_even_when_split() {
        let expected = [message("x", 3)];
        assert_eq!(parse(b"\xEF\xBB\xBFdata: x\n\n"), expected);
        assert_eq!(
            parse_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]),
            expected
        );
        assert_eq!(
            parse_chunks(&[b"\xEF\xBB", b"", b"\xBF", b"data: x\n\n"]),
            expected
        );
    }

    #[test]
    fn rule_2_bom_is_dropped_only_once_and_only_at_the_start() {
        // A second BOM becomes part of the field name, so the line is an unknown field.
        assert_eq!(parse(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n"), []);
        assert_eq!(parse(b"data: \xEF\xBB\xBFx\n\n"), [message("\u{FEFF}x", 0)]);
        assert_eq!(parse(b"\n\xEF\xBB\xBFdata: x\n\n"), []);
    }

    #[test]
    fn rule_2_bytes_that_only_start_like_a_bom_are_content() {
        assert_eq!(parse_chunks(&[b"\xEF\xBB", b"data: x\n\n"]), []);
        assert_eq!(
            parse_chunks(&[b"\xEF", b"\n\ndata: x\n\n"]),
            [message("x", 3)]
        );
        let mut parser = Parser::new();
        parser.feed(b"\xEF\xBB", &mut Vec::new()).unwrap();
        assert_eq!(parser.offset(), 2);
        assert_eq!(parser.finish(true), None);
    }

    #[test]
    fn rule_3_cr_lf_and_crlf_may_be_mixed() {
        let events = parse(b"data: a\rdata: b\ndata: c\r\n\rdata: d\r\n\r\ndata: e\n\n");
        assert_eq!(
            events,
            [message("a\nb\nc", 0), message("d", 26), message("e", 37)]
        );
    }

    #[test]
    fn rule_3_lf_after_a_cr_at_chunk_end_completes_that_line_ending() {
        // Were the LF a second line ending, it would be a blank line dispatching "a" alone.
        assert_eq!(
            parse_chunks(&[b"data: a\r", b"\ndata: b\n\n"]),
            [message("a\nb", 0)]
        );
        assert_eq!(parse_chunks(&[b"data: a\r", b"\r"]), [message("a", 0)]);
        assert_eq!(
            parse_chunks(&[b"data: a\r\n\r", b"", b"\n", b"data: b\r\n\r\n"]),
            [message("a", 0), message("b", 11)]
        );
    }

    #[test]
    fn rule_3_a_line_ended_by_cr_is_processed_before_the_next_byte_arrives() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser.feed(b"data: a\n\r", &mut out).unwrap();
        assert_eq!(out, [message("a", 0)]);
    }

    #[test]
    fn rule_4_every_chunking_gives_the_same_events() {
        let inputs: [&[u8]; 9] = [
            b"\xEF\xBB\xBFevent: add\r\ndata: 73857293\r\n\r\n: keep-alive\r\nevent: remove\rdata: 2153\r\r",
            b"data: YHOO\ndata: +2\ndata: 10\n\n",
            b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
            b"data\n\ndata\ndata\n\ndata:",
            b"id: 7\nretry: 1500\ndata: caf\xC3\xA9 \xF0\x9F\x98\x80\r\n\r\nid: a\0b\ndata: \xFF\xC3\n\nevent: x\ndata: tail",
            b"\xEF\xBB\n\n\xEF\xBB\xBFdata: late bom\r\n\r\n",
            b"\r\n\r\n\n\r\rdata:\r\ndata\r\n\r\n",
            b"event: message_start\ndata: {\"type\":\"message_start\"}   \n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
            b"data: [DONE]\n\n",
        ];
        for input in inputs {
            assert_every_chunking_agrees(input);
        }
    }

    #[test]
    fn rule_5_blank_line_dispatches_the_pending_event() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser.feed(b"data: a\n", &mut out).unwrap();
        assert_eq!(out, []);
        parser.feed(b"\n", &mut out).unwrap();
        assert_eq!(out, [message("a", 0)]);
    }

    #[test]
    fn rule_6_comment_lines_are_ignored() {
        let events = parse(b": ping\n\ndata: a\n: OPENROUTER PROCESSING\ndata: b\n\n:\n\n");
        assert_eq!(events, [message("a\nb", 8)]);
    }

    #[test]
    fn rule_7_value_loses_exactly_one_leading_space() {
        let events = parse(b"data:none\n\ndata: one\n\ndata:  two\n\ndata:\tab\n\ndata: a: b\n\n");
        let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["none", "one", " two", "\tab", "a: b"]);
    }

    #[test]
    fn rule_7_line_without_colon_is_a_field_with_empty_value() {
        assert_eq!(parse(b"event: x\nevent\ndata\n\n"), [message("", 0)]);
    }

    #[test]
    fn rule_8_field_names_are_exact_and_unknown_ones_ignored() {
        let events = parse(b"Data: no\nDATA: no\ndata : no\n data: no\nfoo: bar\ndata: yes\n\n");
        assert_eq!(events, [message("yes", 0)]);
    }

    #[test]
    fn rule_9_data_lines_join_with_lf_and_empty_data_still_adds_one() {
        let events = parse(b"data: a\ndata:\ndata\ndata: b\n\n");
        assert_eq!(events, [message("a\n\n\nb", 0)]);
    }

    #[test]
    fn rule_10_the_last_event_field_of_an_event_wins() {
        let events = parse(b"event: first\nevent: second\ndata: x\n\ndata: y\n\n");
        assert_eq!(events, [event("second", "x", "", 0), message("y", 36)]);
    }

    #[test]
    fn rule_11_id_persists_across_events_and_nul_ids_are_ignored() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser
            .feed(
                b"id: 1\ndata: a\n\ndata: b\n\nid: 2\0x\ndata: c\n\n",
                &mut out,
            )
            .unwrap();
        assert_eq!(
            out,
            [
                event("message", "a", "1", 0),
                event("message", "b", "1", 15),
                event("message", "c", "1", 24)
            ]
        );
        assert_eq!(parser.last_event_id(), "1");
        parser.feed(b"id\ndata: d\n\n", &mut out).unwrap();
        assert_eq!(out[3], message("d", 41));
        assert_eq!(parser.last_event_id(), "");
    }

    #[test]
    fn rule_11_last_event_id_updates_at_the_blank_line() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser.feed(b"id: 5\n", &mut out).unwrap();
        assert_eq!(parser.last_event_id(), "");
        parser.feed(b"\n", &mut out).unwrap();
        assert_eq!(parser.last_event_id(), "5");
        assert_eq!(out, []);
    }

    #[test]
    fn rule_12_retry_is_set_only_by_ascii_digits() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser.feed(b"retry: 3000\n", &mut out).unwrap();
        assert_eq!(parser.retry_ms(), Some(3000));
        for bad in [
            &b"retry: 1.5\n"[..],
            b"retry: -1\n",
            b"retry: 12a\n",
            b"retry: \n",
            b"retry:  1\n",
            b"retry: \xD9\xA3\n",
        ] {
            parser.feed(bad, &mut out).unwrap();
            assert_eq!(parser.retry_ms(), Some(3000), "{bad:?}");
        }
        parser
            .feed(b"retry: 99999999999999999999999\n", &mut out)
            .unwrap();
        assert_eq!(parser.retry_ms(), Some(u64::MAX));
        assert_eq!(out, []);
    }

    #[test]
    fn rule_13_dispatch_removes_one_trailing_lf_and_resets_the_event_type() {
        let events = parse(b"event: a\n\ndata: x\n\nevent: b\ndata:\ndata:\n\ndata: y\n\n");
        assert_eq!(
            events,
            [message("x", 10), event("b", "\n", "", 19), message("y", 41)]
        );
    }

    #[test]
    fn rule_14_unterminated_event_is_discarded_at_the_end() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser.feed(b"data: a\n\ndata: b\n", &mut out).unwrap();
        assert_eq!(parser.finish(false), None);
        assert_eq!(out, [message("a", 0)]);
    }

    #[test]
    fn rule_14_unterminated_event_is_dispatched_when_the_caller_asks() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser
            .feed(b"id: 9\nevent: e\ndata: a\ndata: b", &mut out)
            .unwrap();
        assert_eq!(parser.finish(true), Some(event("e", "a\nb", "9", 0)));
        assert_eq!(parser.last_event_id(), "9");
        // The parser is ready for a new stream, keeping the id a reconnect sends.
        parser.feed(b"\xEF\xBB\xBFdata: c\n\n", &mut out).unwrap();
        assert_eq!(out, [event("message", "c", "9", 3)]);
    }

    #[test]
    fn rule_15_non_json_data_passes_through_as_text() {
        let events = parse(b"data: [DONE]\n\ndata: : ping\n\ndata:\n\n");
        let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["[DONE]", ": ping", ""]);
    }

    #[test]
    fn rule_16_lines_far_longer_than_a_read_are_fine_below_the_cap() {
        let blob = "x".repeat(100_000);
        let input = format!("data: {blob}\n\n");
        let chunks: Vec<&[u8]> = input.as_bytes().chunks(4096).collect();
        assert_eq!(parse_chunks(&chunks), [message(&blob, 0)]);
    }

    #[test]
    fn whatwg_stock_ticker_example() {
        assert_eq!(
            parse(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
            [message("YHOO\n+2\n10", 0)]
        );
    }

    #[test]
    fn whatwg_test_stream_example_with_ids() {
        let events = parse(b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n");
        assert_eq!(
            events,
            [
                event("message", "first event", "1", 15),
                message("second event", 40),
                message(" third event", 62)
            ]
        );
    }

    #[test]
    fn whatwg_empty_data_example() {
        assert_eq!(
            parse_chunks(&[b"data\n\ndata\ndata\n\ndata:"]),
            [message("", 0), message("\n", 6)]
        );
    }

    #[test]
    fn whatwg_space_after_colon_example() {
        assert_eq!(
            parse(b"data:test\n\ndata: test\n\n"),
            [message("test", 0), message("test", 11)]
        );
    }

    #[test]
    fn whatwg_event_field_example() {
        let events = parse(b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n");
        assert_eq!(
            events,
            [
                event("add", "73857293", "", 0),
                event("remove", "2153", "", 27),
                event("add", "113411", "", 53)
            ]
        );
    }

    #[test]
    fn event_offset_points_at_its_first_line_including_comments() {
        let events = parse(b"\n\n: hi\nevent: a\ndata: x\n\n");
        assert_eq!(events, [event("a", "x", "", 2)]);
    }

    #[test]
    fn event_over_the_size_limit_is_an_error_with_its_offset() {
        let mut parser = Parser::with_max_event_size(10);
        let mut out = Vec::new();
        let error = parser
            .feed(b"data: 1234\n\ndata: 12\ndata: 34\n\n", &mut out)
            .unwrap_err();
        assert_eq!(
            error,
            Error::EventTooLarge {
                limit: 10,
                offset: 12
            }
        );
        assert_eq!(
            error.to_string(),
            "sse event at byte 12 is larger than 10 bytes"
        );
        assert_eq!(out, [message("1234", 0)]);
    }

    #[test]
    fn parser_stays_failed_after_an_oversized_event() {
        let mut parser = Parser::with_max_event_size(8);
        let mut out = Vec::new();
        let error = Error::EventTooLarge {
            limit: 8,
            offset: 0,
        };
        assert_eq!(
            parser.feed(b"data: 12345\n\n", &mut out),
            Err(error.clone())
        );
        assert_eq!(parser.feed(b"data: 1\n\n", &mut out), Err(error));
        assert_eq!(parser.finish(true), None);
        assert_eq!(out, []);
        // `finish` starts a new stream, which parses normally again.
        parser.feed(b"data: 1\n\n", &mut out).unwrap();
        assert_eq!(out, [message("1", 0)]);
    }

    #[test]
    fn size_limit_fails_at_the_same_event_for_every_chunking() {
        let input = b"data: ok\n\ndata: 0123456789\n\n";
        let mut first_error = None;
        for split in 0..=input.len() {
            let mut parser = Parser::with_max_event_size(12);
            let mut out = Vec::new();
            let result = parser
                .feed(&input[..split], &mut out)
                .and_then(|()| parser.feed(&input[split..], &mut out));
            assert_eq!(out, [message("ok", 0)], "split at {split}");
            let error = result.unwrap_err();
            assert_eq!(*first_error.get_or_insert(error.clone()), error);
        }
        assert_eq!(
            first_error,
            Some(Error::EventTooLarge {
                limit: 12,
                offset: 10
            })
        );
    }

    #[test]
    fn ten_megabyte_line_with_one_megabyte_cap_errors_before_buffering_it() {
        const LIMIT: usize = 1 << 20;
        let mut parser = Parser::with_max_event_size(LIMIT);
        let mut out = Vec::new();
        let chunk = vec![b'x'; 64 * 1024];
        parser.feed(b"data: ", &mut out).unwrap();
        let mut fed = 6;
        let error = loop {
            assert!(parser.line.len() <= LIMIT);
            match parser.feed(&chunk, &mut out) {
                Ok(()) => fed += chunk.len(),
                Err(error) => break error,
            }
            assert!(fed < 10 << 20, "no error after {fed} bytes");
        };
        assert_eq!(
            error,
            Error::EventTooLarge {
                limit: LIMIT,
                offset: 0
            }
        );
        assert!(fed <= LIMIT, "{fed} bytes accepted");
        assert_eq!(parser.line.capacity(), 0, "the buffer is released");
        // A whole oversized line in one call is rejected without being copied.
        let mut parser = Parser::with_max_event_size(LIMIT);
        let line = [b"data: ".as_slice(), &vec![b'y'; 10 << 20], b"\n\n"].concat();
        assert!(parser.feed(&line, &mut out).is_err());
        assert_eq!((parser.line.capacity(), parser.data.capacity()), (0, 0));
    }

    #[test]
    fn offset_counts_consumed_bytes() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser.feed(b"\xEF\xBB\xBFdata: a\r", &mut out).unwrap();
        parser.feed(b"\n\r\nda", &mut out).unwrap();
        assert_eq!(parser.offset(), 16);
        assert_eq!(out, [message("a", 3)]);
    }

    #[test]
    fn line_end_scan_finds_the_first_cr_or_lf_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                for (end, other) in [(b'\n', b'\r'), (b'\r', b'\n')] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = end;
                    if at + 1 < len {
                        bytes[at + 1] = other;
                    }
                    assert_eq!(find_line_end(&bytes), Some(at), "{bytes:?}");
                }
            }
            let no_end: Vec<u8> = (0..len as u8)
                .map(|b| b.wrapping_mul(37) | 0x80)
                .chain([0x0B, 0x0C, 0x0E, 0x8A, 0x8D])
                .collect();
            assert_eq!(find_line_end(&no_end), None);
        }
    }
}
