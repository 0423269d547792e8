//! The built-in tools on the local machine.

use std::collections::HashMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cm_host::bash::{self, AbortHandle, BashRequest};
use cm_host::{search, NativeFs, Workspace};
use cm_proto::agent::ToolRunId;
use cm_proto::tool::{
    run_builtin, todo, webfetch, ReadLog, Todo, ToolInvocation, ToolOptions, ToolOutcome,
};
use serde_json::Value;

use crate::{Input, Runtime, ToolRunner, WebFetcher};

/// Runs `read`, `write`, `edit`, `multiedit`, `apply_patch`, `glob`, `grep`, `ls`, `bash`,
/// `todowrite`/`todoread` and (given a [`WebFetcher`]) `webfetch` in one workspace, each
/// run on a worker.
///
/// File tools go through [`run_builtin`] and the search tools through
/// [`search::run_native`], over a [`NativeFs`] made for the invocation (so a granted
/// `external_directory` reaches outside the workspace); `bash` goes through
/// [`bash::run`]. One [`ReadLog`] serves the whole session: a file read by one call may
/// be edited by a later one, and a file changed since is caught; one todo list likewise
/// (seed it on resume with [`ToolHost::with_todos`] and `todo::from_history`). A tool
/// that panics answers with an error outcome instead of leaving the agent waiting.
#[derive(Clone)]
pub struct ToolHost {
    workspace: Workspace,
    options: ToolOptions,
    runtime: Arc<dyn Runtime>,
    read_log: Arc<Mutex<ReadLog>>,
    todos: Arc<Mutex<Vec<Todo>>>,
    web: Option<Arc<dyn WebFetcher>>,
    running: Arc<Mutex<HashMap<ToolRunId, AbortHandle>>>,
}

impl ToolHost {
    /// A host for one session in `workspace`, spawning its workers on `runtime`.
    pub fn new(workspace: Workspace, options: ToolOptions, runtime: Arc<dyn Runtime>) -> ToolHost {
        ToolHost {
            workspace,
            options,
            runtime,
            read_log: Arc::new(Mutex::new(ReadLog::new())),
            todos: Arc::new(Mutex::new(Vec::new())),
            web: None,
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// This host, running `webfetch` through `fetcher` (without one, `webfetch` fails).
    pub fn with_web(mut self, fetcher: Arc<dyn WebFetcher>) -> ToolHost {
        self.web = Some(fetcher);
        self
    }

    /// This host, starting from `todos` (a resumed session's, from `todo::from_history`).
    pub fn with_todos(self, todos: Vec<Todo>) -> ToolHost {
        *self.todos.lock().unwrap_or_else(PoisonError::into_inner) = todos;
        self
    }

    /// The session's todo list as it stands.
    pub fn todos(&self) -> Vec<Todo> {
        self.todos
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The workspace the tools run in.
    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// Starts `invocation` on a worker of the runtime; its [`Input::ToolDone`] goes to
    /// `deliver` (on the worker) unless the run is cancelled first with
    /// [`ToolRunner::cancel`]. [`ToolRunner::start`] is this with an mpsc sender; an
    /// async driver passes its own channel.
    pub fn start_with(
        &self,
        id: ToolRunId,
        invocation: ToolInvocation,
        deliver: impl FnOnce(Input) + Send + 'static,
    ) {
        let abort = AbortHandle::new();
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, abort.clone());
        let host = self.clone();
        let name = format!("cm-tool-{}", id.0);
        self.runtime.spawn(
            &name,
            Box::new(move || {
                let outcome = host.run(&invocation, &abort);
                host.running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
                if !abort.is_aborted() {
                    deliver(Input::ToolDone(id, outcome));
                }
            }),
        );
    }

    /// Stops run `id` (kills its processes); its outcome is no longer delivered.
    pub fn cancel_run(&self, id: ToolRunId) {
        let abort = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        if let Some(abort) = abort {
            abort.abort();
        }
    }

    /// Runs `invocation` on the calling thread (what a worker does for [`ToolRunner::start`]).
    pub fn run(&self, invocation: &ToolInvocation, abort: &AbortHandle) -> ToolOutcome {
        let ran = panic::catch_unwind(AssertUnwindSafe(|| self.run_unguarded(invocation, abort)));
        ran.unwrap_or_else(|_| {
            ToolOutcome::error(format!("the {} tool failed unexpectedly", invocation.name))
        })
    }

    fn run_unguarded(&self, invocation: &ToolInvocation, abort: &AbortHandle) -> ToolOutcome {
        let input = &invocation.input;
        match invocation.name.as_str() {
            "bash" => return self.run_bash(input, abort),
            "webfetch" => return self.run_webfetch(input, abort),
            name @ ("todowrite" | "todoread") => {
                let mut todos = self.todos.lock().unwrap_or_else(PoisonError::into_inner);
                return todo::run(&mut todos, name, input).unwrap_or_default();
            }
            _ => {}
        }
        let mut fs = NativeFs::for_invocation(self.workspace.clone(), invocation);
        if let Some(outcome) = search::run_native(&invocation.name, &invocation.input, &fs) {
            return outcome;
        }
        let mut log = self.read_log.lock().unwrap_or_else(PoisonError::into_inner);
        run_builtin(
            &invocation.name,
            &invocation.input,
            &mut fs,
            &mut log,
            &self.options,
        )
        .unwrap_or_else(|| {
            ToolOutcome::error(format!(
                "the tool {} is not available on this machine",
                invocation.name
            ))
        })
    }

    fn run_webfetch(&self, input: &Value, abort: &AbortHandle) -> ToolOutcome {
        let Some(web) = &self.web else {
            return ToolOutcome::error("webfetch is not available: this host has no HTTP client");
        };
        webfetch::run(input, |request| {
            web.fetch(&request.url, &request.limits, &|| abort.is_aborted())
        })
    }

    fn run_bash(&self, input: &Value, abort: &AbortHandle) -> ToolOutcome {
        let Some(command) = input.get("command").and_then(Value::as_str) else {
            return ToolOutcome::error("bash needs a \"command\" string argument");
        };
        let mut request = BashRequest::new(command, self.workspace.root());
        match input.get("timeout") {
            None | Some(Value::Null) => {}
            Some(timeout) => match timeout.as_u64() {
                Some(ms) if ms > 0 => request = request.with_timeout(Duration::from_millis(ms)),
                _ => {
                    return ToolOutcome::error(
                        "bash \"timeout\" must be a positive number of milliseconds",
                    )
                }
            },
        }
        match bash::run(&request, abort) {
            Ok(output) => output.to_outcome(command),
            Err(error) => ToolOutcome::error(format!("bash: {error}")),
        }
    }
}

impl fmt::Debug for ToolHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolHost")
            .field("workspace", &self.workspace)
            .field("options", &self.options)
            .field("web", &self.web.is_some())
            .finish_non_exhaustive()
    }
}

impl ToolRunner for ToolHost {
    fn start(&mut self, id: ToolRunId, invocation: ToolInvocation, inputs: Sender<Input>) {
        // The loop may be gone (the turn ended); nobody is left to tell.
        self.start_with(id, invocation, move |input| drop(inputs.send(input)));
    }

    fn cancel(&mut self, id: ToolRunId) {
        self.cancel_run(id);
    }
}
