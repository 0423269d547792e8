//! OpenAI Responses: `response.created` and `.in_progress`, then per output item
//! `output_item.added`, its deltas (reasoning summary, `output_text`, or
//! `function_call_arguments` with `.done`) and `output_item.done`, then `response.completed`
//! (or `.incomplete` for a `max_tokens` stop) carrying the whole response and its usage.
//! Every event is named and numbered (`sequence_number`) as recorded.

use serde_json::{json, Value};

use super::SseEvent;
use crate::answer::{pieces, Answer, Stop, ARGUMENT_PIECE, TEXT_PIECE};

fn response_id(answer: &Answer) -> String {
    format!("resp_mock{:06}", answer.seq)
}

fn usage(answer: &Answer) -> Value {
    let u = &answer.usage;
    let input = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": u.cache_read_input_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": input + u.output_tokens,
    })
}

/// The output items in their final state.
fn output_items(answer: &Answer) -> Vec<Value> {
    let mut items = Vec::new();
    if let Some(reasoning) = &answer.reasoning {
        items.push(json!({
            "id": format!("rs_mock{:06}", answer.seq),
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": reasoning}],
        }));
    }
    if let Some(text) = &answer.text {
        items.push(json!({
            "id": format!("msg_mock{:06}", answer.seq),
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
        }));
    }
    for (i, call) in answer.calls.iter().enumerate() {
        items.push(json!({
            "id": format!("fc_mock{:06}{i:02}", answer.seq),
            "type": "function_call",
            "status": "completed",
            "arguments": call.arguments,
            "call_id": answer.call_id(i, "call_"),
            "name": call.name,
        }));
    }
    items
}

/// The response object; `final_state` adds the output, usage and status.
fn response(answer: &Answer, final_state: bool) -> Value {
    let incomplete = answer.stop == Stop::MaxTokens;
    let (status, output, usage, details) = if !final_state {
        ("in_progress", json!([]), Value::Null, Value::Null)
    } else if incomplete {
        (
            "incomplete",
            json!(output_items(answer)),
            usage(answer),
            json!({"reason": "max_output_tokens"}),
        )
    } else {
        (
            "completed",
            json!(output_items(answer)),
            usage(answer),
            Value::Null,
        )
    };
    json!({
        "id": response_id(answer),
        "object": "response",
        "created_at": answer.created,
        "status": status,
        "error": null,
        "incomplete_details": details,
        "model": answer.model,
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "usage": usage,
    })
}

struct Events {
    events: Vec<SseEvent>,
    sequence: u64,
}

impl Events {
    fn push(&mut self, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        self.events.push(SseEvent::named(kind, data));
    }
}

pub(super) fn stream(answer: &Answer) -> Vec<SseEvent> {
    let mut out = Events {
        events: Vec::new(),
        sequence: 0,
    };
    out.push(
        "response.created",
        json!({"response": response(answer, false)}),
    );
    out.push(
        "response.in_progress",
        json!({"response": response(answer, false)}),
    );
    for (output_index, item) in output_items(answer).into_iter().enumerate() {
        let id = item["id"].clone();
        match item["type"].as_str() {
            Some("reasoning") => {
                let text = item["summary"][0]["text"].as_str().unwrap_or_default();
                out.push(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": {"id": id, "type": "reasoning", "summary": []}}),
                );
                let part = |text: &str| json!({"type": "summary_text", "text": text});
                out.push(
                    "response.reasoning_summary_part.added",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0, "part": part("")}),
                );
                for piece in pieces(text, TEXT_PIECE) {
                    out.push(
                        "response.reasoning_summary_text.delta",
                        json!({"item_id": id, "output_index": output_index, "summary_index": 0, "delta": piece}),
                    );
                }
                out.push(
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0, "text": text}),
                );
                out.push(
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": output_index, "summary_index": 0, "part": part(text)}),
                );
            }
            Some("message") => {
                let text = item["content"][0]["text"].as_str().unwrap_or_default();
                out.push(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": {
                        "id": id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
                );
                let part = |text: &str| json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text});
                out.push(
                    "response.content_part.added",
                    json!({"item_id": id, "output_index": output_index, "content_index": 0, "part": part("")}),
                );
                for piece in pieces(text, TEXT_PIECE) {
                    out.push(
                        "response.output_text.delta",
                        json!({"item_id": id, "output_index": output_index, "content_index": 0, "delta": piece, "logprobs": []}),
                    );
                }
                out.push(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": output_index, "content_index": 0, "text": text, "logprobs": []}),
                );
                out.push(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": output_index, "content_index": 0, "part": part(text)}),
                );
            }
            _ => {
                let arguments = item["arguments"].as_str().unwrap_or_default().to_string();
                let mut added = item.clone();
                added["status"] = json!("in_progress");
                added["arguments"] = json!("");
                out.push(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": added}),
                );
                if !arguments.is_empty() {
                    for piece in pieces(&arguments, ARGUMENT_PIECE) {
                        out.push(
                            "response.function_call_arguments.delta",
                            json!({"item_id": id, "output_index": output_index, "delta": piece}),
                        );
                    }
                }
                out.push(
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": output_index, "arguments": arguments}),
                );
            }
        }
        out.push(
            "response.output_item.done",
            json!({"output_index": output_index, "item": item}),
        );
    }
    let terminal = if answer.stop == Stop::MaxTokens {
        "response.incomplete"
    } else {
        "response.completed"
    };
    out.push(terminal, json!({"response": response(answer, true)}));
    out.events
}

pub(super) fn body(answer: &Answer) -> Value {
    response(answer, true)
}
