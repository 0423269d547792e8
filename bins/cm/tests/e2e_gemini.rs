//! Google Gemini through the real `cm` binary against cm-mock on loopback: a text answer,
//! a tool round trip whose thought signatures come back on the next request, a safety
//! block reported as such, and a 429 retried after Google's `RetryInfo` delay.

mod common;

use std::time::{Duration, Instant};

use cm_mock::{MockServer, Script};
use cm_proto::base64;
use common::Sandbox;
use serde_json::{json, Value};

const KEY: &str = "AIza-e2e-gemini-key-0123456789";

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

/// A project whose `google` provider is the mock, with the key in `GEMINI_API_KEY`.
fn sandbox(label: &str, server: &MockServer) -> Sandbox {
    let mut sandbox = Sandbox::new(label);
    sandbox.env("GEMINI_API_KEY", KEY);
    sandbox.write(
        "cm.json",
        &format!(
            r#"{{"provider": {{"google": {{"base_url": "{}/v1beta"}}}}}}"#,
            server.url()
        ),
    );
    sandbox
}

/// The signature cm-mock puts on request `seq`'s reasoning (`which` 0) or first call (1).
fn mock_signature(seq: u64, which: u8) -> String {
    base64::encode(format!("cm-mock thought signature {seq:06}/{which}").as_bytes())
}

#[test]
fn a_text_answer_with_the_key_in_its_header() {
    let server = mock(json!([{
        "expect": [
            {"path": "/v1beta/models/gemini-2.5-flash:streamGenerateContent"},
            {"header": {"name": "x-goog-api-key", "value": KEY}},
        ],
        "text": "Hello from Gemini.",
        "usage": {"input_tokens": 12, "output_tokens": 5},
    }]));
    let sandbox = sandbox("gemini-text", &server);
    let run = sandbox.cm(&["run", "--model", "google/gemini-2.5-flash", "hi"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "Hello from Gemini.\n");
    no_failed_expectations(&server);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(requests[0].body["contents"][0]["parts"][0]["text"], "hi");
    assert!(!run.stderr.contains(KEY) && !run.stdout.contains(KEY));
}

#[test]
fn a_tool_round_trip_sends_the_thought_signatures_back() {
    let server = mock(json!([
        {"reasoning": "I should read a.txt.",
         "tool_calls": [{"name": "read", "arguments": {"path": "a.txt"}}]},
        {"expect": {"tool_result_contains": "alpha"}, "text": "It says alpha."}
    ]));
    let sandbox = sandbox("gemini-tools", &server);
    sandbox.write("a.txt", "alpha\n");
    let run = sandbox.cm(&[
        "run",
        "-q",
        "--model",
        "google/gemini-3-pro-preview",
        "read a.txt",
    ]);
    run.expect_code(0);
    assert_eq!(run.stdout, "It says alpha.\n");
    no_failed_expectations(&server);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let contents = requests[1].body["contents"].as_array().expect("contents");
    let model_turn = contents
        .iter()
        .find(|c| c["role"] == "model")
        .expect("the model's turn is replayed");
    let parts = model_turn["parts"].as_array().expect("parts");
    let call = parts
        .iter()
        .find(|p| p["functionCall"]["name"] == "read")
        .expect("the call is replayed");
    assert_eq!(call["functionCall"]["args"], json!({"path": "a.txt"}));
    assert_eq!(call["thoughtSignature"], mock_signature(0, 1));
    let thought = parts
        .iter()
        .find(|p| p["thought"] == true)
        .expect("the reasoning is replayed");
    assert_eq!(thought["text"], "I should read a.txt.");
    assert_eq!(thought["thoughtSignature"], mock_signature(0, 0));
    let response = contents
        .iter()
        .flat_map(|c| c["parts"].as_array().into_iter().flatten())
        .find_map(|p| p.get("functionResponse"))
        .expect("the result is sent");
    assert_eq!(response["name"], "read");
    assert_eq!(
        response["id"], call["functionCall"]["id"],
        "the result pairs with its call"
    );
}

#[test]
fn a_safety_block_is_reported_as_such() {
    let server = mock(json!([
        {"text": "I can", "stop_reason": "SAFETY"},
        {"text": "", "stop_reason": "SAFETY"},
    ]));
    let sandbox = sandbox("gemini-safety", &server);
    let run = sandbox.cm(&[
        "run",
        "-q",
        "--model",
        "google/gemini-2.5-flash",
        "something unsafe",
    ]);
    run.expect_code(0);
    assert_eq!(run.stdout, "I can\n");
    assert!(
        run.stderr.contains("safety filter blocked the answer"),
        "{}",
        run.stderr
    );
    // An empty blocked answer never enters the history, and is still reported.
    let json = sandbox.cm(&[
        "run",
        "--format",
        "json",
        "--model",
        "google/gemini-2.5-flash",
        "again",
    ]);
    json.expect_code(0);
    let done = json
        .events()
        .into_iter()
        .find(|e| e["type"] == "done")
        .expect("a done event");
    assert_eq!(done["end"], "completed");
    assert_eq!(done["stop_reason"], "content_filter");
}

#[test]
fn a_429_is_retried_after_the_retry_info_delay() {
    let server = mock(json!([
        {"fault": {"status": 429}},
        {"text": "after the wait"}
    ]));
    let sandbox = sandbox("gemini-429", &server);
    let started = Instant::now();
    let run = sandbox.cm(&[
        "run",
        "--format",
        "json",
        "--model",
        "google/gemini-2.5-flash",
        "hi",
    ]);
    run.expect_code(0);
    let retry = run
        .events()
        .into_iter()
        .find(|e| e["type"] == "retry")
        .expect("a retry event");
    assert_eq!(retry["attempt"], 2);
    assert!(retry["delay_ms"].as_u64().unwrap_or(0) >= 500, "{retry}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
}
