//! Running turns through cm-driver: cm-smol's HTTP client (blocking adapter), the native tool
//! host, the session log as the record sink, and cm's output and questions as the UI.

use std::sync::mpsc::Sender;
use std::sync::Arc;

use cm_driver::ClientOptions;
use cm_driver::{Driver, Input, RecordSink, Runtime, StdRuntime, ToolHost};
use cm_host::{StoreError, Workspace};
use cm_proto::agent::{Agent, AskId, Decision, End, Event, Outcome, Question};
use cm_proto::message::Part;
use cm_proto::provider::Credential;
use cm_proto::session::Record;
use cm_proto::tool::{todo, ToolOptions};
use cm_smol::{BlockingSmolClient, SmolClient, SmolFetcher};

use crate::ask::{self, Asker};
use crate::debug_log::{DebugLog, LoggingHttp};
use crate::exit::{Failure, Status};
use crate::interrupt::Interrupt;
use crate::output::Ui;
use crate::providers::Provider;
use crate::renewal::{Renewal, RenewingHttp};
use crate::run::status_of;
use crate::secrets::{RedactingLog, Secrets};
use crate::sessions::OpenSession;

/// cm's output and questions, as the driver's UI port.
struct UiPort<'a> {
    ui: &'a mut Ui,
    asker: Asker,
    debug: Option<DebugLog>,
}

impl cm_driver::Ui for UiPort<'_> {
    fn show(&mut self, event: &Event) {
        if let Some(log) = &self.debug {
            log.event(event);
        }
        self.ui.show(event);
    }

    fn ask(&mut self, id: AskId, question: &Question, inputs: &Sender<Input>) {
        match self.asker {
            Asker::Nobody => {
                self.ui.note(&ask::no_terminal_note(question));
                let decision = Decision::Deny {
                    message: Some(ask::NO_TERMINAL_FOR_MODEL.to_string()),
                };
                let _ = inputs.send(Input::Answer(id, decision));
            }
            Asker::Terminal => {
                self.ui.pause();
                let question = question.clone();
                let answers = inputs.clone();
                // The answer is read on its own thread so Ctrl-C still reaches the loop.
                let spawned = std::thread::Builder::new()
                    .name("cm-ask".into())
                    .spawn(move || {
                        let decision = ask::ask_terminal(&question);
                        let _ = answers.send(Input::Answer(id, decision));
                    });
                if spawned.is_err() {
                    let _ = inputs.send(Input::Answer(id, Decision::Deny { message: None }));
                }
            }
        }
    }
}

/// A record sink that shows each record to an observer once it is written.
struct ObservedLog<'a, 'b> {
    inner: RedactingLog<'a>,
    observe: &'b mut dyn FnMut(&Record),
}

impl RecordSink for ObservedLog<'_, '_> {
    fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        self.inner.append(record)?;
        (self.observe)(record);
        Ok(())
    }
}

/// The native tools of a session in `workspace`, its todo list taken from the history.
pub fn tool_host(
    agent: &Agent,
    provider: &Provider,
    workspace: Workspace,
    runtime: Arc<dyn Runtime>,
    http: &SmolClient,
) -> ToolHost {
    let options = ToolOptions {
        images: provider.images,
        ..ToolOptions::default()
    };
    ToolHost::new(workspace, options, runtime)
        .with_web(Arc::new(SmolFetcher::new(http.clone())))
        .with_todos(todo::from_history(agent.history()))
}

/// The blocking driver: `http` for the requests (OAuth tokens renewed by `renewal`,
/// exchanges logged to `debug`), `tools` for the tools.
pub fn blocking_driver(
    runtime: Arc<dyn Runtime>,
    http: &SmolClient,
    tools: ToolHost,
    renewal: Option<Renewal>,
    debug: Option<DebugLog>,
) -> Driver<LoggingHttp<RenewingHttp<BlockingSmolClient>>, ToolHost> {
    let client = BlockingSmolClient::new(http.clone());
    let http = LoggingHttp::new(RenewingHttp::new(client, renewal), debug);
    Driver::new(runtime, http, tools)
}

/// A session's agent wired to cm-driver: turns and compactions run one after another
/// through the same driver, HTTP client, tool host and Ctrl-C handler.
pub struct Turns {
    agent: Agent,
    driver: Driver<LoggingHttp<RenewingHttp<BlockingSmolClient>>, ToolHost>,
    session: OpenSession,
    credential: Option<Credential>,
    interrupt: Interrupt,
    debug: Option<DebugLog>,
    secrets: Secrets,
    images: bool,
}

impl std::fmt::Debug for Turns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turns")
            .field("session", &self.session.log.id())
            .finish_non_exhaustive()
    }
}

impl Turns {
    /// Wires the agent of `session` to the network, the tools and Ctrl-C.
    pub fn new(
        agent: Agent,
        provider: &Provider,
        session: OpenSession,
        workspace: Workspace,
        debug: Option<DebugLog>,
    ) -> Result<Turns, Failure> {
        let runtime: Arc<dyn Runtime> = Arc::new(StdRuntime::new());
        // One client for the model's requests and webfetch: one keep-alive pool.
        let http = SmolClient::new(ClientOptions::from_env());
        let tools = tool_host(&agent, provider, workspace, Arc::clone(&runtime), &http);
        let driver = blocking_driver(
            runtime,
            &http,
            tools,
            provider.renewal.clone(),
            debug.clone(),
        );
        let sender = driver.inputs();
        let interrupt = Interrupt::install(move || {
            let _ = sender.send(Input::Interrupt);
        })
        .map_err(|e| Failure::failed(format!("cannot handle Ctrl-C: {e}")))?;
        Ok(Turns {
            agent,
            driver,
            session,
            credential: provider.credential.clone(),
            interrupt,
            debug,
            secrets: Secrets::from_process(provider.credential.as_ref()),
            images: provider.images,
        })
    }

    /// The session id.
    pub fn session_id(&self) -> String {
        self.session.log.id().as_str().to_string()
    }

    /// Forgets a Ctrl-C pressed between turns (the chat's prompt).
    pub fn reset_interrupt(&self) {
        self.interrupt.reset();
    }

    /// Whether the model reads images (for attachments).
    pub fn images(&self) -> bool {
        self.images
    }

    /// The conversation so far.
    pub fn history(&self) -> &[cm_proto::message::Message] {
        self.agent.history()
    }

    /// Tokens and cost the session's log held when it was opened.
    pub fn opened_totals(&self) -> (cm_proto::message::Usage, Option<f64>) {
        (self.session.state.usage, self.session.state.cost)
    }

    /// A sender of driver inputs (the full-screen UI sends its Ctrl-C as
    /// [`Input::Interrupt`] here, since raw mode turns it into a key).
    pub fn inputs(&self) -> Sender<Input> {
        self.driver.inputs()
    }

    /// Runs a turn with `parts` (or a compaction when `None`) through another UI port,
    /// showing every session record to `observe` after it is written.
    pub fn run_with(
        &mut self,
        parts: Option<Vec<Part>>,
        port: &mut dyn cm_driver::Ui,
        observe: &mut dyn FnMut(&Record),
    ) -> Result<Outcome, Failure> {
        let now = self.driver.runtime().now();
        let at = self.driver.runtime().wall_clock();
        let submitted = match parts {
            Some(parts) => self.agent.submit(parts, now, at),
            None => self.agent.compact(now, at),
        };
        submitted.map_err(|_| Failure::failed("a turn is already running"))?;
        let credential = self.credential.clone();
        let mut credentials = |_: &str| credential.clone();
        let session_id = self.session_id();
        let mut log = ObservedLog {
            inner: RedactingLog {
                log: &mut self.session.log,
                secrets: &self.secrets,
            },
            observe,
        };
        self.driver
            .run(&mut self.agent, port, &mut log, &mut credentials)
            .map_err(|e| Failure::failed(format!("{e} (session {session_id})")))
    }

    /// Runs one turn with the user's message `parts` and says how it ended.
    pub fn turn(&mut self, parts: Vec<Part>, ui: &mut Ui) -> Result<Status, Failure> {
        if let Some(log) = &self.debug {
            log.line(&format!("turn start, session {}", self.session_id()));
        }
        let now = self.driver.runtime().now();
        let at = self.driver.runtime().wall_clock();
        self.agent
            .submit(parts, now, at)
            .map_err(|_| Failure::failed("a turn is already running"))?;
        self.pump(ui)
    }

    /// Summarises the session into one message (`cm run --compact`).
    pub fn compact(&mut self, ui: &mut Ui) -> Result<Status, Failure> {
        if let Some(log) = &self.debug {
            log.line(&format!(
                "compaction requested, session {}",
                self.session_id()
            ));
        }
        let now = self.driver.runtime().now();
        let at = self.driver.runtime().wall_clock();
        self.agent
            .compact(now, at)
            .map_err(|_| Failure::failed("a turn is already running"))?;
        self.pump(ui)
    }

    fn pump(&mut self, ui: &mut Ui) -> Result<Status, Failure> {
        let credential = self.credential.clone();
        let mut credentials = |_: &str| credential.clone();
        let mut port = UiPort {
            ui: &mut *ui,
            asker: Asker::detect(),
            debug: self.debug.clone(),
        };
        let session_id = self.session_id();
        let mut log = RedactingLog {
            log: &mut self.session.log,
            secrets: &self.secrets,
        };
        let outcome = self
            .driver
            .run(&mut self.agent, &mut port, &mut log, &mut credentials)
            .map_err(|e| Failure::failed(format!("{e} (session {session_id})")))?;
        if let Some(log) = &self.debug {
            log.line(&format!(
                "turn end: {} after {} steps",
                outcome.end.name(),
                outcome.steps
            ));
        }
        ui.finish(&outcome, &session_id);
        let status = status_of(&outcome.end);
        // A Ctrl-C that came too late to abort anything still means "interrupted".
        if self.interrupt.requested() && outcome.end != End::Completed {
            return Ok(Status::Interrupted);
        }
        Ok(status)
    }
}
