//! Running turns through cm-driver: the ureq HTTP client, the native tool
//! host, the session log as the record sink, and cm's output and questions as the UI.

use std::sync::mpsc::Sender;
use std::sync::Arc;

use cm_driver::{Driver, Input, Runtime, StdRuntime, ToolHost};
use cm_host::Workspace;
use cm_proto::agent::{Agent, AskId, Decision, End, Event, Question};
use cm_proto::message::Part;
use cm_proto::provider::Credential;
use cm_proto::tool::{todo, ToolOptions};
use cm_ureq::{ClientOptions, UreqClient, UreqFetcher};

use crate::ask::{self, Asker};
use crate::debug_log::{DebugLog, LoggingHttp};
use crate::exit::{Failure, Status};
use crate::interrupt::Interrupt;
use crate::output::Ui;
use crate::providers::Provider;
use crate::renewal::RenewingHttp;
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

/// A session's agent wired to cm-driver: turns and compactions run one after another
/// through the same driver, HTTP client, tool host and Ctrl-C handler.
pub struct Turns {
    agent: Agent,
    driver: Driver<LoggingHttp<RenewingHttp<UreqClient>>, ToolHost>,
    session: OpenSession,
    credential: Option<Credential>,
    interrupt: Interrupt,
    debug: Option<DebugLog>,
    secrets: Secrets,
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
        let client = UreqClient::new(ClientOptions::from_env());
        let http = LoggingHttp::new(
            RenewingHttp::new(client, provider.renewal.clone()),
            debug.clone(),
        );
        let options = ToolOptions {
            images: provider.images,
            ..ToolOptions::default()
        };
        let todos = todo::from_history(agent.history());
        let tools = ToolHost::new(workspace, options, Arc::clone(&runtime))
            .with_web(Arc::new(UreqFetcher::new(ClientOptions::from_env())))
            .with_todos(todos);
        let driver = Driver::new(runtime, http, tools);
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
