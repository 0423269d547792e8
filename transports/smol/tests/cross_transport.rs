//! Cross-transport conformance: the blocking driver (cm-driver + cm-ureq) and the async
//! driver (cm-smol) run the same cm-mock scripts and must show the same events and write
//! the same session records.
//!
//! Normalised before comparing, and nothing else: record timestamps (`at`), tool run
//! times (`duration_ms`), the path of each run's own temporary workspace, and the
//! detail of a transport error after its kind ("connection failed: <the library's
//! words>"): which error the agent got is compared, not how ureq or smol phrase it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

#[path = "../../host/src/test_dir.rs"]
mod test_dir;

use std::fs;
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use cm_driver::{ClientOptions, Driver, Input, Runtime, StdRuntime, ToolHost, Ui};
use cm_host::Workspace;
use cm_mock::{MockServer, Script};
use cm_proto::agent::{Agent, AgentConfig, AskId, Decision, End, Event, Question};
use cm_proto::message::Part;
use cm_proto::provider::{Credential, Endpoint, WireFormat};
use cm_proto::session::Record;
use cm_proto::tool::{builtin_defs, ToolOptions};
use cm_smol::{SmolClient, SmolDriver, SmolRuntime, Update};
use cm_ureq::UreqClient;
use serde_json::{json, Value};
use test_dir::TestDir;

/// One script, run once by each driver.
struct Case {
    name: &'static str,
    format: WireFormat,
    script: Value,
    /// Interrupt the turn this long after it starts.
    abort_after: Option<Duration>,
}

impl Case {
    fn new(name: &'static str, script: Value) -> Case {
        Case {
            name,
            format: WireFormat::Anthropic,
            script,
            abort_after: None,
        }
    }

    fn format(mut self, format: WireFormat) -> Case {
        self.format = format;
        self
    }

    fn abort_after(mut self, ms: u64) -> Case {
        self.abort_after = Some(Duration::from_millis(ms));
        self
    }
}

/// What a driver showed and wrote, normalised.
#[derive(Debug, PartialEq)]
struct Run {
    end: String,
    steps: u32,
    events: Vec<Value>,
    records: Vec<Value>,
    requests: usize,
}

fn cases() -> Vec<Case> {
    let edit = json!([
        {"text": "Reading it.", "tool_calls": [{"name": "read", "arguments": {"path": "notes.txt"}}]},
        {"expect": {"tool_result_contains": "hello world"},
         "tool_calls": [{"name": "edit", "arguments":
             {"path": "notes.txt", "old_string": "hello world", "new_string": "hello cm"}}]},
        {"text": "Done: notes.txt now greets cm.", "stop_reason": "end_turn"}
    ]);
    vec![
        Case::new(
            "text",
            json!([{"text": "Hello there, in a few words.",
            "usage": {"input_tokens": 12, "output_tokens": 7}}]),
        ),
        Case::new(
            "reasoning",
            json!([{"reasoning": "Think first.", "text": "Then answer."}]),
        ),
        Case::new(
            "trickled",
            json!([{"text": "slow and steady wins",
            "fault": {"trickle": {"bytes": 16, "interval_ms": 2}}}]),
        ),
        Case::new(
            "close-delimited",
            json!([{"text": "until the end", "framing": "close"}]),
        ),
        Case::new("tools, a question, an edit", edit.clone()),
        Case::new(
            "parallel tools",
            json!([
                {"tool_calls": [{"name": "read", "arguments": {"path": "notes.txt"}},
                                {"name": "ls", "arguments": {"path": "."}}]},
                {"text": "Both seen."}
            ]),
        ),
        Case::new(
            "a tool error",
            json!([
                {"tool_calls": [{"name": "read", "arguments": {"path": "missing.txt"}}]},
                {"text": "It is missing."}
            ]),
        ),
        Case::new(
            "malformed tool arguments",
            json!([
                {"tool_calls": [{"name": "read", "arguments": "{\"path\": "}]},
                {"text": "Sorry."}
            ]),
        ),
        Case::new(
            "429 then an answer",
            json!([
                {"fault": {"status": 429, "headers": {"retry-after": "1"}}},
                {"text": "after the wait"}
            ]),
        ),
        Case::new(
            "529 then an answer",
            json!([
                {"fault": {"status": 529}}, {"text": "no longer overloaded"}
            ]),
        ),
        Case::new(
            "a 404 ends the turn",
            json!([
                {"fault": {"status": 404, "body": {"type": "error", "error":
                    {"type": "not_found_error", "message": "model: claude-nope"}}}}
            ]),
        ),
        Case::new(
            "a dropped connection is retried",
            json!([
                {"fault": {"drop": true}}, {"text": "second try"}
            ]),
        ),
        Case::new(
            "a cut stream is retried",
            json!([
                {"text": "this will be cut off somewhere in the middle of the stream",
                 "fault": {"disconnect_after_bytes": 600}},
                {"text": "whole this time"}
            ]),
        ),
        Case::new(
            "a recorded stream",
            json!([{"replay": "anthropic/basic_response.txt"}]),
        ),
        Case::new(
            "abort during a stalled stream",
            json!([{"text": "never arrives", "fault": {"stall": true}}]),
        )
        .abort_after(300),
        Case::new("openai chat with a tool", edit.clone()).format(WireFormat::OpenaiChat),
        Case::new("openai responses with a tool", edit).format(WireFormat::OpenaiResponses),
    ]
}

fn agent_for(case: &Case, mock: &MockServer) -> Agent {
    let (provider, base_url) = match case.format {
        WireFormat::Anthropic => ("anthropic", mock.url()),
        _ => ("openai", format!("{}/v1", mock.url())),
    };
    let endpoint = Endpoint {
        base_url,
        ..Endpoint::default()
    };
    let mut config = AgentConfig::new(provider, case.format, endpoint, "test-model");
    config.tools = builtin_defs();
    config.limits.backoff_base_ms = 20;
    Agent::new(config, Vec::new(), 42)
}

fn api_key(_provider: &str) -> Option<Credential> {
    Some(Credential::ApiKey("sk-test".into()))
}

fn workspace() -> TestDir {
    let dir = TestDir::new("cross");
    fs::write(dir.join("notes.txt"), "hello world\n").unwrap();
    dir
}

fn tools(workspace: &Path, runtime: &Arc<dyn Runtime>) -> ToolHost {
    ToolHost::new(
        Workspace::at(workspace).unwrap(),
        ToolOptions::default(),
        Arc::clone(runtime),
    )
}

/// Answers every question "allow once" at once, as the smol run's `answer_all` does.
#[derive(Default)]
struct AllowingUi(Vec<Event>);

impl Ui for AllowingUi {
    fn show(&mut self, event: &Event) {
        self.0.push(event.clone());
    }

    fn ask(&mut self, id: AskId, _question: &Question, inputs: &Sender<Input>) {
        inputs.send(Input::Answer(id, Decision::AllowOnce)).unwrap();
    }
}

fn run_ureq(case: &Case) -> Run {
    let dir = workspace();
    let mock = MockServer::start(Script::from_value(case.script.clone()).unwrap());
    let mut agent = agent_for(case, &mock);
    let runtime: Arc<dyn Runtime> = Arc::new(StdRuntime::new());
    let http = UreqClient::new(ClientOptions::from_lookup(|_| None));
    let mut driver = Driver::new(Arc::clone(&runtime), http, tools(dir.path(), &runtime));
    if let Some(after) = case.abort_after {
        let interrupt = driver.inputs();
        thread::spawn(move || {
            thread::sleep(after);
            let _ = interrupt.send(Input::Interrupt);
        });
    }
    let mut ui = AllowingUi::default();
    let mut records: Vec<Record> = Vec::new();
    let outcome = driver
        .run_turn(
            &mut agent,
            vec![Part::text("Make notes.txt greet cm.")],
            &mut ui,
            &mut records,
            &mut api_key,
        )
        .unwrap();
    normalise(
        dir.path(),
        outcome.end,
        outcome.steps,
        ui.0,
        records,
        mock.requests().len(),
    )
}

fn run_smol(case: &Case) -> Run {
    let dir = workspace();
    let mock = MockServer::start(Script::from_value(case.script.clone()).unwrap());
    let mut agent = agent_for(case, &mock);
    let runtime: Arc<dyn Runtime> = Arc::new(SmolRuntime::new());
    let http = SmolClient::new(ClientOptions::from_lookup(|_| None));
    let mut driver = SmolDriver::new(Arc::clone(&runtime), http, tools(dir.path(), &runtime))
        .answer_all(Decision::AllowOnce);
    let handle = driver.handle();
    let updates = handle.subscribe_unbounded();
    let mut records: Vec<Record> = Vec::new();
    let outcome = smol::block_on(async {
        if let Some(after) = case.abort_after {
            smol::spawn(async move {
                smol::Timer::after(after).await;
                handle.abort();
            })
            .detach();
        }
        driver
            .run_turn(
                &mut agent,
                vec![Part::text("Make notes.txt greet cm.")],
                &mut records,
                &mut api_key,
            )
            .await
            .unwrap()
    });
    let mut events = Vec::new();
    while let Ok(update) = updates.try_recv() {
        match update {
            Update::Event(event) => events.push(event),
            Update::Done(done) => assert_eq!(done, outcome),
            _ => {}
        }
    }
    normalise(
        dir.path(),
        outcome.end,
        outcome.steps,
        events,
        records,
        mock.requests().len(),
    )
}

fn normalise(
    workspace: &Path,
    end: End,
    steps: u32,
    events: Vec<Event>,
    records: Vec<Record>,
    requests: usize,
) -> Run {
    let root = workspace.to_string_lossy().into_owned();
    let clean = |value: Value| -> Value {
        let text = value.to_string().replace(&root, "<workspace>");
        let mut value: Value = serde_json::from_str(&text).unwrap();
        zero_clocks(&mut value);
        drop_transport_detail(&mut value);
        value
    };
    Run {
        end: end.name().to_string(),
        steps,
        events: events
            .iter()
            .map(|e| clean(serde_json::to_value(e).unwrap()))
            .collect(),
        records: records
            .iter()
            .map(|r| clean(serde_json::to_value(r).unwrap()))
            .collect(),
        requests,
    }
}

/// Sets every clock reading to 0: when a record was made, how long a tool ran.
fn zero_clocks(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if matches!(key.as_str(), "at" | "duration_ms") && field.is_number() {
                    *field = json!(0);
                } else {
                    zero_clocks(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(zero_clocks),
        _ => {}
    }
}

/// The prefixes `TransportError`'s `Display` puts before the transport's own words.
const TRANSPORT_KINDS: [&str; 4] = [
    "connection failed: ",
    "connection lost mid-response: ",
    "transport timed out: ",
    "invalid http response: ",
];

/// Cuts every string after a transport error's kind.
fn drop_transport_detail(value: &mut Value) {
    match value {
        Value::String(text) => {
            for kind in TRANSPORT_KINDS {
                if let Some(at) = text.find(kind) {
                    text.truncate(at + kind.len());
                    text.push('…');
                    return;
                }
            }
        }
        Value::Object(map) => map.values_mut().for_each(drop_transport_detail),
        Value::Array(items) => items.iter_mut().for_each(drop_transport_detail),
        _ => {}
    }
}

#[test]
fn ureq_and_smol_drivers_show_the_same_events_and_write_the_same_records() {
    let mut ends = Vec::new();
    for case in cases() {
        let ureq = run_ureq(&case);
        let smol = run_smol(&case);
        assert!(
            !ureq.events.is_empty() && !ureq.records.is_empty(),
            "{}",
            case.name
        );
        assert_eq!(ureq.end, smol.end, "{}: how the turn ended", case.name);
        assert_eq!(ureq.steps, smol.steps, "{}: steps", case.name);
        assert_eq!(ureq.requests, smol.requests, "{}: requests", case.name);
        assert_eq!(ureq.events, smol.events, "{}: events", case.name);
        assert_eq!(ureq.records, smol.records, "{}: records", case.name);
        ends.push(smol.end);
    }
    for end in ["completed", "failed", "aborted"] {
        assert!(
            ends.iter().any(|e| e == end),
            "no case ends {end}: {ends:?}"
        );
    }
}
