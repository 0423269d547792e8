//! Provider profiles through the real `cm` binary against cm-mock on loopback: a local
//! server with no key and no declaration, and Mistral's tool-call ids and message order.

mod common;

use cm_mock::{MockServer, Script};
use common::Sandbox;
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

#[test]
fn ollama_completes_a_turn_without_any_key() {
    let server = mock(json!([
        {"expect": {"path": "/v1/chat/completions"}, "tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]},
        {"expect": [{"path": "/v1/chat/completions"}, {"tool_result_contains": "alpha"}], "text": "ollama ok"}
    ]));
    let sandbox = Sandbox::new("ollama");
    sandbox.write("a.txt", "alpha\n");
    // Only the base URL is configured: `ollama` is built in and needs no key.
    sandbox.write(
        "cm.json",
        &format!(
            r#"{{"provider": {{"ollama": {{"base_url": "{}/v1"}}}}}}"#,
            server.url()
        ),
    );
    let run = sandbox.cm(&["run", "-q", "--model", "ollama/qwen3", "read a"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "ollama ok\n");
    no_failed_expectations(&server);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body["model"], "qwen3");

    let unknown = sandbox.cm(&["run", "--model", "olama/qwen3", "hi"]);
    assert_ne!(unknown.code, Some(0));
    assert!(
        unknown.stderr.contains("lmstudio, llama-cpp") && unknown.stderr.contains("cerebras"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn mistral_gets_nine_character_ids_that_pair_up() {
    let server = mock(json!([
        {"tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]},
        {"expect": {"tool_result_contains": "alpha"}, "text": "mistral ok"}
    ]));
    let mut sandbox = Sandbox::new("mistral");
    sandbox.env("MISTRAL_API_KEY", "test-key");
    sandbox.write("a.txt", "alpha\n");
    sandbox.write(
        "cm.json",
        &format!(
            r#"{{"provider": {{"mistral": {{"base_url": "{}/v1"}}}}}}"#,
            server.url()
        ),
    );
    let run = sandbox.cm(&[
        "run",
        "-q",
        "--model",
        "mistral/mistral-small-latest",
        "read a",
    ]);
    run.expect_code(0);
    assert_eq!(run.stdout, "mistral ok\n");
    no_failed_expectations(&server);
    let requests = server.requests();
    let second = &requests[1].body;
    assert!(second.get("stream_options").is_none());
    let messages = second["messages"].as_array().unwrap();
    let call_id = messages
        .iter()
        .find_map(|m| m["tool_calls"][0]["id"].as_str())
        .unwrap();
    let result_id = messages
        .iter()
        .find(|m| m["role"] == "tool")
        .and_then(|m| m["tool_call_id"].as_str())
        .unwrap();
    assert_eq!(call_id, result_id);
    assert_eq!(call_id.len(), 9, "{call_id}");
    assert!(
        call_id.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{call_id}"
    );
}
