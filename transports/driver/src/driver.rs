//! The loop that pumps one turn of an agent.

use std::fmt;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use cm_host::StoreError;
use cm_proto::agent::{Agent, Outcome, Output, TurnInProgress};
use cm_proto::message::Part;
use cm_proto::provider::Credential;
use cm_proto::time::Millis;

use crate::{HttpClient, Input, RecordSink, Runtime, ToolRunner, Ui};

/// Pumps an [`Agent`] through a turn: outputs to their ports, inputs back in, until done.
///
/// The driver owns the input channel; hand [`Driver::inputs`] to whatever produces input
/// outside the ports (a Ctrl-C handler sends [`Input::Interrupt`]).
pub struct Driver<H, T> {
    runtime: Arc<dyn Runtime>,
    http: H,
    tools: T,
    sender: Sender<Input>,
    inputs: Receiver<Input>,
}

/// Why [`Driver::run`] gave up before the agent said the turn was done.
#[derive(Debug)]
#[non_exhaustive]
pub enum DriverError {
    /// A record could not be made durable; the turn was aborted (its remaining records
    /// were not written).
    Log(StoreError),
    /// The agent had no turn to run (nothing was submitted).
    Idle,
    /// [`Driver::run_turn`] was called while a turn was running.
    TurnInProgress,
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::Log(error) => write!(f, "cannot save the session: {error}"),
            DriverError::Idle => f.write_str("no turn to run: nothing was submitted"),
            DriverError::TurnInProgress => f.write_str("a turn is already running"),
        }
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DriverError::Log(error) => Some(error),
            DriverError::Idle | DriverError::TurnInProgress => None,
        }
    }
}

impl From<TurnInProgress> for DriverError {
    fn from(_: TurnInProgress) -> DriverError {
        DriverError::TurnInProgress
    }
}

impl<H: HttpClient, T: ToolRunner> Driver<H, T> {
    /// A driver sending requests through `http` and tool runs through `tools`.
    pub fn new(runtime: Arc<dyn Runtime>, http: H, tools: T) -> Driver<H, T> {
        let (sender, inputs) = mpsc::channel();
        Driver {
            runtime,
            http,
            tools,
            sender,
            inputs,
        }
    }

    /// A sender into the loop's input channel.
    pub fn inputs(&self) -> Sender<Input> {
        self.sender.clone()
    }

    /// The runtime (for `now` and `wall_clock` outside the loop).
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// Submits a user message of `parts` at the runtime's current time, then
    /// [`run`](Self::run)s the turn.
    pub fn run_turn(
        &mut self,
        agent: &mut Agent,
        parts: Vec<Part>,
        ui: &mut dyn Ui,
        log: &mut dyn RecordSink,
        credentials: &mut dyn FnMut(&str) -> Option<Credential>,
    ) -> Result<Outcome, DriverError> {
        self.discard_stale_inputs();
        agent.submit(parts, self.runtime.now(), self.runtime.wall_clock())?;
        self.pump(agent, ui, log, credentials)
    }

    /// Runs the turn already submitted to `agent` to its end.
    ///
    /// Every [`Output::Record`] is appended to `log` before any later output is acted
    /// on; `credentials` answers [`Output::NeedCredential`] by provider id. Inputs left
    /// over from an earlier turn (late results of cancelled work, a stray interrupt) are
    /// discarded first.
    pub fn run(
        &mut self,
        agent: &mut Agent,
        ui: &mut dyn Ui,
        log: &mut dyn RecordSink,
        credentials: &mut dyn FnMut(&str) -> Option<Credential>,
    ) -> Result<Outcome, DriverError> {
        self.discard_stale_inputs();
        self.pump(agent, ui, log, credentials)
    }

    fn discard_stale_inputs(&mut self) {
        while self.inputs.try_recv().is_ok() {}
    }

    fn pump(
        &mut self,
        agent: &mut Agent,
        ui: &mut dyn Ui,
        log: &mut dyn RecordSink,
        credentials: &mut dyn FnMut(&str) -> Option<Credential>,
    ) -> Result<Outcome, DriverError> {
        loop {
            while let Some(output) = agent.poll_output() {
                match output {
                    Output::NeedCredential { provider } => {
                        let credential = credentials(&provider);
                        agent.handle_credential(credential, self.runtime.now());
                    }
                    Output::Record(record) => {
                        if let Err(error) = log.append(&record) {
                            self.abandon(agent);
                            return Err(DriverError::Log(error));
                        }
                    }
                    Output::Event(event) => ui.show(&event),
                    Output::Ask { id, question } => ui.ask(id, &question, &self.sender),
                    Output::Done(outcome) => return Ok(outcome),
                    other => self.dispatch(other),
                }
            }
            if agent.is_idle() {
                return Err(DriverError::Idle);
            }
            let deadline = agent.poll_timeout();
            let input = self.runtime.wait(&self.inputs, deadline);
            let now = self.runtime.now();
            match input {
                None => agent.handle_timeout(now),
                Some(input) => feed(agent, input, now),
            }
        }
    }

    /// Routes the outputs that start or stop background work.
    fn dispatch(&mut self, output: Output) {
        match output {
            Output::Http { id, request } => self.http.start(id, request, self.sender.clone()),
            Output::CancelHttp { id } => self.http.cancel(id),
            Output::Tool { id, invocation } => {
                self.tools.start(id, invocation, self.sender.clone())
            }
            Output::CancelTool { id } => self.tools.cancel(id),
            _ => {}
        }
    }

    /// Aborts the turn after the log failed: stops the work in flight, writes nothing.
    fn abandon(&mut self, agent: &mut Agent) {
        for cancel in abandon(agent, self.runtime.now()) {
            self.dispatch(cancel);
        }
        // Work started before the failure may still answer; the next turn discards it.
    }
}

impl<H, T> fmt::Debug for Driver<H, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

/// Hands one input to the agent: the one place every driver turns an [`Input`] into a
/// call on the agent.
pub fn feed(agent: &mut Agent, input: Input, now: Millis) {
    match input {
        Input::HttpHead(id, head) => agent.handle_http_head(id, head, now),
        Input::HttpBody(id, bytes) => agent.handle_http_body(id, &bytes, now),
        Input::HttpEnd(id) => agent.handle_http_end(id, now),
        Input::HttpError(id, error) => agent.handle_http_error(id, error, now),
        Input::ToolDone(id, outcome) => agent.handle_tool_result(id, outcome, now),
        Input::Answer(id, decision) => agent.handle_answer(id, decision, now),
        Input::Interrupt => agent.abort(now),
    }
}

/// Aborts the turn after its log failed and returns the [`Output::CancelHttp`] and
/// [`Output::CancelTool`] the driver must act on; everything else the abort produces
/// (records, events) is dropped, since the log can no longer keep it.
pub fn abandon(agent: &mut Agent, now: Millis) -> Vec<Output> {
    agent.abort(now);
    let mut cancels = Vec::new();
    while let Some(output) = agent.poll_output() {
        match output {
            Output::CancelHttp { .. } | Output::CancelTool { .. } => cancels.push(output),
            Output::Done(_) => break,
            _ => {}
        }
    }
    cancels
}
