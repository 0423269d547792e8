//! Provider profiles through the real `cm` binary against cm-mock on loopback: a local
//! server with no key and no declaration, and Mistral's tool-call ids and message order,
//! kept across a continued session and mapped from a Gemini history.

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

/// Every tool-call id in a Chat request (calls and results), in order.
fn chat_ids(body: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        for call in message["tool_calls"].as_array().into_iter().flatten() {
            ids.extend(call["id"].as_str().map(str::to_string));
        }
        ids.extend(message["tool_call_id"].as_str().map(str::to_string));
    }
    ids
}

fn is_mistral_id(id: &str) -> bool {
    id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[test]
fn a_mistral_history_replays_with_the_same_ids_in_a_continued_session() {
    let server = mock(json!([
        // Mistral's own id comes back unchanged; the mock's default `call_mock…` is mapped.
        {"tool_calls": [{"id": "gSIMJiOkT", "name": "read", "arguments": {"path": "a.txt"}},
                        {"name": "read", "arguments": {"path": "b.txt"}}]},
        {"expect": [{"tool_result_contains": "alpha"}, {"tool_result_contains": "beta"}], "text": "both read"},
        {"text": "still here"}
    ]));
    let mut sandbox = Sandbox::new("mistral-replay");
    sandbox.env("MISTRAL_API_KEY", "test-key");
    sandbox.write("a.txt", "alpha\n");
    sandbox.write("b.txt", "beta\n");
    sandbox.write(
        "cm.json",
        &format!(
            r#"{{"provider": {{"mistral": {{"base_url": "{}/v1"}}}}}}"#,
            server.url()
        ),
    );
    let model = "mistral/mistral-small-latest";
    let first = sandbox.cm(&["run", "-q", "--model", model, "read a and b"]);
    first.expect_code(0);
    assert_eq!(first.stdout, "both read\n");
    let again = sandbox.cm(&["run", "-q", "--model", model, "-c", "still there?"]);
    again.expect_code(0);
    assert_eq!(again.stdout, "still here\n");
    no_failed_expectations(&server);

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let second = chat_ids(&requests[1].body);
    assert_eq!(second.len(), 4, "two calls and two results: {second:?}");
    assert!(second.iter().all(|id| is_mistral_id(id)), "{second:?}");
    assert_eq!(second[0], "gSIMJiOkT", "Mistral's own id is kept");
    assert_ne!(second[0], second[1]);
    assert_eq!(second[2..], second[..2], "each result pairs with its call");
    // The continued session sends the same history with the same ids.
    let third = chat_ids(&requests[2].body);
    assert_eq!(third, second);
    let messages = requests[2].body["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["content"], "still there?");
    assert!(messages
        .iter()
        .any(|m| m["role"] == "assistant" && m["content"] == "both read"));
}

#[test]
fn a_gemini_history_continued_on_mistral_gets_nine_character_ids() {
    let server = mock(json!([
        {"expect": {"path": "/v1beta/models/gemini-2.5-flash:streamGenerateContent"},
         "reasoning": "Read it first.",
         "tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]},
        {"expect": {"tool_result_contains": "alpha"}, "text": "gemini read it"},
        {"expect": [{"path": "/v1/chat/completions"}, {"tool_result_contains": "alpha"}],
         "text": "mistral sees it"}
    ]));
    let mut sandbox = Sandbox::new("gemini-to-mistral");
    sandbox.env("MISTRAL_API_KEY", "test-key");
    sandbox.env("GEMINI_API_KEY", "test-gemini-key");
    sandbox.write("a.txt", "alpha\n");
    sandbox.write(
        "cm.json",
        &format!(
            r#"{{"provider": {{"mistral": {{"base_url": "{url}/v1"}}, "google": {{"base_url": "{url}/v1beta"}}}}}}"#,
            url = server.url()
        ),
    );
    let first = sandbox.cm(&["run", "-q", "--model", "google/gemini-2.5-flash", "read a"]);
    first.expect_code(0);
    assert_eq!(first.stdout, "gemini read it\n");
    let switched = sandbox.cm(&[
        "run",
        "-q",
        "--model",
        "mistral/mistral-small-latest",
        "-c",
        "and now?",
    ]);
    switched.expect_code(0);
    assert_eq!(switched.stdout, "mistral sees it\n");
    no_failed_expectations(&server);

    let requests = server.requests();
    let gemini_id = requests[1].body["contents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["parts"].as_array().into_iter().flatten())
        .find_map(|p| p["functionCall"]["id"].as_str())
        .expect("gemini replays the call with an id")
        .to_string();
    assert!(!is_mistral_id(&gemini_id), "{gemini_id}");
    let ids = chat_ids(&requests[2].body);
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|id| is_mistral_id(id)), "{ids:?}");
    assert_eq!(ids[0], ids[1], "the call and its result still pair up");
    let body = requests[2].body.to_string();
    assert!(
        !body.contains("thoughtSignature") && !body.contains("Read it first."),
        "Gemini's reasoning is not sent to Mistral: {body}"
    );
}
