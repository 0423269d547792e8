//! The JavaScript API (wasm32 only).
//!
//! ```js
//! import init, { Cm, listSessions } from "./pkg/cm_wasm.js";
//! await init();
//! const cm = new Cm({provider: "anthropic", baseUrl: "", key, model}, (event) => show(event));
//! cm.addFile("notes.txt", new TextEncoder().encode("hello"));
//! cm.send("Fix the typo in notes.txt");
//! cm.answer(event.id, "allow_once");   // on {type: "permission_asked"}
//! cm.abort();
//! ```

use std::rc::Rc;

use cm_fetch::{Driver, FetchIo, Input};
use cm_proto::agent::{Agent, AskId, Decision};
use cm_proto::message::Part;
use cm_proto::session::replay;
use cm_proto::tool::todo;
use js_sys::Function;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::config::PageConfig;
use crate::host::{BrowserHost, Outbox};
use crate::local_storage::LocalStorage;
use crate::store::{KeyValue, SessionStore};
use crate::workspace::MAX_FILE_BYTES;

/// One agent in a page: its conversation, its virtual files, its saved session.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Cm {
    driver: Driver<BrowserHost, FetchIo>,
    config: PageConfig,
}

#[wasm_bindgen]
impl Cm {
    /// An agent from `{provider, baseUrl, key, model, system?}`; `onEvent(event)` gets
    /// every event object. The key is kept in memory only; the page decides whether to
    /// remember it.
    #[wasm_bindgen(constructor)]
    pub fn new(settings: JsValue, on_event: Function) -> Result<Cm, JsError> {
        let text = js_sys::JSON::stringify(&settings)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        let config = PageConfig::from_json(&text).map_err(|e| JsError::new(&e.to_string()))?;
        let agent_config = config
            .agent_config()
            .map_err(|e| JsError::new(&e.to_string()))?;
        let outbox = Outbox::default();
        let host = BrowserHost::new(
            Box::new(LocalStorage),
            new_session_id(),
            config.label(),
            config.credential(),
            Rc::clone(&outbox),
        );
        let agent = Agent::new(agent_config, Vec::new(), cm_fetch::random_seed());
        let notify = deliver(outbox, on_event);
        Ok(Cm {
            driver: Driver::new(agent, host, FetchIo::new(), notify),
            config,
        })
    }

    /// Starts a turn with `text`; a turn already running refuses it (a `notice` event).
    pub fn send(&self, text: &str) {
        self.driver.feed(Input::Submit(vec![Part::text(text)]));
    }

    /// Answers permission question `id` with `allow_once`, `allow_always` or `deny`
    /// (`message` tells the model why).
    pub fn answer(&self, id: f64, decision: &str, message: Option<String>) -> Result<(), JsError> {
        let decision = match decision {
            "allow_once" | "once" => Decision::AllowOnce,
            "allow_always" | "always" => Decision::AllowAlways,
            "deny" | "reject" => Decision::Deny {
                message: message.filter(|m| !m.trim().is_empty()),
            },
            other => {
                return Err(JsError::new(&format!(
                    "unknown decision `{other}`: use allow_once, allow_always or deny"
                )))
            }
        };
        let id = whole(id).ok_or_else(|| JsError::new("a question id is a whole number"))?;
        self.driver.feed(Input::Answer(AskId(id), decision));
        Ok(())
    }

    /// Stops the running turn; its partial answer is kept.
    pub fn abort(&self) {
        self.driver.feed(Input::Interrupt);
    }

    /// Whether a turn is running.
    pub fn busy(&self) -> bool {
        self.driver
            .with(|agent, _| !agent.is_idle())
            .unwrap_or(true)
    }

    /// Adds or replaces a file of the virtual workspace; refuses files over
    /// [`maxFileBytes`](max_file_bytes) with a message saying so.
    #[wasm_bindgen(js_name = addFile)]
    pub fn add_file(&self, path: &str, contents: &[u8]) -> Result<(), JsError> {
        self.driver
            .with(|_, host| host.workspace.add_file(path, contents))
            .ok_or_else(busy)?
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// A file's contents, or `undefined`.
    #[wasm_bindgen(js_name = readFile)]
    pub fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        self.driver
            .with(|_, host| host.workspace.file(path).map(<[u8]>::to_vec))
            .flatten()
    }

    /// Removes a file; whether it existed.
    #[wasm_bindgen(js_name = removeFile)]
    pub fn remove_file(&self, path: &str) -> bool {
        self.driver
            .with(|_, host| host.workspace.remove_file(path))
            .unwrap_or(false)
    }

    /// The files, as `[{path, size}]`.
    pub fn files(&self) -> JsValue {
        let files = self
            .driver
            .with(|_, host| host.workspace.files())
            .unwrap_or_default();
        to_js(&serde_json::to_value(files).unwrap_or(Value::Null))
    }

    /// The id the conversation is saved under.
    #[wasm_bindgen(js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.driver
            .with(|_, host| host.session_id().to_string())
            .unwrap_or_default()
    }

    /// The conversation as `[{role, parts}]` (cm's message JSON), for showing it again.
    pub fn history(&self) -> JsValue {
        let history = self
            .driver
            .with(|agent, _| serde_json::to_value(agent.history()).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        to_js(&history)
    }

    /// Starts a new conversation (files stay); refused while a turn runs.
    #[wasm_bindgen(js_name = newSession)]
    pub fn new_session(&self) -> Result<(), JsError> {
        let config = self
            .config
            .agent_config()
            .map_err(|e| JsError::new(&e.to_string()))?;
        self.driver
            .with(|agent, host| {
                if !agent.is_idle() {
                    return Err(busy());
                }
                *agent = Agent::new(config, Vec::new(), cm_fetch::random_seed());
                host.switch_session(new_session_id());
                host.workspace.reset_session(Vec::new());
                Ok(())
            })
            .ok_or_else(busy)?
    }

    /// Continues saved session `id`: its history comes back and new records go to it.
    #[wasm_bindgen(js_name = loadSession)]
    pub fn load_session(&self, id: &str) -> Result<(), JsError> {
        let config = self
            .config
            .agent_config()
            .map_err(|e| JsError::new(&e.to_string()))?;
        self.driver
            .with(|agent, host| {
                if !agent.is_idle() {
                    return Err(busy());
                }
                let records = host
                    .store()
                    .load(id)
                    .map_err(|e| JsError::new(&e.to_string()))?;
                let state = replay(&records);
                host.workspace
                    .reset_session(todo::from_history(&state.history));
                *agent = Agent::resume(config, &state, cm_fetch::random_seed());
                host.switch_session(id.to_string());
                Ok(())
            })
            .ok_or_else(busy)?
    }
}

/// The saved sessions, newest first: `[{id, title, model, updated, records}]`.
#[wasm_bindgen(js_name = listSessions)]
pub fn list_sessions() -> JsValue {
    let list = SessionStore::new(LocalStorage).list();
    to_js(&serde_json::to_value(list).unwrap_or(Value::Null))
}

/// Deletes saved session `id`.
#[wasm_bindgen(js_name = deleteSession)]
pub fn delete_session(id: &str) {
    SessionStore::new(LocalStorage).delete(id);
}

/// The largest file `addFile` takes, in bytes.
#[wasm_bindgen(js_name = maxFileBytes)]
pub fn max_file_bytes() -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let max = MAX_FILE_BYTES as f64;
    max
}

/// Whether the page can keep sessions (`localStorage` works).
#[wasm_bindgen(js_name = storageAvailable)]
pub fn storage_available() -> bool {
    let mut storage = LocalStorage;
    let writable = storage.set("cm.probe", "").is_ok();
    storage.remove("cm.probe");
    writable || storage.get("cm.sessions").is_some()
}

/// The notify hook: empties the outbox into `on_event`, one event at a time, so a
/// callback that calls back in (and queues more) is served in order.
fn deliver(outbox: Outbox, on_event: Function) -> Box<dyn Fn()> {
    Box::new(move || loop {
        let next = outbox.borrow_mut().pop_front();
        let Some(event) = next else { break };
        let _ = on_event.call1(&JsValue::NULL, &to_js(&event));
    })
}

fn to_js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap_or(JsValue::NULL)
}

fn busy() -> JsError {
    JsError::new("a turn is running: wait for it or stop it first")
}

/// `s` + the time and 24 random bits, in hex.
fn new_session_id() -> String {
    let time = cm_fetch::wall_clock().0;
    let random = cm_fetch::random_seed() & 0xff_ffff;
    format!("s{time:x}{random:06x}")
}

fn whole(number: f64) -> Option<u64> {
    (number.is_finite() && number >= 0.0 && number.fract() == 0.0 && number < 9.0e15)
        .then_some(number as u64)
}
