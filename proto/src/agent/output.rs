//! What the agent asks its driver to do, what it reports, and how a turn ends.

use serde::{Deserialize, Serialize};

use crate::http::Request;
use crate::message::{StopReason, Usage};
use crate::provider::{ApiError, DecodeError, ErrorKind};
use crate::session::{CompactionTrigger, Record};
use crate::tool::ToolInvocation;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);
    };
}

id_type!(
    /// One HTTP exchange the driver runs for the agent.
    HttpId
);
id_type!(
    /// One tool run the driver performs for the agent.
    ToolRunId
);
id_type!(
    /// One question the driver puts to the user.
    AskId
);

/// The next thing the driver must do; drain them all after every input.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A credential is needed for the next request to `provider`; answer with
    /// `handle_credential`.
    NeedCredential {
        /// The provider id.
        provider: String,
    },
    /// Send this request and feed its response back under `id`.
    Http {
        /// The exchange.
        id: HttpId,
        /// The request, credential included.
        request: Request,
    },
    /// Stop the exchange `id`; later input for it is ignored.
    CancelHttp {
        /// The exchange.
        id: HttpId,
    },
    /// Run this tool and answer with `handle_tool_result(id, ..)`.
    Tool {
        /// The run.
        id: ToolRunId,
        /// What to run.
        invocation: ToolInvocation,
    },
    /// Stop the tool run `id` (kill its processes); its result is no longer wanted.
    CancelTool {
        /// The run.
        id: ToolRunId,
    },
    /// Ask the user and answer with `handle_answer(id, ..)`.
    Ask {
        /// The question's id.
        id: AskId,
        /// What to ask.
        question: Question,
    },
    /// Something to show.
    Event(Event),
    /// Append this to the session log before handling any later output.
    Record(Record),
    /// The turn is over; questions still open are void.
    Done(Outcome),
}

/// A permission question about one tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The permission key (`edit`, `bash`, `doom_loop`, `external_directory`, …).
    pub permission: String,
    /// What the permission is about (a path, a command, the tool's name for `doom_loop`).
    pub subject: String,
    /// The tool's name.
    pub tool: String,
    /// The model's call id.
    pub call_id: String,
    /// The call's arguments as the model wrote them.
    pub arguments: String,
}

/// The user's answer to a [`Question`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Decision {
    /// Run this call.
    AllowOnce,
    /// Run this call and allow the same permission and subject for the rest of the session.
    AllowAlways,
    /// Do not run it; `message`, if any, is passed to the model with the refusal.
    Deny {
        /// What the user wants the model to know.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

/// Something for a user interface (and `--format json`) to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A turn began.
    TurnStart,
    /// A model request began (retries of it do not start a new step).
    StepStart {
        /// The step, from 1.
        step: u32,
    },
    /// Answer text.
    TextDelta {
        /// The new text.
        text: String,
    },
    /// Reasoning text.
    ReasoningDelta {
        /// The new text.
        text: String,
    },
    /// The model began a tool call.
    ToolCallStarted {
        /// The call id.
        call_id: String,
        /// The tool.
        name: String,
    },
    /// The model finished writing a tool call.
    ToolCallReady {
        /// The call id.
        call_id: String,
        /// The tool.
        name: String,
        /// The arguments as written.
        arguments: String,
    },
    /// A tool call was handed to the driver to run.
    ToolRunning {
        /// The call id.
        call_id: String,
        /// The tool.
        name: String,
    },
    /// A tool call has its result (run, refused, invalid or aborted).
    ToolDone {
        /// The call id.
        call_id: String,
        /// The tool.
        name: String,
        /// One line for people.
        summary: String,
        /// Whether it failed.
        is_error: bool,
        /// How long it ran, in ms (0 if it never ran).
        duration_ms: u64,
        /// The outcome's structured form for people (`ToolOutcome::display`), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display: Option<serde_json::Value>,
    },
    /// A permission question was asked.
    PermissionAsked {
        /// The question's id.
        id: AskId,
        /// The question.
        question: Question,
    },
    /// A permission question was answered.
    PermissionAnswered {
        /// The question's id.
        id: AskId,
        /// The answer.
        decision: Decision,
    },
    /// A request failed and will be tried again.
    Retry {
        /// The attempt about to be made (2 for the first retry).
        attempt: u32,
        /// Why the last attempt failed.
        reason: String,
        /// How long the agent waits first.
        delay_ms: u64,
    },
    /// Token counts and costs after a model request.
    Usage {
        /// This request.
        request: Usage,
        /// This turn so far.
        turn: Usage,
        /// This session so far.
        session: Usage,
        /// Cost of this request in US dollars; `None` when the price is unknown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_cost: Option<f64>,
        /// Cost of the turn.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        turn_cost: Option<f64>,
        /// Cost of the session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_cost: Option<f64>,
    },
    /// Old tool outputs were replaced by a stub to keep the conversation in the window.
    Pruned {
        /// Tool results pruned.
        results: usize,
        /// The estimated input tokens saved.
        saved_tokens: u64,
    },
    /// The agent began asking the model for a summary of the conversation; the summary
    /// is not streamed as answer text.
    CompactionStart {
        /// Why.
        trigger: CompactionTrigger,
    },
    /// The conversation was replaced by its summary; a running turn goes on from it.
    Compacted {
        /// Why.
        trigger: CompactionTrigger,
        /// The summary the model wrote.
        summary: String,
        /// Messages replaced.
        replaced: usize,
    },
    /// The turn failed; the message is the error's display.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// How a turn ended, with what it used.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Why it ended.
    pub end: End,
    /// Model requests made.
    pub steps: u32,
    /// Tokens of the turn.
    pub usage: Usage,
    /// Cost of the turn; `None` when the price is unknown.
    pub cost: Option<f64>,
    /// Why the model stopped its last answer, if it said: `ContentFilter` when a
    /// provider's filter blocked it, which ends the turn as `Completed`, possibly with an
    /// empty answer that never enters the history.
    pub stop_reason: Option<StopReason>,
}

/// Why a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The model answered without calling more tools.
    Completed,
    /// The turn used its steps; the history is valid and a new prompt can continue it.
    MaxSteps,
    /// The caller aborted it.
    Aborted,
    /// It failed.
    Failed(AgentError),
}

impl End {
    /// `completed`, `max_steps`, `aborted` or `failed`, as session records write it.
    pub fn name(&self) -> &'static str {
        match self {
            End::Completed => "completed",
            End::MaxSteps => "max_steps",
            End::Aborted => "aborted",
            End::Failed(_) => "failed",
        }
    }
}

/// Why an HTTP exchange failed below HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransportError {
    /// No response byte arrived: DNS, connect, TLS or the request write failed.
    Connect(String),
    /// The connection broke after the response began.
    Reset(String),
    /// The transport's own deadline passed.
    Timeout(String),
    /// The response was not valid HTTP.
    Protocol(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Connect(m) => write!(f, "connection failed: {m}"),
            TransportError::Reset(m) => write!(f, "connection lost mid-response: {m}"),
            TransportError::Timeout(m) => write!(f, "transport timed out: {m}"),
            TransportError::Protocol(m) => write!(f, "invalid http response: {m}"),
        }
    }
}

impl std::error::Error for TransportError {}

/// Why a turn failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AgentError {
    /// No credential for the provider.
    CredentialMissing {
        /// The provider id.
        provider: String,
        /// The environment variable that would hold its key.
        env_var: Option<String>,
    },
    /// The provider answered with an error that retrying does not fix.
    Provider {
        /// The provider id.
        provider: String,
        /// The model asked for.
        model: String,
        /// What the provider said.
        error: ApiError,
    },
    /// The connection failed and could not be retried.
    Transport(TransportError),
    /// The response was silent longer than the idle timeout.
    Idle {
        /// The timeout in ms.
        timeout_ms: u64,
    },
    /// The response could not be decoded (truncated, malformed, not a provider response).
    Decode(DecodeError),
    /// The response body exceeded what the agent buffers.
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Every attempt failed with a retryable error.
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: Box<AgentError>,
    },
    /// The stream broke after output was shown; the partial message was kept.
    StreamBroken {
        /// Why it broke.
        cause: Box<AgentError>,
    },
    /// The conversation does not fit the model's context window and this turn cannot
    /// shrink it (further); the history is left valid.
    ContextOverflow {
        /// The model asked for.
        model: String,
        /// Why it could not be shrunk.
        reason: OverflowReason,
        /// What the provider said, if it said the input is too long.
        detail: Option<String>,
    },
}

/// Why an overflowing conversation was not compacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverflowReason {
    /// The configuration turned compaction off.
    CompactionOff,
    /// The conversation was compacted once this turn already (never twice, so it cannot loop).
    AlreadyCompacted,
    /// The summarisation request was itself too long.
    SummaryTooLong,
    /// The model answered the summarisation request with no text.
    SummaryEmpty,
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentError::CredentialMissing { provider, env_var } => {
                write!(f, "no credential for provider `{provider}`: ")?;
                match env_var {
                    Some(var) => write!(f, "set {var} or run `cm auth login`"),
                    None => f.write_str("run `cm auth login`"),
                }
            }
            AgentError::Provider {
                provider,
                model,
                error,
            } => match error.kind {
                ErrorKind::NotFound => write!(
                    f,
                    "model `{model}` was not found at provider `{provider}` ({error}); \
                     run `cm models` to see the available models"
                ),
                ErrorKind::Authentication => write!(
                    f,
                    "provider `{provider}` rejected the credential ({error}); \
                     check the key or run `cm auth login`"
                ),
                ErrorKind::Permission => write!(
                    f,
                    "provider `{provider}` refused `{model}` for this account ({error}): \
                     the plan, region or organisation may not use it; check the account's \
                     access or choose another model with --model"
                ),
                ErrorKind::ContextTooLong => {
                    write!(f, "the conversation is too long for `{model}` ({error})")
                }
                _ => write!(f, "provider `{provider}` error: {error}"),
            },
            AgentError::Transport(e) => write!(f, "{e}"),
            AgentError::Idle { timeout_ms } => {
                write!(f, "no data from the provider for {} s", timeout_ms / 1000)
            }
            AgentError::Decode(e) => write!(f, "{e}"),
            AgentError::BodyTooLarge { limit } => {
                write!(f, "response body larger than {limit} bytes")
            }
            AgentError::RetriesExhausted { attempts, last } => {
                write!(f, "gave up after {attempts} attempts: {last}")
            }
            AgentError::StreamBroken { cause } => {
                write!(
                    f,
                    "the response broke off; its partial text was kept: {cause}"
                )
            }
            AgentError::ContextOverflow {
                model,
                reason,
                detail,
            } => {
                let detail = detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                match reason {
                    OverflowReason::CompactionOff => write!(
                        f,
                        "the conversation is too long for `{model}`{detail} and compaction is \
                         off; run `cm run --compact`, set \"compaction\": true, or start a new \
                         session"
                    ),
                    OverflowReason::AlreadyCompacted => write!(
                        f,
                        "the conversation is still too long for `{model}` after compacting it \
                         once this turn{detail}; start a new session or ask for less at once"
                    ),
                    OverflowReason::SummaryTooLong => write!(
                        f,
                        "the conversation is too long for `{model}` even to summarise it\
                         {detail}; start a new session"
                    ),
                    OverflowReason::SummaryEmpty => write!(
                        f,
                        "compaction failed: `{model}` wrote an empty summary, so the \
                         conversation was left as it was; try `cm run --compact` again or \
                         start a new session"
                    ),
                }
            }
        }
    }
}

impl std::error::Error for AgentError {}

/// `submit` was called while a turn was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnInProgress;

impl std::fmt::Display for TurnInProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a turn is already running")
    }
}

impl std::error::Error for TurnInProgress {}
