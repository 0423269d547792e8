//! The server's sessions: the ones loaded in memory (their log locked, a turn perhaps
//! running), backed by the same session store `cm run` uses.
//!
//! A session is loaded when it is created or first sent a message, and stays loaded
//! until it is deleted or the server stops; loading takes the log's lock, so a second
//! server (or a `cm run`) on the same data directory gets 409 instead of interleaving
//! records. Reading a session (`GET`) replays its log from disk, loaded or not. Each
//! running turn has a pump task that publishes its events to the hub, tracks its open
//! permission questions, and on the end puts the core back and wakes `?wait=true`
//! requests.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cm_driver::{ClientOptions, Runtime};
use cm_host::{SessionId, SessionStore, StoreError};
use cm_proto::agent::{Agent, AskId, Decision, Event};
use cm_proto::message::{Message, Part, Role};
use cm_proto::session::{self, Record, SessionState};
use cm_smol::{SmolClient, SmolRuntime};
use serde_json::{json, Value};

use super::engine::{Finished, SessionCore, TurnControl, TurnEngine, TurnEvent};
use super::sse::Hub;
use crate::args::RunArgs;
use crate::exit::{Failure, Status};
use crate::output::{Mode, Ui};
use crate::run::{entropy, prepare_in, wall_clock, Prepared};
use crate::sessions::{self as stored, Choice, NewSession};
use crate::{attach, drive};

/// An API error: the status and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// What went wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// An error with this status.
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn from_failure(failure: Failure) -> ApiError {
        let status = match failure.status {
            Status::Usage => 400,
            _ => 500,
        };
        ApiError::new(status, failure.message)
    }

    fn from_store(id: &str, error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound { .. } => not_found(id),
            StoreError::Locked { .. } => ApiError::new(
                409,
                format!("session `{id}` is in use by another cm; wait for it or use another"),
            ),
            other => ApiError::new(500, format!("session log: {other}")),
        }
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(404, format!("there is no session `{id}`"))
}

/// A decision on a permission question, as the API names it.
pub fn decision(answer: &str, message: Option<String>) -> Option<Decision> {
    match answer {
        "once" => Some(Decision::AllowOnce),
        "always" => Some(Decision::AllowAlways),
        "deny" => Some(Decision::Deny { message }),
        _ => None,
    }
}

struct Running {
    turn: String,
    control: Arc<dyn TurnControl>,
    asks: BTreeSet<u64>,
    waiters: Vec<async_channel::Sender<Value>>,
}

struct LiveState {
    core: Option<SessionCore>,
    model: String,
    cwd: PathBuf,
    workspace: cm_host::Workspace,
    images: bool,
    running: Option<Running>,
    closed: bool,
}

struct Live {
    state: Mutex<LiveState>,
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, LiveState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sessions of one server.
pub struct Sessions {
    store: SessionStore,
    directory: PathBuf,
    engine: Arc<dyn TurnEngine>,
    hub: Arc<Hub>,
    live: Mutex<HashMap<String, Arc<Live>>>,
    opening: Mutex<()>,
    next_turn: AtomicU64,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A message posted to a session: its turn id, and the turn's result when waited for.
#[derive(Debug)]
pub struct Started {
    /// The turn id.
    pub turn: String,
    /// The result (`turn_done` data) once the turn ends, when waiting.
    pub done: Option<async_channel::Receiver<Value>>,
}

impl Sessions {
    /// Sessions kept in `store`, new ones working in `directory` unless told otherwise.
    pub fn new(
        store: SessionStore,
        directory: PathBuf,
        engine: Arc<dyn TurnEngine>,
        hub: Arc<Hub>,
    ) -> Sessions {
        Sessions {
            store,
            directory,
            engine,
            hub,
            live: Mutex::new(HashMap::new()),
            opening: Mutex::new(()),
            next_turn: AtomicU64::new(1),
        }
    }

    fn live_map(&self) -> MutexGuard<'_, HashMap<String, Arc<Live>>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn find_live(&self, id: &str) -> Option<Arc<Live>> {
        self.live_map().get(id).cloned()
    }

    /// Creates a session in `directory` (default: the server's) with `model` (default:
    /// the configured one).
    pub async fn create(
        self: &Arc<Self>,
        directory: Option<String>,
        model: Option<String>,
    ) -> Result<Value, ApiError> {
        let this = Arc::clone(self);
        let (id, summary) = smol::unblock(move || this.create_blocking(directory, model)).await?;
        self.hub
            .publish(Some(&id), "session_created", summary.clone());
        Ok(summary)
    }

    fn create_blocking(
        &self,
        directory: Option<String>,
        model: Option<String>,
    ) -> Result<(String, Value), ApiError> {
        let cwd = match directory {
            None => self.directory.clone(),
            Some(dir) if dir.is_empty() => {
                return Err(ApiError::new(400, "\"directory\" must not be empty"))
            }
            Some(dir) => self
                .directory
                .join(dir)
                .canonicalize()
                .ok()
                .filter(|d| d.is_dir())
                .ok_or_else(|| {
                    ApiError::new(400, "\"directory\" must name an existing directory")
                })?,
        };
        let prepared = prepare(&cwd, model)?;
        let session = stored::open(
            &self.store,
            &Choice::New,
            &NewSession {
                directory: &prepared.cwd,
                provider: &prepared.provider.id,
                model: &prepared.provider.model,
                prompt: "",
                at: wall_clock(),
                entropy: entropy(),
            },
        )
        .map_err(ApiError::from_failure)?;
        let id = session.log.id().as_str().to_string();
        let summary = summarize(&session.state, None);
        let core = core_of(prepared, session.log, &session.state);
        self.insert(&id, core);
        Ok((id, summary))
    }

    fn insert(&self, id: &str, core: SessionCore) -> Arc<Live> {
        let live = Arc::new(Live {
            state: Mutex::new(LiveState {
                model: format!("{}/{}", core.provider.id, core.provider.model),
                cwd: core.cwd.clone(),
                workspace: core.workspace.clone(),
                images: core.provider.images,
                core: Some(core),
                running: None,
                closed: false,
            }),
        });
        self.live_map().insert(id.to_string(), Arc::clone(&live));
        live
    }

    /// The loaded session `id`, loading it from the store first if needed.
    async fn load(self: &Arc<Self>, id: &str) -> Result<Arc<Live>, ApiError> {
        if let Some(live) = self.find_live(id) {
            return Ok(live);
        }
        let this = Arc::clone(self);
        let id = id.to_string();
        smol::unblock(move || this.load_blocking(&id)).await
    }

    fn load_blocking(&self, id: &str) -> Result<Arc<Live>, ApiError> {
        let _one_at_a_time = self.opening.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(live) = self.find_live(id) {
            return Ok(live);
        }
        let state = self.replay(id)?;
        let info = state
            .info
            .clone()
            .ok_or_else(|| ApiError::new(500, format!("session `{id}` has no session record")))?;
        let cwd = PathBuf::from(&info.directory).canonicalize().map_err(|e| {
            ApiError::new(
                409,
                format!("session `{id}` worked in {}: {e}", info.directory),
            )
        })?;
        let prepared = prepare(&cwd, Some(format!("{}/{}", info.provider, info.model)))?;
        let session = stored::open(&self.store, &Choice::Id(id.to_string()), &new_for(&cwd))
            .map_err(|f| match f.status {
                Status::Usage if f.message.contains("in use") => ApiError::new(409, f.message),
                _ => ApiError::from_failure(f),
            })?;
        let core = core_of(prepared, session.log, &session.state);
        Ok(self.insert(id, core))
    }

    fn replay(&self, id: &str) -> Result<SessionState, ApiError> {
        let parsed = SessionId::parse(id).map_err(|_| not_found(id))?;
        let values = self
            .store
            .load(&parsed)
            .map_err(|e| ApiError::from_store(id, e))?;
        let records: Vec<Record> = values
            .into_iter()
            .filter_map(|value| serde_json::from_value(value).ok())
            .collect();
        Ok(session::replay(&records))
    }

    /// Whether session `id` exists (loaded or stored).
    pub fn exists(&self, id: &str) -> bool {
        self.find_live(id).is_some()
            || SessionId::parse(id).is_ok_and(|parsed| self.store.path_of(&parsed).is_file())
    }

    /// Every stored session, newest first, with whether a turn is running.
    pub async fn list(self: &Arc<Self>) -> Result<Value, ApiError> {
        let this = Arc::clone(self);
        let infos = smol::unblock(move || this.store.list())
            .await
            .map_err(|e| ApiError::new(500, format!("cannot list the sessions: {e}")))?;
        let sessions: Vec<Value> = infos
            .iter()
            .map(|info| {
                let first = info.first.clone().unwrap_or(Value::Null);
                let field = |name: &str| first.get(name).cloned().unwrap_or(Value::Null);
                let mut summary = json!({
                    "id": info.id.as_str(),
                    "title": field("title"),
                    "directory": field("directory"),
                    "provider": field("provider"),
                    "model": field("model"),
                    "created": field("created"),
                    "updated": info.modified.0,
                });
                self.add_status(info.id.as_str(), &mut summary);
                summary
            })
            .collect();
        Ok(Value::Array(sessions))
    }

    fn add_status(&self, id: &str, summary: &mut Value) {
        let (busy, turn, asks) = match self.find_live(id) {
            Some(live) => {
                let state = live.lock();
                match &state.running {
                    Some(r) => (
                        true,
                        Value::from(r.turn.clone()),
                        r.asks.iter().copied().collect(),
                    ),
                    None => (false, Value::Null, Vec::new()),
                }
            }
            None => (false, Value::Null, Vec::new()),
        };
        if let Value::Object(map) = summary {
            map.insert("busy".into(), Value::Bool(busy));
            map.insert("turn".into(), turn);
            map.insert("pending_asks".into(), json!(asks));
        }
    }

    /// One session's summary.
    pub async fn get(self: &Arc<Self>, id: &str) -> Result<Value, ApiError> {
        let this = Arc::clone(self);
        let owned = id.to_string();
        let state = smol::unblock(move || this.replay(&owned)).await?;
        let mut summary = summarize(&state, Some(id));
        self.add_status(id, &mut summary);
        Ok(summary)
    }

    /// One session's conversation, as the model sees it.
    pub async fn messages(self: &Arc<Self>, id: &str) -> Result<Value, ApiError> {
        let this = Arc::clone(self);
        let owned = id.to_string();
        let state = smol::unblock(move || this.replay(&owned)).await?;
        Ok(serde_json::to_value(&state.history).unwrap_or(Value::Array(Vec::new())))
    }

    /// Deletes a session that is not running a turn.
    pub async fn delete(self: &Arc<Self>, id: &str) -> Result<(), ApiError> {
        if let Some(live) = self.find_live(id) {
            let mut state = live.lock();
            if state.running.is_some() {
                return Err(ApiError::new(
                    409,
                    format!("session `{id}` is running a turn; abort it first"),
                ));
            }
            state.closed = true;
            state.core = None; // releases the log's lock
            drop(state);
            self.live_map().remove(id);
        }
        let parsed = SessionId::parse(id).map_err(|_| not_found(id))?;
        let this = Arc::clone(self);
        let owned = id.to_string();
        smol::unblock(move || this.store.delete(&parsed))
            .await
            .map_err(|e| ApiError::from_store(&owned, e))?;
        self.hub
            .publish(Some(id), "session_deleted", json!({ "id": id }));
        Ok(())
    }

    /// Starts a turn with `text`, on `model` if given (`provider/model`).
    pub async fn post_message(
        self: &Arc<Self>,
        id: &str,
        text: String,
        model: Option<String>,
        wait: bool,
    ) -> Result<Started, ApiError> {
        let live = self.load(id).await?;
        let (cwd, workspace, mut images, current_model) = {
            let state = live.lock();
            let s = &*state;
            (
                s.cwd.clone(),
                s.workspace.clone(),
                s.images,
                s.model.clone(),
            )
        };
        let switch = match model {
            Some(model) if model != current_model => {
                let dir = cwd.clone();
                let prepared = smol::unblock(move || prepare(&dir, Some(model))).await?;
                images = prepared.provider.images;
                Some(prepared)
            }
            _ => None,
        };
        // Mentioned files are read off the async threads, before the session is taken.
        let prompt = text.clone();
        let parts = smol::unblock(move || attach::build(&prompt, &[], &cwd, &workspace, images))
            .await
            .map_err(ApiError::from_failure)?;
        let mut state = live.lock();
        if state.closed {
            return Err(not_found(id));
        }
        if state.running.is_some() {
            return Err(ApiError::new(
                409,
                format!("session `{id}` is already running a turn; wait for it or abort it"),
            ));
        }
        let Some(mut core) = state.core.take() else {
            return Err(ApiError::new(
                409,
                format!("session `{id}` is not available"),
            ));
        };
        if let Some(prepared) = switch {
            core = switch_model(core, prepared);
            state.model = format!("{}/{}", core.provider.id, core.provider.model);
            state.images = core.provider.images;
        }
        let turn = format!("turn_{}", self.next_turn.fetch_add(1, Ordering::Relaxed));
        let before = core.agent.history().len();
        let (reports, events) = async_channel::unbounded();
        let control = self.engine.start(core, parts, reports);
        let mut running = Running {
            turn: turn.clone(),
            control,
            asks: BTreeSet::new(),
            waiters: Vec::new(),
        };
        let done = wait.then(|| {
            let (sender, receiver) = async_channel::bounded(1);
            running.waiters.push(sender);
            receiver
        });
        state.running = Some(running);
        drop(state);
        self.hub.publish(
            Some(id),
            "turn_started",
            json!({ "turn": turn, "text": text }),
        );
        let this = Arc::clone(self);
        let session = id.to_string();
        let pumped = turn.clone();
        smol::spawn(async move { this.pump(&session, &pumped, live, events, before).await })
            .detach();
        Ok(Started { turn, done })
    }

    async fn pump(
        &self,
        id: &str,
        turn: &str,
        live: Arc<Live>,
        events: async_channel::Receiver<TurnEvent>,
        before: usize,
    ) {
        while let Ok(report) = events.recv().await {
            match report {
                TurnEvent::Agent(event) => {
                    if let Some(running) = live.lock().running.as_mut() {
                        match &event {
                            Event::PermissionAsked { id, .. } => {
                                running.asks.insert(id.0);
                            }
                            Event::PermissionAnswered { id, .. } => {
                                running.asks.remove(&id.0);
                            }
                            _ => {}
                        }
                    }
                    let mut fields = serde_json::to_value(&event).unwrap_or(Value::Null);
                    let name = fields
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("event")
                        .to_string();
                    if let Value::Object(map) = &mut fields {
                        map.insert("turn".into(), Value::from(turn));
                    }
                    self.hub.publish(Some(id), &name, fields);
                }
                TurnEvent::Finished(finished) => {
                    self.finish(id, turn, &live, *finished, before);
                    return;
                }
            }
        }
        // The engine went away without a word: free the session for the next turn.
        let finished = Finished {
            core: None,
            result: Err("the turn stopped unexpectedly".into()),
        };
        self.finish(id, turn, &live, finished, before);
    }

    fn finish(&self, id: &str, turn: &str, live: &Live, finished: Finished, before: usize) {
        let answer = finished
            .core
            .as_ref()
            .and_then(|core| final_answer(core.agent.history(), before));
        let mut result = json!({ "session": id, "turn": turn });
        match &finished.result {
            Ok(outcome) => {
                result["end"] = Value::from(outcome.end.name());
                result["steps"] = Value::from(outcome.steps);
                result["usage"] = serde_json::to_value(outcome.usage).unwrap_or(Value::Null);
                result["cost"] = outcome.cost.map_or(Value::Null, Value::from);
                if let cm_proto::agent::End::Failed(error) = &outcome.end {
                    result["error"] = Value::from(error.to_string());
                }
            }
            Err(message) => {
                result["end"] = Value::from("failed");
                result["error"] = Value::from(message.clone());
            }
        }
        result["text"] = Value::from(answer.as_ref().map(message_text).unwrap_or_default());
        result["message"] = answer
            .map(|m| serde_json::to_value(m).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        let waiters = {
            let mut state = live.lock();
            let broken = finished.core.is_none();
            state.core = finished.core;
            if broken {
                state.closed = true;
            }
            let waiters = state.running.take().map(|r| r.waiters).unwrap_or_default();
            if broken {
                drop(state);
                self.live_map().remove(id);
            }
            waiters
        };
        self.hub.publish(Some(id), "turn_done", result.clone());
        for waiter in waiters {
            let _ = waiter.try_send(result.clone());
        }
    }

    /// Stops the running turn of `id`.
    pub fn abort(&self, id: &str) -> Result<String, ApiError> {
        let live = self.find_live(id).ok_or_else(|| idle(id))?;
        let state = live.lock();
        let running = state.running.as_ref().ok_or_else(|| idle(id))?;
        running.control.abort();
        Ok(running.turn.clone())
    }

    /// Answers the open permission question `ask` of `id`'s running turn.
    pub fn answer(&self, id: &str, ask: u64, decision: Decision) -> Result<(), ApiError> {
        let unknown = || {
            ApiError::new(
                404,
                format!("session `{id}` has no open permission question {ask}"),
            )
        };
        let live = self.find_live(id).ok_or_else(unknown)?;
        let mut state = live.lock();
        let running = state.running.as_mut().ok_or_else(unknown)?;
        if !running.asks.remove(&ask) {
            return Err(unknown());
        }
        running.control.answer(AskId(ask), decision);
        Ok(())
    }

    /// Aborts every running turn, waits up to `limit` for them to end (their records
    /// saved), then closes every session (their locks released).
    pub async fn shut_down(&self, limit: Duration) {
        let lives: Vec<Arc<Live>> = self.live_map().values().cloned().collect();
        for live in &lives {
            if let Some(running) = &live.lock().running {
                running.control.abort();
            }
        }
        let deadline = std::time::Instant::now() + limit;
        while lives.iter().any(|l| l.lock().running.is_some())
            && std::time::Instant::now() < deadline
        {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        for live in &lives {
            let mut state = live.lock();
            state.closed = true;
            state.core = None;
        }
        self.live_map().clear();
    }
}

fn idle(id: &str) -> ApiError {
    ApiError::new(409, format!("session `{id}` is not running a turn"))
}

/// The assistant's last message after index `before` of `history`.
fn final_answer(history: &[Message], before: usize) -> Option<Message> {
    history
        .get(before..)?
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant)
        .cloned()
}

/// The text parts of `message`, joined.
fn message_text(message: &Message) -> String {
    message
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn summarize(state: &SessionState, id: Option<&str>) -> Value {
    let info = state.info.as_ref();
    json!({
        "id": info.map(|i| i.id.as_str()).or(id),
        "title": info.and_then(|i| i.title.clone()),
        "directory": info.map(|i| i.directory.clone()),
        "provider": info.map(|i| i.provider.clone()),
        "model": info.map(|i| i.model.clone()),
        "created": info.map(|i| i.created.0),
        "messages": state.history.len(),
        "turns": state.turns,
        "usage": serde_json::to_value(state.usage).unwrap_or(Value::Null),
        "cost": state.cost,
    })
}

fn new_for(cwd: &Path) -> NewSession<'_> {
    NewSession {
        directory: cwd,
        provider: "",
        model: "",
        prompt: "",
        at: wall_clock(),
        entropy: entropy(),
    }
}

/// Loads config and provider for a session in `cwd`, as `cm run --model` would.
fn prepare(cwd: &Path, model: Option<String>) -> Result<Prepared, ApiError> {
    let args = RunArgs {
        model,
        ..RunArgs::default()
    };
    // Notes (an unknown price) go to the server's stderr.
    let mut ui = Ui::to_writers(
        Mode::Text,
        Box::new(std::io::sink()),
        Box::new(std::io::stderr()),
    );
    prepare_in(cwd.to_path_buf(), &args, &mut ui).map_err(ApiError::from_failure)
}

fn core_of(prepared: Prepared, log: cm_host::SessionLog, state: &SessionState) -> SessionCore {
    let agent = Agent::resume(prepared.config, state, entropy());
    let runtime: Arc<dyn Runtime> = Arc::new(SmolRuntime::new());
    let tools = drive::tool_host(
        &agent,
        &prepared.provider,
        prepared.workspace.clone(),
        Arc::clone(&runtime),
        &SmolClient::new(ClientOptions::from_env()),
    );
    SessionCore {
        agent,
        log,
        provider: prepared.provider,
        tools,
        runtime,
        workspace: prepared.workspace,
        cwd: prepared.cwd,
        debug: prepared.debug,
    }
}

/// The same session continued on another model: the conversation and totals carry over.
fn switch_model(core: SessionCore, prepared: Prepared) -> SessionCore {
    let state = SessionState {
        history: core.agent.history().to_vec(),
        usage: core.agent.session_usage(),
        cost: core.agent.session_cost(),
        ..SessionState::default()
    };
    SessionCore {
        agent: Agent::resume(prepared.config, &state, entropy()),
        provider: prepared.provider,
        debug: prepared.debug,
        ..core
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_answer_is_the_last_assistant_message_of_the_turn() {
        let assistant = |text: &str| Message {
            role: Role::Assistant,
            parts: vec![Part::text(text), Part::text("!")],
        };
        let history = vec![
            Message::user("a"),
            assistant("old"),
            Message::user("b"),
            assistant("new"),
        ];
        assert_eq!(
            final_answer(&history, 2).map(|m| message_text(&m)),
            Some("new!".into())
        );
        assert_eq!(final_answer(&history[..3], 2), None);
        assert_eq!(final_answer(&history, 9), None);
    }

    #[test]
    fn answers_are_once_always_or_deny() {
        assert_eq!(decision("once", None), Some(Decision::AllowOnce));
        assert_eq!(decision("always", None), Some(Decision::AllowAlways));
        assert_eq!(
            decision("deny", Some("no".into())),
            Some(Decision::Deny {
                message: Some("no".into())
            })
        );
        assert_eq!(decision("yes", None), None);
    }
}
