//! OpenAI Chat Completions, as spoken by OpenAI and by the compatible servers (Ollama,
//! LM Studio, llama.cpp, OpenRouter, Groq, DeepSeek, xAI, Mistral, Copilot).
//!
//! Request: `POST {base}/chat/completions`, the base including `/v1`;
//! `Authorization: Bearer <key>` for both credential kinds. See [`build_request`] for how
//! cm's messages map to `system` / `user` / `assistant` / `tool` messages.
//!
//! Stream: every SSE `data:` payload is a `chat.completion.chunk`; the literal payload
//! `[DONE]` ends the stream. A chunk's `choices[].delta` carries text (`content`, or
//! Mistral's array of text and thinking items), `refusal`, reasoning (the first of
//! `reasoning_content` / `reasoning` / `reasoning_text`) and `tool_calls` fragments that are
//! accumulated per (choice index, tool-call index). `finish_reason` ends a choice's open
//! tool calls and gives its `Stop`. `usage` may come on any chunk. A payload with an
//! `error` key, or an SSE event named `error`, is an in-stream error.
//!
//! Quirks handled: tool-call indices that start at 1 or are absent (Mistral: keyed by
//! position); a new id at an index already in use starts a new call; text and tool calls
//! spread over several choices of one stream (Copilot), where a later `stop` never
//! overrides another choice's `tool_calls`; `n > 1` choices interleaved (each gets its own
//! parts); Azure's empty-choices `prompt_filter_results` chunk; usage on the finish chunk
//! (DeepSeek, Mistral, Groq) with DeepSeek's `prompt_cache_hit_tokens`; xAI's usage, whose
//! `completion_tokens` leaves reasoning out (its `total_tokens` shows it), has the
//! reasoning added back to the output count.

mod error;
mod request;
mod stream;
mod tool_id;

pub use error::classify_error;
pub use request::{build_request, wire_tool_call_id, BRIDGE_TEXT, MAX_TOOL_CALL_ID_LEN};
pub use stream::{decode_body, StreamDecoder};
pub use tool_id::{mistral_tool_call_id, ToolIdMap, MISTRAL_TOOL_CALL_ID_LEN};
