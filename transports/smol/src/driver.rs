//! [`SmolDriver`]: one session's turns as async functions.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_channel::{Receiver, Sender};
use cm_driver::{abandon, feed, DriverError, Input, RecordSink, Runtime, ToolHost};
use cm_proto::agent::{Agent, AskId, Decision, Event, HttpId, Outcome, Output};
use cm_proto::http::Request;
use cm_proto::message::Part;
use cm_proto::provider::Credential;
use cm_proto::time::Millis;
use smol::{Task, Timer};

use crate::{Fanout, SmolClient};

/// What a subscriber of a session sees.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Update {
    /// Something the agent reported (text, tool states, questions, usage, errors).
    Event(Event),
    /// The turn ended; sent after its last record was appended.
    Done(Outcome),
}

/// Where a [`SmolDriver`] sends the agent's HTTP exchanges: a [`SmolClient`], or a
/// wrapper around one that changes requests or answers on their way (a renewed
/// credential, a debug log).
pub trait Exchanges: Send + 'static {
    /// Runs exchange `id`, reporting to `inputs` as [`SmolClient::exchange`] does: a head,
    /// body pieces, then `HttpEnd` or `HttpError`. Dropping the task cancels the exchange.
    fn start(&self, id: HttpId, request: Request, inputs: Sender<Input>) -> Task<()>;
}

impl Exchanges for SmolClient {
    fn start(&self, id: HttpId, request: Request, inputs: Sender<Input>) -> Task<()> {
        SmolClient::start(self, id, request, inputs)
    }
}

/// What a turn's credentials callback is: the credential for a provider id.
pub type CredentialFn<'a> = dyn FnMut(&str) -> Option<Credential> + Send + 'a;

/// Runs the turns of one session's agent on smol.
///
/// Requests go through a shared [`SmolClient`] (or another [`Exchanges`]), each exchange a task that dropping
/// cancels; tool runs go to a [`ToolHost`] on blocking threads. Everything the agent
/// reports is published as [`Update`]s to every subscriber ([`Handle::subscribe`]);
/// permission questions wait for [`Handle::answer`] (or are answered at once after
/// [`SmolDriver::answer_all`]); [`Handle::abort`] stops the running turn.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use cm_driver::{ClientOptions, Runtime, ToolHost};
/// # use cm_proto::agent::{Agent, Event};
/// # use cm_proto::message::Part;
/// # use cm_proto::provider::Credential;
/// # use cm_smol::{SmolClient, SmolDriver, SmolRuntime, Update};
/// # fn demo(mut agent: Agent, tools: ToolHost, mut log: cm_host::SessionLog, key: Credential) {
/// let runtime: Arc<dyn Runtime> = Arc::new(SmolRuntime::new());
/// let http = SmolClient::new(ClientOptions::from_env()); // one per process, cloned
/// let mut driver = SmolDriver::new(runtime, http, tools);
/// let handle = driver.handle(); // for other tasks: subscribe, answer, abort
/// let updates = handle.subscribe_unbounded();
/// let turn = smol::spawn(async move {
///     let mut credentials = |_: &str| Some(key.clone());
///     let parts = vec![Part::text("hi")];
///     driver.run_turn(&mut agent, parts, &mut log, &mut credentials).await
/// });
/// smol::block_on(async {
///     while let Ok(update) = updates.recv().await {
///         match update {
///             Update::Event(Event::PermissionAsked { id, .. }) => {
///                 handle.answer(id, cm_proto::agent::Decision::AllowOnce)
///             }
///             Update::Done(_) => break,
///             _ => {}
///         }
///     }
///     let outcome = turn.await;
/// #   drop(outcome);
/// });
/// # }
/// ```
pub struct SmolDriver<H: Exchanges = SmolClient> {
    runtime: Arc<dyn Runtime>,
    http: H,
    tools: ToolHost,
    sender: Sender<Input>,
    inputs: Receiver<Input>,
    updates: Fanout<Update>,
    answer_all: Option<Decision>,
}

/// Reaches a session's driver from anywhere (another task, another thread): subscribe
/// to its updates, answer its questions, abort its turn. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Handle {
    inputs: Sender<Input>,
    updates: Fanout<Update>,
}

impl Handle {
    /// A subscriber to every update from now on; see [`Fanout::subscribe`] for what
    /// happens when it falls `capacity` updates behind.
    pub fn subscribe(&self, capacity: usize) -> Receiver<Update> {
        self.updates.subscribe(capacity)
    }

    /// A subscriber that sees every update however far behind it is; see
    /// [`Fanout::subscribe_unbounded`].
    pub fn subscribe_unbounded(&self) -> Receiver<Update> {
        self.updates.subscribe_unbounded()
    }

    /// Answers question `id` (from [`Event::PermissionAsked`]); an answer to a question
    /// that is no longer open is ignored.
    pub fn answer(&self, id: AskId, decision: Decision) {
        let _ = self.inputs.try_send(Input::Answer(id, decision));
    }

    /// Stops the running turn: exchanges are cancelled, tools killed, the turn ends
    /// [`End::Aborted`](cm_proto::agent::End::Aborted). Without a running turn, nothing.
    pub fn abort(&self) {
        let _ = self.inputs.try_send(Input::Interrupt);
    }

    /// The driver's input channel, for inputs of any kind.
    pub fn inputs(&self) -> &Sender<Input> {
        &self.inputs
    }
}

impl<H: Exchanges> SmolDriver<H> {
    /// A driver sending requests through `http` and tool runs through `tools`.
    pub fn new(runtime: Arc<dyn Runtime>, http: H, tools: ToolHost) -> SmolDriver<H> {
        let (sender, inputs) = async_channel::unbounded();
        SmolDriver {
            runtime,
            http,
            tools,
            sender,
            inputs,
            updates: Fanout::new(),
            answer_all: None,
        }
    }

    /// This driver, answering every question itself with `decision` (for sessions with
    /// nobody to ask); the question and answer are still published.
    pub fn answer_all(mut self, decision: Decision) -> SmolDriver<H> {
        self.answer_all = Some(decision);
        self
    }

    /// A handle to subscribe, answer and abort from elsewhere.
    pub fn handle(&self) -> Handle {
        Handle {
            inputs: self.sender.clone(),
            updates: self.updates.clone(),
        }
    }

    /// The runtime (for `now` and `wall_clock` outside the loop).
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// The tool host.
    pub fn tools(&self) -> &ToolHost {
        &self.tools
    }

    /// Submits a user message of `parts` at the runtime's current time, then
    /// [`run`](Self::run)s the turn.
    pub async fn run_turn(
        &mut self,
        agent: &mut Agent,
        parts: Vec<Part>,
        log: &mut (dyn RecordSink + Send),
        credentials: &mut CredentialFn<'_>,
    ) -> Result<Outcome, DriverError> {
        agent.submit(parts, self.runtime.now(), self.runtime.wall_clock())?;
        self.run(agent, log, credentials).await
    }

    /// Runs the turn already submitted to `agent` to its end, as cm-driver's `Driver::run`
    /// does: every record is appended to `log` before any later output is acted on;
    /// inputs left over from an earlier turn are discarded first.
    ///
    /// Dropping the future aborts the turn on the spot: its exchanges are cancelled
    /// (their connections closed), its tools killed, and the records and updates of the
    /// abort are still written and published. Appends run on the calling thread (a
    /// session log append is one write and one fsync).
    pub async fn run(
        &mut self,
        agent: &mut Agent,
        log: &mut (dyn RecordSink + Send),
        credentials: &mut CredentialFn<'_>,
    ) -> Result<Outcome, DriverError> {
        while self.inputs.try_recv().is_ok() {}
        let mut turn = Turn {
            driver: self,
            agent,
            log,
            exchanges: HashMap::new(),
            over: false,
        };
        turn.pump(credentials).await
    }
}

impl<H: Exchanges + fmt::Debug> fmt::Debug for SmolDriver<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolDriver")
            .field("http", &self.http)
            .field("tools", &self.tools)
            .field("answer_all", &self.answer_all)
            .finish_non_exhaustive()
    }
}

/// One running turn; dropped unfinished, it aborts the turn.
struct Turn<'a, H: Exchanges> {
    driver: &'a mut SmolDriver<H>,
    agent: &'a mut Agent,
    log: &'a mut (dyn RecordSink + Send),
    /// Exchanges in flight; dropping a task cancels it.
    exchanges: HashMap<HttpId, Task<()>>,
    /// The agent said the turn is over (or never had one).
    over: bool,
}

impl<H: Exchanges> Turn<'_, H> {
    async fn pump(&mut self, credentials: &mut CredentialFn<'_>) -> Result<Outcome, DriverError> {
        loop {
            while let Some(output) = self.agent.poll_output() {
                if let Some(result) = self.act(output, credentials) {
                    self.over = true;
                    return result;
                }
            }
            if self.agent.is_idle() {
                self.over = true;
                return Err(DriverError::Idle);
            }
            let deadline = self.agent.poll_timeout();
            let input = wait(&self.driver.inputs, &*self.driver.runtime, deadline).await;
            let now = self.driver.runtime.now();
            match input {
                None => self.agent.handle_timeout(now),
                Some(input) => feed(self.agent, input, now),
            }
        }
    }

    /// Routes one output to its port; `Some` when the turn is over.
    fn act(
        &mut self,
        output: Output,
        credentials: &mut CredentialFn<'_>,
    ) -> Option<Result<Outcome, DriverError>> {
        let driver = &mut *self.driver;
        match output {
            Output::NeedCredential { provider } => {
                let credential = credentials(&provider);
                self.agent
                    .handle_credential(credential, driver.runtime.now());
            }
            Output::Record(record) => {
                if let Err(error) = self.log.append(&record) {
                    for cancel in abandon(self.agent, driver.runtime.now()) {
                        self.cancel(cancel);
                    }
                    return Some(Err(DriverError::Log(error)));
                }
            }
            Output::Event(event) => driver.updates.publish(&Update::Event(event)),
            Output::Ask { id, .. } => {
                if let Some(decision) = &driver.answer_all {
                    let _ = driver.sender.try_send(Input::Answer(id, decision.clone()));
                }
            }
            Output::Done(outcome) => {
                driver.updates.publish(&Update::Done(outcome.clone()));
                return Some(Ok(outcome));
            }
            Output::Http { id, request } => {
                self.exchanges.retain(|_, task| !task.is_finished());
                let task = driver.http.start(id, request, driver.sender.clone());
                self.exchanges.insert(id, task);
            }
            Output::Tool { id, invocation } => {
                let sender = driver.sender.clone();
                driver.tools.start_with(id, invocation, move |input| {
                    // Unbounded: never full. Closed only when the driver is gone.
                    let _ = sender.try_send(input);
                });
            }
            cancel @ (Output::CancelHttp { .. } | Output::CancelTool { .. }) => self.cancel(cancel),
        }
        None
    }

    fn cancel(&mut self, output: Output) {
        match output {
            Output::CancelHttp { id } => drop(self.exchanges.remove(&id)),
            Output::CancelTool { id } => self.driver.tools.cancel_run(id),
            _ => {}
        }
    }
}

/// The next input, or `None` once `deadline` has passed without one.
///
/// Borrows only what it needs: an agent is `Send` but not `Sync`, so the turn's future
/// must not hold a shared reference to the turn across this await.
async fn wait(
    inputs: &Receiver<Input>,
    runtime: &dyn Runtime,
    deadline: Option<Millis>,
) -> Option<Input> {
    let Some(deadline) = deadline else {
        return inputs.recv().await.ok();
    };
    let left = deadline.since(runtime.now());
    if left == 0 {
        return inputs.try_recv().ok();
    }
    let expired = async {
        Timer::after(Duration::from_millis(left)).await;
        None
    };
    smol::future::or(async { inputs.recv().await.ok() }, expired).await
}

impl<H: Exchanges> Drop for Turn<'_, H> {
    /// A turn dropped mid-way (its future was dropped) is aborted, and the abort's
    /// records and updates still go out; there is nobody left to ask for a credential.
    fn drop(&mut self) {
        if self.over || self.agent.is_idle() {
            return;
        }
        self.agent.abort(self.driver.runtime.now());
        while let Some(output) = self.agent.poll_output() {
            if self.act(output, &mut |_| None).is_some() {
                break;
            }
        }
    }
}
