//! The unified conversation model: what was said, by whom, in which parts.
//!
//! A [`Message`] has a [`Role`] and a list of [`Part`]s. Tool results travel in `user`
//! messages (as the Anthropic API has them); request builders move them to wherever
//! their wire format wants them (OpenAI Chat's `tool` messages, Responses'
//! `function_call_output` items).
//!
//! The serde form is stable: session logs store it. Parts are tagged objects
//! (`{"type": "text", "text": "…"}`); optional fields are omitted when empty, and
//! readers accept their absence. Fields may be added in later versions, never renamed.
//!
//! Every [`Part::Reasoning`] and [`Part::ToolCall`] keeps the [`Origin`] (provider and
//! model) that produced it and its original id, so a history can be replayed to the same
//! provider verbatim (signatures, encrypted reasoning) or converted for another.

use serde::{Deserialize, Serialize};

/// Who speaks a message. The system prompt is not a message: it is a field of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person, and the results of tools run on their behalf.
    User,
    /// The model.
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said, in order.
    pub parts: Vec<Part>,
}

impl Message {
    /// A user message with one text part.
    pub fn user(text: impl Into<String>) -> Message {
        Message {
            role: Role::User,
            parts: vec![Part::text(text)],
        }
    }

    /// An assistant message with one text part.
    pub fn assistant(text: impl Into<String>) -> Message {
        Message {
            role: Role::Assistant,
            parts: vec![Part::text(text)],
        }
    }

    /// The concatenation of the message's text parts (reasoning excluded).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            if let Part::Text { text } = part {
                out.push_str(text);
            }
        }
        out
    }

    /// The tool calls of the message, in order.
    pub fn tool_calls(&self) -> impl Iterator<Item = &ToolCall> {
        self.parts.iter().filter_map(|p| match p {
            Part::ToolCall(call) => Some(call),
            _ => None,
        })
    }
}

/// Which provider and model produced a part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Origin {
    /// The provider id as configured (`anthropic`, `openai`, `ollama`, …).
    pub provider: String,
    /// The model id as the provider reported or was asked for.
    pub model: String,
}

/// One piece of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// The model's reasoning ("thinking"), readable or opaque.
    Reasoning(Reasoning),
    /// An image, inline (base64) or by URL.
    Image(Image),
    /// A request from the model to run a tool.
    ToolCall(ToolCall),
    /// The answer to a tool call.
    ToolResult(ToolResult),
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Part {
        Part::Text { text: text.into() }
    }
}

/// Reasoning as the provider gave it; opaque fields must be replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Reasoning {
    /// Readable reasoning text or summary; may be empty when only opaque data came.
    #[serde(default)]
    pub text: String,
    /// Anthropic's `signature` or Gemini's `thoughtSignature`, proving the text unmodified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Anthropic `redacted_thinking` data: encrypted, no readable text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<String>,
    /// OpenAI Responses `encrypted_content`, sent back when the server stores nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<String>,
    /// The provider's id for the reasoning item (OpenAI Responses `rs_…`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Who produced it; opaque data only makes sense to the same provider.
    #[serde(default)]
    pub origin: Origin,
}

/// An image part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Image {
    /// Inline image data.
    Base64 {
        /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
        media_type: String,
        /// Standard base64 of the image bytes.
        data: String,
    },
    /// An image the provider fetches itself.
    Url {
        /// An `https:` or `data:` URL.
        url: String,
    },
}

/// A tool call as the model made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's original call id (`toolu_…`, `call_…`); results refer to it.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as the model wrote them: JSON text, possibly malformed or truncated.
    ///
    /// Kept raw so a malformed call can be answered with a precise error and replayed
    /// exactly; see [`ToolCall::parse_arguments`].
    pub arguments: String,
    /// A second provider id for the call, where the format has one (Responses `fc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// A signature attached to the call (Gemini `thoughtSignature`), replayed as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Who produced it.
    #[serde(default)]
    pub origin: Origin,
}

impl ToolCall {
    /// The arguments as a JSON value; empty text counts as `{}`.
    pub fn parse_arguments(&self) -> Result<serde_json::Value, serde_json::Error> {
        if self.arguments.trim().is_empty() {
            return Ok(serde_json::Value::Object(serde_json::Map::new()));
        }
        serde_json::from_str(&self.arguments)
    }
}

/// The result of running a tool, answering the call with the same id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The [`ToolCall::id`] this answers.
    pub call_id: String,
    /// The tool's name (Gemini's `functionResponse` needs it).
    pub name: String,
    /// What the tool produced: text and images.
    pub content: Vec<ToolOutput>,
    /// Whether the tool failed; the content then says why.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

impl ToolResult {
    /// The concatenated text of the result's content.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for item in &self.content {
            if let ToolOutput::Text { text } = item {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(text);
            }
        }
        out
    }
}

/// One item of a tool's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolOutput {
    /// Text output.
    Text {
        /// The text.
        text: String,
    },
    /// An image, for models that accept images in tool results.
    Image(Image),
}

/// Token counts for one response, or a sum over several.
///
/// `input_tokens` counts only input neither read from nor written to the prompt cache,
/// so the four input-side counters never overlap and each has its own price; decoders
/// subtract cached tokens where a provider includes them in its input count.
/// `output_tokens` includes `reasoning_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens billed at the normal rate.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens, reasoning included.
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens served from the prompt cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// The part of `output_tokens` spent on reasoning, where reported.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl Usage {
    /// All input tokens, cached or not.
    pub fn total_input(&self) -> u64 {
        self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
    }

    /// Adds another usage to this one (for per-turn and per-session totals).
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
    }
}

/// Why the model stopped.
///
/// Serialized as a snake_case string; a reason cm does not know keeps the provider's own
/// word in [`StopReason::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The model finished its answer.
    EndTurn,
    /// The model wants tool results before it goes on.
    ToolUse,
    /// The output limit was reached; the last part may be cut.
    MaxTokens,
    /// A stop sequence matched.
    StopSequence,
    /// The model declined to answer.
    Refusal,
    /// A content filter stopped the output.
    ContentFilter,
    /// A server-side tool loop paused; send the conversation again to continue.
    PauseTurn,
    /// The conversation no longer fits the model's context window.
    ContextWindowExceeded,
    /// A provider reason cm does not know, verbatim.
    Other(String),
}

impl StopReason {
    /// The snake_case name used in logs and JSON.
    pub fn as_str(&self) -> &str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::ToolUse => "tool_use",
            StopReason::MaxTokens => "max_tokens",
            StopReason::StopSequence => "stop_sequence",
            StopReason::Refusal => "refusal",
            StopReason::ContentFilter => "content_filter",
            StopReason::PauseTurn => "pause_turn",
            StopReason::ContextWindowExceeded => "context_window_exceeded",
            StopReason::Other(s) => s,
        }
    }

    /// The reason named by `s` as [`StopReason::as_str`] writes it.
    pub fn from_name(s: &str) -> StopReason {
        match s {
            "end_turn" => StopReason::EndTurn,
            "tool_use" => StopReason::ToolUse,
            "max_tokens" => StopReason::MaxTokens,
            "stop_sequence" => StopReason::StopSequence,
            "refusal" => StopReason::Refusal,
            "content_filter" => StopReason::ContentFilter,
            "pause_turn" => StopReason::PauseTurn,
            "context_window_exceeded" => StopReason::ContextWindowExceeded,
            other => StopReason::Other(other.to_string()),
        }
    }
}

impl Serialize for StopReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(StopReason::from_name(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serde_form_is_tagged_and_omits_empty_fields() {
        let msg = Message {
            role: Role::Assistant,
            parts: vec![
                Part::Reasoning(Reasoning {
                    text: "hmm".into(),
                    signature: Some("sig".into()),
                    origin: Origin {
                        provider: "anthropic".into(),
                        model: "claude".into(),
                    },
                    ..Reasoning::default()
                }),
                Part::text("hi"),
                Part::ToolCall(ToolCall {
                    id: "toolu_1".into(),
                    name: "read".into(),
                    arguments: r#"{"path":"a"}"#.into(),
                    item_id: None,
                    signature: None,
                    origin: Origin::default(),
                }),
            ],
        };
        let value = serde_json::to_value(&msg).unwrap();
        assert_eq!(
            value,
            json!({
                "role": "assistant",
                "parts": [
                    {"type": "reasoning", "text": "hmm", "signature": "sig",
                     "origin": {"provider": "anthropic", "model": "claude"}},
                    {"type": "text", "text": "hi"},
                    {"type": "tool_call", "id": "toolu_1", "name": "read",
                     "arguments": "{\"path\":\"a\"}", "origin": {"provider": "", "model": ""}}
                ]
            })
        );
        let back: Message = serde_json::from_value(value).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn tool_result_and_image_round_trip() {
        let msg = Message {
            role: Role::User,
            parts: vec![Part::ToolResult(ToolResult {
                call_id: "c1".into(),
                name: "read".into(),
                content: vec![
                    ToolOutput::Text { text: "ok".into() },
                    ToolOutput::Image(Image::Base64 {
                        media_type: "image/png".into(),
                        data: "AAAA".into(),
                    }),
                ],
                is_error: false,
            })],
        };
        let text = serde_json::to_string(&msg).unwrap();
        assert!(!text.contains("is_error"), "false is omitted: {text}");
        assert!(text.contains(r#""source":"base64""#), "{text}");
        let back: Message = serde_json::from_str(&text).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn stop_reason_keeps_unknown_words() {
        let r: StopReason = serde_json::from_str("\"weird_reason\"").unwrap();
        assert_eq!(r, StopReason::Other("weird_reason".into()));
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"weird_reason\"");
        let r: StopReason = serde_json::from_str("\"tool_use\"").unwrap();
        assert_eq!(r, StopReason::ToolUse);
    }

    #[test]
    fn empty_arguments_parse_as_empty_object() {
        let call = ToolCall {
            id: "x".into(),
            name: "n".into(),
            arguments: "  ".into(),
            item_id: None,
            signature: None,
            origin: Origin::default(),
        };
        assert_eq!(call.parse_arguments().unwrap(), json!({}));
    }

    #[test]
    fn usage_totals() {
        let mut u = Usage {
            input_tokens: 1,
            output_tokens: 2,
            cache_read_tokens: 3,
            cache_write_tokens: 4,
            reasoning_tokens: 1,
        };
        assert_eq!(u.total_input(), 8);
        u.add(&u.clone());
        assert_eq!(u.output_tokens, 4);
    }
}
