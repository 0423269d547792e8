//! What the stream-decoder targets share: fuzzer bytes through the SSE parser, a wire
//! format's decoder and the assembler, plus the body decoder and error classifier.

use cm_proto::message::Origin;
use cm_proto::provider::{MessageAssembler, WireFormat};
use cm_proto::sse::Parser;

/// Feeds `data` (first byte: the chunk size) through the whole decoding pipeline of
/// `format`; any panic is a bug.
pub fn decode_stream(format: WireFormat, data: &[u8]) {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split).max(1);
    let mut parser = Parser::with_max_event_size(256 * 1024);
    let mut decoder = format.stream_decoder();
    let mut assembler = MessageAssembler::new(Origin::default());
    let mut sse_events = Vec::new();
    let mut events = Vec::new();
    for piece in input.chunks(chunk) {
        sse_events.clear();
        if parser.feed(piece, &mut sse_events).is_err() {
            return;
        }
        for event in &sse_events {
            events.clear();
            let _ = decoder.decode(event, &mut events);
            events.iter().for_each(|e| assembler.push(e));
        }
    }
    if let Some(event) = parser.finish(true) {
        events.clear();
        let _ = decoder.decode(&event, &mut events);
        events.iter().for_each(|e| assembler.push(e));
    }
    events.clear();
    let _ = decoder.finish(&mut events);
    events.iter().for_each(|e| assembler.push(e));
    let _ = assembler.finish();
    let _ = format.decode_body(input);
    let _ = format.classify_error(500, &Default::default(), input);
}
