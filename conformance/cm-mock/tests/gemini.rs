//! Gemini as cm-mock speaks it: the CRLF-framed stream of whole responses, thought
//! signatures on thoughts and on the first call (and their replay checked), the model in
//! the path, the key in the header or the query, a `SAFETY` finish, a 429 with
//! `RetryInfo`, and `:streamGenerateContent` without `alt=sse`.
#![allow(clippy::unwrap_used)]

mod common;

use cm_mock::{MockServer, Script};
use cm_proto::http::{Method, Request};
use cm_proto::message::{Message, Part, Role, StopReason, ToolOutput, ToolResult};
use cm_proto::provider::{ErrorKind, StreamEvent, WireFormat};
use common::{assemble, cm_request, decode_stream, send};
use serde_json::{json, Value};

const GEMINI: WireFormat = WireFormat::Gemini;

fn server(turns: Value) -> MockServer {
    MockServer::start(Script::from_value(turns).unwrap())
}

/// A raw Gemini request to `target` (path and query) with the key only in the query.
fn raw(server: &MockServer, target: &str) -> Request {
    Request {
        method: Method::Post,
        url: format!("{}{target}", server.url()),
        headers: [("content-type", "application/json")].into_iter().collect(),
        body: json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
            .to_string()
            .into_bytes(),
    }
}

#[test]
fn a_stream_is_whole_responses_framed_with_crlf_and_the_model_comes_from_the_path() {
    let server = server(json!([{"text": "Hello from Gemini, in pieces.", "usage": {
        "input_tokens": 10, "output_tokens": 20, "reasoning_tokens": 5, "cache_read_input_tokens": 4}}]));
    let response = send(
        &server,
        &cm_request(&server, GEMINI, vec![Message::user("hi")], true),
    );
    assert_eq!(response.head.status, 200);
    let text = response.text();
    assert!(text.starts_with("data: {\"candidates\""), "{text}");
    assert!(text.ends_with("\r\n\r\n"));
    assert_eq!(
        text.matches("\r\n\r\n").count(),
        text.matches("data: ").count()
    );
    assert!(text.contains("\"modelVersion\":\"test-model\""));
    let last: Value =
        serde_json::from_str(text.trim_end().rsplit("data: ").next().unwrap()).unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        last["usageMetadata"],
        json!({"promptTokenCount": 14, "cachedContentTokenCount": 4, "candidatesTokenCount": 15,
               "thoughtsTokenCount": 5, "totalTokenCount": 34,
               "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 14}]})
    );
    let message = assemble(GEMINI, &response);
    assert_eq!(message.message.text(), "Hello from Gemini, in pieces.");
    assert_eq!(
        (
            message.usage.input_tokens,
            message.usage.output_tokens,
            message.usage.reasoning_tokens,
            message.usage.cache_read_tokens
        ),
        (10, 20, 5, 4)
    );
    let log = server.requests();
    assert_eq!(log[0].format.as_deref(), Some("gemini"));
    assert!(log[0].stream);
    assert_eq!(
        log[0].path,
        "/v1beta/models/test-model:streamGenerateContent?alt=sse"
    );
}

#[test]
fn the_first_call_is_signed_and_the_signature_comes_back_in_the_next_request() {
    let first_call = json!({"name": "read", "arguments": {"path": "README.md"}});
    let server = server(json!([
        {"reasoning": "I should read it.", "tool_calls": [first_call, {"name": "ls", "arguments": {}}]},
        {"expect": [{"tool_result_contains": "# Title"}, {"contains": "thoughtSignature"}], "text": "A title."},
    ]));
    let mut messages = vec![Message::user("What is in the README?")];
    let first = assemble(
        GEMINI,
        &send(
            &server,
            &cm_request(&server, GEMINI, messages.clone(), true),
        ),
    );
    let calls: Vec<_> = first.message.tool_calls().cloned().collect();
    assert_eq!(calls.len(), 2);
    let signature = calls[0]
        .signature
        .clone()
        .expect("the first call is signed");
    assert!(
        calls[1].signature.is_none(),
        "only the first call of a step"
    );
    assert_ne!(calls[0].id, calls[1].id);
    match &first.message.parts[0] {
        Part::Reasoning(reasoning) => {
            assert_eq!(reasoning.text, "I should read it.");
            assert!(reasoning.signature.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(first.stop_reason, Some(StopReason::ToolUse));

    messages.push(first.message);
    messages.push(Message {
        role: Role::User,
        parts: calls
            .iter()
            .map(|call| {
                Part::ToolResult(ToolResult {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content: vec![ToolOutput::Text {
                        text: "# Title\n".into(),
                    }],
                    is_error: false,
                })
            })
            .collect(),
    });
    let second = send(&server, &cm_request(&server, GEMINI, messages, true));
    assert_eq!(second.head.status, 200, "{}", second.text());
    assert_eq!(assemble(GEMINI, &second).message.text(), "A title.");
    let log = server.requests();
    assert!(log.iter().all(|r| r.expectation_failed.is_none()));
    let sent = log[1].body["contents"][1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["functionCall"]["name"] == "read")
        .cloned()
        .unwrap();
    assert_eq!(sent["thoughtSignature"], signature);
}

#[test]
fn a_whole_body_and_a_stream_without_alt_sse() {
    let server = server(json!([
        {"reasoning": "Think.", "text": "Whole.", "tool_calls": [{"id": "fc_1", "name": "ls", "arguments": {"dir": "."}}]},
        {"text": "Array."},
    ]));
    let whole = send(
        &server,
        &cm_request(&server, GEMINI, vec![Message::user("hi")], false),
    );
    assert_eq!(
        whole.head.headers.get("content-type"),
        Some("application/json")
    );
    let message = assemble(GEMINI, &whole);
    assert_eq!(message.message.text(), "Whole.");
    let call = message.message.tool_calls().next().unwrap();
    assert_eq!(call.id, "fc_1", "a scripted id is sent");
    assert!(call.signature.is_some());
    assert_eq!(call.parse_arguments().unwrap(), json!({"dir": "."}));

    let array = send(
        &server,
        &raw(&server, "/v1beta/models/gemini-x:streamGenerateContent"),
    );
    let chunks = array.json();
    let chunks = chunks.as_array().expect("a JSON array of responses");
    assert!(chunks.len() >= 2);
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    assert_eq!(chunks[0]["modelVersion"], "gemini-x");
    assert!(!server.requests()[1].stream);
}

#[test]
fn the_key_may_come_in_the_query_and_is_checked_and_logged_redacted() {
    let expect_key = json!({"header": {"name": "x-goog-api-key", "value": "AIzaQueryKey"}});
    let server = server(json!([
        {"expect": expect_key, "text": "by query"},
        {"expect": expect_key, "text": "by header"},
        {"expect": expect_key, "text": "never"},
    ]));
    let by_query = send(
        &server,
        &raw(
            &server,
            "/v1beta/models/g:streamGenerateContent?alt=sse&key=AIzaQueryKey",
        ),
    );
    assert_eq!(assemble(GEMINI, &by_query).message.text(), "by query");
    let mut by_header = raw(&server, "/v1beta/models/g:generateContent");
    by_header.headers.push("x-goog-api-key", "AIzaQueryKey");
    assert_eq!(
        assemble(GEMINI, &send(&server, &by_header)).message.text(),
        "by header"
    );
    let wrong = send(
        &server,
        &raw(&server, "/v1beta/models/g:generateContent?key=AIzaOther"),
    );
    assert_eq!(wrong.head.status, 400);
    assert_eq!(wrong.json()["error"]["status"], "INVALID_ARGUMENT");
    let log = server.requests();
    assert_eq!(
        log[0].path,
        "/v1beta/models/g:streamGenerateContent?alt=sse&key=AIza…"
    );
    assert_eq!(log[1].header("x-goog-api-key"), Some("AIza…"));
    assert!(log[2]
        .expectation_failed
        .as_deref()
        .unwrap()
        .contains("x-goog-api-key"));
    for record in &log {
        let logged = format!("{} {:?}", record.path, record.headers);
        assert!(
            !logged.contains("QueryKey") && !logged.contains("AIzaOther"),
            "{logged}"
        );
    }
}

#[test]
fn a_safety_finish_is_a_content_filter_stop() {
    let server = server(json!([{"text": "I can't", "stop_reason": "SAFETY"}]));
    let response = send(
        &server,
        &cm_request(&server, GEMINI, vec![Message::user("hi")], true),
    );
    assert!(response.text().contains("\"safetyRatings\""));
    let (events, end) = decode_stream(GEMINI, &response.body, true);
    end.unwrap();
    assert!(events.contains(&StreamEvent::Stop {
        reason: StopReason::ContentFilter,
        sequence: None
    }));
    assert!(events
        .iter()
        .any(|e| matches!(e, StreamEvent::Debug { message } if message.contains("SAFETY"))));
}

#[test]
fn a_429_says_how_long_to_wait_in_retry_info() {
    let server = server(json!([{"fault": {"status": 429}}, {"text": "after the wait"}]));
    let request = cm_request(&server, GEMINI, vec![Message::user("hi")], true);
    let limited = send(&server, &request);
    assert_eq!(limited.head.status, 429);
    assert!(limited.head.headers.get("retry-after").is_none());
    let body = limited.json();
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    let error = GEMINI.classify_error(429, &limited.head.headers, &limited.body);
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(error.retry_after_ms, Some(500));
    assert!(error.retryable);
    let ok = send(&server, &request);
    assert_eq!(assemble(GEMINI, &ok).message.text(), "after the wait");
}

#[test]
fn errors_and_exhaustion_are_in_googles_shape() {
    let server = server(json!([{"fault": {"status": 503}}]));
    let request = cm_request(&server, GEMINI, vec![Message::user("hi")], true);
    let unavailable = send(&server, &request);
    assert_eq!(unavailable.json()["error"]["status"], "UNAVAILABLE");
    assert_eq!(
        GEMINI
            .classify_error(503, &unavailable.head.headers, &unavailable.body)
            .kind,
        ErrorKind::Overloaded
    );
    let exhausted = send(&server, &request);
    assert_eq!(exhausted.head.status, 500);
    let error = GEMINI.classify_error(500, &exhausted.head.headers, &exhausted.body);
    assert!(error.message.contains("script exhausted"), "{error:?}");
    assert!(!error.retryable, "x-should-retry: false is honoured");
}
