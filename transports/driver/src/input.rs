//! The one kind of message every input source sends to the driver loop.

use cm_proto::agent::{AskId, Decision, HttpId, ToolRunId, TransportError};
use cm_proto::http::ResponseHead;
use cm_proto::tool::ToolOutcome;

/// Something that happened outside the agent, to be fed to it.
///
/// An HTTP exchange sends `HttpHead`, any number of `HttpBody`, then `HttpEnd` — or
/// `HttpError` at any point instead of the rest. Input for an id the agent stopped
/// tracking (after a cancel) is harmless: the agent ignores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The response's status line and headers arrived (any status, 4xx and 5xx included).
    HttpHead(HttpId, ResponseHead),
    /// The next body bytes, as they arrived.
    HttpBody(HttpId, Vec<u8>),
    /// The body ended cleanly.
    HttpEnd(HttpId),
    /// The exchange failed; `Connect` only when no response byte arrived.
    HttpError(HttpId, TransportError),
    /// A tool run finished.
    ToolDone(ToolRunId, ToolOutcome),
    /// The user answered a question.
    Answer(AskId, Decision),
    /// The user asked to stop the turn (Ctrl-C).
    Interrupt,
}
