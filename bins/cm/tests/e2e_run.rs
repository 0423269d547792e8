//! The real `cm` binary against cm-mock in a temporary project: the whole loop, faults,
//! permissions, Ctrl-C, sessions, and the three wire formats.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use cm_mock::{MockServer, Script};
use cm_proto::message::{Part, Role};
use cm_proto::session::{replay, Entry, Record};
use common::{Run, Sandbox};
use serde_json::{json, Value};

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

fn records(sandbox: &Sandbox) -> Vec<Record> {
    let files = sandbox.session_files();
    assert_eq!(files.len(), 1, "one session: {files:?}");
    std::fs::read_to_string(&files[0])
        .expect("session log")
        .lines()
        .map(|l| Record::from_line(l).expect("record"))
        .collect()
}

fn turn_ends(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::TurnEnd(end) => Some(end.outcome.clone()),
            _ => None,
        })
        .collect()
}

/// A project with a typo and a test that catches it.
fn greeting_project(sandbox: &Sandbox) {
    sandbox.write("greeting.sh", "#!/bin/sh\necho \"Hello, wrold!\"\n");
    sandbox.write(
        "test.sh",
        "#!/bin/sh\nout=\"$(sh greeting.sh)\"\nif [ \"$out\" = \"Hello, world!\" ]; then echo PASS; else echo \"FAIL: $out\"; exit 1; fi\n",
    );
    sandbox.make_executable("test.sh");
    sandbox.write(
        "cm.json",
        r#"{"permission": {"edit": "allow", "bash": {"./test.sh": "allow", "test.sh": "allow"}}}"#,
    );
}

#[test]
fn read_edit_test_answer_and_the_session_replays_for_continue() {
    let server = mock(json!([
        {"text": "Reading.", "tool_calls": [{"name": "read", "arguments": {"path": "greeting.sh"}}],
         "usage": {"input_tokens": 100, "output_tokens": 10}},
        {"expect": {"tool_result_contains": "Hello, wrold!"},
         "tool_calls": [{"name": "edit", "arguments": {"path": "greeting.sh", "old_string": "wrold", "new_string": "world"}}]},
        {"expect": {"tool_result_contains": "greeting.sh"},
         "tool_calls": [{"name": "bash", "arguments": {"command": "./test.sh"}}]},
        {"expect": {"tool_result_contains": "PASS"}, "text": "Fixed the typo; the test passes."},
        {"expect": [{"tool_result_contains": "PASS"}, {"contains": "Fixed the typo"}, {"contains": "and now?"}],
         "text": "Nothing else to do."}
    ]));
    let mut sandbox = Sandbox::new("loop");
    sandbox.anthropic_at(&server.url());
    greeting_project(&sandbox);

    let run = sandbox.cm(&[
        "run",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "fix the greeting test",
    ]);
    run.expect_code(0);
    assert_eq!(run.stdout, "Reading.Fixed the typo; the test passes.\n");
    assert!(run.stderr.contains("✓ read greeting.sh"), "{}", run.stderr);
    assert!(run.stderr.contains("./test.sh"), "{}", run.stderr);
    assert!(run.stderr.contains("4 steps"), "{}", run.stderr);
    assert_eq!(
        sandbox.read("greeting.sh"),
        "#!/bin/sh\necho \"Hello, world!\"\n"
    );

    let log = records(&sandbox);
    let state = replay(&log);
    let roles: Vec<Role> = state.history.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant
        ]
    );
    assert!(
        log.iter().any(|r| matches!(&r.entry, Entry::FileChange(_))),
        "the edit is recorded"
    );
    assert!(state.usage.input_tokens >= 100);

    let again = sandbox.cm(&[
        "run",
        "-c",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "and now?",
    ]);
    again.expect_code(0);
    assert_eq!(again.stdout, "Nothing else to do.\n");
    no_failed_expectations(&server);
    let state = replay(&records(&sandbox));
    assert_eq!(
        state.history.len(),
        10,
        "the continued turn extends the same session"
    );
}

#[test]
fn parallel_tool_calls_answer_in_the_models_order() {
    let server = mock(json!([
        {"tool_calls": [{"id": "t1", "name": "read", "arguments": {"path": "a.txt"}},
                        {"id": "t2", "name": "read", "arguments": {"path": "b.txt"}}]},
        {"expect": [{"tool_result_contains": "alpha"}, {"tool_result_contains": "beta"}], "text": "both read"}
    ]));
    let mut sandbox = Sandbox::new("parallel");
    sandbox.anthropic_at(&server.url());
    sandbox.write("a.txt", "alpha\n");
    sandbox.write("b.txt", "beta\n");
    let run = sandbox.cm(&[
        "run",
        "--format",
        "json",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "read both",
    ]);
    run.expect_code(0);
    no_failed_expectations(&server);
    let body = &server.requests()[1].body;
    let results: Vec<&str> = body["messages"][2]["content"]
        .as_array()
        .expect("tool results")
        .iter()
        .filter_map(|b| b["tool_use_id"].as_str())
        .collect();
    assert_eq!(results, ["t1", "t2"]);
    let done: Vec<Value> = run
        .events()
        .into_iter()
        .filter(|e| e["type"] == "tool_done")
        .collect();
    assert_eq!(done.len(), 2);
    assert_eq!(
        run.events().last().map(|e| e["end"].clone()),
        Some(json!("completed"))
    );
}

#[test]
fn malformed_tool_arguments_are_answered_and_the_model_recovers() {
    let server = mock(json!([
        {"tool_calls": [{"name": "read", "arguments": "{\"path\": \"a.txt"}]},
        {"expect": {"tool_result_contains": "not valid JSON"},
         "tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]},
        {"expect": {"tool_result_contains": "alpha"}, "text": "recovered"}
    ]));
    let mut sandbox = Sandbox::new("malformed");
    sandbox.anthropic_at(&server.url());
    sandbox.write("a.txt", "alpha\n");
    let run = sandbox.cm(&[
        "run",
        "-q",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "read a",
    ]);
    run.expect_code(0);
    assert_eq!(run.stdout, "recovered\n");
    no_failed_expectations(&server);
}

#[test]
fn rate_limited_429_with_retry_after_then_success() {
    let server = mock(json!([
        {"fault": {"status": 429, "headers": {"retry-after": "1"}}},
        {"text": "after the wait"}
    ]));
    let mut sandbox = Sandbox::new("429");
    sandbox.anthropic_at(&server.url());
    let started = Instant::now();
    let run = sandbox.cm(&[
        "run",
        "--format",
        "json",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "hi",
    ]);
    run.expect_code(0);
    let retry = run
        .events()
        .into_iter()
        .find(|e| e["type"] == "retry")
        .expect("a retry event");
    assert_eq!(retry["attempt"], 2);
    assert!(retry["delay_ms"].as_u64().unwrap_or(0) >= 1000, "{retry}");
    assert!(started.elapsed() >= Duration::from_millis(1000));
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn overloaded_529_twice_then_success() {
    let server = mock(json!([
        {"fault": {"status": 529}, "repeat": 2},
        {"text": "finally"}
    ]));
    let mut sandbox = Sandbox::new("529");
    sandbox.anthropic_at(&server.url());
    let run = sandbox.cm(&["run", "--model", "anthropic/claude-sonnet-4-5", "hi"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "finally\n");
    assert_eq!(
        run.stderr.matches("retrying in").count(),
        2,
        "{}",
        run.stderr
    );
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_disconnect_mid_stream_keeps_the_partial_text_and_fails_the_turn() {
    let long = "word ".repeat(200);
    let server = mock(json!([{"text": long, "fault": {"disconnect_after_bytes": 1500}}]));
    let mut sandbox = Sandbox::new("disconnect");
    sandbox.anthropic_at(&server.url());
    let run = sandbox.cm(&["run", "--model", "anthropic/claude-sonnet-4-5", "talk"]);
    run.expect_code(1);
    assert!(run.stdout.starts_with("word word"), "{}", run.stdout);
    assert!(run.stderr.contains("broke off"), "{}", run.stderr);
    let state = replay(&records(&sandbox));
    assert_eq!(
        state.history.last().map(|m| m.role),
        Some(Role::Assistant),
        "partial kept"
    );
}

#[test]
fn a_drop_before_the_first_byte_is_retried() {
    let server = mock(json!([{"fault": {"drop": true}}, {"text": "ok"}]));
    let mut sandbox = Sandbox::new("drop");
    sandbox.anthropic_at(&server.url());
    let run = sandbox.cm(&["run", "-q", "--model", "anthropic/claude-sonnet-4-5", "hi"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "ok\n");
}

#[test]
fn without_a_terminal_an_ask_is_denied_and_the_user_told_how_to_allow() {
    let server = mock(json!([
        {"tool_calls": [{"name": "bash", "arguments": {"command": "touch made-by-cm"}}]},
        {"expect": {"tool_result_contains": "could not be asked"}, "text": "I could not run it."}
    ]));
    let mut sandbox = Sandbox::new("deny");
    sandbox.anthropic_at(&server.url());
    let run = sandbox.cm(&[
        "run",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "make a file",
    ]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("--yes") && run.stderr.contains("\"touch *\": \"allow\""),
        "{}",
        run.stderr
    );
    assert!(!sandbox.project.join("made-by-cm").exists());
    no_failed_expectations(&server);

    // --yes turns the ask into allow.
    let server = mock(json!([
        {"tool_calls": [{"name": "bash", "arguments": {"command": "touch made-by-cm"}}]},
        {"text": "done"}
    ]));
    sandbox.anthropic_at(&server.url());
    let run = sandbox.cm(&[
        "run",
        "--yes",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "make a file",
    ]);
    run.expect_code(0);
    assert!(sandbox.project.join("made-by-cm").exists());
}

#[test]
fn sigint_during_a_stream_exits_130_saves_the_session_and_continue_resumes() {
    let server = mock(json!([
        {"text": "this stream never ends", "fault": {"stall": true}},
        {"expect": {"contains": "count to a million"}, "text": "resumed"}
    ]));
    let mut sandbox = Sandbox::new("sigint");
    sandbox.anthropic_at(&server.url());
    let child = sandbox
        .command(&[
            "run",
            "--model",
            "anthropic/claude-sonnet-4-5",
            "count to a million",
        ])
        .spawn()
        .expect("spawn cm");
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let run = Run::wait(child, Duration::from_secs(20));
    run.expect_code(130);
    assert!(run.stderr.contains("interrupted"), "{}", run.stderr);
    let log = records(&sandbox);
    assert_eq!(turn_ends(&log), ["aborted"]);

    let again = sandbox.cm(&[
        "run",
        "-c",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "go on",
    ]);
    again.expect_code(0);
    assert_eq!(again.stdout, "resumed\n");
    no_failed_expectations(&server);
}

#[test]
fn openai_responses_and_chat_completions_formats() {
    // Responses: the default for `openai`.
    let server = mock(json!([
        {"expect": {"path": "/v1/responses"}, "tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]},
        {"expect": [{"path": "/v1/responses"}, {"tool_result_contains": "alpha"}], "text": "responses ok"}
    ]));
    let mut sandbox = Sandbox::new("openai");
    sandbox.env("OPENAI_BASE_URL", &format!("{}/v1", server.url()));
    sandbox.env("OPENAI_API_KEY", "test-key");
    sandbox.write("a.txt", "alpha\n");
    let run = sandbox.cm(&["run", "-q", "--model", "openai/gpt-5", "read a"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "responses ok\n");
    no_failed_expectations(&server);

    // Chat Completions through the provider's config.
    let server = mock(json!([
        {"expect": {"path": "/v1/chat/completions"}, "tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]},
        {"expect": [{"path": "/v1/chat/completions"}, {"tool_result_contains": "alpha"}], "text": "chat ok"}
    ]));
    let mut sandbox = Sandbox::new("openai-chat");
    sandbox.env("OPENAI_BASE_URL", &format!("{}/v1", server.url()));
    sandbox.env("OPENAI_API_KEY", "test-key");
    sandbox.write("a.txt", "alpha\n");
    sandbox.write(
        "cm.json",
        r#"{"provider": {"openai": {"api": "openai-chat"}}}"#,
    );
    let run = sandbox.cm(&["run", "-q", "--model", "openai/gpt-5", "read a"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "chat ok\n");
    no_failed_expectations(&server);
}

#[test]
fn a_declared_compatible_server_with_its_own_key() {
    let server = mock(json!([
        {"expect": [{"path": "/v1/chat/completions"}, {"header": {"name": "authorization"}}], "text": "local ok"}
    ]));
    let mut sandbox = Sandbox::new("compatible");
    sandbox.env("LOCAL_KEY", "local-secret");
    sandbox.write(
        "cm.json",
        &format!(
            r#"{{"provider": {{"local": {{"base_url": "{}/v1", "api_key": "{{env:LOCAL_KEY}}"}}}}}}"#,
            server.url()
        ),
    );
    let run = sandbox.cm(&["run", "--model", "local/qwen3", "hi"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "local ok\n");
    assert!(
        run.stderr.contains("does not know the price of `qwen3`"),
        "{}",
        run.stderr
    );
    no_failed_expectations(&server);
}

#[test]
fn recorded_streams_of_each_format_are_answered() {
    for (label, replay_file, env, model) in [
        (
            "rec-anthropic",
            "anthropic/anthropic-text.chunks.txt",
            "anthropic",
            "anthropic/claude-sonnet-4-5",
        ),
        (
            "rec-chat",
            "openai-chat/azure-model-router.1.chunks.txt",
            "chat",
            "openai/gpt-5",
        ),
        (
            "rec-responses",
            "openai-responses/github-copilot-id-rotation.1.chunks.txt",
            "responses",
            "openai/gpt-5",
        ),
    ] {
        let server = mock(json!([{"replay": replay_file}]));
        let mut sandbox = Sandbox::new(label);
        match env {
            "anthropic" => {
                sandbox.anthropic_at(&server.url());
            }
            _ => {
                sandbox.env("OPENAI_BASE_URL", &format!("{}/v1", server.url()));
                sandbox.env("OPENAI_API_KEY", "test-key");
            }
        }
        if env == "chat" {
            sandbox.write(
                "cm.json",
                r#"{"provider": {"openai": {"api": "openai-chat"}}}"#,
            );
        }
        let run = sandbox.cm(&["run", "--format", "json", "--model", model, "hi"]);
        run.expect_code(0);
        let text: String = run
            .events()
            .iter()
            .filter(|e| e["type"] == "text_delta")
            .filter_map(|e| e["text"].as_str().map(str::to_string))
            .collect();
        assert!(
            !text.is_empty(),
            "{label}: no text from the recorded stream"
        );
        let state = replay(&records(&sandbox));
        let answer = state.history.last().expect("answer");
        assert!(
            answer.role == Role::Assistant
                && answer.parts.iter().any(|p| matches!(p, Part::Text { .. })),
            "{label}: the recorded answer is the last message of the session"
        );
    }
}

#[test]
fn model_not_found_is_said_plainly_with_cm_models() {
    let server = mock(
        json!([{"fault": {"status": 404, "body": {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-nope"}}}}]),
    );
    let mut sandbox = Sandbox::new("not-found");
    sandbox.anthropic_at(&server.url());
    let run = sandbox.cm(&["run", "--model", "anthropic/claude-nope", "hi"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("model `claude-nope` was not found"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("cm models"), "{}", run.stderr);
}

#[test]
fn huge_command_output_is_capped() {
    let server = mock(json!([
        {"tool_calls": [{"name": "bash", "arguments": {"command": "seq 1 3000000"}}]},
        {"expect": [{"tool_result_contains": "3000000"}], "text": "seen"}
    ]));
    let mut sandbox = Sandbox::new("huge");
    sandbox.anthropic_at(&server.url());
    let run = sandbox.cm(&[
        "run",
        "--yes",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "count",
    ]);
    run.expect_code(0);
    no_failed_expectations(&server);
    let second = &server.requests()[1];
    let size = second.body.to_string().len();
    assert!(
        size < 200_000,
        "the tool result was not capped: {size} bytes"
    );
}

#[test]
fn a_model_that_never_stops_calling_tools_hits_max_steps() {
    let server = mock(json!([
        {"tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]},
        {"tool_calls": [{"name": "read", "arguments": {"path": "b.txt"}}]},
        {"tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]}
    ]));
    let mut sandbox = Sandbox::new("max-steps");
    sandbox.anthropic_at(&server.url());
    sandbox.write("a.txt", "a\n");
    sandbox.write("b.txt", "b\n");
    let run = sandbox.cm(&[
        "run",
        "--max-steps",
        "2",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "loop",
    ]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("stopped after 2 steps"),
        "{}",
        run.stderr
    );
    assert_eq!(server.requests().len(), 2);
    assert_eq!(turn_ends(&records(&sandbox)), ["max_steps"]);
}
