//! The Anthropic Messages API: `POST {base}/v1/messages`.
//!
//! Requests carry `anthropic-version: 2023-06-01` and either `x-api-key` (API keys) or
//! `Authorization: Bearer` (OAuth tokens). The body always has `max_tokens`; thinking is
//! `{type: "enabled", budget_tokens}` (see [`thinking_budget`]), which also drops
//! `temperature` and, with tools, adds the `interleaved-thinking-2025-05-14` beta. Prompt
//! caching is automatic: `cache_control` marks the last tool, the system block and the last
//! block of the newest user message (three breakpoints; the API allows four).
//!
//! A stream is `message_start`, then per content block `content_block_start`,
//! `content_block_delta`*, `content_block_stop`, then `message_delta` (stop reason,
//! cumulative usage) and `message_stop`; `ping` and `error` may come anywhere. Each text,
//! thinking, redacted-thinking or tool-use block becomes one part, numbered in order of
//! appearance; server-tool blocks (`server_tool_use`, `web_search_tool_result`, …) and
//! `citations_delta` give [`StreamEvent::Debug`] and never parts, so their
//! `input_json_delta`s are not mistaken for tool calls.
//!
//! Quirks handled: events are read by the payload's `type` (the SSE `event:` line is
//! optional); tool input is the concatenation of every `partial_json`, parsed by nobody
//! here; a block that never gets its `content_block_stop` (a tool call cut by
//! `max_tokens`) is closed at `message_stop` or in `finish`; usage counters keep their last
//! non-null value (gateways repeat or change `input_tokens` in `message_delta`); malformed
//! JSON in one event is an error for that event only, and the decoder goes on.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use serde_json::{json, Map, Value};

use super::{
    ApiError, ChatRequest, Credential, DecodeError, Effort, Endpoint, ReasoningConfig, StreamEvent,
    ToolChoice,
};
use crate::http::{Headers, Method, Request};
use crate::message::{Image, Message, Part, Role, StopReason, ToolOutput, ToolResult, Usage};
use crate::sse;

use super::typed::{opt_str, EmptyObject, Object, Text};

/// The `anthropic-version` header value every request carries.
pub const API_VERSION: &str = "2023-06-01";

/// `max_tokens` when the request sets no cap (the API requires the field).
///
/// With thinking enabled and no cap, the thinking budget is added on top, so the answer
/// keeps this much room after the model has thought.
pub const DEFAULT_MAX_TOKENS: u32 = 8192;

/// The smallest `budget_tokens` the API accepts.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// The beta that allows thinking between tool calls; sent when thinking and tools meet.
pub const INTERLEAVED_THINKING_BETA: &str = "interleaved-thinking-2025-05-14";

/// The longest tool-use id [`wire_tool_id`] produces.
pub const MAX_TOOL_ID_LEN: usize = 64;

/// The thinking budget for a reasoning setting: the explicit `budget_tokens`, else by
/// effort (minimal 1024, low 2048, medium 8192, high 16 384); never below
/// [`MIN_THINKING_BUDGET`].
pub fn thinking_budget(reasoning: &ReasoningConfig) -> u32 {
    let budget = reasoning.budget_tokens.unwrap_or(match reasoning.effort {
        Effort::Minimal => 1024,
        Effort::Low => 2048,
        Effort::Medium => 8192,
        Effort::High => 16_384,
    });
    budget.max(MIN_THINKING_BUDGET)
}

/// A tool-call id as the Messages API accepts it (`^[a-zA-Z0-9_-]+$`, at most 64 chars).
///
/// Valid ids pass unchanged. Others have each bad character replaced by `_`, are cut to
/// 47 chars and get `_` plus 16 hex digits of a hash of the original, so two different
/// foreign ids do not collapse into one. Deterministic: a call and its result map alike.
pub fn wire_tool_id(id: &str) -> String {
    super::ids::wire_id(id, MAX_TOOL_ID_LEN)
}

/// Builds the `POST {base}/v1/messages` request for `request`.
///
/// `max_tokens` is the request's cap, else [`DEFAULT_MAX_TOKENS`]. With thinking, an
/// explicit cap stays and the budget shrinks to fit below it (never under
/// [`MIN_THINKING_BUDGET`]; if the cap is smaller than that, it is raised to budget + 1);
/// without a cap, `max_tokens` is budget + [`DEFAULT_MAX_TOKENS`].
pub fn build_request(endpoint: &Endpoint, request: &ChatRequest) -> Request {
    let mut base = endpoint.base_url.trim_end_matches('/');
    if let Some(stripped) = base.strip_suffix("/v1") {
        base = stripped;
    }
    let url = format!("{base}/v1/messages");

    let thinking = request.reasoning.as_ref().map(|r| {
        let budget = thinking_budget(r);
        match request.max_output_tokens {
            Some(cap) => {
                let budget = budget.min(cap.saturating_sub(1)).max(MIN_THINKING_BUDGET);
                (budget, cap.max(budget.saturating_add(1)))
            }
            None => (budget, budget.saturating_add(DEFAULT_MAX_TOKENS)),
        }
    });
    let max_tokens = match thinking {
        Some((_, max)) => max,
        None => request.max_output_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
    };

    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("max_tokens".into(), json!(max_tokens));
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        body.insert(
            "system".into(),
            json!([{"type": "text", "text": system, "cache_control": ephemeral()}]),
        );
    }
    body.insert(
        "messages".into(),
        Value::Array(build_messages(&request.messages, &request.model)),
    );
    if !request.tools.is_empty() {
        let count = request.tools.len();
        let tools = request
            .tools
            .iter()
            .enumerate()
            .map(|(i, tool)| {
                let mut t = json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                });
                if i + 1 == count {
                    t["cache_control"] = ephemeral();
                }
                t
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let tool_choice = match &request.tool_choice {
        ToolChoice::Auto | ToolChoice::None if request.tools.is_empty() => None,
        ToolChoice::Auto => Some(json!({"type": "auto"})),
        ToolChoice::None => Some(json!({"type": "none"})),
        ToolChoice::Required => Some(json!({"type": "any"})),
        ToolChoice::Tool(name) => Some(json!({"type": "tool", "name": name})),
    };
    if let Some(choice) = tool_choice {
        body.insert("tool_choice".into(), choice);
    }
    if let Some((budget, _)) = thinking {
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    } else if let Some(t) = request.temperature {
        // Through its shortest decimal form, so 0.7f32 is sent as 0.7, not 0.699999988….
        let t = t.to_string().parse::<f64>().unwrap_or(f64::from(t));
        body.insert("temperature".into(), json!(t));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
    }
    for (key, value) in &request.extra {
        body.insert(key.clone(), value.clone());
    }

    let mut headers = Headers::new();
    headers.push("content-type", "application/json");
    headers.push("anthropic-version", API_VERSION);
    match &endpoint.credential {
        Some(Credential::ApiKey(key)) => headers.push("x-api-key", key.as_str()),
        Some(Credential::Bearer(token)) => {
            headers.push("authorization", format!("Bearer {token}"));
        }
        None => {}
    }
    if request.stream {
        headers.push("accept", "text/event-stream");
    }
    if thinking.is_some() && !request.tools.is_empty() {
        headers.push("anthropic-beta", INTERLEAVED_THINKING_BETA);
    }
    for (name, value) in endpoint.headers.iter() {
        headers.set(name, value);
    }

    Request {
        method: Method::Post,
        url,
        headers,
        body: Value::Object(body).to_string().into_bytes(),
    }
}

fn ephemeral() -> Value {
    json!({"type": "ephemeral"})
}

/// The `messages` array; messages that end up empty are left out (the API merges
/// consecutive same-role turns, so nothing breaks), and the newest user message's last
/// block gets the cache breakpoint.
fn build_messages(messages: &[Message], model: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut newest_user = None;
    for message in messages {
        let content = match message.role {
            Role::User => user_content(message),
            Role::Assistant => assistant_content(message, model),
        };
        if content.is_empty() {
            continue;
        }
        let role = match message.role {
            Role::User => {
                newest_user = Some(out.len());
                "user"
            }
            Role::Assistant => "assistant",
        };
        out.push(json!({"role": role, "content": content}));
    }
    if let Some(last) = newest_user
        .and_then(|i| out.get_mut(i))
        .and_then(|m| m["content"].as_array_mut())
        .and_then(|blocks| blocks.last_mut())
    {
        last["cache_control"] = ephemeral();
    }
    out
}

/// A user message's blocks: tool results first (the API rejects text before them), then
/// text and images in order. Empty text is skipped; calls and reasoning do not belong here.
fn user_content(message: &Message) -> Vec<Value> {
    let mut results = Vec::new();
    let mut others = Vec::new();
    for part in &message.parts {
        match part {
            Part::ToolResult(result) => results.push(tool_result_block(result)),
            Part::Text { text } if !text.is_empty() => {
                others.push(json!({"type": "text", "text": text}));
            }
            Part::Image(image) => others.push(image_block(image)),
            _ => {}
        }
    }
    results.extend(others);
    results
}

/// An assistant message's blocks: replayable reasoning first (same model only, and only
/// with a signature or redacted data), then text and tool calls in order.
fn assistant_content(message: &Message, model: &str) -> Vec<Value> {
    let mut reasoning = Vec::new();
    let mut others = Vec::new();
    for part in &message.parts {
        match part {
            Part::Reasoning(r) if r.origin.model == model => {
                if let Some(data) = &r.redacted {
                    reasoning.push(json!({"type": "redacted_thinking", "data": data}));
                } else if let Some(signature) = &r.signature {
                    reasoning.push(
                        json!({"type": "thinking", "thinking": r.text, "signature": signature}),
                    );
                }
            }
            Part::Text { text } if !text.is_empty() => {
                others.push(json!({"type": "text", "text": text}));
            }
            Part::Image(image) => others.push(image_block(image)),
            Part::ToolCall(call) => {
                let input = match call.parse_arguments() {
                    Ok(value @ Value::Object(_)) => value,
                    _ => json!({}),
                };
                others.push(json!({
                    "type": "tool_use",
                    "id": wire_tool_id(&call.id),
                    "name": call.name,
                    "input": input,
                }));
            }
            _ => {}
        }
    }
    reasoning.extend(others);
    reasoning
}

fn tool_result_block(result: &ToolResult) -> Value {
    let mut block = json!({"type": "tool_result", "tool_use_id": wire_tool_id(&result.call_id)});
    let text_only = result
        .content
        .iter()
        .all(|c| matches!(c, ToolOutput::Text { .. }));
    if text_only {
        let text = result.text();
        if !text.is_empty() {
            block["content"] = json!(text);
        }
    } else {
        let items: Vec<Value> = result
            .content
            .iter()
            .filter_map(|item| match item {
                ToolOutput::Text { text } if text.is_empty() => None,
                ToolOutput::Text { text } => Some(json!({"type": "text", "text": text})),
                ToolOutput::Image(image) => Some(image_block(image)),
            })
            .collect();
        block["content"] = Value::Array(items);
    }
    if result.is_error {
        block["is_error"] = json!(true);
    }
    block
}

fn image_block(image: &Image) -> Value {
    let source = match image {
        Image::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
        Image::Url { url } => json!({"type": "url", "url": url}),
    };
    json!({"type": "image", "source": source})
}

/// Maps an Anthropic `stop_reason` to cm's.
fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "model_context_window_exceeded" => StopReason::ContextWindowExceeded,
        other => StopReason::from_name(other),
    }
}

impl UsageCounts {
    /// The counters of an Anthropic `usage` object (each `None` unless an unsigned
    /// integer). Anthropic's `input_tokens` already excludes cache reads and writes.
    fn from_value(usage: &Value) -> UsageCounts {
        UsageCounts {
            input_tokens: usage["input_tokens"].as_u64(),
            output_tokens: usage["output_tokens"].as_u64(),
            cache_read_input_tokens: usage["cache_read_input_tokens"].as_u64(),
            cache_creation_input_tokens: usage["cache_creation_input_tokens"].as_u64(),
            output_tokens_details: Some(Object(OutputDetails {
                thinking_tokens: usage["output_tokens_details"]["thinking_tokens"].as_u64(),
            })),
        }
    }
}

/// Usage counters as last reported; `None` until a report carries them.
#[derive(Debug, Clone, Copy, Default)]
struct UsageCounters {
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    reasoning: Option<u64>,
}

impl UsageCounters {
    /// Takes every counter present in `usage`.
    fn merge_counts(&mut self, usage: &UsageCounts) {
        let take = |slot: &mut Option<u64>, value: Option<u64>| {
            if value.is_some() {
                *slot = value;
            }
        };
        take(&mut self.input, usage.input_tokens);
        take(&mut self.output, usage.output_tokens);
        take(&mut self.cache_read, usage.cache_read_input_tokens);
        take(&mut self.cache_write, usage.cache_creation_input_tokens);
        take(
            &mut self.reasoning,
            usage
                .output_tokens_details
                .as_ref()
                .and_then(|d| d.0.thinking_tokens),
        );
    }

    fn snapshot(&self) -> Usage {
        Usage {
            input_tokens: self.input.unwrap_or(0),
            output_tokens: self.output.unwrap_or(0),
            cache_read_tokens: self.cache_read.unwrap_or(0),
            cache_write_tokens: self.cache_write.unwrap_or(0),
            reasoning_tokens: self.reasoning.unwrap_or(0),
        }
    }
}

fn error_event(error: &Value, data: &[u8]) -> StreamEvent {
    StreamEvent::Error(ApiError::classify(
        None,
        &Headers::new(),
        error["type"].as_str(),
        error["message"].as_str(),
        data,
    ))
}

fn lossy_start(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(200).collect()
}

/// Decodes a non-streaming `message` body into the events its stream would give.
///
/// Tool calls get `ToolCallStart` and `ToolCallEnd` with the `input` object as JSON text;
/// an error body (`{"type":"error",…}`) gives one `Error` and no `End`.
pub fn decode_body(body: &[u8]) -> Result<Vec<StreamEvent>, DecodeError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| DecodeError::NotAResponse {
        start: lossy_start(body),
    })?;
    if value["type"] == "error" {
        return Ok(vec![error_event(&value["error"], body)]);
    }
    let Some(content) = value["content"].as_array() else {
        return Err(DecodeError::MissingField {
            event: "message".into(),
            field: "content",
        });
    };
    let mut out = vec![StreamEvent::Start {
        id: value["id"].as_str().map(str::to_string),
        model: value["model"].as_str().map(str::to_string),
    }];
    let mut part = 0;
    for block in content {
        let kind = block["type"].as_str().unwrap_or("");
        match kind {
            "text" => {
                let text = block["text"].as_str().unwrap_or("");
                if !text.is_empty() {
                    out.push(StreamEvent::TextDelta {
                        part,
                        text: text.to_string(),
                    });
                }
            }
            "thinking" => {
                let text = block["thinking"].as_str().unwrap_or("");
                if !text.is_empty() {
                    out.push(StreamEvent::ReasoningDelta {
                        part,
                        text: text.to_string(),
                    });
                }
                out.push(reasoning_end(part, block["signature"].as_str(), None));
            }
            "redacted_thinking" => {
                out.push(reasoning_end(part, None, block["data"].as_str()));
            }
            "tool_use" => {
                out.push(StreamEvent::ToolCallStart {
                    part,
                    id: block["id"].as_str().unwrap_or("").to_string(),
                    name: block["name"].as_str().unwrap_or("").to_string(),
                    item_id: None,
                });
                let arguments = match &block["input"] {
                    Value::Null => String::new(),
                    input => input.to_string(),
                };
                out.push(StreamEvent::ToolCallEnd { part, arguments });
            }
            other => {
                out.push(StreamEvent::Debug {
                    message: format!("skipped content block `{other}`"),
                });
                continue;
            }
        }
        part += 1;
    }
    let mut usage = UsageCounters::default();
    usage.merge_counts(&UsageCounts::from_value(&value["usage"]));
    out.push(StreamEvent::Usage(usage.snapshot()));
    if let Some(reason) = value["stop_reason"].as_str() {
        out.push(StreamEvent::Stop {
            reason: stop_reason(reason),
            sequence: value["stop_sequence"].as_str().map(str::to_string),
        });
    }
    out.push(StreamEvent::End);
    Ok(out)
}

/// A `ReasoningEnd`; an empty signature counts as none.
fn reasoning_end(part: usize, signature: Option<&str>, redacted: Option<&str>) -> StreamEvent {
    StreamEvent::ReasoningEnd {
        part,
        signature: signature.filter(|s| !s.is_empty()).map(str::to_string),
        redacted: redacted.map(str::to_string),
        encrypted: None,
        id: None,
    }
}

/// Classifies an HTTP error response.
///
/// Reads `{"type":"error","error":{"type","message"},"request_id"}`; the error type is the
/// code, and the body's `request_id` fills in when the `request-id` header is missing. A
/// body of another shape (Cloudflare's HTML 413, a proxy page) classifies by status.
pub fn classify_error(status: u16, headers: &Headers, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().map(|v| &v["error"]);
    let code = error.and_then(|e| e["type"].as_str());
    let message = error
        .and_then(|e| e["message"].as_str())
        .or_else(|| parsed.as_ref().and_then(|v| v["message"].as_str()));
    let mut api_error = ApiError::classify(Some(status), headers, code, message, body);
    if api_error.request_id.is_none() {
        api_error.request_id = parsed
            .as_ref()
            .and_then(|v| v["request_id"].as_str())
            .map(str::to_string);
    }
    api_error
}

/// What a content block is, as far as cm models it.
#[derive(Debug, Clone)]
enum BlockKind {
    Text,
    Thinking {
        signature: String,
    },
    Redacted {
        data: String,
    },
    ToolUse {
        arguments: String,
        fallback: String,
    },
    /// A block cm does not model (server tools and their results); its deltas are dropped.
    Skipped,
}

#[derive(Debug, Clone)]
struct Block {
    /// The part it became; `None` for skipped blocks.
    part: Option<usize>,
    kind: BlockKind,
    open: bool,
}

/// Decodes one streamed Messages API response.
///
/// Out-of-order events are tolerated: a delta for a block that never started creates the
/// block from the delta's type (a tool call then has no `ToolCallStart`; the assembler
/// copes), and a stop for an unknown block gives a `Debug`. After `message_stop` every
/// event gives a `Debug`. An event whose data is not JSON returns
/// [`DecodeError::InvalidJson`] and leaves the decoder usable for the next event.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    ended: bool,
    /// Blocks by the provider's content-block index.
    blocks: BTreeMap<u64, Block>,
    next_part: usize,
    usage: UsageCounters,
    /// The type of the last event decoded; empty before the first.
    last_event: String,
}

impl StreamDecoder {
    /// A decoder for a new response.
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    fn open_block(&mut self, index: u64, kind: BlockKind) -> Option<usize> {
        let part = if matches!(kind, BlockKind::Skipped) {
            None
        } else {
            let part = self.next_part;
            self.next_part = self.next_part.saturating_add(1);
            Some(part)
        };
        self.blocks.insert(
            index,
            Block {
                part,
                kind,
                open: true,
            },
        );
        part
    }

    fn handle(&mut self, kind: &str, v: &Value, data: &[u8], out: &mut Vec<StreamEvent>) {
        if self.ended {
            out.push(StreamEvent::Debug {
                message: format!("ignored `{kind}` after message_stop"),
            });
            return;
        }
        match kind {
            "message_start" => self.message_start(v, out),
            "content_block_start" => self.block_start(v, out),
            "content_block_delta" => self.block_delta(v, out),
            "content_block_stop" => self.block_stop(v, out),
            "message_delta" => {
                if v["usage"].is_object() {
                    self.usage
                        .merge_counts(&UsageCounts::from_value(&v["usage"]));
                    out.push(StreamEvent::Usage(self.usage.snapshot()));
                }
                if let Some(reason) = v["delta"]["stop_reason"].as_str() {
                    out.push(StreamEvent::Stop {
                        reason: stop_reason(reason),
                        sequence: v["delta"]["stop_sequence"].as_str().map(str::to_string),
                    });
                }
            }
            "message_stop" => {
                self.close_open_blocks(out);
                self.ended = true;
                out.push(StreamEvent::End);
            }
            "ping" => {}
            "error" => out.push(error_event(&v["error"], data)),
            other => out.push(StreamEvent::Debug {
                message: format!("skipped unknown event `{other}`"),
            }),
        }
    }

    fn message_start(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        let message = &v["message"];
        let usage = message["usage"]
            .is_object()
            .then(|| UsageCounts::from_value(&message["usage"]));
        self.start_message(
            message["id"].as_str(),
            message["model"].as_str(),
            usage.as_ref(),
            out,
        );
    }

    fn start_message(
        &mut self,
        id: Option<&str>,
        model: Option<&str>,
        usage: Option<&UsageCounts>,
        out: &mut Vec<StreamEvent>,
    ) {
        if self.started {
            out.push(StreamEvent::Debug {
                message: "ignored a second message_start".into(),
            });
            return;
        }
        self.started = true;
        out.push(StreamEvent::Start {
            id: id.map(str::to_string),
            model: model.map(str::to_string),
        });
        if let Some(usage) = usage {
            self.usage.merge_counts(usage);
            out.push(StreamEvent::Usage(self.usage.snapshot()));
        }
    }

    /// The typed twin of [`StreamDecoder::handle`] for the frequent events; `false` when
    /// the event is not one it takes (the general path then decodes it).
    fn handle_fast(&mut self, event: &FastEvent<'_>, out: &mut Vec<StreamEvent>) -> bool {
        if self.ended {
            return false;
        }
        match (
            event.kind.as_ref(),
            event.index,
            event.delta.as_ref().map(|d| &d.0),
        ) {
            ("content_block_delta", Some(index), Some(delta)) => {
                let Some(kind) = delta.kind.as_ref().map(Text::as_str) else {
                    return false;
                };
                if delta_payload_field(kind).is_none() {
                    return false;
                }
                self.apply_delta(index, kind, delta.payload(), out);
            }
            ("content_block_start", Some(index), _) => {
                let Some(block) = &event.content_block else {
                    return false;
                };
                let block = &block.0;
                let known = ["text", "thinking", "redacted_thinking", "tool_use"];
                if !known.contains(&block.kind.as_str())
                    || self.blocks.get(&index).is_some_and(|b| b.open)
                {
                    return false;
                }
                let start = BlockStart {
                    kind: block.kind.as_str(),
                    text: opt_str(&block.text),
                    thinking: opt_str(&block.thinking),
                    signature: opt_str(&block.signature),
                    data: opt_str(&block.data),
                    id: opt_str(&block.id),
                    name: opt_str(&block.name),
                    input: String::new(),
                };
                self.start_block(index, start, out);
            }
            ("message_start", _, _) => {
                let message = event.message.as_ref().map(|m| &m.0);
                self.start_message(
                    message.and_then(|m| opt_str(&m.id)),
                    message.and_then(|m| opt_str(&m.model)),
                    message.and_then(|m| m.usage.as_ref()).map(|u| &u.0),
                    out,
                );
            }
            ("content_block_stop", Some(index), _) => match self.blocks.get_mut(&index) {
                Some(block) if block.open => close_block(block, out),
                _ => return false,
            },
            ("message_delta", _, delta) => {
                if let Some(usage) = &event.usage {
                    self.usage.merge_counts(&usage.0);
                    out.push(StreamEvent::Usage(self.usage.snapshot()));
                }
                if let Some(reason) = delta.and_then(|d| d.stop_reason.as_ref()) {
                    out.push(StreamEvent::Stop {
                        reason: stop_reason(reason.as_str()),
                        sequence: delta
                            .and_then(|d| d.stop_sequence.as_ref())
                            .map(|s| s.as_str().to_string()),
                    });
                }
            }
            ("message_stop", _, _) => {
                self.close_open_blocks(out);
                self.ended = true;
                out.push(StreamEvent::End);
            }
            ("ping", _, _) => {}
            _ => return false,
        }
        true
    }

    fn block_start(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        let Some(index) = v["index"].as_u64() else {
            out.push(StreamEvent::Debug {
                message: "skipped content_block_start without an index".into(),
            });
            return;
        };
        if self.blocks.get(&index).is_some_and(|b| b.open) {
            out.push(StreamEvent::Debug {
                message: format!("ignored a second content_block_start for open block {index}"),
            });
            return;
        }
        let block = &v["content_block"];
        // The start's `input` is a `{}` placeholder; a gateway that sends the whole input
        // here and no deltas still gets its arguments through the fallback.
        let input = match &block["input"] {
            Value::Object(map) if !map.is_empty() => block["input"].to_string(),
            _ => String::new(),
        };
        self.start_block(
            index,
            BlockStart {
                kind: block["type"].as_str().unwrap_or(""),
                text: block["text"].as_str(),
                thinking: block["thinking"].as_str(),
                signature: block["signature"].as_str(),
                data: block["data"].as_str(),
                id: block["id"].as_str(),
                name: block["name"].as_str(),
                input,
            },
            out,
        );
    }

    /// Opens block `index` (not open yet) as `block` says.
    fn start_block(&mut self, index: u64, block: BlockStart<'_>, out: &mut Vec<StreamEvent>) {
        match block.kind {
            "text" => {
                let part = self.open_block(index, BlockKind::Text).unwrap_or_default();
                if let Some(text) = block.text.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::TextDelta {
                        part,
                        text: text.to_string(),
                    });
                }
            }
            "thinking" => {
                let signature = block.signature.unwrap_or("").to_string();
                let part = self
                    .open_block(index, BlockKind::Thinking { signature })
                    .unwrap_or_default();
                if let Some(text) = block.thinking.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::ReasoningDelta {
                        part,
                        text: text.to_string(),
                    });
                }
            }
            "redacted_thinking" => {
                let data = block.data.unwrap_or("").to_string();
                self.open_block(index, BlockKind::Redacted { data });
            }
            "tool_use" => {
                let part = self
                    .open_block(
                        index,
                        BlockKind::ToolUse {
                            arguments: String::new(),
                            fallback: block.input,
                        },
                    )
                    .unwrap_or_default();
                out.push(StreamEvent::ToolCallStart {
                    part,
                    id: block.id.unwrap_or("").to_string(),
                    name: block.name.unwrap_or("").to_string(),
                    item_id: None,
                });
            }
            other => {
                self.open_block(index, BlockKind::Skipped);
                out.push(StreamEvent::Debug {
                    message: format!("skipped content block `{other}`"),
                });
            }
        }
    }

    fn block_delta(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        let Some(index) = v["index"].as_u64() else {
            out.push(StreamEvent::Debug {
                message: "skipped content_block_delta without an index".into(),
            });
            return;
        };
        let delta = &v["delta"];
        let delta_type = delta["type"].as_str().unwrap_or("");
        let payload = delta_payload_field(delta_type).and_then(|field| delta[field].as_str());
        self.apply_delta(index, delta_type, payload, out);
    }

    /// Applies one `content_block_delta`; `payload` is the delta's text, thinking,
    /// signature or partial JSON, whichever its type carries.
    fn apply_delta(
        &mut self,
        index: u64,
        delta_type: &str,
        payload: Option<&str>,
        out: &mut Vec<StreamEvent>,
    ) {
        if delta_type == "citations_delta" {
            out.push(StreamEvent::Debug {
                message: format!("skipped citations_delta for block {index}"),
            });
            return;
        }
        if !self.blocks.contains_key(&index) {
            // A delta before its start: create the block the delta implies.
            let kind = match delta_type {
                "text_delta" => BlockKind::Text,
                "thinking_delta" | "signature_delta" => BlockKind::Thinking {
                    signature: String::new(),
                },
                "input_json_delta" => BlockKind::ToolUse {
                    arguments: String::new(),
                    fallback: String::new(),
                },
                other => {
                    out.push(StreamEvent::Debug {
                        message: format!("skipped `{other}` for unknown block {index}"),
                    });
                    return;
                }
            };
            self.open_block(index, kind);
        }
        let Some(block) = self.blocks.get_mut(&index) else {
            return;
        };
        if !block.open {
            out.push(StreamEvent::Debug {
                message: format!("ignored `{delta_type}` after block {index} stopped"),
            });
            return;
        }
        let part = block.part.unwrap_or_default();
        match (&mut block.kind, delta_type) {
            (BlockKind::Skipped, _) => {}
            (BlockKind::Text, "text_delta") => {
                if let Some(text) = payload.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::TextDelta {
                        part,
                        text: text.to_string(),
                    });
                }
            }
            (BlockKind::Thinking { .. }, "thinking_delta") => {
                if let Some(text) = payload.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::ReasoningDelta {
                        part,
                        text: text.to_string(),
                    });
                }
            }
            (BlockKind::Thinking { signature }, "signature_delta") => {
                signature.push_str(payload.unwrap_or(""));
            }
            (BlockKind::ToolUse { arguments, .. }, "input_json_delta") => {
                if let Some(fragment) = payload.filter(|f| !f.is_empty()) {
                    arguments.push_str(fragment);
                    out.push(StreamEvent::ToolCallDelta {
                        part,
                        arguments: fragment.to_string(),
                    });
                }
            }
            (_, other) => out.push(StreamEvent::Debug {
                message: format!("skipped `{other}` that does not fit block {index}"),
            }),
        }
    }

    fn block_stop(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        let index = v["index"].as_u64();
        match index.and_then(|i| self.blocks.get_mut(&i)) {
            Some(block) if block.open => close_block(block, out),
            _ => out.push(StreamEvent::Debug {
                message: format!(
                    "skipped content_block_stop for unknown or stopped block {}",
                    v["index"]
                ),
            }),
        }
    }

    fn close_open_blocks(&mut self, out: &mut Vec<StreamEvent>) {
        for block in self.blocks.values_mut().filter(|b| b.open) {
            close_block(block, out);
        }
    }
}

/// Stops a block, emitting its end event: the complete tool arguments, or the reasoning's
/// signature or redacted data.
fn close_block(block: &mut Block, out: &mut Vec<StreamEvent>) {
    block.open = false;
    let part = block.part.unwrap_or_default();
    match &mut block.kind {
        BlockKind::Text | BlockKind::Skipped => {}
        BlockKind::Thinking { signature } => {
            out.push(reasoning_end(part, Some(signature.as_str()), None));
        }
        BlockKind::Redacted { data } => out.push(reasoning_end(part, None, Some(data.as_str()))),
        BlockKind::ToolUse {
            arguments,
            fallback,
        } => {
            let arguments = if arguments.is_empty() {
                std::mem::take(fallback)
            } else {
                std::mem::take(arguments)
            };
            out.push(StreamEvent::ToolCallEnd { part, arguments });
        }
    }
}

/// The fields of a `content_block_start`'s block that cm reads, from either path.
struct BlockStart<'s> {
    /// The block type; empty when missing.
    kind: &'s str,
    text: Option<&'s str>,
    thinking: Option<&'s str>,
    signature: Option<&'s str>,
    data: Option<&'s str>,
    id: Option<&'s str>,
    name: Option<&'s str>,
    /// A tool's complete input as JSON text when the start carries one; else empty.
    input: String,
}

/// Which field of a delta carries its payload.
fn delta_payload_field(delta_type: &str) -> Option<&'static str> {
    match delta_type {
        "text_delta" => Some("text"),
        "thinking_delta" => Some("thinking"),
        "signature_delta" => Some("signature"),
        "input_json_delta" => Some("partial_json"),
        _ => None,
    }
}

/// An event parsed straight into borrowed fields (the hot path): deltas, block stops and
/// starts, `message_start`, `message_delta`, `message_stop` and `ping`. Unknown fields are
/// skipped without building anything; an event that does not fit goes the general way.
/// The rarely present parts are boxed so that the struct stays small to move around.
#[derive(Deserialize)]
struct FastEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    delta: Option<Object<FastDelta<'a>>>,
    #[serde(default)]
    usage: Option<Box<Object<UsageCounts>>>,
    #[serde(default, borrow)]
    message: Option<Box<Object<FastMessage<'a>>>>,
    #[serde(default, borrow)]
    content_block: Option<Box<Object<FastBlock<'a>>>>,
}

/// The `delta` of a `content_block_delta` or a `message_delta`.
#[derive(Deserialize)]
struct FastDelta<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    text: Option<Text<'a>>,
    #[serde(default, borrow)]
    thinking: Option<Text<'a>>,
    #[serde(default, borrow)]
    signature: Option<Text<'a>>,
    #[serde(default, borrow)]
    partial_json: Option<Text<'a>>,
    #[serde(default, borrow)]
    stop_reason: Option<Text<'a>>,
    #[serde(default, borrow)]
    stop_sequence: Option<Text<'a>>,
}

/// The `message` of a `message_start`.
#[derive(Deserialize)]
struct FastMessage<'a> {
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    model: Option<Text<'a>>,
    #[serde(default)]
    usage: Option<Object<UsageCounts>>,
}

/// The `content_block` of a `content_block_start`.
#[derive(Deserialize)]
struct FastBlock<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(default, borrow)]
    text: Option<Text<'a>>,
    #[serde(default, borrow)]
    thinking: Option<Text<'a>>,
    #[serde(default, borrow)]
    signature: Option<Text<'a>>,
    #[serde(default, borrow)]
    data: Option<Text<'a>>,
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    /// Only the `{}` placeholder: a filled-in input (rare) takes the general path, which
    /// keeps it as arguments.
    #[serde(default, rename = "input")]
    _input: Option<Object<EmptyObject>>,
}

/// Anthropic's usage counters, each optional.
#[derive(Deserialize, Default)]
struct UsageCounts {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens_details: Option<Object<OutputDetails>>,
}

#[derive(Deserialize, Default)]
struct OutputDetails {
    #[serde(default)]
    thinking_tokens: Option<u64>,
}

impl<'a> FastEvent<'a> {
    /// The event, if `data` is one of the kinds the hot path takes and parses as such.
    fn parse(data: &'a str) -> Option<FastEvent<'a>> {
        const FAST_KINDS: [&str; 7] = [
            "\"content_block_delta\"",
            "\"content_block_stop\"",
            "\"content_block_start\"",
            "\"message_start\"",
            "\"message_delta\"",
            "\"message_stop\"",
            "\"ping\"",
        ];
        // A cheap look at the start, where Anthropic puts the type, before parsing.
        let head = data.get(..data.len().min(48)).unwrap_or(data);
        if !FAST_KINDS.iter().any(|k| head.contains(k)) {
            return None;
        }
        serde_json::from_str::<Object<FastEvent<'a>>>(data)
            .ok()
            .map(|event| event.0)
    }
}

impl FastDelta<'_> {
    fn payload(&self) -> Option<&str> {
        let field = match delta_payload_field(self.kind.as_ref()?.as_str())? {
            "text" => &self.text,
            "thinking" => &self.thinking,
            "signature" => &self.signature,
            _ => &self.partial_json,
        };
        field.as_ref().map(Text::as_str)
    }
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
        if let Some(fast) = FastEvent::parse(data) {
            // The hot path: parse without building a `Value` tree, borrowing strings
            // that have no escapes.
            if self.handle_fast(&fast, out) {
                self.last_event.clear();
                self.last_event.push_str(&fast.kind);
                return Ok(());
            }
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(_) if event.event == "error" => {
                // A gateway's plain-text error event: still an error, not a decode failure.
                self.last_event.clear();
                self.last_event.push_str("error");
                out.push(StreamEvent::Error(ApiError::classify(
                    None,
                    &Headers::new(),
                    None,
                    None,
                    data.as_bytes(),
                )));
                return Ok(());
            }
            Err(_) if !self.started && data.starts_with('<') => {
                return Err(DecodeError::NotAResponse {
                    start: lossy_start(data.as_bytes()),
                });
            }
            Err(error) => {
                return Err(DecodeError::InvalidJson {
                    event: event.event.clone(),
                    offset: event.offset,
                    error: error.to_string(),
                });
            }
        };
        let kind = match value["type"].as_str() {
            Some(kind) => kind.to_string(),
            None if event.event == "error" => "error".to_string(),
            None => {
                out.push(StreamEvent::Debug {
                    message: format!("skipped `{}` event whose data has no type", event.event),
                });
                return Ok(());
            }
        };
        self.handle(&kind, &value, data.as_bytes(), out);
        self.last_event = kind;
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if self.ended {
            return Ok(());
        }
        self.close_open_blocks(out);
        let last_event = if self.last_event.is_empty() {
            "none".to_string()
        } else {
            self.last_event.clone()
        };
        Err(DecodeError::Truncated { last_event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Origin, Reasoning, ToolCall};
    use crate::provider::{ErrorKind, MessageAssembler, StreamDecoder as _};
    use crate::tool::ToolSpec;

    fn endpoint(credential: Credential) -> Endpoint {
        Endpoint {
            base_url: "https://api.anthropic.com/".into(),
            credential: Some(credential),
            headers: Headers::new(),
            quirks: Default::default(),
        }
    }

    fn body_of(request: &Request) -> Value {
        serde_json::from_slice(&request.body).unwrap()
    }

    fn origin(model: &str) -> Origin {
        Origin {
            provider: "anthropic".into(),
            model: model.into(),
        }
    }

    fn tool(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: format!("{name} things"),
            input_schema: json!({"type": "object"}),
        }
    }

    fn call(id: &str, arguments: &str) -> Part {
        Part::ToolCall(ToolCall {
            id: id.into(),
            name: "read".into(),
            arguments: arguments.into(),
            item_id: None,
            signature: None,
            origin: origin("claude-x"),
        })
    }

    fn conversation() -> ChatRequest {
        ChatRequest {
            model: "claude-x".into(),
            system: Some("Be brief.".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    parts: vec![
                        Part::text("What is in a.txt and this picture?"),
                        Part::Image(Image::Base64 {
                            media_type: "image/png".into(),
                            data: "AAAA".into(),
                        }),
                        Part::Image(Image::Url {
                            url: "https://example.com/b.png".into(),
                        }),
                    ],
                },
                Message {
                    role: Role::Assistant,
                    parts: vec![
                        Part::text("Let me look."),
                        Part::Reasoning(Reasoning {
                            text: "read both".into(),
                            signature: Some("sig1".into()),
                            origin: origin("claude-x"),
                            ..Reasoning::default()
                        }),
                        Part::Reasoning(Reasoning {
                            redacted: Some("opaque".into()),
                            origin: origin("claude-x"),
                            ..Reasoning::default()
                        }),
                        Part::Reasoning(Reasoning {
                            text: "from another model".into(),
                            signature: Some("foreign".into()),
                            origin: origin("claude-other"),
                            ..Reasoning::default()
                        }),
                        Part::Reasoning(Reasoning {
                            text: "no signature".into(),
                            origin: origin("claude-x"),
                            ..Reasoning::default()
                        }),
                        call("toolu_1", r#"{"path":"a.txt"}"#),
                        call("call|weird id", "[1,2]"),
                    ],
                },
                Message {
                    role: Role::User,
                    parts: vec![
                        Part::text("Here you go."),
                        Part::ToolResult(ToolResult {
                            call_id: "toolu_1".into(),
                            name: "read".into(),
                            content: vec![
                                ToolOutput::Text {
                                    text: "line 1".into(),
                                },
                                ToolOutput::Text {
                                    text: "line 2".into(),
                                },
                            ],
                            is_error: false,
                        }),
                        Part::ToolResult(ToolResult {
                            call_id: "call|weird id".into(),
                            name: "read".into(),
                            content: vec![ToolOutput::Text {
                                text: "no such file".into(),
                            }],
                            is_error: true,
                        }),
                    ],
                },
            ],
            tools: vec![tool("read"), tool("write")],
            tool_choice: ToolChoice::Auto,
            max_output_tokens: Some(1000),
            temperature: Some(0.7),
            reasoning: None,
            stream: true,
            extra: Map::new(),
        }
    }

    #[test]
    fn builds_url_headers_and_body() {
        let request = build_request(
            &endpoint(Credential::ApiKey("sk-1".into())),
            &conversation(),
        );
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://api.anthropic.com/v1/messages");
        let headers: Vec<_> = request.headers.iter().collect();
        assert_eq!(
            headers,
            [
                ("content-type", "application/json"),
                ("anthropic-version", "2023-06-01"),
                ("x-api-key", "sk-1"),
                ("accept", "text/event-stream"),
            ]
        );
        let weird = wire_tool_id("call|weird id");
        assert_eq!(
            body_of(&request),
            json!({
                "model": "claude-x",
                "max_tokens": 1000,
                "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is in a.txt and this picture?"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/b.png"}},
                    ]},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "read both", "signature": "sig1"},
                        {"type": "redacted_thinking", "data": "opaque"},
                        {"type": "text", "text": "Let me look."},
                        {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"path": "a.txt"}},
                        {"type": "tool_use", "id": weird, "name": "read", "input": {}},
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "line 1\nline 2"},
                        {"type": "tool_result", "tool_use_id": weird, "content": "no such file", "is_error": true},
                        {"type": "text", "text": "Here you go.", "cache_control": {"type": "ephemeral"}},
                    ]},
                ],
                "tools": [
                    {"name": "read", "description": "read things", "input_schema": {"type": "object"}},
                    {"name": "write", "description": "write things", "input_schema": {"type": "object"},
                     "cache_control": {"type": "ephemeral"}},
                ],
                "tool_choice": {"type": "auto"},
                "temperature": 0.7,
                "stream": true,
            })
        );
    }

    #[test]
    fn trailing_v1_is_not_doubled_and_bearer_and_profile_headers_apply() {
        let mut endpoint = endpoint(Credential::Bearer("tok".into()));
        endpoint.base_url = "https://gateway.example/anthropic/v1/".into();
        endpoint.headers.push("anthropic-version", "2099-01-01");
        endpoint.headers.push("x-extra", "1");
        let mut chat = ChatRequest {
            model: "m".into(),
            messages: vec![Message::user("hi")],
            ..ChatRequest::default()
        };
        chat.extra.insert("max_tokens".into(), json!(5));
        chat.extra
            .insert("metadata".into(), json!({"user_id": "u"}));
        let request = build_request(&endpoint, &chat);
        assert_eq!(request.url, "https://gateway.example/anthropic/v1/messages");
        let headers: Vec<_> = request.headers.iter().collect();
        assert_eq!(
            headers,
            [
                ("content-type", "application/json"),
                ("authorization", "Bearer tok"),
                ("anthropic-version", "2099-01-01"),
                ("x-extra", "1"),
            ]
        );
        assert_eq!(
            body_of(&request),
            json!({
                "model": "m",
                "max_tokens": 5,
                "metadata": {"user_id": "u"},
                "messages": [{"role": "user", "content": [
                    {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
                ]}],
            }),
            "no system, tools, tool_choice or stream; extra overrides max_tokens"
        );
    }

    #[test]
    fn tool_choice_variants() {
        let choice = |tools: Vec<ToolSpec>, choice: ToolChoice| {
            let chat = ChatRequest {
                model: "m".into(),
                tools,
                tool_choice: choice,
                ..ChatRequest::default()
            };
            body_of(&build_request(&Endpoint::default(), &chat))
                .get("tool_choice")
                .cloned()
        };
        assert_eq!(choice(vec![], ToolChoice::Auto), None);
        assert_eq!(choice(vec![], ToolChoice::None), None);
        assert_eq!(
            choice(vec![tool("a")], ToolChoice::Auto),
            Some(json!({"type": "auto"}))
        );
        assert_eq!(
            choice(vec![tool("a")], ToolChoice::None),
            Some(json!({"type": "none"}))
        );
        assert_eq!(
            choice(vec![tool("a")], ToolChoice::Required),
            Some(json!({"type": "any"}))
        );
        assert_eq!(
            choice(vec![tool("a")], ToolChoice::Tool("a".into())),
            Some(json!({"type": "tool", "name": "a"}))
        );
    }

    #[test]
    fn thinking_sets_budget_drops_temperature_and_adds_beta_with_tools() {
        let mut chat = conversation();
        chat.max_output_tokens = None;
        chat.reasoning = Some(ReasoningConfig {
            effort: Effort::Medium,
            budget_tokens: None,
        });
        let request = build_request(&endpoint(Credential::ApiKey("k".into())), &chat);
        assert_eq!(
            request.headers.get("anthropic-beta"),
            Some(INTERLEAVED_THINKING_BETA)
        );
        let body = body_of(&request);
        assert_eq!(
            body["thinking"],
            json!({"type": "enabled", "budget_tokens": 8192})
        );
        assert_eq!(body["max_tokens"], json!(8192 + DEFAULT_MAX_TOKENS));
        assert!(body.get("temperature").is_none());

        chat.tools.clear();
        chat.tool_choice = ToolChoice::Auto;
        let request = build_request(&Endpoint::default(), &chat);
        assert!(
            !request.headers.contains("anthropic-beta"),
            "no tools, no beta"
        );
    }

    #[test]
    fn thinking_budget_fits_below_max_tokens() {
        let budget_and_max = |effort, budget_tokens, cap| {
            let chat = ChatRequest {
                model: "m".into(),
                max_output_tokens: cap,
                reasoning: Some(ReasoningConfig {
                    effort,
                    budget_tokens,
                }),
                ..ChatRequest::default()
            };
            let body = body_of(&build_request(&Endpoint::default(), &chat));
            (
                body["thinking"]["budget_tokens"].as_u64().unwrap(),
                body["max_tokens"].as_u64().unwrap(),
            )
        };
        assert_eq!(budget_and_max(Effort::Minimal, None, None), (1024, 9216));
        assert_eq!(
            budget_and_max(Effort::Low, None, Some(20_000)),
            (2048, 20_000)
        );
        assert_eq!(budget_and_max(Effort::High, None, Some(4000)), (3999, 4000));
        assert_eq!(
            budget_and_max(Effort::High, Some(10), Some(500)),
            (1024, 1025)
        );
        assert_eq!(
            budget_and_max(Effort::Low, Some(50_000), None),
            (50_000, 58_192)
        );
    }

    #[test]
    fn at_most_four_cache_breakpoints_and_never_on_reasoning() {
        let request = build_request(&Endpoint::default(), &conversation());
        let text = String::from_utf8(request.body).unwrap();
        assert_eq!(text.matches("cache_control").count(), 3);

        // Only an assistant message: no user block to mark, no system, no tools.
        let chat = ChatRequest {
            model: "claude-x".into(),
            system: Some(String::new()),
            messages: vec![Message {
                role: Role::Assistant,
                parts: vec![Part::Reasoning(Reasoning {
                    text: "t".into(),
                    signature: Some("s".into()),
                    origin: origin("claude-x"),
                    ..Reasoning::default()
                })],
            }],
            ..ChatRequest::default()
        };
        let text = String::from_utf8(build_request(&Endpoint::default(), &chat).body).unwrap();
        assert_eq!(text.matches("cache_control").count(), 0, "{text}");
    }

    #[test]
    fn newest_user_message_gets_the_breakpoint_and_empty_messages_are_skipped() {
        let chat = ChatRequest {
            model: "m".into(),
            messages: vec![
                Message::user("first"),
                Message::assistant("answer"),
                Message::user("second"),
                Message::user(""),
            ],
            ..ChatRequest::default()
        };
        let body = body_of(&build_request(&Endpoint::default(), &chat));
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "first"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "answer"}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "second", "cache_control": {"type": "ephemeral"}}
                ]},
            ])
        );
    }

    #[test]
    fn tool_results_with_images_become_block_arrays() {
        let result = ToolResult {
            call_id: "toolu_9".into(),
            name: "shot".into(),
            content: vec![
                ToolOutput::Text { text: "see".into() },
                ToolOutput::Text {
                    text: String::new(),
                },
                ToolOutput::Image(Image::Base64 {
                    media_type: "image/jpeg".into(),
                    data: "BBBB".into(),
                }),
            ],
            is_error: false,
        };
        assert_eq!(
            tool_result_block(&result),
            json!({"type": "tool_result", "tool_use_id": "toolu_9", "content": [
                {"type": "text", "text": "see"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"}},
            ]})
        );
        let empty = ToolResult {
            content: vec![],
            is_error: true,
            ..result
        };
        assert_eq!(
            tool_result_block(&empty),
            json!({"type": "tool_result", "tool_use_id": "toolu_9", "is_error": true})
        );
    }

    #[test]
    fn tool_ids_are_sanitised_deterministically() {
        assert_eq!(wire_tool_id("toolu_01AbC-x"), "toolu_01AbC-x");
        let a = wire_tool_id("call_abc|fc_def+/=");
        assert!(a.starts_with("call_abcfc_def_"), "{a}");
        assert_eq!(a, wire_tool_id("call_abc|fc_def+/="));
        assert_ne!(
            a,
            wire_tool_id("call_abc|fc_def+/+"),
            "hash keeps ids apart"
        );
        let long = wire_tool_id(&"x".repeat(400));
        assert_eq!(long.len(), MAX_TOOL_ID_LEN);
        for id in [a, long, wire_tool_id(""), wire_tool_id("ünïcode id")] {
            assert!(!id.is_empty() && id.len() <= MAX_TOOL_ID_LEN, "{id}");
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        }
    }

    // ---- stream decoding ----

    fn event(data: &str) -> sse::Event {
        sse::Event {
            event: "message".into(),
            data: data.into(),
            id: String::new(),
            offset: 0,
        }
    }

    fn decode(lines: &[&str]) -> Vec<StreamEvent> {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        for line in lines {
            decoder.decode(&event(line), &mut out).unwrap();
        }
        out
    }

    const START: &str = r#"{"type":"message_start","message":{"id":"msg_1","model":"claude-x","usage":{"input_tokens":10,"output_tokens":1}}}"#;
    const STOP: &str = r#"{"type":"message_stop"}"#;

    fn usage(input: u64, output: u64, read: u64, write: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: read,
            cache_write_tokens: write,
            reasoning_tokens: 0,
        }
    }

    #[test]
    fn text_stream() {
        let out = decode(&[
            START,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}"#,
            STOP,
        ]);
        assert_eq!(
            out,
            vec![
                StreamEvent::Start {
                    id: Some("msg_1".into()),
                    model: Some("claude-x".into())
                },
                StreamEvent::Usage(usage(10, 1, 0, 0)),
                StreamEvent::TextDelta {
                    part: 0,
                    text: "Hel".into()
                },
                StreamEvent::TextDelta {
                    part: 0,
                    text: "lo".into()
                },
                StreamEvent::Usage(usage(10, 7, 0, 0)),
                StreamEvent::Stop {
                    reason: StopReason::EndTurn,
                    sequence: None
                },
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn thinking_and_redacted_thinking_keep_their_opaque_data() {
        let out = decode(&[
            START,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"SIG=="}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"ENC"}}"#,
            r#"{"type":"content_block_stop","index":1}"#,
            STOP,
        ]);
        assert_eq!(
            out[2..],
            [
                StreamEvent::ReasoningDelta {
                    part: 0,
                    text: "hmm".into()
                },
                reasoning_end(0, Some("SIG=="), None),
                reasoning_end(1, None, Some("ENC")),
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn tool_arguments_split_anywhere_reassemble_exactly() {
        let arguments = r#"{"path": "a \"b\"\\c\u00e9\n", "n": [1, 2]}"#;
        for cut in 0..=arguments.len() {
            let (a, b) = arguments.split_at(cut);
            let delta = |s: &str| {
                json!({"type": "content_block_delta", "index": 3,
                       "delta": {"type": "input_json_delta", "partial_json": s}})
                .to_string()
            };
            let out = decode(&[
                START,
                r#"{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_1","name":"read","input":{}}}"#,
                &delta(""),
                &delta(a),
                &delta(b),
                r#"{"type":"content_block_stop","index":3}"#,
                STOP,
            ]);
            assert_eq!(
                out[2],
                StreamEvent::ToolCallStart {
                    part: 0,
                    id: "toolu_1".into(),
                    name: "read".into(),
                    item_id: None
                }
            );
            let deltas = out
                .iter()
                .filter(|e| matches!(e, StreamEvent::ToolCallDelta { .. }))
                .count();
            assert_eq!(deltas, [a, b].iter().filter(|s| !s.is_empty()).count());
            let end = out
                .iter()
                .find_map(|e| match e {
                    StreamEvent::ToolCallEnd { part: 0, arguments } => Some(arguments.clone()),
                    _ => None,
                })
                .unwrap();
            assert_eq!(end, arguments);
        }
    }

    #[test]
    fn tool_without_arguments_ends_with_empty_text() {
        let out = decode(&[
            START,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
        ]);
        assert_eq!(
            out.last(),
            Some(&StreamEvent::ToolCallEnd {
                part: 0,
                arguments: String::new()
            })
        );
    }

    #[test]
    fn usage_keeps_last_non_null_counters() {
        let out = decode(&[
            r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":5,"cache_creation_input_tokens":100,"cache_read_input_tokens":200,"output_tokens":1}}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":null},"usage":{"input_tokens":null,"output_tokens":30,"output_tokens_details":{"thinking_tokens":12}}}"#,
            r#"{"type":"message_delta","delta":{},"usage":{"input_tokens":7,"cache_read_input_tokens":250,"output_tokens":31}}"#,
        ]);
        let usages: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Usage(u) => Some(*u),
                _ => None,
            })
            .collect();
        assert_eq!(
            usages,
            [
                usage(5, 1, 200, 100),
                Usage {
                    reasoning_tokens: 12,
                    ..usage(5, 30, 200, 100)
                },
                Usage {
                    reasoning_tokens: 12,
                    ..usage(7, 31, 250, 100)
                },
            ]
        );
        assert!(
            !out.iter().any(|e| matches!(e, StreamEvent::Stop { .. })),
            "a null stop_reason is no stop"
        );
    }

    #[test]
    fn every_stop_reason_maps() {
        for (word, reason) in [
            ("end_turn", StopReason::EndTurn),
            ("max_tokens", StopReason::MaxTokens),
            ("stop_sequence", StopReason::StopSequence),
            ("tool_use", StopReason::ToolUse),
            ("pause_turn", StopReason::PauseTurn),
            ("refusal", StopReason::Refusal),
            (
                "model_context_window_exceeded",
                StopReason::ContextWindowExceeded,
            ),
            ("brand_new", StopReason::Other("brand_new".into())),
        ] {
            let sequence = (word == "stop_sequence").then(|| "```".to_string());
            let data = json!({"type": "message_delta",
                "delta": {"stop_reason": word, "stop_sequence": sequence}});
            let out = decode(&[&data.to_string()]);
            assert_eq!(out, [StreamEvent::Stop { reason, sequence }], "{word}");
        }
    }

    #[test]
    fn error_event_is_reported_and_decoding_goes_on() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        decoder.decode(&event(START), &mut out).unwrap();
        let error = sse::Event {
            event: "error".into(),
            ..event(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            )
        };
        decoder.decode(&error, &mut out).unwrap();
        decoder.decode(&event(STOP), &mut out).unwrap();
        let StreamEvent::Error(e) = &out[2] else {
            panic!("expected an error, got {out:?}");
        };
        assert_eq!(e.kind, ErrorKind::Overloaded);
        assert!(e.retryable);
        assert_eq!(e.status, None);
        assert_eq!(e.code.as_deref(), Some("overloaded_error"));
        assert_eq!(e.message, "Overloaded");
        assert_eq!(out[3], StreamEvent::End);
        assert!(decoder.finish(&mut out).is_ok());
    }

    #[test]
    fn error_event_without_type_or_json_still_is_an_error() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        for data in [
            r#"{"error":{"type":"api_error","message":"boom"}}"#,
            "upstream connect error",
        ] {
            let e = sse::Event {
                event: "error".into(),
                ..event(data)
            };
            decoder.decode(&e, &mut out).unwrap();
        }
        let messages: Vec<_> = out
            .iter()
            .map(|e| match e {
                StreamEvent::Error(e) => (e.kind, e.message.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            messages,
            [
                (ErrorKind::Server, "boom".to_string()),
                (ErrorKind::Server, "upstream connect error".to_string())
            ]
        );
    }

    #[test]
    fn events_after_end_and_unknown_events_give_debug() {
        let out = decode(&[
            START,
            r#"{"type":"brand_new_event","x":1}"#,
            r#"{"no_type":true}"#,
            STOP,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}"#,
        ]);
        assert!(
            matches!(&out[2], StreamEvent::Debug { message } if message.contains("brand_new_event"))
        );
        assert!(matches!(&out[3], StreamEvent::Debug { .. }));
        assert_eq!(out[4], StreamEvent::End);
        assert!(
            matches!(&out[5], StreamEvent::Debug { message } if message.contains("after message_stop"))
        );
        assert_eq!(out.len(), 6);
    }

    #[test]
    fn server_tool_blocks_are_not_tool_calls() {
        let out = decode(&[
            START,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"query\":\"x\"}"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]}}"#,
            r#"{"type":"content_block_stop","index":1}"#,
            r#"{"type":"content_block_start","index":2,"content_block":{"citations":[],"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location"}}}"#,
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"cited"}}"#,
            r#"{"type":"content_block_stop","index":2}"#,
            STOP,
        ]);
        assert!(!out.iter().any(|e| matches!(
            e,
            StreamEvent::ToolCallStart { .. }
                | StreamEvent::ToolCallDelta { .. }
                | StreamEvent::ToolCallEnd { .. }
        )));
        let debugs = out
            .iter()
            .filter(|e| matches!(e, StreamEvent::Debug { .. }))
            .count();
        assert_eq!(debugs, 3, "two skipped blocks and one citation: {out:?}");
        assert!(out.contains(&StreamEvent::TextDelta {
            part: 0,
            text: "cited".into()
        }));
    }

    #[test]
    fn truncated_stream_ends_open_calls_then_reports() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        for line in [
            START,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\": "}}"#,
        ] {
            decoder.decode(&event(line), &mut out).unwrap();
        }
        out.clear();
        assert_eq!(
            decoder.finish(&mut out),
            Err(DecodeError::Truncated {
                last_event: "content_block_delta".into()
            })
        );
        assert_eq!(
            out,
            [StreamEvent::ToolCallEnd {
                part: 0,
                arguments: "{\"a\": ".into()
            }]
        );
        assert_eq!(
            StreamDecoder::new().finish(&mut out),
            Err(DecodeError::Truncated {
                last_event: "none".into()
            })
        );
    }

    #[test]
    fn malformed_json_is_an_error_for_that_event_only() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        decoder.decode(&event(START), &mut out).unwrap();
        let bad = sse::Event {
            event: "content_block_delta".into(),
            offset: 321,
            ..event(r#"{"type":"content_block_delta","index":0,"#)
        };
        match decoder.decode(&bad, &mut out) {
            Err(DecodeError::InvalidJson { event, offset, .. }) => {
                assert_eq!((event.as_str(), offset), ("content_block_delta", 321));
            }
            other => panic!("{other:?}"),
        }
        decoder
            .decode(
                &event(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}"#),
                &mut out,
            )
            .unwrap();
        decoder.decode(&event("   "), &mut out).unwrap();
        decoder.decode(&event(STOP), &mut out).unwrap();
        assert_eq!(
            out[2..],
            [
                StreamEvent::TextDelta {
                    part: 0,
                    text: "ok".into()
                },
                StreamEvent::End
            ]
        );
    }

    #[test]
    fn out_of_order_events_are_recovered() {
        let out = decode(&[
            START,
            // A delta for a block that never started: the part is created.
            r#"{"type":"content_block_delta","index":7,"delta":{"type":"text_delta","text":"a"}}"#,
            // A stop for a block nobody knows: skipped.
            r#"{"type":"content_block_stop","index":99}"#,
            r#"{"type":"content_block_delta","index":8,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
            r#"{"type":"content_block_stop","index":7}"#,
            r#"{"type":"content_block_delta","index":7,"delta":{"type":"text_delta","text":"late"}}"#,
            r#"{"type":"content_block_delta","index":8,"delta":{"type":"text_delta","text":"wrong kind"}}"#,
            r#"{"type":"content_block_stop"}"#,
            r#"{"type":"message_start","message":{"id":"again"}}"#,
            STOP,
        ]);
        let mut assembler = MessageAssembler::new(Origin::default());
        for e in &out {
            assembler.push(e);
        }
        let done = assembler.finish();
        assert_eq!(done.message.text(), "a");
        assert_eq!(done.message.tool_calls().next().unwrap().arguments, "{}");
        assert_eq!(done.id.as_deref(), Some("msg_1"));
        assert!(done.complete);
        let debugs = out
            .iter()
            .filter(|e| matches!(e, StreamEvent::Debug { .. }))
            .count();
        assert_eq!(debugs, 5, "{out:?}");
    }

    #[test]
    fn html_instead_of_sse_is_not_a_response() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        let page = event("<html><body>502 Bad Gateway</body></html>");
        assert!(matches!(
            decoder.decode(&page, &mut out),
            Err(DecodeError::NotAResponse { start }) if start.contains("502")
        ));
        assert!(out.is_empty());
        assert!(matches!(
            decoder.finish(&mut out),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn replacement_characters_from_the_sse_layer_pass_through() {
        // The SSE parser turns invalid UTF-8 into U+FFFD; the decoder keeps it as text.
        let out = decode(&[
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\uFFFDb"}}"#,
        ]);
        assert_eq!(
            out,
            [StreamEvent::TextDelta {
                part: 0,
                text: "a\u{FFFD}b".into()
            }]
        );
    }

    #[test]
    fn wrong_types_and_huge_values_do_not_panic() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        for data in [
            r#"{"type":"message_start","message":"not an object"}"#,
            r#"{"type":"message_start","message":{"usage":{"input_tokens":-1,"output_tokens":1.5}}}"#,
            r#"{"type":"content_block_start","index":"0","content_block":{"type":"text"}}"#,
            r#"{"type":"content_block_start","index":18446744073709551615,"content_block":{"type":"tool_use","id":7,"name":null,"input":[1]}}"#,
            r#"{"type":"content_block_delta","index":18446744073709551615,"delta":{"type":"input_json_delta","partial_json":5}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":null}"#,
            r#"{"type":"content_block_stop","index":-3}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":42},"usage":{"output_tokens":18446744073709551615}}"#,
            r#"{"type":"error","error":"just a string"}"#,
            r#"[1,2,3]"#,
            r#""a string""#,
            r#"{"type":7}"#,
        ] {
            let _ = decoder.decode(&event(data), &mut out);
        }
        let _ = decoder.finish(&mut out);
        assert!(out.contains(&StreamEvent::ToolCallEnd {
            part: 0,
            arguments: String::new()
        }));
        assert!(out.iter().any(|e| matches!(
            e,
            StreamEvent::Usage(u) if u.output_tokens == u64::MAX
        )));
    }

    // ---- whole bodies and errors ----

    #[test]
    fn decode_body_gives_the_stream_events() {
        let body = json!({
            "id": "msg_2", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hm", "signature": "S"},
                {"type": "redacted_thinking", "data": "R"},
                {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}},
                {"type": "text", "text": "Hi"},
                {"type": "tool_use", "id": "toolu_2", "name": "read", "input": {"path": "a"}},
            ],
            "stop_reason": "stop_sequence", "stop_sequence": "END",
            "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 5,
                      "cache_creation_input_tokens": 6}
        });
        let events = decode_body(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            events,
            [
                StreamEvent::Start {
                    id: Some("msg_2".into()),
                    model: Some("claude-x".into())
                },
                StreamEvent::ReasoningDelta {
                    part: 0,
                    text: "hm".into()
                },
                reasoning_end(0, Some("S"), None),
                reasoning_end(1, None, Some("R")),
                StreamEvent::Debug {
                    message: "skipped content block `server_tool_use`".into()
                },
                StreamEvent::TextDelta {
                    part: 2,
                    text: "Hi".into()
                },
                StreamEvent::ToolCallStart {
                    part: 3,
                    id: "toolu_2".into(),
                    name: "read".into(),
                    item_id: None
                },
                StreamEvent::ToolCallEnd {
                    part: 3,
                    arguments: r#"{"path":"a"}"#.into()
                },
                StreamEvent::Usage(usage(3, 4, 5, 6)),
                StreamEvent::Stop {
                    reason: StopReason::StopSequence,
                    sequence: Some("END".into())
                },
                StreamEvent::End,
            ]
        );
    }

    #[test]
    fn decode_body_errors() {
        let events = decode_body(
            br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
        )
        .unwrap();
        assert!(matches!(
            &events[..],
            [StreamEvent::Error(e)] if e.kind == ErrorKind::RateLimited && e.message == "slow down"
        ));
        assert!(matches!(
            decode_body(b"<html>oops</html>"),
            Err(DecodeError::NotAResponse { start }) if start == "<html>oops</html>"
        ));
        assert_eq!(
            decode_body(b"{}"),
            Err(DecodeError::MissingField {
                event: "message".into(),
                field: "content"
            })
        );
    }

    #[test]
    fn classify_error_reads_the_body_and_falls_back_to_status() {
        let body = br#"{"type":"error","error":{"type":"not_found_error","message":"model: nope"},"request_id":"req_body"}"#;
        let e = classify_error(404, &Headers::new(), body);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.code.as_deref(), Some("not_found_error"));
        assert_eq!(e.message, "model: nope");
        assert_eq!(e.request_id.as_deref(), Some("req_body"));

        let headers: Headers = [("request-id", "req_header"), ("retry-after", "3")]
            .into_iter()
            .collect();
        let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_body"}"#;
        let e = classify_error(529, &headers, body);
        assert_eq!(e.kind, ErrorKind::Overloaded);
        assert!(e.retryable);
        assert_eq!(e.retry_after_ms, Some(3000));
        assert_eq!(e.request_id.as_deref(), Some("req_header"));

        let html = b"<html><head><title>413 Request Entity Too Large</title></head></html>";
        let e = classify_error(413, &Headers::new(), html);
        assert_eq!(e.kind, ErrorKind::RequestTooLarge);
        assert_eq!(e.code, None);
        assert_eq!(e.message, "413 Request Entity Too Large");
        assert!(!e.retryable);
    }

    /// Feeds `lines` to two decoders, one as `decode` does (the typed fast path where it
    /// takes the event) and one always through the `Value` path; returns both event lists
    /// and whether each event took the fast path.
    fn both_paths(lines: &[&str]) -> (Vec<StreamEvent>, Vec<StreamEvent>, Vec<bool>) {
        let mut typed = StreamDecoder::new();
        let mut general = StreamDecoder::new();
        let (mut typed_out, mut general_out, mut fast) = (Vec::new(), Vec::new(), Vec::new());
        for data in lines {
            let value: Value = serde_json::from_str(data).unwrap();
            let kind = value["type"].as_str().unwrap_or("").to_string();
            let took_fast =
                FastEvent::parse(data).is_some_and(|e| typed.handle_fast(&e, &mut typed_out));
            if !took_fast {
                typed.handle(&kind, &value, data.as_bytes(), &mut typed_out);
            }
            fast.push(took_fast);
            general.handle(&kind, &value, data.as_bytes(), &mut general_out);
        }
        (typed_out, general_out, fast)
    }

    #[test]
    fn fast_path_gives_the_events_of_the_value_path() {
        let lines = [
            r#"{"type":"message_start","message":{"id":"msg_1","model":"claude","usage":{"input_tokens":7,"cache_read_input_tokens":3}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"a\nb"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"Hi"}}"#,
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"redacted_thinking","data":"opaque"}}"#,
            r#"{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}"#,
            r#"{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#,
            r#"{"type":"message_start","message":{"id":"msg_2"}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":9,"output_tokens_details":{"thinking_tokens":4}}}"#,
            r#"{"type":"message_stop"}"#,
        ];
        let (typed, general, fast) = both_paths(&lines);
        assert!(fast.iter().all(|f| *f), "{fast:?}");
        assert_eq!(typed, general);
        assert!(typed.contains(&StreamEvent::ToolCallEnd {
            part: 3,
            arguments: "{\"a\":1}".into()
        }));
    }

    #[test]
    fn unusual_shapes_take_the_value_path() {
        let lines = [
            // A start with a filled-in tool input, a block type cm does not model, a
            // second start for an open block, an index that is not an unsigned integer, a
            // delta in array form, usage in array form, a duplicate key.
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{"b":1,"a":2}}}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use","id":"s"}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text"}}"#,
            r#"{"type":"content_block_stop","index":"0"}"#,
            r#"{"type":"content_block_delta","index":0,"delta":["input_json_delta","x"]}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":[1,2]}"#,
            r#"{"type":"message_start","message":{"id":"a","id":"b"}}"#,
            r#"["content_block_stop",0]"#,
        ];
        let (typed, general, fast) = both_paths(&lines);
        assert!(fast.iter().all(|f| !*f), "{fast:?}");
        assert_eq!(typed, general);
        assert!(typed.contains(&StreamEvent::Debug {
            message: "skipped content block `server_tool_use`".into()
        }));
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        decoder.decode(&event(lines[0]), &mut out).unwrap();
        let _ = decoder.finish(&mut out);
        assert_eq!(
            out.last(),
            Some(&StreamEvent::ToolCallEnd {
                part: 0,
                arguments: r#"{"a":2,"b":1}"#.into()
            })
        );
    }
}
