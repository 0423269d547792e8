//! The SSE parser: any bytes, any chunking, never a panic, and the events of a chunked
//! feed equal those of a whole feed.
#![no_main]

use cm_proto::sse::Parser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split).max(1);

    let mut whole = Parser::with_max_event_size(64 * 1024);
    let mut expected = Vec::new();
    let whole_result = whole.feed(input, &mut expected);
    let expected_tail = whole.finish(true);

    let mut chunked = Parser::with_max_event_size(64 * 1024);
    let mut got = Vec::new();
    let mut chunked_result = Ok(());
    for piece in input.chunks(chunk) {
        chunked_result = chunked.feed(piece, &mut got);
        if chunked_result.is_err() {
            break;
        }
    }
    if whole_result.is_ok() && chunked_result.is_ok() {
        assert_eq!(expected, got, "chunking changed the events");
        assert_eq!(expected_tail, chunked.finish(true));
    }
});
