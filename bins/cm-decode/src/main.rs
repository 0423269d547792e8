//! cm-decode: decode a recorded provider stream into cm's unified events.
//!
//! Reads raw SSE bytes (or, with `--chunks`, one JSON payload per line), runs them through
//! cm-proto's SSE parser and the chosen wire format's decoder, prints every unified event as
//! a JSON line, and prints the assembled assistant message as the last line. Malformed input
//! ends with exit code 1 and a one-line message naming the byte offset.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::ExitCode;

use cm_proto::message::{Origin, Part};
use cm_proto::provider::{
    AssembledMessage, DecodeError, MessageAssembler, StreamDecoder, StreamEvent, WireFormat,
};
use cm_proto::sse;
use serde_json::{json, Value};

const HELP: &str = "\
cm-decode — decode a recorded provider stream into cm's unified events

Usage: cm-decode --format FORMAT [--chunks] [FILE|-]

Options:
  -f, --format FORMAT  the wire format: anthropic, openai-chat, openai-responses or gemini
      --chunks         the input holds one JSON payload per line (the `*.chunks.txt`
                       fixtures), not raw Server-Sent Events
  -h, --help           print this help
  -V, --version        print the version

FILE defaults to standard input; `-` also means standard input.

Output: one JSON object per line for every unified event (`{\"type\":\"text_delta\",...}`),
then one final line `{\"type\":\"message\",...}` with the assembled assistant message:
its text, reasoning, tool calls with parsed arguments, usage and stop reason.

Exit codes: 0 decoded, 1 malformed or truncated input (the message names the byte
offset), 2 usage error.

Example:
  cm-decode --format anthropic ../shared/fixtures/recorded/anthropic/tool_use_response.txt
";

/// Bytes read from the input per parser feed.
const READ_CHUNK: usize = 16 * 1024;

struct Args {
    format: WireFormat,
    chunks: bool,
    input: Option<OsString>,
}

enum Failure {
    Usage(String),
    Input(String),
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cm-decode: {message}\nTry `cm-decode --help`.");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("cm-decode: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Input(message)) => {
            eprintln!("cm-decode: {message}");
            ExitCode::from(1)
        }
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut format = None;
    let mut chunks = false;
    let mut input = None;
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('f') | Long("format") => {
                let value = parser.value().map_err(|e| e.to_string())?;
                let name = value.to_string_lossy();
                format = Some(WireFormat::from_name(&name).ok_or_else(|| {
                    format!(
                        "unknown format `{name}`; expected one of: {}",
                        known_formats()
                    )
                })?);
            }
            Long("chunks") => chunks = true,
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(None);
            }
            Short('V') | Long("version") => {
                println!("cm-decode {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            Value(value) if input.is_none() => input = Some(value),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let format =
        format.ok_or_else(|| format!("missing --format; expected one of: {}", known_formats()))?;
    Ok(Some(Args {
        format,
        chunks,
        input,
    }))
}

fn known_formats() -> String {
    WireFormat::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn open_input(input: &Option<OsString>) -> Result<Box<dyn Read>, Failure> {
    match input {
        None => Ok(Box::new(io::stdin().lock())),
        Some(path) if path == "-" => Ok(Box::new(io::stdin().lock())),
        Some(path) => std::fs::File::open(path)
            .map(|f| Box::new(f) as Box<dyn Read>)
            .map_err(|e| Failure::Usage(format!("cannot open {}: {e}", path.to_string_lossy()))),
    }
}

/// Decodes the input, printing events as they come.
fn run(args: &Args) -> Result<(), Failure> {
    let reader = open_input(&args.input)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut session = Session {
        decoder: args.format.stream_decoder(),
        assembler: MessageAssembler::new(Origin {
            provider: args.format.name().to_string(),
            model: String::new(),
        }),
        events: Vec::new(),
    };
    let result = if args.chunks {
        decode_chunks(reader, &mut session, &mut out)
    } else {
        decode_sse(reader, &mut session, &mut out)
    };
    let finished = result.and_then(|offset| {
        session.events.clear();
        let end = session.decoder.finish(&mut session.events);
        session.flush(&mut out)?;
        end.map_err(|e| Failure::Input(format!("at byte {offset}: {e}")))
    });
    // The assembled message is printed even when the stream was cut: it is what arrived.
    let message = session.assembler.finish();
    write_line(&mut out, &final_line(&message))?;
    out.flush().map_err(write_failure)?;
    finished
}

struct Session {
    decoder: Box<dyn StreamDecoder + Send>,
    assembler: MessageAssembler,
    events: Vec<StreamEvent>,
}

impl Session {
    fn handle(&mut self, event: &sse::Event, out: &mut impl Write) -> Result<(), Failure> {
        self.events.clear();
        let decoded = self.decoder.decode(event, &mut self.events);
        self.flush(out)?;
        decoded.map_err(|e| Failure::Input(describe(&e, event.offset)))
    }

    fn flush(&mut self, out: &mut impl Write) -> Result<(), Failure> {
        for event in &self.events {
            self.assembler.push(event);
            let line =
                serde_json::to_value(event).unwrap_or_else(|e| json!({"error": e.to_string()}));
            write_line(out, &line)?;
        }
        Ok(())
    }
}

/// A one-line message for a decode error; invalid JSON already names its offset.
fn describe(error: &DecodeError, offset: u64) -> String {
    match error {
        DecodeError::InvalidJson { .. } => error.to_string(),
        _ => format!("at byte {offset}: {error}"),
    }
}

/// Feeds raw SSE bytes; returns the number of bytes read.
fn decode_sse(
    mut reader: Box<dyn Read>,
    session: &mut Session,
    out: &mut impl Write,
) -> Result<u64, Failure> {
    let mut parser = sse::Parser::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut sse_events = Vec::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::Input(format!(
                    "read error at byte {}: {e}",
                    parser.offset()
                )))
            }
        };
        sse_events.clear();
        let fed = parser.feed(&buf[..n], &mut sse_events);
        for event in &sse_events {
            session.handle(event, out)?;
        }
        fed.map_err(|e| Failure::Input(e.to_string()))?;
    }
    // The input ended cleanly: an event missing only its final blank line (some servers
    // and recordings omit it) is dispatched; a payload cut short still fails to decode.
    let read = parser.offset();
    if let Some(event) = parser.finish(true) {
        session.handle(&event, out)?;
    }
    Ok(read)
}

/// Feeds one JSON payload per line as SSE `message` events; returns the bytes read.
fn decode_chunks(
    reader: Box<dyn Read>,
    session: &mut Session,
    out: &mut impl Write,
) -> Result<u64, Failure> {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::Input(format!("read error at byte {offset}: {e}")))?;
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let data = text.trim_end_matches(['\n', '\r']);
        if !data.trim().is_empty() {
            let event = sse::Event {
                event: "message".to_string(),
                data: data.to_string(),
                id: String::new(),
                offset,
            };
            session.handle(&event, out)?;
        }
        offset += n as u64;
    }
    Ok(offset)
}

/// The last output line: the assembled message, with tool arguments parsed.
fn final_line(done: &AssembledMessage) -> Value {
    let mut reasoning = Vec::new();
    let mut tool_calls = Vec::new();
    for part in &done.message.parts {
        match part {
            Part::Reasoning(r) => reasoning.push(serde_json::to_value(r).unwrap_or(Value::Null)),
            Part::ToolCall(call) => {
                let (arguments, error) = match call.parse_arguments() {
                    Ok(value) => (value, None),
                    Err(e) => (Value::String(call.arguments.clone()), Some(e.to_string())),
                };
                let mut entry = json!({"id": call.id, "name": call.name, "arguments": arguments});
                if let Some(item_id) = &call.item_id {
                    entry["item_id"] = json!(item_id);
                }
                if let Some(error) = error {
                    entry["arguments_error"] = json!(error);
                }
                tool_calls.push(entry);
            }
            _ => {}
        }
    }
    let mut line = json!({
        "type": "message",
        "id": done.id,
        "model": done.model,
        "text": done.message.text(),
        "reasoning": reasoning,
        "tool_calls": tool_calls,
        "usage": done.usage,
        "stop_reason": done.stop_reason,
        "complete": done.complete,
    });
    if let Some(sequence) = &done.stop_sequence {
        line["stop_sequence"] = json!(sequence);
    }
    if let Some(error) = &done.error {
        line["error"] = serde_json::to_value(error).unwrap_or(Value::Null);
    }
    line
}

fn write_line(out: &mut impl Write, value: &Value) -> Result<(), Failure> {
    serde_json::to_writer(&mut *out, value).map_err(|e| write_failure(e.into()))?;
    out.write_all(b"\n").map_err(write_failure)
}

fn write_failure(e: io::Error) -> Failure {
    Failure::Input(format!("cannot write output: {e}"))
}
