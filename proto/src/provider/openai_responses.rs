//! The OpenAI Responses API (`POST {base}/responses`, base including `/v1`).
//!
//! Auth is `Authorization: Bearer` for both credential kinds. cm keeps history client-side,
//! so requests always say `store: false` and, when reasoning is configured, ask for
//! `reasoning.encrypted_content` so reasoning can be replayed on the next turn.
//!
//! A stream is a sequence of typed JSON events: `response.created`, then per output item
//! `response.output_item.added` → deltas (`output_text`, `refusal`, `reasoning_summary_text`,
//! `reasoning_text`, `function_call_arguments`) → `response.output_item.done`, and finally
//! one of `response.completed` / `response.incomplete` / `response.failed`.
//!
//! Quirks handled:
//! - items are keyed by `output_index` (+ `content_index`), never by `item_id`: GitHub
//!   Copilot rotates `item_id` on every event;
//! - a tool call's arguments may arrive only in `function_call_arguments.done` or
//!   `output_item.done` (LM Studio sends no deltas); the call ends exactly once either way;
//! - an `error` event comes flat (`{type, code, message}`, as the SDK types say) or nested
//!   (`{type, error: {type, code, message}}`, as recorded); the `response.failed` that
//!   follows does not repeat the same error;
//! - an item whose text was never streamed gets its text from `output_item.done`, which is
//!   also how [`decode_body`] turns a whole response into the same events;
//! - tool families cm does not model (web search, custom tools, apply_patch, …) give one
//!   `Debug` event per kind, never an error.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::{ApiError, ChatRequest, DecodeError, Endpoint, StreamEvent, ToolChoice};
use crate::http::{Headers, Method, Request};
use crate::message::{Image, Message, Part, Reasoning, Role, StopReason, ToolCall, Usage};
use crate::sse;

/// The longest `call_id` / item `id` the Responses API accepts.
pub const MAX_ID_LEN: usize = 64;

/// Builds `POST {base}/responses` for `request`.
///
/// `max_output_tokens` is omitted when the request sets none, leaving the model's own cap.
pub fn build_request(endpoint: &Endpoint, request: &ChatRequest) -> Request {
    let url = format!("{}/responses", endpoint.base_url.trim_end_matches('/'));
    let mut headers = Headers::new();
    headers.push("content-type", "application/json");
    if let Some(credential) = &endpoint.credential {
        let token = match credential {
            super::Credential::ApiKey(key) => key,
            super::Credential::Bearer(token) => token,
        };
        headers.push("authorization", format!("Bearer {token}"));
    }
    if request.stream {
        headers.push("accept", "text/event-stream");
    }
    for (name, _) in endpoint.headers.iter() {
        headers.remove(name);
    }
    for (name, value) in endpoint.headers.iter() {
        headers.push(name, value);
    }
    let body = request_body(request);
    Request {
        method: Method::Post,
        url,
        headers,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

fn request_body(request: &ChatRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    if let Some(system) = &request.system {
        body.insert("instructions".into(), json!(system));
    }
    body.insert("input".into(), Value::Array(input_items(request)));
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let tool_choice = match &request.tool_choice {
        ToolChoice::Auto if request.tools.is_empty() => None,
        ToolChoice::Auto => Some(json!("auto")),
        ToolChoice::Required => Some(json!("required")),
        ToolChoice::None => Some(json!("none")),
        ToolChoice::Tool(name) => Some(json!({"type": "function", "name": name})),
    };
    if let Some(choice) = tool_choice {
        body.insert("tool_choice".into(), choice);
    }
    if let Some(max) = request.max_output_tokens {
        body.insert("max_output_tokens".into(), json!(max));
    }
    if let Some(temperature) = request.temperature.and_then(json_f32) {
        body.insert("temperature".into(), temperature);
    }
    body.insert("stream".into(), json!(request.stream));
    body.insert("store".into(), json!(false));
    if let Some(reasoning) = &request.reasoning {
        body.insert(
            "reasoning".into(),
            json!({"effort": reasoning.effort.as_str(), "summary": "auto"}),
        );
        body.insert("include".into(), json!(["reasoning.encrypted_content"]));
    }
    for (key, value) in &request.extra {
        body.insert(key.clone(), value.clone());
    }
    Value::Object(body)
}

/// An `f32` as the JSON number its decimal form reads as (`0.2`, not `0.20000000298…`).
fn json_f32(x: f32) -> Option<Value> {
    let wide = x.to_string().parse::<f64>().unwrap_or(f64::from(x));
    serde_json::Number::from_f64(wide).map(Value::Number)
}

/// The conversation as Responses input items, in message order.
fn input_items(request: &ChatRequest) -> Vec<Value> {
    let mut items = Vec::new();
    for message in &request.messages {
        message_items(message, &request.model, &mut items);
    }
    items
}

fn message_items(message: &Message, model: &str, items: &mut Vec<Value>) {
    let (role, text_type) = match message.role {
        Role::User => ("user", "input_text"),
        Role::Assistant => ("assistant", "output_text"),
    };
    // Consecutive text and image parts share one `message` item; any other part closes it.
    let mut content: Vec<Value> = Vec::new();
    let flush = |content: &mut Vec<Value>, items: &mut Vec<Value>| {
        if !content.is_empty() {
            items.push(json!({
                "type": "message",
                "role": role,
                "content": std::mem::take(content),
            }));
        }
    };
    for part in &message.parts {
        match part {
            Part::Text { text } => content.push(json!({"type": text_type, "text": text})),
            Part::Image(image) if message.role == Role::User => {
                content.push(json!({"type": "input_image", "image_url": image_url(image)}));
            }
            // Assistant messages cannot carry input images.
            Part::Image(_) => {}
            Part::Reasoning(reasoning) => {
                flush(&mut content, items);
                if let Some(item) = reasoning_item(reasoning, model) {
                    items.push(item);
                }
            }
            Part::ToolCall(call) => {
                flush(&mut content, items);
                items.push(function_call_item(call, model));
            }
            Part::ToolResult(result) => {
                flush(&mut content, items);
                items.push(json!({
                    "type": "function_call_output",
                    "call_id": sanitize_id(&result.call_id),
                    "output": result.text(),
                }));
            }
        }
    }
    flush(&mut content, items);
}

fn image_url(image: &Image) -> String {
    match image {
        Image::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        Image::Url { url } => url.clone(),
    }
}

/// Reasoning is replayed only to the model that wrote it, and only with its id and
/// encrypted content: the API rejects a reasoning item it cannot verify.
fn reasoning_item(reasoning: &Reasoning, model: &str) -> Option<Value> {
    if reasoning.origin.model != model {
        return None;
    }
    let id = reasoning.id.as_ref()?;
    let encrypted = reasoning.encrypted.as_ref()?;
    let summary: Vec<Value> = if reasoning.text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "summary_text", "text": reasoning.text})]
    };
    Some(json!({
        "type": "reasoning",
        "id": id,
        "summary": summary,
        "encrypted_content": encrypted,
    }))
}

fn function_call_item(call: &ToolCall, model: &str) -> Value {
    let mut item = json!({
        "type": "function_call",
        "call_id": sanitize_id(&call.id),
        "name": call.name,
        "arguments": call.arguments,
    });
    if let Some(item_id) = &call.item_id {
        if item_id.starts_with("fc_") && call.origin.model == model {
            item["id"] = json!(sanitize_id(item_id));
        }
    }
    item
}

/// A tool-call id fit for the Responses API: only `[a-zA-Z0-9_-]`, at most 64 chars.
///
/// Valid ids pass unchanged. Others have each bad character replaced by `_` and, so two
/// different ids cannot collide, a hash of the original appended (cut to fit 64 chars).
/// Deterministic, so a call and its result still match.
pub fn sanitize_id(id: &str) -> String {
    super::ids::wire_id(id, MAX_ID_LEN)
}

/// Decodes a non-streaming response (`{id, model, status, output, usage, …}`) into the
/// events its stream would have given; a top-level `{"error": …}` body gives `[Error]`.
pub fn decode_body(body: &[u8]) -> Result<Vec<StreamEvent>, DecodeError> {
    let not_a_response = || DecodeError::NotAResponse {
        start: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| not_a_response())?;
    let Some(object) = value.as_object() else {
        return Err(not_a_response());
    };
    let is_response = object.contains_key("output")
        || object.get("object").and_then(Value::as_str) == Some("response");
    let mut out = Vec::new();
    if !is_response {
        let Some(error) = object.get("error").filter(|e| !e.is_null()) else {
            return Err(not_a_response());
        };
        let (code, message) = error_fields(error);
        out.push(StreamEvent::Error(ApiError::classify(
            None,
            &Headers::new(),
            code.as_deref(),
            message.as_deref(),
            body,
        )));
        return Ok(out);
    }
    let mut decoder = StreamDecoder::new();
    decoder.start(Some(&value), &mut out);
    decoder.replay_output(&value, &mut out);
    let terminal = match value.get("status").and_then(Value::as_str) {
        Some("incomplete") => Terminal::Incomplete,
        Some("failed") => Terminal::Failed,
        _ => Terminal::Completed,
    };
    decoder.terminal(terminal, Some(&value), body, &mut out);
    Ok(out)
}

/// Classifies an error response: `{"error": {"message", "type", "param", "code"}}`, the
/// string `code` preferred over `type`.
pub fn classify_error(status: u16, headers: &Headers, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let (code, message) = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .map(error_fields)
        .unwrap_or_default();
    ApiError::classify(
        Some(status),
        headers,
        code.as_deref(),
        message.as_deref(),
        body,
    )
}

/// `(code, message)` of an error object (string `code`, else `type`), or of a bare string.
fn error_fields(error: &Value) -> (Option<String>, Option<String>) {
    if let Some(message) = error.as_str() {
        return (None, Some(message.to_string()));
    }
    let code = str_field(error, "code")
        .or_else(|| str_field(error, "type"))
        .map(str::to_string);
    let message = str_field(error, "message").map(str::to_string);
    (code, message)
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn u64_field(value: &Value, key: &str) -> Option<u64> {
    value.get(key).and_then(Value::as_u64)
}

/// Where an item's content lands in the assistant message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Text { output: u64, content: u64 },
    Reasoning { output: u64 },
    Call { output: u64 },
}

#[derive(Debug, Default)]
struct ReasoningState {
    /// The (kind, index) of the summary or reasoning-text segment last written.
    segment: Option<(bool, u64)>,
    wrote: bool,
    ended: bool,
}

#[derive(Debug, Default)]
struct CallState {
    started: bool,
    arguments: String,
    ended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Terminal {
    Completed,
    Incomplete,
    Failed,
}

/// Decodes one streamed Responses API response.
///
/// Malformed JSON in one event returns [`DecodeError::InvalidJson`] and leaves the decoder
/// usable for the events after it. Events for an item that was never announced create
/// its part on the spot; a tool call first seen that way gets its `ToolCallStart` when
/// `output_item.done` names it.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    parts: BTreeMap<Slot, usize>,
    reasoning: BTreeMap<u64, ReasoningState>,
    calls: BTreeMap<u64, CallState>,
    /// `item_id` → `output_index`, only for events that lack an `output_index`.
    item_outputs: BTreeMap<String, u64>,
    skipped: BTreeSet<String>,
    started: bool,
    ended: bool,
    saw_tool_call: bool,
    refusal: bool,
    /// `(code, message)` of the last `error` event, so `response.failed` does not repeat it.
    reported_error: Option<(Option<String>, Option<String>)>,
    last_event: String,
}

impl StreamDecoder {
    /// A decoder for a new response.
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    fn start(&mut self, response: Option<&Value>, out: &mut Vec<StreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let field = |k| response.and_then(|r| str_field(r, k)).map(str::to_string);
        out.push(StreamEvent::Start {
            id: field("id"),
            model: field("model"),
        });
    }

    fn part(&mut self, slot: Slot) -> usize {
        let next = self.parts.len();
        *self.parts.entry(slot).or_insert(next)
    }

    fn skip(&mut self, what: String, out: &mut Vec<StreamEvent>) {
        if self.skipped.insert(what.clone()) {
            out.push(StreamEvent::Debug {
                message: format!("skipped {what}"),
            });
        }
    }

    /// The item an event is about: its `output_index`, else the index its `item_id` was
    /// announced at, else 0.
    fn output_index(&self, data: &Value) -> u64 {
        u64_field(data, "output_index")
            .or_else(|| {
                str_field(data, "item_id").and_then(|id| self.item_outputs.get(id).copied())
            })
            .unwrap_or(0)
    }

    fn text_delta(&mut self, output: u64, content: u64, text: &str, out: &mut Vec<StreamEvent>) {
        let part = self.part(Slot::Text { output, content });
        if !text.is_empty() {
            out.push(StreamEvent::TextDelta {
                part,
                text: text.to_string(),
            });
        }
    }

    fn reasoning_delta(
        &mut self,
        output: u64,
        segment: (bool, u64),
        text: &str,
        out: &mut Vec<StreamEvent>,
    ) {
        let part = self.part(Slot::Reasoning { output });
        let state = self.reasoning.entry(output).or_default();
        if text.is_empty() {
            return;
        }
        let mut text = text.to_string();
        if state.wrote && state.segment.is_some_and(|s| s != segment) {
            text.insert_str(0, "\n\n");
        }
        state.segment = Some(segment);
        state.wrote = true;
        out.push(StreamEvent::ReasoningDelta { part, text });
    }

    fn call_delta(&mut self, output: u64, delta: &str, out: &mut Vec<StreamEvent>) {
        self.saw_tool_call = true;
        let part = self.part(Slot::Call { output });
        let call = self.calls.entry(output).or_default();
        if call.ended || delta.is_empty() {
            return;
        }
        call.arguments.push_str(delta);
        out.push(StreamEvent::ToolCallDelta {
            part,
            arguments: delta.to_string(),
        });
    }

    fn end_call(&mut self, output: u64, arguments: Option<&str>, out: &mut Vec<StreamEvent>) {
        self.saw_tool_call = true;
        let part = self.part(Slot::Call { output });
        let call = self.calls.entry(output).or_default();
        if call.ended {
            return;
        }
        call.ended = true;
        if let Some(arguments) = arguments {
            call.arguments = arguments.to_string();
        }
        out.push(StreamEvent::ToolCallEnd {
            part,
            arguments: call.arguments.clone(),
        });
    }

    fn item_added(&mut self, output: u64, item: &Value, out: &mut Vec<StreamEvent>) {
        if let Some(id) = str_field(item, "id") {
            self.item_outputs.insert(id.to_string(), output);
        }
        match str_field(item, "type") {
            Some("function_call") => {
                self.saw_tool_call = true;
                let part = self.part(Slot::Call { output });
                let call = self.calls.entry(output).or_default();
                if let (Some(id), Some(name)) =
                    (str_field(item, "call_id"), str_field(item, "name"))
                {
                    if !call.started {
                        call.started = true;
                        out.push(StreamEvent::ToolCallStart {
                            part,
                            id: id.to_string(),
                            name: name.to_string(),
                            item_id: str_field(item, "id").map(str::to_string),
                        });
                    }
                }
            }
            Some("reasoning") => {
                self.part(Slot::Reasoning { output });
                self.reasoning.entry(output).or_default();
            }
            Some("message") => {}
            Some(other) => self.skip(format!("output item `{other}`"), out),
            None => self.skip("output item without a type".into(), out),
        }
    }

    fn item_done(&mut self, output: u64, item: &Value, out: &mut Vec<StreamEvent>) {
        match str_field(item, "type") {
            Some("function_call") => {
                let started = self.calls.get(&output).is_some_and(|c| c.started);
                if !started {
                    self.item_added(output, item, out);
                }
                self.end_call(output, str_field(item, "arguments"), out);
            }
            Some("reasoning") => {
                let part = self.part(Slot::Reasoning { output });
                let state = self.reasoning.entry(output).or_default();
                let (ended, wrote) = (state.ended, state.wrote);
                if ended {
                    return;
                }
                if !wrote {
                    let summary = texts(item.get("summary"), "text");
                    if !summary.is_empty() {
                        for (i, text) in summary.iter().enumerate() {
                            self.reasoning_delta(output, (true, i as u64), text, out);
                        }
                    } else {
                        for (i, text) in texts(item.get("content"), "text").iter().enumerate() {
                            self.reasoning_delta(output, (false, i as u64), text, out);
                        }
                    }
                }
                if let Some(state) = self.reasoning.get_mut(&output) {
                    state.ended = true;
                }
                out.push(StreamEvent::ReasoningEnd {
                    part,
                    signature: None,
                    redacted: None,
                    encrypted: str_field(item, "encrypted_content").map(str::to_string),
                    id: str_field(item, "id").map(str::to_string),
                });
            }
            Some("message") => {
                let content = item.get("content").and_then(Value::as_array);
                for (i, block) in content.into_iter().flatten().enumerate() {
                    let slot = Slot::Text {
                        output,
                        content: i as u64,
                    };
                    if self.parts.contains_key(&slot) {
                        continue;
                    }
                    match str_field(block, "type") {
                        Some("output_text") => {
                            let text = str_field(block, "text").unwrap_or_default();
                            self.text_delta(output, i as u64, text, out);
                        }
                        Some("refusal") => {
                            self.refusal = true;
                            let text = str_field(block, "refusal").unwrap_or_default();
                            self.text_delta(output, i as u64, text, out);
                        }
                        _ => {}
                    }
                }
            }
            // Unknown kinds were reported when added (or are reported now if never added).
            Some(other) => self.skip(format!("output item `{other}`"), out),
            None => {}
        }
    }

    /// Emits the items of a whole `output` array as if each was added and completed.
    fn replay_output(&mut self, response: &Value, out: &mut Vec<StreamEvent>) {
        let items = response.get("output").and_then(Value::as_array);
        for (i, item) in items.into_iter().flatten().enumerate() {
            self.item_added(i as u64, item, out);
            self.item_done(i as u64, item, out);
        }
    }

    /// Ends open calls, then reports usage, stop or error, and `End`.
    fn terminal(
        &mut self,
        kind: Terminal,
        response: Option<&Value>,
        data: &[u8],
        out: &mut Vec<StreamEvent>,
    ) {
        if self.parts.is_empty() {
            // A server that streamed no item events still lists the items here.
            if let Some(response) = response {
                self.replay_output(response, out);
            }
        }
        self.close_calls(out);
        if let Some(usage) = response.and_then(|r| r.get("usage")).and_then(usage) {
            out.push(StreamEvent::Usage(usage));
        }
        match kind {
            Terminal::Completed => {
                let reason = if self.saw_tool_call {
                    StopReason::ToolUse
                } else if self.refusal {
                    StopReason::Refusal
                } else {
                    StopReason::EndTurn
                };
                out.push(StreamEvent::Stop {
                    reason,
                    sequence: None,
                });
            }
            Terminal::Incomplete => {
                let reason = response
                    .and_then(|r| r.get("incomplete_details"))
                    .and_then(|d| str_field(d, "reason"));
                let reason = match reason {
                    Some("max_output_tokens") => StopReason::MaxTokens,
                    Some("content_filter") => StopReason::ContentFilter,
                    Some(other) => StopReason::Other(other.to_string()),
                    None => StopReason::Other("incomplete".into()),
                };
                out.push(StreamEvent::Stop {
                    reason,
                    sequence: None,
                });
            }
            Terminal::Failed => {
                let error = response
                    .and_then(|r| r.get("error"))
                    .filter(|e| !e.is_null());
                let (code, message) = error.map(error_fields).unwrap_or_default();
                let repeated = self.reported_error.is_some()
                    && (error.is_none()
                        || self.reported_error == Some((code.clone(), message.clone())));
                if !repeated {
                    let message = message.or_else(|| Some("response failed".into()));
                    out.push(StreamEvent::Error(ApiError::classify(
                        None,
                        &Headers::new(),
                        code.as_deref(),
                        message.as_deref(),
                        data,
                    )));
                }
            }
        }
        self.ended = true;
        out.push(StreamEvent::End);
    }

    fn close_calls(&mut self, out: &mut Vec<StreamEvent>) {
        let open: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, c)| !c.ended)
            .map(|(k, _)| *k)
            .collect();
        for output in open {
            self.end_call(output, None, out);
        }
    }

    fn error_event(&mut self, data: &Value, raw: &[u8], out: &mut Vec<StreamEvent>) {
        let (code, message) = match data.get("error").filter(|e| !e.is_null()) {
            Some(nested) => error_fields(nested),
            None => (
                str_field(data, "code").map(str::to_string),
                str_field(data, "message").map(str::to_string),
            ),
        };
        out.push(StreamEvent::Error(ApiError::classify(
            None,
            &Headers::new(),
            code.as_deref(),
            message.as_deref(),
            raw,
        )));
        self.reported_error = Some((code, message));
    }

    fn dispatch(&mut self, kind: &str, data: &Value, raw: &[u8], out: &mut Vec<StreamEvent>) {
        let response = data.get("response").filter(|r| r.is_object());
        self.start(response, out);
        let output = self.output_index(data);
        let content = u64_field(data, "content_index").unwrap_or(0);
        let delta = str_field(data, "delta").unwrap_or_default();
        match kind {
            "response.created" | "response.in_progress" | "response.queued" => {}
            "response.output_item.added" => match data.get("item") {
                Some(item) => self.item_added(output, item, out),
                None => self.skip(format!("`{kind}` without an item"), out),
            },
            "response.output_item.done" => match data.get("item") {
                Some(item) => self.item_done(output, item, out),
                None => self.skip(format!("`{kind}` without an item"), out),
            },
            "response.output_text.delta" => self.text_delta(output, content, delta, out),
            "response.refusal.delta" => {
                self.refusal = true;
                self.text_delta(output, content, delta, out);
            }
            "response.reasoning_summary_text.delta" => {
                let index = u64_field(data, "summary_index").unwrap_or(0);
                self.reasoning_delta(output, (true, index), delta, out);
            }
            "response.reasoning_text.delta" => {
                self.reasoning_delta(output, (false, content), delta, out);
            }
            "response.function_call_arguments.delta" => self.call_delta(output, delta, out),
            "response.function_call_arguments.done" => {
                self.end_call(output, str_field(data, "arguments"), out);
            }
            "response.completed" => self.terminal(Terminal::Completed, response, raw, out),
            "response.incomplete" => self.terminal(Terminal::Incomplete, response, raw, out),
            "response.failed" => self.terminal(Terminal::Failed, response, raw, out),
            "error" => self.error_event(data, raw, out),
            // Bookkeeping whose content the deltas and `output_item.done` already carry.
            "response.content_part.added"
            | "response.content_part.done"
            | "response.output_text.done"
            | "response.refusal.done"
            | "response.reasoning_summary_part.added"
            | "response.reasoning_summary_part.done"
            | "response.reasoning_summary_text.done"
            | "response.reasoning_text.done" => {}
            other => self.skip(format!("event `{other}`"), out),
        }
    }
}

/// The string field `key` of each object in an array, empty ones included.
fn texts(array: Option<&Value>, key: &str) -> Vec<String> {
    array
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| str_field(v, key))
        .map(str::to_string)
        .collect()
}

/// cm's usage from a Responses `usage` object; cached tokens leave `input_tokens`.
fn usage(value: &Value) -> Option<Usage> {
    if !value.is_object() {
        return None;
    }
    let details = |k: &str, f: &str| value.get(k).and_then(|d| u64_field(d, f)).unwrap_or(0);
    let cache_read = details("input_tokens_details", "cached_tokens");
    let cache_write = details("input_tokens_details", "cache_write_tokens");
    Some(Usage {
        input_tokens: u64_field(value, "input_tokens")
            .unwrap_or(0)
            .saturating_sub(cache_read)
            .saturating_sub(cache_write),
        output_tokens: u64_field(value, "output_tokens").unwrap_or(0),
        cache_read_tokens: cache_read,
        cache_write_tokens: cache_write,
        reasoning_tokens: details("output_tokens_details", "reasoning_tokens"),
    })
}

impl super::StreamDecoder for StreamDecoder {
    fn decode(
        &mut self,
        event: &sse::Event,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if self.ended {
            out.push(StreamEvent::Debug {
                message: format!("skipped `{}` event after the response ended", event.event),
            });
            return Ok(());
        }
        if data == "[DONE]" {
            self.skip("`[DONE]` (not part of the Responses API)".into(), out);
            return Ok(());
        }
        let value: Value = serde_json::from_str(data).map_err(|e| DecodeError::InvalidJson {
            event: event.event.clone(),
            offset: event.offset,
            error: e.to_string(),
        })?;
        let kind = match str_field(&value, "type") {
            Some(kind) => kind.to_string(),
            // The SSE event name is the only signal left for an error without a type.
            None if event.event == "error" => "error".to_string(),
            None => {
                self.skip("payload without a `type`".into(), out);
                return Ok(());
            }
        };
        self.last_event = kind.clone();
        self.dispatch(&kind, &value, data.as_bytes(), out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if self.ended {
            return Ok(());
        }
        self.close_calls(out);
        Err(DecodeError::Truncated {
            last_event: if self.last_event.is_empty() {
                "none".to_string()
            } else {
                self.last_event.clone()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Origin, ToolOutput, ToolResult};
    use crate::provider::{
        Credential, Effort, ErrorKind, MessageAssembler, ReasoningConfig, StreamDecoder as Decode,
    };
    use crate::tool::ToolSpec;

    fn event(data: &str) -> sse::Event {
        sse::Event {
            event: "message".into(),
            data: data.into(),
            id: String::new(),
            offset: 0,
        }
    }

    /// Feeds every payload, then `finish()`; returns the events and the first error.
    fn run(payloads: &[&str]) -> (Vec<StreamEvent>, Result<(), DecodeError>) {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        let mut result = Ok(());
        for data in payloads {
            if let Err(e) = decoder.decode(&event(data), &mut out) {
                result = result.and(Err(e));
            }
        }
        let finished = decoder.finish(&mut out);
        (out, result.and(finished))
    }

    fn decoded(payloads: &[&str]) -> Vec<StreamEvent> {
        let (events, result) = run(payloads);
        assert_eq!(result, Ok(()), "events: {events:?}");
        events
    }

    fn assemble(events: &[StreamEvent]) -> crate::provider::AssembledMessage {
        let mut a = MessageAssembler::new(Origin::default());
        for e in events {
            a.push(e);
        }
        a.finish()
    }

    const CREATED: &str =
        r#"{"type":"response.created","response":{"id":"resp_1","model":"gpt-5","output":[]}}"#;
    const COMPLETED: &str = r#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":12},"total_tokens":130}}}"#;

    fn start() -> StreamEvent {
        StreamEvent::Start {
            id: Some("resp_1".into()),
            model: Some("gpt-5".into()),
        }
    }

    fn stop(reason: StopReason) -> StreamEvent {
        StreamEvent::Stop {
            reason,
            sequence: None,
        }
    }

    fn text(part: usize, text: &str) -> StreamEvent {
        StreamEvent::TextDelta {
            part,
            text: text.into(),
        }
    }

    #[test]
    fn text_stream_gives_start_deltas_usage_stop_end() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.in_progress","response":{"id":"resp_1"}}"#,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"message","id":"msg_1","role":"assistant","content":[]}}"#,
            r#"{"type":"response.content_part.added","output_index":0,"content_index":0,"part":{"type":"output_text","text":""}}"#,
            r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hel"}"#,
            r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":""}"#,
            r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"lo"}"#,
            r#"{"type":"response.output_text.done","output_index":0,"content_index":0,"text":"Hello"}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"message","id":"msg_1","content":[{"type":"output_text","text":"Hello"}]}}"#,
            COMPLETED,
        ]);
        assert_eq!(
            events,
            vec![
                start(),
                text(0, "Hel"),
                text(0, "lo"),
                StreamEvent::Usage(Usage {
                    input_tokens: 60,
                    output_tokens: 30,
                    cache_read_tokens: 40,
                    cache_write_tokens: 0,
                    reasoning_tokens: 12,
                }),
                stop(StopReason::EndTurn),
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn reasoning_summaries_are_one_part_separated_by_a_blank_line() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"reasoning","id":"rs_1","summary":[]}}"#,
            r#"{"type":"response.reasoning_summary_part.added","output_index":0,"summary_index":0}"#,
            r#"{"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":0,"delta":"**Plan**"}"#,
            r#"{"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":1,"delta":"Then"}"#,
            r#"{"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":1,"delta":" act"}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"**Plan**"},{"type":"summary_text","text":"Then act"}],"encrypted_content":"gAAA=="}}"#,
            r#"{"type":"response.output_text.delta","output_index":1,"content_index":0,"delta":"Hi"}"#,
            COMPLETED,
        ]);
        let reasoning = |t: &str| StreamEvent::ReasoningDelta {
            part: 0,
            text: t.into(),
        };
        assert_eq!(
            events[..6],
            [
                start(),
                reasoning("**Plan**"),
                reasoning("\n\nThen"),
                reasoning(" act"),
                StreamEvent::ReasoningEnd {
                    part: 0,
                    signature: None,
                    redacted: None,
                    encrypted: Some("gAAA==".into()),
                    id: Some("rs_1".into()),
                },
                text(1, "Hi"),
            ]
        );
        let done = assemble(&events);
        match &done.message.parts[0] {
            Part::Reasoning(r) => {
                assert_eq!(r.text, "**Plan**\n\nThen act");
                assert_eq!(r.encrypted.as_deref(), Some("gAAA=="));
                assert_eq!(r.id.as_deref(), Some("rs_1"));
            }
            other => panic!("expected reasoning, got {other:?}"),
        }
    }

    #[test]
    fn raw_reasoning_text_streams_as_reasoning() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"reasoning","id":"rs_x","summary":[],"content":[]}}"#,
            r#"{"type":"response.reasoning_text.delta","output_index":0,"content_index":0,"delta":"The user"}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","id":"rs_x","summary":[],"content":[{"type":"reasoning_text","text":"The user"}]}}"#,
            COMPLETED,
        ]);
        assert_eq!(
            events[1],
            StreamEvent::ReasoningDelta {
                part: 0,
                text: "The user".into()
            }
        );
        assert_eq!(assemble(&events).message.parts.len(), 1);
    }

    #[test]
    fn tool_call_split_inside_an_escape_ends_once_with_the_done_arguments() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"read","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"path\":\"a\\"}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":""}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"\"b\"}"}"#,
            r#"{"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":0,"arguments":"{\"path\":\"a\\\"b\"}"}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"read","arguments":"{\"path\":\"a\\\"b\"}"}}"#,
            COMPLETED,
        ]);
        assert_eq!(
            events[1..5],
            [
                StreamEvent::ToolCallStart {
                    part: 0,
                    id: "call_1".into(),
                    name: "read".into(),
                    item_id: Some("fc_1".into()),
                },
                StreamEvent::ToolCallDelta {
                    part: 0,
                    arguments: r#"{"path":"a\"#.into()
                },
                StreamEvent::ToolCallDelta {
                    part: 0,
                    arguments: r#""b"}"#.into()
                },
                StreamEvent::ToolCallEnd {
                    part: 0,
                    arguments: r#"{"path":"a\"b"}"#.into()
                },
            ]
        );
        let ends = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::ToolCallEnd { .. }))
            .count();
        assert_eq!(ends, 1);
        assert!(events.contains(&stop(StopReason::ToolUse)));
        let done = assemble(&events);
        let call = done.message.tool_calls().next().unwrap();
        assert_eq!(call.parse_arguments().unwrap(), json!({"path": "a\"b"}));
        assert_eq!(call.item_id.as_deref(), Some("fc_1"));
    }

    #[test]
    fn arguments_only_in_done_still_end_the_call() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":2,"item":{"type":"function_call","id":"fc_z","call_id":"call_2","name":"weather","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.done","item_id":"fc_z","output_index":2,"arguments":"{\"location\":\"SF\"}"}"#,
            r#"{"type":"response.output_item.done","output_index":2,"item":{"type":"function_call","id":"fc_z","call_id":"call_2","name":"weather","arguments":"{\"location\":\"SF\"}"}}"#,
            COMPLETED,
        ]);
        assert_eq!(
            events[2],
            StreamEvent::ToolCallEnd {
                part: 0,
                arguments: r#"{"location":"SF"}"#.into()
            }
        );
        assert!(!events
            .iter()
            .any(|e| matches!(e, StreamEvent::ToolCallDelta { .. })));
    }

    #[test]
    fn output_item_done_alone_ends_a_call() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"ls","arguments":""}}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"ls","arguments":"{}"}}"#,
            COMPLETED,
        ]);
        assert_eq!(
            events[2],
            StreamEvent::ToolCallEnd {
                part: 0,
                arguments: "{}".into()
            }
        );
    }

    #[test]
    fn rotating_item_ids_stay_in_one_part() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"reasoning","id":"id-3","summary":[]}}"#,
            r#"{"type":"response.reasoning_summary_text.delta","item_id":"id-4","output_index":0,"summary_index":0,"delta":"a"}"#,
            r#"{"type":"response.reasoning_summary_text.delta","item_id":"id-5","output_index":0,"summary_index":0,"delta":"b"}"#,
            r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"message","id":"id-6","content":[]}}"#,
            r#"{"type":"response.output_text.delta","item_id":"id-7","output_index":1,"content_index":0,"delta":"x"}"#,
            r#"{"type":"response.output_text.delta","item_id":"id-8","output_index":1,"content_index":0,"delta":"y"}"#,
            r#"{"type":"response.output_item.done","output_index":1,"item":{"type":"message","id":"id-9","content":[{"type":"output_text","text":"xy"}]}}"#,
            COMPLETED,
        ]);
        let done = assemble(&events);
        assert_eq!(done.message.parts.len(), 2, "{:?}", done.message.parts);
        assert_eq!(done.message.text(), "xy", "done item does not repeat text");
    }

    #[test]
    fn usage_subtracts_cache_reads_and_writes_saturating() {
        let u = usage(
            &json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 25, "cache_write_tokens": 3}, "output_tokens": 4}),
        );
        assert_eq!(
            u,
            Some(Usage {
                input_tokens: 0,
                output_tokens: 4,
                cache_read_tokens: 25,
                cache_write_tokens: 3,
                reasoning_tokens: 0,
            })
        );
        assert_eq!(usage(&Value::Null), None);
    }

    #[test]
    fn stop_reasons() {
        let last_stop = |payloads: &[&str]| {
            decoded(payloads)
                .into_iter()
                .filter_map(|e| match e {
                    StreamEvent::Stop { reason, .. } => Some(reason),
                    _ => None,
                })
                .next_back()
        };
        let incomplete = |reason: &str| {
            format!(
                r#"{{"type":"response.incomplete","response":{{"status":"incomplete","incomplete_details":{reason},"usage":null}}}}"#
            )
        };
        assert_eq!(last_stop(&[CREATED, COMPLETED]), Some(StopReason::EndTurn));
        assert_eq!(
            last_stop(&[
                CREATED,
                r#"{"type":"response.refusal.delta","output_index":0,"content_index":0,"delta":"I can't"}"#,
                COMPLETED
            ]),
            Some(StopReason::Refusal)
        );
        assert_eq!(
            last_stop(&[CREATED, &incomplete(r#"{"reason":"max_output_tokens"}"#)]),
            Some(StopReason::MaxTokens)
        );
        assert_eq!(
            last_stop(&[CREATED, &incomplete(r#"{"reason":"content_filter"}"#)]),
            Some(StopReason::ContentFilter)
        );
        assert_eq!(
            last_stop(&[CREATED, &incomplete(r#"{"reason":"weird"}"#)]),
            Some(StopReason::Other("weird".into()))
        );
        assert_eq!(
            last_stop(&[CREATED, &incomplete("null")]),
            Some(StopReason::Other("incomplete".into()))
        );
    }

    #[test]
    fn refusal_text_is_text() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.refusal.delta","output_index":0,"content_index":0,"delta":"No."}"#,
            COMPLETED,
        ]);
        assert_eq!(events[1], text(0, "No."));
    }

    #[test]
    fn nested_error_then_failed_reports_one_error() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"error","sequence_number":2,"error":{"type":"insufficient_quota","code":"insufficient_quota","message":"You exceeded your current quota","param":null}}"#,
            r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"insufficient_quota","message":"You exceeded your current quota"},"usage":null}}"#,
        ]);
        let errors: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Error(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, ErrorKind::QuotaExceeded);
        assert_eq!(errors[0].code.as_deref(), Some("insufficient_quota"));
        assert_eq!(errors[0].message, "You exceeded your current quota");
        assert!(!errors[0].retryable);
        assert_eq!(events.last(), Some(&StreamEvent::End));
    }

    #[test]
    fn flat_error_event_and_failed_alone() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null}"#,
            r#"{"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}"#,
        ]);
        let errors: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Error(e) => Some((e.kind, e.message.clone(), e.status)),
                _ => None,
            })
            .collect();
        assert_eq!(
            errors,
            vec![
                (ErrorKind::RateLimited, "slow down".to_string(), None),
                (ErrorKind::Server, "boom".to_string(), None),
            ]
        );
    }

    #[test]
    fn sse_error_event_without_type_is_an_error() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        let mut e = event(r#"{"error":{"message":"overloaded","type":"overloaded_error"}}"#);
        e.event = "error".into();
        decoder.decode(&e, &mut out).unwrap();
        assert!(matches!(&out[1], StreamEvent::Error(e) if e.kind == ErrorKind::Overloaded));
    }

    #[test]
    fn events_after_end_are_debug_and_finish_is_ok() {
        let (events, result) = run(&[CREATED, COMPLETED, CREATED, "[DONE]"]);
        assert_eq!(result, Ok(()));
        assert_eq!(events.iter().filter(|e| **e == StreamEvent::End).count(), 1);
        assert!(matches!(events.last(), Some(StreamEvent::Debug { .. })));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, StreamEvent::Start { .. }))
                .count(),
            1
        );
    }

    #[test]
    fn unknown_events_and_items_give_one_debug_each() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"web_search_call","id":"ws_1"}}"#,
            r#"{"type":"response.web_search_call.searching","output_index":0}"#,
            r#"{"type":"response.web_search_call.searching","output_index":0}"#,
            r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"web_search_call","id":"ws_1"}}"#,
            r#"{"type":"response.output_text.annotation.added","output_index":1,"annotation":{}}"#,
            r#"{"type":"response.brand_new","x":1}"#,
            COMPLETED,
        ]);
        let debugs: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Debug { message } => Some(message.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            debugs,
            [
                "skipped output item `web_search_call`",
                "skipped event `response.web_search_call.searching`",
                "skipped event `response.output_text.annotation.added`",
                "skipped event `response.brand_new`",
            ]
        );
    }

    #[test]
    fn truncated_stream_ends_open_calls_then_reports() {
        let (events, result) = run(&[
            CREATED,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"read"}}"#,
            r#"{"type":"response.function_call_arguments.delta","output_index":0,"delta":"{\"pa"}"#,
        ]);
        assert_eq!(
            result,
            Err(DecodeError::Truncated {
                last_event: "response.function_call_arguments.delta".into()
            })
        );
        assert_eq!(
            events.last(),
            Some(&StreamEvent::ToolCallEnd {
                part: 0,
                arguments: "{\"pa".into()
            })
        );
        let (_, empty) = run(&[]);
        assert_eq!(
            empty,
            Err(DecodeError::Truncated {
                last_event: "none".into()
            })
        );
    }

    #[test]
    fn malformed_json_is_an_error_and_the_decoder_recovers() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        decoder.decode(&event(CREATED), &mut out).unwrap();
        let mut bad = event(r#"{"type":"response.output_text.delta","delta":"#);
        bad.offset = 321;
        match decoder.decode(&bad, &mut out) {
            Err(DecodeError::InvalidJson { event, offset, .. }) => {
                assert_eq!((event.as_str(), offset), ("message", 321));
            }
            other => panic!("expected InvalidJson, got {other:?}"),
        }
        decoder
            .decode(
                &event(r#"{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"ok"}"#),
                &mut out,
            )
            .unwrap();
        decoder.decode(&event(COMPLETED), &mut out).unwrap();
        decoder.finish(&mut out).unwrap();
        assert_eq!(assemble(&out).message.text(), "ok");
    }

    #[test]
    fn html_page_instead_of_sse_is_a_typed_error() {
        let (_, result) = run(&["<html><body>502 Bad Gateway</body></html>"]);
        assert!(matches!(result, Err(DecodeError::InvalidJson { .. })));
    }

    #[test]
    fn replacement_characters_from_the_sse_layer_pass_through() {
        let events = decoded(&[
            CREATED,
            "{\"type\":\"response.output_text.delta\",\"output_index\":0,\"content_index\":0,\"delta\":\"a\u{FFFD}b\"}",
            COMPLETED,
        ]);
        assert_eq!(events[1], text(0, "a\u{FFFD}b"));
    }

    #[test]
    fn out_of_order_events_create_parts_and_start_the_call_late() {
        let events = decoded(&[
            r#"{"type":"response.function_call_arguments.delta","output_index":3,"delta":"{\"a\":"}"#,
            r#"{"type":"response.output_text.delta","output_index":5,"content_index":2,"delta":"t"}"#,
            r#"{"type":"response.output_item.done","output_index":3,"item":{"type":"function_call","id":"fc_9","call_id":"call_9","name":"f","arguments":"{\"a\":1}"}}"#,
            r#"{"type":"response.output_item.done","output_index":7,"item":{"type":"reasoning","id":"rs_7","summary":[{"type":"summary_text","text":"s1"},{"type":"summary_text","text":"s2"}]}}"#,
            COMPLETED,
        ]);
        assert_eq!(
            events[0],
            StreamEvent::Start {
                id: None,
                model: None
            }
        );
        let done = assemble(&events);
        let call = done.message.tool_calls().next().unwrap();
        assert_eq!(
            (
                call.id.as_str(),
                call.name.as_str(),
                call.arguments.as_str()
            ),
            ("call_9", "f", "{\"a\":1}")
        );
        assert_eq!(done.message.text(), "t");
        match &done.message.parts[2] {
            Part::Reasoning(r) => assert_eq!(r.text, "s1\n\ns2"),
            other => panic!("expected reasoning, got {other:?}"),
        }
    }

    #[test]
    fn completed_without_item_events_uses_the_output_list() {
        let events = decoded(&[
            CREATED,
            r#"{"type":"response.completed","response":{"status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"whole"}]}]}}"#,
        ]);
        assert_eq!(events[1], text(0, "whole"));
    }

    const BODY: &str = r#"{"id":"resp_b","object":"response","model":"gpt-5","status":"completed",
        "output":[
          {"type":"reasoning","id":"rs_b","summary":[{"type":"summary_text","text":"think"}],"encrypted_content":"enc"},
          {"type":"message","id":"msg_b","role":"assistant","content":[{"type":"output_text","text":"Hi"}]},
          {"type":"function_call","id":"fc_b","call_id":"call_b","name":"ls","arguments":"{\"d\":\".\"}"}
        ],
        "usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":1},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":2}},
        "incomplete_details":null,"error":null}"#;

    #[test]
    fn body_gives_the_stream_events() {
        let events = decode_body(BODY.as_bytes()).unwrap();
        assert_eq!(
            events,
            vec![
                StreamEvent::Start {
                    id: Some("resp_b".into()),
                    model: Some("gpt-5".into())
                },
                StreamEvent::ReasoningDelta {
                    part: 0,
                    text: "think".into()
                },
                StreamEvent::ReasoningEnd {
                    part: 0,
                    signature: None,
                    redacted: None,
                    encrypted: Some("enc".into()),
                    id: Some("rs_b".into())
                },
                text(1, "Hi"),
                StreamEvent::ToolCallStart {
                    part: 2,
                    id: "call_b".into(),
                    name: "ls".into(),
                    item_id: Some("fc_b".into())
                },
                StreamEvent::ToolCallEnd {
                    part: 2,
                    arguments: "{\"d\":\".\"}".into()
                },
                StreamEvent::Usage(Usage {
                    input_tokens: 4,
                    output_tokens: 7,
                    cache_read_tokens: 1,
                    cache_write_tokens: 0,
                    reasoning_tokens: 2
                }),
                stop(StopReason::ToolUse),
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn body_incomplete_failed_error_and_garbage() {
        let events = decode_body(
            br#"{"id":"r","status":"incomplete","output":[],"incomplete_details":{"reason":"max_output_tokens"}}"#,
        )
        .unwrap();
        assert!(events.contains(&stop(StopReason::MaxTokens)));
        let events = decode_body(
            br#"{"id":"r","status":"failed","output":[],"error":{"code":"server_error","message":"x"}}"#,
        )
        .unwrap();
        assert!(matches!(&events[1], StreamEvent::Error(e) if e.kind == ErrorKind::Server));
        let events = decode_body(
            br#"{"error":{"message":"bad key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
        )
        .unwrap();
        assert_eq!(events.len(), 1);
        assert!(
            matches!(&events[0], StreamEvent::Error(e) if e.kind == ErrorKind::Authentication && e.message == "bad key")
        );
        assert!(matches!(
            decode_body(b"<html>nope</html>"),
            Err(DecodeError::NotAResponse { start }) if start == "<html>nope</html>"
        ));
        assert!(matches!(
            decode_body(b"[1]"),
            Err(DecodeError::NotAResponse { .. })
        ));
    }

    #[test]
    fn classify_error_prefers_string_code_then_type() {
        let e = classify_error(
            429,
            &Headers::new(),
            br#"{"error":{"message":"quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
        );
        assert_eq!((e.kind, e.retryable), (ErrorKind::QuotaExceeded, false));
        let e = classify_error(
            400,
            &Headers::new(),
            br#"{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::ContextTooLong);
        assert_eq!(e.code.as_deref(), Some("context_length_exceeded"));
        let e = classify_error(
            400,
            &Headers::new(),
            br#"{"error":{"message":"m","type":"invalid_request_error","code":null}}"#,
        );
        assert_eq!(
            (e.kind, e.code.as_deref(), e.message.as_str()),
            (
                ErrorKind::InvalidRequest,
                Some("invalid_request_error"),
                "m"
            )
        );
        let e = classify_error(502, &Headers::new(), b"<html><h1>Bad Gateway</h1></html>");
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Server, "Bad Gateway")
        );
    }

    #[test]
    fn sanitize_id_keeps_valid_ids_and_maps_others_deterministically() {
        assert_eq!(sanitize_id("call_AB6-x"), "call_AB6-x");
        let long = format!("call_abc|fc_{}+/=", "x".repeat(400));
        let a = sanitize_id(&long);
        assert_eq!(a, sanitize_id(&long));
        assert!(a.len() <= MAX_ID_LEN);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert!(a.starts_with("call_abcfc_"), "{a}");
        assert_ne!(sanitize_id("a|b"), sanitize_id("a+b"));
        assert_eq!(sanitize_id("").len(), "call_".len() + 16);
    }

    fn origin(model: &str) -> Origin {
        Origin {
            provider: "openai".into(),
            model: model.into(),
        }
    }

    fn full_request() -> ChatRequest {
        let mut extra = Map::new();
        extra.insert("store".into(), json!(true));
        extra.insert("prompt_cache_key".into(), json!("k"));
        ChatRequest {
            model: "gpt-5".into(),
            system: Some("Be brief.".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    parts: vec![
                        Part::text("Look:"),
                        Part::Image(Image::Base64 {
                            media_type: "image/png".into(),
                            data: "AAAA".into(),
                        }),
                        Part::Image(Image::Url {
                            url: "https://x/y.png".into(),
                        }),
                    ],
                },
                Message {
                    role: Role::Assistant,
                    parts: vec![
                        Part::Reasoning(Reasoning {
                            text: "hmm".into(),
                            encrypted: Some("enc".into()),
                            id: Some("rs_1".into()),
                            origin: origin("gpt-5"),
                            ..Reasoning::default()
                        }),
                        Part::Reasoning(Reasoning {
                            text: "other model".into(),
                            encrypted: Some("enc2".into()),
                            id: Some("rs_2".into()),
                            origin: origin("gpt-4.1"),
                            ..Reasoning::default()
                        }),
                        Part::Reasoning(Reasoning {
                            text: "no opaque data".into(),
                            origin: origin("gpt-5"),
                            ..Reasoning::default()
                        }),
                        Part::text("Reading."),
                        Part::ToolCall(ToolCall {
                            id: "call_1".into(),
                            name: "read".into(),
                            arguments: r#"{"path":"a"}"#.into(),
                            item_id: Some("fc_1".into()),
                            signature: None,
                            origin: origin("gpt-5"),
                        }),
                        Part::ToolCall(ToolCall {
                            id: "toolu_01|x".into(),
                            name: "ls".into(),
                            arguments: "{}".into(),
                            item_id: Some("fc_2".into()),
                            signature: None,
                            origin: origin("claude"),
                        }),
                    ],
                },
                Message {
                    role: Role::User,
                    parts: vec![
                        Part::ToolResult(ToolResult {
                            call_id: "call_1".into(),
                            name: "read".into(),
                            content: vec![ToolOutput::Text {
                                text: "contents".into(),
                            }],
                            is_error: false,
                        }),
                        Part::ToolResult(ToolResult {
                            call_id: "toolu_01|x".into(),
                            name: "ls".into(),
                            content: vec![ToolOutput::Text {
                                text: "no such dir".into(),
                            }],
                            is_error: true,
                        }),
                        Part::text("Go on."),
                    ],
                },
            ],
            tools: vec![ToolSpec {
                name: "read".into(),
                description: "Read a file".into(),
                input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
            }],
            tool_choice: ToolChoice::Auto,
            max_output_tokens: Some(1000),
            temperature: Some(0.2),
            reasoning: Some(ReasoningConfig {
                effort: Effort::High,
                budget_tokens: None,
            }),
            stream: true,
            extra,
        }
    }

    fn body(request: &Request) -> Value {
        serde_json::from_slice(&request.body).unwrap()
    }

    #[test]
    fn full_request_body_url_and_headers() {
        let mut endpoint_headers = Headers::new();
        endpoint_headers.push("Accept", "application/x-ndjson");
        endpoint_headers.push("x-extra", "1");
        let endpoint = Endpoint {
            base_url: "https://api.openai.com/v1/".into(),
            credential: Some(Credential::ApiKey("sk-1".into())),
            headers: endpoint_headers,
            quirks: Default::default(),
        };
        let request = build_request(&endpoint, &full_request());
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://api.openai.com/v1/responses");
        let headers: Vec<_> = request.headers.iter().collect();
        assert_eq!(
            headers,
            [
                ("content-type", "application/json"),
                ("authorization", "Bearer sk-1"),
                ("Accept", "application/x-ndjson"),
                ("x-extra", "1"),
            ]
        );
        let foreign = sanitize_id("toolu_01|x");
        assert_eq!(
            body(&request),
            json!({
                "model": "gpt-5",
                "instructions": "Be brief.",
                "input": [
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "Look:"},
                        {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                        {"type": "input_image", "image_url": "https://x/y.png"},
                    ]},
                    {"type": "reasoning", "id": "rs_1",
                     "summary": [{"type": "summary_text", "text": "hmm"}],
                     "encrypted_content": "enc"},
                    {"type": "message", "role": "assistant", "content": [
                        {"type": "output_text", "text": "Reading."},
                    ]},
                    {"type": "function_call", "call_id": "call_1", "name": "read",
                     "arguments": "{\"path\":\"a\"}", "id": "fc_1"},
                    {"type": "function_call", "call_id": foreign, "name": "ls", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "call_1", "output": "contents"},
                    {"type": "function_call_output", "call_id": foreign, "output": "no such dir"},
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "Go on."},
                    ]},
                ],
                "tools": [{"type": "function", "name": "read", "description": "Read a file",
                           "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}],
                "tool_choice": "auto",
                "max_output_tokens": 1000,
                "temperature": 0.2,
                "stream": true,
                "store": true,
                "reasoning": {"effort": "high", "summary": "auto"},
                "include": ["reasoning.encrypted_content"],
                "prompt_cache_key": "k",
            })
        );
    }

    #[test]
    fn minimal_request_and_tool_choices() {
        let endpoint = Endpoint {
            base_url: "http://localhost:1234/v1".into(),
            credential: Some(Credential::Bearer("tok".into())),
            headers: Headers::new(),
            quirks: Default::default(),
        };
        let mut request = ChatRequest {
            model: "m".into(),
            messages: vec![Message::user("hi")],
            ..ChatRequest::default()
        };
        let built = build_request(&endpoint, &request);
        assert_eq!(built.headers.get("authorization"), Some("Bearer tok"));
        assert_eq!(built.headers.get("accept"), None, "not streaming");
        assert_eq!(
            body(&built),
            json!({
                "model": "m",
                "input": [{"type": "message", "role": "user",
                           "content": [{"type": "input_text", "text": "hi"}]}],
                "stream": false,
                "store": false,
            })
        );
        let no_auth = build_request(&Endpoint::default(), &request);
        assert!(!no_auth.headers.contains("authorization"));
        let choice = |c: ToolChoice, tools: bool| {
            let mut r = request.clone();
            r.tool_choice = c;
            if tools {
                r.tools = full_request().tools;
            }
            body(&build_request(&endpoint, &r))
                .get("tool_choice")
                .cloned()
        };
        assert_eq!(choice(ToolChoice::Auto, false), None);
        assert_eq!(choice(ToolChoice::Auto, true), Some(json!("auto")));
        assert_eq!(choice(ToolChoice::Required, true), Some(json!("required")));
        assert_eq!(choice(ToolChoice::None, true), Some(json!("none")));
        assert_eq!(
            choice(ToolChoice::Tool("read".into()), true),
            Some(json!({"type": "function", "name": "read"}))
        );
        request.stream = true;
        let built = build_request(&endpoint, &request);
        assert_eq!(built.headers.get("accept"), Some("text/event-stream"));
    }
}
