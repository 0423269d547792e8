//! Decoding throughput: recorded provider streams repeated back to back to at least 50 MB,
//! fed in 16 KB chunks through the SSE parser, the wire format's decoder and the message
//! assembler (a fresh decoder and assembler after each response's terminal event, as a
//! client would have). Reports the median MB/s of several runs per stream.
//!
//! Run: `cargo bench -p cm-conformance --bench throughput`

use std::time::Instant;

use cm_proto::message::Origin;
use cm_proto::provider::{MessageAssembler, StreamEvent, WireFormat};
use cm_proto::sse::Parser;

const TARGET_BYTES: usize = 50 * 1024 * 1024;
const CHUNK: usize = 16 * 1024;
const RUNS: usize = 7;

struct Case {
    name: &'static str,
    format: WireFormat,
    fixture: &'static str,
}

const CASES: [Case; 3] = [
    Case {
        name: "anthropic text stream",
        format: WireFormat::Anthropic,
        fixture: "anthropic/basic_response.txt",
    },
    Case {
        name: "anthropic tool-call stream",
        format: WireFormat::Anthropic,
        fixture: "anthropic/tool_use_response.txt",
    },
    Case {
        name: "openai-chat tool-call stream",
        format: WireFormat::OpenaiChat,
        fixture: "openai-chat/f82268f2fefd5cfbc7eeb59c297688be2f6ca0849a6e4f17851b517310841d9b.bin",
    },
];

fn main() {
    let dir = std::env::var("CM_FIXTURES_DIR").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/recorded"
        )
        .to_string()
    });
    println!(
        "chunk {CHUNK} bytes, at least {} MB per stream, median of {RUNS} runs",
        TARGET_BYTES / 1_000_000
    );
    for case in &CASES {
        let path = format!("{dir}/{}", case.fixture);
        let one = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let mut one = one;
        // Responses are separated by a blank line so the next one starts a fresh event.
        if !one.ends_with(b"\n\n") {
            one.extend_from_slice(b"\n\n");
        }
        let copies = TARGET_BYTES.div_ceil(one.len());
        let input: Vec<u8> = one.repeat(copies);

        let mut rates = Vec::new();
        let mut responses = 0;
        for _ in 0..RUNS {
            let start = Instant::now();
            responses = decode_all(case.format, &input);
            let secs = start.elapsed().as_secs_f64();
            rates.push(input.len() as f64 / secs / 1e6);
        }
        assert_eq!(
            responses, copies,
            "every repeated response must decode to its end"
        );
        rates.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{:<30} {:>7.1} MB/s median (min {:.1}, max {:.1}); {:.1} MB, {} responses",
            case.name,
            rates[RUNS / 2],
            rates[0],
            rates[RUNS - 1],
            input.len() as f64 / 1e6,
            copies
        );
    }
}

/// Decodes the whole input; returns how many complete responses it held.
fn decode_all(format: WireFormat, input: &[u8]) -> usize {
    let mut parser = Parser::new();
    let mut decoder = format.stream_decoder();
    let mut assembler = MessageAssembler::new(Origin::default());
    let mut sse_events = Vec::new();
    let mut events = Vec::new();
    let mut complete = 0;
    for chunk in input.chunks(CHUNK) {
        sse_events.clear();
        parser
            .feed(chunk, &mut sse_events)
            .expect("fixture is valid SSE");
        for event in &sse_events {
            events.clear();
            decoder.decode(event, &mut events).expect("fixture decodes");
            for e in &events {
                assembler.push(e);
                if matches!(e, StreamEvent::End) {
                    let done =
                        std::mem::replace(&mut assembler, MessageAssembler::new(Origin::default()))
                            .finish();
                    assert!(done.complete);
                    std::hint::black_box(done);
                    decoder = format.stream_decoder();
                    complete += 1;
                }
            }
        }
    }
    complete
}
