//! The Responses decoder against recorded provider streams.
//!
//! Each `*.chunks.txt` line is one SSE event's data. Files holding several responses back
//! to back are split at each `response.created`, one decoder per response. What the
//! decoder assembles is compared with what a plain scan of the same JSON says.
// Helpers outside `#[test]` fns are not covered by clippy's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use cm_proto::http::Headers;
use cm_proto::message::{Origin, Part, StopReason, Usage};
use cm_proto::provider::openai_responses::{classify_error, decode_body, StreamDecoder};
use cm_proto::provider::{
    AssembledMessage, ErrorKind, MessageAssembler, StreamDecoder as _, StreamEvent,
};
use cm_proto::sse;
use serde_json::Value;

const RECORDED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/recorded"
);

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{RECORDED}/{path}")).unwrap()
}

/// The responses of a chunks file, each a list of payloads.
fn responses(path: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for line in read(path).lines().filter(|l| !l.trim().is_empty()) {
        let kind = serde_json::from_str::<Value>(line).unwrap()["type"].clone();
        if kind == "response.created" || out.is_empty() {
            out.push(Vec::new());
        }
        out.last_mut().unwrap().push(line.to_string());
    }
    out
}

fn decode(payloads: &[String]) -> (Vec<StreamEvent>, AssembledMessage) {
    let mut decoder = StreamDecoder::new();
    let mut events = Vec::new();
    let mut offset = 0u64;
    for data in payloads {
        let event = sse::Event {
            event: "message".into(),
            data: data.clone(),
            id: String::new(),
            offset,
        };
        decoder.decode(&event, &mut events).unwrap();
        offset += data.len() as u64 + 8;
    }
    decoder.finish(&mut events).unwrap();
    let done = assemble(&events);
    (events, done)
}

fn assemble(events: &[StreamEvent]) -> AssembledMessage {
    let mut assembler = MessageAssembler::new(Origin {
        provider: "openai".into(),
        model: "asked".into(),
    });
    for e in events {
        assembler.push(e);
    }
    assembler.finish()
}

/// What a plain scan of one response's payloads says it contains.
#[derive(Debug, Default)]
struct Scan {
    text: String,
    /// Per reasoning item (by output index): summary parts, or raw reasoning text.
    reasoning: BTreeMap<u64, BTreeMap<u64, String>>,
    /// `(call_id, name, arguments)` of each completed function call.
    calls: Vec<(String, String, Value)>,
    /// `(id, encrypted_content)` of each completed reasoning item.
    reasoning_items: Vec<(Option<String>, Option<String>)>,
    usage: Option<Value>,
    terminal: Option<Value>,
}

fn scan(payloads: &[String]) -> Scan {
    let mut s = Scan::default();
    for line in payloads {
        let v: Value = serde_json::from_str(line).unwrap();
        let delta = v["delta"].as_str().unwrap_or_default();
        let output = v["output_index"].as_u64().unwrap_or(0);
        match v["type"].as_str().unwrap_or_default() {
            "response.output_text.delta" | "response.refusal.delta" => s.text.push_str(delta),
            "response.reasoning_summary_text.delta" => s
                .reasoning
                .entry(output)
                .or_default()
                .entry(v["summary_index"].as_u64().unwrap())
                .or_default()
                .push_str(delta),
            "response.reasoning_text.delta" => s
                .reasoning
                .entry(output)
                .or_default()
                .entry(0)
                .or_default()
                .push_str(delta),
            "response.output_item.done" => {
                let item = &v["item"];
                match item["type"].as_str() {
                    Some("function_call") => s.calls.push((
                        item["call_id"].as_str().unwrap().into(),
                        item["name"].as_str().unwrap().into(),
                        serde_json::from_str(item["arguments"].as_str().unwrap()).unwrap(),
                    )),
                    Some("reasoning") => s.reasoning_items.push((
                        item["id"].as_str().map(String::from),
                        item["encrypted_content"].as_str().map(String::from),
                    )),
                    _ => {}
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if !v["response"]["usage"].is_null() {
                    s.usage = Some(v["response"]["usage"].clone());
                }
                s.terminal = Some(v);
            }
            _ => {}
        }
    }
    s
}

fn reasoning_parts(message: &AssembledMessage) -> Vec<&cm_proto::message::Reasoning> {
    message
        .message
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Reasoning(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Decodes every response of a file and checks it against the plain scan; returns them.
fn check_file(path: &str) -> Vec<(Vec<StreamEvent>, AssembledMessage)> {
    let mut decoded = Vec::new();
    for payloads in responses(path) {
        let (events, done) = decode(&payloads);
        let expected = scan(&payloads);
        assert!(done.complete, "{path}: no End");
        assert_eq!(
            events.iter().filter(|e| **e == StreamEvent::End).count(),
            1,
            "{path}"
        );
        assert_eq!(done.message.text(), expected.text, "{path}: text");

        let calls: Vec<_> = done
            .message
            .tool_calls()
            .map(|c| (c.id.clone(), c.name.clone(), c.parse_arguments().unwrap()))
            .collect();
        assert_eq!(calls, expected.calls, "{path}: tool calls");
        let ends = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::ToolCallEnd { .. }))
            .count();
        assert_eq!(
            ends,
            expected.calls.len(),
            "{path}: one ToolCallEnd per call"
        );

        let reasoning: Vec<String> = reasoning_parts(&done)
            .iter()
            .map(|r| r.text.clone())
            .filter(|t| !t.is_empty())
            .collect();
        let expected_reasoning: Vec<String> = expected
            .reasoning
            .values()
            .map(|parts| parts.values().cloned().collect::<Vec<_>>().join("\n\n"))
            .collect();
        assert_eq!(reasoning, expected_reasoning, "{path}: reasoning");
        let opaque: Vec<_> = reasoning_parts(&done)
            .iter()
            .filter(|r| r.encrypted.is_some())
            .map(|r| (r.id.clone(), r.encrypted.clone()))
            .collect();
        let expected_opaque: Vec<_> = expected
            .reasoning_items
            .iter()
            .filter(|(_, enc)| enc.is_some())
            .cloned()
            .collect();
        assert_eq!(opaque, expected_opaque, "{path}: encrypted reasoning");

        if let Some(u) = &expected.usage {
            let cached = u["input_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0);
            let written = u["input_tokens_details"]["cache_write_tokens"]
                .as_u64()
                .unwrap_or(0);
            assert_eq!(
                done.usage,
                Usage {
                    input_tokens: u["input_tokens"].as_u64().unwrap() - cached - written,
                    output_tokens: u["output_tokens"].as_u64().unwrap(),
                    cache_read_tokens: cached,
                    cache_write_tokens: written,
                    reasoning_tokens: u["output_tokens_details"]["reasoning_tokens"]
                        .as_u64()
                        .unwrap_or(0),
                },
                "{path}: usage"
            );
        }
        let terminal = expected.terminal.as_ref().unwrap();
        if terminal["type"] == "response.completed" {
            let stop = if expected.calls.is_empty() {
                StopReason::EndTurn
            } else {
                StopReason::ToolUse
            };
            assert_eq!(done.stop_reason, Some(stop), "{path}: stop");
            check_body_matches_stream(path, &terminal["response"], &done);
        }
        decoded.push((events, done));
    }
    decoded
}

/// The `response` of `response.completed`, decoded as a whole body, says the same thing.
fn check_body_matches_stream(path: &str, response: &Value, streamed: &AssembledMessage) {
    let body = serde_json::to_vec(response).unwrap();
    let whole = assemble(&decode_body(&body).unwrap());
    assert_eq!(whole.message.text(), streamed.message.text(), "{path}");
    assert_eq!(
        whole.message.tool_calls().collect::<Vec<_>>(),
        streamed.message.tool_calls().collect::<Vec<_>>(),
        "{path}"
    );
    assert_eq!(whole.usage, streamed.usage, "{path}");
    assert_eq!(whole.stop_reason, streamed.stop_reason, "{path}");
    assert!(whole.complete);
}

#[test]
fn reasoning_with_encrypted_content_and_calls_over_four_turns() {
    let decoded = check_file("openai-responses/openai-reasoning-encrypted-content.1.chunks.txt");
    assert_eq!(decoded.len(), 4);
    let (_, first) = &decoded[0];
    let reasoning = reasoning_parts(first);
    assert_eq!(reasoning.len(), 1);
    assert_eq!(
        reasoning[0].id.as_deref(),
        Some("rs_01830d662ab3856501693c321405c88190be3ab04d5782d5f9")
    );
    assert!(reasoning[0]
        .encrypted
        .as_deref()
        .is_some_and(|e| e.starts_with("gAAAAAB")));
    let call = first.message.tool_calls().next().unwrap();
    assert_eq!(
        call.item_id.as_deref(),
        Some("fc_01830d662ab3856501693c32151234819091cfca267e98cc5f")
    );
    assert_eq!(decoded[3].1.message.text(), "The final result is **570**.");
}

#[test]
fn quota_error_event_then_failed_gives_one_error() {
    let decoded = check_file("openai-responses/openai-error.1.chunks.txt");
    let (events, done) = &decoded[0];
    let errors = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Error(_)))
        .count();
    assert_eq!(errors, 1);
    let error = done.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::QuotaExceeded);
    assert_eq!(error.code.as_deref(), Some("insufficient_quota"));
    assert!(error.message.starts_with("You exceeded your current quota"));
    assert!(!error.retryable);
    assert_eq!(
        done.id.as_deref(),
        Some("resp_05500b38c2cd9bfc00691c7c9d222481a3b595421266dab424")
    );
}

#[test]
fn copilot_rotating_item_ids_give_one_reasoning_and_one_text_part() {
    let decoded = check_file("openai-responses/github-copilot-id-rotation.1.chunks.txt");
    let (_, done) = &decoded[0];
    assert_eq!(done.id.as_deref(), Some("capture-id-1"));
    assert_eq!(done.model.as_deref(), Some("gpt-5.3-codex"));
    assert_eq!(done.message.parts.len(), 2, "{:?}", done.message.parts);
    assert_eq!(
        reasoning_parts(done)[0].text,
        "**Counting character occurrences**"
    );
    assert!(done.message.text().starts_with("There are **3** letter"));
    assert_eq!(done.usage.reasoning_tokens, 44);
}

#[test]
fn lmstudio_call_with_only_done_arguments() {
    let decoded = check_file("openai-compatible/lmstudio-tool-call.1.chunks.txt");
    let (events, done) = &decoded[0];
    assert!(!events
        .iter()
        .any(|e| matches!(e, StreamEvent::ToolCallDelta { .. })));
    let call = done.message.tool_calls().next().unwrap();
    assert_eq!(call.id, "call_2025306790300011");
    assert_eq!(call.arguments, r#"{"location":"San Francisco"}"#);
    assert!(reasoning_parts(done)[0]
        .text
        .starts_with("The user is asking for the weather"));
    assert_eq!(done.usage.cache_read_tokens, 2);
    assert_eq!(done.usage.input_tokens, 180);
}

#[test]
fn tools_cm_does_not_model_are_skipped_with_debug() {
    for path in [
        "openai-responses/openai-apply-patch-tool.1.chunks.txt",
        "openai-responses/openai-custom-tool.1.chunks.txt",
        "openai-responses/openai-web-search-tool.1.chunks.txt",
    ] {
        for (events, done) in check_file(path) {
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e, StreamEvent::Debug { message } if message.contains("output item"))),
                "{path}: {events:?}"
            );
            assert_eq!(done.message.tool_calls().count(), 0, "{path}");
            assert!(done.error.is_none(), "{path}");
        }
    }
}

#[test]
fn web_search_answer_text_is_kept_and_annotations_skipped() {
    let decoded = check_file("openai-responses/openai-web-search-tool.1.chunks.txt");
    let (events, done) = &decoded[0];
    assert!(done.message.text().starts_with("I checked today"));
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::Debug { message } if message.contains("annotation")
    )));
}

#[test]
fn temperature_error_body_is_an_invalid_request() {
    let body = read("openai-responses/reasoning-model-temperature-error.json");
    let error = classify_error(400, &Headers::new(), body.as_bytes());
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert_eq!(error.code.as_deref(), Some("invalid_request_error"));
    assert_eq!(
        error.message,
        "Unsupported parameter: 'temperature' is not supported with this model."
    );
    assert!(!error.retryable);
    let events = decode_body(body.as_bytes()).unwrap();
    match &events[..] {
        [StreamEvent::Error(e)] => assert_eq!(e.message, error.message),
        other => panic!("expected one error, got {other:?}"),
    }
}
