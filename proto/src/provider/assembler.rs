//! Folding [`StreamEvent`]s back into one assistant [`Message`].

use serde::Serialize;

use super::{ApiError, StreamEvent};
use crate::message::{Message, Origin, Part, Reasoning, Role, StopReason, ToolCall, Usage};

/// Builds the assistant message, usage and stop reason from a response's events.
///
/// Works the same for streamed and whole-body responses. Events for a part that was
/// never started (a delta before its start) create the part, so nothing is lost.
#[derive(Debug, Clone)]
pub struct MessageAssembler {
    origin: Origin,
    parts: Vec<Option<PartBuilder>>,
    result: AssembledMessage,
}

/// The outcome of one response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssembledMessage {
    /// The provider's response id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The model as the provider reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The assistant message; empty parts are dropped.
    pub message: Message,
    /// Usage as last reported.
    pub usage: Usage,
    /// Why the model stopped, if it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequence: Option<String>,
    /// An error the provider reported inside the stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Whether the provider's terminal event arrived.
    pub complete: bool,
}

/// Which kind of part an event implies, for parts created by their first event.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Reasoning,
    ToolCall,
}

#[derive(Debug, Clone)]
enum PartBuilder {
    Text(String),
    Reasoning(Reasoning),
    ToolCall { call: ToolCall, ended: bool },
}

impl MessageAssembler {
    /// A new assembler; `origin` is stamped on reasoning parts and tool calls, with the
    /// model replaced by the one the provider reports in its start event.
    pub fn new(origin: Origin) -> MessageAssembler {
        MessageAssembler {
            origin,
            parts: Vec::new(),
            result: AssembledMessage {
                id: None,
                model: None,
                message: Message {
                    role: Role::Assistant,
                    parts: Vec::new(),
                },
                usage: Usage::default(),
                stop_reason: None,
                stop_sequence: None,
                error: None,
                complete: false,
            },
        }
    }

    /// Applies one event.
    pub fn push(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Start { id, model } => {
                if id.is_some() {
                    self.result.id = id.clone();
                }
                if let Some(model) = model {
                    self.result.model = Some(model.clone());
                    self.origin.model = model.clone();
                }
            }
            StreamEvent::TextDelta { part, text } => {
                if let PartBuilder::Text(t) = self.slot(*part, Kind::Text) {
                    t.push_str(text);
                }
            }
            StreamEvent::ReasoningDelta { part, text } => {
                if let PartBuilder::Reasoning(r) = self.slot(*part, Kind::Reasoning) {
                    r.text.push_str(text);
                }
            }
            StreamEvent::ReasoningEnd {
                part,
                signature,
                redacted,
                encrypted,
                id,
            } => {
                if let PartBuilder::Reasoning(r) = self.slot(*part, Kind::Reasoning) {
                    if signature.is_some() {
                        r.signature = signature.clone();
                    }
                    if redacted.is_some() {
                        r.redacted = redacted.clone();
                    }
                    if encrypted.is_some() {
                        r.encrypted = encrypted.clone();
                    }
                    if id.is_some() {
                        r.id = id.clone();
                    }
                }
            }
            StreamEvent::ToolCallStart {
                part,
                id,
                name,
                item_id,
            } => {
                if let PartBuilder::ToolCall { call, .. } = self.slot(*part, Kind::ToolCall) {
                    call.id = id.clone();
                    call.name = name.clone();
                    call.item_id = item_id.clone();
                }
            }
            StreamEvent::ToolCallSignature { part, signature } => {
                if let PartBuilder::ToolCall { call, .. } = self.slot(*part, Kind::ToolCall) {
                    call.signature = Some(signature.clone());
                }
            }
            StreamEvent::ToolCallDelta { part, arguments } => {
                if let PartBuilder::ToolCall { call, ended } = self.slot(*part, Kind::ToolCall) {
                    if !*ended {
                        call.arguments.push_str(arguments);
                    }
                }
            }
            StreamEvent::ToolCallEnd { part, arguments } => {
                if let PartBuilder::ToolCall { call, ended } = self.slot(*part, Kind::ToolCall) {
                    call.arguments = arguments.clone();
                    *ended = true;
                }
            }
            StreamEvent::Usage(usage) => self.result.usage = *usage,
            StreamEvent::Stop { reason, sequence } => {
                self.result.stop_reason = Some(reason.clone());
                self.result.stop_sequence = sequence.clone();
            }
            StreamEvent::Error(error) => self.result.error = Some(error.clone()),
            StreamEvent::End => self.result.complete = true,
            StreamEvent::Debug { .. } => {}
        }
    }

    /// The message so far, without consuming the assembler (for a partial on abort).
    pub fn snapshot(&self) -> AssembledMessage {
        let mut result = self.result.clone();
        result.message.parts = self
            .parts
            .iter()
            .flatten()
            .filter_map(finish_part)
            .collect();
        result
    }

    /// The finished message.
    pub fn finish(self) -> AssembledMessage {
        self.snapshot()
    }

    /// The builder of `part`, created as `kind` if the part is new.
    fn slot(&mut self, part: usize, kind: Kind) -> &mut PartBuilder {
        if self.parts.len() <= part {
            self.parts.resize_with(part + 1, || None);
        }
        let origin = &self.origin;
        self.parts[part].get_or_insert_with(|| match kind {
            Kind::Text => PartBuilder::Text(String::new()),
            Kind::Reasoning => new_reasoning(origin.clone()),
            Kind::ToolCall => new_call(origin.clone()),
        })
    }
}

fn new_reasoning(origin: Origin) -> PartBuilder {
    PartBuilder::Reasoning(Reasoning {
        origin,
        ..Reasoning::default()
    })
}

fn new_call(origin: Origin) -> PartBuilder {
    PartBuilder::ToolCall {
        call: ToolCall {
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
            item_id: None,
            signature: None,
            origin,
        },
        ended: false,
    }
}

fn finish_part(builder: &PartBuilder) -> Option<Part> {
    match builder {
        PartBuilder::Text(text) if text.is_empty() => None,
        PartBuilder::Text(text) => Some(Part::text(text.clone())),
        PartBuilder::Reasoning(r) => {
            let empty = r.text.is_empty()
                && r.signature.is_none()
                && r.redacted.is_none()
                && r.encrypted.is_none();
            (!empty).then(|| Part::Reasoning(r.clone()))
        }
        PartBuilder::ToolCall { call, .. } => Some(Part::ToolCall(call.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            provider: "anthropic".into(),
            model: "asked-for".into(),
        }
    }

    #[test]
    fn assembles_parts_in_index_order() {
        let mut a = MessageAssembler::new(origin());
        for e in [
            StreamEvent::Start {
                id: Some("msg_1".into()),
                model: Some("claude-x".into()),
            },
            StreamEvent::ReasoningDelta {
                part: 0,
                text: "let me ".into(),
            },
            StreamEvent::ReasoningDelta {
                part: 0,
                text: "think".into(),
            },
            StreamEvent::ReasoningEnd {
                part: 0,
                signature: Some("sig".into()),
                redacted: None,
                encrypted: None,
                id: None,
            },
            StreamEvent::TextDelta {
                part: 1,
                text: "Hi".into(),
            },
            StreamEvent::ToolCallStart {
                part: 2,
                id: "toolu_1".into(),
                name: "read".into(),
                item_id: None,
            },
            StreamEvent::ToolCallDelta {
                part: 2,
                arguments: "{\"pa".into(),
            },
            StreamEvent::ToolCallDelta {
                part: 2,
                arguments: "th\":\"a\"}".into(),
            },
            StreamEvent::Stop {
                reason: StopReason::ToolUse,
                sequence: None,
            },
            StreamEvent::End,
        ] {
            a.push(&e);
        }
        let done = a.finish();
        assert!(done.complete);
        assert_eq!(done.id.as_deref(), Some("msg_1"));
        assert_eq!(done.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(done.message.text(), "Hi");
        let calls: Vec<_> = done.message.tool_calls().collect();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].arguments, r#"{"path":"a"}"#);
        assert_eq!(
            calls[0].origin.model, "claude-x",
            "model from the stream wins"
        );
        match &done.message.parts[0] {
            Part::Reasoning(r) => {
                assert_eq!(r.text, "let me think");
                assert_eq!(r.signature.as_deref(), Some("sig"));
            }
            other => panic!("expected reasoning, got {other:?}"),
        }
    }

    #[test]
    fn end_arguments_are_authoritative_and_later_deltas_ignored() {
        let mut a = MessageAssembler::new(origin());
        a.push(&StreamEvent::ToolCallDelta {
            part: 0,
            arguments: "{\"x\":".into(),
        });
        a.push(&StreamEvent::ToolCallEnd {
            part: 0,
            arguments: "{\"x\":1}".into(),
        });
        a.push(&StreamEvent::ToolCallDelta {
            part: 0,
            arguments: "garbage".into(),
        });
        let done = a.finish();
        assert_eq!(
            done.message.tool_calls().next().unwrap().arguments,
            "{\"x\":1}"
        );
        assert!(!done.complete, "no End event");
    }

    #[test]
    fn empty_text_parts_are_dropped() {
        let mut a = MessageAssembler::new(origin());
        a.push(&StreamEvent::TextDelta {
            part: 0,
            text: String::new(),
        });
        a.push(&StreamEvent::TextDelta {
            part: 2,
            text: "x".into(),
        });
        let done = a.finish();
        assert_eq!(done.message.parts, vec![Part::text("x")]);
    }
}
