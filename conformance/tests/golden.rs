//! Golden tests over every recorded provider response.
//!
//! Each fixture under `shared/fixtures/recorded/{anthropic, openai-chat, openai-responses,
//! openai-compatible, google, mistral}` is loaded by `cm_conformance::fixtures`; every recorded HTTP
//! interaction in it is decoded the way cm decodes a live response:
//!
//! - an event stream: bytes → `sse::Parser` → the format's `StreamDecoder` → events;
//! - a JSON body with a 2xx status (or none recorded): `WireFormat::decode_body`;
//! - a status of 400 or more: `WireFormat::classify_error`.
//!
//! The events, one JSON object per line, must equal
//! `conformance/golden/<provider dir>/<fixture file>.<interaction>.jsonl`; after the events
//! comes `{"truncated": …}` if the stream lacked its terminal event, then
//! `{"assembled": …}`, what `MessageAssembler` built. An error response's file holds one
//! line, `{"api_error": …}`. To (re)write the files after a deliberate change, run
//!
//! ```text
//! CM_BLESS=1 cargo test -p cm-conformance --test golden
//! ```
//!
//! and review the diff. Golden files alone would only bless what the decoders do, so each
//! response is also checked against a plain scan of the fixture's JSON (`golden/scan.rs`):
//! text, tool calls, usage, stop reason, errors and (for Chat streams, Mistral's thinking
//! chunks included) reasoning; and tool calls are compared with their
//! replay in a later request of the same recording.
//!
//! One stream is one response: a recording that concatenates several (vercel/ai's
//! `openai-reasoning-encrypted-content.1.chunks.txt` holds four) is checked up to its first
//! terminal event, and the decoder's `Debug` lines for the rest are part of its golden file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cm_conformance::fixtures::{self, Fixture, FixtureKind, Interaction};
use cm_proto::http::Headers;
use cm_proto::message::{Origin, Part, ToolCall};
use cm_proto::provider::profile::{profile, Profile};
use cm_proto::provider::{
    ApiError, AssembledMessage, DecodeError, MessageAssembler, StreamEvent, WireFormat,
};
use cm_proto::sse;
use serde_json::Value;

#[path = "golden/diff.rs"]
mod diff;
#[path = "golden/scan.rs"]
mod scan;

/// The fixture folders whose responses are in one of cm's wire formats, with how many
/// recorded fixtures each held when its golden files were written (a floor: adding
/// fixtures is fine, losing one fails).
const PROVIDER_DIRS: [(&str, usize); 6] = [
    ("anthropic", 26),
    ("openai-chat", 11),
    ("openai-responses", 10),
    ("openai-compatible", 8),
    ("google", 7),
    ("mistral", 4),
];

/// The command that rewrites the golden files.
const BLESS: &str = "CM_BLESS=1 cargo test -p cm-conformance --test golden";

/// Streams that legitimately end without the provider's terminal event:
/// (fixture, interaction, why). Every other stream must end properly.
const CUT_STREAMS: &[(&str, usize, &str)] = &[(
    "openai-compatible/test_tool_use_failed_error_streaming.yaml",
    0,
    "Groq closes the stream right after its mid-stream `event: error`; no [DONE] follows",
)];

/// Fixtures whose tool-call arguments are cut mid-JSON in the recording: (fixture, why).
/// For these the decoder must keep the raw text, which must not parse.
const TRUNCATED_ARGUMENTS: &[(&str, &str)] = &[(
    "anthropic/incomplete_partial_json_response.txt",
    "stop_reason max_tokens arrived while the tool_use input was still streaming",
)];

/// The wire format a fixture's responses are in, by folder.
fn format_of(fixture: &Fixture) -> WireFormat {
    match (fixture.dir.as_str(), fixture.name.as_str()) {
        ("anthropic", _) => WireFormat::Anthropic,
        ("openai-responses", _) => WireFormat::OpenaiResponses,
        ("google", _) => WireFormat::Gemini,
        // Mistral speaks Chat Completions with its own quirks; the decoder handles them
        // without being told (content as a list of text and thinking chunks, 9-character
        // tool-call ids kept as sent).
        ("mistral", _) => mistral_profile().format,
        // LM Studio's capture is of its Responses endpoint.
        ("openai-compatible", "lmstudio-tool-call.1.chunks.txt") => WireFormat::OpenaiResponses,
        _ => WireFormat::OpenaiChat,
    }
}

fn mistral_profile() -> &'static Profile {
    profile("mistral").unwrap_or_else(|| panic!("cm has no mistral profile"))
}

/// One recorded HTTP interaction to decode.
struct Case<'a> {
    fixture: &'a Fixture,
    index: usize,
    interaction: &'a Interaction,
    format: WireFormat,
}

impl Case<'_> {
    /// `dir/file #n`, for failure messages.
    fn label(&self) -> String {
        format!("{} #{}", self.fixture.label(), self.index)
    }

    fn golden_path(&self) -> PathBuf {
        golden_dir()
            .join(&self.fixture.dir)
            .join(format!("{}.{}.jsonl", self.fixture.name, self.index))
    }

    fn status(&self) -> u16 {
        self.interaction.status.unwrap_or(200)
    }
}

/// What one interaction decoded to.
enum Decoded {
    /// An event stream: the SSE events fed to the decoder and what came out.
    Stream {
        sse_events: Vec<sse::Event>,
        events: Vec<StreamEvent>,
        truncated: Option<DecodeError>,
        assembled: AssembledMessage,
    },
    /// A whole JSON body.
    Body {
        body: Value,
        events: Vec<StreamEvent>,
        assembled: AssembledMessage,
    },
    /// An HTTP error response.
    HttpError {
        body: Option<Value>,
        error: ApiError,
    },
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

fn blessing() -> bool {
    std::env::var_os("CM_BLESS").is_some_and(|v| v == "1")
}

fn load_fixtures() -> Vec<Fixture> {
    let all = fixtures::load_all().unwrap_or_else(|e| panic!("loading fixtures: {e}"));
    let ours: Vec<Fixture> = all
        .into_iter()
        .filter(|f| PROVIDER_DIRS.iter().any(|(dir, _)| *dir == f.dir))
        .collect();
    for (dir, floor) in PROVIDER_DIRS {
        let found = ours.iter().filter(|f| f.dir == dir).count();
        assert!(
            found >= floor,
            "expected at least {floor} recorded fixtures in {dir}/, found {found}"
        );
    }
    ours
}

fn cases(fixtures: &[Fixture]) -> Vec<Case<'_>> {
    fixtures
        .iter()
        .flat_map(|fixture| {
            let format = format_of(fixture);
            fixture
                .interactions
                .iter()
                .enumerate()
                .map(move |(index, interaction)| Case {
                    fixture,
                    index,
                    interaction,
                    format,
                })
        })
        .collect()
}

/// Folds events into a message whose origin is the provider cm would name: the profile
/// id for a provider with its own folder and profile (`mistral`), else the format's name.
fn assemble(case: &Case<'_>, events: &[StreamEvent]) -> AssembledMessage {
    let provider = match case.fixture.dir.as_str() {
        "mistral" => mistral_profile().id,
        _ => case.format.name(),
    };
    let mut assembler = MessageAssembler::new(Origin {
        provider: provider.to_string(),
        model: String::new(),
    });
    for event in events {
        assembler.push(event);
    }
    assembler.finish()
}

/// Decodes one interaction as cm would; `Err` says why it could not be decoded.
fn decode(case: &Case<'_>) -> Result<Decoded, String> {
    let interaction = case.interaction;
    let status = case.status();
    if status >= 400 {
        let headers: Headers = interaction.headers.iter().cloned().collect();
        return Ok(Decoded::HttpError {
            body: interaction.body_json(),
            error: case
                .format
                .classify_error(status, &headers, &interaction.body),
        });
    }
    if !interaction.is_sse {
        let body = interaction
            .body_json()
            .ok_or_else(|| format!("status {status} body is neither SSE nor JSON"))?;
        let events = case
            .format
            .decode_body(&interaction.body)
            .map_err(|e| format!("decode_body: {e}"))?;
        let assembled = assemble(case, &events);
        return Ok(Decoded::Body {
            body,
            events,
            assembled,
        });
    }
    let mut bytes = interaction.body.clone();
    if case.format == WireFormat::OpenaiChat && case.fixture.kind == FixtureKind::PayloadLines {
        // vercel/ai's recorder kept only the JSON payloads of Chat streams and so dropped
        // the final `data: [DONE]`; put it back, or every such stream would look cut.
        bytes.extend_from_slice(b"data: [DONE]\n\n");
    }
    let mut parser = sse::Parser::new();
    let mut sse_events = Vec::new();
    parser
        .feed(&bytes, &mut sse_events)
        .map_err(|e| format!("sse: {e}"))?;
    // Recorded files often lack the newline after the last event; dispatch it anyway.
    sse_events.extend(parser.finish(true));
    let mut decoder = case.format.stream_decoder();
    let mut events = Vec::new();
    for event in &sse_events {
        decoder
            .decode(event, &mut events)
            .map_err(|e| format!("event at byte {}: {e}", event.offset))?;
    }
    let truncated = match decoder.finish(&mut events) {
        Ok(()) => None,
        Err(e @ DecodeError::Truncated { .. }) => Some(e),
        Err(e) => return Err(format!("finish: {e}")),
    };
    let assembled = assemble(case, &events);
    Ok(Decoded::Stream {
        sse_events,
        events,
        truncated,
        assembled,
    })
}

/// One value as a compact JSON line.
macro_rules! json_line {
    ($value:expr) => {
        serde_json::to_string($value).expect("golden lines serialise")
    };
}

/// The golden file's text for a decoded interaction.
fn golden_text(decoded: &Decoded) -> String {
    let mut lines = Vec::new();
    match decoded {
        Decoded::Stream {
            events,
            truncated,
            assembled,
            ..
        } => {
            lines.extend(events.iter().map(|event| json_line!(event)));
            if let Some(truncated) = truncated {
                lines.push(format!(
                    "{{\"truncated\":{}}}",
                    json_line!(&truncated.to_string())
                ));
            }
            lines.push(format!("{{\"assembled\":{}}}", json_line!(assembled)));
        }
        Decoded::Body {
            events, assembled, ..
        } => {
            lines.extend(events.iter().map(|event| json_line!(event)));
            lines.push(format!("{{\"assembled\":{}}}", json_line!(assembled)));
        }
        Decoded::HttpError { error, .. } => {
            lines.push(format!("{{\"api_error\":{}}}", json_line!(error)));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Fails with every message in `failures`, one per paragraph.
fn report(what: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} {what}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_recorded_response_decodes_to_its_golden_file() {
    let fixtures = load_fixtures();
    let bless = blessing();
    let mut failures = Vec::new();
    let mut blessed = Vec::new();
    for case in cases(&fixtures) {
        let decoded = match decode(&case) {
            Ok(decoded) => decoded,
            Err(e) => {
                failures.push(format!("{}: does not decode: {e}", case.label()));
                continue;
            }
        };
        let actual = golden_text(&decoded);
        let path = case.golden_path();
        let expected = std::fs::read_to_string(&path).ok();
        if expected.as_deref() == Some(actual.as_str()) {
            continue;
        }
        if bless {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            }
            std::fs::write(&path, &actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            blessed.push(path.display().to_string());
            continue;
        }
        failures.push(match expected {
            None => format!(
                "{}: no golden file {}\n  review the output, then write it with: {BLESS}",
                case.label(),
                path.display()
            ),
            Some(expected) => format!(
                "{}: decoded events differ from {} (- golden, + decoder):\n{}\n  if the change is intended: {BLESS}",
                case.label(),
                path.display(),
                diff::lines(&expected, &actual)
            ),
        });
    }
    if !blessed.is_empty() {
        eprintln!(
            "blessed {} golden files:\n  {}",
            blessed.len(),
            blessed.join("\n  ")
        );
    }
    report(
        "recorded responses do not match their golden files",
        &failures,
    );
}

#[test]
fn no_golden_file_outlives_its_fixture() {
    let fixtures = load_fixtures();
    let wanted: BTreeSet<PathBuf> = cases(&fixtures).iter().map(Case::golden_path).collect();
    let mut stale = Vec::new();
    for dir in std::fs::read_dir(golden_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        for file in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = file.path();
            if !wanted.contains(&path) {
                stale.push(path);
            }
        }
    }
    if blessing() {
        for path in &stale {
            std::fs::remove_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            eprintln!("removed stale golden file {}", path.display());
        }
        return;
    }
    let stale: Vec<String> = stale
        .iter()
        .map(|p| {
            format!(
                "{}: no fixture interaction has this golden file; delete it or run {BLESS}",
                p.display()
            )
        })
        .collect();
    report("stale golden files", &stale);
}

#[test]
fn only_the_listed_streams_end_without_their_terminal_event() {
    let fixtures = load_fixtures();
    let mut cut = BTreeSet::new();
    for case in cases(&fixtures) {
        if let Ok(Decoded::Stream {
            truncated: Some(_), ..
        }) = decode(&case)
        {
            cut.insert((case.fixture.label(), case.index));
        }
    }
    let listed: BTreeSet<(String, usize)> = CUT_STREAMS
        .iter()
        .map(|(fixture, index, _why)| (fixture.to_string(), *index))
        .collect();
    assert_eq!(
        cut, listed,
        "streams that lack their terminal event must be exactly those in CUT_STREAMS"
    );
}

/// How many checks of each kind ran, so the suite cannot silently check nothing.
#[derive(Debug, Default)]
struct Tally {
    text: usize,
    tool_calls: usize,
    truncated_arguments: usize,
    usage: usize,
    stop: usize,
    errors: usize,
    reasoning: usize,
}

fn text_parts(assembled: &AssembledMessage) -> Vec<String> {
    assembled
        .message
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Text { text } if !text.is_empty() => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn reasoning_parts(assembled: &AssembledMessage) -> Vec<String> {
    assembled
        .message
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Reasoning(reasoning) if !reasoning.text.is_empty() => {
                Some(reasoning.text.clone())
            }
            _ => None,
        })
        .collect()
}

/// Compares one decoded response with the plain scan of its fixture.
fn check_against_scan(case: &Case<'_>, decoded: &Decoded, tally: &mut Tally) -> Vec<String> {
    let label = case.label();
    let mut failures = Vec::new();
    let (expected, assembled) = match decoded {
        Decoded::HttpError { body, error } => {
            let message = body.as_ref().and_then(scan::error_message);
            if error.status != Some(case.status()) {
                failures.push(format!(
                    "{label}: error status {:?}, the recording says {}",
                    error.status,
                    case.status()
                ));
            }
            if let Some(message) = message {
                tally.errors += 1;
                if error.message != message {
                    failures.push(format!(
                        "{label}: error message\n  decoded: {:?}\n  fixture: {message:?}",
                        error.message
                    ));
                }
            }
            return failures;
        }
        Decoded::Stream {
            sse_events,
            assembled,
            ..
        } => {
            let expected = match case.format {
                WireFormat::Anthropic => scan::anthropic_stream(sse_events),
                WireFormat::OpenaiChat => scan::chat_stream(sse_events),
                WireFormat::OpenaiResponses => scan::responses_stream(sse_events),
                WireFormat::Gemini => scan::gemini_stream(sse_events),
            };
            (expected, assembled)
        }
        Decoded::Body {
            body, assembled, ..
        } => {
            let expected = match case.format {
                WireFormat::Anthropic => scan::anthropic_body(body),
                WireFormat::OpenaiChat => scan::chat_body(body),
                WireFormat::OpenaiResponses => scan::responses_body(body),
                WireFormat::Gemini => scan::gemini_body(body),
            };
            (expected, assembled)
        }
    };

    // Text: each text part equals the concatenated deltas of one text block.
    let texts = text_parts(assembled);
    if !expected.texts.is_empty() {
        tally.text += 1;
    }
    if texts != expected.texts {
        failures.push(format!(
            "{label}: text parts\n  decoded: {texts:?}\n  fixture: {:?}",
            expected.texts
        ));
    }

    // Reasoning, where the scan of the format collects it: each reasoning part's text.
    if let Some(want) = &expected.reasoning {
        let reasoning = reasoning_parts(assembled);
        if !want.is_empty() {
            tally.reasoning += 1;
        }
        if reasoning != *want {
            failures.push(format!(
                "{label}: reasoning parts\n  decoded: {reasoning:?}\n  fixture: {want:?}"
            ));
        }
    }

    // Tool calls: same ids and names, arguments equal as JSON.
    let calls: Vec<&ToolCall> = assembled.message.tool_calls().collect();
    if calls.len() != expected.tool_calls.len() {
        failures.push(format!(
            "{label}: {} tool calls decoded, the fixture has {}: decoded {:?}, fixture {:?}",
            calls.len(),
            expected.tool_calls.len(),
            calls.iter().map(|c| &c.name).collect::<Vec<_>>(),
            expected
                .tool_calls
                .iter()
                .map(|c| &c.name)
                .collect::<Vec<_>>()
        ));
    }
    let cut_arguments = TRUNCATED_ARGUMENTS
        .iter()
        .any(|(fixture, _)| *fixture == case.fixture.label());
    for (call, want) in calls.iter().zip(&expected.tool_calls) {
        if call.id != want.id || call.name != want.name {
            failures.push(format!(
                "{label}: tool call decoded as {} {:?}, the fixture has {} {:?}",
                call.id, call.name, want.id, want.name
            ));
        }
        let parsed = scan::parse_arguments(&call.arguments);
        match scan::parse_arguments(&want.arguments) {
            Ok(want_value) => {
                tally.tool_calls += 1;
                match parsed {
                    Ok(value) if value == want_value => {}
                    _ => failures.push(format!(
                        "{label}: tool call {} arguments\n  decoded: {}\n  fixture: {}",
                        call.id, call.arguments, want.arguments
                    )),
                }
            }
            Err(_) if cut_arguments => {
                tally.truncated_arguments += 1;
                if call.arguments != want.arguments || parsed.is_ok() {
                    failures.push(format!(
                        "{label}: tool call {} was cut in the recording; the raw text must be kept\n  decoded: {}\n  fixture: {}",
                        call.id, call.arguments, want.arguments
                    ));
                }
            }
            Err(e) => failures.push(format!(
                "{label}: the fixture's arguments for {} are not JSON ({e}); if the recording is cut, list it in TRUNCATED_ARGUMENTS",
                want.id
            )),
        }
    }

    // Usage: the last report, normalised (input excludes cache reads and writes).
    let want_usage = expected.usage.unwrap_or_default();
    if expected.usage.is_some() {
        tally.usage += 1;
    }
    if assembled.usage != want_usage {
        failures.push(format!(
            "{label}: usage\n  decoded: {:?}\n  fixture: {want_usage:?}",
            assembled.usage
        ));
    }

    // Stop reason and sequence.
    let stop = assembled
        .stop_reason
        .as_ref()
        .map(|r| (r.as_str().to_string(), assembled.stop_sequence.clone()));
    if expected.stop.is_some() {
        tally.stop += 1;
    }
    if stop != expected.stop {
        failures.push(format!(
            "{label}: stop\n  decoded: {stop:?}\n  fixture: {:?}",
            expected.stop
        ));
    }

    // Errors reported inside a response.
    let error = assembled.error.as_ref().map(|e| e.message.clone());
    if expected.error.is_some() {
        tally.errors += 1;
    }
    if error != expected.error {
        failures.push(format!(
            "{label}: error\n  decoded: {error:?}\n  fixture: {:?}",
            expected.error
        ));
    }
    failures
}

#[test]
fn decoded_messages_agree_with_a_plain_scan_of_the_fixture() {
    let fixtures = load_fixtures();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for case in cases(&fixtures) {
        match decode(&case) {
            Ok(decoded) => failures.extend(check_against_scan(&case, &decoded, &mut tally)),
            Err(e) => failures.push(format!("{}: does not decode: {e}", case.label())),
        }
    }
    report("disagreements between decoder and fixture", &failures);
    eprintln!("plain-scan checks run: {tally:?}");
    // How many checks the recorded fixtures gave when this was written; fewer means a
    // check stopped running. Raise the numbers when fixtures are added.
    let floors = [
        ("text", tally.text, 46),
        ("tool call", tally.tool_calls, 30),
        ("truncated arguments", tally.truncated_arguments, 1),
        ("usage", tally.usage, 68),
        ("stop reason", tally.stop, 69),
        ("error", tally.errors, 12),
        ("reasoning", tally.reasoning, 7),
    ];
    for (what, ran, floor) in floors {
        assert!(
            ran >= floor,
            "only {ran} {what} checks ran, expected at least {floor}: {tally:?}"
        );
    }
}

#[test]
fn tool_calls_equal_their_replay_in_a_later_request() {
    let fixtures = load_fixtures();
    let mut compared = 0;
    let mut failures = Vec::new();
    for fixture in &fixtures {
        let format = format_of(fixture);
        let requests: Vec<Vec<(String, Value)>> = fixture
            .interactions
            .iter()
            .map(|i| {
                i.request_body
                    .as_ref()
                    .map(scan::replayed_calls)
                    .unwrap_or_default()
            })
            .collect();
        for (index, interaction) in fixture.interactions.iter().enumerate() {
            let case = Case {
                fixture,
                index,
                interaction,
                format,
            };
            let assembled = match decode(&case) {
                Ok(Decoded::Stream { assembled, .. } | Decoded::Body { assembled, .. }) => {
                    assembled
                }
                _ => continue,
            };
            for call in assembled.message.tool_calls() {
                // The first later request that sends this call back.
                let Some((_, replayed)) = requests[index + 1..]
                    .iter()
                    .flatten()
                    .find(|(id, _)| *id == call.id)
                else {
                    continue;
                };
                compared += 1;
                match scan::parse_arguments(&call.arguments) {
                    Ok(value) if value == *replayed => {}
                    _ => failures.push(format!(
                        "{}: tool call {} arguments\n  decoded: {}\n  replayed: {replayed}",
                        case.label(),
                        call.id,
                        call.arguments
                    )),
                }
            }
        }
    }
    report("tool calls differ from their replay", &failures);
    eprintln!("tool calls compared with their replay: {compared}");
    // Seven calls are replayed in the recordings: four parallel Anthropic calls, one
    // streamed Anthropic call, one Chat call and one Responses call.
    assert!(
        compared >= 7,
        "only {compared} decoded tool calls were found replayed in a later request, expected 7"
    );
}

#[test]
fn every_format_is_covered() {
    let fixtures = load_fixtures();
    let formats: BTreeSet<&str> = fixtures.iter().map(|f| format_of(f).name()).collect();
    assert_eq!(
        formats,
        WireFormat::ALL
            .iter()
            .map(|f| f.name())
            .collect::<BTreeSet<_>>()
    );
}
