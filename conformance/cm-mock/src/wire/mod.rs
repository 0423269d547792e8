//! Each provider's wire shape for a generated [`Answer`]: the SSE events of a stream, the
//! JSON of a whole body, and the error body for a status.
//!
//! The shapes follow the recordings in `shared/fixtures/recorded` (event order, field
//! names, fragments of tool arguments split mid-token), so cm's own decoders and the real
//! SDKs read them alike.

mod anthropic;
pub(crate) mod gemini;
mod openai_chat;
mod openai_responses;

use cm_proto::http::{encode_sse_event, Headers, RequestHead};
use cm_proto::provider::WireFormat;
use serde_json::Value;

use crate::answer::Answer;

/// The format served at `path`: any prefix, then `/messages`, `/chat/completions`,
/// `/responses` (so base URLs with or without `/v1` both work), or Gemini's
/// `models/{model}:streamGenerateContent` and `:generateContent`.
pub(crate) fn format_for_path(path: &str) -> Option<WireFormat> {
    let path = path.trim_end_matches('/');
    if gemini::is_model_path(path) {
        Some(WireFormat::Gemini)
    } else if path.ends_with("/messages") {
        Some(WireFormat::Anthropic)
    } else if path.ends_with("/chat/completions") {
        Some(WireFormat::OpenaiChat)
    } else if path.ends_with("/responses") {
        Some(WireFormat::OpenaiResponses)
    } else {
        None
    }
}

/// One SSE event: its `event:` name, if the format sends one, and its JSON data.
pub(crate) struct SseEvent {
    pub(crate) event: Option<String>,
    pub(crate) data: String,
}

impl SseEvent {
    fn named(event: &str, data: Value) -> SseEvent {
        SseEvent {
            event: Some(event.to_string()),
            data: data.to_string(),
        }
    }

    fn data(data: impl Into<String>) -> SseEvent {
        SseEvent {
            event: None,
            data: data.into(),
        }
    }
}

/// Whether a model request at `target` (path and query) with body `json` asks for a
/// stream: `"stream": true` in the body, or Gemini's `:streamGenerateContent?alt=sse`.
pub(crate) fn asks_for_stream(
    format: Option<WireFormat>,
    target: &str,
    json: Option<&Value>,
) -> bool {
    match format {
        Some(WireFormat::Gemini) => gemini::shape(target) == gemini::Shape::Sse,
        _ => json.is_some_and(|v| v["stream"] == true),
    }
}

/// The headers expectations see: the request's, plus Gemini's `key=` query parameter as
/// `x-goog-api-key` when that header is absent, so one `header` expectation checks the key
/// wherever the client put it.
pub(crate) fn credential_headers(format: WireFormat, head: &RequestHead) -> Headers {
    let mut headers = head.headers.clone();
    if format == WireFormat::Gemini && !headers.contains("x-goog-api-key") {
        if let Some(key) = gemini::query_key(&head.target) {
            headers.push("x-goog-api-key", key);
        }
    }
    headers
}

/// The model a request names: Gemini's is in the path, the others' in the body.
pub(crate) fn requested_model<'a>(
    format: WireFormat,
    path: &'a str,
    json: Option<&'a Value>,
) -> Option<&'a str> {
    match format {
        WireFormat::Gemini => gemini::path_model(path),
        _ => json.and_then(|v| v["model"].as_str()),
    }
}

/// The streamed answer, one byte string per SSE event.
pub(crate) fn stream(format: WireFormat, answer: &Answer) -> Vec<Vec<u8>> {
    let events = match format {
        WireFormat::Anthropic => anthropic::stream(answer),
        WireFormat::OpenaiChat => openai_chat::stream(answer),
        WireFormat::OpenaiResponses => openai_responses::stream(answer),
        WireFormat::Gemini => return gemini::stream(answer),
    };
    events
        .iter()
        .filter_map(|e| {
            let mut out = Vec::new();
            // Event names are ours and carry no line breaks, so this cannot fail.
            encode_sse_event(e.event.as_deref(), &e.data, None, &mut out).ok()?;
            Some(out)
        })
        .collect()
}

/// The whole (non-streaming) answer body for a request at `target`; Gemini's
/// `:streamGenerateContent` without `alt=sse` gets its chunks as a JSON array.
pub(crate) fn body(format: WireFormat, target: &str, answer: &Answer) -> Value {
    match format {
        WireFormat::Anthropic => anthropic::body(answer),
        WireFormat::OpenaiChat => openai_chat::body(answer),
        WireFormat::OpenaiResponses => openai_responses::body(answer),
        WireFormat::Gemini => match gemini::shape(target) {
            gemini::Shape::Array => Value::Array(gemini::chunks(answer)),
            gemini::Shape::Sse | gemini::Shape::Whole => gemini::body(answer),
        },
    }
}

/// The provider's error body for `status` with `message`.
pub(crate) fn error_body(
    format: Option<WireFormat>,
    status: u16,
    message: &str,
    seq: u64,
) -> Value {
    match format {
        Some(WireFormat::Anthropic) => anthropic::error_body(status, message, seq),
        Some(WireFormat::Gemini) => gemini::error_body(status, message),
        Some(WireFormat::OpenaiChat | WireFormat::OpenaiResponses) | None => {
            openai_chat::error_body(status, message)
        }
    }
}

/// The request-id header the provider sets on every response.
pub(crate) fn request_id_header(format: Option<WireFormat>, seq: u64) -> (&'static str, String) {
    match format {
        Some(WireFormat::Anthropic) => ("request-id", format!("req_mock{seq:06}")),
        _ => ("x-request-id", format!("req_mock{seq:06}")),
    }
}
