//! The whole blocking driver in-process: Agent + Driver + UreqClient + ToolHost + SessionLog
//! against cm-mock, in a temporary workspace.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cm_driver::{Driver, Input, Runtime, StdRuntime, ToolHost, Ui};
use cm_host::{SessionId, SessionStore, Workspace};
use cm_mock::{MockServer, Script};
use cm_proto::agent::{Agent, AgentConfig, AskId, Decision, End, Event, Question};
use cm_proto::message::Part;
use cm_proto::provider::{Credential, Endpoint, WireFormat};
use cm_proto::session::{replay, Entry, Record};
use cm_proto::time::UnixMillis;
use cm_proto::tool::{builtin_defs, ToolOptions};
use cm_ureq::{ClientOptions, UreqClient};

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("cm-ureq-{label}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir.canonicalize().unwrap())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Answers every question with "allow once" and keeps what it was shown.
#[derive(Default)]
struct AllowingUi {
    events: Vec<Event>,
    questions: Vec<Question>,
}

impl Ui for AllowingUi {
    fn show(&mut self, event: &Event) {
        self.events.push(event.clone());
    }

    fn ask(&mut self, id: AskId, question: &Question, inputs: &Sender<Input>) {
        self.questions.push(question.clone());
        inputs.send(Input::Answer(id, Decision::AllowOnce)).unwrap();
    }
}

fn agent_for(mock: &MockServer, configure: impl FnOnce(&mut AgentConfig)) -> Agent {
    let endpoint = Endpoint {
        base_url: mock.url(),
        ..Endpoint::default()
    };
    let mut config = AgentConfig::new("anthropic", WireFormat::Anthropic, endpoint, "claude-test");
    config.tools = builtin_defs();
    configure(&mut config);
    Agent::new(config, Vec::new(), 42)
}

fn driver_in(workspace: &Path) -> Driver<UreqClient, ToolHost> {
    let runtime: Arc<dyn Runtime> = Arc::new(StdRuntime::new());
    let tools = ToolHost::new(
        Workspace::at(workspace).unwrap(),
        ToolOptions::default(),
        Arc::clone(&runtime),
    );
    Driver::new(
        runtime,
        UreqClient::new(ClientOptions::from_lookup(|_| None)),
        tools,
    )
}

fn api_key(_provider: &str) -> Option<Credential> {
    Some(Credential::ApiKey("sk-test".into()))
}

#[test]
fn read_then_edit_then_answer_changes_the_file_and_logs_the_turn() {
    let workspace = TempDir::new("ws");
    let data = TempDir::new("data");
    fs::write(workspace.0.join("notes.txt"), "hello world\n").unwrap();
    let mock = MockServer::start(
        Script::from_value(serde_json::json!([
            {"text": "Reading it.", "tool_calls": [{"name": "read", "arguments": {"path": "notes.txt"}}]},
            {"expect": {"tool_result_contains": "hello world"},
             "tool_calls": [{"name": "edit", "arguments":
                 {"path": "notes.txt", "old_string": "hello world", "new_string": "hello cm"}}]},
            {"text": "Done: notes.txt now greets cm.", "stop_reason": "end_turn"}
        ]))
        .unwrap(),
    );
    let store = SessionStore::new(data.0.join("sessions"));
    let id = SessionId::generate(UnixMillis(1_700_000_000_000), 1);
    let mut log = store.create(&id).unwrap();
    let mut agent = agent_for(&mock, |_| {});
    let mut driver = driver_in(&workspace.0);
    let mut ui = AllowingUi::default();

    let outcome = driver
        .run_turn(
            &mut agent,
            vec![Part::text("Make notes.txt greet cm.")],
            &mut ui,
            &mut log,
            &mut api_key,
        )
        .unwrap();

    assert_eq!(outcome.end, End::Completed, "{:?}", ui.events);
    assert_eq!(outcome.steps, 3);
    assert_eq!(
        fs::read_to_string(workspace.0.join("notes.txt")).unwrap(),
        "hello cm\n"
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(|r| r.expectation_failed.is_none()),
        "{requests:?}"
    );

    // The edit asked (edit defaults to ask); the read did not.
    let asked: Vec<&str> = ui.questions.iter().map(|q| q.permission.as_str()).collect();
    assert_eq!(asked, ["edit"]);
    let text: String = ui
        .events
        .iter()
        .filter_map(|e| match e {
            Event::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(text.ends_with("Done: notes.txt now greets cm."), "{text}");

    // Every record is on disk, and replaying them gives the live history.
    drop(log);
    let records: Vec<Record> = store
        .load(&id)
        .unwrap()
        .into_iter()
        .map(|value| serde_json::from_value(value).unwrap())
        .collect();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| match &r.entry {
            Entry::Message(_) => "message",
            Entry::ToolCall(_) => "tool_call",
            Entry::ToolResult(_) => "tool_result",
            Entry::FileChange(_) => "file_change",
            Entry::TurnEnd(_) => "turn_end",
            _ => "other",
        })
        .collect();
    for kind in [
        "message",
        "tool_call",
        "tool_result",
        "file_change",
        "turn_end",
    ] {
        assert!(kinds.contains(&kind), "no {kind} record in {kinds:?}");
    }
    assert_eq!(kinds.last(), Some(&"turn_end"));
    assert_eq!(replay(&records).history, agent.history());
}

#[test]
fn an_interrupt_during_a_stalled_stream_aborts_the_turn_promptly() {
    let workspace = TempDir::new("ws-abort");
    let mock = MockServer::start(
        Script::from_value(
            serde_json::json!([{"text": "never arrives", "fault": {"stall": true}}]),
        )
        .unwrap(),
    );
    let mut agent = agent_for(&mock, |_| {});
    let mut driver = driver_in(&workspace.0);
    let interrupt = driver.inputs();
    let mut records: Vec<Record> = Vec::new();
    let pressed = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        interrupt.send(Input::Interrupt).unwrap();
        Instant::now()
    });

    let outcome = driver
        .run_turn(
            &mut agent,
            vec![Part::text("hi")],
            &mut AllowingUi::default(),
            &mut records,
            &mut api_key,
        )
        .unwrap();
    let pressed_at = pressed.join().unwrap();

    assert_eq!(outcome.end, End::Aborted);
    assert!(pressed_at.elapsed() < Duration::from_secs(2));
    assert!(matches!(
        records.last().map(|r| &r.entry),
        Some(Entry::TurnEnd(_))
    ));
}

#[test]
fn a_silent_stream_fails_at_the_agents_idle_deadline() {
    let workspace = TempDir::new("ws-idle");
    let mock = MockServer::start(
        Script::from_value(
            serde_json::json!([{"text": "never arrives", "fault": {"stall": true}}]),
        )
        .unwrap(),
    );
    let mut agent = agent_for(&mock, |config| {
        config.limits.idle_timeout_ms = 300;
        config.limits.max_attempts = 1;
    });
    let mut driver = driver_in(&workspace.0);
    let started = Instant::now();
    let outcome = driver
        .run_turn(
            &mut agent,
            vec![Part::text("hi")],
            &mut AllowingUi::default(),
            &mut Vec::new(),
            &mut api_key,
        )
        .unwrap();
    assert!(matches!(outcome.end, End::Failed(_)), "{:?}", outcome.end);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn a_missing_credential_ends_the_turn_without_a_request() {
    let workspace = TempDir::new("ws-cred");
    let mock =
        MockServer::start(Script::from_value(serde_json::json!([{"text": "unused"}])).unwrap());
    let mut agent = agent_for(&mock, |_| {});
    let outcome = driver_in(&workspace.0)
        .run_turn(
            &mut agent,
            vec![Part::text("hi")],
            &mut AllowingUi::default(),
            &mut Vec::new(),
            &mut |_| None,
        )
        .unwrap();
    assert!(matches!(outcome.end, End::Failed(_)), "{:?}", outcome.end);
    assert!(mock.requests().is_empty());
}
