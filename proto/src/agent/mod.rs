//! The turn loop: prompt → model request → tool calls → results → next request, until the
//! model answers without tools, as a state machine that performs no I/O.
//!
//! An [`Agent`] is driven like quinn-proto's `Connection`. Every input is a method call
//! that takes the current monotonic time; every effect is an [`Output`] the driver
//! drains with [`Agent::poll_output`]. Time never comes from anywhere else and retry
//! jitter comes from the seed given to [`Agent::new`], so a run is reproducible.
//!
//! # The run loop
//!
//! ```text
//! agent.submit(parts, now, at)?;
//! loop {
//!     while let Some(out) = agent.poll_output() {
//!         match out {
//!             Output::NeedCredential { provider } => agent.handle_credential(lookup(provider), now),
//!             Output::Http { id, request }        => transport.start(id, request),
//!             Output::CancelHttp { id }           => transport.cancel(id),
//!             Output::Tool { id, invocation }     => host.start(id, invocation),
//!             Output::CancelTool { id }           => host.cancel(id),
//!             Output::Ask { id, question }        => ui.ask(id, question),
//!             Output::Event(event)                => ui.show(event),
//!             Output::Record(record)              => store.append(record)?, // durable first
//!             Output::Done(outcome)               => return outcome,
//!         }
//!     }
//!     // wait for input, or until agent.poll_timeout(); then exactly one of:
//!     // handle_http_head / handle_http_body / handle_http_end / handle_http_error,
//!     // handle_tool_result, handle_answer, handle_timeout, abort
//! }
//! ```
//!
//! # One turn on literal bytes
//!
//! ```
//! use cm_proto::agent::{Agent, AgentConfig, End, Event, Output};
//! use cm_proto::http::{Headers, ResponseHead};
//! use cm_proto::message::{Message, Part};
//! use cm_proto::provider::{Credential, Endpoint, WireFormat};
//! use cm_proto::session::{replay, Record};
//! use cm_proto::time::{Millis, UnixMillis};
//!
//! let endpoint = Endpoint { base_url: "https://api.anthropic.com".into(), ..Endpoint::default() };
//! let config = AgentConfig::new("anthropic", WireFormat::Anthropic, endpoint, "claude-sonnet-4-5");
//! let mut agent = Agent::new(config, Vec::new(), 7);
//! agent.submit(vec![Part::text("hi")], Millis(0), UnixMillis(1_700_000_000_000)).unwrap();
//!
//! // The prompt is recorded first; then the agent asks for a credential.
//! let mut log: Vec<Output> = std::iter::from_fn(|| agent.poll_output()).collect();
//! assert!(matches!(log.last(), Some(Output::NeedCredential { provider }) if provider == "anthropic"));
//! agent.handle_credential(Some(Credential::ApiKey("sk-test".into())), Millis(0));
//! let Some(Output::Http { id, request }) = agent.poll_output() else { unreachable!() };
//! assert_eq!(request.url, "https://api.anthropic.com/v1/messages");
//! assert_eq!(agent.poll_timeout(), Some(Millis(120_000))); // the idle deadline
//!
//! let mut headers = Headers::new();
//! headers.push("content-type", "text/event-stream");
//! let head = ResponseHead { status: 200, reason: "OK".into(), headers };
//! agent.handle_http_head(id, head, Millis(40));
//! agent.handle_http_body(id, concat!(
//!     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",",
//!     "\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n",
//!     "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,",
//!     "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
//!     "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,",
//!     "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
//! ).as_bytes(), Millis(60));
//! assert_eq!(agent.poll_timeout(), Some(Millis(120_060))); // pushed on by the data
//! agent.handle_http_body(id, concat!(
//!     "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
//!     "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":",
//!     "{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
//!     "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
//! ).as_bytes(), Millis(70));
//! agent.handle_http_end(id, Millis(80));
//! log.extend(std::iter::from_fn(|| agent.poll_output()));
//!
//! assert!(log.iter().any(|o| matches!(o, Output::Event(Event::TextDelta { text }) if text == "Hello")));
//! let Some(Output::Done(outcome)) = log.last() else { unreachable!() };
//! assert_eq!(outcome.end, End::Completed);
//! assert_eq!((outcome.usage.input_tokens, outcome.usage.output_tokens), (9, 2));
//! assert_eq!(agent.history(), [Message::user("hi"), Message::assistant("Hello")]);
//!
//! // The records rebuild the same history.
//! let records: Vec<Record> = log.iter().filter_map(|o| match o {
//!     Output::Record(r) => Some(r.clone()),
//!     _ => None,
//! }).collect();
//! assert_eq!(replay(&records).history, agent.history());
//! ```
//!
//! # The drain contract
//!
//! After `submit` and after every `handle_*`/`abort` call, drain [`Agent::poll_output`]
//! until it returns `None`, handling outputs in order, then read [`Agent::poll_timeout`]
//! before waiting. Outputs may be acted on immediately (an answer to `NeedCredential`
//! may be given inside the drain loop); the agent queues what follows. A
//! [`Output::Record`] must be durable before the driver acts on any later output: the
//! agent emits every record before the outputs that depend on it (the user's message
//! before the request, the assistant message before its tool runs, each tool result
//! before the next request). [`Output::Done`] comes exactly once per turn, last.
//! Input for an id the agent no longer tracks (after a cancel) is ignored.
//!
//! # States
//!
//! ```text
//!  Idle --submit--> Credential --Some--> Request --end--> assistant message recorded
//!                    ^   |                 |   |                 |           |
//!                    |   +--None--> Failed |   |             tool calls   no calls
//!                    |                     |   |                 v           v
//!                    +--timeout-- Backoff <+   |               Tools      Completed
//!                    |    (retryable, nothing  |      questions, runs
//!                    |     shown, attempts     v                 | all answered
//!                    |     left)        Failed (partial          v
//!                    |                  kept if shown)   results message recorded
//!                    |                                      |            |
//!                    +------------ next step <-- steps left-+       steps used
//!                                                                        v
//!                                                                     MaxSteps
//! ```
//!
//! Every end (`Completed`, `MaxSteps`, `Failed`, `Aborted`) records `turn_end`, emits
//! [`Output::Done`] and returns to `Idle`.
//!
//! `abort` from any state but `Idle` cancels what runs, keeps the partial assistant
//! message (marked aborted), answers every open tool call with "aborted", and ends the
//! turn with [`End::Aborted`].
//!
//! # Context
//!
//! Before each step the agent estimates the next request's input tokens
//! ([`Agent::context_estimate`]): the input the provider reported for the last request
//! (cache reads and writes included), plus one token per 4 bytes the history gained
//! since (text and tool arguments by their UTF-8 bytes, an image as 1,600 tokens,
//! reasoning by its readable text), minus the same for what pruning removed. Without a
//! reported input (first request, resumed session, after compaction) the whole history,
//! system prompt and tool specs are counted that way. Against
//! [`AgentConfig::context_window`]:
//!
//! - past 90 %, old tool outputs are **pruned** — every result but those of the step just
//!   answered and the 3 newest others becomes [`PRUNED_TEXT`] (a `prune` record);
//! - past 95 % after pruning, or when the provider answers that the input is too long,
//!   the conversation is **compacted**: a separate request with no tools asks the model
//!   for a summary ([`SUMMARY_INSTRUCTION`]); the history becomes one user message, the
//!   summary after [`SUMMARY_HEADER`], followed by the running turn's prompt; a
//!   `compaction` record holds it; the step's request is then sent again. Retries and
//!   aborts work as for any request; an abort leaves the history as it was.
//!
//! Compaction happens at most once per turn: a second overflow fails the turn with
//! [`AgentError::ContextOverflow`], as does any overflow when
//! [`AgentConfig::compaction`] is off. [`Agent::compact`] runs one on request, as a turn
//! of its own with no steps.

mod config;
mod context;
mod output;
mod policy;
mod retry;
mod stream;
mod tool_calls;

#[cfg(test)]
mod tests;

pub use crate::session::CompactionTrigger;
pub use config::{AgentConfig, Limits};
pub use context::{PRUNED_TEXT, SUMMARY_HEADER, SUMMARY_INSTRUCTION, SUMMARY_SYSTEM};
pub use output::{
    AgentError, AskId, Decision, End, Event, HttpId, Outcome, Output, OverflowReason, Question,
    ToolRunId, TransportError, TurnInProgress,
};
pub use policy::PermissionPolicy;
pub use retry::{Backoff, Rng};

use std::collections::VecDeque;

use crate::http::ResponseHead;
use crate::message::{Message, Origin, Part, Role, StopReason, ToolOutput, ToolResult, Usage};
use crate::provider::{AssembledMessage, ChatRequest, Credential, StreamEvent, ToolChoice};
use crate::session::{
    self, CompactionRecord, Entry, MessageRecord, PruneRecord, Record, SessionState, TurnEndRecord,
};
use crate::time::{Millis, UnixMillis};
use crate::tool::{ToolDef, ToolOutcome};

use stream::{Exchange, Failure};
use tool_calls::Batch;

/// The turn loop of one conversation. See the [module documentation](self).
#[derive(Debug)]
pub struct Agent {
    config: AgentConfig,
    history: Vec<Message>,
    rng: Rng,
    outputs: VecDeque<Output>,
    phase: Phase,
    turn: Turn,
    session_usage: Usage,
    session_cost: Option<f64>,
    next_id: u64,
    /// The latest `now` seen, and the wall clock anchored at the last `submit`.
    now: Millis,
    anchor: (Millis, UnixMillis),
    /// Tool calls of this turn as (name, arguments), for doom-loop detection.
    recent: Vec<(String, serde_json::Value)>,
    /// The reported input of past requests, for the context estimate.
    context: context::Tracker,
    /// Set while the request in progress is a summarisation request.
    compacting: Option<CompactionTrigger>,
}

#[derive(Debug, Default)]
enum Phase {
    #[default]
    Idle,
    Credential,
    Backoff {
        until: Millis,
    },
    Request(Box<Exchange>),
    Tools(Batch),
}

#[derive(Debug, Default)]
struct Turn {
    step: u32,
    attempt: u32,
    usage: Usage,
    cost: Option<f64>,
    /// The parts the turn was submitted with, kept after a compaction.
    prompt: Vec<Part>,
    /// Whether this turn compacted the conversation already.
    compacted: bool,
    /// Why the model stopped its last answer, if it said.
    stop_reason: Option<StopReason>,
}

impl Agent {
    /// An idle agent continuing `history` (empty for a new session).
    ///
    /// `seed` feeds the retry jitter; pass fresh entropy in production and a constant in tests.
    pub fn new(config: AgentConfig, history: Vec<Message>, seed: u64) -> Agent {
        Agent {
            config,
            history,
            rng: Rng::new(seed),
            outputs: VecDeque::new(),
            phase: Phase::Idle,
            turn: Turn::default(),
            session_usage: Usage::default(),
            session_cost: None,
            next_id: 0,
            now: Millis(0),
            anchor: (Millis(0), UnixMillis(0)),
            recent: Vec::new(),
            context: context::Tracker::default(),
            compacting: None,
        }
    }

    /// An idle agent continuing a replayed session, its usage and cost totals included.
    pub fn resume(config: AgentConfig, state: &SessionState, seed: u64) -> Agent {
        let mut agent = Agent::new(config, state.history.clone(), seed);
        agent.session_usage = state.usage;
        agent.session_cost = state.cost;
        agent
    }

    /// The conversation as it will be sent with the next request.
    pub fn history(&self) -> &[Message] {
        &self.history
    }

    /// Whether no turn is running.
    pub fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Idle)
    }

    /// Tokens used in this session (including a resumed session's earlier turns).
    pub fn session_usage(&self) -> Usage {
        self.session_usage
    }

    /// Cost of this session in US dollars; `None` while no request had a known price.
    pub fn session_cost(&self) -> Option<f64> {
        self.session_cost
    }

    /// The estimated input tokens of the next request (see the
    /// [module documentation](self#context)).
    pub fn context_estimate(&self) -> u64 {
        let fixed = context::fixed_bytes(self.config.system.as_deref(), &self.config.tools);
        self.context
            .estimate(context::history_bytes(&self.history), fixed)
    }

    /// Replaces the tools offered to the model from the next request on.
    pub fn set_tools(&mut self, tools: Vec<ToolDef>) {
        self.config.tools = tools;
    }

    /// Starts a turn with a user message of `parts`; `at` is the wall-clock time at `now`.
    ///
    /// Refused unless the agent is idle.
    pub fn submit(
        &mut self,
        parts: Vec<Part>,
        now: Millis,
        at: UnixMillis,
    ) -> Result<(), TurnInProgress> {
        if !self.is_idle() {
            return Err(TurnInProgress);
        }
        self.begin_turn(now, at);
        self.turn.prompt = parts.clone();
        self.push_history(MessageRecord::plain(Message {
            role: Role::User,
            parts,
        }));
        self.start_step();
        Ok(())
    }

    /// Compacts the conversation now, as a turn of its own: the model summarises the
    /// history, which becomes the summary alone (a `compaction` record); then
    /// [`Output::Done`] with no steps. Works with [`AgentConfig::compaction`] off; an
    /// empty history completes at once.
    ///
    /// Refused unless the agent is idle.
    pub fn compact(&mut self, now: Millis, at: UnixMillis) -> Result<(), TurnInProgress> {
        if !self.is_idle() {
            return Err(TurnInProgress);
        }
        self.begin_turn(now, at);
        if self.history.is_empty() {
            self.finish(End::Completed);
        } else {
            self.start_compaction(CompactionTrigger::Manual);
        }
        Ok(())
    }

    fn begin_turn(&mut self, now: Millis, at: UnixMillis) {
        self.anchor = (now, at);
        self.now = now;
        self.turn = Turn::default();
        self.recent.clear();
        self.emit(Event::TurnStart);
    }

    /// The next thing to do, or `None` when the agent waits for input.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Agent::handle_timeout`] must be called if no other input comes first.
    ///
    /// Changes after any input; read it after draining the outputs.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Millis> {
        match &self.phase {
            Phase::Backoff { until } => Some(*until),
            Phase::Request(exchange) => Some(exchange.deadline),
            _ => None,
        }
    }

    /// Answers [`Output::NeedCredential`]; `None` fails the turn with
    /// [`AgentError::CredentialMissing`].
    pub fn handle_credential(&mut self, credential: Option<Credential>, now: Millis) {
        self.tick(now);
        if !matches!(self.phase, Phase::Credential) {
            return;
        }
        let Some(credential) = credential else {
            let error = AgentError::CredentialMissing {
                provider: self.config.provider.clone(),
                env_var: self.config.credential_env.clone(),
            };
            self.finish(End::Failed(error));
            return;
        };
        let mut endpoint = self.config.endpoint.clone();
        endpoint.credential = Some(credential);
        let request = match self.compacting {
            Some(_) => ChatRequest {
                model: self.config.model.clone(),
                system: Some(context::SUMMARY_SYSTEM.into()),
                messages: vec![context::summary_prompt(
                    &self.history,
                    self.config.context_window,
                )],
                tools: Vec::new(),
                tool_choice: ToolChoice::Auto,
                max_output_tokens: self.config.max_output_tokens,
                temperature: None,
                reasoning: None,
                stream: true,
                extra: serde_json::Map::new(),
            },
            None => {
                self.context.sent(context::history_bytes(&self.history));
                ChatRequest {
                    model: self.config.model.clone(),
                    system: self.config.system.clone(),
                    messages: self.history.clone(),
                    tools: self.config.tools.iter().map(|t| t.spec.clone()).collect(),
                    tool_choice: ToolChoice::Auto,
                    max_output_tokens: self.config.max_output_tokens,
                    temperature: self.config.temperature,
                    reasoning: self.config.reasoning,
                    stream: true,
                    extra: serde_json::Map::new(),
                }
            }
        };
        let request = self.config.format.build_request(&endpoint, &request);
        let id = HttpId(self.fresh_id());
        let origin = Origin {
            provider: self.config.provider.clone(),
            model: self.config.model.clone(),
        };
        self.phase = Phase::Request(Box::new(Exchange::new(
            id,
            self.config.format,
            origin,
            now,
            self.config.limits.idle_timeout_ms,
        )));
        self.outputs.push_back(Output::Http { id, request });
    }

    /// The response head of exchange `id` arrived.
    pub fn handle_http_head(&mut self, id: HttpId, head: ResponseHead, now: Millis) {
        self.tick(now);
        let Some(exchange) = self.exchange(id) else {
            return;
        };
        if let Err(failure) = exchange.head(head, now) {
            self.exchange_failed(failure, now);
        }
    }

    /// A chunk of the response body of exchange `id` arrived.
    pub fn handle_http_body(&mut self, id: HttpId, bytes: &[u8], now: Millis) {
        self.tick(now);
        let Some(exchange) = self.exchange(id) else {
            return;
        };
        let mut events = Vec::new();
        let result = exchange.body(bytes, now, &mut events);
        self.show(&events);
        if let Err(failure) = result {
            self.exchange_failed(failure, now);
        }
    }

    /// The response body of exchange `id` ended cleanly.
    pub fn handle_http_end(&mut self, id: HttpId, now: Millis) {
        self.tick(now);
        let Some(exchange) = self.exchange(id) else {
            return;
        };
        let mut events = Vec::new();
        let result = exchange.end(&mut events);
        self.show(&events);
        match result {
            Ok(()) => self.response_complete(),
            Err(failure) => self.exchange_failed(failure, now),
        }
    }

    /// Exchange `id` failed below HTTP.
    pub fn handle_http_error(&mut self, id: HttpId, error: TransportError, now: Millis) {
        self.tick(now);
        if let Some(exchange) = self.exchange(id) {
            let failure = exchange.transport_failed(error);
            self.exchange_failed(failure, now);
        }
    }

    /// Tool run `id` finished with `outcome`.
    pub fn handle_tool_result(&mut self, id: ToolRunId, outcome: ToolOutcome, now: Millis) {
        self.tick(now);
        self.tool_finished(id, outcome, now);
    }

    /// The user answered question `id`.
    pub fn handle_answer(&mut self, id: AskId, decision: Decision, now: Millis) {
        self.tick(now);
        self.answered(id, decision, now);
    }

    /// The deadline from [`Agent::poll_timeout`] may have passed.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.tick(now);
        match &self.phase {
            Phase::Backoff { until } if *until <= now => self.request_credential(),
            Phase::Request(exchange) if exchange.deadline <= now => {
                let timeout = self.config.limits.idle_timeout_ms;
                self.exchange_failed(Failure::Idle(timeout), now);
            }
            _ => {}
        }
    }

    /// Stops the turn: see the [module documentation](self#states). Does nothing when idle.
    pub fn abort(&mut self, now: Millis) {
        self.tick(now);
        match std::mem::take(&mut self.phase) {
            Phase::Idle => return,
            Phase::Credential | Phase::Backoff { .. } => {}
            Phase::Request(mut exchange) => {
                self.outputs
                    .push_back(Output::CancelHttp { id: exchange.id });
                exchange.interrupt();
                if self.compacting.is_none() {
                    self.keep_partial(exchange.snapshot(), Kept::Aborted);
                }
            }
            Phase::Tools(batch) => self.abort_tools(batch, now),
        }
        self.finish(End::Aborted);
    }

    // ---- steps and requests -------------------------------------------------------

    fn start_step(&mut self) {
        self.turn.step = self.turn.step.saturating_add(1);
        self.turn.attempt = 1;
        self.emit(Event::StepStart {
            step: self.turn.step,
        });
        if !self.fit_context() {
            self.request_credential();
        }
    }

    /// Prunes or starts a compaction if the next request would fill the window; true
    /// when a compaction started instead of the request.
    fn fit_context(&mut self) -> bool {
        let Some(window) = self.config.context_window else {
            return false;
        };
        if !self.config.compaction {
            return false;
        }
        let estimate = self.context_estimate();
        if context::past(estimate, window, context::PRUNE_PERCENT) {
            let (call_ids, saved) = context::prunable(&self.history);
            if !call_ids.is_empty() {
                session::prune_results(&mut self.history, &call_ids, PRUNED_TEXT);
                let results = call_ids.len();
                self.record(Entry::Prune(PruneRecord {
                    call_ids,
                    text: PRUNED_TEXT.into(),
                }));
                self.emit(Event::Pruned {
                    results,
                    saved_tokens: saved / context::BYTES_PER_TOKEN,
                });
            }
        }
        let estimate = self.context_estimate();
        if context::past(estimate, window, context::COMPACT_PERCENT) && !self.turn.compacted {
            self.start_compaction(CompactionTrigger::Threshold);
            return true;
        }
        false
    }

    fn start_compaction(&mut self, trigger: CompactionTrigger) {
        self.turn.compacted = true;
        self.turn.attempt = 1;
        self.compacting = Some(trigger);
        self.emit(Event::CompactionStart { trigger });
        self.request_credential();
    }

    /// The provider said the input is too long: compact once, or fail the turn.
    fn overflowed(&mut self, detail: String) {
        let reason = if self.compacting.is_some() {
            OverflowReason::SummaryTooLong
        } else if !self.config.compaction {
            OverflowReason::CompactionOff
        } else if self.turn.compacted {
            OverflowReason::AlreadyCompacted
        } else {
            self.start_compaction(CompactionTrigger::Overflow);
            return;
        };
        self.finish(End::Failed(AgentError::ContextOverflow {
            model: self.config.model.clone(),
            reason,
            detail: Some(detail),
        }));
    }

    /// The summary arrived: the history becomes it (and the turn's prompt), recorded first.
    fn summary_complete(&mut self, trigger: CompactionTrigger, done: AssembledMessage) {
        let model = done
            .model
            .clone()
            .unwrap_or_else(|| self.config.model.clone());
        self.account(done.usage, model);
        self.compacting = None;
        let summary = done.message.text().trim().to_string();
        if summary.is_empty() {
            self.finish(End::Failed(AgentError::ContextOverflow {
                model: self.config.model.clone(),
                reason: OverflowReason::SummaryEmpty,
                detail: None,
            }));
            return;
        }
        let prompt = match trigger {
            CompactionTrigger::Manual => &[][..],
            _ => &self.turn.prompt[..],
        };
        let history = context::compacted_history(&summary, prompt);
        let replaced = self.history.len();
        self.record(Entry::Compaction(CompactionRecord {
            trigger,
            summary: summary.clone(),
            replaced,
            history: history.clone(),
        }));
        self.history = history;
        self.context.reset();
        self.emit(Event::Compacted {
            trigger,
            summary,
            replaced,
        });
        if trigger == CompactionTrigger::Manual {
            self.finish(End::Completed);
        } else {
            self.turn.attempt = 1;
            self.request_credential();
        }
    }

    fn request_credential(&mut self) {
        self.phase = Phase::Credential;
        self.outputs.push_back(Output::NeedCredential {
            provider: self.config.provider.clone(),
        });
    }

    fn exchange(&mut self, id: HttpId) -> Option<&mut Exchange> {
        match &mut self.phase {
            Phase::Request(exchange) if exchange.id == id => Some(exchange),
            _ => None,
        }
    }

    /// Turns decoded stream events into UI events.
    fn show(&mut self, events: &[StreamEvent]) {
        let Phase::Request(exchange) = &self.phase else {
            return;
        };
        if self.compacting.is_some() {
            return;
        }
        for event in events {
            let shown = match event {
                StreamEvent::TextDelta { text, .. } if !text.is_empty() => {
                    Event::TextDelta { text: text.clone() }
                }
                StreamEvent::ReasoningDelta { text, .. } if !text.is_empty() => {
                    Event::ReasoningDelta { text: text.clone() }
                }
                StreamEvent::ToolCallStart { id, name, .. } => Event::ToolCallStarted {
                    call_id: id.clone(),
                    name: name.clone(),
                },
                StreamEvent::ToolCallEnd { part, arguments } => {
                    let Some((id, name)) = exchange.call_at(*part) else {
                        continue;
                    };
                    Event::ToolCallReady {
                        call_id: id.to_string(),
                        name: name.to_string(),
                        arguments: arguments.clone(),
                    }
                }
                _ => continue,
            };
            self.outputs.push_back(Output::Event(shown));
        }
    }

    fn response_complete(&mut self) {
        let Phase::Request(exchange) = std::mem::take(&mut self.phase) else {
            return;
        };
        let done = exchange.snapshot();
        if let Some(trigger) = self.compacting {
            self.summary_complete(trigger, done);
            return;
        }
        self.context.reported(&done.usage);
        self.turn.stop_reason = done.stop_reason.clone();
        let model = done
            .model
            .clone()
            .unwrap_or_else(|| self.config.model.clone());
        let calls: Vec<_> = done.message.tool_calls().cloned().collect();
        if !done.message.parts.is_empty() {
            self.push_history(MessageRecord {
                message: done.message,
                usage: Some(done.usage),
                model: Some(model.clone()),
                stop_reason: done.stop_reason.clone(),
                aborted: false,
                incomplete: false,
            });
        }
        self.account(done.usage, model);
        if !calls.is_empty() {
            self.start_tools(calls, self.now);
        } else if done.stop_reason == Some(StopReason::PauseTurn) {
            self.next_step_or_stop();
        } else {
            self.finish(End::Completed);
        }
    }

    fn next_step_or_stop(&mut self) {
        if self.turn.step >= self.config.limits.max_steps {
            self.finish(End::MaxSteps);
        } else {
            self.start_step();
        }
    }

    /// Retries the request if nothing was shown and attempts remain; else fails the turn.
    fn exchange_failed(&mut self, failure: Failure, now: Millis) {
        let Phase::Request(mut exchange) = std::mem::take(&mut self.phase) else {
            return;
        };
        if failure.needs_cancel() {
            self.outputs
                .push_back(Output::CancelHttp { id: exchange.id });
        }
        // Nothing of a summary is shown, so nothing stops it from being asked again.
        let compacting = self.compacting.is_some();
        let shown = exchange.shown && !compacting;
        if let Some(detail) = failure.context_too_long() {
            if !shown {
                exchange.interrupt();
                self.overflowed(detail);
                return;
            }
        }
        let retryable = failure.retryable() && !shown;
        if retryable && self.turn.attempt < self.config.limits.max_attempts {
            let backoff = Backoff {
                base_ms: self.config.limits.backoff_base_ms,
                cap_ms: self.config.limits.backoff_cap_ms,
            };
            let delay_ms =
                backoff.delay_ms(self.turn.attempt, failure.retry_after_ms(), &mut self.rng);
            self.turn.attempt += 1;
            self.emit(Event::Retry {
                attempt: self.turn.attempt,
                reason: failure.to_string(),
                delay_ms,
            });
            self.phase = Phase::Backoff {
                until: now.add_ms(delay_ms),
            };
            return;
        }
        exchange.interrupt();
        let mut error = failure.into_error(&self.config.provider, &self.config.model);
        if shown {
            self.keep_partial(exchange.snapshot(), Kept::Incomplete);
            error = AgentError::StreamBroken {
                cause: Box::new(error),
            };
        } else if retryable {
            error = AgentError::RetriesExhausted {
                attempts: self.turn.attempt,
                last: Box::new(error),
            };
        }
        self.finish(End::Failed(error));
    }

    /// Keeps a partial assistant message and answers its tool calls, which never ran.
    fn keep_partial(&mut self, partial: AssembledMessage, kept: Kept) {
        if partial.message.parts.is_empty() {
            return;
        }
        let model = partial
            .model
            .clone()
            .unwrap_or_else(|| self.config.model.clone());
        let calls: Vec<_> = partial.message.tool_calls().cloned().collect();
        self.push_history(MessageRecord {
            message: partial.message,
            usage: Some(partial.usage),
            model: Some(model.clone()),
            stop_reason: partial.stop_reason,
            aborted: kept == Kept::Aborted,
            incomplete: kept == Kept::Incomplete,
        });
        self.account(partial.usage, model);
        if calls.is_empty() {
            return;
        }
        let text = match kept {
            Kept::Aborted => tool_calls::ABORTED,
            Kept::Incomplete => "not run: the response broke off before the call was complete",
        };
        let parts = calls
            .into_iter()
            .map(|call| {
                let outcome = ToolOutcome::error(text);
                self.record_result(&call.id, &call.name, &outcome);
                self.emit(Event::ToolDone {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    summary: outcome.summary.clone(),
                    is_error: true,
                    duration_ms: 0,
                    display: None,
                });
                Part::ToolResult(ToolResult {
                    call_id: call.id,
                    name: call.name,
                    content: vec![ToolOutput::Text { text: text.into() }],
                    is_error: true,
                })
            })
            .collect();
        self.push_history(MessageRecord::plain(Message {
            role: Role::User,
            parts,
        }));
    }

    // ---- accounts, records, the end ----------------------------------------------

    fn account(&mut self, usage: Usage, model: String) {
        let cost = self.config.price.map(|p| p.cost(&usage));
        self.turn.usage.add(&usage);
        self.session_usage.add(&usage);
        add_cost(&mut self.turn.cost, cost);
        add_cost(&mut self.session_cost, cost);
        self.record(Entry::Usage(session::UsageRecord {
            provider: self.config.provider.clone(),
            model,
            usage,
            cost,
        }));
        self.emit(Event::Usage {
            request: usage,
            turn: self.turn.usage,
            session: self.session_usage,
            request_cost: cost,
            turn_cost: self.turn.cost,
            session_cost: self.session_cost,
        });
    }

    fn finish(&mut self, end: End) {
        self.phase = Phase::Idle;
        self.compacting = None;
        let error = match &end {
            End::Failed(e) => {
                let message = e.to_string();
                self.emit(Event::Error {
                    message: message.clone(),
                });
                Some(message)
            }
            _ => None,
        };
        self.record(Entry::TurnEnd(TurnEndRecord {
            outcome: end.name().to_string(),
            error,
            steps: self.turn.step,
            usage: self.turn.usage,
            cost: self.turn.cost,
        }));
        self.outputs.push_back(Output::Done(Outcome {
            end,
            steps: self.turn.step,
            usage: self.turn.usage,
            cost: self.turn.cost,
            stop_reason: self.turn.stop_reason.clone(),
        }));
    }

    /// Records a message and adds it to the history, in that order.
    fn push_history(&mut self, record: MessageRecord) {
        let message = record.message.clone();
        self.record(Entry::Message(record));
        session::push_message(&mut self.history, message);
    }

    fn record(&mut self, entry: Entry) {
        let (then, at) = self.anchor;
        let at = UnixMillis(at.0.saturating_add(self.now.since(then)));
        self.outputs
            .push_back(Output::Record(Record::new(at, entry)));
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    fn tick(&mut self, now: Millis) {
        self.now = self.now.max(now);
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }
}

/// Why a partial assistant message was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    Aborted,
    Incomplete,
}

fn add_cost(total: &mut Option<f64>, cost: Option<f64>) {
    if let Some(cost) = cost {
        *total = Some(total.unwrap_or(0.0) + cost);
    }
}
