//! Replaying recorded provider responses byte for byte, one format at a time.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use cm_conformance::fixtures::{self, payload_lines_to_sse};
use cm_mock::{MockServer, Script};
use cm_proto::message::Message;
use cm_proto::provider::WireFormat;
use common::{assemble, cm_request, send, End};
use serde_json::json;

fn fixture(path: &str) -> PathBuf {
    fixtures::fixtures_dir().join(path)
}

fn replay_one(
    format: WireFormat,
    replay: serde_json::Value,
    stream: bool,
) -> (MockServer, common::Response) {
    let script = Script::from_value(json!([{"replay": replay}])).unwrap();
    let server = MockServer::start(script);
    let response = send(
        &server,
        &cm_request(&server, format, vec![Message::user("hi")], stream),
    );
    (server, response)
}

#[test]
fn raw_anthropic_stream_byte_for_byte() {
    let (server, response) = replay_one(
        WireFormat::Anthropic,
        json!("anthropic/tool_use_response.txt"),
        true,
    );
    let recorded = std::fs::read(fixture("anthropic/tool_use_response.txt")).unwrap();
    assert_eq!(response.body, recorded);
    assert!(response
        .head
        .headers
        .get("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let message = assemble(WireFormat::Anthropic, &response);
    let call = message
        .message
        .tool_calls()
        .next()
        .expect("the recorded call");
    assert_eq!(call.name, "get_weather");
    assert_eq!(
        call.parse_arguments().unwrap(),
        json!({"location": "Paris"})
    );
    assert!(server.requests()[0]
        .replay
        .as_deref()
        .unwrap()
        .ends_with("tool_use_response.txt"));
}

#[test]
fn raw_chat_completions_stream_byte_for_byte() {
    let path = "openai-chat/f82268f2fefd5cfbc7eeb59c297688be2f6ca0849a6e4f17851b517310841d9b.bin";
    let (_server, response) = replay_one(WireFormat::OpenaiChat, json!(path), true);
    assert_eq!(response.body, std::fs::read(fixture(path)).unwrap());
    assert_eq!(
        assemble(WireFormat::OpenaiChat, &response)
            .message
            .tool_calls()
            .count(),
        2
    );
}

#[test]
fn anthropic_payload_lines_become_data_events() {
    let path = "anthropic/anthropic-text.chunks.txt";
    let (_server, response) = replay_one(WireFormat::Anthropic, json!(path), true);
    let lines = std::fs::read(fixture(path)).unwrap();
    assert_eq!(response.body, payload_lines_to_sse(&lines));
    let message = assemble(WireFormat::Anthropic, &response);
    assert!(message.complete && !message.message.text().is_empty());
}

#[test]
fn chat_payload_lines_end_with_done() {
    let path = "openai-chat/azure-model-router.1.chunks.txt";
    let (_server, response) = replay_one(WireFormat::OpenaiChat, json!(path), true);
    let mut expected = payload_lines_to_sse(&std::fs::read(fixture(path)).unwrap());
    expected.extend_from_slice(b"data: [DONE]\n\n");
    assert_eq!(response.body, expected);
    let (_, result) = common::decode_stream(WireFormat::OpenaiChat, &response.body, true);
    assert_eq!(result, Ok(()));
}

#[test]
fn responses_payload_lines_decode() {
    let path = "openai-responses/github-copilot-id-rotation.1.chunks.txt";
    let (_server, response) = replay_one(WireFormat::OpenaiResponses, json!(path), true);
    assert_eq!(
        response.body,
        payload_lines_to_sse(&std::fs::read(fixture(path)).unwrap())
    );
    let (events, result) = common::decode_stream(WireFormat::OpenaiResponses, &response.body, true);
    assert_eq!(result, Ok(()));
    assert!(!events.is_empty());
}

#[test]
fn close_delimited_replay_is_the_same_bytes() {
    let script =
        Script::from_value(json!([{"replay": "anthropic/basic_response.txt", "framing": "close"}]))
            .unwrap();
    let server = MockServer::start(script);
    let response = send(
        &server,
        &cm_request(
            &server,
            WireFormat::Anthropic,
            vec![Message::user("hi")],
            true,
        ),
    );
    assert_eq!(
        response.body,
        std::fs::read(fixture("anthropic/basic_response.txt")).unwrap()
    );
    assert_eq!(response.end, End::Complete);
    assert!(!response.reusable);
}

#[test]
fn recorded_status_and_headers_are_replayed() {
    let path = "anthropic/test_model_name_suggestion[anthropic].yaml";
    let recorded = fixtures::load_file(&fixture(path))
        .unwrap()
        .interactions
        .remove(0);
    let (_server, response) = replay_one(WireFormat::Anthropic, json!(path), false);
    assert_eq!(Some(response.head.status), recorded.status);
    assert_eq!(response.body, recorded.body);
    for (name, value) in &recorded.headers {
        if ![
            "content-length",
            "transfer-encoding",
            "content-encoding",
            "connection",
        ]
        .contains(&name.to_ascii_lowercase().as_str())
        {
            assert_eq!(
                response.head.headers.get(name),
                Some(value.as_str()),
                "{name}"
            );
        }
    }
}

#[test]
fn an_exchange_file_replays_interaction_by_interaction() {
    let path = "anthropic/a8b7dbb8-2321-4624-abdb-7ba2136b5c38.json";
    let script = Script::from_value(json!([
        {"replay": {"path": path, "interaction": 0}},
        {"replay": {"path": path, "interaction": 2}},
    ]))
    .unwrap();
    let server = MockServer::start(script);
    let request = cm_request(
        &server,
        WireFormat::Anthropic,
        vec![Message::user("hi")],
        true,
    );
    let limited = send(&server, &request);
    assert_eq!(limited.head.status, 429);
    assert_eq!(limited.head.headers.get("x-should-retry"), Some("true"));
    let streamed = send(&server, &request);
    assert_eq!(streamed.head.status, 200);
    assert!(assemble(WireFormat::Anthropic, &streamed).complete);
}

#[test]
fn an_absolute_path_works_and_a_missing_interaction_does_not() {
    let absolute = fixture("anthropic/basic_response.txt");
    assert!(Script::from_value(json!([{"replay": absolute.to_str().unwrap()}])).is_ok());
    let error = Script::from_value(
        json!([{"replay": {"path": "anthropic/basic_response.txt", "interaction": 3}}]),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("has 1 interaction(s)"),
        "{error}"
    );
}
