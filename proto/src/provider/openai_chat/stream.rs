//! Decoding `chat.completion.chunk` streams and whole `chat.completion` bodies.
//!
//! The decoder keeps one record per choice index: its text part, its open reasoning part,
//! and its tool calls keyed by the fragment's `index` (or its position in the array when
//! there is none). Parts are numbered in order of first appearance across all choices.
//! A reasoning part ends when anything else arrives in its choice; tool calls end at their
//! choice's `finish_reason`, at `[DONE]`, or in `finish()`.

use std::borrow::Cow;

use serde_json::{Map, Value};

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::error::{in_stream_error, is_error};
use crate::message::{StopReason, Usage};
use crate::provider::typed::{opt_str, present, Object, Text};
use crate::provider::{DecodeError, StreamEvent};
use crate::sse;

/// Decodes one streamed Chat Completions response.
///
/// `Start` comes with the first chunk that names an id or a model (Azure's leading filter
/// chunk, with empty ones, does not count), or before the first content if none does.
/// Malformed JSON in a chunk gives [`DecodeError::InvalidJson`] for that event only; the
/// decoder stays usable and later chunks decode normally. A tool call whose id never
/// arrived is given the id `cm_call_<part>` when it ends, so its result can still refer to it.
#[derive(Debug)]
pub struct StreamDecoder {
    started: bool,
    ended: bool,
    next_part: usize,
    choices: Vec<Choice>,
    usage: UsageCounters,
    /// The choice and reason of the last `Stop` emitted.
    last_stop: Option<(u64, StopReason)>,
    last_event: String,
    /// Whether argument fragments are emitted as `ToolCallDelta` (not for whole bodies).
    argument_deltas: bool,
}

#[derive(Debug)]
struct Choice {
    index: u64,
    text_part: Option<usize>,
    open_reasoning: Option<usize>,
    calls: Vec<Call>,
    refusal: bool,
    finished: bool,
}

#[derive(Debug)]
struct Call {
    key: CallKey,
    part: usize,
    id: Option<String>,
    name: Option<String>,
    arguments: String,
    started: bool,
    ended: bool,
}

/// How a tool-call fragment names its call: its `index`, or its position in `tool_calls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKey {
    Index(u64),
    Position(usize),
}

/// The last value reported for each raw usage counter.
#[derive(Debug, Default)]
struct UsageCounters {
    prompt: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    completion: Option<u64>,
    reasoning: Option<u64>,
    total: Option<u64>,
}

impl UsageCounters {
    /// The counters a `usage` object reports (each `None` unless an unsigned integer).
    fn from_map(usage: &Map<String, Value>) -> UsageCounters {
        let count = |v: Option<&Value>| v.and_then(Value::as_u64);
        let prompt_details = usage.get("prompt_tokens_details");
        let completion_details = usage.get("completion_tokens_details");
        UsageCounters {
            prompt: count(usage.get("prompt_tokens")),
            cache_read: count(prompt_details.and_then(|d| d.get("cached_tokens")))
                .or_else(|| count(usage.get("prompt_cache_hit_tokens"))),
            cache_write: count(prompt_details.and_then(|d| d.get("cache_write_tokens"))),
            completion: count(usage.get("completion_tokens")),
            reasoning: count(completion_details.and_then(|d| d.get("reasoning_tokens"))),
            total: count(usage.get("total_tokens")),
        }
    }
}

impl Default for StreamDecoder {
    fn default() -> Self {
        StreamDecoder::new()
    }
}

impl StreamDecoder {
    /// A decoder for a new response.
    pub fn new() -> StreamDecoder {
        StreamDecoder {
            started: false,
            ended: false,
            next_part: 0,
            choices: Vec::new(),
            usage: UsageCounters::default(),
            last_stop: None,
            last_event: "nothing".into(),
            argument_deltas: true,
        }
    }

    fn chunk(&mut self, chunk: &Map<String, Value>, out: &mut Vec<StreamEvent>) {
        let id = non_empty_str(chunk.get("id"));
        let model = non_empty_str(chunk.get("model"));
        if id.is_some() || model.is_some() {
            self.start(id, model, out);
        }
        if chunk.contains_key("prompt_filter_results") {
            out.push(debug("prompt_filter_results skipped"));
        }
        let choices: &[Value] = chunk
            .get("choices")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let usage = chunk.get("usage").and_then(Value::as_object);
        if choices.is_empty() && usage.is_none() && !chunk.contains_key("prompt_filter_results") {
            out.push(debug("chunk without choices or usage skipped"));
        }
        let mut finishes = Vec::new();
        for (position, choice) in choices.iter().enumerate() {
            let Some(choice) = choice.as_object() else {
                out.push(debug("choice that is not an object skipped"));
                continue;
            };
            let index = choice
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            match choice.get("delta") {
                Some(Value::Object(delta)) => self.delta(index, delta, out),
                Some(Value::Null) | None => {}
                Some(_) => out.push(debug("delta that is not an object skipped")),
            }
            if let Some(reason) = non_empty_str(choice.get("finish_reason")) {
                finishes.push((index, reason));
            }
        }
        let usage = usage.map(UsageCounters::from_map);
        self.end_chunk(usage, &finishes, out);
    }

    /// The end of a chunk, after its choices: its usage, then its finished choices.
    fn end_chunk<R: AsRef<str>>(
        &mut self,
        usage: Option<UsageCounters>,
        finishes: &[(u64, R)],
        out: &mut Vec<StreamEvent>,
    ) {
        let has_usage = usage.is_some();
        if let Some(usage) = usage {
            self.usage(usage, out);
        }
        self.last_event = if has_usage {
            "chunk with usage".into()
        } else {
            "chunk".into()
        };
        for (index, reason) in finishes {
            let reason = reason.as_ref();
            self.finish_choice(*index, reason, out);
            self.last_event = format!("chunk with finish_reason {reason}");
        }
    }

    /// The typed twin of [`StreamDecoder::chunk`] and [`StreamDecoder::delta`], for a
    /// chunk [`FastChunk::parse`] accepted; same events in the same order.
    fn fast_chunk(&mut self, chunk: &FastChunk<'_>, out: &mut Vec<StreamEvent>) {
        let id = non_empty(opt_str(&chunk.id)).map(str::to_string);
        let model = non_empty(opt_str(&chunk.model)).map(str::to_string);
        if id.is_some() || model.is_some() {
            self.start(id, model, out);
        }
        let choices = chunk.choices.as_deref().unwrap_or_default();
        if choices.is_empty() && chunk.usage.is_none() {
            out.push(debug("chunk without choices or usage skipped"));
        }
        let mut finishes = Vec::new();
        for (position, Object(choice)) in choices.iter().enumerate() {
            let index = choice.index.unwrap_or(position as u64);
            if let Some(Object(delta)) = &choice.delta {
                self.fast_delta(index, delta, out);
            }
            if let Some(reason) = non_empty(opt_str(&choice.finish_reason)) {
                finishes.push((index, reason));
            }
        }
        let usage = chunk.usage.as_ref().map(|u| u.0.counters());
        self.end_chunk(usage, &finishes, out);
    }

    fn fast_delta(&mut self, index: u64, delta: &FastDelta<'_>, out: &mut Vec<StreamEvent>) {
        let reasoning = [
            &delta.reasoning_content,
            &delta.reasoning,
            &delta.reasoning_text,
        ]
        .into_iter()
        .find_map(|field| non_empty(opt_str(field)));
        if let Some(text) = reasoning {
            self.reasoning(index, text, out);
        }
        if let Some(text) = opt_str(&delta.content) {
            self.text(index, text, out);
        }
        if let Some(refusal) = non_empty(opt_str(&delta.refusal)) {
            self.text(index, refusal, out);
            let c = self.choice(index);
            self.choices[c].refusal = true;
        }
        for (position, Object(fragment)) in delta.tool_calls.iter().flatten().enumerate() {
            if let Some(kind) = non_empty(opt_str(&fragment.kind)).filter(|t| *t != "function") {
                out.push(debug(&format!("tool call of type {kind} skipped")));
                continue;
            }
            let function = fragment.function.as_ref().map(|f| &f.0);
            let key = match fragment.index {
                Some(i) => CallKey::Index(i),
                None => CallKey::Position(position),
            };
            self.apply_fragment(
                index,
                key,
                non_empty(opt_str(&fragment.id)),
                non_empty(function.and_then(|f| opt_str(&f.name))),
                function.and_then(|f| opt_str(&f.arguments)).unwrap_or(""),
                out,
            );
        }
    }

    fn start(&mut self, id: Option<String>, model: Option<String>, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start { id, model });
        }
    }

    fn delta(&mut self, index: u64, delta: &Map<String, Value>, out: &mut Vec<StreamEvent>) {
        let reasoning = ["reasoning_content", "reasoning", "reasoning_text"]
            .iter()
            .find_map(|key| non_empty_str(delta.get(*key)));
        if let Some(text) = reasoning {
            self.reasoning(index, &text, out);
        }
        match delta.get("content") {
            Some(Value::String(text)) => self.text(index, text, out),
            Some(Value::Array(items)) => self.content_items(index, items, out),
            Some(Value::Null) | None => {}
            Some(_) => out.push(debug("content that is neither text nor a list skipped")),
        }
        if let Some(refusal) = non_empty_str(delta.get("refusal")) {
            self.text(index, &refusal, out);
            let c = self.choice(index);
            self.choices[c].refusal = true;
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for (position, fragment) in calls.iter().enumerate() {
                self.tool_fragment(index, position, fragment, out);
            }
        }
        if delta.get("function_call").is_some_and(|f| !f.is_null()) {
            out.push(debug("legacy function_call delta skipped"));
        }
        for key in ["audio", "annotations"] {
            let present = match delta.get(key) {
                Some(Value::Array(items)) => !items.is_empty(),
                Some(Value::Null) | None => false,
                Some(_) => true,
            };
            if present {
                out.push(debug(&format!("{key} skipped")));
            }
        }
    }

    /// Mistral's content list: `{type:"text", text}` and
    /// `{type:"thinking", thinking:[{type:"text", text}]}`.
    fn content_items(&mut self, index: u64, items: &[Value], out: &mut Vec<StreamEvent>) {
        for item in items {
            match item.get("type").and_then(Value::as_str) {
                Some("text") => {
                    if let Some(text) = item.get("text").and_then(Value::as_str) {
                        self.text(index, text, out);
                    }
                }
                Some("thinking") => match item.get("thinking") {
                    Some(Value::String(text)) => self.reasoning(index, text, out),
                    Some(Value::Array(pieces)) => {
                        for piece in pieces {
                            if let Some(text) = piece.get("text").and_then(Value::as_str) {
                                self.reasoning(index, text, out);
                            }
                        }
                    }
                    _ => {}
                },
                Some(other) => out.push(debug(&format!("content item of type {other} skipped"))),
                None => out.push(debug("content item without a type skipped")),
            }
        }
    }

    fn text(&mut self, index: u64, text: &str, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        self.start(None, None, out);
        let c = self.choice(index);
        self.end_reasoning(c, out);
        let part = match self.choices[c].text_part {
            Some(part) => part,
            None => {
                let part = self.new_part();
                self.choices[c].text_part = Some(part);
                part
            }
        };
        out.push(StreamEvent::TextDelta {
            part,
            text: text.to_string(),
        });
    }

    fn reasoning(&mut self, index: u64, text: &str, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        self.start(None, None, out);
        let c = self.choice(index);
        let part = match self.choices[c].open_reasoning {
            Some(part) => part,
            None => {
                let part = self.new_part();
                self.choices[c].open_reasoning = Some(part);
                part
            }
        };
        out.push(StreamEvent::ReasoningDelta {
            part,
            text: text.to_string(),
        });
    }

    fn tool_fragment(
        &mut self,
        index: u64,
        position: usize,
        fragment: &Value,
        out: &mut Vec<StreamEvent>,
    ) {
        let Some(fragment) = fragment.as_object() else {
            out.push(debug("tool call that is not an object skipped"));
            return;
        };
        if let Some(kind) = non_empty_str(fragment.get("type")).filter(|t| t != "function") {
            out.push(debug(&format!("tool call of type {kind} skipped")));
            return;
        }
        let function = fragment.get("function").and_then(Value::as_object);
        let arguments = match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(s)) => Cow::Borrowed(s.as_str()),
            Some(Value::Null) | None => Cow::Borrowed(""),
            Some(other) => Cow::Owned(other.to_string()),
        };
        let key = match fragment.get("index").and_then(Value::as_u64) {
            Some(i) => CallKey::Index(i),
            None => CallKey::Position(position),
        };
        self.apply_fragment(
            index,
            key,
            non_empty(fragment.get("id").and_then(Value::as_str)),
            non_empty(function.and_then(|f| f.get("name")).and_then(Value::as_str)),
            &arguments,
            out,
        );
    }

    /// Applies one tool-call fragment (of type `function`) to the call it names by `key`.
    fn apply_fragment(
        &mut self,
        index: u64,
        key: CallKey,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
        out: &mut Vec<StreamEvent>,
    ) {
        self.start(None, None, out);
        let c = self.choice(index);
        self.end_reasoning(c, out);

        let mut open = self.choices[c]
            .calls
            .iter()
            .rposition(|call| call.key == key && !call.ended);
        if let (Some(i), Some(new_id)) = (open, id) {
            let call = &self.choices[c].calls[i];
            if call.id.as_ref().is_some_and(|old| old != new_id) {
                // A new id at a key in use: servers that reuse index 0 for every call.
                self.end_call(c, i, out);
                open = None;
            }
        }
        let i = match open {
            Some(i) => i,
            None => {
                let seen = self.choices[c].calls.iter().any(|call| call.key == key);
                if seen && id.is_none() && name.is_none() {
                    out.push(debug("fragment of an ended tool call skipped"));
                    return;
                }
                let part = self.new_part();
                self.choices[c].calls.push(Call {
                    key,
                    part,
                    id: None,
                    name: None,
                    arguments: String::new(),
                    started: false,
                    ended: false,
                });
                self.choices[c].calls.len() - 1
            }
        };
        let deltas = self.argument_deltas;
        let call = &mut self.choices[c].calls[i];
        if call.id.is_none() {
            call.id = id.map(str::to_string);
        }
        if call.name.is_none() {
            call.name = name.map(str::to_string);
        }
        if !call.started {
            if let (Some(id), Some(name)) = (&call.id, &call.name) {
                call.started = true;
                out.push(StreamEvent::ToolCallStart {
                    part: call.part,
                    id: id.clone(),
                    name: name.clone(),
                    item_id: None,
                });
                if deltas && !call.arguments.is_empty() {
                    out.push(StreamEvent::ToolCallDelta {
                        part: call.part,
                        arguments: call.arguments.clone(),
                    });
                }
            }
        }
        if !arguments.is_empty() {
            call.arguments.push_str(arguments);
            if deltas && call.started {
                out.push(StreamEvent::ToolCallDelta {
                    part: call.part,
                    arguments: arguments.to_string(),
                });
            }
        }
    }

    fn finish_choice(&mut self, index: u64, reason: &str, out: &mut Vec<StreamEvent>) {
        self.start(None, None, out);
        let c = self.choice(index);
        self.end_reasoning(c, out);
        self.end_calls(c, out);
        self.choices[c].finished = true;
        let mut stop = stop_reason(reason);
        if self.choices[c].refusal && stop == StopReason::EndTurn {
            stop = StopReason::Refusal;
        }
        self.stop(index, stop, out);
    }

    /// Emits a `Stop`, unless it would turn another choice's `tool_use` into `end_turn`
    /// (Copilot puts the text and the tool call of one answer in different choices).
    fn stop(&mut self, index: u64, reason: StopReason, out: &mut Vec<StreamEvent>) {
        if let Some((other, StopReason::ToolUse)) = &self.last_stop {
            if *other != index && reason == StopReason::EndTurn {
                out.push(debug(&format!(
                    "end_turn of choice {index} does not override tool_use of choice {other}"
                )));
                return;
            }
        }
        self.last_stop = Some((index, reason.clone()));
        out.push(StreamEvent::Stop {
            reason,
            sequence: None,
        });
    }

    /// Merges a chunk's reported counters and emits the normalised snapshot.
    fn usage(&mut self, reported: UsageCounters, out: &mut Vec<StreamEvent>) {
        let u = &mut self.usage;
        u.prompt = reported.prompt.or(u.prompt);
        u.cache_read = reported.cache_read.or(u.cache_read);
        u.cache_write = reported.cache_write.or(u.cache_write);
        u.completion = reported.completion.or(u.completion);
        u.reasoning = reported.reasoning.or(u.reasoning);
        u.total = reported.total.or(u.total);
        let cache_read = u.cache_read.unwrap_or(0);
        let cache_write = u.cache_write.unwrap_or(0);
        let completion = u.completion.unwrap_or(0);
        let reasoning = u.reasoning.unwrap_or(0);
        // xAI counts reasoning outside `completion_tokens`; its total gives that away.
        let reasoning_apart = reasoning > 0
            && u.total.is_some()
            && u.total
                == u.prompt
                    .unwrap_or(0)
                    .checked_add(completion)
                    .and_then(|n| n.checked_add(reasoning));
        let snapshot = Usage {
            input_tokens: u
                .prompt
                .unwrap_or(0)
                .saturating_sub(cache_read)
                .saturating_sub(cache_write),
            output_tokens: if reasoning_apart {
                completion.saturating_add(reasoning)
            } else {
                completion
            },
            cache_read_tokens: cache_read,
            cache_write_tokens: cache_write,
            reasoning_tokens: reasoning,
        };
        self.start(None, None, out);
        out.push(StreamEvent::Usage(snapshot));
    }

    /// `[DONE]`: ends what is open, gives a refusal its `Stop` if none came, then `End`.
    fn done(&mut self, out: &mut Vec<StreamEvent>) {
        for c in 0..self.choices.len() {
            self.end_reasoning(c, out);
            self.end_calls(c, out);
            let choice = &self.choices[c];
            if choice.refusal && !choice.finished {
                let index = choice.index;
                self.stop(index, StopReason::Refusal, out);
            }
        }
        self.ended = true;
        self.last_event = "[DONE]".into();
        out.push(StreamEvent::End);
    }

    fn error(&mut self, value: Option<&Value>, data: &str, out: &mut Vec<StreamEvent>) {
        self.last_event = "error".into();
        out.push(StreamEvent::Error(in_stream_error(value, data.as_bytes())));
    }

    /// The position in `choices` of the record for choice `index`, created if new.
    fn choice(&mut self, index: u64) -> usize {
        if let Some(c) = self.choices.iter().position(|c| c.index == index) {
            return c;
        }
        self.choices.push(Choice {
            index,
            text_part: None,
            open_reasoning: None,
            calls: Vec::new(),
            refusal: false,
            finished: false,
        });
        self.choices.len() - 1
    }

    fn new_part(&mut self) -> usize {
        let part = self.next_part;
        self.next_part = self.next_part.saturating_add(1);
        part
    }

    fn end_reasoning(&mut self, c: usize, out: &mut Vec<StreamEvent>) {
        if let Some(part) = self.choices[c].open_reasoning.take() {
            out.push(StreamEvent::ReasoningEnd {
                part,
                signature: None,
                redacted: None,
                encrypted: None,
                id: None,
            });
        }
    }

    fn end_calls(&mut self, c: usize, out: &mut Vec<StreamEvent>) {
        for i in 0..self.choices[c].calls.len() {
            self.end_call(c, i, out);
        }
    }

    fn end_call(&mut self, c: usize, i: usize, out: &mut Vec<StreamEvent>) {
        let call = &mut self.choices[c].calls[i];
        if call.ended {
            return;
        }
        call.ended = true;
        if !call.started {
            call.started = true;
            out.push(StreamEvent::ToolCallStart {
                part: call.part,
                id: call
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("cm_call_{}", call.part)),
                name: call.name.clone().unwrap_or_default(),
                item_id: None,
            });
        }
        out.push(StreamEvent::ToolCallEnd {
            part: call.part,
            arguments: call.arguments.clone(),
        });
    }
}

impl crate::provider::StreamDecoder for StreamDecoder {
    fn decode(
        &mut self,
        event: &sse::Event,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), DecodeError> {
        let data = event.data.trim();
        if self.ended {
            if !data.is_empty() {
                out.push(debug("event after [DONE] ignored"));
            }
            return Ok(());
        }
        let named_error = event.event == "error";
        if data.is_empty() && !named_error {
            return Ok(());
        }
        if data == "[DONE]" {
            self.done(out);
            return Ok(());
        }
        if !named_error {
            // The hot path: a chunk of the usual shape, parsed without a `Value` tree.
            if let Some(chunk) = FastChunk::parse(data) {
                self.fast_chunk(&chunk, out);
                return Ok(());
            }
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(_) if named_error => {
                self.error(None, data, out);
                return Ok(());
            }
            Err(error) => {
                return Err(DecodeError::InvalidJson {
                    event: event.event.clone(),
                    offset: event.offset,
                    error: error.to_string(),
                })
            }
        };
        if named_error || is_error(&value) {
            self.error(Some(&value), data, out);
            return Ok(());
        }
        match value.as_object() {
            Some(chunk) => self.chunk(chunk, out),
            None => out.push(debug("payload that is not a JSON object skipped")),
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if self.ended {
            return Ok(());
        }
        for c in 0..self.choices.len() {
            self.end_calls(c, out);
        }
        Err(DecodeError::Truncated {
            last_event: self.last_event.clone(),
        })
    }
}

/// A chunk parsed straight into borrowed fields (the hot path): no map per object, no
/// `String` per key. It takes the usual shape only: a field of an unexpected type, an
/// error payload, Azure's `prompt_filter_results`, Mistral's content list or a rare delta
/// field (`function_call`, `audio`, `annotations`) makes [`FastChunk::parse`] give `None`,
/// and the general `Value` path decodes the chunk as before.
#[derive(Deserialize)]
struct FastChunk<'a> {
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    model: Option<Text<'a>>,
    #[serde(default, borrow)]
    object: Option<Text<'a>>,
    #[serde(default, borrow)]
    choices: Option<Vec<Object<FastChoice<'a>>>>,
    #[serde(default)]
    usage: Option<Box<Object<FastUsage>>>,
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    prompt_filter_results: bool,
}

#[derive(Deserialize)]
struct FastChoice<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    delta: Option<Object<FastDelta<'a>>>,
    #[serde(default, borrow)]
    finish_reason: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct FastDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Text<'a>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Text<'a>>,
    #[serde(default, borrow)]
    reasoning: Option<Text<'a>>,
    #[serde(default, borrow)]
    reasoning_text: Option<Text<'a>>,
    #[serde(default, borrow)]
    refusal: Option<Text<'a>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<Object<FastToolCall<'a>>>>,
    #[serde(default)]
    function_call: Option<IgnoredAny>,
    #[serde(default)]
    audio: Option<IgnoredAny>,
    #[serde(default)]
    annotations: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct FastToolCall<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(rename = "type", default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    function: Option<Object<FastFunction<'a>>>,
}

#[derive(Deserialize)]
struct FastFunction<'a> {
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    arguments: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct FastUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Object<PromptDetails>>,
    #[serde(default)]
    completion_tokens_details: Option<Object<CompletionDetails>>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    cache_write_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl<'a> FastChunk<'a> {
    /// The chunk, if `data` is a chunk of the usual shape (see [`FastChunk`]).
    fn parse(data: &'a str) -> Option<FastChunk<'a>> {
        let Object(chunk) = serde_json::from_str::<Object<FastChunk<'a>>>(data).ok()?;
        let unusual_delta = |delta: &FastDelta<'_>| {
            delta.function_call.is_some() || delta.audio.is_some() || delta.annotations.is_some()
        };
        let usual = chunk.error.is_none()
            && opt_str(&chunk.object) != Some("error")
            && !chunk.prompt_filter_results
            && chunk
                .choices
                .iter()
                .flatten()
                .all(|choice| choice.0.delta.as_ref().is_none_or(|d| !unusual_delta(&d.0)));
        usual.then_some(chunk)
    }
}

impl FastUsage {
    fn counters(&self) -> UsageCounters {
        let prompt = self.prompt_tokens_details.as_ref().map(|d| &d.0);
        UsageCounters {
            prompt: self.prompt_tokens,
            cache_read: prompt
                .and_then(|d| d.cached_tokens)
                .or(self.prompt_cache_hit_tokens),
            cache_write: prompt.and_then(|d| d.cache_write_tokens),
            completion: self.completion_tokens,
            reasoning: self
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.0.reasoning_tokens),
            total: self.total_tokens,
        }
    }
}

/// Decodes a non-streaming `chat.completion` body into the events a stream would give:
/// `Start`, each choice's reasoning, text and tool calls (start and end, no deltas),
/// `Usage`, `Stop`, `End`. An error body gives `[Error]`; a body that is not JSON,
/// [`DecodeError::NotAResponse`].
pub fn decode_body(body: &[u8]) -> Result<Vec<StreamEvent>, DecodeError> {
    let not_a_response = || DecodeError::NotAResponse {
        start: String::from_utf8_lossy(body).chars().take(120).collect(),
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| not_a_response())?;
    if is_error(&value) {
        return Ok(vec![StreamEvent::Error(in_stream_error(
            Some(&value),
            body,
        ))]);
    }
    let Some(object) = value.as_object() else {
        return Err(not_a_response());
    };
    let Some(choices) = object.get("choices").and_then(Value::as_array) else {
        return Err(DecodeError::MissingField {
            event: "body".into(),
            field: "choices",
        });
    };
    // A body is one chunk whose deltas are the whole messages.
    let mut chunk = object.clone();
    let as_deltas = choices
        .iter()
        .map(|choice| match choice {
            Value::Object(choice) => {
                let mut choice = choice.clone();
                if let Some(message) = choice.remove("message") {
                    choice.insert("delta".into(), message);
                }
                Value::Object(choice)
            }
            other => other.clone(),
        })
        .collect();
    chunk.insert("choices".into(), Value::Array(as_deltas));
    let mut decoder = StreamDecoder {
        argument_deltas: false,
        ..StreamDecoder::new()
    };
    let mut out = Vec::new();
    decoder.chunk(&chunk, &mut out);
    decoder.done(&mut out);
    Ok(out)
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "stop" => StopReason::EndTurn,
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_string()),
    }
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|s| !s.is_empty())
}

fn non_empty_str(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn debug(message: &str) -> StreamEvent {
    StreamEvent::Debug {
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{ErrorKind, StreamDecoder as _};
    use StreamEvent::*;

    fn event(name: &str, data: &str, offset: u64) -> sse::Event {
        sse::Event {
            event: name.into(),
            data: data.into(),
            id: String::new(),
            offset,
        }
    }

    /// Feeds each payload as a `message` event, then finishes.
    fn run(payloads: &[&str]) -> (Vec<StreamEvent>, Result<(), DecodeError>) {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        for (i, data) in payloads.iter().enumerate() {
            decoder
                .decode(&event("message", data, i as u64 * 100), &mut out)
                .unwrap();
        }
        let end = decoder.finish(&mut out);
        (out, end)
    }

    fn start() -> StreamEvent {
        Start {
            id: Some("chatcmpl-1".into()),
            model: Some("gpt-4o".into()),
        }
    }

    fn chunk(delta: &str, finish: Option<&str>) -> String {
        let finish = finish.map_or("null".to_string(), |f| format!("\"{f}\""));
        format!(
            r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]}}"#
        )
    }

    fn text(part: usize, text: &str) -> StreamEvent {
        TextDelta {
            part,
            text: text.into(),
        }
    }

    fn reasoning_end(part: usize) -> StreamEvent {
        ReasoningEnd {
            part,
            signature: None,
            redacted: None,
            encrypted: None,
            id: None,
        }
    }

    fn call_start(part: usize, id: &str, name: &str) -> StreamEvent {
        ToolCallStart {
            part,
            id: id.into(),
            name: name.into(),
            item_id: None,
        }
    }

    fn call_delta(part: usize, arguments: &str) -> StreamEvent {
        ToolCallDelta {
            part,
            arguments: arguments.into(),
        }
    }

    fn call_end(part: usize, arguments: &str) -> StreamEvent {
        ToolCallEnd {
            part,
            arguments: arguments.into(),
        }
    }

    fn stop(reason: StopReason) -> StreamEvent {
        Stop {
            reason,
            sequence: None,
        }
    }

    fn debugs(events: &[StreamEvent]) -> Vec<&str> {
        events
            .iter()
            .filter_map(|e| match e {
                Debug { message } => Some(message.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn text_stream_with_usage_chunk_and_done() {
        let (events, end) = run(&[
            &chunk(r#"{"role":"assistant","content":"","refusal":null}"#, None),
            &chunk(r#"{"content":"Hel"}"#, None),
            &chunk(r#"{"content":"lo"}"#, None),
            &chunk("{}", Some("stop")),
            r#"{"id":"chatcmpl-1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":79,"completion_tokens":11,"total_tokens":90,"prompt_tokens_details":{"cached_tokens":64},"completion_tokens_details":{"reasoning_tokens":3}},"obfuscation":"xyz"}"#,
            "[DONE]",
        ]);
        assert_eq!(end, Ok(()));
        assert_eq!(
            events,
            vec![
                start(),
                text(0, "Hel"),
                text(0, "lo"),
                stop(StopReason::EndTurn),
                Usage(crate::message::Usage {
                    input_tokens: 15,
                    output_tokens: 11,
                    cache_read_tokens: 64,
                    cache_write_tokens: 0,
                    reasoning_tokens: 3,
                }),
                End,
            ]
        );
    }

    #[test]
    fn every_finish_reason_maps() {
        for (word, reason) in [
            ("stop", StopReason::EndTurn),
            ("length", StopReason::MaxTokens),
            ("tool_calls", StopReason::ToolUse),
            ("function_call", StopReason::ToolUse),
            ("content_filter", StopReason::ContentFilter),
            ("eos_token", StopReason::Other("eos_token".into())),
        ] {
            let (events, _) = run(&[&chunk("{}", Some(word)), "[DONE]"]);
            assert_eq!(events, vec![start(), stop(reason), End], "{word}");
        }
    }

    #[test]
    fn reasoning_fields_first_present_wins_and_ends_before_text() {
        let (events, _) = run(&[
            &chunk(
                r#"{"reasoning_content":null,"reasoning":"Think","reasoning_text":"Think"}"#,
                None,
            ),
            &chunk(r#"{"reasoning_content":"ing."}"#, None),
            &chunk(r#"{"reasoning_text":"!"}"#, None),
            &chunk(r#"{"content":"Answer","reasoning_content":null}"#, None),
            &chunk(r#"{"content":""}"#, Some("stop")),
            "[DONE]",
        ]);
        assert_eq!(
            events,
            vec![
                start(),
                ReasoningDelta {
                    part: 0,
                    text: "Think".into()
                },
                ReasoningDelta {
                    part: 0,
                    text: "ing.".into()
                },
                ReasoningDelta {
                    part: 0,
                    text: "!".into()
                },
                reasoning_end(0),
                text(1, "Answer"),
                stop(StopReason::EndTurn),
                End,
            ]
        );
    }

    #[test]
    fn mistral_content_list_with_thinking() {
        let (events, _) = run(&[
            &chunk(
                r#"{"role":"assistant","content":[{"type":"thinking","thinking":[{"type":"text","text":"2+2"}]}]}"#,
                None,
            ),
            &chunk(
                r#"{"content":[{"type":"thinking","thinking":[{"type":"text","text":"=4"}]},{"type":"text","text":"4"},{"type":"reference","reference_ids":[1]}]}"#,
                None,
            ),
            &chunk(r#"{"content":""}"#, Some("stop")),
            "[DONE]",
        ]);
        assert_eq!(
            events,
            vec![
                start(),
                ReasoningDelta {
                    part: 0,
                    text: "2+2".into()
                },
                ReasoningDelta {
                    part: 0,
                    text: "=4".into()
                },
                reasoning_end(0),
                text(1, "4"),
                Debug {
                    message: "content item of type reference skipped".into()
                },
                stop(StopReason::EndTurn),
                End,
            ]
        );
    }

    #[test]
    fn refusal_is_text_and_stops_as_refusal() {
        let (events, _) = run(&[
            &chunk(r#"{"role":"assistant","content":null,"refusal":""}"#, None),
            &chunk(r#"{"refusal":"I can't."}"#, None),
            &chunk("{}", Some("stop")),
            "[DONE]",
        ]);
        assert_eq!(
            events,
            vec![start(), text(0, "I can't."), stop(StopReason::Refusal), End]
        );
        let (events, _) = run(&[&chunk(r#"{"refusal":"No."}"#, Some("length")), "[DONE]"]);
        assert_eq!(
            events,
            vec![start(), text(0, "No."), stop(StopReason::MaxTokens), End],
            "another finish reason wins"
        );
        let (events, _) = run(&[&chunk(r#"{"refusal":"No."}"#, None), "[DONE]"]);
        assert_eq!(
            events,
            vec![start(), text(0, "No."), stop(StopReason::Refusal), End],
            "a refusal without finish_reason still stops as one"
        );
    }

    #[test]
    fn tool_call_arguments_split_anywhere_reassemble() {
        let arguments = r#"{"path":"a \"b\" \\ é\n","n":1}"#;
        let chars: Vec<(usize, char)> = arguments.char_indices().collect();
        for (split, _) in chars.iter().skip(1) {
            let (a, b) = arguments.split_at(*split);
            let fragment = |s: &str| {
                chunk(
                    &format!(
                        r#"{{"tool_calls":[{{"index":0,"function":{{"arguments":{}}}}}]}}"#,
                        Value::String(s.into())
                    ),
                    None,
                )
            };
            let (events, end) = run(&[
                &chunk(
                    r#"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"read","arguments":""}}]}"#,
                    None,
                ),
                &fragment(a),
                &fragment(b),
                &chunk("{}", Some("tool_calls")),
                "[DONE]",
            ]);
            assert_eq!(end, Ok(()));
            assert_eq!(
                events,
                vec![
                    start(),
                    call_start(0, "call_1", "read"),
                    call_delta(0, a),
                    call_delta(0, b),
                    call_end(0, arguments),
                    stop(StopReason::ToolUse),
                    End,
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn parallel_calls_with_indices_from_one_and_a_repeated_id() {
        let (events, _) = run(&[
            &chunk(r#"{"content":"Reading."}"#, None),
            &chunk(
                r#"{"tool_calls":[{"index":1,"id":"toolu_a","type":"function","function":{"name":"read","arguments":""}}]}"#,
                None,
            ),
            &chunk(
                r#"{"tool_calls":[{"index":1,"id":"toolu_a","function":{"arguments":"{}"}},{"index":2,"id":"toolu_b","function":{"name":"ls","arguments":"{\"d\":1}"}}]}"#,
                None,
            ),
            &chunk("{}", Some("tool_calls")),
            "[DONE]",
        ]);
        assert_eq!(
            events,
            vec![
                start(),
                text(0, "Reading."),
                call_start(1, "toolu_a", "read"),
                call_delta(1, "{}"),
                call_start(2, "toolu_b", "ls"),
                call_delta(2, "{\"d\":1}"),
                call_end(1, "{}"),
                call_end(2, "{\"d\":1}"),
                stop(StopReason::ToolUse),
                End,
            ]
        );
    }

    #[test]
    fn calls_without_index_are_keyed_by_position_and_new_ids_start_new_calls() {
        let (events, _) = run(&[
            &chunk(
                r#"{"tool_calls":[{"id":"aaaaaaaaa","function":{"name":"a","arguments":"{}"}},{"id":"bbbbbbbbb","function":{"name":"b","arguments":"{}"}}]}"#,
                None,
            ),
            &chunk(
                r#"{"tool_calls":[{"id":"ccccccccc","function":{"name":"c","arguments":"{}"}}]}"#,
                Some("tool_calls"),
            ),
            "[DONE]",
        ]);
        assert_eq!(
            events,
            vec![
                start(),
                call_start(0, "aaaaaaaaa", "a"),
                call_delta(0, "{}"),
                call_start(1, "bbbbbbbbb", "b"),
                call_delta(1, "{}"),
                call_end(0, "{}"),
                call_start(2, "ccccccccc", "c"),
                call_delta(2, "{}"),
                call_end(1, "{}"),
                call_end(2, "{}"),
                stop(StopReason::ToolUse),
                End,
            ]
        );
    }

    #[test]
    fn choices_get_their_own_parts_and_stop_never_downgrades_tool_use() {
        let choice = |index: u64, delta: &str, finish: &str| {
            format!(
                r#"{{"id":"chatcmpl-1","model":"gpt-4o","choices":[{{"index":{index},"delta":{delta},"finish_reason":{finish}}}]}}"#
            )
        };
        let (events, _) = run(&[
            &choice(0, r#"{"content":"Let me check."}"#, "null"),
            &choice(
                1,
                r#"{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"ls","arguments":"{}"}}]}"#,
                "null",
            ),
            &choice(1, "{}", r#""tool_calls""#),
            &choice(0, "{}", r#""stop""#),
            "[DONE]",
        ]);
        assert_eq!(
            events,
            vec![
                start(),
                text(0, "Let me check."),
                call_start(1, "c1", "ls"),
                call_delta(1, "{}"),
                call_end(1, "{}"),
                stop(StopReason::ToolUse),
                Debug {
                    message: "end_turn of choice 0 does not override tool_use of choice 1".into()
                },
                End,
            ]
        );
    }

    #[test]
    fn usage_normalisation_and_merging() {
        let usage = |json: &str| format!(r#"{{"id":"x","choices":[],"usage":{json}}}"#);
        let (events, _) = run(&[
            &usage(
                r#"{"prompt_tokens":339,"completion_tokens":83,"prompt_tokens_details":{"cached_tokens":320},"completion_tokens_details":{"reasoning_tokens":39},"prompt_cache_hit_tokens":320,"prompt_cache_miss_tokens":19}"#,
            ),
            &usage(r#"{"prompt_tokens":100,"completion_tokens":5,"prompt_cache_hit_tokens":40}"#),
            &usage(
                r#"{"prompt_tokens":100,"prompt_tokens_details":{"cached_tokens":10,"cache_write_tokens":50},"completion_tokens":null}"#,
            ),
            &usage(
                r#"{"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":18446744073709551615}}"#,
            ),
        ]);
        let usages: Vec<crate::message::Usage> = events
            .iter()
            .filter_map(|e| match e {
                Usage(u) => Some(*u),
                _ => None,
            })
            .collect();
        let u = |input, output, read, write, reasoning| crate::message::Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: read,
            cache_write_tokens: write,
            reasoning_tokens: reasoning,
        };
        assert_eq!(
            usages,
            vec![
                u(19, 83, 320, 0, 39),
                u(60, 5, 40, 0, 39),
                u(40, 5, 10, 50, 39),
                u(0, 5, u64::MAX, 50, 39),
            ]
        );
    }

    #[test]
    fn reasoning_counted_outside_completion_is_added_to_output() {
        let (events, _) = run(&[
            r#"{"id":"x","choices":[],"usage":{"prompt_tokens":307,"completion_tokens":26,"total_tokens":560,"prompt_tokens_details":{"cached_tokens":306},"completion_tokens_details":{"reasoning_tokens":227}}}"#,
            r#"{"id":"x","choices":[],"usage":{"prompt_tokens":15,"completion_tokens":78,"total_tokens":93,"completion_tokens_details":{"reasoning_tokens":64}}}"#,
        ]);
        let outputs: Vec<(u64, u64)> = events
            .iter()
            .filter_map(|e| match e {
                Usage(u) => Some((u.output_tokens, u.reasoning_tokens)),
                _ => None,
            })
            .collect();
        assert_eq!(outputs, vec![(253, 227), (78, 64)]);
    }

    #[test]
    fn in_stream_errors() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        decoder
            .decode(
                &event("message", &chunk(r#"{"content":"Hi"}"#, None), 0),
                &mut out,
            )
            .unwrap();
        decoder
            .decode(
                &event(
                    "error",
                    r#"{"error":{"message":"Tool call validation failed","type":"invalid_request_error","code":"tool_use_failed","status_code":400}}"#,
                    10,
                ),
                &mut out,
            )
            .unwrap();
        decoder
            .decode(
                &event(
                    "message",
                    r#"{"error":{"message":"Overloaded","type":"server_error","code":null}}"#,
                    20,
                ),
                &mut out,
            )
            .unwrap();
        decoder
            .decode(&event("error", "upstream reset", 30), &mut out)
            .unwrap();
        let errors: Vec<&crate::provider::ApiError> = out
            .iter()
            .filter_map(|e| match e {
                Error(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[0].code.as_deref(), Some("tool_use_failed"));
        assert_eq!(errors[0].message, "Tool call validation failed");
        assert_eq!(errors[0].status, None);
        assert_eq!(errors[1].kind, ErrorKind::Server);
        assert_eq!(errors[1].code.as_deref(), Some("server_error"));
        assert_eq!(errors[2].message, "upstream reset");
        assert_eq!(
            decoder.finish(&mut out),
            Err(DecodeError::Truncated {
                last_event: "error".into()
            }),
            "an error is not the terminal event"
        );
    }

    #[test]
    fn truncated_stream_ends_open_calls_first() {
        let (events, end) = run(&[&chunk(
            r#"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"write","arguments":"{\"pa"}}]}"#,
            None,
        )]);
        assert_eq!(
            events,
            vec![
                start(),
                call_start(0, "call_1", "write"),
                call_delta(0, "{\"pa"),
                call_end(0, "{\"pa"),
            ]
        );
        assert_eq!(
            end,
            Err(DecodeError::Truncated {
                last_event: "chunk".into()
            })
        );
        let (events, end) = run(&[]);
        assert!(events.is_empty());
        assert_eq!(
            end,
            Err(DecodeError::Truncated {
                last_event: "nothing".into()
            })
        );
    }

    #[test]
    fn malformed_json_is_an_error_for_that_event_only() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        let err = decoder
            .decode(
                &event("message", r#"{"choices":[{"delta":{"content":"x"#, 42),
                &mut out,
            )
            .unwrap_err();
        assert!(
            matches!(&err, DecodeError::InvalidJson { event, offset: 42, .. } if event == "message"),
            "{err:?}"
        );
        decoder
            .decode(
                &event("message", &chunk(r#"{"content":"ok"}"#, None), 90),
                &mut out,
            )
            .unwrap();
        decoder
            .decode(&event("message", "[DONE]", 120), &mut out)
            .unwrap();
        assert_eq!(out, vec![start(), text(0, "ok"), End]);
        assert_eq!(decoder.finish(&mut out), Ok(()));
    }

    #[test]
    fn html_page_instead_of_sse_is_a_typed_error() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        let err = decoder
            .decode(
                &event("message", "<html><body>502 Bad Gateway</body></html>", 0),
                &mut out,
            )
            .unwrap_err();
        assert!(matches!(err, DecodeError::InvalidJson { .. }), "{err:?}");
        assert!(matches!(
            decoder.finish(&mut out),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn replacement_characters_from_the_sse_layer_pass_through() {
        // The SSE layer decodes invalid UTF-8 lossily; U+FFFD arrives inside the JSON.
        let (events, _) = run(&[&chunk("{\"content\":\"a\u{FFFD}b\"}", None), "[DONE]"]);
        assert_eq!(events, vec![start(), text(0, "a\u{FFFD}b"), End]);
    }

    #[test]
    fn out_of_order_events_recover() {
        let (events, _) = run(&[
            // Arguments before the call's id and name: buffered until they come.
            &chunk(
                r#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]}"#,
                None,
            ),
            &chunk(
                r#"{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":":1}"}}]}"#,
                None,
            ),
            // A call that never gets an id is given one when it ends.
            &chunk(
                r#"{"tool_calls":[{"index":1,"function":{"name":"g"}}]}"#,
                None,
            ),
            &chunk("{}", Some("tool_calls")),
            // A fragment for a call that already ended.
            &chunk(
                r#"{"tool_calls":[{"index":0,"function":{"arguments":"x"}}]}"#,
                None,
            ),
            // A finish for a choice never seen.
            r#"{"id":"chatcmpl-1","choices":[{"index":7,"delta":{},"finish_reason":"length"}]}"#,
            "[DONE]",
            &chunk(r#"{"content":"late"}"#, None),
        ]);
        assert_eq!(
            events,
            vec![
                start(),
                call_start(0, "call_1", "f"),
                call_delta(0, "{\"a\""),
                call_delta(0, ":1}"),
                call_end(0, "{\"a\":1}"),
                call_start(1, "cm_call_1", "g"),
                call_end(1, ""),
                stop(StopReason::ToolUse),
                Debug {
                    message: "fragment of an ended tool call skipped".into()
                },
                stop(StopReason::MaxTokens),
                End,
                Debug {
                    message: "event after [DONE] ignored".into()
                },
            ]
        );
    }

    #[test]
    fn skipped_things_give_debug_not_errors() {
        let (events, end) = run(&[
            r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0}]}"#,
            "",
            "42",
            r#"{"id":"chatcmpl-1","object":"chat.completion.chunk"}"#,
            &chunk(
                r#"{"function_call":{"name":"old"},"audio":{"id":"a"},"annotations":[]}"#,
                None,
            ),
            &chunk(
                r#"{"tool_calls":[{"index":0,"id":"ct","type":"custom","custom":{"name":"x"}}]}"#,
                None,
            ),
            &chunk(r#"{"content":{"weird":true}}"#, None),
            r#"{"id":"chatcmpl-1","choices":[7]}"#,
            "[DONE]",
        ]);
        assert_eq!(end, Ok(()));
        assert_eq!(
            debugs(&events),
            vec![
                "prompt_filter_results skipped",
                "payload that is not a JSON object skipped",
                "chunk without choices or usage skipped",
                "legacy function_call delta skipped",
                "audio skipped",
                "tool call of type custom skipped",
                "content that is neither text nor a list skipped",
                "choice that is not an object skipped",
            ]
        );
        assert_eq!(
            events.iter().filter(|e| matches!(e, Start { .. })).count(),
            1
        );
        assert_eq!(
            events[2],
            Start {
                id: Some("chatcmpl-1".into()),
                model: None
            },
            "the empty id of Azure's filter chunk does not start the message"
        );
    }

    #[test]
    fn body_decodes_to_the_same_events() {
        let body = br#"{"id":"chatcmpl-9","object":"chat.completion","model":"deepseek-reasoner",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Checking.","reasoning_content":"Need a tool.",
              "tool_calls":[{"id":"call_00_x","type":"function","function":{"name":"ls","arguments":"{\"d\":\".\"}"}}]},
              "finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":30,"completion_tokens":20,"prompt_cache_hit_tokens":10,"completion_tokens_details":{"reasoning_tokens":5}}}"#;
        assert_eq!(
            decode_body(body).unwrap(),
            vec![
                Start {
                    id: Some("chatcmpl-9".into()),
                    model: Some("deepseek-reasoner".into())
                },
                ReasoningDelta {
                    part: 0,
                    text: "Need a tool.".into()
                },
                reasoning_end(0),
                text(1, "Checking."),
                call_start(2, "call_00_x", "ls"),
                Usage(crate::message::Usage {
                    input_tokens: 20,
                    output_tokens: 20,
                    cache_read_tokens: 10,
                    cache_write_tokens: 0,
                    reasoning_tokens: 5,
                }),
                call_end(2, "{\"d\":\".\"}"),
                stop(StopReason::ToolUse),
                End,
            ]
        );
    }

    #[test]
    fn body_errors_and_non_responses() {
        let events = decode_body(
            br#"{"error":{"message":"Rate limit","type":"tokens","code":"rate_limit_exceeded"}}"#,
        )
        .unwrap();
        assert!(
            matches!(&events[..], [Error(e)] if e.kind == ErrorKind::RateLimited && e.status.is_none()),
            "{events:?}"
        );
        assert!(matches!(
            decode_body(b"<html>oops</html>"),
            Err(DecodeError::NotAResponse { start }) if start == "<html>oops</html>"
        ));
        assert_eq!(
            decode_body(br#"{"id":"x"}"#),
            Err(DecodeError::MissingField {
                event: "body".into(),
                field: "choices"
            })
        );
        assert!(matches!(
            decode_body(b"[1,2]"),
            Err(DecodeError::NotAResponse { .. })
        ));
    }

    /// Feeds `payloads` to two decoders, one through the typed fast path where it takes
    /// the chunk and one always through the `Value` path; returns both event lists and
    /// whether each payload took the fast path.
    fn both_paths(payloads: &[&str]) -> (Vec<StreamEvent>, Vec<StreamEvent>, Vec<bool>) {
        let mut typed = StreamDecoder::new();
        let mut general = StreamDecoder::new();
        let (mut typed_out, mut general_out, mut fast) = (Vec::new(), Vec::new(), Vec::new());
        for data in payloads {
            typed
                .decode(&event("message", data, 0), &mut typed_out)
                .unwrap();
            fast.push(FastChunk::parse(data).is_some());
            let value: Value = serde_json::from_str(data).unwrap();
            match value.as_object() {
                Some(chunk) if !is_error(&value) => general.chunk(chunk, &mut general_out),
                _ => general.error(Some(&value), data, &mut general_out),
            }
        }
        (typed_out, general_out, fast)
    }

    #[test]
    fn fast_path_gives_the_events_of_the_value_path() {
        let payloads = [
            r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"hm\n"}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"Hi \"there\""}}]}"#,
            r#"{"id":"c1","choices":[{"index":1,"delta":{"refusal":"no"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":3,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":3,"function":{"arguments":"\":1}"}},{"type":"web","id":"x"}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"id":"call_2","function":{"name":"g"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}"#,
            r#"{"choices":[]}"#,
        ];
        let (typed, general, fast) = both_paths(&payloads);
        assert!(fast.iter().all(|f| *f), "{fast:?}");
        assert_eq!(typed, general);
        assert!(typed.contains(&ToolCallEnd {
            part: 3,
            arguments: "{\"a\":1}".into()
        }));
    }

    #[test]
    fn unusual_shapes_take_the_value_path() {
        let payloads = [
            // Mistral's content list, an index that is not an unsigned integer, a choice
            // and a delta that are not objects (nor their array form), arguments that are
            // an object, a duplicate key, Azure's filter results, a legacy function call.
            r#"{"id":"c1","choices":[{"index":0,"delta":{"content":[{"type":"text","text":"a"}]}}]}"#,
            r#"{"choices":[{"index":-1,"delta":{"content":"b"}}]}"#,
            r#"{"choices":[[0,{"content":"c"},null]]}"#,
            r#"{"choices":[{"index":0,"delta":[{"content":"d"}]}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"id":"k","function":{"name":"f","arguments":{"x":1}}}]}}]}"#,
            r#"{"choices":[{"delta":{"content":"e","content":"f"}}]}"#,
            r#"{"choices":[],"prompt_filter_results":null}"#,
            r#"{"choices":[{"delta":{"function_call":{"name":"old"},"audio":[]}}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":1.5}}"#,
            r#"{"error":{"message":"boom","type":"server_error"}}"#,
        ];
        let (typed, general, fast) = both_paths(&payloads);
        assert!(fast.iter().all(|f| !*f), "{fast:?}");
        assert_eq!(typed, general);
        assert!(typed.contains(&Debug {
            message: "choice that is not an object skipped".into()
        }));
    }
}
