//! The event-driven loop: inputs in, the agent's outputs routed, one timer armed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};

use cm_proto::agent::{
    Agent, AskId, Decision, Event, HttpId, Outcome, Output, Question, ToolRunId, TransportError,
};
use cm_proto::http::{Request, ResponseHead};
use cm_proto::message::Part;
use cm_proto::provider::Credential;
use cm_proto::session::Record;
use cm_proto::time::{Millis, UnixMillis};
use cm_proto::tool::{ToolInvocation, ToolOutcome};

/// Something that happened outside the agent, to be fed to it.
///
/// An HTTP exchange sends `HttpHead`, any number of `HttpBody`, then `HttpEnd` — or
/// `HttpError` at any point instead of the rest. Input for an id the agent stopped
/// tracking is harmless: the agent ignores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The user sent a message: start a turn with these parts.
    Submit(Vec<Part>),
    /// The response's status line and headers arrived.
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
    /// The user asked to stop the turn.
    Interrupt,
    /// The timer armed for the agent's deadline fired.
    Timeout,
}

/// The browser's side of the loop: clock, HTTP and the one timer.
pub trait Io {
    /// Monotonic time.
    fn now(&self) -> Millis;
    /// Wall-clock time, for records.
    fn wall_clock(&self) -> UnixMillis;
    /// Starts `request`; its head, body chunks and end (or error) go to `feed` under `id`.
    fn start_http(&mut self, id: HttpId, request: Request, feed: Feed);
    /// Stops exchange `id`; what it sends afterwards, if anything, is ignored.
    fn cancel_http(&mut self, id: HttpId);
    /// Replaces the timer: [`Input::Timeout`] goes to `feed` at `deadline`; none for `None`.
    fn arm_timer(&mut self, deadline: Option<Millis>, feed: Feed);
}

/// What embeds the agent: credentials, tools, the session log and the person.
pub trait Host {
    /// The credential for `provider`, or `None` (the turn then fails, saying so).
    fn credential(&mut self, provider: &str) -> Option<Credential>;
    /// Makes `record` durable; an `Err` (its text shown) aborts the turn and nothing
    /// later is written.
    fn record(&mut self, record: &Record) -> Result<(), String>;
    /// Shows one event.
    fn show(&mut self, event: &Event);
    /// Puts `question` to the user (an [`Event::PermissionAsked`] was shown just before);
    /// the answer comes back as [`Input::Answer`].
    fn ask(&mut self, id: AskId, question: &Question);
    /// Starts a tool run; exactly one [`Input::ToolDone`] follows on `feed` unless it is
    /// cancelled. It may be fed before this returns.
    fn start_tool(&mut self, id: ToolRunId, invocation: ToolInvocation, feed: Feed);
    /// Stops run `id`; its outcome is no longer wanted.
    fn cancel_tool(&mut self, id: ToolRunId);
    /// The turn ended.
    fn done(&mut self, outcome: &Outcome);
    /// Something the agent could not be told: a message while a turn runs, a log failure.
    fn fail(&mut self, message: &str);
}

/// A handle that feeds inputs to a [`Driver`]; it does nothing once the driver is gone.
#[derive(Clone)]
pub struct Feed(Weak<dyn Fed>);

impl Feed {
    /// Hands `input` to the driver (queued if it is busy).
    pub fn feed(&self, input: Input) {
        if let Some(driver) = self.0.upgrade() {
            driver.feed(input);
        }
    }

    /// A feed that goes nowhere, for tests of ports.
    pub fn detached() -> Feed {
        Feed(Weak::<Detached>::new())
    }
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed")
            .field("live", &(self.0.strong_count() > 0))
            .finish()
    }
}

trait Fed {
    fn feed(&self, input: Input);
}

struct Detached;

impl Fed for Detached {
    fn feed(&self, _input: Input) {}
}

/// Drives one [`Agent`] by events. See the [crate documentation](crate).
pub struct Driver<H, I> {
    shared: Rc<Shared<H, I>>,
}

struct Shared<H, I> {
    queue: RefCell<VecDeque<Input>>,
    state: RefCell<State<H, I>>,
    notify: Box<dyn Fn()>,
}

struct State<H, I> {
    agent: Agent,
    host: H,
    io: I,
    feed: Feed,
}

impl<H: Host + 'static, I: Io + 'static> Driver<H, I> {
    /// A driver of `agent`; `notify` runs after each batch of inputs, with nothing
    /// borrowed (deliver the host's queued events to the page there).
    pub fn new(agent: Agent, host: H, io: I, notify: Box<dyn Fn()>) -> Driver<H, I> {
        let shared = Rc::new_cyclic(|me: &Weak<Shared<H, I>>| {
            let feed = Feed(me.clone() as Weak<dyn Fed>);
            Shared {
                queue: RefCell::new(VecDeque::new()),
                state: RefCell::new(State {
                    agent,
                    host,
                    io,
                    feed,
                }),
                notify,
            }
        });
        Driver { shared }
    }

    /// Hands `input` to the agent and acts on what follows.
    pub fn feed(&self, input: Input) {
        self.shared.feed(input);
    }

    /// A handle for feeding inputs later.
    pub fn feeder(&self) -> Feed {
        Feed(Rc::downgrade(&self.shared) as Weak<dyn Fed>)
    }

    /// Runs `f` on the agent and the host; `None` while the driver is handling input
    /// (a callback calling back in).
    pub fn with<R>(&self, f: impl FnOnce(&mut Agent, &mut H) -> R) -> Option<R> {
        let mut state = self.shared.state.try_borrow_mut().ok()?;
        let State { agent, host, .. } = &mut *state;
        Some(f(agent, host))
    }
}

impl<H, I> fmt::Debug for Driver<H, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("queued", &self.shared.queue.borrow().len())
            .finish_non_exhaustive()
    }
}

impl<H: Host, I: Io> Fed for Shared<H, I> {
    fn feed(&self, input: Input) {
        self.queue.borrow_mut().push_back(input);
        // Busy: the running loop below takes it from the queue.
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return;
        };
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some(input) = next else { break };
            state.handle(input);
        }
        drop(state);
        (self.notify)();
    }
}

impl<H: Host, I: Io> State<H, I> {
    fn handle(&mut self, input: Input) {
        let now = self.io.now();
        match input {
            Input::Submit(parts) => {
                if self.agent.submit(parts, now, self.io.wall_clock()).is_err() {
                    self.host
                        .fail("a turn is already running: wait for it or stop it first");
                    return;
                }
            }
            Input::HttpHead(id, head) => self.agent.handle_http_head(id, head, now),
            Input::HttpBody(id, bytes) => self.agent.handle_http_body(id, &bytes, now),
            Input::HttpEnd(id) => self.agent.handle_http_end(id, now),
            Input::HttpError(id, error) => self.agent.handle_http_error(id, error, now),
            Input::ToolDone(id, outcome) => self.agent.handle_tool_result(id, outcome, now),
            Input::Answer(id, decision) => self.agent.handle_answer(id, decision, now),
            Input::Interrupt => {
                if self.agent.is_idle() {
                    return;
                }
                self.agent.abort(now);
            }
            Input::Timeout => self.agent.handle_timeout(now),
        }
        self.drain();
    }

    /// Routes every output, then arms the timer for the next deadline.
    fn drain(&mut self) {
        while let Some(output) = self.agent.poll_output() {
            match output {
                Output::NeedCredential { provider } => {
                    let credential = self.host.credential(&provider);
                    self.agent.handle_credential(credential, self.io.now());
                }
                Output::Http { id, request } => self.io.start_http(id, request, self.feed.clone()),
                Output::CancelHttp { id } => self.io.cancel_http(id),
                Output::Tool { id, invocation } => {
                    self.host.start_tool(id, invocation, self.feed.clone())
                }
                Output::CancelTool { id } => self.host.cancel_tool(id),
                Output::Ask { id, question } => self.host.ask(id, &question),
                Output::Event(event) => self.host.show(&event),
                Output::Record(record) => {
                    if let Err(message) = self.host.record(&record) {
                        self.abandon(&message);
                        return;
                    }
                }
                Output::Done(outcome) => self.host.done(&outcome),
            }
        }
        let deadline = self.agent.poll_timeout();
        self.io.arm_timer(deadline, self.feed.clone());
    }

    /// Ends the turn after the log failed: stops the work in flight and writes nothing more.
    fn abandon(&mut self, message: &str) {
        self.host.fail(message);
        self.agent.abort(self.io.now());
        while let Some(output) = self.agent.poll_output() {
            match output {
                Output::CancelHttp { id } => self.io.cancel_http(id),
                Output::CancelTool { id } => self.host.cancel_tool(id),
                Output::Done(outcome) => self.host.done(&outcome),
                _ => {}
            }
        }
        self.io.arm_timer(None, self.feed.clone());
    }
}

#[cfg(test)]
mod tests;
