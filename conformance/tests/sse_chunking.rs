//! Rule 4 of the SSE checklist on real recordings: however a recorded event stream is cut
//! into reads, the parser yields the same events, offsets included.

use cm_conformance::load_all;
use cm_proto::sse::{Event, Parser};

/// SSE bodies counted across `shared/fixtures/recorded` when this test was written
/// (39 stream files, 19 cassette interactions, 1 JSON exchange).
const RECORDED_SSE_BODIES: usize = 59;

/// Bodies up to this size are also split in two at every offset.
const EVERY_SPLIT_MAX: usize = 16 * 1024;

const RANDOM_SPLITS: usize = 500;

/// `(fixture label, body)` for every event-stream response in every fixture.
fn sse_bodies() -> Vec<(String, Vec<u8>)> {
    let fixtures = load_all().expect("recorded fixtures load");
    fixtures
        .iter()
        .flat_map(|f| f.sse_bodies().map(|body| (f.label(), body.to_vec())))
        .collect()
}

fn parse_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Event> {
    let mut parser = Parser::new();
    let mut events = Vec::new();
    for chunk in chunks {
        parser
            .feed(chunk, &mut events)
            .expect("recorded events fit the cap");
    }
    assert_eq!(parser.finish(false), None);
    events
}

/// splitmix64: a seeded, dependency-free source of split points.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A chunk length: mostly small reads, sometimes network-sized ones.
    fn chunk_len(&mut self) -> usize {
        let scale = [3, 17, 300, 4096][(self.next() % 4) as usize];
        1 + (self.next() % scale) as usize
    }
}

fn random_chunks<'a>(body: &'a [u8], rng: &mut SplitMix) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rng.chunk_len().min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

#[test]
fn recorded_fixtures_hold_all_the_expected_sse_bodies() {
    let bodies = sse_bodies();
    assert!(
        bodies.len() >= RECORDED_SSE_BODIES,
        "found {} SSE bodies, expected at least {RECORDED_SSE_BODIES}",
        bodies.len()
    );
    for provider in [
        "anthropic",
        "google",
        "mistral",
        "openai-chat",
        "openai-compatible",
        "openai-responses",
    ] {
        assert!(
            bodies
                .iter()
                .any(|(label, _)| label.starts_with(&format!("{provider}/"))),
            "no SSE body from {provider}"
        );
    }
}

#[test]
fn every_recorded_sse_body_yields_events() {
    for (label, body) in sse_bodies() {
        let events = parse_chunks([body.as_slice()]);
        assert!(!events.is_empty(), "{label}: no events");
        assert!(
            events.iter().all(|e| !e.data.is_empty()),
            "{label}: empty data"
        );
    }
}

#[test]
fn byte_by_byte_feeding_gives_the_same_events_as_one_read() {
    for (label, body) in sse_bodies() {
        let whole = parse_chunks([body.as_slice()]);
        assert_eq!(parse_chunks(body.chunks(1)), whole, "{label}");
    }
}

#[test]
fn every_two_way_split_of_each_small_body_gives_the_same_events() {
    let mut tested = 0;
    for (label, body) in sse_bodies()
        .into_iter()
        .filter(|(_, b)| b.len() <= EVERY_SPLIT_MAX)
    {
        let whole = parse_chunks([body.as_slice()]);
        for at in 0..=body.len() {
            let (head, tail) = body.split_at(at);
            assert_eq!(parse_chunks([head, tail]), whole, "{label} split at {at}");
        }
        tested += 1;
    }
    assert!(
        tested >= RECORDED_SSE_BODIES / 2,
        "only {tested} small bodies"
    );
}

#[test]
fn random_multi_way_splits_of_each_body_give_the_same_events() {
    let mut rng = SplitMix(0x5EED_C0FF_EE00_0001);
    let mut large = 0;
    for (label, body) in sse_bodies() {
        let whole = parse_chunks([body.as_slice()]);
        large += usize::from(body.len() > EVERY_SPLIT_MAX);
        for round in 0..RANDOM_SPLITS {
            let chunks = random_chunks(&body, &mut rng);
            assert_eq!(
                parse_chunks(chunks.iter().copied()),
                whole,
                "{label} round {round}"
            );
        }
    }
    assert!(
        large >= 1,
        "no body larger than {EVERY_SPLIT_MAX} bytes was split"
    );
}
