//! Google Gemini (`generativelanguage.googleapis.com`, API version `v1beta`).
//!
//! Request: `POST {base}/models/{model}:streamGenerateContent?alt=sse` when streaming, else
//! `:generateContent`; the base includes the version (default [`DEFAULT_BASE_URL`]).
//! `x-goog-api-key: <key>` for an API key, `Authorization: Bearer` for an OAuth token.
//! See [`build_request`] for how cm's messages map to `contents`.
//!
//! Stream: every SSE `data:` payload (CRLF-framed) is a whole `GenerateContentResponse`;
//! only `candidates[0].content.parts[]` is read. Text parts give text (`thought: true`:
//! reasoning), `functionCall` parts give complete tool calls (or, on Vertex, calls whose
//! arguments stream as `partialArgs`), `usageMetadata` repeats as running totals.
//! Gemini has no terminal event: the chunk that carries a `finishReason` (or a
//! `promptFeedback.blockReason`) ends the response. A payload with `error` is an
//! in-stream error.
//!
//! Quirks handled: `thoughtSignature` on a function-call part (kept on the call) or on a
//! text part (kept as a reasoning part's signature); calls without ids (given one);
//! Gemini 3's rule that a replayed function call needs a signature (the documented
//! sentinel [`SKIP_SIGNATURE_SENTINEL`] stands in); `candidatesTokenCount` leaving
//! thoughts out; `RetryInfo.retryDelay` as the retry delay of a 429.

mod error;
mod request;
mod stream;
mod typed;

pub use error::classify_error;
pub use request::{
    build_request, wire_tool_call_id, DEFAULT_BASE_URL, MAX_TOOL_CALL_ID_LEN,
    SKIP_SIGNATURE_SENTINEL,
};
pub use stream::{decode_body, StreamDecoder};
