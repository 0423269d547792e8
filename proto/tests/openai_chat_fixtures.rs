//! Recorded Chat Completions streams (OpenAI, Azure, Anthropic's compatible endpoint,
//! DeepSeek, Groq, xAI, Mistral) decoded and assembled, checked against a plain scan of
//! the same fixture's JSON.

use std::collections::BTreeMap;

use cm_proto::message::{Origin, Part, StopReason, Usage};
use cm_proto::provider::openai_chat::{classify_error, StreamDecoder};
use cm_proto::provider::{
    AssembledMessage, DecodeError, ErrorKind, MessageAssembler, StreamDecoder as _, StreamEvent,
};
use cm_proto::{http::Headers, sse};
use serde_json::{json, Value};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/recorded"
);

fn read(path: &str) -> String {
    let full = format!("{FIXTURES}/{path}");
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Raw SSE text split into events: blocks separated by blank lines, `event:` and `data:`
/// lines read (a stand-in until the SSE parser lands on this branch).
fn raw_sse_events(text: &str) -> Vec<sse::Event> {
    let text = text.replace("\r\n", "\n");
    let mut events = Vec::new();
    let mut offset = 0u64;
    for block in text.split("\n\n") {
        let mut name = "message".to_string();
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim_start().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !data.is_empty() {
            events.push(sse::Event {
                event: name,
                data: data.join("\n"),
                id: String::new(),
                offset,
            });
        }
        offset += block.len() as u64 + 2;
    }
    events
}

/// One event per line of a `*.chunks.txt`, plus the `[DONE]` the recorder stripped.
fn chunk_events(text: &str) -> Vec<sse::Event> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .chain(["[DONE]"])
        .enumerate()
        .map(|(i, line)| sse::Event {
            event: "message".into(),
            data: line.to_string(),
            id: String::new(),
            offset: i as u64,
        })
        .collect()
}

fn events_of(path: &str) -> Vec<sse::Event> {
    let text = read(path);
    if path.ends_with(".chunks.txt") {
        chunk_events(&text)
    } else {
        raw_sse_events(&text)
    }
}

/// Decodes and assembles a whole fixture; the stream must end cleanly.
fn decode(path: &str) -> (Vec<StreamEvent>, AssembledMessage) {
    let mut decoder = StreamDecoder::new();
    let mut out = Vec::new();
    for event in events_of(path) {
        decoder
            .decode(&event, &mut out)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    decoder
        .finish(&mut out)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut assembler = MessageAssembler::new(Origin {
        provider: "test".into(),
        model: "asked".into(),
    });
    for event in &out {
        assembler.push(event);
    }
    (out, assembler.finish())
}

/// What a plain walk over the fixture's JSON says the answer is.
#[derive(Debug, Default)]
struct Expected {
    /// Text (content and refusal) per choice index.
    text: BTreeMap<u64, String>,
    /// Reasoning per choice index.
    reasoning: BTreeMap<u64, String>,
    /// (id, name, arguments) per tool-call id, in order of appearance.
    calls: Vec<(String, String, String)>,
    finish_reason: Option<String>,
    usage: Option<Value>,
}

fn scan(path: &str) -> Expected {
    let mut expected = Expected::default();
    for event in events_of(path) {
        let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            expected.usage = Some(usage.clone());
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let index = choice["index"].as_u64().unwrap_or(0);
            let delta = &choice["delta"];
            for key in ["reasoning_content", "reasoning"] {
                if let Some(r) = delta[key].as_str() {
                    expected.reasoning.entry(index).or_default().push_str(r);
                    break;
                }
            }
            match &delta["content"] {
                Value::String(s) => expected.text.entry(index).or_default().push_str(s),
                Value::Array(items) => {
                    for item in items {
                        if let Some(t) = item["text"].as_str() {
                            expected.text.entry(index).or_default().push_str(t);
                        }
                        for piece in item["thinking"].as_array().into_iter().flatten() {
                            let t = piece["text"].as_str().unwrap_or("");
                            expected.reasoning.entry(index).or_default().push_str(t);
                        }
                    }
                }
                _ => {}
            }
            if let Some(r) = delta["refusal"].as_str() {
                expected.text.entry(index).or_default().push_str(r);
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let arguments = call["function"]["arguments"].as_str().unwrap_or("");
                match call["id"].as_str() {
                    Some(id) if !expected.calls.iter().any(|c| c.0 == id) => {
                        let name = call["function"]["name"].as_str().unwrap_or("");
                        expected
                            .calls
                            .push((id.into(), name.into(), arguments.into()));
                    }
                    _ => {
                        // Continues the call with this index (the only one open at a time
                        // in these recordings).
                        if let Some(last) = expected.calls.last_mut() {
                            last.2.push_str(arguments);
                        }
                    }
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                expected.finish_reason = Some(reason.into());
            }
        }
    }
    expected.text.retain(|_, t| !t.is_empty());
    expected
}

fn texts(message: &AssembledMessage) -> Vec<String> {
    message
        .message
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn reasoning(message: &AssembledMessage) -> Vec<String> {
    message
        .message
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Reasoning(r) => Some(r.text.clone()),
            _ => None,
        })
        .collect()
}

/// The checks every fixture must pass: text, reasoning, calls, usage and stop as scanned.
fn check(path: &str) -> AssembledMessage {
    let (events, done) = decode(path);
    let expected = scan(path);
    assert!(done.complete, "{path}: no End");
    assert_eq!(done.error, None, "{path}");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Start { .. }))
            .count(),
        1,
        "{path}"
    );
    assert_eq!(
        texts(&done),
        expected.text.values().cloned().collect::<Vec<_>>(),
        "{path}: text per choice"
    );
    assert_eq!(
        reasoning(&done),
        expected
            .reasoning
            .values()
            .filter(|r| !r.is_empty())
            .cloned()
            .collect::<Vec<_>>(),
        "{path}: reasoning"
    );
    let calls: Vec<(String, String, String)> = done
        .message
        .tool_calls()
        .map(|c| (c.id.clone(), c.name.clone(), c.arguments.clone()))
        .collect();
    assert_eq!(calls, expected.calls, "{path}: tool calls");
    for call in done.message.tool_calls() {
        call.parse_arguments()
            .unwrap_or_else(|e| panic!("{path}: arguments of {}: {e}", call.id));
    }
    let reason = expected.finish_reason.as_deref().map(|r| match r {
        "stop" => StopReason::EndTurn,
        "length" => StopReason::MaxTokens,
        "tool_calls" => StopReason::ToolUse,
        other => StopReason::Other(other.into()),
    });
    if path.contains("173417d5") {
        assert_eq!(done.stop_reason, Some(StopReason::Refusal), "{path}");
    } else {
        assert_eq!(done.stop_reason, reason, "{path}");
    }
    if let Some(usage) = &expected.usage {
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let cached = n(&usage["prompt_tokens_details"]["cached_tokens"]);
        assert_eq!(done.usage.cache_read_tokens, cached, "{path}");
        assert_eq!(
            done.usage.input_tokens,
            n(&usage["prompt_tokens"]) - cached,
            "{path}"
        );
        assert_eq!(
            done.usage.reasoning_tokens,
            n(&usage["completion_tokens_details"]["reasoning_tokens"]),
            "{path}"
        );
    }
    done
}

#[test]
fn every_fixture_decodes_to_what_its_json_says() {
    let mut paths: Vec<String> = std::fs::read_dir(format!("{FIXTURES}/openai-chat"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bin"))
        .map(|n| format!("openai-chat/{n}"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 6);
    paths.extend(
        [
            "openai-chat/azure-model-router.1.chunks.txt",
            "openai-compatible/anthropic-fallback-tool-call.sse",
            "openai-compatible/deepseek-tool-call.chunks.txt",
            "openai-compatible/groq-tool-call.chunks.txt",
            "openai-compatible/xai-tool-call.chunks.txt",
            "mistral/mistral-reasoning.chunks.txt",
            "mistral/mistral-text.chunks.txt",
            "mistral/mistral-tool-call.chunks.txt",
        ]
        .map(String::from),
    );
    for path in &paths {
        check(path);
    }
}

#[test]
fn parallel_calls_split_over_many_fragments() {
    let done =
        check("openai-chat/f82268f2fefd5cfbc7eeb59c297688be2f6ca0849a6e4f17851b517310841d9b.bin");
    let calls: Vec<(String, Value)> = done
        .message
        .tool_calls()
        .map(|c| (c.name.clone(), c.parse_arguments().unwrap()))
        .collect();
    assert_eq!(
        calls,
        vec![
            (
                "GetWeatherArgs".into(),
                json!({"city": "Edinburgh", "country": "GB", "units": "c"})
            ),
            (
                "get_stock_price".into(),
                json!({"ticker": "AAPL", "exchange": "NASDAQ"})
            ),
        ]
    );
    assert_eq!(done.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(
        done.id.as_deref(),
        Some("chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63")
    );
    assert_eq!(done.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 149,
            output_tokens: 60,
            ..Usage::default()
        }
    );
}

#[test]
fn n_three_choices_each_get_a_part() {
    let done =
        check("openai-chat/a491adda08c3d4fde95f5b2ee3f60f7f745f1a56d82e62f58031cc2add502380.bin");
    assert_eq!(
        texts(&done),
        vec![
            r#"{"city":"San Francisco","temperature":65,"units":"f"}"#,
            r#"{"city":"San Francisco","temperature":61,"units":"f"}"#,
            r#"{"city":"San Francisco","temperature":59,"units":"f"}"#,
        ]
    );
}

#[test]
fn refusal_and_length() {
    let done =
        check("openai-chat/173417d553406f034f643e5db3f8d591fb691ebac56f5ae39a22cc7d455c5353.bin");
    assert_eq!(
        done.message.text(),
        "I'm sorry, I can't assist with that request."
    );
    assert_eq!(done.stop_reason, Some(StopReason::Refusal));
    let done =
        check("openai-chat/4cc50a6135d254573a502310e6af1246f55edb6ad95fa24059f160996b68866d.bin");
    assert_eq!(done.message.text(), "{\"");
    assert_eq!(done.stop_reason, Some(StopReason::MaxTokens));
}

#[test]
fn azure_filter_chunk_and_reasoning_usage() {
    let (events, done) = decode("openai-chat/azure-model-router.1.chunks.txt");
    assert!(
        matches!(&events[0], StreamEvent::Debug { .. }),
        "{:?}",
        events[0]
    );
    assert_eq!(
        events[1],
        StreamEvent::Start {
            id: Some("chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt".into()),
            model: Some("gpt-5-nano-2025-08-07".into()),
        }
    );
    assert_eq!(done.message.text(), "Capital of Denmark.");
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 15,
            output_tokens: 78,
            reasoning_tokens: 64,
            ..Usage::default()
        }
    );
}

#[test]
fn anthropic_compat_index_from_one_after_text() {
    let (events, done) = decode("openai-compatible/anthropic-fallback-tool-call.sse");
    assert_eq!(done.message.text(), "Reading it.");
    let call = done.message.tool_calls().next().unwrap();
    assert_eq!(call.id, "toolu_sanitized");
    assert_eq!(call.parse_arguments().unwrap(), json!({"path": "a.txt"}));
    assert!(
        events.contains(&StreamEvent::ToolCallEnd {
            part: 1,
            arguments: "{\"path\": \"a.txt\"}".into()
        }),
        "the call is part 1, after the text"
    );
}

#[test]
fn deepseek_reasoning_then_call_with_cache_hits() {
    let done = check("openai-compatible/deepseek-tool-call.chunks.txt");
    assert!(matches!(done.message.parts[0], Part::Reasoning(_)));
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 19,
            output_tokens: 83,
            cache_read_tokens: 320,
            cache_write_tokens: 0,
            reasoning_tokens: 39,
        }
    );
}

#[test]
fn groq_and_xai_whole_calls() {
    let done = check("openai-compatible/groq-tool-call.chunks.txt");
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 210,
            output_tokens: 15,
            ..Usage::default()
        },
        "x_groq.usage is not counted twice"
    );
    let done = check("openai-compatible/xai-tool-call.chunks.txt");
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 1,
            output_tokens: 26 + 227,
            cache_read_tokens: 306,
            cache_write_tokens: 0,
            reasoning_tokens: 227,
        },
        "xAI's reasoning is outside completion_tokens"
    );
}

#[test]
fn mistral_fixtures() {
    let done = check("mistral/mistral-tool-call.chunks.txt");
    let call = done.message.tool_calls().next().unwrap();
    assert_eq!(
        (call.id.as_str(), call.name.as_str()),
        ("gSIMJiOkT", "weather")
    );
    assert_eq!(
        done.usage,
        Usage {
            input_tokens: 124,
            output_tokens: 22,
            ..Usage::default()
        }
    );
    let done = check("mistral/mistral-reasoning.chunks.txt");
    assert_eq!(
        reasoning(&done),
        vec!["The user is asking for 2+2. This is basic arithmetic. 2+2=4."]
    );
    assert_eq!(done.message.text(), "2 + 2 = 4");
}

#[test]
fn cut_fixtures_end_their_calls_and_report_truncation() {
    let path = "openai-chat/2018feb66ae13fcf5333d61b95849decc68d3f63bd38172889367e1afb1e04f7.bin";
    let events = events_of(path);
    // Drop the finish chunk, the usage chunk and [DONE].
    let mut decoder = StreamDecoder::new();
    let mut out = Vec::new();
    for event in &events[..events.len() - 3] {
        decoder.decode(event, &mut out).unwrap();
    }
    let end = decoder.finish(&mut out);
    assert!(matches!(end, Err(DecodeError::Truncated { .. })), "{end:?}");
    assert_eq!(
        out.last(),
        Some(&StreamEvent::ToolCallEnd {
            part: 0,
            arguments: "{\"city\":\"New York City\"}".into()
        })
    );
}

#[test]
fn legacy_parameter_error_is_an_invalid_request() {
    let body = read("openai-chat/reasoning-model-legacy-parameter-error.json");
    let error = classify_error(400, &Headers::new(), body.as_bytes());
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert_eq!(error.code.as_deref(), Some("unsupported_parameter"));
    assert_eq!(
        error.message,
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
    );
    assert!(!error.retryable);
}
