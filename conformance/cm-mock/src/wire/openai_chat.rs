//! OpenAI Chat Completions: a role chunk, `delta.reasoning_content` and `delta.content`
//! fragments, `delta.tool_calls` (the first fragment of a call with index, id, type and
//! name, then argument pieces), a `finish_reason` chunk with an empty delta, a usage chunk
//! with `choices: []`, then `data: [DONE]`.

use serde_json::{json, Value};

use super::SseEvent;
use crate::answer::{pieces, Answer, Stop, ARGUMENT_PIECE, TEXT_PIECE};

fn finish_reason(answer: &Answer) -> String {
    match &answer.stop {
        Stop::EndTurn => "stop".into(),
        Stop::ToolUse => "tool_calls".into(),
        Stop::MaxTokens => "length".into(),
        Stop::Other(other) => other.clone(),
    }
}

fn usage(answer: &Answer) -> Value {
    let u = &answer.usage;
    let prompt = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_input_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": u.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

fn completion_id(answer: &Answer) -> String {
    format!("chatcmpl-mock{:06}", answer.seq)
}

pub(super) fn stream(answer: &Answer) -> Vec<SseEvent> {
    let chunk = |choices: Value, usage: Value| {
        SseEvent::data(
            json!({
                "id": completion_id(answer),
                "object": "chat.completion.chunk",
                "created": answer.created,
                "model": answer.model,
                "system_fingerprint": "fp_cm_mock",
                "choices": choices,
                "usage": usage,
            })
            .to_string(),
        )
    };
    let delta = |delta: Value| {
        chunk(
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]),
            Value::Null,
        )
    };
    let mut events = vec![delta(json!({"role": "assistant", "content": ""}))];
    if let Some(reasoning) = &answer.reasoning {
        for piece in pieces(reasoning, TEXT_PIECE) {
            events.push(delta(json!({"reasoning_content": piece})));
        }
    }
    if let Some(text) = &answer.text {
        for piece in pieces(text, TEXT_PIECE) {
            events.push(delta(json!({"content": piece})));
        }
    }
    for (i, call) in answer.calls.iter().enumerate() {
        events.push(delta(json!({"tool_calls": [{
            "index": i,
            "id": answer.call_id(i, "call_"),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }]})));
        if !call.arguments.is_empty() {
            for piece in pieces(&call.arguments, ARGUMENT_PIECE) {
                events.push(delta(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                ));
            }
        }
    }
    events.push(chunk(
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": finish_reason(answer)}]),
        Value::Null,
    ));
    events.push(chunk(json!([]), usage(answer)));
    events.push(SseEvent::data("[DONE]"));
    events
}

pub(super) fn body(answer: &Answer) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": answer.text,
        "refusal": null,
        "annotations": [],
    });
    if let Some(reasoning) = &answer.reasoning {
        message["reasoning_content"] = json!(reasoning);
    }
    if !answer.calls.is_empty() {
        let calls: Vec<Value> = answer
            .calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                json!({
                    "id": answer.call_id(i, "call_"),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                })
            })
            .collect();
        message["tool_calls"] = json!(calls);
    }
    json!({
        "id": completion_id(answer),
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "system_fingerprint": "fp_cm_mock",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(answer)}],
        "usage": usage(answer),
    })
}

/// OpenAI's error shape, shared by Chat Completions and Responses.
pub(super) fn error_body(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        401 => ("invalid_request_error", "invalid_api_key"),
        403 => (
            "invalid_request_error",
            "unsupported_country_region_territory",
        ),
        404 => ("invalid_request_error", "model_not_found"),
        429 => ("requests", "rate_limit_exceeded"),
        503 | 529 => ("server_error", "overloaded"),
        500..=599 => ("server_error", "server_error"),
        _ => ("invalid_request_error", "invalid_request"),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
