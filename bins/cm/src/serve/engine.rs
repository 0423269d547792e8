//! The seam between the server and whatever runs agent turns.
//!
//! The server hands a [`TurnEngine`] a session's [`SessionCore`] (the agent, its log and
//! tools) and the user's message; the engine runs the turn somewhere that may block,
//! sends every agent event and finally the core back on an async channel, and gives the
//! server a [`TurnControl`] to abort the turn or answer its permission questions.
//! [`ThreadEngine`] drives cm-driver's blocking `Driver` on a thread of its own; an async
//! driver can take its place without the server changing.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};

use cm_driver::{Input, Runtime, ToolHost};
use cm_host::{SessionLog, Workspace};
use cm_proto::agent::{Agent, AskId, Decision, Event, Outcome, Question};
use cm_proto::message::Part;

use crate::debug_log::DebugLog;
use crate::drive::ureq_driver;
use crate::providers::Provider;
use crate::secrets::{RedactingLog, Secrets};

/// Everything a turn of one session needs, owned by the session between turns and by
/// the engine during one.
pub struct SessionCore {
    /// The agent, with the conversation.
    pub agent: Agent,
    /// The session log, locked.
    pub log: SessionLog,
    /// The provider, with its credential.
    pub provider: Provider,
    /// The session's tools (its read log and todo list live across turns).
    pub tools: ToolHost,
    /// The clock and workers of the tools.
    pub runtime: Arc<dyn Runtime>,
    /// The workspace root.
    pub workspace: Workspace,
    /// The working directory, canonical.
    pub cwd: PathBuf,
    /// The debug log, when wanted.
    pub debug: Option<DebugLog>,
}

impl std::fmt::Debug for SessionCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCore")
            .field("session", self.log.id())
            .finish_non_exhaustive()
    }
}

/// What an engine reports about a running turn.
#[derive(Debug)]
pub enum TurnEvent {
    /// An agent event, in order.
    Agent(Event),
    /// The turn ended: the last report.
    Finished(Box<Finished>),
}

/// How a turn ended, and the core back.
#[derive(Debug)]
pub struct Finished {
    /// The core, unless the turn broke it (a panic); the session is then unloaded.
    pub core: Option<SessionCore>,
    /// The agent's outcome, or why the turn could not run to its end.
    pub result: Result<Outcome, String>,
}

/// Steers a running turn.
pub trait TurnControl: Send + Sync {
    /// Asks the turn to stop; it ends with `aborted`, its records saved.
    fn abort(&self);
    /// Answers permission question `id`.
    fn answer(&self, id: AskId, decision: Decision);
}

/// Runs turns.
pub trait TurnEngine: Send + Sync {
    /// Starts a turn of `core` with the user's `parts`; reports go to `events`, the last
    /// being [`TurnEvent::Finished`] (always sent, even when the turn cannot start).
    fn start(
        &self,
        core: SessionCore,
        parts: Vec<Part>,
        events: async_channel::Sender<TurnEvent>,
    ) -> Arc<dyn TurnControl>;
}

/// Runs each turn through cm-driver's blocking driver on a thread of its own.
#[derive(Debug, Default)]
pub struct ThreadEngine;

struct InputControl(Mutex<Sender<Input>>);

impl TurnControl for InputControl {
    fn abort(&self) {
        let _ = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(Input::Interrupt);
    }

    fn answer(&self, id: AskId, decision: Decision) {
        let _ = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(Input::Answer(id, decision));
    }
}

/// The driver's UI port: events go out on the channel; questions are already events
/// (`permission_asked`), answered through [`TurnControl::answer`].
struct EventPort {
    events: async_channel::Sender<TurnEvent>,
    debug: Option<DebugLog>,
}

impl cm_driver::Ui for EventPort {
    fn show(&mut self, event: &Event) {
        if let Some(log) = &self.debug {
            log.event(event);
        }
        let _ = self.events.send_blocking(TurnEvent::Agent(event.clone()));
    }

    fn ask(&mut self, _id: AskId, _question: &Question, _inputs: &Sender<Input>) {}
}

impl TurnEngine for ThreadEngine {
    fn start(
        &self,
        core: SessionCore,
        parts: Vec<Part>,
        events: async_channel::Sender<TurnEvent>,
    ) -> Arc<dyn TurnControl> {
        let mut driver = ureq_driver(
            Arc::clone(&core.runtime),
            core.tools.clone(),
            core.provider.renewal.clone(),
            core.debug.clone(),
        );
        let control = Arc::new(InputControl(Mutex::new(driver.inputs())));
        let name = format!("cm-turn-{}", core.log.id());
        let slot = Arc::new(Mutex::new(Some((core, parts))));
        let theirs = Arc::clone(&slot);
        let reports = events.clone();
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            let taken = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
            let Some((mut core, parts)) = taken else {
                return;
            };
            let ran = panic::catch_unwind(AssertUnwindSafe(|| {
                let credential = core.provider.credential.clone();
                let mut credentials = |_: &str| credential.clone();
                let secrets = Secrets::from_process(core.provider.credential.as_ref());
                let mut port = EventPort {
                    events: reports.clone(),
                    debug: core.debug.clone(),
                };
                let mut log = RedactingLog {
                    log: &mut core.log,
                    secrets: &secrets,
                };
                driver
                    .run_turn(
                        &mut core.agent,
                        parts,
                        &mut port,
                        &mut log,
                        &mut credentials,
                    )
                    .map_err(|e| e.to_string())
            }));
            let finished = match ran {
                Ok(result) => Finished {
                    core: Some(core),
                    result,
                },
                Err(_) => Finished {
                    core: None,
                    result: Err("the turn failed unexpectedly; the session was closed".into()),
                },
            };
            let _ = reports.send_blocking(TurnEvent::Finished(Box::new(finished)));
        });
        if spawned.is_err() {
            let taken = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            let _ = events.try_send(TurnEvent::Finished(Box::new(Finished {
                core: taken.map(|(core, _)| core),
                result: Err("cannot start a thread for the turn".into()),
            })));
        }
        control
    }
}
