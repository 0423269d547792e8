//! What a fixture says, found by a plain scan of its JSON with `serde_json::Value`.
//!
//! This is deliberately NOT the decoders' code: each function walks the payloads the way
//! a person reading the recording would, so the golden files cannot simply bless whatever
//! a decoder happens to produce. Streams are scanned up to the provider's terminal event
//! (the decoders ignore what follows it); text keys and tool-call keys are listed in order
//! of first appearance, which is how the unified `part` indices are defined.

use cm_proto::message::Usage;
use cm_proto::sse;
use serde_json::Value;

/// What the scan expects the assembled message to hold.
#[derive(Debug, Default)]
pub struct Expected {
    /// The text of each text part, in order, empty ones dropped.
    pub texts: Vec<String>,
    /// The tool calls, in order.
    pub tool_calls: Vec<ExpectedCall>,
    /// The last usage the response reports, normalised to cm's rule.
    pub usage: Option<Usage>,
    /// cm's name of the stop reason and the matched stop sequence.
    pub stop: Option<(String, Option<String>)>,
    /// The message of the last error the response reports.
    pub error: Option<String>,
    /// The text of each reasoning part, in order, empty ones dropped; `None` where the
    /// scan of this format does not look at reasoning.
    pub reasoning: Option<Vec<String>>,
}

/// One tool call as the fixture has it.
#[derive(Debug, Default, Clone)]
pub struct ExpectedCall {
    /// The call id.
    pub id: String,
    /// The tool name.
    pub name: String,
    /// The argument text as sent (concatenated fragments or the final text).
    pub arguments: String,
}

/// Text and tool-call accumulators keyed by the provider's own indices.
#[derive(Default)]
struct Keyed {
    texts: Vec<(String, String)>,
    calls: Vec<(String, ExpectedCall)>,
    reasoning: Vec<(String, String)>,
}

impl Keyed {
    fn text(&mut self, key: String, fragment: &str) {
        match self.texts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, text)) => text.push_str(fragment),
            None => self.texts.push((key, fragment.to_string())),
        }
    }

    fn reasoning(&mut self, key: String, fragment: &str) {
        match self.reasoning.iter_mut().find(|(k, _)| *k == key) {
            Some((_, text)) => text.push_str(fragment),
            None => self.reasoning.push((key, fragment.to_string())),
        }
    }

    fn call(&mut self, key: String) -> &mut ExpectedCall {
        let at = match self.calls.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.calls.push((key, ExpectedCall::default()));
                self.calls.len() - 1
            }
        };
        &mut self.calls[at].1
    }

    fn into_expected(self, expected: &mut Expected) {
        expected.texts = self
            .texts
            .into_iter()
            .map(|(_, text)| text)
            .filter(|text| !text.is_empty())
            .collect();
        expected.tool_calls = self.calls.into_iter().map(|(_, call)| call).collect();
    }

    /// Like [`Keyed::into_expected`], and the reasoning too, for scans that collect it.
    fn into_expected_with_reasoning(mut self, expected: &mut Expected) {
        let reasoning = std::mem::take(&mut self.reasoning);
        expected.reasoning = Some(
            reasoning
                .into_iter()
                .map(|(_, text)| text)
                .filter(|text| !text.is_empty())
                .collect(),
        );
        self.into_expected(expected);
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn u64_at(value: &Value, pointer: &str) -> Option<u64> {
    value.pointer(pointer).and_then(Value::as_u64)
}

/// The JSON payloads of a stream; events whose data is not JSON (`[DONE]`) are skipped.
fn payloads(events: &[sse::Event]) -> impl Iterator<Item = (&sse::Event, Value)> {
    events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok().map(|v| (e, v)))
}

/// The message of an OpenAI- or Anthropic-style error object (`{"error": {"message"}}`).
pub fn error_message(body: &Value) -> Option<String> {
    str_at(body, "/error/message")
        .or_else(|| str_at(body, "/message").filter(|_| body.get("error").is_some()))
        .map(|m| m.trim().to_string())
}

// ---------------------------------------------------------------------------------------
// Anthropic Messages

/// Anthropic's stop reasons in cm's words.
fn anthropic_stop(reason: &str) -> String {
    match reason {
        "model_context_window_exceeded" => "context_window_exceeded",
        other => other,
    }
    .to_string()
}

/// Anthropic usage counters, merged: the last non-null value of each wins.
#[derive(Default)]
struct AnthropicUsage {
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    thinking: Option<u64>,
    seen: bool,
}

impl AnthropicUsage {
    fn merge(&mut self, usage: &Value) {
        if !usage.is_object() {
            return;
        }
        self.seen = true;
        let keep = |slot: &mut Option<u64>, pointer: &str| {
            if let Some(n) = u64_at(usage, pointer) {
                *slot = Some(n);
            }
        };
        keep(&mut self.input, "/input_tokens");
        keep(&mut self.output, "/output_tokens");
        keep(&mut self.cache_read, "/cache_read_input_tokens");
        keep(&mut self.cache_write, "/cache_creation_input_tokens");
        keep(&mut self.thinking, "/output_tokens_details/thinking_tokens");
    }

    /// Anthropic's `input_tokens` already excludes the cache, as cm's does.
    fn usage(&self) -> Option<Usage> {
        self.seen.then(|| Usage {
            input_tokens: self.input.unwrap_or(0),
            output_tokens: self.output.unwrap_or(0),
            cache_read_tokens: self.cache_read.unwrap_or(0),
            cache_write_tokens: self.cache_write.unwrap_or(0),
            reasoning_tokens: self.thinking.unwrap_or(0),
        })
    }
}

/// Scans an Anthropic Messages stream up to `message_stop`.
pub fn anthropic_stream(events: &[sse::Event]) -> Expected {
    let mut expected = Expected::default();
    let mut keyed = Keyed::default();
    let mut usage = AnthropicUsage::default();
    // Tool-use blocks by index: whether any `partial_json` came, and the start's `input`.
    let mut tool_blocks: Vec<(String, bool, Value)> = Vec::new();
    for (event, payload) in payloads(events) {
        let kind = str_at(&payload, "/type").unwrap_or_default();
        let index = payload
            .get("index")
            .map(Value::to_string)
            .unwrap_or_default();
        match kind {
            "message_start" => usage.merge(&payload["message"]["usage"]),
            "content_block_start"
                if str_at(&payload, "/content_block/type") == Some("tool_use") =>
            {
                let block = &payload["content_block"];
                let call = keyed.call(index.clone());
                call.id = str_at(block, "/id").unwrap_or_default().to_string();
                call.name = str_at(block, "/name").unwrap_or_default().to_string();
                tool_blocks.push((index, false, block["input"].clone()));
            }
            "content_block_delta" => match str_at(&payload, "/delta/type") {
                Some("text_delta") => {
                    keyed.text(index, str_at(&payload, "/delta/text").unwrap_or_default())
                }
                Some("input_json_delta") => {
                    if let Some(block) = tool_blocks.iter_mut().find(|(k, ..)| *k == index) {
                        block.1 = true;
                        let fragment = str_at(&payload, "/delta/partial_json").unwrap_or_default();
                        keyed.call(index).arguments.push_str(fragment);
                    }
                }
                _ => {}
            },
            "message_delta" => {
                usage.merge(&payload["usage"]);
                if let Some(reason) = str_at(&payload, "/delta/stop_reason") {
                    let sequence = str_at(&payload, "/delta/stop_sequence").map(str::to_string);
                    expected.stop = Some((anthropic_stop(reason), sequence));
                }
            }
            "error" => expected.error = error_message(&payload),
            _ if event.event == "error" => expected.error = error_message(&payload),
            _ => {}
        }
        if kind == "message_stop" {
            break;
        }
    }
    // A block that streamed no JSON at all has its arguments in the start's `input`.
    for (index, streamed, input) in tool_blocks {
        if !streamed && input.as_object().is_some_and(|o| !o.is_empty()) {
            keyed.call(index).arguments = input.to_string();
        }
    }
    keyed.into_expected(&mut expected);
    expected.usage = usage.usage();
    expected
}

/// Scans a non-streaming Anthropic Messages body.
pub fn anthropic_body(body: &Value) -> Expected {
    let mut expected = Expected {
        error: error_message(body),
        ..Expected::default()
    };
    let mut keyed = Keyed::default();
    for (i, block) in body["content"].as_array().into_iter().flatten().enumerate() {
        match str_at(block, "/type") {
            Some("text") => keyed.text(i.to_string(), str_at(block, "/text").unwrap_or_default()),
            Some("tool_use") => {
                let call = keyed.call(i.to_string());
                call.id = str_at(block, "/id").unwrap_or_default().to_string();
                call.name = str_at(block, "/name").unwrap_or_default().to_string();
                call.arguments = block["input"].to_string();
            }
            _ => {}
        }
    }
    keyed.into_expected(&mut expected);
    let mut usage = AnthropicUsage::default();
    usage.merge(&body["usage"]);
    expected.usage = usage.usage();
    if let Some(reason) = str_at(body, "/stop_reason") {
        let sequence = str_at(body, "/stop_sequence").map(str::to_string);
        expected.stop = Some((anthropic_stop(reason), sequence));
    }
    expected
}

// ---------------------------------------------------------------------------------------
// OpenAI Chat Completions

/// Chat `finish_reason`s in cm's words; a choice that answered with a refusal and then
/// stopped normally stopped by refusing (as in the Responses API).
fn chat_stop(reason: &str, refused: bool) -> String {
    match reason {
        "stop" if refused => "refusal",
        "stop" => "end_turn",
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "content_filter",
        other => other,
    }
    .to_string()
}

/// A Chat `usage` object in cm's terms: cached prompt tokens are not `input_tokens`, and
/// reasoning is part of `output_tokens`. Most servers count reasoning inside
/// `completion_tokens`; xAI leaves it out, which its `total_tokens` shows
/// (prompt + completion + reasoning = total), and then it is added back.
fn chat_usage(usage: &Value) -> Usage {
    let prompt = u64_at(usage, "/prompt_tokens").unwrap_or(0);
    let cached = u64_at(usage, "/prompt_tokens_details/cached_tokens")
        .or_else(|| u64_at(usage, "/prompt_cache_hit_tokens"))
        .unwrap_or(0);
    let written = u64_at(usage, "/prompt_tokens_details/cache_write_tokens").unwrap_or(0);
    let completion = u64_at(usage, "/completion_tokens").unwrap_or(0);
    let reasoning = u64_at(usage, "/completion_tokens_details/reasoning_tokens").unwrap_or(0);
    let reasoning_left_out =
        reasoning > 0 && u64_at(usage, "/total_tokens") == Some(prompt + completion + reasoning);
    Usage {
        input_tokens: prompt.saturating_sub(cached).saturating_sub(written),
        output_tokens: if reasoning_left_out {
            completion + reasoning
        } else {
            completion
        },
        cache_read_tokens: cached,
        cache_write_tokens: written,
        reasoning_tokens: reasoning,
    }
}

/// Scans an OpenAI Chat Completions stream up to `[DONE]`.
///
/// A refusal (`delta.refusal`) is answer text, as cm shows it. Reasoning is the first
/// non-empty of `reasoning_content`, `reasoning` and `reasoning_text` (the servers
/// compatible with Chat each use one), plus Mistral's `thinking` chunks.
pub fn chat_stream(events: &[sse::Event]) -> Expected {
    let mut expected = Expected::default();
    let mut keyed = Keyed::default();
    let mut refused: Vec<String> = Vec::new();
    for event in events {
        if event.data.trim() == "[DONE]" {
            break;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        if chunk.get("error").is_some_and(Value::is_object) {
            expected.error = error_message(&chunk);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            expected.usage = Some(chat_usage(usage));
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let c = choice
                .get("index")
                .map(Value::to_string)
                .unwrap_or_default();
            let delta = &choice["delta"];
            if let Some(reasoning) = ["/reasoning_content", "/reasoning", "/reasoning_text"]
                .iter()
                .find_map(|key| str_at(delta, key).filter(|r| !r.is_empty()))
            {
                keyed.reasoning(c.clone(), reasoning);
            }
            match &delta["content"] {
                Value::String(text) => keyed.text(c.clone(), text),
                // Mistral sends content as an array of typed chunks.
                Value::Array(items) => {
                    for item in items {
                        match str_at(item, "/type") {
                            Some("text") => {
                                keyed.text(c.clone(), str_at(item, "/text").unwrap_or_default());
                            }
                            Some("thinking") => {
                                for piece in item["thinking"].as_array().into_iter().flatten() {
                                    let text = str_at(piece, "/text").unwrap_or_default();
                                    keyed.reasoning(c.clone(), text);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
            if let Some(refusal) = str_at(delta, "/refusal").filter(|r| !r.is_empty()) {
                refused.push(c.clone());
                keyed.text(c.clone(), refusal);
            }
            for (position, call) in delta["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let t = match call.get("index") {
                    Some(index) => index.to_string(),
                    None => format!("position {position} of chunk {}", event.offset),
                };
                let entry = keyed.call(format!("{c}/{t}"));
                if let Some(id) = str_at(call, "/id").filter(|id| !id.is_empty()) {
                    entry.id = id.to_string();
                }
                if let Some(name) = str_at(call, "/function/name").filter(|n| !n.is_empty()) {
                    entry.name = name.to_string();
                }
                if let Some(fragment) = str_at(call, "/function/arguments") {
                    entry.arguments.push_str(fragment);
                }
            }
            if let Some(reason) = str_at(choice, "/finish_reason") {
                expected.stop = Some((chat_stop(reason, refused.contains(&c)), None));
            }
        }
    }
    keyed.into_expected_with_reasoning(&mut expected);
    expected
}

/// Scans a non-streaming OpenAI Chat Completions body.
pub fn chat_body(body: &Value) -> Expected {
    let mut expected = Expected {
        error: error_message(body),
        usage: body.get("usage").filter(|u| u.is_object()).map(chat_usage),
        ..Expected::default()
    };
    let mut keyed = Keyed::default();
    for choice in body["choices"].as_array().into_iter().flatten() {
        let c = choice
            .get("index")
            .map(Value::to_string)
            .unwrap_or_default();
        let message = &choice["message"];
        if let Some(text) = str_at(message, "/content") {
            keyed.text(c.clone(), text);
        }
        let refusal = str_at(message, "/refusal").filter(|r| !r.is_empty());
        if let Some(refusal) = refusal {
            keyed.text(c.clone(), refusal);
        }
        for (t, call) in message["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let entry = keyed.call(format!("{c}/{t}"));
            entry.id = str_at(call, "/id").unwrap_or_default().to_string();
            entry.name = str_at(call, "/function/name")
                .unwrap_or_default()
                .to_string();
            entry.arguments = str_at(call, "/function/arguments")
                .unwrap_or_default()
                .to_string();
        }
        if let Some(reason) = str_at(choice, "/finish_reason") {
            expected.stop = Some((chat_stop(reason, refusal.is_some()), None));
        }
    }
    keyed.into_expected(&mut expected);
    expected
}

// ---------------------------------------------------------------------------------------
// OpenAI Responses

/// A Responses `usage` object in cm's terms: cached input tokens are not `input_tokens`.
fn responses_usage(usage: &Value) -> Usage {
    let input = u64_at(usage, "/input_tokens").unwrap_or(0);
    let cached = u64_at(usage, "/input_tokens_details/cached_tokens").unwrap_or(0);
    Usage {
        input_tokens: input.saturating_sub(cached),
        output_tokens: u64_at(usage, "/output_tokens").unwrap_or(0),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
        reasoning_tokens: u64_at(usage, "/output_tokens_details/reasoning_tokens").unwrap_or(0),
    }
}

/// The stop reason a finished response implies: Responses has no stop reason of its own,
/// so a completed response that made function calls stopped for tool use, and one that
/// streamed a refusal stopped by refusing.
fn responses_stop(
    response: &Value,
    made_calls: bool,
    refused: bool,
) -> Option<(String, Option<String>)> {
    let reason = match str_at(response, "/status")? {
        "completed" if made_calls => "tool_use".to_string(),
        "completed" if refused => "refusal".to_string(),
        "completed" => "end_turn".to_string(),
        "incomplete" => match str_at(response, "/incomplete_details/reason") {
            Some("max_output_tokens") => "max_tokens".to_string(),
            Some("content_filter") => "content_filter".to_string(),
            Some(other) => other.to_string(),
            None => "incomplete".to_string(),
        },
        _ => return None,
    };
    Some((reason, None))
}

/// Scans an OpenAI Responses stream up to its terminal event.
pub fn responses_stream(events: &[sse::Event]) -> Expected {
    let mut expected = Expected::default();
    let mut keyed = Keyed::default();
    // Per function-call output_index: whether `function_call_arguments.done` was seen.
    let mut final_arguments: Vec<String> = Vec::new();
    let mut refused = false;
    for (_, payload) in payloads(events) {
        let kind = str_at(&payload, "/type").unwrap_or_default();
        let output = payload
            .get("output_index")
            .map(Value::to_string)
            .unwrap_or_default();
        let item = &payload["item"];
        match kind {
            // A refusal is shown as answer text.
            "response.output_text.delta" | "response.refusal.delta" => {
                refused |= kind == "response.refusal.delta";
                let content = payload.get("content_index").map(Value::to_string);
                let key = format!("{output}/{}", content.unwrap_or_default());
                keyed.text(key, str_at(&payload, "/delta").unwrap_or_default());
            }
            "response.output_item.added" | "response.output_item.done"
                if str_at(item, "/type") == Some("function_call") =>
            {
                let call = keyed.call(output.clone());
                call.id = str_at(item, "/call_id").unwrap_or_default().to_string();
                call.name = str_at(item, "/name").unwrap_or_default().to_string();
                let arguments = str_at(item, "/arguments").unwrap_or_default();
                if kind == "response.output_item.done" && !final_arguments.contains(&output) {
                    call.arguments = arguments.to_string();
                    final_arguments.push(output);
                }
            }
            "response.function_call_arguments.delta" if !final_arguments.contains(&output) => {
                let fragment = str_at(&payload, "/delta").unwrap_or_default();
                keyed.call(output).arguments.push_str(fragment);
            }
            "response.function_call_arguments.done" => {
                let arguments = str_at(&payload, "/arguments").unwrap_or_default();
                keyed.call(output.clone()).arguments = arguments.to_string();
                final_arguments.push(output);
            }
            "error" => {
                expected.error = str_at(&payload, "/error/message")
                    .or_else(|| str_at(&payload, "/message"))
                    .map(|m| m.trim().to_string());
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let response = &payload["response"];
                if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
                    expected.usage = Some(responses_usage(usage));
                }
                if let Some(message) = str_at(response, "/error/message") {
                    expected.error = Some(message.trim().to_string());
                }
                expected.stop = responses_stop(response, !keyed.calls.is_empty(), refused);
                break;
            }
            _ => {}
        }
    }
    keyed.into_expected(&mut expected);
    expected
}

/// Scans a non-streaming OpenAI Responses body.
pub fn responses_body(body: &Value) -> Expected {
    let mut expected = Expected {
        error: error_message(body),
        usage: body
            .get("usage")
            .filter(|u| u.is_object())
            .map(responses_usage),
        ..Expected::default()
    };
    let mut keyed = Keyed::default();
    let mut refused = false;
    for (o, item) in body["output"].as_array().into_iter().flatten().enumerate() {
        match str_at(item, "/type") {
            Some("message") => {
                for (c, content) in item["content"].as_array().into_iter().flatten().enumerate() {
                    match str_at(content, "/type") {
                        Some("output_text") => {
                            let text = str_at(content, "/text").unwrap_or_default();
                            keyed.text(format!("{o}/{c}"), text);
                        }
                        Some("refusal") => {
                            refused = true;
                            let text = str_at(content, "/refusal").unwrap_or_default();
                            keyed.text(format!("{o}/{c}"), text);
                        }
                        _ => {}
                    }
                }
            }
            Some("function_call") => {
                let call = keyed.call(o.to_string());
                call.id = str_at(item, "/call_id").unwrap_or_default().to_string();
                call.name = str_at(item, "/name").unwrap_or_default().to_string();
                call.arguments = str_at(item, "/arguments").unwrap_or_default().to_string();
            }
            _ => {}
        }
    }
    expected.stop = responses_stop(body, !keyed.calls.is_empty(), refused);
    keyed.into_expected(&mut expected);
    expected
}

// ---------------------------------------------------------------------------------------
// Replayed tool calls ("twins")

// ---------------------------------------------------------------------------------------
// Google Gemini

/// Gemini's finish reasons in cm's words; `STOP` is `tool_use` when the turn made calls.
fn gemini_stop(reason: &str, made_calls: bool) -> String {
    match reason {
        "STOP" if made_calls => "tool_use",
        "STOP" => "end_turn",
        "MAX_TOKENS" => "max_tokens",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        other => other,
    }
    .to_string()
}

/// Gemini usage: input excludes `cachedContentTokenCount`; output is
/// `candidatesTokenCount` plus `thoughtsTokenCount`, which `totalTokenCount` confirms.
fn gemini_usage(usage: &Value) -> Option<Usage> {
    let prompt = u64_at(usage, "/promptTokenCount");
    let total = u64_at(usage, "/totalTokenCount");
    prompt.or(total)?;
    let prompt = prompt.unwrap_or(0);
    let cached = u64_at(usage, "/cachedContentTokenCount").unwrap_or(0);
    let candidates = u64_at(usage, "/candidatesTokenCount").unwrap_or(0);
    let thoughts = u64_at(usage, "/thoughtsTokenCount").unwrap_or(0);
    if let Some(total) = total {
        assert_eq!(
            total,
            prompt + candidates + thoughts,
            "a recorded Gemini total counts thoughts apart from candidates"
        );
    }
    Some(Usage {
        input_tokens: prompt - cached,
        output_tokens: candidates + thoughts,
        cache_read_tokens: cached,
        cache_write_tokens: 0,
        reasoning_tokens: thoughts,
    })
}

/// Scans Gemini responses (stream chunks or one body) up to the first `finishReason`.
/// Calls without an id are named as cm documents: `call_<part>_<responseId>`, where
/// `part` counts text runs, signatures and calls in order.
fn gemini_responses<'a>(responses: impl Iterator<Item = &'a Value>) -> Expected {
    let mut expected = Expected::default();
    let mut texts: Vec<String> = Vec::new();
    let mut in_text = false;
    let mut parts = 0usize;
    let mut response_id = None;
    let mut streaming: Option<(ExpectedCall, Value)> = None;
    for response in responses {
        if response.get("error").is_some() {
            expected.error = error_message(response);
            continue;
        }
        if response_id.is_none() {
            response_id = str_at(response, "/responseId").map(str::to_string);
        }
        let candidate = &response["candidates"][0];
        for part in candidate["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(call) = part.get("functionCall") {
                in_text = false;
                match str_at(call, "/name") {
                    Some(name) => {
                        if let Some((call, args)) = streaming.take() {
                            expected.tool_calls.push(ExpectedCall {
                                arguments: args.to_string(),
                                ..call
                            });
                        }
                        let id = str_at(call, "/id").map(str::to_string).unwrap_or_else(|| {
                            format!(
                                "call_{parts}_{}",
                                response_id.as_deref().unwrap_or_default()
                            )
                        });
                        parts += 1;
                        let entry = ExpectedCall {
                            id,
                            name: name.to_string(),
                            arguments: String::new(),
                        };
                        if call["willContinue"] == true && call.get("args").is_none() {
                            streaming = Some((entry, serde_json::json!({})));
                        } else {
                            let args = call.get("args").cloned().unwrap_or(serde_json::json!({}));
                            expected.tool_calls.push(ExpectedCall {
                                arguments: args.to_string(),
                                ..entry
                            });
                        }
                    }
                    None => {
                        if let Some((_, args)) = &mut streaming {
                            for arg in call["partialArgs"].as_array().into_iter().flatten() {
                                // The recordings stream top-level string values only.
                                let key = str_at(arg, "/jsonPath")
                                    .and_then(|p| p.strip_prefix("$."))
                                    .unwrap_or_default();
                                let piece = str_at(arg, "/stringValue").unwrap_or_default();
                                let old = args[key].as_str().unwrap_or_default().to_string();
                                args[key] = Value::String(old + piece);
                            }
                        }
                        if call["willContinue"] != true {
                            if let Some((call, args)) = streaming.take() {
                                expected.tool_calls.push(ExpectedCall {
                                    arguments: args.to_string(),
                                    ..call
                                });
                            }
                        }
                    }
                }
                continue;
            }
            let text = str_at(part, "/text").unwrap_or_default();
            if part.get("thoughtSignature").is_some() {
                in_text = false;
                parts += 1;
            }
            if part["thought"] == true {
                continue;
            }
            if !text.is_empty() {
                if in_text {
                    if let Some(last) = texts.last_mut() {
                        last.push_str(text);
                    }
                } else {
                    texts.push(text.to_string());
                    parts += 1;
                    in_text = true;
                }
            }
        }
        if let Some(usage) = response.get("usageMetadata").and_then(gemini_usage) {
            expected.usage = Some(usage);
        }
        if let Some(reason) = str_at(candidate, "/finishReason") {
            if let Some((call, args)) = streaming.take() {
                expected.tool_calls.push(ExpectedCall {
                    arguments: args.to_string(),
                    ..call
                });
            }
            let made_calls = !expected.tool_calls.is_empty();
            expected.stop = Some((gemini_stop(reason, made_calls), None));
            break;
        }
    }
    expected.texts = texts;
    expected
}

/// Scans a Gemini stream.
pub fn gemini_stream(events: &[sse::Event]) -> Expected {
    let payloads: Vec<Value> = payloads(events).map(|(_, v)| v).collect();
    gemini_responses(payloads.iter())
}

/// Scans a non-streaming Gemini body (one response or an array of them).
pub fn gemini_body(body: &Value) -> Expected {
    match body {
        Value::Array(items) => gemini_responses(items.iter()),
        other => gemini_responses(std::iter::once(other)),
    }
}

/// The tool calls a request body replays from earlier assistant turns: (id, arguments).
///
/// Anthropic `tool_use` blocks carry `input`; Chat `tool_calls` carry `function.arguments`
/// as JSON text; Responses `function_call` input items carry `arguments` as JSON text.
pub fn replayed_calls(request: &Value) -> Vec<(String, Value)> {
    let mut calls = Vec::new();
    for message in request["messages"].as_array().into_iter().flatten() {
        for block in message["content"].as_array().into_iter().flatten() {
            if str_at(block, "/type") == Some("tool_use") {
                let id = str_at(block, "/id").unwrap_or_default().to_string();
                calls.push((id, block["input"].clone()));
            }
        }
        for call in message["tool_calls"].as_array().into_iter().flatten() {
            let id = str_at(call, "/id").unwrap_or_default().to_string();
            let text = str_at(call, "/function/arguments").unwrap_or_default();
            calls.push((id, parse_arguments(text).unwrap_or(Value::Null)));
        }
    }
    for item in request["input"].as_array().into_iter().flatten() {
        if str_at(item, "/type") == Some("function_call") {
            let id = str_at(item, "/call_id").unwrap_or_default().to_string();
            let text = str_at(item, "/arguments").unwrap_or_default();
            calls.push((id, parse_arguments(text).unwrap_or(Value::Null)));
        }
    }
    calls
}

/// Tool arguments as JSON; empty text means no arguments (`{}`), as cm's `ToolCall` has it.
pub fn parse_arguments(text: &str) -> Result<Value, serde_json::Error> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(text)
}
