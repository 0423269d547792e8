//! The everyday commands through the real binary against cm-mock: `cm sessions`,
//! attachments, `--effort`, the debug log, `cm run --compact`, and the line-mode chat.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use cm_mock::{MockServer, Script};
use cm_proto::session::{Entry, Record};
use common::{Run, Sandbox};
use serde_json::{json, Value};

const MODEL: &str = "anthropic/claude-sonnet-4-5";

fn mock(turns: Value) -> MockServer {
    MockServer::start(Script::from_value(turns).expect("valid script"))
}

fn no_failed_expectations(server: &MockServer) {
    for request in server.requests() {
        assert!(
            request.expectation_failed.is_none(),
            "request {} failed its expectation: {:?}",
            request.seq,
            request.expectation_failed
        );
    }
}

fn sandbox(label: &str, server: &MockServer) -> Sandbox {
    let mut sandbox = Sandbox::new(label);
    sandbox.anthropic_at(&server.url());
    sandbox
}

fn session_id(sandbox: &Sandbox) -> String {
    let files = sandbox.session_files();
    assert_eq!(files.len(), 1, "one session: {files:?}");
    files[0]
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("session file name")
        .to_string()
}

fn records(sandbox: &Sandbox) -> Vec<Record> {
    let files = sandbox.session_files();
    std::fs::read_to_string(&files[0])
        .expect("session log")
        .lines()
        .map(|l| Record::from_line(l).expect("record"))
        .collect()
}

#[test]
fn sessions_list_show_export_and_delete_after_a_run() {
    let server = mock(json!([
        {"text": "Reading.", "tool_calls": [{"name": "read", "arguments": {"path": "notes.txt"}}]},
        {"expect": {"tool_result_contains": "pineapple"}, "text": "The word is pineapple."}
    ]));
    let sandbox = sandbox("sessions", &server);
    sandbox.write("notes.txt", "the word is pineapple\n");
    sandbox
        .cm(&[
            "run",
            "--model",
            MODEL,
            "  what\tis   the \u{7}word?\nin notes.txt",
        ])
        .expect_code(0);
    no_failed_expectations(&server);
    let id = session_id(&sandbox);

    let list = sandbox.cm(&["sessions", "list"]);
    list.expect_code(0);
    assert!(list.stdout.contains(&id), "{}", list.stdout);
    assert!(list.stdout.contains("what is the word?"), "{}", list.stdout);

    let listed = sandbox.cm(&["sessions", "list", "--json"]);
    listed.expect_code(0);
    let rows: Value = serde_json::from_str(&listed.stdout).expect("JSON list");
    assert_eq!(rows[0]["id"], id.as_str());
    assert_eq!(rows[0]["title"], "what is the word?");
    assert_eq!(rows[0]["messages"], 4, "prompt, call, result, answer");
    assert_eq!(
        rows[0]["directory"],
        sandbox.project.display().to_string().as_str()
    );

    let show = sandbox.cm(&["sessions", "show", &id]);
    show.expect_code(0);
    assert!(
        show.stdout.contains("→ read {\"path\":\"notes.txt\"}"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("The word is pineapple."));

    let export = sandbox.cm(&["sessions", "export", &id]);
    export.expect_code(0);
    let exported: Value = serde_json::from_str(&export.stdout).expect("JSON export");
    assert_eq!(exported["info"]["title"], "what is the word?");
    assert_eq!(exported["messages"].as_array().map(Vec::len), Some(4));

    let markdown = sandbox.cm(&["sessions", "export", &id, "--format", "markdown"]);
    markdown.expect_code(0);
    assert!(markdown.stdout.starts_with("# what is the word?\n"));
    assert!(markdown.stdout.contains("**tool call** `read`"));
    assert!(markdown.stdout.contains("**read result**"));

    // The key reaches the provider but never the log or an export.
    let log = std::fs::read_to_string(&sandbox.session_files()[0]).expect("log");
    for text in [&log, &export.stdout, &markdown.stdout, &show.stdout] {
        assert!(!text.contains("test-key"));
    }

    let deleted = sandbox.cm(&["sessions", "delete", &id, "--yes"]);
    deleted.expect_code(0);
    assert!(sandbox.session_files().is_empty());
    let missing = sandbox.cm(&["sessions", "show", &id]);
    missing.expect_code(2);
    assert!(missing.stderr.contains("there is no session"));
}

#[test]
fn a_session_another_process_holds_is_not_deleted() {
    let server = mock(json!([{"text": "hi"}]));
    let sandbox = sandbox("sessions-held", &server);
    sandbox
        .cm(&["run", "--model", MODEL, "hello"])
        .expect_code(0);
    let id = session_id(&sandbox);
    let held = std::fs::OpenOptions::new()
        .append(true)
        .open(&sandbox.session_files()[0])
        .expect("open log");
    held.lock().expect("lock the log as a running cm does");
    let refused = sandbox.cm(&["sessions", "delete", &id, "--yes"]);
    refused.expect_code(2);
    assert!(refused.stderr.contains("in use"), "{}", refused.stderr);
    assert_eq!(sandbox.session_files().len(), 1);
    drop(held);
    sandbox
        .cm(&["sessions", "delete", &id, "--yes"])
        .expect_code(0);
}

#[test]
fn at_mentions_and_dash_f_attach_files_to_the_request() {
    let server = mock(json!([
        {"expect": [
            {"contains": "the secret word is pineapple"},
            {"contains": "<file path=\\\"notes.txt\\\">"},
            {"contains": "second file: mango"},
            {"contains": "mail bob@example.com"}
        ], "text": "Got both."}
    ]));
    let sandbox = sandbox("attach", &server);
    sandbox.write("notes.txt", "the secret word is pineapple\n");
    sandbox.write("docs/other.md", "second file: mango\n");
    sandbox
        .cm(&[
            "run",
            "--model",
            MODEL,
            "-f",
            "docs/other.md",
            "read @notes.txt, then mail bob@example.com",
        ])
        .expect_code(0);
    no_failed_expectations(&server);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_missing_attachment_fails_before_any_request() {
    let server = mock(json!([{"text": "never"}]));
    let sandbox = sandbox("attach-missing", &server);
    let run = sandbox.cm(&["run", "--model", MODEL, "fix @src/nope.rs please"]);
    run.expect_code(2);
    assert!(run.stderr.contains("src/nope.rs"), "{}", run.stderr);
    let flag = sandbox.cm(&["run", "--model", MODEL, "-f", "gone.txt", "hi"]);
    flag.expect_code(2);
    assert!(flag.stderr.contains("gone.txt"), "{}", flag.stderr);
    assert!(server.requests().is_empty(), "no request was sent");
    assert!(sandbox.session_files().is_empty(), "no session was started");
}

#[test]
fn effort_from_the_flag_or_the_config_sets_the_thinking_budget() {
    let server = mock(json!([
        {"expect": {"contains": "\"budget_tokens\":16384"}, "text": "thought hard"},
        {"expect": {"contains": "\"budget_tokens\":2048"}, "text": "thought a little"},
        {"expect": {"not_contains": "budget_tokens"}, "text": "no thinking"}
    ]));
    let sandbox = sandbox("effort", &server);
    sandbox
        .cm(&["run", "--model", MODEL, "--effort", "high", "one"])
        .expect_code(0);
    sandbox.global_config(
        r#"{"provider": {"anthropic": {"models": {"claude-sonnet-4-5": {"effort": "low"}}}}}"#,
    );
    sandbox.cm(&["run", "--model", MODEL, "two"]).expect_code(0);
    sandbox.global_config("{}");
    sandbox
        .cm(&["run", "--model", MODEL, "three"])
        .expect_code(0);
    no_failed_expectations(&server);
    assert_eq!(server.requests().len(), 3);
}

fn debug_logs(sandbox: &Sandbox) -> String {
    let dir = sandbox.root().join("state/cm/log");
    let mut text = String::new();
    for entry in std::fs::read_dir(&dir).expect("the log directory exists") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(name.starts_with("cm-") && name.ends_with(".log"), "{name}");
        text.push_str(&std::fs::read_to_string(&path).expect("log"));
    }
    text
}

#[test]
fn the_debug_log_holds_requests_responses_and_steps_but_no_key() {
    let server = mock(json!([
        {"tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]},
        {"text": "done"},
        {"text": "again"}
    ]));
    let mut sandbox = sandbox("debug", &server);
    sandbox.write("a.txt", "a\n");
    sandbox
        .cm(&["run", "--model", MODEL, "--debug", "read a.txt"])
        .expect_code(0);
    let log = debug_logs(&sandbox);
    assert!(log.contains("request POST http"), "{log}");
    assert!(log.contains("/v1/messages"), "{log}");
    assert!(log.contains("x-api-key: [redacted]"), "{log}");
    assert!(log.contains("response 200"), "{log}");
    assert!(log.contains("\"type\":\"tool_done\""), "{log}");
    assert!(log.contains("turn end: completed"), "{log}");
    assert!(!log.contains("test-key"), "the key leaked into the log");

    sandbox.env("CM_LOG", "debug");
    let before = log.lines().count();
    sandbox.cm(&["run", "--model", MODEL, "hi"]).expect_code(0);
    let after = debug_logs(&sandbox);
    assert!(after.lines().count() > before, "CM_LOG=debug logs too");
    assert!(!after.contains("test-key"));
}

#[test]
fn compact_summarises_the_session_on_request() {
    let server = mock(json!([
        {"text": "I looked at the parser."},
        {"expect": [{"contains": "You summarise a coding session"}, {"contains": "I looked at the parser."}],
         "text": "Summary: the user asked about the parser; it was read."},
        {"expect": [{"contains": "Summary: the user asked about the parser"}, {"not_contains": "I looked at the parser."}],
         "text": "Continuing."}
    ]));
    let sandbox = sandbox("compact", &server);
    sandbox
        .cm(&["run", "--model", MODEL, "look at the parser"])
        .expect_code(0);
    let compacted = sandbox.cm(&["run", "--model", MODEL, "-c", "--compact"]);
    compacted.expect_code(0);
    assert!(
        records(&sandbox)
            .iter()
            .any(|r| matches!(r.entry, Entry::Compaction(_))),
        "a compaction record"
    );
    sandbox
        .cm(&["run", "--model", MODEL, "-c", "go on"])
        .expect_code(0);
    no_failed_expectations(&server);
    assert_eq!(server.requests().len(), 3);
    let without_session = sandbox.cm(&["run", "--compact"]);
    without_session.expect_code(2);
}

#[test]
fn without_a_terminal_cm_alone_prints_the_help_and_exits_2() {
    let sandbox = Sandbox::new("no-tty");
    let run = sandbox.cm(&[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("cm run [OPTIONS] [PROMPT]"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_chat_runs_two_turns_in_one_session_on_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let server = mock(json!([
        {"expect": {"contains": "first question"}, "text": "First answer."},
        {"expect": [{"contains": "First answer."}, {"contains": "second question"}],
         "text": "Second answer."}
    ]));
    let sandbox = sandbox("chat", &server);
    let cm = env!("CARGO_BIN_EXE_cm");
    let mut child = sandbox
        .other_command(
            "script",
            &["-qfec", &format!("{cm} chat 2>&1"), "/dev/null"],
        )
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn script");
    let mut stdin = child.stdin.take().expect("stdin");
    // One line at a time, each after the previous turn had time to finish.
    for line in ["first question\n", "second question\n", "/exit\n"] {
        stdin.write_all(line.as_bytes()).expect("type");
        stdin.flush().expect("flush");
        let sent = server.requests().len();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while line != "/exit\n"
            && server.requests().len() == sent
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(stdin);
    let run = Run::wait(child, Duration::from_secs(30));
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("First answer."), "{}", run.stdout);
    assert!(run.stdout.contains("Second answer."), "{}", run.stdout);
    no_failed_expectations(&server);
    assert_eq!(server.requests().len(), 2);
    let id = session_id(&sandbox);
    assert!(run.stdout.contains(&id), "the session is named at the end");
    let listed = sandbox.cm(&["sessions", "list", "--json"]);
    let rows: Value = serde_json::from_str(&listed.stdout).expect("JSON list");
    assert_eq!(rows[0]["title"], "first question");
    assert_eq!(rows[0]["messages"], 4);
}

#[test]
fn a_key_a_tool_prints_is_redacted_in_the_session_log() {
    let server = mock(json!([
        {"tool_calls": [{"name": "bash", "arguments": {"command": "env"}}]},
        {"expect": {"tool_result_contains": "ANTHROPIC_API_KEY=test-key"}, "text": "I saw the environment."}
    ]));
    let sandbox = sandbox("redact", &server);
    sandbox
        .cm(&[
            "run",
            "--model",
            MODEL,
            "--yes",
            "--debug",
            "show the environment",
        ])
        .expect_code(0);
    no_failed_expectations(&server);
    let log = std::fs::read_to_string(&sandbox.session_files()[0]).expect("log");
    assert!(log.contains("ANTHROPIC_API_KEY=[redacted]"), "{log}");
    assert!(!log.contains("test-key"));
    let id = session_id(&sandbox);
    let export = sandbox.cm(&["sessions", "export", &id, "--format", "markdown"]);
    assert!(!export.stdout.contains("test-key"));
    assert!(!debug_logs(&sandbox).contains("test-key"));
    // The redacted log still replays: the session continues.
    let server_again = mock(json!([{"text": "ok"}]));
    let mut again = sandbox;
    again.anthropic_at(&server_again.url());
    again
        .cm(&["run", "--model", MODEL, "-c", "thanks"])
        .expect_code(0);
}
