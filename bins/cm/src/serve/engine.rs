//! The seam between the server and whatever runs agent turns.
//!
//! The server hands a [`TurnEngine`] a session's [`SessionCore`] (the agent, its log and
//! tools) and the user's message; the engine runs the turn somewhere that may block,
//! sends every agent event and finally the core back on an async channel, and gives the
//! server a [`TurnControl`] to abort the turn or answer its permission questions.
//! [`SmolEngine`] runs turns as tasks of the server's smol executor through cm-smol's
//! async driver, so many sessions' turns share a few threads and one connection pool.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cm_driver::{Runtime, ToolHost};
use cm_host::{SessionLog, Workspace};
use cm_proto::agent::{Agent, AskId, Decision, Event, Outcome};
use cm_proto::message::Part;
use cm_smol::{Exchanges, Handle, SmolClient, SmolDriver, Update};
use smol::future::FutureExt;

use crate::debug_log::{DebugLog, LoggingExchanges};
use crate::providers::Provider;
use crate::renewal::RenewingExchanges;
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
    /// The clock and workers of the tools (smol's blocking pool).
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

/// Runs every turn as a task on smol's executor through cm-smol's [`SmolDriver`], all
/// sessions' requests through one [`SmolClient`] (its keep-alive pool shared), with the
/// OAuth renewal and debug log of `cm run` around each exchange.
#[derive(Debug, Clone)]
pub struct SmolEngine {
    http: SmolClient,
}

impl SmolEngine {
    /// An engine whose turns send their requests through `http`.
    pub fn new(http: SmolClient) -> SmolEngine {
        SmolEngine { http }
    }
}

/// A running turn, steered through its driver's handle.
struct HandleControl {
    handle: Handle,
    /// Set by [`TurnControl::abort`]: an abort sent before the turn began was discarded
    /// with the driver's stale inputs, so the turn sends it again once it has begun.
    aborted: Arc<AtomicBool>,
}

impl TurnControl for HandleControl {
    fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        self.handle.abort();
    }

    fn answer(&self, id: AskId, decision: Decision) {
        self.handle.answer(id, decision);
    }
}

impl TurnEngine for SmolEngine {
    fn start(
        &self,
        core: SessionCore,
        parts: Vec<Part>,
        events: async_channel::Sender<TurnEvent>,
    ) -> Arc<dyn TurnControl> {
        let http = LoggingExchanges::new(
            RenewingExchanges::new(self.http.clone(), core.provider.renewal.clone()),
            core.debug.clone(),
        );
        let driver = SmolDriver::new(Arc::clone(&core.runtime), http, core.tools.clone());
        let handle = driver.handle();
        // Subscribed before the turn starts, so no update is missed.
        let updates = handle.subscribe_unbounded();
        let control = HandleControl {
            handle,
            aborted: Arc::new(AtomicBool::new(false)),
        };
        let turn = Steering {
            updates,
            handle: control.handle.clone(),
            aborted: Arc::clone(&control.aborted),
        };
        smol::spawn(run(driver, core, parts, turn, events)).detach();
        Arc::new(control)
    }
}

/// The turn's side of its [`HandleControl`]: its updates, and the abort to repeat.
struct Steering {
    updates: async_channel::Receiver<Update>,
    handle: Handle,
    aborted: Arc<AtomicBool>,
}

/// Runs one turn, relaying its events as they come, then reports how it ended.
async fn run<H: Exchanges>(
    mut driver: SmolDriver<H>,
    mut core: SessionCore,
    parts: Vec<Part>,
    steering: Steering,
    events: async_channel::Sender<TurnEvent>,
) {
    let updates = &steering.updates;
    let debug = core.debug.clone();
    let relay = |update: Update| {
        let Update::Event(event) = update else {
            return None;
        };
        if let Some(log) = &debug {
            log.event(&event);
        }
        Some(TurnEvent::Agent(event))
    };
    let turn = AssertUnwindSafe(async {
        let credential = core.provider.credential.clone();
        let mut credentials = move |_: &str| credential.clone();
        let secrets = Secrets::from_process(core.provider.credential.as_ref());
        let mut log = RedactingLog {
            log: &mut core.log,
            secrets: &secrets,
        };
        let relaying = async {
            let mut begun = false;
            while let Ok(update) = updates.recv().await {
                // The first update comes after the driver discarded its stale inputs.
                if !begun {
                    begun = true;
                    if steering.aborted.load(Ordering::SeqCst) {
                        steering.handle.abort();
                    }
                }
                if let Some(event) = relay(update) {
                    let _ = events.send(event).await;
                }
            }
            std::future::pending().await
        };
        smol::future::or(
            async {
                driver
                    .run_turn(&mut core.agent, parts, &mut log, &mut credentials)
                    .await
                    .map_err(|e| e.to_string())
            },
            relaying,
        )
        .await
    })
    .catch_unwind()
    .await;
    // What the turn published after the relay last ran.
    while let Ok(update) = updates.try_recv() {
        if let Some(event) = relay(update) {
            let _ = events.send(event).await;
        }
    }
    let finished = match turn {
        Ok(result) => Finished {
            core: Some(core),
            result,
        },
        Err(_) => Finished {
            core: None,
            result: Err("the turn failed unexpectedly; the session was closed".into()),
        },
    };
    let _ = events.send(TurnEvent::Finished(Box::new(finished))).await;
}
