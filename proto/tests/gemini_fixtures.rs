//! The Gemini decoder over vercel/ai's recorded `streamGenerateContent` payloads.
#![allow(clippy::unwrap_used)]

use cm_proto::message::{Origin, StopReason, Usage};
use cm_proto::provider::{gemini, AssembledMessage, MessageAssembler, StreamDecoder as _};
use cm_proto::sse;
use serde_json::{json, Value};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/recorded/google"
);

fn lines(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture exists");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The payload lines framed as Gemini sends them (`data: …\r\n\r\n`), through the SSE parser.
fn decode(name: &str) -> AssembledMessage {
    let mut raw = Vec::new();
    for line in lines(name) {
        raw.extend_from_slice(format!("data: {line}\r\n\r\n").as_bytes());
    }
    let mut parser = sse::Parser::new();
    let mut events = Vec::new();
    parser.feed(&raw, &mut events).expect("valid SSE");
    let mut decoder = gemini::StreamDecoder::new();
    let mut out = Vec::new();
    for event in &events {
        decoder
            .decode(event, &mut out)
            .expect("every payload decodes");
    }
    decoder
        .finish(&mut out)
        .expect("the finishReason chunk ends the stream");
    let mut assembler = MessageAssembler::new(Origin::default());
    out.iter().for_each(|e| assembler.push(e));
    assembler.finish()
}

/// Plain scan: the concatenated text of non-thought text parts, and the last usage.
fn scan(name: &str) -> (String, Value) {
    let mut text = String::new();
    let mut usage = Value::Null;
    for line in lines(name) {
        let chunk: Value = serde_json::from_str(&line).unwrap();
        for part in chunk["candidates"][0]["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if part["thought"] != true {
                text.push_str(part["text"].as_str().unwrap_or_default());
            }
        }
        if chunk["usageMetadata"]["promptTokenCount"].is_u64() {
            usage = chunk["usageMetadata"].clone();
        }
    }
    (text, usage)
}

fn expected_usage(usage: &Value) -> Usage {
    let n = |k: &str| usage[k].as_u64().unwrap_or(0);
    Usage {
        input_tokens: n("promptTokenCount"),
        output_tokens: n("candidatesTokenCount") + n("thoughtsTokenCount"),
        reasoning_tokens: n("thoughtsTokenCount"),
        ..Usage::default()
    }
}

#[test]
fn text_and_reasoning_streams() {
    for name in ["google-text.chunks.txt", "google-reasoning.chunks.txt"] {
        let message = decode(name);
        let (text, usage) = scan(name);
        assert_eq!(message.message.text(), text, "{name}");
        assert_eq!(message.usage, expected_usage(&usage), "{name}");
        assert_eq!(message.stop_reason, Some(StopReason::EndTurn), "{name}");
        assert!(message.complete);
        assert_eq!(message.model.as_deref(), Some("gemini-3-pro-preview"));
        let signature = message.message.parts.iter().find_map(|p| match p {
            cm_proto::message::Part::Reasoning(r) => r.signature.clone(),
            _ => None,
        });
        assert!(
            signature.is_some_and(|s| s.len() > 100),
            "{name}: signature kept"
        );
    }
}

#[test]
fn a_function_call_keeps_its_signature() {
    let name = "google-tool-call.chunks.txt";
    let message = decode(name);
    let first: Value = serde_json::from_str(&lines(name)[0]).unwrap();
    let part = &first["candidates"][0]["content"]["parts"][0];
    let calls: Vec<_> = message.message.tool_calls().collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].name, "weather");
    assert_eq!(
        calls[0].parse_arguments().unwrap(),
        part["functionCall"]["args"]
    );
    assert_eq!(
        calls[0].signature.as_deref(),
        part["thoughtSignature"].as_str()
    );
    assert_eq!(calls[0].id, "call_0_b36LacjwM668nsEP2tbsgQQ");
    assert_eq!(message.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(message.usage, expected_usage(&scan(name).1));
}

#[test]
fn streamed_arguments_assemble_into_two_calls() {
    let name = "google-stream-tool-call-arguments.chunks.txt";
    let message = decode(name);
    let calls: Vec<_> = message.message.tool_calls().collect();
    let args: Vec<Value> = calls.iter().map(|c| c.parse_arguments().unwrap()).collect();
    assert_eq!(
        args,
        vec![
            json!({"location": "Boston"}),
            json!({"location": "San Francisco"})
        ]
    );
    assert!(calls.iter().all(|c| c.name == "getWeather"));
    assert!(calls[0].signature.is_some() && calls[1].signature.is_none());
    assert_eq!(message.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(
        message.usage,
        Usage {
            input_tokens: 26,
            output_tokens: 155,
            reasoning_tokens: 132,
            ..Usage::default()
        }
    );
}

#[test]
fn the_recorded_429_gives_its_retry_delay() {
    let body = std::fs::read(format!("{FIXTURES}/google-429-retry-info.json")).unwrap();
    let error = gemini::classify_error(429, &Default::default(), &body);
    assert_eq!(error.retry_after_ms, Some(34_400));
    assert_eq!(error.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert!(error.retryable);
}
