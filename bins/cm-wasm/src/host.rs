//! The page's [`Host`]: the key, the virtual workspace, the saved session, and the
//! events the page is sent.
//!
//! Events are not handed to JavaScript while the driver runs: they wait in the
//! [`Outbox`], which the API empties into the page's callback once the driver is done
//! with the batch (so the callback may call straight back in). Each is a JSON object
//! with a `type`: the agent's own [`Event`]s as they serialise (`text_delta`,
//! `tool_call_ready`, `tool_done`, `permission_asked`, `retry`, `usage`, `error`, …),
//! plus `files_changed` (`paths`), `turn_end` (`end`, `error`, `steps`, `usage`) and
//! `notice` (`message`) for what the page must know that the agent does not say.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use cm_fetch::{Feed, Host, Input};
use cm_proto::agent::{AskId, End, Event, Outcome, Question, ToolRunId};
use cm_proto::provider::Credential;
use cm_proto::session::Record;
use cm_proto::tool::{ToolInvocation, ToolOutcome};
use serde_json::{json, Value};

use crate::store::{KeyValue, SessionStore};
use crate::workspace::Workspace;

/// Events waiting for the page, oldest first.
pub type Outbox = Rc<RefCell<VecDeque<Value>>>;

/// The workspace root as tools report paths; the page shows paths below it.
const ROOT: &str = "/workspace/";

/// Everything the agent's driver reaches outside the agent, in a page.
pub struct BrowserHost {
    /// The files and the tools' session state.
    pub workspace: Workspace,
    store: SessionStore<Box<dyn KeyValue>>,
    session_id: String,
    label: String,
    credential: Option<Credential>,
    outbox: Outbox,
    #[cfg(target_arch = "wasm32")]
    fetches: Rc<RefCell<std::collections::HashMap<ToolRunId, web_sys::AbortController>>>,
}

impl std::fmt::Debug for BrowserHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserHost")
            .field("session_id", &self.session_id)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl BrowserHost {
    /// A host saving session `session_id` (labelled `label`) to `store`, sending events
    /// to `outbox`.
    pub fn new(
        store: Box<dyn KeyValue>,
        session_id: String,
        label: String,
        credential: Option<Credential>,
        outbox: Outbox,
    ) -> BrowserHost {
        BrowserHost {
            workspace: Workspace::new(),
            store: SessionStore::new(store),
            session_id,
            label,
            credential,
            outbox,
            #[cfg(target_arch = "wasm32")]
            fetches: Rc::default(),
        }
    }

    /// The session records are saved under.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Saves later records under `session_id` instead.
    pub fn switch_session(&mut self, session_id: String) {
        self.session_id = session_id;
    }

    /// The saved sessions.
    pub fn store(&mut self) -> &mut SessionStore<Box<dyn KeyValue>> {
        &mut self.store
    }

    fn send(&self, event: Value) {
        self.outbox.borrow_mut().push_back(event);
    }

    /// Tells the page about files a tool changed.
    fn report_changes(&self, outcome: &ToolOutcome) {
        if outcome.changes.is_empty() {
            return;
        }
        let paths: Vec<&str> = outcome
            .changes
            .iter()
            .map(|change| change.path.strip_prefix(ROOT).unwrap_or(&change.path))
            .collect();
        self.send(json!({"type": "files_changed", "paths": paths}));
    }

    #[cfg(target_arch = "wasm32")]
    fn start_webfetch(&mut self, id: ToolRunId, invocation: &ToolInvocation, feed: Feed) {
        use cm_proto::tool::webfetch;
        let request = match webfetch::parse_request(&invocation.input) {
            Ok(request) => request,
            Err(error) => {
                feed.feed(Input::ToolDone(id, ToolOutcome::error(error.to_string())));
                return;
            }
        };
        let Ok(controller) = web_sys::AbortController::new() else {
            let outcome = ToolOutcome::error("webfetch: the browser refused to start a request");
            feed.feed(Input::ToolDone(id, outcome));
            return;
        };
        self.fetches.borrow_mut().insert(id, controller.clone());
        let fetches = Rc::clone(&self.fetches);
        wasm_bindgen_futures::spawn_local(async move {
            let fetched = cm_fetch::fetch_page(&request.url, &request.limits, &controller).await;
            fetches.borrow_mut().remove(&id);
            feed.feed(Input::ToolDone(id, webfetch::outcome(&request, fetched)));
        });
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn start_webfetch(&mut self, id: ToolRunId, _invocation: &ToolInvocation, feed: Feed) {
        let outcome = ToolOutcome::error("webfetch needs a browser: this build has no network");
        feed.feed(Input::ToolDone(id, outcome));
    }
}

/// The page's form of `event`.
pub fn event_json(event: &Event) -> Value {
    serde_json::to_value(event).unwrap_or_else(|_| json!({"type": "unknown"}))
}

/// The page's form of a turn's end.
pub fn turn_end_json(outcome: &Outcome) -> Value {
    let error = match &outcome.end {
        End::Failed(error) => Some(error.to_string()),
        _ => None,
    };
    json!({
        "type": "turn_end",
        "end": outcome.end.name(),
        "error": error,
        "steps": outcome.steps,
        "usage": {
            "input_tokens": outcome.usage.input_tokens,
            "output_tokens": outcome.usage.output_tokens,
        },
        "cost": outcome.cost,
    })
}

impl Host for BrowserHost {
    fn credential(&mut self, _provider: &str) -> Option<Credential> {
        self.credential.clone()
    }

    fn record(&mut self, record: &Record) -> Result<(), String> {
        self.store
            .append(&self.session_id, &self.label, record)
            .map_err(|error| error.to_string())
    }

    fn show(&mut self, event: &Event) {
        self.send(event_json(event));
    }

    /// The question went out as its `permission_asked` event; the page answers by id.
    fn ask(&mut self, _id: AskId, _question: &Question) {}

    fn start_tool(&mut self, id: ToolRunId, invocation: ToolInvocation, feed: Feed) {
        match self.workspace.run(&invocation) {
            Some(outcome) => {
                self.report_changes(&outcome);
                feed.feed(Input::ToolDone(id, outcome));
            }
            None => self.start_webfetch(id, &invocation, feed),
        }
    }

    fn cancel_tool(&mut self, _id: ToolRunId) {
        #[cfg(target_arch = "wasm32")]
        if let Some(controller) = self.fetches.borrow_mut().remove(&_id) {
            controller.abort();
        }
    }

    fn done(&mut self, outcome: &Outcome) {
        self.send(turn_end_json(outcome));
    }

    fn fail(&mut self, message: &str) {
        self.send(json!({"type": "notice", "message": message}));
    }
}

#[cfg(test)]
mod tests;
