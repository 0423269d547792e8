//! Model providers' wire formats: requests out, streams and bodies in, errors classified.
//!
//! One submodule per wire format. Each offers the same four things:
//!
//! - `build_request(&Endpoint, &ChatRequest) -> http::Request` — one provider-neutral
//!   [`ChatRequest`] becomes the provider's HTTP request;
//! - `StreamDecoder` — implements [`StreamDecoder`]: SSE events in, [`StreamEvent`]s out;
//! - `decode_body(&[u8])` — a non-streaming response body into the same events;
//! - `classify_error(status, &Headers, body)` — an error response into an [`ApiError`].
//!
//! [`WireFormat`] picks a submodule at run time. Providers that speak one of these
//! formats (OpenAI-compatible servers, Copilot, Mistral) are profiles over them: a base
//! URL, headers and quirks, not new decoders.
//!
//! Events carry a `part` index: the position of the part in the assistant message being
//! built, counted from 0 in order of first appearance, whatever indices the provider uses.
//! [`MessageAssembler`] folds the events back into a [`Message`].

pub mod anthropic;
mod assembler;
mod error;
pub mod gemini;
pub mod ids;
pub mod openai_chat;
pub mod openai_responses;
pub mod profile;
mod typed;

pub use assembler::{AssembledMessage, MessageAssembler};
pub use error::{retry_after_ms, should_retry_header, ApiError, ErrorKind};

use serde::{Deserialize, Serialize};

use crate::http::{Headers, Request};
use crate::message::{Message, StopReason, Usage};
use crate::sse;
use crate::tool::ToolSpec;

/// Everything a model request says, independent of any provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The provider's model id.
    pub model: String,
    /// The system prompt.
    pub system: Option<String>,
    /// The conversation so far, oldest first.
    pub messages: Vec<Message>,
    /// The tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// Whether and which tool the model must call.
    pub tool_choice: ToolChoice,
    /// The cap on output tokens; builders use a provider default when `None`.
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Reasoning ("thinking") settings; `None` leaves the provider's default.
    pub reasoning: Option<ReasoningConfig>,
    /// Ask for a streamed response.
    pub stream: bool,
    /// Provider-specific body fields, merged last into the top-level JSON body.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Which tools the model may or must call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must call some tool.
    Required,
    /// The model must not call tools.
    None,
    /// The model must call this tool.
    Tool(String),
}

/// How hard the model should think.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasoningConfig {
    /// The effort level; mapped to each API's own setting.
    pub effort: Effort,
    /// An explicit token budget (Anthropic `budget_tokens`); derived from `effort` if `None`.
    pub budget_tokens: Option<u32>,
}

/// A reasoning effort level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effort {
    /// As little as the model allows.
    Minimal,
    /// Light.
    Low,
    /// Balanced.
    Medium,
    /// Thorough.
    High,
}

impl Effort {
    /// The lowercase name OpenAI's `reasoning_effort` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }
}

/// Where and as whom requests are sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// The API base URL as its SDK takes it: Anthropic without `/v1`
    /// (`https://api.anthropic.com`; a trailing `/v1` is tolerated), OpenAI with it
    /// (`https://api.openai.com/v1`).
    pub base_url: String,
    /// The credential, if the server wants one.
    pub credential: Option<Credential>,
    /// Extra headers for every request (a profile's quirks, a gateway's needs).
    pub headers: Headers,
    /// How the provider's requests differ from the format's plain form (a
    /// [`profile::Profile`]'s quirks); the default is none.
    pub quirks: profile::Quirks,
}

/// A secret that authorises requests.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A provider API key, sent the way the provider expects (`x-api-key` for Anthropic,
    /// `Authorization: Bearer` for OpenAI-style APIs).
    ApiKey(String),
    /// An OAuth access token, always sent as `Authorization: Bearer`.
    Bearer(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// One unified event decoded from a provider's response.
///
/// Deltas are in order; `*End` events carry the complete, authoritative value where the
/// provider sends one (tool-call arguments, reasoning signatures and opaque data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The response began; ids as the provider reported them.
    Start {
        /// The provider's response id (`msg_…`, `chatcmpl-…`, `resp_…`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The model that answers, as the provider names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// A piece of answer text.
    TextDelta {
        /// The part this text belongs to.
        part: usize,
        /// The new text.
        text: String,
    },
    /// A piece of readable reasoning.
    ReasoningDelta {
        /// The part this reasoning belongs to.
        part: usize,
        /// The new text.
        text: String,
    },
    /// A reasoning part is complete; its opaque data, kept verbatim for replay.
    ReasoningEnd {
        /// The reasoning part.
        part: usize,
        /// Anthropic `signature` / Gemini `thoughtSignature`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        /// Anthropic `redacted_thinking` data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        redacted: Option<String>,
        /// OpenAI Responses `encrypted_content`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted: Option<String>,
        /// The provider's reasoning item id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// The model began a tool call.
    ToolCallStart {
        /// The part this call is.
        part: usize,
        /// The provider's call id.
        id: String,
        /// The tool's name.
        name: String,
        /// A second id for the call where the format has one (Responses `fc_…`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item_id: Option<String>,
    },
    /// An opaque signature for a tool call (Gemini `thoughtSignature` on a `functionCall`
    /// part), kept verbatim on [`ToolCall::signature`](crate::message::ToolCall) for replay.
    /// Comes after the call's `ToolCallStart`.
    ToolCallSignature {
        /// The call's part.
        part: usize,
        /// The signature, verbatim.
        signature: String,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolCallDelta {
        /// The call's part.
        part: usize,
        /// The fragment, to be appended to the earlier ones.
        arguments: String,
    },
    /// A tool call is complete.
    ToolCallEnd {
        /// The call's part.
        part: usize,
        /// The complete arguments text, which may still be malformed JSON.
        arguments: String,
    },
    /// Token usage so far; each counter is the latest value the provider reported.
    Usage(Usage),
    /// Why the model stopped.
    Stop {
        /// The reason.
        reason: StopReason,
        /// The stop sequence that matched, for [`StopReason::StopSequence`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sequence: Option<String>,
    },
    /// The provider reported an error inside the stream.
    Error(ApiError),
    /// The provider's terminal event arrived: the response is complete.
    End,
    /// Something was skipped (an unknown event type, a block cm does not model).
    Debug {
        /// What was skipped and why.
        message: String,
    },
}

/// Why a response could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// An event's data was not the JSON the format requires.
    InvalidJson {
        /// The SSE event type (or `body` for a whole body).
        event: String,
        /// Byte offset of the event in the stream, where known.
        offset: u64,
        /// What the JSON parser said.
        error: String,
    },
    /// The JSON parsed but lacks a field the format requires.
    MissingField {
        /// The event or object type.
        event: String,
        /// The missing field.
        field: &'static str,
    },
    /// The stream ended before the provider's terminal event.
    Truncated {
        /// What was last seen, to help tell a dropped connection from a cut response.
        last_event: String,
    },
    /// The body is not a provider response at all (an HTML page from a proxy, say).
    NotAResponse {
        /// The first bytes of the body, lossily decoded.
        start: String,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::InvalidJson {
                event,
                offset,
                error,
            } => write!(
                f,
                "invalid JSON in `{event}` event at byte {offset}: {error}"
            ),
            DecodeError::MissingField { event, field } => {
                write!(f, "`{event}` lacks the required field `{field}`")
            }
            DecodeError::Truncated { last_event } => write!(
                f,
                "stream ended without its terminal event (last event: {last_event})"
            ),
            DecodeError::NotAResponse { start } => {
                write!(f, "response is not a provider stream or body: {start:?}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// A stateful decoder of one streamed response.
///
/// Feed every SSE event in order with [`StreamDecoder::decode`], then call
/// [`StreamDecoder::finish`] once when the byte stream ends. Decoders never panic on
/// input; unknown events and fields produce [`StreamEvent::Debug`], not errors.
pub trait StreamDecoder {
    /// Decodes one SSE event, appending what it means to `out`.
    fn decode(&mut self, event: &sse::Event, out: &mut Vec<StreamEvent>)
        -> Result<(), DecodeError>;

    /// Ends the stream; [`DecodeError::Truncated`] if the terminal event never came.
    ///
    /// Tool calls still open are closed first (with the arguments received so far) so
    /// the caller's message stays complete enough to show and to answer.
    fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), DecodeError>;
}

/// The wire formats cm speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WireFormat {
    /// Anthropic Messages API (`/v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`/chat/completions`) and compatible servers.
    OpenaiChat,
    /// OpenAI Responses (`/responses`).
    OpenaiResponses,
    /// Google Gemini `generateContent` / `streamGenerateContent?alt=sse`.
    Gemini,
}

impl WireFormat {
    /// Every format, for help texts and tests.
    pub const ALL: [WireFormat; 4] = [
        WireFormat::Anthropic,
        WireFormat::OpenaiChat,
        WireFormat::OpenaiResponses,
        WireFormat::Gemini,
    ];

    /// The name used in config and on the command line (`anthropic`, `openai-chat`, …).
    pub fn name(self) -> &'static str {
        match self {
            WireFormat::Anthropic => "anthropic",
            WireFormat::OpenaiChat => "openai-chat",
            WireFormat::OpenaiResponses => "openai-responses",
            WireFormat::Gemini => "gemini",
        }
    }

    /// The format called `name`, as [`WireFormat::name`] writes it.
    pub fn from_name(name: &str) -> Option<WireFormat> {
        WireFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Builds the HTTP request for `request` in this format, with the endpoint's quirks.
    pub fn build_request(self, endpoint: &Endpoint, request: &ChatRequest) -> Request {
        let mut built = match self {
            WireFormat::Anthropic => anthropic::build_request(endpoint, request),
            WireFormat::OpenaiChat => openai_chat::build_request(endpoint, request),
            WireFormat::OpenaiResponses => openai_responses::build_request(endpoint, request),
            WireFormat::Gemini => gemini::build_request(endpoint, request),
        };
        if endpoint.quirks.copilot_headers {
            for (name, value) in profile::copilot_request_headers(&request.messages) {
                built.headers.remove(name);
                built.headers.push(name, value);
            }
        }
        built
    }

    /// A fresh stream decoder for one response.
    pub fn stream_decoder(self) -> Box<dyn StreamDecoder + Send> {
        match self {
            WireFormat::Anthropic => Box::new(anthropic::StreamDecoder::new()),
            WireFormat::OpenaiChat => Box::new(openai_chat::StreamDecoder::new()),
            WireFormat::OpenaiResponses => Box::new(openai_responses::StreamDecoder::new()),
            WireFormat::Gemini => Box::new(gemini::StreamDecoder::new()),
        }
    }

    /// Decodes a whole non-streaming response body into the same events as a stream.
    pub fn decode_body(self, body: &[u8]) -> Result<Vec<StreamEvent>, DecodeError> {
        match self {
            WireFormat::Anthropic => anthropic::decode_body(body),
            WireFormat::OpenaiChat => openai_chat::decode_body(body),
            WireFormat::OpenaiResponses => openai_responses::decode_body(body),
            WireFormat::Gemini => gemini::decode_body(body),
        }
    }

    /// Classifies an error response.
    pub fn classify_error(self, status: u16, headers: &Headers, body: &[u8]) -> ApiError {
        match self {
            WireFormat::Anthropic => anthropic::classify_error(status, headers, body),
            WireFormat::OpenaiChat => openai_chat::classify_error(status, headers, body),
            WireFormat::OpenaiResponses => openai_responses::classify_error(status, headers, body),
            WireFormat::Gemini => gemini::classify_error(status, headers, body),
        }
    }
}
