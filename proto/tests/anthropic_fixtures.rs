//! The Anthropic decoder against recorded real streams and bodies.
//!
//! Expected values come from a plain scan of each fixture's JSON (text deltas, tool
//! inputs) or are copied from its last usage report, never from the decoder itself.

use cm_proto::message::{Origin, StopReason, Usage};
use cm_proto::provider::{anthropic, AssembledMessage, MessageAssembler, StreamDecoder as _};
use cm_proto::provider::{DecodeError, StreamEvent};
use cm_proto::sse;
use serde_json::{json, Value};

fn fixture(name: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/recorded/anthropic/"
    )
    .to_string()
        + name;
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `*.chunks.txt`: one data payload per line, no `event:` names.
fn chunk_events(text: &str) -> Vec<sse::Event> {
    let mut offset = 0u64;
    let mut events = Vec::new();
    for line in text.split('\n') {
        if !line.trim().is_empty() {
            events.push(sse::Event {
                event: "message".into(),
                data: line.to_string(),
                id: String::new(),
                offset,
            });
        }
        offset += line.len() as u64 + 1;
    }
    events
}

/// Raw SSE text: blank-line separated blocks of `event:` and `data:` lines.
fn raw_sse_events(text: &str) -> Vec<sse::Event> {
    let mut events = Vec::new();
    let mut offset = 0u64;
    for block in text.split("\n\n") {
        let mut event = "message".to_string();
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim_start().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !data.is_empty() {
            events.push(sse::Event {
                event,
                data: data.join("\n"),
                id: String::new(),
                offset,
            });
        }
        offset += block.len() as u64 + 2;
    }
    events
}

struct Decoded {
    events: Vec<StreamEvent>,
    message: AssembledMessage,
}

fn decode(events: &[sse::Event]) -> Decoded {
    let mut decoder = anthropic::StreamDecoder::new();
    let mut out = Vec::new();
    for event in events {
        decoder
            .decode(event, &mut out)
            .unwrap_or_else(|e| panic!("{e} at {}", event.offset));
    }
    decoder.finish(&mut out).expect("stream complete");
    let mut assembler = MessageAssembler::new(Origin {
        provider: "anthropic".into(),
        model: "asked".into(),
    });
    for e in &out {
        assembler.push(e);
    }
    Decoded {
        events: out,
        message: assembler.finish(),
    }
}

fn payloads(events: &[sse::Event]) -> Vec<Value> {
    events
        .iter()
        .map(|e| serde_json::from_str(&e.data).expect("fixture JSON"))
        .collect()
}

/// The concatenation of every `text_delta` in the fixture.
fn scanned_text(payloads: &[Value]) -> String {
    payloads
        .iter()
        .filter(|p| p["delta"]["type"] == "text_delta")
        .filter_map(|p| p["delta"]["text"].as_str())
        .collect()
}

/// `(id, name, concatenated partial_json)` for every `tool_use` block in the fixture.
fn scanned_tool_calls(payloads: &[Value]) -> Vec<(String, String, String)> {
    let mut calls = Vec::new();
    for start in payloads
        .iter()
        .filter(|p| p["type"] == "content_block_start" && p["content_block"]["type"] == "tool_use")
    {
        let index = &start["index"];
        let args: String = payloads
            .iter()
            .filter(|p| p["type"] == "content_block_delta" && &p["index"] == index)
            .filter_map(|p| p["delta"]["partial_json"].as_str())
            .collect();
        let block = &start["content_block"];
        calls.push((
            block["id"].as_str().unwrap_or_default().to_string(),
            block["name"].as_str().unwrap_or_default().to_string(),
            args,
        ));
    }
    calls
}

fn usage(input: u64, output: u64, read: u64, write: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: 0,
    }
}

/// Decodes a fixture and checks text and tool calls against the plain scan.
fn check(events: Vec<sse::Event>) -> Decoded {
    let payloads = payloads(&events);
    let decoded = decode(&events);
    let m = &decoded.message;
    assert!(m.complete);
    assert_eq!(m.message.text(), scanned_text(&payloads));
    let calls: Vec<_> = m
        .message
        .tool_calls()
        .map(|c| (c.id.clone(), c.name.clone(), c.arguments.clone()))
        .collect();
    assert_eq!(calls, scanned_tool_calls(&payloads));
    assert_eq!(
        decoded
            .events
            .iter()
            .filter(|e| matches!(e, StreamEvent::End))
            .count(),
        1
    );
    decoded
}

#[test]
fn text_chunks() {
    let d = check(chunk_events(&fixture("anthropic-text.chunks.txt")));
    assert_eq!(
        d.message.message.text(),
        "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?"
    );
    assert_eq!(
        d.message.id.as_deref(),
        Some("msg_01QC4g3HwBThD4BaNtBckFDJ")
    );
    assert_eq!(
        d.message.model.as_deref(),
        Some("claude-sonnet-4-5-20250929")
    );
    assert_eq!(d.message.usage, usage(12, 30, 0, 0));
    assert_eq!(d.message.stop_reason, Some(StopReason::EndTurn));
    assert!(
        !d.events
            .iter()
            .any(|e| matches!(e, StreamEvent::Debug { .. })),
        "ping is normal"
    );
}

#[test]
fn tool_without_arguments() {
    let d = check(chunk_events(&fixture("anthropic-tool-no-args.chunks.txt")));
    let call = d.message.message.tool_calls().next().unwrap();
    assert_eq!(call.name, "updateIssueList");
    assert_eq!(call.arguments, "");
    assert_eq!(call.parse_arguments().unwrap(), json!({}));
    assert_eq!(
        d.message.message.text(),
        "I'll update the issue list for you."
    );
    assert_eq!(d.message.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(d.message.usage, usage(565, 48, 0, 0));
}

#[test]
fn json_tool() {
    let d = check(chunk_events(&fixture("anthropic-json-tool.1.chunks.txt")));
    let call = d.message.message.tool_calls().next().unwrap();
    assert_eq!(
        call.parse_arguments().unwrap(),
        json!({"elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]})
    );
    assert_eq!(d.message.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(d.message.usage, usage(849, 47, 0, 0));
}

#[test]
fn thinking_with_signature() {
    let events = chunk_events(&fixture("anthropic-clear-thinking.1.chunks.txt"));
    let payloads = payloads(&events);
    let d = check(events);
    let thinking: String = payloads
        .iter()
        .filter_map(|p| p["delta"]["thinking"].as_str())
        .collect();
    let signature = payloads
        .iter()
        .find_map(|p| p["delta"]["signature"].as_str())
        .unwrap();
    match &d.message.message.parts[0] {
        cm_proto::message::Part::Reasoning(r) => {
            assert_eq!(r.text, thinking);
            assert_eq!(r.signature.as_deref(), Some(signature));
            assert_eq!(r.origin.model, "claude-sonnet-4-5-20250929");
        }
        other => panic!("expected reasoning, got {other:?}"),
    }
    assert_eq!(d.message.message.text(), "925 ÷ 5 = 185");
    assert_eq!(d.message.usage, usage(69, 53, 0, 0));
}

#[test]
fn gateway_input_tokens_in_message_delta_win() {
    let d = check(chunk_events(&fixture(
        "anthropic-message-delta-input-tokens.chunks.txt",
    )));
    assert_eq!(d.message.message.text(), "pong");
    assert_eq!(d.message.usage, usage(61, 2, 0, 0));
}

#[test]
fn refusal_without_content() {
    let d = check(chunk_events(&fixture("anthropic-refusal.chunks.txt")));
    assert!(d.message.message.parts.is_empty());
    assert_eq!(d.message.stop_reason, Some(StopReason::Refusal));
    assert_eq!(d.message.usage, usage(18, 5, 0, 0));
}

#[test]
fn web_search_blocks_are_skipped_and_text_kept() {
    let events = chunk_events(&fixture("anthropic-web-search-tool.1.chunks.txt"));
    let payloads = payloads(&events);
    let d = check(events);
    assert_eq!(d.message.message.tool_calls().count(), 0);
    assert!(d
        .message
        .message
        .text()
        .starts_with("Based on my search results"));
    let citations = payloads
        .iter()
        .filter(|p| p["delta"]["type"] == "citations_delta")
        .count();
    let skipped_blocks = payloads
        .iter()
        .filter(|p| {
            p["type"] == "content_block_start"
                && !matches!(p["content_block"]["type"].as_str(), Some("text"))
        })
        .count();
    let debugs = d
        .events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Debug { .. }))
        .count();
    assert_eq!(debugs, citations + skipped_blocks);
    let last = payloads
        .iter()
        .rev()
        .find(|p| p["type"] == "message_delta")
        .unwrap();
    assert_eq!(
        d.message.usage.output_tokens,
        last["usage"]["output_tokens"].as_u64().unwrap()
    );
    assert_eq!(d.message.stop_reason, Some(StopReason::EndTurn));
}

#[test]
fn prompt_cache_counters_and_server_code_execution() {
    let d = check(chunk_events(&fixture(
        "anthropic-code-execution-20260120-prompt-cache.1.chunks.txt",
    )));
    assert_eq!(
        d.message.message.tool_calls().count(),
        0,
        "server tools only"
    );
    assert_eq!(
        d.message.message.text(),
        "The sum of the squares of the numbers 1 through 12 is **650**."
    );
    assert_eq!(d.message.usage, usage(6, 198, 6289, 3337));
    assert_eq!(d.message.stop_reason, Some(StopReason::EndTurn));
}

#[test]
fn sdk_basic_response() {
    let d = check(raw_sse_events(&fixture("basic_response.txt")));
    assert_eq!(d.message.message.text(), "Hello there!");
    assert_eq!(d.message.usage, usage(11, 6, 0, 0));
    assert_eq!(d.message.stop_reason, Some(StopReason::EndTurn));
}

#[test]
fn sdk_tool_use_split_mid_key() {
    let d = check(raw_sse_events(&fixture("tool_use_response.txt")));
    let call = d.message.message.tool_calls().next().unwrap();
    assert_eq!(call.id, "toolu_01NRLabsLyVHZPKxbKvkfSMn");
    assert_eq!(
        call.parse_arguments().unwrap(),
        json!({"location": "Paris"})
    );
    assert_eq!(d.message.usage, usage(377, 65, 0, 0));
    assert_eq!(d.message.stop_reason, Some(StopReason::ToolUse));
}

#[test]
fn sdk_incomplete_partial_json_is_closed_at_message_stop() {
    let d = check(raw_sse_events(&fixture(
        "incomplete_partial_json_response.txt",
    )));
    let call = d.message.message.tool_calls().next().unwrap();
    assert_eq!(call.name, "make_file");
    assert!(
        call.arguments.ends_with("\n\"Filing taxes"),
        "{}",
        call.arguments
    );
    assert!(
        call.parse_arguments().is_err(),
        "truncated JSON is kept as is"
    );
    let ends = d
        .events
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCallEnd { .. }))
        .count();
    assert_eq!(ends, 1);
    assert_eq!(d.message.stop_reason, Some(StopReason::MaxTokens));
    assert_eq!(d.message.usage, usage(450, 124, 0, 0));
}

#[test]
fn cut_stream_reports_truncation() {
    let events = raw_sse_events(&fixture("tool_use_response.txt"));
    let cut = events.len() - 3; // before content_block_stop, message_delta, message_stop
    let mut decoder = anthropic::StreamDecoder::new();
    let mut out = Vec::new();
    for e in &events[..cut] {
        decoder.decode(e, &mut out).unwrap();
    }
    assert_eq!(
        decoder.finish(&mut out),
        Err(DecodeError::Truncated {
            last_event: "content_block_delta".into()
        })
    );
    assert!(matches!(
        out.last(),
        Some(StreamEvent::ToolCallEnd { arguments, .. }) if arguments == "{\"location\": \"Paris\"}"
    ));
}

fn assemble(events: &[StreamEvent]) -> AssembledMessage {
    let mut assembler = MessageAssembler::new(Origin::default());
    for e in events {
        assembler.push(e);
    }
    assembler.finish()
}

#[test]
fn body_text() {
    let body = fixture("anthropic-text.json");
    let events = anthropic::decode_body(body.as_bytes()).unwrap();
    let m = assemble(&events);
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        m.message.text(),
        json["content"][0]["text"].as_str().unwrap()
    );
    assert_eq!(m.id.as_deref(), Some("msg_01VdEjxAP5ahtHKrrRdNBteQ"));
    assert_eq!(m.usage, usage(12, 29, 0, 0));
    assert_eq!(m.stop_reason, Some(StopReason::EndTurn));
    assert!(m.complete);
}

#[test]
fn body_web_search() {
    let body = fixture("anthropic-web-search-tool.1.json");
    let events = anthropic::decode_body(body.as_bytes()).unwrap();
    let m = assemble(&events);
    let json: Value = serde_json::from_str(&body).unwrap();
    let blocks = json["content"].as_array().unwrap();
    let text: String = blocks
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .collect();
    assert_eq!(m.message.text(), text);
    assert_eq!(m.message.tool_calls().count(), 0);
    let debugs = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Debug { .. }))
        .count();
    assert_eq!(
        debugs,
        blocks.iter().filter(|b| b["type"] != "text").count()
    );
    assert_eq!(m.usage, usage(27118, 600, 0, 0));
    assert_eq!(m.stop_reason, Some(StopReason::EndTurn));
}

#[test]
fn every_truncation_of_every_event_is_survived() {
    for name in [
        "tool_use_response.txt",
        "anthropic-clear-thinking.1.chunks.txt",
    ] {
        let text = fixture(name);
        let events = if name.ends_with(".chunks.txt") {
            chunk_events(&text)
        } else {
            raw_sse_events(&text)
        };
        let mut decoder = anthropic::StreamDecoder::new();
        let mut out = Vec::new();
        for event in &events {
            for (cut, _) in event.data.char_indices() {
                let partial = sse::Event {
                    data: event.data[..cut].to_string(),
                    ..event.clone()
                };
                let _ = decoder.decode(&partial, &mut out);
            }
            decoder
                .decode(event, &mut out)
                .expect("the whole event decodes");
        }
        decoder
            .finish(&mut out)
            .expect("the stream still completes");
    }
}
