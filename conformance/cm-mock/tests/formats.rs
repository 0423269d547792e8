//! Every format's generated answers, streamed and whole, decode with cm's own decoders
//! into exactly what the script said.
#![allow(clippy::unwrap_used)]

mod common;

use cm_mock::{MockServer, Script};
use cm_proto::message::{Message, Part, Role, StopReason, ToolOutput, ToolResult};
use cm_proto::provider::WireFormat;
use common::{assemble, cm_request, send};
use serde_json::json;

#[test]
fn text_turn_in_every_format_streamed_and_whole() {
    for format in common::SERVED_FORMATS {
        for stream in [true, false] {
            let script = Script::from_value(json!([{
                "text": "Hello from the scripted model, in pieces. ünïcödé ✓",
                "usage": {"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 5},
            }]))
            .unwrap();
            let mut server = MockServer::start(script);
            let response = send(
                &server,
                &cm_request(&server, format, vec![Message::user("hi")], stream),
            );
            assert_eq!(response.head.status, 200, "{format:?}");
            if stream {
                assert!(
                    response.text().matches("data: ").count() > 4,
                    "several events"
                );
            }
            let message = assemble(format, &response);
            assert!(message.complete, "{format:?} stream={stream}");
            assert_eq!(
                message.message.text(),
                "Hello from the scripted model, in pieces. ünïcödé ✓",
                "{format:?} stream={stream}"
            );
            assert_eq!(message.stop_reason, Some(StopReason::EndTurn), "{format:?}");
            assert_eq!(message.model.as_deref(), Some("test-model"));
            assert_eq!(
                (
                    message.usage.input_tokens,
                    message.usage.output_tokens,
                    message.usage.cache_read_tokens
                ),
                (11, 7, 5),
                "{format:?} stream={stream}"
            );
            server.shutdown();
        }
    }
}

#[test]
fn tool_call_turn_in_every_format_streamed_and_whole() {
    for format in common::SERVED_FORMATS {
        for stream in [true, false] {
            let script = Script::from_value(json!([{
                "text": "Let me look.",
                "tool_calls": [
                    {"name": "read", "arguments": {"path": "src/main.rs", "limit": 20}},
                    {"id": "call_fixed", "name": "bash", "arguments": {"command": "cargo test \"a b\""}},
                ],
            }]))
            .unwrap();
            let mut server = MockServer::start(script);
            let response = send(
                &server,
                &cm_request(&server, format, vec![Message::user("hi")], stream),
            );
            let message = assemble(format, &response);
            let calls: Vec<_> = message.message.tool_calls().collect();
            assert_eq!(calls.len(), 2, "{format:?} stream={stream}");
            assert_eq!(calls[0].name, "read");
            assert_eq!(
                calls[0].parse_arguments().unwrap(),
                json!({"path": "src/main.rs", "limit": 20})
            );
            assert_eq!(calls[1].id, "call_fixed");
            assert_eq!(
                calls[1].parse_arguments().unwrap(),
                json!({"command": "cargo test \"a b\""})
            );
            assert_ne!(calls[0].id, calls[1].id);
            assert_eq!(message.message.text(), "Let me look.");
            assert_eq!(message.stop_reason, Some(StopReason::ToolUse), "{format:?}");
            server.shutdown();
        }
    }
}

#[test]
fn streamed_arguments_arrive_in_several_fragments() {
    let arguments = json!({"path": "a/very/long/path/to/a/file.rs"}).to_string();
    let script = Script::from_value(json!([
        {"tool_calls": [{"name": "read", "arguments": arguments}]},
        {"tool_calls": [{"name": "read", "arguments": arguments}]},
        {"tool_calls": [{"name": "read", "arguments": arguments}]},
    ]))
    .unwrap();
    let server = MockServer::start(script);
    let fragments = |format, marker: &str| {
        let response = send(
            &server,
            &cm_request(&server, format, vec![Message::user("hi")], true),
        );
        response.text().matches(marker).count()
    };
    assert!(fragments(WireFormat::Anthropic, "input_json_delta") >= 4);
    assert!(fragments(WireFormat::OpenaiChat, "\"arguments\":") >= 4);
    assert!(
        fragments(
            WireFormat::OpenaiResponses,
            "event: response.function_call_arguments.delta"
        ) >= 4
    );
}

/// Gemini is left out: its arguments are a JSON object, never text, so it has no way to
/// send malformed ones.
#[test]
fn malformed_arguments_are_sent_as_written() {
    for format in common::SERVED_FORMATS {
        if format == WireFormat::Gemini {
            continue;
        }
        let script = Script::from_value(
            json!([{"tool_calls": [{"name": "read", "arguments": "{\"path\": \"a"}]}]),
        )
        .unwrap();
        let server = MockServer::start(script);
        let response = send(
            &server,
            &cm_request(&server, format, vec![Message::user("hi")], true),
        );
        let message = assemble(format, &response);
        let call = message.message.tool_calls().next().expect("one call");
        assert_eq!(call.arguments, "{\"path\": \"a", "{format:?}");
        assert!(call.parse_arguments().is_err());
    }
}

#[test]
fn reasoning_comes_before_the_text() {
    for format in common::SERVED_FORMATS {
        for stream in [true, false] {
            let script = Script::from_value(
                json!([{"reasoning": "Think first, then answer.", "text": "Done."}]),
            )
            .unwrap();
            let server = MockServer::start(script);
            let response = send(
                &server,
                &cm_request(&server, format, vec![Message::user("hi")], stream),
            );
            let message = assemble(format, &response);
            match &message.message.parts[..] {
                [Part::Reasoning(reasoning), Part::Text { text }] => {
                    assert_eq!(reasoning.text, "Think first, then answer.", "{format:?}");
                    assert_eq!(text, "Done.");
                }
                other => panic!("{format:?} stream={stream}: {other:?}"),
            }
        }
    }
}

#[test]
fn max_tokens_stop_in_every_format() {
    for format in common::SERVED_FORMATS {
        let script =
            Script::from_value(json!([{"text": "cut sh", "stop_reason": "max_tokens"}])).unwrap();
        let server = MockServer::start(script);
        let response = send(
            &server,
            &cm_request(&server, format, vec![Message::user("hi")], true),
        );
        assert_eq!(
            assemble(format, &response).stop_reason,
            Some(StopReason::MaxTokens),
            "{format:?}"
        );
    }
}

/// A whole agent step: the model calls a tool, cm sends the result back, and the script
/// checks the result is in the second request.
#[test]
fn tool_round_trip_with_expectation_in_every_format() {
    for format in common::SERVED_FORMATS {
        let script = Script::from_value(json!([
            {"tool_calls": [{"name": "read", "arguments": {"path": "README.md"}}]},
            {"expect": {"tool_result_contains": "# cm README"}, "text": "The README is a title."},
        ]))
        .unwrap();
        let server = MockServer::start(script);
        let mut messages = vec![Message::user("What does the README say?")];
        let first = assemble(
            format,
            &send(
                &server,
                &cm_request(&server, format, messages.clone(), true),
            ),
        );
        let call = first.message.tool_calls().next().expect("a call").clone();
        messages.push(first.message);
        messages.push(Message {
            role: Role::User,
            parts: vec![Part::ToolResult(ToolResult {
                call_id: call.id,
                name: call.name,
                content: vec![ToolOutput::Text {
                    text: "# cm README\n".into(),
                }],
                is_error: false,
            })],
        });
        let second = send(&server, &cm_request(&server, format, messages, true));
        assert_eq!(second.head.status, 200, "{format:?}: {}", second.text());
        assert_eq!(
            assemble(format, &second).message.text(),
            "The README is a title."
        );
        let log = server.requests();
        assert_eq!(
            log.iter().map(|r| r.turn).collect::<Vec<_>>(),
            [Some(0), Some(1)]
        );
        assert!(log.iter().all(|r| r.expectation_failed.is_none()));
    }
}
