//! ToolHost on a real temporary workspace.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cm_driver::{Input, StdRuntime, ToolHost, ToolRunner};
use cm_host::Workspace;
use cm_proto::agent::ToolRunId;
use cm_proto::message::ToolOutput;
use cm_proto::tool::{ToolInvocation, ToolOptions, ToolOutcome};
use serde_json::json;

struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("cm-driver-{label}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir.canonicalize().unwrap())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn host(dir: &TempDir) -> ToolHost {
    ToolHost::new(
        Workspace::at(&dir.0).unwrap(),
        ToolOptions::default(),
        Arc::new(StdRuntime::new()),
    )
}

fn call(name: &str, input: serde_json::Value) -> ToolInvocation {
    ToolInvocation {
        call_id: format!("call_{name}"),
        name: name.into(),
        input,
        granted: Vec::new(),
    }
}

fn outcome_of(inputs: &Receiver<Input>, id: ToolRunId) -> ToolOutcome {
    match inputs
        .recv_timeout(Duration::from_secs(10))
        .expect("an outcome")
    {
        Input::ToolDone(got, outcome) if got == id => outcome,
        other => panic!("expected ToolDone({id:?}), got {other:?}"),
    }
}

fn text(outcome: &ToolOutcome) -> String {
    outcome
        .content
        .iter()
        .filter_map(|c| match c {
            ToolOutput::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_read_by_one_call_lets_a_later_call_edit_the_file() {
    let dir = TempDir::new("readlog");
    fs::write(dir.0.join("a.txt"), "one\n").unwrap();
    let mut host = host(&dir);
    let (tx, rx) = mpsc::channel();

    host.start(
        ToolRunId(1),
        call(
            "edit",
            json!({"path": "a.txt", "old_string": "one", "new_string": "two"}),
        ),
        tx.clone(),
    );
    let refused = outcome_of(&rx, ToolRunId(1));
    assert!(
        refused.is_error,
        "edit before read is refused: {}",
        text(&refused)
    );

    host.start(
        ToolRunId(2),
        call("read", json!({"path": "a.txt"})),
        tx.clone(),
    );
    assert!(!outcome_of(&rx, ToolRunId(2)).is_error);
    host.start(
        ToolRunId(3),
        call(
            "edit",
            json!({"path": "a.txt", "old_string": "one", "new_string": "two"}),
        ),
        tx,
    );
    let edited = outcome_of(&rx, ToolRunId(3));
    assert!(!edited.is_error, "{}", text(&edited));
    assert_eq!(edited.changes.len(), 1);
    assert_eq!(fs::read_to_string(dir.0.join("a.txt")).unwrap(), "two\n");
}

#[test]
fn bash_runs_in_the_workspace_and_reports_its_exit_code() {
    let dir = TempDir::new("bash");
    fs::write(dir.0.join("marker"), "").unwrap();
    let mut host = host(&dir);
    let (tx, rx) = mpsc::channel();
    host.start(
        ToolRunId(1),
        call("bash", json!({"command": "ls; exit 3"})),
        tx,
    );
    let outcome = outcome_of(&rx, ToolRunId(1));
    assert!(outcome.is_error);
    assert!(text(&outcome).contains("marker"), "{}", text(&outcome));
    assert!(text(&outcome).contains("exit code 3"), "{}", text(&outcome));
}

#[test]
fn bad_bash_arguments_and_unknown_tools_are_error_outcomes() {
    let dir = TempDir::new("bad");
    let mut host = host(&dir);
    let (tx, rx) = mpsc::channel();
    host.start(ToolRunId(1), call("bash", json!({"cmd": "ls"})), tx.clone());
    assert!(text(&outcome_of(&rx, ToolRunId(1))).contains("\"command\""));
    host.start(
        ToolRunId(2),
        call("bash", json!({"command": "true", "timeout": -5})),
        tx.clone(),
    );
    assert!(text(&outcome_of(&rx, ToolRunId(2))).contains("timeout"));
    host.start(ToolRunId(3), call("webfetch", json!({})), tx);
    let unknown = outcome_of(&rx, ToolRunId(3));
    assert!(unknown.is_error && text(&unknown).contains("webfetch"));
}

#[test]
fn cancelling_a_bash_run_kills_it_promptly_and_sends_nothing() {
    let dir = TempDir::new("cancel");
    let mut host = host(&dir);
    let (tx, rx) = mpsc::channel();
    host.start(
        ToolRunId(1),
        call("bash", json!({"command": "sleep 30"})),
        tx,
    );
    std::thread::sleep(Duration::from_millis(200));
    let cancelled = Instant::now();
    host.cancel(ToolRunId(1));
    // The worker ends without an outcome: its sender is dropped and the channel closes.
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
    assert!(
        cancelled.elapsed() < Duration::from_secs(3),
        "{:?}",
        cancelled.elapsed()
    );
}

#[test]
fn a_path_outside_the_workspace_needs_external_directory_until_granted() {
    let dir = TempDir::new("outside");
    let other = TempDir::new("other");
    fs::write(other.0.join("secret.txt"), "s\n").unwrap();
    let path = other.0.join("secret.txt").display().to_string();
    let mut host = host(&dir);
    let (tx, rx) = mpsc::channel();
    host.start(
        ToolRunId(1),
        call("read", json!({"path": path})),
        tx.clone(),
    );
    let refused = outcome_of(&rx, ToolRunId(1));
    assert_eq!(
        refused.needs.map(|n| n.permission),
        Some("external_directory".to_string())
    );

    let mut granted = call("read", json!({"path": path}));
    granted.granted.push("external_directory".into());
    host.start(ToolRunId(2), granted, tx);
    let read = outcome_of(&rx, ToolRunId(2));
    assert!(!read.is_error, "{}", text(&read));
}

#[test]
fn the_search_tools_are_dispatched_to_cm_host() {
    let dir = TempDir::new("search");
    fs::create_dir_all(dir.0.join("src")).unwrap();
    fs::write(dir.0.join("src/lib.rs"), "pub fn needle() {}\n").unwrap();
    fs::write(dir.0.join(".gitignore"), "*.log\n").unwrap();
    fs::write(dir.0.join("needle.log"), "needle\n").unwrap();
    let host = host(&dir);
    let abort = cm_host::AbortHandle::new();
    let glob = host.run(&call("glob", json!({"pattern": "*.rs"})), &abort);
    assert_eq!(text(&glob), "src/lib.rs");
    let grep = host.run(&call("grep", json!({"pattern": "needle"})), &abort);
    assert_eq!(
        text(&grep),
        "Found 1 match in 1 file\nsrc/lib.rs:1: pub fn needle() {}"
    );
    let ls = host.run(&call("ls", json!({})), &abort);
    assert_eq!(text(&ls), "./\n  src/\n    lib.rs\n  .gitignore\n");
}

#[test]
fn todowrite_and_todoread_share_one_list_shown_in_display() {
    let dir = TempDir::new("todos");
    let mut host = host(&dir);
    let (tx, rx) = mpsc::channel();
    let list = json!([
        {"id": "1", "content": "parse", "status": "in_progress", "priority": "high"},
        {"id": "2", "content": "test", "status": "pending", "priority": "low"},
    ]);
    host.start(
        ToolRunId(1),
        call("todowrite", json!({ "todos": list })),
        tx.clone(),
    );
    let written = outcome_of(&rx, ToolRunId(1));
    assert!(!written.is_error, "{written:?}");
    assert_eq!(written.display, Some(json!({ "todos": list })));

    host.start(ToolRunId(2), call("todoread", json!({})), tx.clone());
    let read = outcome_of(&rx, ToolRunId(2));
    assert!(text(&read).contains("- [in_progress] parse (id: 1, priority: high)"));
    assert_eq!(host.todos().len(), 2);

    let dup = json!([
        {"id": "1", "content": "a", "status": "pending", "priority": "low"},
        {"id": "1", "content": "b", "status": "pending", "priority": "low"},
    ]);
    host.start(ToolRunId(3), call("todowrite", json!({ "todos": dup })), tx);
    let refused = outcome_of(&rx, ToolRunId(3));
    assert!(refused.is_error);
    assert!(text(&refused).contains("repeated: \"1\""), "{refused:?}");
    assert_eq!(host.todos()[1].content, "test");
}

#[test]
fn a_resumed_host_starts_from_the_given_todos() {
    let dir = TempDir::new("todos-resume");
    let todos =
        cm_proto::tool::todo::parse(&json!({"todos": [{"id": "a", "content": "x"}]})).unwrap();
    let host = host(&dir).with_todos(todos.clone());
    assert_eq!(host.todos(), todos);
}

struct FakeWeb;

impl cm_driver::WebFetcher for FakeWeb {
    fn fetch(
        &self,
        url: &str,
        limits: &cm_proto::tool::webfetch::FetchLimits,
        _cancelled: &dyn Fn() -> bool,
    ) -> Result<cm_proto::tool::webfetch::Fetched, cm_proto::tool::webfetch::FetchError> {
        assert_eq!(limits.timeout, Duration::from_secs(3));
        Ok(cm_proto::tool::webfetch::Fetched {
            url: url.to_string(),
            status: 200,
            content_type: Some("text/html".into()),
            body: b"<h1>Page</h1>".to_vec(),
            truncated: false,
        })
    }
}

#[test]
fn webfetch_goes_through_the_fetcher_and_fails_without_one() {
    let dir = TempDir::new("webfetch");
    let (tx, rx) = mpsc::channel();
    let input = json!({"url": "https://example.com/", "timeout": 3});
    let mut bare = host(&dir);
    bare.start(ToolRunId(1), call("webfetch", input.clone()), tx.clone());
    let refused = outcome_of(&rx, ToolRunId(1));
    assert!(refused.is_error);
    assert!(text(&refused).contains("no HTTP client"));

    let mut web = host(&dir).with_web(Arc::new(FakeWeb));
    web.start(ToolRunId(2), call("webfetch", input), tx);
    let fetched = outcome_of(&rx, ToolRunId(2));
    assert!(!fetched.is_error, "{fetched:?}");
    assert_eq!(text(&fetched), "# Page");
}
