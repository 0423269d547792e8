//! Decoding `streamGenerateContent?alt=sse` streams and whole `generateContent` bodies.
//!
//! Every payload is a whole `GenerateContentResponse`. The decoder keeps the open text
//! part, the open reasoning part (with a signature that may still come) and the tool calls
//! of `candidates[0]`; other candidates are skipped with a `Debug`. A text part continues
//! the open text part until a thought, a call or a signature intervenes. The chunk with a
//! `finishReason` (or a blocked prompt's `promptFeedback.blockReason`) ends the response:
//! open parts close, then `Usage`, `Stop` and `End`.

use serde_json::{Map, Value};

use super::error::{in_stream_error, is_error};
use super::typed::FastResponse;
use crate::message::{StopReason, Usage};
use crate::provider::typed::{opt_str, Object};
use crate::provider::{DecodeError, StreamEvent};
use crate::sse;

/// The largest array index a streamed argument path may name beyond the array's end.
const MAX_INDEX_GAP: usize = 1024;

/// Decodes one streamed Gemini response.
///
/// `Start` comes with the first payload (`responseId`, `modelVersion`). Calls without an
/// `id` get `call_<part>_<responseId>` (or `call_<part>` without a response id), valid
/// under Gemini's id rule. A complete `functionCall` gives `ToolCallStart`,
/// `ToolCallSignature` when it has a `thoughtSignature`, and `ToolCallEnd` at once; a
/// Vertex call announced with `willContinue: true` stays open while its `partialArgs`
/// are merged into an argument object (no `ToolCallDelta`s: the pieces are values at JSON
/// paths, not text), and ends at the next `functionCall` without a name (`{}`).
/// A `thoughtSignature` on a text part becomes the signature of the open reasoning part,
/// or of a new empty reasoning part. Malformed JSON in a payload gives
/// [`DecodeError::InvalidJson`] for that event only; the decoder stays usable.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    ended: bool,
    response_id: Option<String>,
    next_part: usize,
    text_part: Option<usize>,
    reasoning: Option<OpenReasoning>,
    streaming_call: Option<StreamingCall>,
    made_calls: bool,
    usage: Counters,
    last_event: String,
}

#[derive(Debug)]
struct OpenReasoning {
    part: usize,
    signature: Option<String>,
}

#[derive(Debug)]
struct StreamingCall {
    part: usize,
    arguments: Value,
}

/// The last value reported for each `usageMetadata` counter.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) prompt: Option<u64>,
    pub(super) cached: Option<u64>,
    pub(super) candidates: Option<u64>,
    pub(super) thoughts: Option<u64>,
    pub(super) total: Option<u64>,
}

impl Counters {
    /// The counters of a `usageMetadata` object; a count that is not an unsigned integer
    /// is not reported.
    fn from_map(usage: &Map<String, Value>) -> Counters {
        let count = |key: &str| usage.get(key).and_then(Value::as_u64);
        Counters {
            prompt: count("promptTokenCount"),
            cached: count("cachedContentTokenCount"),
            candidates: count("candidatesTokenCount"),
            thoughts: count("thoughtsTokenCount"),
            total: count("totalTokenCount"),
        }
    }
}

impl StreamDecoder {
    /// A decoder for a new response.
    pub fn new() -> StreamDecoder {
        StreamDecoder {
            last_event: "nothing".into(),
            ..StreamDecoder::default()
        }
    }

    fn chunk(&mut self, chunk: &Map<String, Value>, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            self.response_id = non_empty_str(chunk.get("responseId"));
            out.push(StreamEvent::Start {
                id: self.response_id.clone(),
                model: non_empty_str(chunk.get("modelVersion")),
            });
        }
        self.last_event = "chunk".into();
        let candidates: &[Value] = chunk
            .get("candidates")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let mut finish = None;
        for (position, candidate) in candidates.iter().enumerate() {
            let index = candidate.get("index").and_then(Value::as_u64).unwrap_or(0);
            if position > 0 || index != 0 {
                out.push(debug(&format!(
                    "candidate {index} skipped (only the first is read)"
                )));
                continue;
            }
            let parts = candidate
                .pointer("/content/parts")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            for part in parts {
                match part.as_object() {
                    Some(part) => self.part(part, out),
                    None => out.push(debug("part that is not an object skipped")),
                }
            }
            finish = non_empty_str(candidate.get("finishReason"));
        }
        if let Some(usage) = chunk.get("usageMetadata").and_then(Value::as_object) {
            self.usage(Counters::from_map(usage), out);
        }
        let blocked = chunk
            .get("promptFeedback")
            .and_then(|f| f.get("blockReason"))
            .and_then(Value::as_str);
        if let Some(block) = blocked {
            let message = chunk
                .get("promptFeedback")
                .and_then(|f| f.get("blockReasonMessage"))
                .and_then(Value::as_str)
                .map_or(String::new(), |m| format!(": {m}"));
            out.push(debug(&format!("prompt blocked ({block}){message}")));
            self.last_event = format!("promptFeedback.blockReason {block}");
            self.end(StopReason::ContentFilter, out);
        } else if let Some(reason) = finish {
            self.finished(&reason, out);
        }
    }

    /// [`StreamDecoder::chunk`] for a response of the usual shape, parsed without a
    /// `Value` tree; it gives the same events.
    fn fast_chunk(&mut self, chunk: &FastResponse<'_>, out: &mut Vec<StreamEvent>) {
        let non_empty = |text: Option<&str>| text.filter(|t| !t.is_empty()).map(str::to_string);
        if !self.started {
            self.started = true;
            self.response_id = non_empty(opt_str(&chunk.response_id));
            out.push(StreamEvent::Start {
                id: self.response_id.clone(),
                model: non_empty(opt_str(&chunk.model_version)),
            });
        }
        self.last_event = "chunk".into();
        let mut finish = None;
        for (position, Object(candidate)) in chunk.candidates.iter().flatten().enumerate() {
            let index = candidate.index.unwrap_or(0);
            if position > 0 || index != 0 {
                out.push(debug(&format!(
                    "candidate {index} skipped (only the first is read)"
                )));
                continue;
            }
            let parts = candidate
                .content
                .iter()
                .flat_map(|content| content.0.parts.iter().flatten());
            for Object(part) in parts {
                let text = opt_str(&part.text).unwrap_or_default();
                let signature = non_empty(opt_str(&part.thought_signature));
                self.text_part(text, part.thought == Some(true), signature, out);
            }
            finish = non_empty(opt_str(&candidate.finish_reason));
        }
        if let Some(usage) = &chunk.usage_metadata {
            self.usage(usage.0.counters(), out);
        }
        if let Some(reason) = finish {
            self.finished(&reason, out);
        }
    }

    /// The chunk with `finishReason` `reason` ends the response.
    fn finished(&mut self, reason: &str, out: &mut Vec<StreamEvent>) {
        let stop = self.stop_reason(reason, out);
        self.last_event = format!("chunk with finishReason {reason}");
        self.end(stop, out);
    }

    fn part(&mut self, part: &Map<String, Value>, out: &mut Vec<StreamEvent>) {
        let signature = non_empty_str(part.get("thoughtSignature"));
        if let Some(call) = part.get("functionCall") {
            match call.as_object() {
                Some(call) => self.function_call(call, signature, out),
                None => out.push(debug("functionCall that is not an object skipped")),
            }
            return;
        }
        if let Some(text) = part.get("text") {
            let text = text.as_str().unwrap_or_default();
            let thought = part.get("thought").and_then(Value::as_bool) == Some(true);
            self.text_part(text, thought, signature, out);
            return;
        }
        if let Some(signature) = signature {
            self.sign_reasoning(signature, out);
        }
        let kind = part
            .keys()
            .find(|k| k.as_str() != "thoughtSignature")
            .map_or("empty", String::as_str);
        out.push(debug(&format!("{kind} part skipped")));
    }

    /// A part with `text`: a thought, or answer text (after which a signature it carries
    /// signs the reasoning before it).
    fn text_part(
        &mut self,
        text: &str,
        thought: bool,
        signature: Option<String>,
        out: &mut Vec<StreamEvent>,
    ) {
        if thought {
            self.thought(text, signature, out);
        } else {
            if let Some(signature) = signature {
                self.sign_reasoning(signature, out);
            }
            self.text(text, out);
        }
    }

    fn text(&mut self, text: &str, out: &mut Vec<StreamEvent>) {
        if text.is_empty() {
            return;
        }
        self.end_reasoning(out);
        let part = match self.text_part {
            Some(part) => part,
            None => {
                let part = self.new_part();
                self.text_part = Some(part);
                part
            }
        };
        out.push(StreamEvent::TextDelta {
            part,
            text: text.to_string(),
        });
    }

    fn thought(&mut self, text: &str, signature: Option<String>, out: &mut Vec<StreamEvent>) {
        if text.is_empty() && signature.is_none() {
            return;
        }
        self.text_part = None;
        let part = self.open_reasoning();
        if !text.is_empty() {
            out.push(StreamEvent::ReasoningDelta {
                part,
                text: text.to_string(),
            });
        }
        if let Some(signature) = signature {
            self.sign_reasoning(signature, out);
        }
    }

    /// Gives the open reasoning part `signature` and closes it; without an open part, or
    /// with one already signed, an empty reasoning part carries it.
    fn sign_reasoning(&mut self, signature: String, out: &mut Vec<StreamEvent>) {
        if self
            .reasoning
            .as_ref()
            .is_some_and(|r| r.signature.is_some())
        {
            self.end_reasoning(out);
        }
        self.text_part = None;
        self.open_reasoning();
        if let Some(reasoning) = &mut self.reasoning {
            reasoning.signature = Some(signature);
        }
        self.end_reasoning(out);
    }

    fn open_reasoning(&mut self) -> usize {
        if let Some(reasoning) = &self.reasoning {
            return reasoning.part;
        }
        let part = self.new_part();
        self.reasoning = Some(OpenReasoning {
            part,
            signature: None,
        });
        part
    }

    fn end_reasoning(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(reasoning) = self.reasoning.take() {
            out.push(StreamEvent::ReasoningEnd {
                part: reasoning.part,
                signature: reasoning.signature,
                redacted: None,
                encrypted: None,
                id: None,
            });
        }
    }

    fn function_call(
        &mut self,
        call: &Map<String, Value>,
        signature: Option<String>,
        out: &mut Vec<StreamEvent>,
    ) {
        let name = non_empty_str(call.get("name"));
        let will_continue = call.get("willContinue").and_then(Value::as_bool) == Some(true);
        let partial = call.get("partialArgs").and_then(Value::as_array);
        if name.is_none() {
            // A continuation of the streaming call: more arguments, or its end.
            let Some(streaming) = &mut self.streaming_call else {
                out.push(debug(
                    "functionCall without a name and no open call skipped",
                ));
                return;
            };
            for arg in partial.into_iter().flatten() {
                if let Err(why) = apply_partial_arg(&mut streaming.arguments, arg) {
                    out.push(debug(&format!("partialArgs entry skipped: {why}")));
                }
            }
            if let Some(signature) = signature {
                out.push(StreamEvent::ToolCallSignature {
                    part: streaming.part,
                    signature,
                });
            }
            if !will_continue {
                self.end_streaming_call(out);
            }
            return;
        }
        self.end_streaming_call(out);
        self.end_reasoning(out);
        self.text_part = None;
        self.made_calls = true;
        let part = self.new_part();
        let id = non_empty_str(call.get("id")).unwrap_or_else(|| match &self.response_id {
            Some(response) => format!("call_{part}_{response}"),
            None => format!("call_{part}"),
        });
        out.push(StreamEvent::ToolCallStart {
            part,
            id,
            name: name.unwrap_or_default(),
            item_id: None,
        });
        if let Some(signature) = signature {
            out.push(StreamEvent::ToolCallSignature { part, signature });
        }
        if will_continue && !call.contains_key("args") {
            let mut streaming = StreamingCall {
                part,
                arguments: Value::Object(Map::new()),
            };
            for arg in partial.into_iter().flatten() {
                if let Err(why) = apply_partial_arg(&mut streaming.arguments, arg) {
                    out.push(debug(&format!("partialArgs entry skipped: {why}")));
                }
            }
            self.streaming_call = Some(streaming);
            return;
        }
        let arguments = match call.get("args") {
            Some(Value::Null) | None => "{}".to_string(),
            Some(args) => args.to_string(),
        };
        out.push(StreamEvent::ToolCallEnd { part, arguments });
    }

    fn end_streaming_call(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(call) = self.streaming_call.take() {
            out.push(StreamEvent::ToolCallEnd {
                part: call.part,
                arguments: call.arguments.to_string(),
            });
        }
    }

    fn stop_reason(&self, reason: &str, out: &mut Vec<StreamEvent>) -> StopReason {
        match reason {
            "STOP" if self.made_calls => StopReason::ToolUse,
            "STOP" => StopReason::EndTurn,
            "MAX_TOKENS" => StopReason::MaxTokens,
            "SAFETY"
            | "RECITATION"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION" => {
                out.push(debug(&format!(
                    "output stopped by Gemini's filter ({reason})"
                )));
                StopReason::ContentFilter
            }
            other => StopReason::Other(other.to_string()),
        }
    }

    /// Merges one `usageMetadata` report and emits the normalised snapshot, if it has
    /// any token count (Vertex's early chunks carry only `trafficType`).
    fn usage(&mut self, reported: Counters, out: &mut Vec<StreamEvent>) {
        let u = &mut self.usage;
        let any = reported.prompt.is_some()
            || reported.cached.is_some()
            || reported.candidates.is_some()
            || reported.thoughts.is_some()
            || reported.total.is_some();
        if !any {
            return;
        }
        u.prompt = reported.prompt.or(u.prompt);
        u.cached = reported.cached.or(u.cached);
        u.candidates = reported.candidates.or(u.candidates);
        u.thoughts = reported.thoughts.or(u.thoughts);
        u.total = reported.total.or(u.total);
        let prompt = u.prompt.unwrap_or(0);
        let cached = u.cached.unwrap_or(0);
        let candidates = u.candidates.unwrap_or(0);
        let thoughts = u.thoughts.unwrap_or(0);
        // Gemini leaves thoughts out of `candidatesTokenCount`; should a total show them
        // already counted there, they are not added twice.
        let thoughts_inside = thoughts > 0 && u.total == prompt.checked_add(candidates);
        out.push(StreamEvent::Usage(Usage {
            input_tokens: prompt.saturating_sub(cached),
            output_tokens: if thoughts_inside {
                candidates
            } else {
                candidates.saturating_add(thoughts)
            },
            cache_read_tokens: cached,
            cache_write_tokens: 0,
            reasoning_tokens: thoughts,
        }));
    }

    /// Closes what is open, then `Stop` and `End`.
    fn end(&mut self, stop: StopReason, out: &mut Vec<StreamEvent>) {
        self.end_reasoning(out);
        self.end_streaming_call(out);
        out.push(StreamEvent::Stop {
            reason: stop,
            sequence: None,
        });
        out.push(StreamEvent::End);
        self.ended = true;
    }

    fn new_part(&mut self) -> usize {
        let part = self.next_part;
        self.next_part = self.next_part.saturating_add(1);
        part
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
                out.push(debug("payload after the finishing chunk ignored"));
            }
            return Ok(());
        }
        let named_error = event.event == "error";
        if data.is_empty() && !named_error {
            return Ok(());
        }
        if !named_error {
            // The hot path: a response of the usual shape, parsed without a `Value` tree.
            if let Some(chunk) = FastResponse::parse(data) {
                self.fast_chunk(&chunk, out);
                return Ok(());
            }
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(_) if named_error => {
                self.last_event = "error".into();
                out.push(StreamEvent::Error(in_stream_error(None, data.as_bytes())));
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
            self.last_event = "error".into();
            out.push(StreamEvent::Error(in_stream_error(
                Some(&value),
                data.as_bytes(),
            )));
            return Ok(());
        }
        match value.as_object() {
            Some(chunk) => self.chunk(chunk, out),
            None => out.push(debug("payload that is not a JSON object skipped")),
        }
        Ok(())
    }

    /// Without a finishing chunk, closes an open reasoning part and streaming call, then
    /// reports [`DecodeError::Truncated`].
    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError> {
        if self.ended {
            return Ok(());
        }
        self.end_reasoning(out);
        self.end_streaming_call(out);
        Err(DecodeError::Truncated {
            last_event: self.last_event.clone(),
        })
    }
}

/// Decodes a non-streaming `generateContent` body (or the JSON array of responses that
/// `streamGenerateContent` gives without `alt=sse`) into the events a stream would give.
/// A response without a `finishReason` still ends with `End`. An error body gives
/// `[Error]`; a body that is not JSON, [`DecodeError::NotAResponse`].
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
    let responses: Vec<&Map<String, Value>> = match &value {
        Value::Object(response) => vec![response],
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        _ => return Err(not_a_response()),
    };
    if responses.is_empty() {
        return Err(not_a_response());
    }
    let mut decoder = StreamDecoder::new();
    let mut out = Vec::new();
    for response in responses {
        if decoder.ended {
            out.push(debug("response after the finishing one ignored"));
            break;
        }
        decoder.chunk(response, &mut out);
    }
    if !decoder.ended {
        decoder.end_reasoning(&mut out);
        decoder.end_streaming_call(&mut out);
        out.push(StreamEvent::End);
    }
    Ok(out)
}

/// Merges one `partialArgs` entry (`{jsonPath, stringValue | numberValue | boolValue |
/// nullValue}`) into `arguments`: a string value is appended to the string already at the
/// path, any other value replaces it.
fn apply_partial_arg(arguments: &mut Value, arg: &Value) -> Result<(), String> {
    let path = arg
        .get("jsonPath")
        .and_then(Value::as_str)
        .ok_or("no jsonPath")?;
    let segments = parse_path(path).ok_or_else(|| format!("unsupported jsonPath {path:?}"))?;
    let slot = slot_at(arguments, &segments)
        .ok_or_else(|| format!("jsonPath {path:?} does not fit the arguments"))?;
    if let Some(piece) = arg.get("stringValue").and_then(Value::as_str) {
        match slot {
            Value::String(text) => text.push_str(piece),
            other => *other = Value::String(piece.to_string()),
        }
    } else if let Some(number) = arg.get("numberValue").filter(|v| v.is_number()) {
        *slot = number.clone();
    } else if let Some(flag) = arg.get("boolValue").filter(|v| v.is_boolean()) {
        *slot = flag.clone();
    } else if arg.get("nullValue").is_some() {
        *slot = Value::Null;
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// `$.a.b[0]["c d"]` as segments; `None` for anything else.
fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let mut rest = path.strip_prefix('$')?;
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            segments.push(Segment::Key(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = &after[..end];
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(key) => segments.push(Segment::Key(key.to_string())),
                None => segments.push(Segment::Index(inner.parse().ok()?)),
            }
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(segments)
}

/// The value at `segments`, creating objects, arrays and nulls on the way.
fn slot_at<'v>(mut value: &'v mut Value, segments: &[Segment]) -> Option<&'v mut Value> {
    for segment in segments {
        value = match segment {
            Segment::Key(key) => {
                if !value.is_object() {
                    *value = Value::Object(Map::new());
                }
                value
                    .as_object_mut()?
                    .entry(key.clone())
                    .or_insert(Value::Null)
            }
            Segment::Index(index) => {
                if !value.is_array() {
                    *value = Value::Array(Vec::new());
                }
                let items = value.as_array_mut()?;
                if *index > items.len().saturating_add(MAX_INDEX_GAP) {
                    return None;
                }
                if items.len() <= *index {
                    items.resize(index.checked_add(1)?, Value::Null);
                }
                items.get_mut(*index)?
            }
        };
    }
    Some(value)
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

    fn event(data: &str, offset: u64) -> sse::Event {
        sse::Event {
            event: "message".into(),
            data: data.into(),
            id: String::new(),
            offset,
        }
    }

    /// Feeds each payload, then finishes.
    fn run(payloads: &[&str]) -> (Vec<StreamEvent>, Result<(), DecodeError>) {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        for (i, data) in payloads.iter().enumerate() {
            decoder
                .decode(&event(data, i as u64 * 100), &mut out)
                .unwrap();
        }
        let end = decoder.finish(&mut out);
        (out, end)
    }

    fn chunk(parts: &str, finish: Option<&str>) -> String {
        let finish = finish.map_or(String::new(), |f| format!(r#","finishReason":"{f}""#));
        format!(
            r#"{{"candidates":[{{"content":{{"role":"model","parts":[{parts}]}}{finish},"index":0}}],"modelVersion":"gemini-3-pro","responseId":"r1"}}"#
        )
    }

    fn start() -> StreamEvent {
        Start {
            id: Some("r1".into()),
            model: Some("gemini-3-pro".into()),
        }
    }

    fn text(part: usize, text: &str) -> StreamEvent {
        TextDelta {
            part,
            text: text.into(),
        }
    }

    fn stop(reason: StopReason) -> StreamEvent {
        Stop {
            reason,
            sequence: None,
        }
    }

    fn reasoning_end(part: usize, signature: Option<&str>) -> StreamEvent {
        ReasoningEnd {
            part,
            signature: signature.map(str::to_string),
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

    fn call_end(part: usize, arguments: &str) -> StreamEvent {
        ToolCallEnd {
            part,
            arguments: arguments.into(),
        }
    }

    #[test]
    fn text_chunks_continue_one_part_and_the_finish_chunk_ends_the_response() {
        let (out, end) = run(&[
            &chunk(r#"{"text":"Hello"}"#, None),
            &chunk(r#"{"text":", world"}"#, None),
            &chunk(r#"{"text":""}"#, Some("STOP")),
        ]);
        assert_eq!(
            out,
            vec![
                start(),
                text(0, "Hello"),
                text(0, ", world"),
                stop(StopReason::EndTurn),
                End
            ]
        );
        assert_eq!(end, Ok(()));
    }

    #[test]
    fn thoughts_are_reasoning_and_a_signature_on_an_empty_text_part_signs_it() {
        let (out, _) = run(&[
            &chunk(r#"{"text":"Let me think","thought":true}"#, None),
            &chunk(r#"{"text":" hard.","thought":true}"#, None),
            &chunk(r#"{"text":"Answer."}"#, None),
            &chunk(r#"{"text":"","thoughtSignature":"SIG"}"#, Some("STOP")),
        ]);
        assert_eq!(
            out,
            vec![
                start(),
                ReasoningDelta {
                    part: 0,
                    text: "Let me think".into()
                },
                ReasoningDelta {
                    part: 0,
                    text: " hard.".into()
                },
                reasoning_end(0, None),
                text(1, "Answer."),
                reasoning_end(2, Some("SIG")),
                stop(StopReason::EndTurn),
                End
            ]
        );
    }

    #[test]
    fn a_signature_on_a_thought_part_stays_with_that_reasoning() {
        let (out, _) = run(&[&chunk(
            r#"{"text":"hmm","thought":true,"thoughtSignature":"S1"},{"text":"Hi","thoughtSignature":"S2"}"#,
            Some("STOP"),
        )]);
        assert_eq!(
            out,
            vec![
                start(),
                ReasoningDelta {
                    part: 0,
                    text: "hmm".into()
                },
                reasoning_end(0, Some("S1")),
                reasoning_end(1, Some("S2")),
                text(2, "Hi"),
                stop(StopReason::EndTurn),
                End
            ]
        );
    }

    #[test]
    fn function_calls_are_complete_and_keep_their_signature() {
        let (out, _) = run(&[
            &chunk(
                r#"{"text":"Checking."},{"functionCall":{"name":"weather","args":{"city":"Paris \"FR\""}},"thoughtSignature":"SIG"},{"functionCall":{"id":"fc-7","name":"time"}}"#,
                None,
            ),
            &chunk(r#"{"text":""}"#, Some("STOP")),
        ]);
        assert_eq!(
            out,
            vec![
                start(),
                text(0, "Checking."),
                call_start(1, "call_1_r1", "weather"),
                ToolCallSignature {
                    part: 1,
                    signature: "SIG".into()
                },
                call_end(1, r#"{"city":"Paris \"FR\""}"#),
                call_start(2, "fc-7", "time"),
                call_end(2, "{}"),
                stop(StopReason::ToolUse),
                End
            ]
        );
        let mut assembler = crate::provider::MessageAssembler::new(Default::default());
        out.iter().for_each(|e| assembler.push(e));
        let message = assembler.finish().message;
        let calls: Vec<_> = message.tool_calls().collect();
        assert_eq!(calls[0].signature.as_deref(), Some("SIG"));
        assert_eq!(calls[1].signature, None);
    }

    #[test]
    fn streamed_partial_args_are_merged_into_the_arguments() {
        let (out, _) = run(&[
            &chunk(
                r#"{"functionCall":{"name":"edit","willContinue":true},"thoughtSignature":"S"}"#,
                None,
            ),
            &chunk(
                r#"{"functionCall":{"partialArgs":[{"jsonPath":"$.path","stringValue":"src/","willContinue":true}],"willContinue":true}}"#,
                None,
            ),
            &chunk(
                r#"{"functionCall":{"partialArgs":[{"jsonPath":"$.path","stringValue":"main.rs"},{"jsonPath":"$.lines[1]","numberValue":7},{"jsonPath":"$.opts['dry run']","boolValue":true},{"jsonPath":"$.x","nullValue":"NULL_VALUE"}],"willContinue":true}}"#,
                None,
            ),
            &chunk(
                r#"{"functionCall":{"partialArgs":[{"jsonPath":"bogus","stringValue":"?"}],"willContinue":true}}"#,
                None,
            ),
            &chunk(r#"{"functionCall":{}}"#, Some("STOP")),
        ]);
        assert_eq!(out[1], call_start(0, "call_0_r1", "edit"));
        assert_eq!(
            out[2],
            ToolCallSignature {
                part: 0,
                signature: "S".into()
            }
        );
        assert_eq!(
            out[3],
            Debug {
                message: "partialArgs entry skipped: unsupported jsonPath \"bogus\"".into()
            }
        );
        let StreamEvent::ToolCallEnd { part: 0, arguments } = &out[4] else {
            panic!("{out:?}");
        };
        let args: Value = serde_json::from_str(arguments).unwrap();
        assert_eq!(
            args,
            serde_json::json!({"path": "src/main.rs", "lines": [null, 7], "opts": {"dry run": true}, "x": null})
        );
        assert_eq!(&out[5..], &[stop(StopReason::ToolUse), End]);
    }

    #[test]
    fn a_continuation_without_an_open_call_is_skipped() {
        let (out, _) = run(&[&chunk(
            r#"{"functionCall":{"partialArgs":[]}}"#,
            Some("STOP"),
        )]);
        assert_eq!(
            out,
            vec![
                start(),
                Debug {
                    message: "functionCall without a name and no open call skipped".into()
                },
                stop(StopReason::EndTurn),
                End
            ]
        );
    }

    #[test]
    fn usage_is_the_last_running_total_with_thoughts_in_the_output() {
        let (out, _) = run(&[
            r#"{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"trafficType":"ON_DEMAND"}}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":60,"candidatesTokenCount":10,"thoughtsTokenCount":5,"totalTokenCount":115}}"#,
        ]);
        let usages: Vec<&StreamEvent> = out.iter().filter(|e| matches!(e, Usage(_))).collect();
        assert_eq!(
            usages,
            vec![&Usage(crate::message::Usage {
                input_tokens: 40,
                output_tokens: 15,
                cache_read_tokens: 60,
                cache_write_tokens: 0,
                reasoning_tokens: 5,
            })],
            "the counter-less chunk gives no usage"
        );
        // A total that shows thoughts inside the candidates count: not added twice.
        let (out, _) = run(&[
            r#"{"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":30,"thoughtsTokenCount":20,"totalTokenCount":40}}"#,
        ]);
        assert!(out.contains(&Usage(crate::message::Usage {
            input_tokens: 10,
            output_tokens: 30,
            reasoning_tokens: 20,
            ..Default::default()
        })));
    }

    #[test]
    fn every_finish_reason_maps() {
        for (reason, want, filtered) in [
            ("STOP", StopReason::EndTurn, false),
            ("MAX_TOKENS", StopReason::MaxTokens, false),
            ("SAFETY", StopReason::ContentFilter, true),
            ("RECITATION", StopReason::ContentFilter, true),
            ("BLOCKLIST", StopReason::ContentFilter, true),
            ("PROHIBITED_CONTENT", StopReason::ContentFilter, true),
            ("SPII", StopReason::ContentFilter, true),
            ("IMAGE_SAFETY", StopReason::ContentFilter, true),
            (
                "MALFORMED_FUNCTION_CALL",
                StopReason::Other("MALFORMED_FUNCTION_CALL".into()),
                false,
            ),
            ("OTHER", StopReason::Other("OTHER".into()), false),
        ] {
            let (out, end) = run(&[&chunk(r#"{"text":"x"}"#, Some(reason))]);
            assert_eq!(end, Ok(()), "{reason}");
            assert_eq!(out[out.len() - 2], stop(want), "{reason}");
            let debug = Debug {
                message: format!("output stopped by Gemini's filter ({reason})"),
            };
            assert_eq!(out.contains(&debug), filtered, "{reason}");
        }
    }

    #[test]
    fn a_blocked_prompt_is_a_content_filter_stop() {
        let (out, end) = run(&[
            r#"{"promptFeedback":{"blockReason":"SAFETY","blockReasonMessage":"unsafe prompt"},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"responseId":"r1","modelVersion":"gemini-3-pro"}"#,
        ]);
        assert_eq!(end, Ok(()));
        assert_eq!(
            out,
            vec![
                start(),
                Usage(crate::message::Usage {
                    input_tokens: 8,
                    ..Default::default()
                }),
                Debug {
                    message: "prompt blocked (SAFETY): unsafe prompt".into()
                },
                stop(StopReason::ContentFilter),
                End
            ]
        );
    }

    #[test]
    fn an_error_payload_is_an_in_stream_error() {
        let (out, end) = run(&[
            &chunk(r#"{"text":"a"}"#, None),
            r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#,
        ]);
        let Error(error) = &out[2] else {
            panic!("{out:?}")
        };
        assert_eq!(error.kind, ErrorKind::Overloaded);
        assert_eq!(error.message, "The model is overloaded.");
        assert_eq!(error.status, None);
        assert_eq!(
            end,
            Err(DecodeError::Truncated {
                last_event: "error".into()
            })
        );
    }

    #[test]
    fn payloads_after_the_end_are_ignored() {
        let (out, _) = run(&[
            &chunk(r#"{"text":"a"}"#, Some("STOP")),
            &chunk(r#"{"text":"b"}"#, None),
        ]);
        assert_eq!(
            out.last(),
            Some(&Debug {
                message: "payload after the finishing chunk ignored".into()
            })
        );
        assert!(!out.contains(&text(0, "b")));
    }

    #[test]
    fn unknown_parts_and_extra_candidates_give_debug() {
        let (out, _) = run(&[
            r#"{"candidates":[{"content":{"parts":[{"executableCode":{"code":"1"}},{"text":"a"},7]},"index":0},{"content":{"parts":[{"text":"b"}]},"index":1}]}"#,
        ]);
        assert_eq!(
            out,
            vec![
                Start {
                    id: None,
                    model: None
                },
                Debug {
                    message: "executableCode part skipped".into()
                },
                text(0, "a"),
                Debug {
                    message: "part that is not an object skipped".into()
                },
                Debug {
                    message: "candidate 1 skipped (only the first is read)".into()
                },
            ]
        );
    }

    #[test]
    fn a_stream_without_a_finish_reason_is_truncated_and_open_things_close() {
        let (out, end) = run(&[
            &chunk(r#"{"text":"hm","thought":true}"#, None),
            &chunk(r#"{"functionCall":{"name":"f","willContinue":true}}"#, None),
            &chunk(
                r#"{"functionCall":{"partialArgs":[{"jsonPath":"$.a","stringValue":"x"}],"willContinue":true}}"#,
                None,
            ),
        ]);
        assert_eq!(out.last(), Some(&call_end(1, r#"{"a":"x"}"#)));
        assert_eq!(
            end,
            Err(DecodeError::Truncated {
                last_event: "chunk".into()
            })
        );
    }

    #[test]
    fn malformed_json_is_an_error_and_the_decoder_recovers() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        let err = decoder
            .decode(&event("{\"candidates\":[", 42), &mut out)
            .unwrap_err();
        assert!(
            matches!(err, DecodeError::InvalidJson { offset: 42, .. }),
            "{err:?}"
        );
        decoder
            .decode(
                &event(&chunk(r#"{"text":"ok"}"#, Some("STOP")), 99),
                &mut out,
            )
            .unwrap();
        assert_eq!(
            out,
            vec![start(), text(0, "ok"), stop(StopReason::EndTurn), End]
        );
        decoder.decode(&event("", 200), &mut out).unwrap();
        assert_eq!(decoder.finish(&mut out), Ok(()));
    }

    #[test]
    fn an_html_page_is_a_typed_error() {
        let mut decoder = StreamDecoder::new();
        let mut out = Vec::new();
        let err = decoder
            .decode(&event("<html><body>502</body></html>", 0), &mut out)
            .unwrap_err();
        assert!(matches!(err, DecodeError::InvalidJson { .. }));
        assert!(matches!(
            decode_body(b"<html>502</html>"),
            Err(DecodeError::NotAResponse { .. })
        ));
    }

    #[test]
    fn every_split_of_a_raw_stream_gives_the_same_events() {
        let raw = format!(
            "data: {}\r\n\r\ndata: {}\r\n\r\ndata: {}\r\n\r\n",
            chunk(r#"{"text":"caf\u00e9 \"q\""}"#, None),
            chunk(
                r#"{"functionCall":{"name":"f","args":{"k":"v\n"}},"thoughtSignature":"S"}"#,
                None
            ),
            chunk(r#"{"text":"","thoughtSignature":"T"}"#, Some("STOP")),
        );
        let decode = |pieces: &[&[u8]]| {
            let mut parser = sse::Parser::new();
            let mut decoder = StreamDecoder::new();
            let mut out = Vec::new();
            for piece in pieces {
                let mut events = Vec::new();
                parser.feed(piece, &mut events).unwrap();
                for e in &events {
                    decoder.decode(e, &mut out).unwrap();
                }
            }
            decoder.finish(&mut out).unwrap();
            out
        };
        let bytes = raw.as_bytes();
        let whole = decode(&[bytes]);
        assert_eq!(whole.last(), Some(&End));
        for at in 0..=bytes.len() {
            assert_eq!(
                decode(&[&bytes[..at], &bytes[at..]]),
                whole,
                "split at {at}"
            );
        }
    }

    #[test]
    fn a_body_gives_the_same_events_as_a_stream() {
        let body = chunk(
            r#"{"text":"Hi"},{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"S"}"#,
            Some("STOP"),
        );
        let events = decode_body(body.as_bytes()).unwrap();
        let (streamed, _) = run(&[&body]);
        assert_eq!(events, streamed);
        let array = format!("[{}]", chunk(r#"{"text":"a"}"#, None));
        assert_eq!(
            decode_body(array.as_bytes()).unwrap(),
            vec![start(), text(0, "a"), End]
        );
        let error =
            decode_body(br#"{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}"#)
                .unwrap();
        assert!(matches!(&error[..], [Error(e)] if e.message == "bad"));
        assert!(matches!(
            decode_body(b"[]"),
            Err(DecodeError::NotAResponse { .. })
        ));
        assert!(matches!(
            decode_body(b"3"),
            Err(DecodeError::NotAResponse { .. })
        ));
    }

    #[test]
    fn paths_parse_and_huge_indices_are_refused() {
        assert_eq!(
            parse_path("$.a[2][\"b.c\"]"),
            Some(vec![
                Segment::Key("a".into()),
                Segment::Index(2),
                Segment::Key("b.c".into())
            ])
        );
        assert_eq!(parse_path("$"), Some(vec![]));
        assert_eq!(parse_path("a"), None);
        assert_eq!(parse_path("$..a"), None);
        assert_eq!(parse_path("$[x]"), None);
        let mut args = Value::Object(Map::new());
        let huge = serde_json::json!({"jsonPath": "$.a[99999999999]", "numberValue": 1});
        assert!(apply_partial_arg(&mut args, &huge).is_err());
    }

    /// Feeds `payloads` to two decoders, one through the typed fast path where it takes
    /// the response and one always through the `Value` path; returns both event lists and
    /// whether each payload took the fast path.
    fn both_paths(payloads: &[&str]) -> (Vec<StreamEvent>, Vec<StreamEvent>, Vec<bool>) {
        let mut typed = StreamDecoder::new();
        let mut general = StreamDecoder::new();
        let (mut typed_out, mut general_out, mut fast) = (Vec::new(), Vec::new(), Vec::new());
        for data in payloads {
            typed.decode(&event(data, 0), &mut typed_out).unwrap();
            fast.push(FastResponse::parse(data).is_some());
            let value: Value = serde_json::from_str(data).unwrap();
            match value.as_object() {
                Some(chunk) if !is_error(&value) && !general.ended => {
                    general.chunk(chunk, &mut general_out)
                }
                Some(_) if general.ended => {
                    general_out.push(debug("payload after the finishing chunk ignored"))
                }
                _ => general_out.push(Error(in_stream_error(Some(&value), data.as_bytes()))),
            }
        }
        (typed_out, general_out, fast)
    }

    #[test]
    fn fast_path_gives_the_events_of_the_value_path() {
        let payloads = [
            r#"{"candidates":[{"content":{"parts":[{"text":"Think \"hard\"\n","thought":true}],"role":"model"},"index":0}],"modelVersion":"gemini-3-pro","responseId":"r1"}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"","thought":true,"thoughtSignature":"c2ln"}],"role":"model"}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"Hel"},{"text":"lo","thought":null}]},"index":0},{"content":{"parts":[{"text":"other"}]},"index":1}],"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":" there","thoughtSignature":"c2lnMg=="}]}}],"usageMetadata":null,"responseId":""}"#,
            r#"{"candidates":[{"content":{"parts":[]}}],"error":null}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"cachedContentTokenCount":2,"candidatesTokenCount":5,"thoughtsTokenCount":3,"totalTokenCount":17,"promptTokensDetails":[{"modality":"TEXT","tokenCount":9}]},"modelVersion":"gemini-3-pro","responseId":"r1"}"#,
        ];
        let (typed, general, fast) = both_paths(&payloads);
        assert!(fast.iter().all(|f| *f), "{fast:?}");
        assert_eq!(typed, general);
        assert!(typed.contains(&reasoning_end(0, Some("c2ln"))));
        assert!(typed.contains(&TextDelta {
            part: 1,
            text: "Hel".into()
        }));
        assert!(typed.contains(&Debug {
            message: "candidate 1 skipped (only the first is read)".into()
        }));
        assert_eq!(typed.last(), Some(&End));
    }

    #[test]
    fn unusual_shapes_take_the_value_path() {
        let payloads = [
            // A function call, a part without text, `"text": null`, a candidate that is
            // not an object, an index that is not an unsigned integer, a text that is not a
            // string, a duplicate key, a count that is a float, a blocked prompt, an error.
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}},"thoughtSignature":"s"}]}}],"responseId":"r1"}"#,
            r#"{"candidates":[{"content":{"parts":[{"thoughtSignature":"bare"}]}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"inlineData":{"data":"AA=="}}]}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":null}]}}]}"#,
            r#"{"candidates":[[{"parts":[]},"STOP"]]}"#,
            r#"{"candidates":[{"index":-1,"content":{"parts":[{"text":"a"}]}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":7}]}}]}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"b","text":"c"}]}}]}"#,
            r#"{"candidates":[],"usageMetadata":{"promptTokenCount":1.5}}"#,
            r#"{"promptFeedback":{"safetyRatings":[]},"candidates":[]}"#,
            r#"{"error":{"code":500,"message":"boom","status":"INTERNAL"}}"#,
        ];
        let (typed, general, fast) = both_paths(&payloads);
        assert!(fast.iter().all(|f| !*f), "{fast:?}");
        assert_eq!(typed, general);
        assert!(typed.contains(&Debug {
            message: "inlineData part skipped".into()
        }));
    }
}
