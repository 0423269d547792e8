//! `cm init` end to end against cm-mock: a scripted model studies the project and writes
//! AGENTS.md; an existing AGENTS.md is not replaced without a terminal unless `--yes`;
//! `--write-config` records the model in cm.json.

mod common;

use cm_mock::{MockServer, Script};
use common::Sandbox;
use serde_json::{json, Value};

const FIRST: &str = "# AGENTS.md\n\nBuild: `make`. Test: `make test`.\n";
const SECOND: &str = "# AGENTS.md\n\nBuild: `make`. Test: `make check`.\n";

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

#[test]
fn init_writes_agents_md_asks_before_replacing_it_and_can_record_the_model() {
    let server = MockServer::start(
        Script::from_value(json!([
            // cm init: read the README, then write AGENTS.md.
            {"tool_calls": [{"name": "read", "arguments": {"path": "README.md"}}]},
            {"expect": {"tool_result_contains": "make test"},
             "tool_calls": [{"name": "write", "arguments": {"path": "AGENTS.md", "content": FIRST}}]},
            {"text": "Wrote AGENTS.md."},
            // cm init --yes --write-config: read the old file, then replace it.
            {"tool_calls": [{"name": "read", "arguments": {"path": "AGENTS.md"}}]},
            {"tool_calls": [{"name": "write", "arguments": {"path": "AGENTS.md", "content": SECOND}}]},
            {"text": "Updated AGENTS.md."}
        ]))
        .expect("valid script"),
    );
    let mut sandbox = Sandbox::new("init");
    sandbox.anthropic_at(&server.url());
    sandbox.write("README.md", "# demo\nRun `make test` to test.\n");

    let run = sandbox.cm(&["init"]);
    run.expect_code(0);
    assert_eq!(sandbox.read("AGENTS.md"), FIRST);
    assert!(run.stderr.contains("wrote "), "{}", run.stderr);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let first_prompt = requests[0].body["messages"][0].to_string();
    assert!(first_prompt.contains("write AGENTS.md"), "{first_prompt}");
    no_failed_expectations(&server);

    // It exists now: without a terminal and without --yes, nothing is sent.
    let refused = sandbox.cm(&["init"]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("cm init --yes"),
        "{}",
        refused.stderr
    );
    assert_eq!(server.requests().len(), 3);
    assert_eq!(sandbox.read("AGENTS.md"), FIRST);

    let again = sandbox.cm(&["init", "--yes", "--write-config"]);
    again.expect_code(0);
    assert_eq!(sandbox.read("AGENTS.md"), SECOND);
    let config: Value = serde_json::from_str(&sandbox.read("cm.json")).expect("cm.json is JSON");
    assert_eq!(config["model"], "anthropic/claude-sonnet-4-5");
    no_failed_expectations(&server);
}

#[test]
fn init_fails_when_the_model_writes_nothing() {
    let server = MockServer::start(
        Script::from_value(json!([{"text": "I would rather not."}])).expect("valid script"),
    );
    let mut sandbox = Sandbox::new("init-nothing");
    sandbox.anthropic_at(&server.url());
    let run = sandbox.cm(&["init"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("finished without writing"),
        "{}",
        run.stderr
    );
}

#[test]
fn on_a_terminal_init_asks_before_replacing_agents_md() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::Duration;
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let server = MockServer::start(Script::from_value(json!([])).expect("valid script"));
    let mut sandbox = Sandbox::new("init-tty");
    sandbox.anthropic_at(&server.url());
    sandbox.write("AGENTS.md", FIRST);
    let cm = env!("CARGO_BIN_EXE_cm");
    let mut child = sandbox
        .other_command(
            "script",
            &["-qfec", &format!("{cm} init 2>&1"), "/dev/null"],
        )
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn script");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(Duration::from_millis(800));
    stdin.write_all(b"n\r").expect("answer");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    let run = common::Run::wait(child, Duration::from_secs(20));
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("exists; replace it? [y/N]"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("kept as it is"), "{}", run.stdout);
    assert_eq!(sandbox.read("AGENTS.md"), FIRST);
    assert!(server.requests().is_empty(), "nothing was sent");
}
