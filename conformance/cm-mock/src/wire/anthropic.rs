//! Anthropic Messages: `message_start`, one `content_block_start`/`_delta`*/`_stop` group
//! per block (thinking, text, tool_use with `input_json_delta` fragments, the first one
//! empty as recorded), `message_delta` with the stop reason and usage, `message_stop`.

use serde_json::{json, Value};

use super::SseEvent;
use crate::answer::{pieces, Answer, Stop, ARGUMENT_PIECE, TEXT_PIECE};

fn stop_reason(answer: &Answer) -> String {
    match &answer.stop {
        Stop::EndTurn => "end_turn".into(),
        Stop::ToolUse => "tool_use".into(),
        Stop::MaxTokens => "max_tokens".into(),
        Stop::Other(other) => other.clone(),
    }
}

fn message_id(answer: &Answer) -> String {
    format!("msg_mock{:06}", answer.seq)
}

fn signature(answer: &Answer) -> String {
    format!("bW9jay1zaWduYXR1cmU{:06}", answer.seq)
}

fn start_usage(answer: &Answer) -> Value {
    let u = &answer.usage;
    json!({
        "input_tokens": u.input_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
        "output_tokens": 1,
        "service_tier": "standard",
    })
}

pub(super) fn stream(answer: &Answer) -> Vec<SseEvent> {
    let mut events = vec![SseEvent::named(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": message_id(answer),
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": start_usage(answer),
        }}),
    )];
    events.push(SseEvent::named("ping", json!({"type": "ping"})));
    let mut index = 0;
    let mut block = |events: &mut Vec<SseEvent>, start: Value, deltas: Vec<Value>| {
        events.push(SseEvent::named(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        for delta in deltas {
            events.push(SseEvent::named(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        events.push(SseEvent::named(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    };
    if let Some(reasoning) = &answer.reasoning {
        let mut deltas: Vec<Value> = pieces(reasoning, TEXT_PIECE)
            .into_iter()
            .map(|p| json!({"type": "thinking_delta", "thinking": p}))
            .collect();
        deltas.push(json!({"type": "signature_delta", "signature": signature(answer)}));
        block(
            &mut events,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
            deltas,
        );
    }
    if let Some(text) = &answer.text {
        let deltas = pieces(text, TEXT_PIECE)
            .into_iter()
            .map(|p| json!({"type": "text_delta", "text": p}))
            .collect();
        block(&mut events, json!({"type": "text", "text": ""}), deltas);
    }
    for (i, call) in answer.calls.iter().enumerate() {
        let mut deltas = vec![json!({"type": "input_json_delta", "partial_json": ""})];
        if !call.arguments.is_empty() {
            deltas.extend(
                pieces(&call.arguments, ARGUMENT_PIECE)
                    .into_iter()
                    .map(|p| json!({"type": "input_json_delta", "partial_json": p})),
            );
        }
        block(
            &mut events,
            json!({"type": "tool_use", "id": answer.call_id(i, "toolu_"), "name": call.name, "input": {}}),
            deltas,
        );
    }
    events.push(SseEvent::named(
        "message_delta",
        json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(answer), "stop_sequence": null},
            "usage": {"output_tokens": answer.usage.output_tokens}}),
    ));
    events.push(SseEvent::named(
        "message_stop",
        json!({"type": "message_stop"}),
    ));
    events
}

pub(super) fn body(answer: &Answer) -> Value {
    let mut content = Vec::new();
    if let Some(reasoning) = &answer.reasoning {
        content.push(
            json!({"type": "thinking", "thinking": reasoning, "signature": signature(answer)}),
        );
    }
    if let Some(text) = &answer.text {
        content.push(json!({"type": "text", "text": text}));
    }
    for (i, call) in answer.calls.iter().enumerate() {
        // A whole body carries the input as an object; malformed scripted arguments can
        // only be sent as the string they are.
        let input = serde_json::from_str::<Value>(&call.arguments)
            .unwrap_or_else(|_| Value::String(call.arguments.clone()));
        content.push(json!({"type": "tool_use", "id": answer.call_id(i, "toolu_"), "name": call.name, "input": input}));
    }
    let mut usage = start_usage(answer);
    usage["output_tokens"] = json!(answer.usage.output_tokens);
    json!({
        "id": message_id(answer),
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": content,
        "stop_reason": stop_reason(answer),
        "stop_sequence": null,
        "usage": usage,
    })
}

pub(super) fn error_body(status: u16, message: &str, seq: u64) -> Value {
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    };
    json!({
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": format!("req_mock{seq:06}"),
    })
}
