//! Google Gemini: `POST …/models/{model}:streamGenerateContent?alt=sse` and
//! `…:generateContent`, the model named by the path, the key in `x-goog-api-key` or a
//! `key=` query parameter.
//!
//! A stream is one whole `GenerateContentResponse` per event, framed with CRLF as Google
//! frames it: `thought: true` text parts for the reasoning (the last one carrying a
//! `thoughtSignature`), text parts, one `functionCall` part per call (the first carrying a
//! `thoughtSignature`, as Gemini 3 signs a step), then a chunk with an empty text part, the
//! `finishReason` and `usageMetadata`. Gemini has no terminal event. Without `alt=sse`,
//! `:streamGenerateContent` answers the same chunks as one JSON array, as Google does.
//! A finish reason such as `SAFETY` is scripted as `stop_reason` and passed through, with
//! the safety rating Google adds. Errors are Google's `{"error": {code, message, status,
//! details}}`; a 429 carries `RetryInfo.retryDelay` ([`RETRY_DELAY`]).

use cm_proto::base64;
use serde_json::{json, Value};

use crate::answer::{pieces, Answer, Stop, TEXT_PIECE};

/// The `retryDelay` of a 429's `RetryInfo`, fractional as Google writes it (`"34.4s"`).
pub(crate) const RETRY_DELAY: &str = "0.5s";

/// The method suffixes of the two model endpoints.
const STREAM_METHOD: &str = ":streamGenerateContent";
const WHOLE_METHOD: &str = ":generateContent";

/// Whether `path` (query excluded) is a Gemini model endpoint.
pub(super) fn is_model_path(path: &str) -> bool {
    path.ends_with(STREAM_METHOD) || path.ends_with(WHOLE_METHOD)
}

/// The model a request names: the path segment after `models/`, before the method.
pub(super) fn path_model(path: &str) -> Option<&str> {
    let method = path.rfind(':')?;
    let model = path[..method].rsplit('/').next()?;
    (!model.is_empty()).then_some(model)
}

/// How a Gemini request wants its answer, from its target (path and query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `:streamGenerateContent?alt=sse`.
    Sse,
    /// `:streamGenerateContent` without `alt=sse`: the chunks as a JSON array.
    Array,
    /// `:generateContent`.
    Whole,
}

/// The shape `target` asks for.
pub(crate) fn shape(target: &str) -> Shape {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !path.ends_with(STREAM_METHOD) {
        return Shape::Whole;
    }
    if query.split('&').any(|pair| pair == "alt=sse") {
        Shape::Sse
    } else {
        Shape::Array
    }
}

/// The API key sent as the `key` query parameter, if any.
pub(crate) fn query_key(target: &str) -> Option<&str> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))
        .filter(|key| !key.is_empty())
}

fn finish_reason(answer: &Answer) -> String {
    match &answer.stop {
        Stop::EndTurn | Stop::ToolUse => "STOP".into(),
        Stop::MaxTokens => "MAX_TOKENS".into(),
        Stop::Other(other) => other.clone(),
    }
}

fn response_id(answer: &Answer) -> String {
    format!("mockResponse{:06}", answer.seq)
}

/// The signature of the reasoning (`i` = 0) or of the first call (`i` = 1): base64, as
/// Google's are, and different for every request.
fn signature(answer: &Answer, i: u8) -> String {
    base64::encode(format!("cm-mock thought signature {:06}/{i}", answer.seq).as_bytes())
}

/// `usageMetadata`: the prompt counts cached and cache-written tokens, the candidates
/// leave the thoughts out (Gemini reports them as `thoughtsTokenCount`).
fn usage(answer: &Answer) -> Value {
    let u = &answer.usage;
    let prompt = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    let candidates = u.output_tokens.saturating_sub(u.reasoning_tokens);
    let mut usage = json!({
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + u.reasoning_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    });
    if u.cache_read_input_tokens > 0 {
        usage["cachedContentTokenCount"] = json!(u.cache_read_input_tokens);
    }
    if u.reasoning_tokens > 0 {
        usage["thoughtsTokenCount"] = json!(u.reasoning_tokens);
    }
    usage
}

/// The `functionCall` part of call `i`; Gemini's own calls have no id, so only a scripted
/// one is sent. Arguments are an object; scripted malformed ones go as the string.
fn call_part(answer: &Answer, i: usize) -> Value {
    let call = &answer.calls[i];
    let args = serde_json::from_str::<Value>(&call.arguments)
        .unwrap_or_else(|_| Value::String(call.arguments.clone()));
    let mut function_call = json!({"name": call.name, "args": args});
    if let Some(id) = &call.id {
        function_call["id"] = json!(id);
    }
    let mut part = json!({"functionCall": function_call});
    if i == 0 {
        part["thoughtSignature"] = json!(signature(answer, 1));
    }
    part
}

/// The candidate fields that close the answer.
fn finish(answer: &Answer, candidate: &mut Value) {
    let reason = finish_reason(answer);
    if reason == "SAFETY" {
        candidate["safetyRatings"] = json!([
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true},
        ]);
    }
    candidate["finishReason"] = json!(reason);
}

fn response(answer: &Answer, parts: Vec<Value>, last: bool) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if last {
        finish(answer, &mut candidate);
    }
    let mut response = json!({"candidates": [candidate]});
    if last {
        response["usageMetadata"] = usage(answer);
    }
    response["modelVersion"] = json!(answer.model);
    response["responseId"] = json!(response_id(answer));
    response
}

/// The chunks of a streamed answer, in order.
pub(crate) fn chunks(answer: &Answer) -> Vec<Value> {
    let mut chunks = Vec::new();
    if let Some(reasoning) = &answer.reasoning {
        let thoughts = pieces(reasoning, TEXT_PIECE);
        let last = thoughts.len() - 1;
        for (i, piece) in thoughts.into_iter().enumerate() {
            let mut part = json!({"text": piece, "thought": true});
            if i == last {
                part["thoughtSignature"] = json!(signature(answer, 0));
            }
            chunks.push(response(answer, vec![part], false));
        }
    }
    if let Some(text) = &answer.text {
        for piece in pieces(text, TEXT_PIECE) {
            chunks.push(response(answer, vec![json!({"text": piece})], false));
        }
    }
    for i in 0..answer.calls.len() {
        chunks.push(response(answer, vec![call_part(answer, i)], false));
    }
    chunks.push(response(answer, vec![json!({"text": ""})], true));
    chunks
}

/// One SSE event per chunk, each framed `data: …\r\n\r\n` as Google frames them (the
/// JSON is compact, so it holds no line break).
pub(super) fn stream(answer: &Answer) -> Vec<Vec<u8>> {
    chunks(answer)
        .into_iter()
        .map(|chunk| format!("data: {chunk}\r\n\r\n").into_bytes())
        .collect()
}

/// A whole `generateContent` response.
pub(super) fn body(answer: &Answer) -> Value {
    let mut parts = Vec::new();
    if let Some(reasoning) = &answer.reasoning {
        parts.push(
            json!({"text": reasoning, "thought": true, "thoughtSignature": signature(answer, 0)}),
        );
    }
    if let Some(text) = &answer.text {
        parts.push(json!({"text": text}));
    }
    for i in 0..answer.calls.len() {
        parts.push(call_part(answer, i));
    }
    response(answer, parts, true)
}

/// Google's error shape; a 429 says how long to wait in `RetryInfo`.
pub(super) fn error_body(status: u16, message: &str) -> Value {
    let code = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "NOT_IMPLEMENTED",
        503 | 529 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        500..=599 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    };
    let mut details = Vec::new();
    if status == 429 {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests", "quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
        }));
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": RETRY_DELAY,
        }));
    }
    if status == 401 {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
        }));
    }
    json!({"error": {"code": status, "message": message, "status": code, "details": details}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_model_and_the_shape() {
        assert!(is_model_path(
            "/v1beta/models/gemini-3-pro:streamGenerateContent"
        ));
        assert!(is_model_path("/models/g:generateContent"));
        assert!(!is_model_path("/v1beta/models"));
        assert_eq!(
            path_model("/v1beta/models/gemini-3-pro:generateContent"),
            Some("gemini-3-pro")
        );
        assert_eq!(path_model("/v1beta/models/:generateContent"), None);
        assert_eq!(path_model("no-colon"), None);
        assert_eq!(
            shape("/v1beta/models/g:streamGenerateContent?alt=sse"),
            Shape::Sse
        );
        assert_eq!(
            shape("/v1beta/models/g:streamGenerateContent?key=k&alt=sse"),
            Shape::Sse
        );
        assert_eq!(
            shape("/v1beta/models/g:streamGenerateContent"),
            Shape::Array
        );
        assert_eq!(
            shape("/v1beta/models/g:generateContent?alt=sse"),
            Shape::Whole
        );
        assert_eq!(
            query_key("/m:generateContent?alt=sse&key=AIza1"),
            Some("AIza1")
        );
        assert_eq!(query_key("/m:generateContent?key="), None);
        assert_eq!(query_key("/m:generateContent"), None);
    }

    #[test]
    fn every_error_status_has_a_google_status_and_429_a_retry_delay() {
        let body = error_body(429, "slow down");
        assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(body["error"]["details"][1]["retryDelay"], RETRY_DELAY);
        assert_eq!(
            error_body(401, "x")["error"]["details"][0]["reason"],
            "API_KEY_INVALID"
        );
        assert_eq!(error_body(503, "x")["error"]["status"], "UNAVAILABLE");
        assert_eq!(error_body(500, "x")["error"]["code"], 500);
    }
}
