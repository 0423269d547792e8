//! SmolDriver against cm-mock: whole turns with tools and questions, many sessions at
//! once, abort, deadlines, and a dropped turn.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

#[path = "../../host/src/test_dir.rs"]
mod test_dir;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cm_driver::{ClientOptions, Runtime, ToolHost};
use cm_host::{SessionId, SessionStore, Workspace};
use cm_mock::{MockServer, Script};
use cm_proto::agent::{Agent, AgentConfig, Decision, End, Event, Outcome};
use cm_proto::message::Part;
use cm_proto::provider::{Credential, Endpoint, WireFormat};
use cm_proto::session::{replay, Entry, Record};
use cm_proto::time::UnixMillis;
use cm_proto::tool::{builtin_defs, ToolOptions};
use cm_smol::{Handle, SmolClient, SmolDriver, SmolRuntime, Update};
use test_dir::TestDir;

fn mock(script: serde_json::Value) -> MockServer {
    MockServer::start(Script::from_value(script).unwrap())
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

fn driver_in(workspace: &Path, http: &SmolClient) -> SmolDriver {
    let runtime: Arc<dyn Runtime> = Arc::new(SmolRuntime::new());
    let tools = ToolHost::new(
        Workspace::at(workspace).unwrap(),
        ToolOptions::default(),
        Arc::clone(&runtime),
    );
    SmolDriver::new(runtime, http.clone(), tools)
}

fn client() -> SmolClient {
    SmolClient::new(ClientOptions::from_lookup(|_| None))
}

fn api_key(_provider: &str) -> Option<Credential> {
    Some(Credential::ApiKey("sk-test".into()))
}

/// Subscribes to `handle`, allows every question as it is asked, and returns the
/// updates seen up to the turn's end.
fn allow_and_collect(handle: &Handle) -> smol::Task<Vec<Update>> {
    let updates = handle.subscribe(4096);
    let handle = handle.clone();
    smol::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(update) = updates.recv().await {
            if let Update::Event(Event::PermissionAsked { id, .. }) = &update {
                handle.answer(*id, Decision::AllowOnce);
            }
            let done = matches!(update, Update::Done(_));
            seen.push(update);
            if done {
                break;
            }
        }
        seen
    })
}

fn text_of(updates: &[Update]) -> String {
    updates
        .iter()
        .filter_map(|u| match u {
            Update::Event(Event::TextDelta { text }) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_turn_with_tools_and_a_question_answered_through_the_handle() {
    let workspace = TestDir::new("smol-ws");
    fs::write(workspace.join("notes.txt"), "hello world\n").unwrap();
    let mock = mock(serde_json::json!([
        {"text": "Reading it.", "tool_calls": [{"name": "read", "arguments": {"path": "notes.txt"}}]},
        {"expect": {"tool_result_contains": "hello world"},
         "tool_calls": [{"name": "edit", "arguments":
             {"path": "notes.txt", "old_string": "hello world", "new_string": "hello cm"}}]},
        {"text": "Done: notes.txt now greets cm.", "stop_reason": "end_turn"}
    ]));
    let mut agent = agent_for(&mock, |_| {});
    let mut driver = driver_in(workspace.path(), &client());
    let data = TestDir::new("smol-data");
    let store = SessionStore::new(data.join("sessions"));
    let id = SessionId::generate(UnixMillis(1_700_000_000_000), 1);
    let mut log = store.create(&id).unwrap();
    // A subscriber that never reads is dropped when its queue fills; the turn goes on.
    let stalled = driver.handle().subscribe(1);

    let (outcome, updates) = smol::block_on(async {
        let watcher = allow_and_collect(&driver.handle());
        let outcome = driver
            .run_turn(
                &mut agent,
                vec![Part::text("Make notes.txt greet cm.")],
                &mut log,
                &mut api_key,
            )
            .await
            .unwrap();
        (outcome, watcher.await)
    });
    drop(log);
    assert!(stalled.is_closed() && stalled.len() == 1);
    // Every record is on disk.
    let records: Vec<Record> = store
        .load(&id)
        .unwrap()
        .into_iter()
        .map(|value| serde_json::from_value(value).unwrap())
        .collect();

    assert_eq!(outcome.end, End::Completed, "{updates:?}");
    assert_eq!(outcome.steps, 3);
    assert_eq!(
        fs::read_to_string(workspace.join("notes.txt")).unwrap(),
        "hello cm\n"
    );
    assert!(mock
        .requests()
        .iter()
        .all(|r| r.expectation_failed.is_none()));
    let asked: Vec<&str> = updates
        .iter()
        .filter_map(|u| match u {
            Update::Event(Event::PermissionAsked { question, .. }) => {
                Some(question.permission.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(asked, ["edit"]);
    assert!(text_of(&updates).ends_with("Done: notes.txt now greets cm."));
    assert_eq!(updates.last(), Some(&Update::Done(outcome)));
    assert!(matches!(
        records.last().map(|r| &r.entry),
        Some(Entry::TurnEnd(_))
    ));
    assert_eq!(replay(&records).history, agent.history());
}

/// What one of many concurrent sessions did.
struct Ran {
    n: usize,
    outcome: Outcome,
    text: String,
    records: Vec<Record>,
    requests: Vec<String>,
    started: Instant,
    ended: Instant,
}

#[test]
fn many_sessions_run_at_once_without_cross_talk() {
    const SESSIONS: usize = 12;
    let workspace = TestDir::new("smol-many");
    let http = client();
    let results: Vec<Ran> = smol::block_on(async {
        let tasks: Vec<_> = (0..SESSIONS)
            .map(|n| {
                // Each session has its own provider, answering slowly enough that the
                // sessions overlap.
                let mock = mock(serde_json::json!([
                    {"tool_calls": [{"name": "ls", "arguments": {"path": "."}}],
                     "fault": {"trickle": {"bytes": 128, "interval_ms": 20}}},
                    {"text": format!("answer for session {n}"),
                     "fault": {"trickle": {"bytes": 64, "interval_ms": 20}}}
                ]));
                let mut agent = agent_for(&mock, |_| {});
                let mut driver = driver_in(workspace.path(), &http);
                smol::spawn(async move {
                    let watcher = allow_and_collect(&driver.handle());
                    let mut records: Vec<Record> = Vec::new();
                    let started = Instant::now();
                    let outcome = driver
                        .run_turn(
                            &mut agent,
                            vec![Part::text(format!("session {n}"))],
                            &mut records,
                            &mut api_key,
                        )
                        .await
                        .unwrap();
                    let ended = Instant::now();
                    let text = text_of(&watcher.await);
                    let requests = mock.requests().iter().map(|r| r.body.to_string()).collect();
                    Ran {
                        n,
                        outcome,
                        text,
                        records,
                        requests,
                        started,
                        ended,
                    }
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await);
        }
        results
    });

    for ran in &results {
        let n = ran.n;
        assert_eq!(ran.outcome.end, End::Completed, "session {n}");
        assert_eq!(ran.outcome.steps, 2, "session {n}");
        assert_eq!(ran.text, format!("answer for session {n}"));
        assert_eq!(ran.requests.len(), 2, "session {n}");
        for body in &ran.requests {
            let mentions: Vec<usize> = (0..SESSIONS)
                .filter(|m| body.contains(&format!("\"session {m}\"")))
                .collect();
            assert_eq!(mentions, [n], "session {n} sent {body}");
        }
        let history = replay(&ran.records).history;
        assert_eq!(history.len(), 4, "user, tool call, tool result, answer");
        let first = history.first().and_then(|m| m.parts.first());
        assert!(
            matches!(first, Some(Part::Text { text, .. }) if *text == format!("session {n}")),
            "{first:?}"
        );
    }
    // All were in flight together: every session started before any ended.
    let last_start = results.iter().map(|r| r.started).max().unwrap();
    let first_end = results.iter().map(|r| r.ended).min().unwrap();
    assert!(last_start < first_end, "the sessions ran one after another");
}

#[test]
fn abort_through_the_handle_ends_a_stalled_turn_promptly() {
    let workspace = TestDir::new("smol-abort");
    let mock = mock(serde_json::json!([{"text": "never arrives", "fault": {"stall": true}}]));
    let mut agent = agent_for(&mock, |_| {});
    let mut driver = driver_in(workspace.path(), &client());
    let handle = driver.handle();
    let mut records: Vec<Record> = Vec::new();
    let (outcome, pressed) = smol::block_on(async {
        let presser = smol::spawn(async move {
            smol::Timer::after(Duration::from_millis(300)).await;
            handle.abort();
            Instant::now()
        });
        let outcome = driver
            .run_turn(
                &mut agent,
                vec![Part::text("hi")],
                &mut records,
                &mut api_key,
            )
            .await
            .unwrap();
        (outcome, presser.await)
    });
    assert_eq!(outcome.end, End::Aborted);
    assert!(pressed.elapsed() < Duration::from_secs(2));
    assert!(matches!(
        records.last().map(|r| &r.entry),
        Some(Entry::TurnEnd(_))
    ));
}

#[test]
fn a_silent_stream_fails_at_the_agents_idle_deadline() {
    let workspace = TestDir::new("smol-idle");
    let mock = mock(serde_json::json!([{"text": "never arrives", "fault": {"stall": true}}]));
    let mut agent = agent_for(&mock, |config| {
        config.limits.idle_timeout_ms = 300;
        config.limits.max_attempts = 1;
    });
    let mut driver = driver_in(workspace.path(), &client());
    let started = Instant::now();
    let outcome = smol::block_on(driver.run_turn(
        &mut agent,
        vec![Part::text("hi")],
        &mut Vec::new(),
        &mut api_key,
    ))
    .unwrap();
    assert!(matches!(outcome.end, End::Failed(_)), "{:?}", outcome.end);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn dropping_a_running_turn_aborts_it_and_still_logs_its_end() {
    let workspace = TestDir::new("smol-drop");
    let mock = mock(serde_json::json!([{"text": "never arrives", "fault": {"stall": true}}]));
    let mut agent = agent_for(&mock, |_| {});
    let mut driver = driver_in(workspace.path(), &client());
    let updates = driver.handle().subscribe(64);
    let mut records: Vec<Record> = Vec::new();
    let mut credentials = api_key;
    smol::block_on(async {
        let turn = driver.run_turn(
            &mut agent,
            vec![Part::text("hi")],
            &mut records,
            &mut credentials,
        );
        let gave_up = async {
            smol::Timer::after(Duration::from_millis(200)).await;
            Err(())
        };
        assert!(smol::future::or(async { Ok(turn.await) }, gave_up)
            .await
            .is_err());
    });
    assert!(agent.is_idle(), "the dropped turn was aborted");
    assert!(matches!(
        records.last().map(|r| &r.entry),
        Some(Entry::TurnEnd(_))
    ));
    let last = std::iter::from_fn(|| updates.try_recv().ok()).last();
    assert!(
        matches!(&last, Some(Update::Done(outcome)) if outcome.end == End::Aborted),
        "{last:?}"
    );
}

#[test]
fn a_missing_credential_ends_the_turn_without_a_request() {
    let workspace = TestDir::new("smol-cred");
    let mock = mock(serde_json::json!([{"text": "unused"}]));
    let mut agent = agent_for(&mock, |_| {});
    let outcome = smol::block_on(driver_in(workspace.path(), &client()).run_turn(
        &mut agent,
        vec![Part::text("hi")],
        &mut Vec::new(),
        &mut |_| None,
    ))
    .unwrap();
    assert!(matches!(outcome.end, End::Failed(_)), "{:?}", outcome.end);
    assert!(mock.requests().is_empty());
}
