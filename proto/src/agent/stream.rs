//! One HTTP exchange with the model: head, then a streamed (SSE) or whole body, decoded
//! into [`StreamEvent`]s and folded into the assistant message.
//!
//! A success status with `content-type: text/event-stream` is parsed incrementally; any
//! other success body is collected and decoded whole. An error status has its body
//! collected (bounded) and classified at the end. Every head or body chunk pushes the
//! idle deadline forward. At a clean end of body the SSE parser's `finish(true)` runs, so
//! a last event missing only its blank line still counts.

use crate::http::ResponseHead;
use crate::message::Origin;
use crate::provider::{
    ApiError, AssembledMessage, DecodeError, ErrorKind, MessageAssembler, StreamDecoder,
    StreamEvent, WireFormat,
};
use crate::sse;
use crate::time::Millis;

use super::output::{AgentError, HttpId, TransportError};

/// The most of an error response's body kept for classification.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// The most of a non-streamed body buffered.
const WHOLE_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Why an exchange failed; the agent decides between retrying and failing the turn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// An error status.
    Status(ApiError),
    /// An error event inside a success stream.
    InStream(ApiError),
    /// The body did not decode (including a stream cut before its terminal event).
    Decode(DecodeError),
    /// An SSE event was too large.
    Sse(sse::Error),
    /// A whole body exceeded [`WHOLE_BODY_LIMIT`].
    BodyTooLarge,
    /// The transport failed.
    Transport(TransportError),
    /// Nothing arrived within the idle timeout.
    Idle(u64),
}

impl Failure {
    /// Whether sending the request again may succeed.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            Failure::Status(e) | Failure::InStream(e) => e.retryable,
            Failure::Decode(DecodeError::Truncated { .. }) => true,
            Failure::Transport(TransportError::Protocol(_)) => false,
            Failure::Transport(_) | Failure::Idle(_) => true,
            Failure::Decode(_) | Failure::Sse(_) | Failure::BodyTooLarge => false,
        }
    }

    /// The provider's message when it said the input is longer than the model's context.
    pub(crate) fn context_too_long(&self) -> Option<String> {
        match self {
            Failure::Status(e) | Failure::InStream(e) if e.kind == ErrorKind::ContextTooLong => {
                Some(e.message.clone())
            }
            _ => None,
        }
    }

    /// The delay the provider asked for.
    pub(crate) fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Failure::Status(e) | Failure::InStream(e) => e.retry_after_ms,
            _ => None,
        }
    }

    /// The error a user sees.
    pub(crate) fn into_error(self, provider: &str, model: &str) -> AgentError {
        match self {
            Failure::Status(error) | Failure::InStream(error) => AgentError::Provider {
                provider: provider.to_string(),
                model: model.to_string(),
                error,
            },
            Failure::Decode(e) => AgentError::Decode(e),
            Failure::Sse(e) => AgentError::Decode(DecodeError::InvalidJson {
                event: "sse".into(),
                offset: 0,
                error: e.to_string(),
            }),
            Failure::BodyTooLarge => AgentError::BodyTooLarge {
                limit: WHOLE_BODY_LIMIT,
            },
            Failure::Transport(e) => AgentError::Transport(e),
            Failure::Idle(timeout_ms) => AgentError::Idle { timeout_ms },
        }
    }

    /// Whether the connection may still be open and should be cancelled.
    pub(crate) fn needs_cancel(&self) -> bool {
        !matches!(self, Failure::Transport(_) | Failure::Status(_))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status(e) | Failure::InStream(e) => write!(f, "{e}"),
            Failure::Decode(e) => write!(f, "{e}"),
            Failure::Sse(e) => write!(f, "{e}"),
            Failure::BodyTooLarge => write!(f, "body larger than {WHOLE_BODY_LIMIT} bytes"),
            Failure::Transport(e) => write!(f, "{e}"),
            Failure::Idle(ms) => write!(f, "no data for {ms} ms"),
        }
    }
}

enum Body {
    AwaitHead,
    Sse {
        parser: sse::Parser,
        decoder: Box<dyn StreamDecoder + Send>,
    },
    Whole(Vec<u8>),
    Error(ResponseHead, Vec<u8>),
}

/// The state of one request in flight.
pub(crate) struct Exchange {
    pub(crate) id: HttpId,
    format: WireFormat,
    body: Body,
    assembler: MessageAssembler,
    /// Whether any text, reasoning or tool call was shown to the user.
    pub(crate) shown: bool,
    pub(crate) deadline: Millis,
    idle_ms: u64,
    /// Tool calls by part index, for the "ready" events.
    calls: Vec<(usize, String, String)>,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("id", &self.id)
            .field("shown", &self.shown)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Exchange {
    pub(crate) fn new(
        id: HttpId,
        format: WireFormat,
        origin: Origin,
        now: Millis,
        idle_ms: u64,
    ) -> Exchange {
        Exchange {
            id,
            format,
            body: Body::AwaitHead,
            assembler: MessageAssembler::new(origin),
            shown: false,
            deadline: now.add_ms(idle_ms),
            idle_ms,
            calls: Vec::new(),
        }
    }

    /// The response head arrived.
    pub(crate) fn head(&mut self, head: ResponseHead, now: Millis) -> Result<(), Failure> {
        if !matches!(self.body, Body::AwaitHead) {
            return Err(Failure::Transport(TransportError::Protocol(
                "a second response head".into(),
            )));
        }
        self.deadline = now.add_ms(self.idle_ms);
        let is_sse = head
            .headers
            .get("content-type")
            .is_some_and(|t| t.to_ascii_lowercase().contains("text/event-stream"));
        self.body = if !head.is_success() {
            Body::Error(head, Vec::new())
        } else if is_sse {
            Body::Sse {
                parser: sse::Parser::new(),
                decoder: self.format.stream_decoder(),
            }
        } else {
            Body::Whole(Vec::new())
        };
        Ok(())
    }

    /// A chunk of the body arrived; decoded events are applied and pushed to `out`.
    pub(crate) fn body(
        &mut self,
        bytes: &[u8],
        now: Millis,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Failure> {
        self.deadline = now.add_ms(self.idle_ms);
        let start = out.len();
        let result = match &mut self.body {
            Body::AwaitHead => Err(Failure::Transport(TransportError::Protocol(
                "body before the response head".into(),
            ))),
            Body::Sse { parser, decoder } => {
                let mut events = Vec::new();
                let fed = parser.feed(bytes, &mut events).map_err(Failure::Sse);
                events
                    .iter()
                    .try_for_each(|event| decoder.decode(event, out).map_err(Failure::Decode))
                    .and(fed)
            }
            Body::Whole(buf) => {
                if buf.len().saturating_add(bytes.len()) > WHOLE_BODY_LIMIT {
                    Err(Failure::BodyTooLarge)
                } else {
                    buf.extend_from_slice(bytes);
                    Ok(())
                }
            }
            Body::Error(_, buf) => {
                let room = ERROR_BODY_LIMIT.saturating_sub(buf.len());
                buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
                Ok(())
            }
        };
        self.apply(start, out)?;
        result
    }

    /// The body ended cleanly.
    pub(crate) fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Failure> {
        let start = out.len();
        match std::mem::replace(&mut self.body, Body::AwaitHead) {
            Body::AwaitHead => {
                return Err(Failure::Transport(TransportError::Protocol(
                    "the response ended before its head".into(),
                )))
            }
            Body::Sse {
                mut parser,
                mut decoder,
            } => {
                let last = match parser.finish(true) {
                    Some(event) => decoder.decode(&event, out),
                    None => Ok(()),
                };
                let finished = last.and_then(|()| decoder.finish(out));
                self.apply(start, out)?;
                return finished.map_err(Failure::Decode);
            }
            Body::Whole(buf) => {
                out.extend(self.format.decode_body(&buf).map_err(Failure::Decode)?);
            }
            Body::Error(head, buf) => {
                return Err(Failure::Status(self.format.classify_error(
                    head.status,
                    &head.headers,
                    &buf,
                )));
            }
        }
        self.apply(start, out)
    }

    /// The transport failed: an error status already received still decides what failed.
    pub(crate) fn transport_failed(&mut self, error: TransportError) -> Failure {
        match std::mem::replace(&mut self.body, Body::AwaitHead) {
            Body::Error(head, buf) => {
                Failure::Status(self.format.classify_error(head.status, &head.headers, &buf))
            }
            body => {
                self.body = body;
                Failure::Transport(error)
            }
        }
    }

    /// The exchange stops early: open tool calls are closed so the partial message is whole.
    pub(crate) fn interrupt(&mut self) {
        if let Body::Sse { decoder, .. } = &mut self.body {
            let mut out = Vec::new();
            let _ = decoder.finish(&mut out);
            for event in &out {
                self.assembler.push(event);
            }
        }
        self.body = Body::AwaitHead;
    }

    /// The message so far.
    pub(crate) fn snapshot(&self) -> AssembledMessage {
        self.assembler.snapshot()
    }

    /// The id and name of the call at `part`.
    pub(crate) fn call_at(&self, part: usize) -> Option<(&str, &str)> {
        self.calls
            .iter()
            .find(|(p, _, _)| *p == part)
            .map(|(_, id, name)| (id.as_str(), name.as_str()))
    }

    /// Folds `out[start..]` into the message; an in-stream error fails the exchange.
    fn apply(&mut self, start: usize, out: &[StreamEvent]) -> Result<(), Failure> {
        for event in out.get(start..).unwrap_or_default() {
            self.assembler.push(event);
            match event {
                StreamEvent::TextDelta { text, .. } | StreamEvent::ReasoningDelta { text, .. }
                    if !text.is_empty() =>
                {
                    self.shown = true
                }
                StreamEvent::ToolCallStart { part, id, name, .. } => {
                    self.shown = true;
                    self.calls.push((*part, id.clone(), name.clone()));
                }
                StreamEvent::Error(error) => return Err(Failure::InStream(error.clone())),
                _ => {}
            }
        }
        Ok(())
    }
}
