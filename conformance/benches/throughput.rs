//! Decoding throughput: recorded provider streams repeated to at least 50 MB, fed in 16 KB
//! chunks through the SSE parser, the wire format's decoder and the message assembler.
//!
//! Two shapes per recording:
//! - "back to back": the whole recorded response repeated; a fresh decoder and assembler
//!   start after each response's terminal event, as a client would have. Small recordings
//!   make this mostly per-response work (start, usage, stop events).
//! - "one long response": the recording's head, then its delta events repeated, then its
//!   tail — one long answer streaming in, which is where throughput matters.
//!
//! Reports the median of several runs by wall-clock time and by the CPU time of the
//! decoding thread (from /proc/thread-self/schedstat), so a busy machine does not hide what
//! one core does.
//!
//! Run: `cargo bench -p cm-conformance --bench throughput [-- NAME]` (NAME: a part of a
//! stream's name, to run only those streams)

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
    /// The payload type whose events are repeated for the long-response shape.
    delta_marker: &'static str,
    /// The fixture holds one JSON payload per line (`*.chunks.txt`), not raw SSE.
    payload_lines: bool,
}

const CASES: [Case; 4] = [
    Case {
        name: "anthropic text",
        format: WireFormat::Anthropic,
        fixture: "anthropic/basic_response.txt",
        delta_marker: "\"text_delta\"",
        payload_lines: false,
    },
    Case {
        name: "anthropic tool-call",
        format: WireFormat::Anthropic,
        fixture: "anthropic/tool_use_response.txt",
        delta_marker: "\"input_json_delta\"",
        payload_lines: false,
    },
    Case {
        name: "openai-chat tool-call",
        format: WireFormat::OpenaiChat,
        fixture: "openai-chat/f82268f2fefd5cfbc7eeb59c297688be2f6ca0849a6e4f17851b517310841d9b.bin",
        delta_marker: "\"arguments\":\"",
        payload_lines: false,
    },
    Case {
        name: "gemini text",
        format: WireFormat::Gemini,
        fixture: "google/google-reasoning.chunks.txt",
        // The text chunks; the last chunk (signature, finishReason) has no `index` there.
        delta_marker: "\"role\":\"model\"},\"index\"",
        payload_lines: true,
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
        "16 KB chunks, at least {} MB per stream, median of {RUNS} runs",
        TARGET_BYTES / 1_000_000
    );
    println!(
        "{:<24} {:<18} {:>14} {:>14} {:>10}",
        "stream", "shape", "MB/s (CPU)", "MB/s (wall)", "responses"
    );
    // An optional argument picks the streams whose name contains it (for profiling one).
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    for case in CASES.iter().filter(|c| c.name.contains(filter.as_str())) {
        let path = format!("{dir}/{}", case.fixture);
        let recorded = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let recorded = if case.payload_lines {
            as_sse(&recorded)
        } else {
            recorded
        };
        let events = split_events(&recorded);

        let back_to_back = events
            .concat()
            .repeat(TARGET_BYTES.div_ceil(events.concat().len()));
        report(case, "back to back", &back_to_back);

        let first = events
            .iter()
            .position(|e| contains(e, case.delta_marker))
            .expect("the recording has delta events");
        let last = events
            .iter()
            .rposition(|e| contains(e, case.delta_marker))
            .expect("the recording has delta events");
        let deltas = events[first..=last].concat();
        let head = events[..first].concat();
        let tail = events[last + 1..].concat();
        let mut long = head;
        long.extend(deltas.repeat(TARGET_BYTES.div_ceil(deltas.len())));
        long.extend(tail);
        report(case, "one long response", &long);
    }
}

fn report(case: &Case, shape: &str, input: &[u8]) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let mut responses = 0;
    for _ in 0..RUNS {
        let cpu_start = thread_cpu_ns();
        let start = Instant::now();
        responses = decode_all(case.format, input);
        let secs = start.elapsed().as_secs_f64();
        wall.push(input.len() as f64 / secs / 1e6);
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu_ns()) {
            cpu.push(input.len() as f64 / (b.saturating_sub(a).max(1) as f64 / 1e9) / 1e6);
        }
    }
    assert!(responses > 0, "every response must decode to its end");
    println!(
        "{:<24} {:<18} {:>14.1} {:>14.1} {:>10}",
        case.name,
        shape,
        median(&mut cpu),
        median(&mut wall),
        responses
    );
}

/// One `data:` event per line of a payload-lines recording.
fn as_sse(lines: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(lines)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| format!("data: {line}\n\n"))
        .collect::<String>()
        .into_bytes()
}

/// The recording cut into whole SSE events (each with its terminating blank line).
fn split_events(recorded: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(recorded).replace("\r\n", "\n");
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| format!("{e}\n\n").into_bytes())
        .collect()
}

fn contains(event: &[u8], marker: &str) -> bool {
    String::from_utf8_lossy(event).contains(marker)
}

/// The median of `values` (NaN when empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Nanoseconds this thread has spent on a CPU, where Linux tells.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
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
    if let Some(event) = parser.finish(true) {
        events.clear();
        decoder
            .decode(&event, &mut events)
            .expect("fixture decodes");
        for e in &events {
            if matches!(e, StreamEvent::End) {
                complete += 1;
            }
        }
    }
    complete
}
